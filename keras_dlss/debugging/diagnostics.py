"""Training diagnostics: saturated units, per-layer gradient norms, loss curves.

Saturation of sigmoid/tanh units and its effect on learning: Glorot and Bengio,
"Understanding the difficulty of training deep feedforward neural networks",
AISTATS 2010. Dead ReLUs, vanishing/exploding gradients and learning-rate
symptoms of the loss curve: Bengio, "Practical recommendations for
gradient-based training of deep architectures", 2012; LeCun et al.,
"Efficient BackProp", 1998.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss.debugging._model_loss import loss_and_gradients

# Output thresholds: tanh beyond ±0.97 (|pre-activation| > 2.1) and sigmoid beyond
# [0.03, 0.97] have derivatives below 6% of their maximum.
TANH_BOUND = 0.97
SIGMOID_BOUND = 0.03


def _activation_kind(layer):
    if type(layer).__name__ == "ReLU":
        return "relu"
    fn = getattr(layer, "activation", None)
    name = getattr(fn, "__name__", "") if fn is not None else ""
    return name if name in ("tanh", "sigmoid", "relu") else None


def saturation_fractions(model, x):
    """Fraction of saturated units per layer with a tanh, sigmoid or ReLU activation.

    tanh: |y| > 0.97; sigmoid: y < 0.03 or y > 0.97 (derivative below 6% of its
    maximum); ReLU: units (last axis) that are zero for every example of `x`
    ("dead"). Needs a functional or Sequential model (layer outputs are probed).

    Args:
        model: a built functional or Sequential Keras model.
        x: a batch of inputs.

    Returns:
        dict `layer name -> (activation, fraction)`; empty when the model's layer
        outputs cannot be probed (subclassed models).

    Example:

    ```python
    saturation_fractions(model, x)  # {"dense": ("tanh", 0.62)}
    ```
    """
    layers = [layer for layer in model.layers if _activation_kind(layer)]
    try:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        probe = keras.Model(inputs, [layer.output for layer in layers])
    except (AttributeError, ValueError, TypeError):
        return {}
    if not layers:
        return {}
    outputs = probe(x, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    result = {}
    for layer, y in zip(layers, outputs):
        kind = _activation_kind(layer)
        y = ops.convert_to_numpy(ops.cast(y, "float32"))
        if kind == "tanh":
            fraction = np.mean(np.abs(y) > TANH_BOUND)
        elif kind == "sigmoid":
            fraction = np.mean((y < SIGMOID_BOUND) | (y > 1 - SIGMOID_BOUND))
        else:
            units = y.reshape(-1, y.shape[-1])
            fraction = np.mean(np.all(units <= 0, axis=0))
        result[layer.name] = (kind, float(fraction))
    return result


def layer_gradient_norms(model, x, y, sample_weight=None):
    """Global L2 norm of the compiled loss's gradient for each layer's weights.

    Args:
        model: a compiled Keras model.
        x, y: a batch of inputs and targets.
        sample_weight: optional sample weights.

    Returns:
        `(loss, norms)`: the loss value and a dict `layer name -> norm` for layers
        with trainable weights, in model order.

    Example:

    ```python
    loss, norms = layer_gradient_norms(model, x, y)  # norms["dense"] -> 0.12
    ```
    """
    loss, grads = loss_and_gradients(model, x, y, sample_weight)
    by_variable = {
        id(v): float(np.sqrt(np.sum(np.square(ops.convert_to_numpy(g).astype(np.float64)))))
        for v, g in zip(model.trainable_variables, grads)
    }
    norms = {}
    for layer in model.layers:
        ids = [id(v) for v in layer.trainable_variables if id(v) in by_variable]
        if ids:
            norms[layer.name] = float(np.sqrt(sum(by_variable[i] ** 2 for i in ids)))
    return float(ops.convert_to_numpy(loss)), norms


def diagnose_loss_curve(losses):
    """Classifies a loss curve: "diverged", "oscillating", "plateau", "decreasing".

    Args:
        losses: sequence of per-step (or per-epoch) loss values.

    Returns:
        `(diagnosis, hint)`: a label and a plain-language hint (None when the
        curve decreases steadily).

    Example:

    ```python
    diagnose_loss_curve([1.0, 3.0, 0.5, 4.0, 0.2, 9.0])  # ("oscillating", "...")
    ```
    """
    losses = np.asarray(losses, dtype=np.float64)
    if losses.size < 3:
        return "decreasing", None
    if not np.all(np.isfinite(losses)) or losses[-1] > 10 * losses[0]:
        return "diverged", (
            "The loss diverged: lower the learning rate (try 10x smaller), check the "
            "initialization scale, and look for log(0) or division by zero in the loss."
        )
    steps = np.diff(losses)
    scale = np.maximum(np.abs(losses[:-1]), 1e-12)
    flips = np.mean(np.sign(steps[1:]) != np.sign(steps[:-1]))
    big = np.mean(np.abs(steps) / scale > 0.05)
    if flips > 0.4 and big > 0.3:
        return "oscillating", (
            "The loss oscillates: the learning rate is likely too high; lower it, use "
            "gradient clipping, or a larger batch."
        )
    half = losses[len(losses) // 2 :]
    if (half[0] - half[-1]) < 0.01 * max(abs(half[0]), 1e-12) and losses[-1] > 0.5 * losses[0]:
        return "plateau", (
            "The loss has stopped decreasing: the learning rate may be too small, units "
            "may be saturated or dead (see saturation), or regularization too strong."
        )
    return "decreasing", None
