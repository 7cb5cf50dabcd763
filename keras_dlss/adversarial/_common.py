"""What the attacks share (internal): argument checks, the attacked loss, one
projected gradient step, and the ε-ball projection.

Every attack maximizes the cross-entropy of the true label (or minimizes that of
a target label) as a function of the input. Whether the model returns logits or
probabilities is read from one eager forward pass when not given (outputs in
[0, 1] summing to 1 are probabilities), because a wrong `from_logits` silently
weakens an attack rather than failing.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_range
from keras_dlss.autodiff import grad
from keras_dlss.interpret import _core

NORMS = ("inf", 2)


def check_eps(name, value):
    check_range(name, value, 0.0)
    return float(value)


def check_norm(norm):
    if norm in (np.inf, math.inf, "inf", "linf"):
        return "inf"
    if norm in (2, "2", "l2"):
        return 2
    raise ValueError(f"Argument `norm` must be 'inf' or 2. Received: norm={norm!r}")


def check_labels(x, y):
    y = np.asarray(ops.convert_to_numpy(y) if not isinstance(y, np.ndarray) else y)
    if y.ndim != 1 or y.shape[0] != int(x.shape[0]) or y.dtype.kind not in "iu":
        raise ValueError(
            f"Argument `y` must be integer labels, one per example ({int(x.shape[0])}). "
            f"Received: y.shape={y.shape} with dtype {y.dtype}"
        )
    return ops.convert_to_tensor(y.astype("int32"))


def infer_from_logits(model, x, from_logits):
    if from_logits is not None:
        return bool(from_logits)
    out = np.asarray(ops.convert_to_numpy(_core.first_output(model(x[:2], training=False))))
    probs = out.min() >= 0.0 and out.max() <= 1.0 and np.allclose(out.sum(-1), 1.0, atol=1e-4)
    return not probs


def loss_fn(model, from_logits):
    """`(x, y) -> [B]` per-example cross-entropy of the model's first output."""

    def f(x, y):
        out = _core.first_output(model(x, training=False))
        return keras.losses.sparse_categorical_crossentropy(
            y, ops.cast(out, "float32"), from_logits=from_logits
        )

    return f


def per_example_norm(v, keepdims=True):
    axes = tuple(range(1, len(v.shape)))
    return ops.sqrt(ops.sum(v * v, axis=axes, keepdims=keepdims))


def project(delta, eps, norm):
    """`delta` projected onto the ε-ball of the norm (per example)."""
    if norm == "inf":
        return ops.clip(delta, -eps, eps)
    scale = ops.minimum(1.0, eps / ops.maximum(per_example_norm(delta), 1e-12))
    return delta * scale


def ascent_step(loss, x_orig, x_adv, y, eps, step_size, norm, clip, sign):
    """One projected steepest-ascent step (Madry et al. 2018, Eq. 2), clipped to range."""
    g = grad(lambda z: ops.sum(loss(z, y)))(x_adv) * sign
    if norm == "inf":
        direction = ops.sign(g)
    else:
        direction = g / ops.maximum(per_example_norm(g), 1e-12)
    x_adv = x_adv + step_size * direction
    x_adv = x_orig + project(x_adv - x_orig, eps, norm)
    if clip is not None:
        x_adv = ops.clip(x_adv, clip[0], clip[1])
    return x_adv


def random_start(shape, eps, norm, seed, dtype):
    """Uniform noise in the L∞ ball, or uniform in the L2 ball (direction × radius)."""
    if norm == "inf":
        return keras.random.uniform(shape, -eps, eps, seed=seed, dtype=dtype)
    direction = keras.random.normal(shape, seed=seed, dtype=dtype)
    direction = direction / ops.maximum(per_example_norm(direction), 1e-12)
    dims = float(np.prod([int(d) for d in shape[1:]]))
    radius_shape = (shape[0],) + (1,) * (len(shape) - 1)
    radius = keras.random.uniform(radius_shape, seed=seed, dtype=dtype)
    return direction * eps * radius ** (1.0 / dims)


def check_clip(clip_min, clip_max):
    if clip_min is None and clip_max is None:
        return None
    lo = -np.inf if clip_min is None else float(clip_min)
    hi = np.inf if clip_max is None else float(clip_max)
    if not lo < hi:
        raise ValueError(
            f"Argument `clip_max` must exceed `clip_min`. Received: clip_min={clip_min}, "
            f"clip_max={clip_max}"
        )
    return (lo, hi)


def attack_inputs(model, x, y, clip_min, clip_max, from_logits):
    """The checks every attack starts with: `(x, y, clip, from_logits)` validated and resolved."""
    clip = check_clip(clip_min, clip_max)
    x = _core.as_float("x", x)
    y = check_labels(x, y)
    return x, y, clip, infer_from_logits(model, x, from_logits)
