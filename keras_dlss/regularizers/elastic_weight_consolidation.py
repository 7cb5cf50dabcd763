"""Elastic weight consolidation: a quadratic anchor on the weights a task needed.

Kirkpatrick et al., "Overcoming catastrophic forgetting in neural networks",
PNAS 2017 (https://arxiv.org/abs/1612.00796), Eq. 3: after training on task A,
training on task B minimizes `L_B(θ) + λ/2 Σ_i F_i (θ_i - θ*_A,i)²`, where
`F` is the diagonal of the Fisher information of task A at its optimum θ*_A.
Weights that mattered for A (large `F_i`) are held near their values; the
others stay free to learn B.

Design: the penalty is a `keras.regularizers.Regularizer` set on each trainable
variable (`variable.regularizer`, which Keras adds to the loss in every
backend's `train_step`), so EWC needs no custom training step and composes
with any model, optimizer and `fit` option. `consolidate` computes the Fisher
and installs the penalties; called again after a later task it adds the new
Fisher to the old and moves the anchor (the "online EWC" of Schwarz et al.
2018, https://arxiv.org/abs/1805.06370), so the number of penalty terms stays
one per weight. A regularizer the variable already had (an L2 kernel
regularizer) is kept and added.

The Fisher is the expected one, `E_x E_{y~p(y|x)}[(∂ log p(y|x)/∂θ)²]`, with one
label sampled from the model per example (as the paper), or the "empirical"
Fisher on given labels. Per-example gradients come from one `vjp` per example:
backend-neutral, and a few hundred examples suffice for a diagonal estimate.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.autodiff.core import vjp


@keras.saving.register_keras_serializable(package="keras_dlss")
class ElasticWeightConsolidation(keras.regularizers.Regularizer):
    """`strength/2 * Σ fisher * (w - anchor)²` for one variable (Kirkpatrick et al. Eq. 3).

    Usually installed by `consolidate` or `callbacks.ElasticWeightConsolidation`
    rather than by hand.

    Args:
        fisher: array shaped like the variable: the diagonal Fisher information.
        anchor: array shaped like the variable: the consolidated weights θ*.
        strength: float >= 0. The paper's λ. Defaults to `1.0`.
        base: optional regularizer the variable had before (added to the penalty).

    Call arguments:
        weights: the variable's current value.

    Returns:
        A scalar.

    Example:

    ```python
    import numpy as np
    from keras_dlss.regularizers import ElasticWeightConsolidation

    ewc = ElasticWeightConsolidation(fisher=[2.0, 0.0], anchor=[1.0, 1.0], strength=1.0)
    w = np.array([3.0, 5.0], "float32")
    assert abs(float(ewc(w)) - 4.0) < 1e-6   # 1/2 * 2 * (3 - 1)²; the free weight costs 0
    ```

    References:
        Kirkpatrick et al., 2017, https://arxiv.org/abs/1612.00796
    """

    def __init__(self, fisher, anchor, strength=1.0, base=None):
        self.fisher = np.asarray(fisher, np.float32)
        self.anchor = np.asarray(anchor, np.float32)
        if self.fisher.shape != self.anchor.shape:
            raise ValueError(
                f"Argument `anchor` must have the shape of `fisher` {self.fisher.shape}. "
                f"Received: anchor.shape={self.anchor.shape}"
            )
        if self.fisher.size and self.fisher.min() < 0:
            raise ValueError(
                "Argument `fisher` must be non-negative (a diagonal Fisher). "
                f"Received: fisher with minimum {self.fisher.min()}"
            )
        self.strength = float(check_range("strength", strength, 0.0))
        self.base = keras.regularizers.get(base)

    def __call__(self, weights):
        if tuple(weights.shape) != self.fisher.shape:
            raise ValueError(
                f"Argument `weights` must have the shape of the consolidated variable "
                f"{self.fisher.shape}. Received: weights.shape={tuple(weights.shape)}"
            )
        fisher = ops.convert_to_tensor(self.fisher, weights.dtype)
        anchor = ops.convert_to_tensor(self.anchor, weights.dtype)
        penalty = 0.5 * self.strength * ops.sum(fisher * ops.square(weights - anchor))
        return penalty if self.base is None else penalty + self.base(weights)

    def get_config(self):
        return {
            "fisher": self.fisher.tolist(),
            "anchor": self.anchor.tolist(),
            "strength": self.strength,
            "base": keras.regularizers.serialize(self.base) if self.base is not None else None,
        }


def _log_likelihood(model, outputs):
    def f(values, x, onehot):
        variables = model.trainable_variables
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            out = keras.tree.flatten(model(x, training=False))[0]
        out = ops.cast(out, "float32")
        if outputs == "logits":
            log_p = ops.log_softmax(out, axis=-1)
        else:
            log_p = ops.log(ops.maximum(out, 1e-12))
        return ops.sum(log_p * ops.convert_to_tensor(onehot, log_p.dtype))

    return f


def diagonal_fisher(model, x, y=None, *, outputs="probabilities", num_samples=None, seed=0):
    """The diagonal Fisher information of `model`'s trainable weights on inputs `x`.

    Args:
        model: a classifier (`[batch, classes]` probabilities or logits).
        x: inputs `[N, ...]`.
        y: optional int labels `[N]` (the empirical Fisher); None samples one
            label per example from the model (the expected Fisher). Defaults to `None`.
        outputs: `"probabilities"` or `"logits"`. Defaults to `"probabilities"`.
        num_samples: int or None. Use the first `num_samples` examples. Defaults
            to `None` (all).
        seed: int. Seed of the sampled labels. Defaults to `0`.

    Returns:
        A list of NumPy arrays, one per `model.trainable_variables`.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.regularizers import diagonal_fisher

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    kernel_fisher, bias_fisher = diagonal_fisher(model, np.random.rand(4, 2), num_samples=4)
    ```
    """
    check_one_of("outputs", outputs, ("probabilities", "logits"))
    x = np.asarray(ops.convert_to_numpy(x))
    n = (
        len(x)
        if num_samples is None
        else min(check_positive_int("num_samples", num_samples), len(x))
    )
    scores = np.asarray(ops.convert_to_numpy(model.predict(x[:n], verbose=0)), np.float64)
    classes = scores.shape[-1]
    if y is None:
        if outputs == "logits":
            scores = np.exp(scores - scores.max(-1, keepdims=True))
        p = scores / scores.sum(-1, keepdims=True)
        rng = np.random.default_rng(int(seed))
        labels = np.array([rng.choice(classes, p=row) for row in p])
    else:
        labels = np.asarray(ops.convert_to_numpy(y)).reshape(-1)[:n].astype(int)
        if labels.min() < 0 or labels.max() >= classes:
            raise ValueError(
                f"Argument `y` must hold class indices in [0, {classes}). "
                f"Received: y containing {labels.min() if labels.min() < 0 else labels.max()}"
            )
    f = _log_likelihood(model, outputs)
    values = [ops.convert_to_tensor(v.value) for v in model.trainable_variables]
    fisher = [np.zeros(tuple(v.shape), np.float64) for v in values]
    eye = np.eye(classes, dtype="float32")
    for i in range(n):
        out, vjp_fn = vjp(
            lambda *vs, i=i: f(list(vs), x[i : i + 1], eye[labels[i : i + 1]]), *values
        )
        for acc, g in zip(fisher, vjp_fn(ops.ones_like(out))):
            acc += np.square(np.asarray(ops.convert_to_numpy(g), np.float64))
    return [(acc / n).astype(np.float32) for acc in fisher]


def consolidate(
    model, x, y=None, *, strength=100.0, outputs="probabilities", num_samples=200, seed=0
):
    """Anchors `model`'s current weights with EWC penalties for the next task.

    Computes `diagonal_fisher` on `(x, y)`, sets an `ElasticWeightConsolidation`
    regularizer on every trainable variable (adding to the Fisher of an earlier
    consolidation) and drops the model's compiled train function, so the next
    `fit` includes the penalties.

    Args:
        model: the trained classifier.
        x, y: the finished task's data (`y` optional: see `diagonal_fisher`).
        strength: float >= 0. λ. Defaults to `100.0`.
        outputs: `"probabilities"` or `"logits"`. Defaults to `"probabilities"`.
        num_samples: int. Examples used for the Fisher. Defaults to `200`.
        seed: int. Defaults to `0`.

    Returns:
        The list of installed regularizers (one per trainable variable).

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.regularizers import consolidate

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    consolidate(model, np.random.rand(4, 2), strength=10.0, num_samples=4)
    assert len(model.losses) == 2   # one penalty per trainable variable
    ```
    """
    check_range("strength", strength, 0.0)
    fisher = diagonal_fisher(model, x, y, outputs=outputs, num_samples=num_samples, seed=seed)
    installed = []
    for variable, f in zip(model.trainable_variables, fisher):
        previous = variable.regularizer
        base = previous
        if isinstance(previous, ElasticWeightConsolidation):
            f = f + previous.fisher
            base = previous.base
        reg = ElasticWeightConsolidation(f, ops.convert_to_numpy(variable.value), strength, base)
        variable.regularizer = reg
        installed.append(reg)
    model.train_function = None  # retrace: the penalties are part of the loss now
    return installed
