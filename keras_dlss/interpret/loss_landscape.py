"""Loss-landscape slices: 1-D interpolation and 2-D filter-normalized random planes.

Goodfellow, Vinyals and Saxe (ICLR 2015) plot the loss along the straight line
between two weight vectors (initial and trained): `L(θ₀ + α (θ₁ − θ₀))`. Li et
al. (NeurIPS 2018) plot it on a plane `L(θ + α δ + β η)` spanned by random
Gaussian directions that are *filter-normalized*: each filter (an output unit
of a kernel, the last axis in Keras) of `δ` is rescaled to the norm of the
same filter of `θ`, so that scale-invariant networks (ReLU, batch norm) are
compared fairly; directions are zero on biases and other 1-D weights (their
Section 4). The model's weights are restored afterwards.

References:
    Li et al., 2018. "Visualizing the Loss Landscape of Neural Nets".
    https://arxiv.org/abs/1712.09913
    Goodfellow et al., 2015. "Qualitatively characterizing neural network
    optimization problems". https://arxiv.org/abs/1412.6544
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int, check_range


def _filter_normalized(weights, rng):
    directions = []
    for w in weights:
        if w.ndim < 2:
            directions.append(np.zeros_like(w))
            continue
        d = rng.normal(size=w.shape).astype(w.dtype)
        axes = tuple(range(w.ndim - 1))
        d_norm = np.sqrt((d**2).sum(axis=axes, keepdims=True))
        w_norm = np.sqrt((w**2).sum(axis=axes, keepdims=True))
        directions.append(d / np.maximum(d_norm, 1e-12) * w_norm)
    return directions


def loss_landscape(
    model, x, y, *, loss, target_weights=None, dimensions=1, steps=21, span=1.0, seed=0, path=None
):
    """The loss on a line or plane through the model's weights.

    Args:
        model: a built `keras.Model`.
        x: inputs, evaluated as one batch.
        y: targets.
        loss: loss identifier or callable `loss(y_true, y_pred)`.
        target_weights: list like `model.get_weights()`, or None. Given, the
            1-D slice runs from the current weights (α = 0) to these (α = 1)
            and `dimensions` must be 1. Defaults to `None` (random directions).
        dimensions: 1 or 2. Defaults to `1`.
        steps: int >= 2. Grid points per axis. Defaults to `21`.
        span: float > 0. The grid covers α (and β) in `[-span, span]`, or
            `[-span/2, 1 + span/2]` when interpolating. Defaults to `1.0`.
        seed: int. Seed of the random directions. Defaults to `0`.
        path: str or None. Write a PNG (line or contour plot). Defaults to `None`.

    Returns:
        Dict with `"alphas"` `[steps]`, `"betas"` `[steps]` (2-D only) and
        `"losses"` `[steps]` or `[steps, steps]` (`losses[i, j]` at α_i, β_j).

    Example:

    ```python
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    surface = keras_dlss.interpret.loss_landscape(
        model, np.ones((4, 2)), np.zeros((4, 1)), loss="mse", dimensions=2, steps=5)
    ```

    References:
        Li et al., 2018. https://arxiv.org/abs/1712.09913
    """
    steps = check_positive_int("steps", steps, minimum=2)
    check_range("span", span, 0.0, low_inclusive=False)
    if dimensions not in (1, 2):
        raise ValueError(
            f"Argument `dimensions` must be 1 or 2. Received: dimensions={dimensions!r}"
        )
    loss_fn = keras.losses.get(loss)
    origin = [np.asarray(w) for w in model.get_weights()]
    rng = np.random.default_rng(seed)
    if target_weights is not None:
        if dimensions != 1 or len(target_weights) != len(origin):
            raise ValueError(
                "Argument `target_weights` must list one array per model weight "
                f"({len(origin)}) and needs dimensions=1. Received: {len(target_weights)} "
                f"arrays, dimensions={dimensions}"
            )
        axes = [[np.asarray(t) - o for t, o in zip(target_weights, origin)]]
        alphas = np.linspace(-span / 2, 1 + span / 2, steps)
    else:
        axes = [_filter_normalized(origin, rng) for _ in range(dimensions)]
        alphas = np.linspace(-span, span, steps)

    def value(coords):
        model.set_weights(
            [o + sum(c * d[i] for c, d in zip(coords, axes)) for i, o in enumerate(origin)]
        )
        return float(ops.convert_to_numpy(ops.mean(loss_fn(y, model(x, training=False)))))

    try:
        if dimensions == 1:
            losses = np.array([value((a,)) for a in alphas])
        else:
            losses = np.array([[value((a, b)) for b in alphas] for a in alphas])
    finally:
        model.set_weights(origin)
    result = {"alphas": alphas, "losses": losses}
    if dimensions == 2:
        result["betas"] = alphas
    if path is not None:
        _plot(result, path)
    return result


def _plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3.2))
    if "betas" in result:
        grid = ax.contour(result["betas"], result["alphas"], result["losses"], levels=20)
        ax.clabel(grid, fontsize=6)
        ax.set_xlabel("β")
        ax.set_ylabel("α")
    else:
        ax.plot(result["alphas"], result["losses"])
        ax.set_xlabel("α")
        ax.set_ylabel("loss")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
