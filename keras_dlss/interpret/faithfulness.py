"""Deletion and insertion curves: how faithful an attribution map is.

Petsiuk, Das and Saenko ("RISE", BMVC 2018, Section 4.1): delete features in
the order of decreasing attribution (replace them by a baseline) and watch the
explained output fall; or insert them into the baseline in that order and
watch it rise. A faithful map gives a low area under the deletion curve and a
high area under the insertion curve. Every point of both curves for the whole
batch is one stacked forward pass in one compiled program.

References:
    Petsiuk et al., 2018. "RISE: Randomized Input Sampling for Explanation of
    Black-box Models". https://arxiv.org/abs/1806.07421
"""

import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.interpret import _core


def deletion_insertion_curves(
    model, x, target, attributions, *, steps=10, baseline=0.0, jit_compile=True
):
    """Deletion and insertion curves and their areas, per example.

    Args:
        model: a `keras.Model`.
        x: float array `[B, ...]`.
        target: class index, one index per example, or a callable on outputs.
        attributions: array shaped like `x`; larger means more important.
        steps: int >= 1. Curve points after the start (fractions `k / steps`
            of the features). Defaults to `10`.
        baseline: scalar, one example or a batch: the "deleted" value.
            Defaults to `0.0`.
        jit_compile: bool. Defaults to `True`.

    Returns:
        A dict with `"fractions"` `[steps + 1]`, `"deletion"` and `"insertion"`
        `[B, steps + 1]` (explained output after each step) and
        `"deletion_auc"`, `"insertion_auc"` `[B]` (trapezoid areas over the
        fraction axis).

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    x = np.ones((2, 4), "float32")
    curves = keras_dlss.interpret.deletion_insertion_curves(model, x, 0, x, steps=4)
    ```

    References:
        Petsiuk et al., 2018. https://arxiv.org/abs/1806.07421
    """
    steps = check_positive_int("steps", steps)
    x = _core.as_float("x", x)
    attributions = ops.convert_to_tensor(attributions)
    if tuple(attributions.shape) != tuple(x.shape):
        raise ValueError(
            f"Argument `attributions` must have the shape of `x` {tuple(x.shape)}. "
            f"Received: attributions.shape={tuple(attributions.shape)}"
        )
    base = _core.check_baseline("baseline", baseline, x)
    tgt = _core.Target(model, x, target)
    batch, n = int(x.shape[0]), int(np.prod(x.shape[1:]))
    counts = np.round(np.linspace(0.0, 1.0, steps + 1) * n).astype("int32")

    def program(x, base, onehot, scores, counts):
        flat_x, flat_b = ops.reshape(x, (batch, n)), ops.reshape(base, (batch, n))
        order = ops.argsort(-ops.reshape(ops.cast(scores, x.dtype), (batch, n)), axis=-1)
        rank = ops.argsort(order, axis=-1)  # rank[b, i]: position of feature i in the order
        top = ops.cast(rank[None] < counts[:, None, None], x.dtype)  # [S, B, N]
        deleted = flat_x[None] * (1.0 - top) + flat_b[None] * top
        inserted = flat_b[None] * (1.0 - top) + flat_x[None] * top
        both = ops.concatenate([deleted, inserted], axis=0)
        both = ops.reshape(both, (2 * (steps + 1) * batch,) + tuple(x.shape[1:]))
        values = tgt.scalar_fn(onehot, 2 * (steps + 1))(both)
        values = ops.transpose(ops.reshape(values, (2, steps + 1, batch)), (0, 2, 1))
        return values[0], values[1]

    key = ("deletion_insertion", steps, tgt.key)
    run = _core.compiled(model, key, program, jit_compile)
    deletion, insertion = run(x, base, tgt.args(), attributions, ops.convert_to_tensor(counts))
    fractions = counts / n
    deletion, insertion = ops.convert_to_numpy(deletion), ops.convert_to_numpy(insertion)
    return {
        "fractions": fractions,
        "deletion": deletion,
        "insertion": insertion,
        "deletion_auc": np.trapezoid(deletion, fractions, axis=-1),
        "insertion_auc": np.trapezoid(insertion, fractions, axis=-1),
    }
