"""The model-randomization sanity check for attribution methods.

Adebayo, Gilmer, Muelly, Goodfellow, Hardt and Kim, "Sanity Checks for
Saliency Maps", NeurIPS 2018 (https://arxiv.org/abs/1810.03292), Section 3:
re-initialize the weights of a trained network layer by layer, from the
output towards the input ("cascading randomization"), and compare each
method's attributions before and after. A method whose maps barely change
once the weights that produced the prediction are random is not explaining
the model -- it behaves like an edge detector on the input. The paper found
gradient and SmoothGrad pass while Guided Backprop fails; gradient × input's
maps stay correlated with the input itself.

Similarity is the Spearman rank correlation of the attributions with the
original ones, per example, on absolute values (as the paper's main figures)
and on signed values. Randomized weights are drawn from a normal distribution
with each variable's own standard deviation (zero-initialized biases stay
zero's scale), so the activations keep their scale and no layer saturates,
which would make any method trivially "pass". The check works on a clone: the
caller's model is never modified.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_range
from keras_dlss.interpret.grad_cam import grad_cam
from keras_dlss.interpret.integrated_gradients import integrated_gradients
from keras_dlss.interpret.saliency import saliency, smoothgrad

_METHODS = {
    "gradient": lambda m, x, t: saliency(m, x, t),
    "gradient_x_input": lambda m, x, t: saliency(m, x, t, method="gradient_x_input"),
    "smoothgrad": lambda m, x, t: smoothgrad(m, x, t, num_samples=16),
    "integrated_gradients": lambda m, x, t: integrated_gradients(m, x, t, steps=16)[0],
}


def _ranks(a):
    """Ranks along the last axis (average ranks are unnecessary: ties have measure zero)."""
    order = np.argsort(a, axis=-1, kind="stable")
    ranks = np.empty_like(order, dtype=np.float64)
    np.put_along_axis(ranks, order, np.arange(a.shape[-1], dtype=np.float64)[None], axis=-1)
    return ranks


def spearman_per_example(a, b):
    """Spearman rank correlation of `a[i]` with `b[i]` for each example `i`."""
    a = np.asarray(a, np.float64).reshape(len(a), -1)
    b = np.asarray(b, np.float64).reshape(len(b), -1)
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean(-1, keepdims=True)
    rb -= rb.mean(-1, keepdims=True)
    denominator = np.sqrt((ra * ra).sum(-1) * (rb * rb).sum(-1))
    return (ra * rb).sum(-1) / np.maximum(denominator, 1e-12)


def _resolve(method):
    if callable(method):
        return method
    if isinstance(method, tuple) and method and method[0] == "grad_cam":
        layer_name = method[1]
        return lambda m, x, t: grad_cam(m, x, t, layer_name)
    if method not in _METHODS:
        raise ValueError(
            f"Argument `method` must be one of {sorted(_METHODS)}, ('grad_cam', layer_name) or a "
            f"callable (model, x, target) -> attributions. Received: method={method!r}"
        )
    return _METHODS[method]


def model_randomization_check(model, method, x, target, *, threshold=0.5, seed=0):
    """Cascading weight randomization (Adebayo et al. 2018): do the attributions change?

    Args:
        model: a trained `keras.Model` (left unchanged: the check randomizes a clone).
        method: `"gradient"`, `"gradient_x_input"`, `"smoothgrad"`,
            `"integrated_gradients"`, `("grad_cam", layer_name)`, or a callable
            `(model, x, target) -> attributions` for any other method.
        x: float array `[B, ...]` of inputs to explain.
        target: class index, one index per example, or a callable on outputs
            (as for every `keras_dlss.interpret` method).
        threshold: float in [0, 1]. The method passes when the mean absolute-value
            rank correlation with the original maps, after every layer has been
            randomized, is below this. Defaults to `0.5`.
        seed: int. Seed of the random weights. Defaults to `0`.

    Returns:
        A dict: `layers` (names, in the order randomized: output first),
        `spearman_abs` and `spearman` (mean rank correlation with the
        original attributions after randomizing each prefix of `layers`), and
        `passed` (bool).

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.interpret import model_randomization_check

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, activation="tanh"),
                              keras.layers.Dense(3)])
    x = np.random.default_rng(0).normal(size=(2, 6)).astype("float32")
    report = model_randomization_check(model, "gradient", x, target=0)
    print(report["layers"], np.round(report["spearman_abs"], 2), report["passed"])
    ```

    References:
        Adebayo et al., 2018, https://arxiv.org/abs/1810.03292
    """
    explain = _resolve(method)
    check_range("threshold", threshold, 0.0, 1.0)
    if not isinstance(model, keras.Model):
        raise ValueError(f"Argument `model` must be a keras.Model. Received: model={model!r}")
    x = np.asarray(ops.convert_to_numpy(x), np.float32)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    original = np.asarray(ops.convert_to_numpy(explain(clone, x, target)))
    rng = np.random.default_rng(int(seed))
    layers = [layer for layer in reversed(clone.layers) if layer.trainable_weights]
    names, rho_abs, rho = [], [], []
    for layer in layers:
        for v in layer.trainable_weights:
            value = np.asarray(ops.convert_to_numpy(v))
            scale = float(value.std()) or 0.05
            v.assign(rng.normal(scale=scale, size=value.shape).astype(value.dtype))
        a = np.asarray(ops.convert_to_numpy(explain(clone, x, target)))
        names.append(layer.name)
        rho_abs.append(float(np.mean(spearman_per_example(np.abs(original), np.abs(a)))))
        rho.append(float(np.mean(spearman_per_example(original, a))))
    if not names:
        raise ValueError(
            "Argument `model` must have trainable weights to randomize. "
            f"Received: model with {len(clone.layers)} layers and no trainable weights"
        )
    return {
        "layers": names,
        "spearman_abs": rho_abs,
        "spearman": rho,
        "passed": bool(rho_abs[-1] < threshold),
    }
