"""Noise stability of a trained network, layer by layer (Arora et al., ICML 2018).

Arora, Ge, Neyshabur and Zhang explain why deep networks generalize by showing
that trained networks are *noise stable*: Gaussian noise injected at a layer is
attenuated as it propagates to the output (their Section 4 and Figure 2),
which lets the network be compressed. For each named layer this inserts noise
`η` with `‖η‖ = noise_scale · ‖h‖` per example into that layer's output `h` and
measures the relative change at the network's output,

    ‖f(h + η) − f(h)‖ / ‖f(h)‖,

averaged over examples and noise draws; dividing it by `noise_scale` gives the
paper's attenuation ratio (below 1: the rest of the network damps the noise).
The network is split at each layer into two functional models sharing the
original layers, so this runs on every backend.

References:
    Arora et al., 2018. "Stronger Generalization Bounds for Deep Nets via a
    Compression Approach". https://arxiv.org/abs/1802.05296
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int, check_range


def _flat_norm(v):
    v = ops.reshape(v, (ops.shape(v)[0], -1))
    return ops.sqrt(ops.sum(v * v, axis=-1))


def noise_stability(model, x, layer_names=None, *, noise_scale=0.1, num_samples=4, seed=0):
    """Relative output change when Gaussian noise is injected at each layer.

    Args:
        model: a functional or `Sequential` `keras.Model`.
        x: float array `[B, ...]`, inputs at which to measure.
        layer_names: list of layer names, or None for every top-level layer
            except the last. Defaults to `None`.
        noise_scale: float > 0. Noise norm relative to the activation's norm.
            Defaults to `0.1`.
        num_samples: int >= 1. Noise draws per example. Defaults to `4`.
        seed: int. Seed of the noise. Defaults to `0`.

    Returns:
        Dict `layer name -> mean relative output change` (Python floats).

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu",
                              name="h"), keras.layers.Dense(2)])
    keras_dlss.metrics.noise_stability(model, np.random.rand(16, 4), noise_scale=0.1)
    ```

    References:
        Arora et al., 2018. https://arxiv.org/abs/1802.05296
    """
    from keras_dlss.interpret import _core

    check_range("noise_scale", noise_scale, 0.0, low_inclusive=False)
    num_samples = check_positive_int("num_samples", num_samples)
    x = _core.as_float("x", x)
    valid = _core.layer_names(model, min_rank=2)
    names = valid[:-1] if layer_names is None else list(layer_names)
    clean = keras.tree.flatten(model(x, training=False))[0]
    clean_norm = ops.maximum(_flat_norm(clean), 1e-12)
    generator = keras.random.SeedGenerator(seed)
    result = {}
    for name in names:
        features, head = _core.split_at(model, name, valid)
        h = features(x, training=False)
        changes = []
        for _ in range(num_samples):
            noise = keras.random.normal(ops.shape(h), seed=generator, dtype=h.dtype)
            scale = noise_scale * _flat_norm(h) / ops.maximum(_flat_norm(noise), 1e-12)
            noise = noise * ops.reshape(scale, (-1,) + (1,) * (len(h.shape) - 1))
            out = keras.tree.flatten(head(h + noise, training=False))[0]
            changes.append(_flat_norm(out - clean) / clean_norm)
        result[name] = float(np.mean(ops.convert_to_numpy(ops.stack(changes))))
    return result
