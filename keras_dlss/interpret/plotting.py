"""PNG heat-map overlays of attributions (matplotlib, Agg: no display needed)."""

import numpy as np
from keras import ops


def _to_map(a):
    """`[H, W]` map from `[H, W]`, `[H, W, C]` (sum of |.| over channels) or `[N]`."""
    a = np.asarray(a, np.float64)
    if a.ndim == 3:
        a = np.abs(a).sum(-1)
    if a.ndim == 1:
        side = int(round(np.sqrt(a.size)))
        a = a.reshape(side, -1) if side * side == a.size else a[None]
    return a


def _to_image(x):
    x = np.asarray(x, np.float64)
    if x.ndim == 1:
        side = int(round(np.sqrt(x.size)))
        x = x.reshape(side, -1) if side * side == x.size else x[None]
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    lo, hi = x.min(), x.max()
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def plot_attributions(
    images, attributions, path, *, titles=None, columns=None, alpha=0.5, cmap="jet"
):
    """Writes heat maps over their images to a PNG file (one panel per example).

    Args:
        images: array `[B, H, W]`, `[B, H, W, C]` or `[B, N]` (square `N`
            shown as an image).
        attributions: array `[B, ...]` of maps: the input's shape (channels are
            summed in absolute value) or `[B, h, w]` (Grad-CAM; resized).
        path: str. Output `.png` file.
        titles: optional list of `B` strings.
        columns: int or None. Panels per row (None: one row). Defaults to `None`.
        alpha: float. Opacity of the heat map. Defaults to `0.5`.
        cmap: str. Matplotlib colormap. Defaults to `"jet"`.

    Returns:
        `path`.

    Example:

    ```python
    import os, tempfile
    path = os.path.join(tempfile.mkdtemp(), "maps.png")
    keras_dlss.interpret.plot_attributions(np.random.rand(2, 8, 8), np.random.rand(2, 8, 8), path)
    ```
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = np.asarray(ops.convert_to_numpy(images))
    attributions = np.asarray(ops.convert_to_numpy(attributions))
    if len(images) != len(attributions):
        raise ValueError(
            f"Argument `attributions` must hold one map per image ({len(images)}). "
            f"Received: attributions.shape={attributions.shape}"
        )
    n = len(images)
    cols = n if columns is None else max(1, min(int(columns), n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    for i, ax in enumerate(axes.ravel()[:n]):
        image, heat = _to_image(images[i]), _to_map(attributions[i])
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        extent = (-0.5, image.shape[1] - 0.5, image.shape[0] - 0.5, -0.5)
        ax.imshow(heat, cmap=cmap, alpha=alpha, extent=extent, interpolation="bilinear")
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
