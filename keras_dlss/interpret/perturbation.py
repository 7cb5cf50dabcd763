"""Perturbation attributions: occlusion (sliding window) and feature ablation.

Both replace a set of input features by a baseline and record how much the
explained output drops (Zeiler and Fergus, ECCV 2014, Section 4.2, for the
sliding window; the same idea over user-defined feature groups or superpixels
for ablation). Each feature receives the drop of every set that contains it;
occlusion averages over the windows covering a feature, ablation does not (a
feature belongs to one group), as captum's `Occlusion` and `FeatureAblation`
do. Window placement follows captum too (`ceil((d - w) / s) + 1` starts per
axis, the last window cut at the edge), so the numbers match.

All perturbed copies of a batch are evaluated as one stacked batch in one
compiled program (`sets_per_batch` splits them into chunks when memory is
short; every chunk reuses the same program).

References:
    Zeiler and Fergus, 2014. "Visualizing and Understanding Convolutional
    Networks". https://arxiv.org/abs/1311.2901
"""

import itertools
import math

import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.interpret import _core


def _as_tuple(name, value, rank):
    values = (value,) * rank if isinstance(value, (int, np.integer)) else tuple(value)
    if len(values) != rank or any(isinstance(v, bool) or int(v) < 1 for v in values):
        raise ValueError(
            f"Argument `{name}` must be a positive int or one positive int per feature axis "
            f"({rank}). Received: {name}={value!r}"
        )
    return tuple(int(v) for v in values)


def window_masks(feature_shape, window, strides):
    """`[P, *feature_shape]` 0/1 masks of every window position (captum's placement)."""
    starts = [
        range(0, s * (math.ceil(max(d - w, 0) / s) + 1), s)
        for d, w, s in zip(feature_shape, window, strides)
    ]
    masks = []
    for corner in itertools.product(*starts):
        mask = np.zeros(feature_shape, np.float32)
        mask[tuple(slice(c, c + w) for c, w in zip(corner, window))] = 1.0
        masks.append(mask)
    return np.stack(masks)


def group_masks(feature_mask, feature_shape):
    """`[G, *feature_shape]` 0/1 masks, one per distinct id of `feature_mask`."""
    if feature_mask is None:
        n = int(np.prod(feature_shape))
        return np.eye(n, dtype=np.float32).reshape((n,) + tuple(feature_shape))
    ids = np.asarray(feature_mask)
    try:
        ids = np.broadcast_to(ids, feature_shape)
    except ValueError:
        raise ValueError(
            f"Argument `feature_mask` must broadcast to one example's shape {feature_shape}. "
            f"Received: feature_mask.shape={np.shape(feature_mask)}"
        ) from None
    if ids.dtype.kind not in "iub":
        raise ValueError(
            f"Argument `feature_mask` must hold integer group ids. "
            f"Received: feature_mask.dtype={ids.dtype}"
        )
    return np.stack([(ids == g).astype(np.float32) for g in np.unique(ids)])


def _ablate(model, key, x, target, baseline, masks, sets_per_batch, average, jit_compile):
    x = _core.as_float("x", x)
    base = _core.check_baseline("baseline", baseline, x)
    tgt = _core.Target(model, x, target)
    total = masks.shape[0]
    chunk = total if sets_per_batch is None else min(total, sets_per_batch)
    pad = (-total) % chunk  # zero masks change nothing and weigh nothing
    masks = np.concatenate([masks, np.zeros((pad,) + masks.shape[1:], np.float32)])

    def program(x, base, onehot, m):
        f = tgt.scalar_fn(onehot)
        mb = m[:, None]
        perturbed = x[None] * (1.0 - mb) + base[None] * mb
        flat = ops.reshape(perturbed, (chunk * x.shape[0],) + tuple(x.shape[1:]))
        drop = f(x)[None] - ops.reshape(tgt.scalar_fn(onehot, chunk)(flat), (chunk, -1))
        return ops.einsum("pb,p...->b...", drop, m)

    run = _core.compiled(model, (key, chunk, tgt.key), program, jit_compile)
    attributions = 0.0
    for start in range(0, masks.shape[0], chunk):
        m = ops.convert_to_tensor(masks[start : start + chunk], x.dtype)
        attributions = attributions + run(x, base, tgt.args(), m)
    if average:
        counts = masks.sum(axis=0)
        attributions = attributions / ops.convert_to_tensor(np.maximum(counts, 1.0), x.dtype)
    return attributions


def occlusion(
    model, x, target, window, *, strides=1, baseline=0.0, sets_per_batch=None, jit_compile=True
):
    """Occlusion: the output drop when a sliding window of features is set to a baseline.

    Args:
        model: a `keras.Model`.
        x: float array `[B, ...]`.
        target: class index, one index per example, or a callable on outputs.
        window: int or tuple, one size per feature axis of `x` (channels included,
            e.g. `(4, 4, 3)` for `[B, H, W, 3]` images).
        strides: int or tuple like `window`. Defaults to `1` (captum's default).
        baseline: scalar, one example or a batch: the occluding value. Defaults to `0.0`.
        sets_per_batch: int or None. Windows evaluated per compiled call (None:
            all at once). Defaults to `None`.
        jit_compile: bool. Defaults to `True`.

    Returns:
        Attributions shaped like `x`: each feature's drop averaged over the
        windows that cover it.

    Example:

    ```python
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(2)])
    attr = keras_dlss.interpret.occlusion(model, np.ones((2, 6), "float32"), 0, window=2, strides=2)
    ```

    References:
        Zeiler and Fergus, 2014. https://arxiv.org/abs/1311.2901
    """
    feature_shape = tuple(int(d) for d in np.shape(x)[1:])
    window = _as_tuple("window", window, len(feature_shape))
    strides = _as_tuple("strides", strides, len(feature_shape))
    if sets_per_batch is not None:
        check_positive_int("sets_per_batch", sets_per_batch)
    masks = window_masks(feature_shape, window, strides)
    return _ablate(
        model,
        ("occlusion", window, strides),
        x,
        target,
        baseline,
        masks,
        sets_per_batch,
        True,
        jit_compile,
    )


def feature_ablation(
    model, x, target, *, feature_mask=None, baseline=0.0, sets_per_batch=None, jit_compile=True
):
    """Feature ablation: the output drop when each feature group is set to a baseline.

    Args:
        model: a `keras.Model`.
        x: float array `[B, ...]`.
        target: class index, one index per example, or a callable on outputs.
        feature_mask: int array broadcastable to `x.shape[1:]` giving each
            feature's group (e.g. superpixel ids `[H, W, 1]`), or None: every
            feature alone. Defaults to `None`.
        baseline: scalar, one example or a batch. Defaults to `0.0`.
        sets_per_batch: int or None. Groups evaluated per compiled call.
            Defaults to `None` (all).
        jit_compile: bool. Defaults to `True`.

    Returns:
        Attributions shaped like `x`: each feature gets its group's drop.

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    attr = keras_dlss.interpret.feature_ablation(
        model, np.ones((2, 4), "float32"), 1, feature_mask=np.array([0, 0, 1, 1]))
    ```

    References:
        Zeiler and Fergus, 2014. https://arxiv.org/abs/1311.2901
    """
    feature_shape = tuple(int(d) for d in np.shape(x)[1:])
    if sets_per_batch is not None:
        check_positive_int("sets_per_batch", sets_per_batch)
    masks = group_masks(feature_mask, feature_shape)
    key = ("feature_ablation", masks.shape)
    return _ablate(model, key, x, target, baseline, masks, sets_per_batch, False, jit_compile)
