"""Image parameterizations for feature visualization (internal).

Olah, Mordvintsev and Schubert ("Feature Visualization", Distill 2017,
section "The Enemy of Feature Visualization" and "Preconditioning and
Parameterization") show that gradient ascent on raw pixels produces
high-frequency patterns the network reacts to but a person cannot read, and
that optimizing in a decorrelated space fixes much of it: the image is the
inverse Fourier transform of a spectrum scaled by `1 / f^decay_power` (so every
frequency starts with the energy natural images have), and colours pass
through the square root of ImageNet's colour correlation. Both are lucid's
choices (`lucid.optvis.param.spatial.fft_image`, `color.to_valid_rgb`).

The inverse DFT is written as four real matrix products with cos/sin
matrices: no complex dtype enters the graph, so it is differentiable and
XLA-compilable the same way on every backend (the images are small; the
`O(H² W + H W²)` cost is negligible next to the model).
"""

import numpy as np
from keras import ops

# sqrt of ImageNet's RGB colour correlation (lucid.optvis.param.color), normalized
# by its largest column norm.
_COLOR_SVD_SQRT = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float32
)
_COLOR = _COLOR_SVD_SQRT / np.max(np.linalg.norm(_COLOR_SVD_SQRT, axis=0))


def _frequencies(height, width):
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    return np.sqrt(fy**2 + fx**2)


def fourier_scale(height, width, decay_power):
    """`1 / max(f, 1/max(h, w))^decay_power`: natural-image energy at every frequency."""
    freqs = _frequencies(height, width)
    return (1.0 / np.maximum(freqs, 1.0 / max(height, width)) ** decay_power).astype(np.float32)


def blur_transfer(height, width, sigma=1.0):
    """Transfer function of a Gaussian blur: the spectrum of a blurred image is this times the image's."""
    freqs = _frequencies(height, width)
    return np.exp(-2.0 * np.pi**2 * sigma**2 * freqs**2).astype(np.float32)


def _dft(n):
    k = np.arange(n)
    angle = 2.0 * np.pi * np.outer(k, k) / n
    return np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)


def inverse_fourier(real, imag, scale):
    """Real part of the 2-D inverse DFT of `(real + i imag) * scale`, `[b, c, h, w] -> [b, h, w, c]`."""
    height, width = real.shape[-2], real.shape[-1]
    cy, sy = (ops.convert_to_tensor(m) for m in _dft(height))
    cx, sx = (ops.convert_to_tensor(m) for m in _dft(width))
    scale = ops.convert_to_tensor(scale)
    real = ops.convert_to_tensor(real) * scale
    imag = ops.convert_to_tensor(imag) * scale
    a = ops.matmul(cy, real) - ops.matmul(sy, imag)
    b = ops.matmul(cy, imag) + ops.matmul(sy, real)
    spatial = ops.matmul(a, cx) - ops.matmul(b, sx)
    # lucid's normalization: the inverse DFT's 1/(hw), times sqrt(hw), over 4.
    spatial = spatial / (4.0 * float(np.sqrt(height * width)))
    return ops.transpose(spatial, (0, 2, 3, 1))


def decorrelate_colors(images):
    """Maps decorrelated channels to RGB (3 channels only; other counts pass through)."""
    if images.shape[-1] != 3:
        return images
    return ops.matmul(images, ops.convert_to_tensor(_COLOR.T))


def to_range(logits, value_range):
    low, high = value_range
    return low + (high - low) * ops.sigmoid(logits)
