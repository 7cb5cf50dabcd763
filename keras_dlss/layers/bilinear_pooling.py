"""Bilinear pooling of two modality vectors: full, low-rank and compact (count sketch).

The full bilinear feature of x ∈ R^Dx and y ∈ R^Dy is their outer product
vec(x ⊗ y) ∈ R^(Dx·Dy): every pair of features interacts multiplicatively, which
concatenation cannot express, but the size (and a classifier's weights on it) grows
as Dx·Dy. Two cheaper forms:

- low-rank (Kim et al. 2017, multimodal low-rank bilinear pooling): the bilinear
  map W with rank-`rank` factors, f = Pᵀ(σ(Uᵀx) ∘ σ(Vᵀy)), a Hadamard product of two
  projections;
- compact (Gao et al. 2016; the Tensor Sketch of Pham & Pagh 2013): the count sketch
  of x ⊗ y is the circular convolution of the count sketches of x and y, computed in
  O(d log d) with FFTs without forming x ⊗ y: Φ = IFFT(FFT(Ψ_x(x)) ∘ FFT(Ψ_y(y))).
  Its inner products estimate the full feature's without bias:
  E⟨Φ(x, y), Φ(x', y')⟩ = ⟨x, x'⟩⟨y, y'⟩, with standard deviation at most
  sqrt(11 / d)·‖x‖‖y‖‖x'‖‖y'‖ for sketch size d (Avron, Nguyen & Woodruff 2014, for
  degree 2: (2 + 3²) / d bounds the variance; tested).

The count sketches' hashes h: [D] → [d] and signs s: [D] → {±1} are drawn once from
`seed` and kept as non-trainable weights (a ±1 one-hot matrix per modality), so a
saved model reloads with the same sketch.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss import _validation as v

MODES = ("full", "low_rank", "compact")


@keras.saving.register_keras_serializable(package="keras_dlss")
class BilinearPooling(keras.layers.Layer):
    """Bilinear interaction of two feature vectors, in full, low-rank or compact form.

    Args:
        mode: str. `"full"` (the flattened outer product, Dx·Dy features),
            `"low_rank"` (Kim et al. 2017) or `"compact"` (count sketch via FFT,
            Gao et al. 2016). Defaults to `"compact"`.
        output_dim: int. Sketch size d of `"compact"` (required there, unused
            otherwise). Gao et al. use 8192-16000 for 512-channel CNN features.
        rank: int. Size of the Hadamard product of `"low_rank"` (required there).
        units: int or None. `"low_rank"` only: size of the output projection P;
            None returns the rank-`rank` Hadamard product itself. Defaults to `None`.
        activation: Nonlinearity σ on both `"low_rank"` projections (Kim et al.
            use tanh). Defaults to `"tanh"`.
        seed: int or None. Seed of the compact sketch's hashes and signs.
        kernel_initializer: Initializer of the `"low_rank"` kernels.
            Defaults to `"glorot_uniform"`.

    Call arguments:
        inputs: a list `[x, y]`: `x` `[batch, ..., Dx]` and `y` `[batch, ..., Dy]`
            with the same leading axes.

    Returns:
        `[batch, ..., F]`, where F is Dx·Dy (`"full"`), `output_dim` (`"compact"`),
        or `units` (else `rank`) for `"low_rank"`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import BilinearPooling

    image, question = np.random.rand(2, 8).astype("float32"), np.random.rand(2, 5).astype("float32")
    full = BilinearPooling("full")([image, question])                        # [2, 40]
    sketch = BilinearPooling("compact", output_dim=64, seed=0)([image, question])  # [2, 64]
    mlb = BilinearPooling("low_rank", rank=16, units=10)([image, question])      # [2, 10]
    ```

    References:
        Gao, Beijbom, Zhang & Darrell 2016, "Compact Bilinear Pooling" (CVPR),
        https://arxiv.org/abs/1511.06062; Fukui et al. 2016, "Multimodal Compact
        Bilinear Pooling for VQA", https://arxiv.org/abs/1606.01847; Kim et al. 2017,
        "Hadamard Product for Low-rank Bilinear Pooling" (ICLR),
        https://arxiv.org/abs/1610.04325; Pham & Pagh 2013, "Fast and Scalable
        Polynomial Kernels via Explicit Feature Maps" (KDD).
    """

    def __init__(
        self,
        mode="compact",
        output_dim=None,
        rank=None,
        units=None,
        activation="tanh",
        seed=None,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.mode = v.check_one_of("mode", mode, MODES)
        if mode == "compact" and output_dim is None:
            raise ValueError(
                'Argument `output_dim` (the sketch size) is required when mode="compact". '
                f"Received: output_dim={output_dim!r}"
            )
        if mode == "low_rank" and rank is None:
            raise ValueError(
                'Argument `rank` is required when mode="low_rank". Received: rank=None'
            )
        self.output_dim = (
            None if output_dim is None else v.check_positive_int("output_dim", output_dim)
        )
        self.rank = None if rank is None else v.check_positive_int("rank", rank)
        self.units = None if units is None else v.check_positive_int("units", units)
        self.activation = keras.activations.get(activation)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"Argument `seed` must be an int or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        dx, dy = _check_shapes(input_shape)
        if self.mode == "compact":
            rng = np.random.default_rng(self.seed)
            self.sketch_x, self.sketch_y = (
                self.add_weight(
                    name=name,
                    shape=(d, self.output_dim),
                    initializer=keras.initializers.Constant(
                        _count_sketch_matrix(rng, d, self.output_dim)
                    ),
                    trainable=False,
                )
                for name, d in (("sketch_x", dx), ("sketch_y", dy))
            )
        elif self.mode == "low_rank":
            self.kernel_x, self.kernel_y = (
                self.add_weight(
                    name=name, shape=(d, self.rank), initializer=self.kernel_initializer
                )
                for name, d in (("kernel_x", dx), ("kernel_y", dy))
            )
            self.bias_x, self.bias_y = (
                self.add_weight(name=name, shape=(self.rank,), initializer="zeros")
                for name in ("bias_x", "bias_y")
            )
            if self.units is not None:
                self.kernel_out = self.add_weight(
                    name="kernel_out",
                    shape=(self.rank, self.units),
                    initializer=self.kernel_initializer,
                )
                self.bias_out = self.add_weight(
                    name="bias_out", shape=(self.units,), initializer="zeros"
                )

    def call(self, inputs):
        if not (isinstance(inputs, (list, tuple)) and len(inputs) == 2):
            raise ValueError(
                f"Argument `inputs` must be a list [x, y]. Received: inputs={type(inputs).__name__}"
            )
        x, y = (ops.convert_to_tensor(t, dtype=self.compute_dtype) for t in inputs)
        _check_shapes([x.shape, y.shape])
        if self.mode == "full":
            outer = x[..., :, None] * y[..., None, :]
            lead = tuple(ops.shape(x)[:-1])
            return ops.reshape(outer, lead + (int(x.shape[-1]) * int(y.shape[-1]),))
        if self.mode == "low_rank":
            hadamard = self.activation(
                ops.matmul(x, self.kernel_x) + self.bias_x
            ) * self.activation(ops.matmul(y, self.kernel_y) + self.bias_y)
            if self.units is None:
                return hadamard
            return ops.matmul(hadamard, self.kernel_out) + self.bias_out
        return _sketch_product(x, y, self.sketch_x, self.sketch_y, self.output_dim)

    def compute_output_shape(self, input_shape):
        x_shape, y_shape = (tuple(s) for s in input_shape)
        size = {
            "full": None if None in (x_shape[-1], y_shape[-1]) else x_shape[-1] * y_shape[-1],
            "compact": self.output_dim,
            "low_rank": self.units or self.rank,
        }[self.mode]
        return x_shape[:-1] + (size,)

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "output_dim": self.output_dim,
            "rank": self.rank,
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "seed": self.seed,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def _count_sketch_matrix(rng, dim, output_dim):
    """The count sketch as a [dim, output_dim] matrix: one ±1 per row, at a random column."""
    matrix = np.zeros((dim, output_dim), "float32")
    matrix[np.arange(dim), rng.integers(0, output_dim, dim)] = rng.choice([-1.0, 1.0], dim)
    return matrix


def _sketch_product(x, y, sketch_x, sketch_y, output_dim):
    """Circular convolution of the two count sketches, by the convolution theorem.

    FFTs run in float32 at least: float16 FFTs are missing on some backends and
    lose the small products the estimate is made of.
    """
    work = v.precise_dtype(x.dtype)
    psi_x = ops.matmul(ops.cast(x, work), ops.cast(sketch_x, work))
    psi_y = ops.matmul(ops.cast(y, work), ops.cast(sketch_y, work))
    xr, xi = ops.rfft(psi_x)
    yr, yi = ops.rfft(psi_y)
    product = ops.irfft((xr * yr - xi * yi, xr * yi + xi * yr), fft_length=output_dim)
    return ops.cast(product, x.dtype)


def _check_shapes(shapes):
    if not (
        isinstance(shapes, (list, tuple))
        and len(shapes) == 2
        and all(isinstance(s, (list, tuple)) or hasattr(s, "rank") for s in shapes)
    ):
        raise ValueError(
            f"Argument `inputs` must be a list [x, y]. Received: inputs.shape={shapes}"
        )
    x, y = (tuple(s) for s in shapes)
    for name, shape in (("x", x), ("y", y)):
        if len(shape) < 2 or v.static_dim(shape[-1]) is None:
            raise ValueError(
                f"Argument `{name}` must have rank >= 2 and a known last axis. "
                f"Received: {name}.shape={v.shape_str(shape)}"
            )
    if len(x) != len(y) or not v.shapes_compatible(x[:-1], y[:-1]):
        raise ValueError(
            "Argument `y` must have the same leading axes as `x`. "
            f"Received: x.shape={v.shape_str(x)}, y.shape={v.shape_str(y)}"
        )
    return int(x[-1]), int(y[-1])
