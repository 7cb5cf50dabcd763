"""Robust accuracy: the fraction of examples still classified correctly under attack.

The number adversarial-robustness papers report (Madry et al. 2018, Table 1):
accuracy on the adversarial examples an attack finds within an ε-ball around
each test input. An example that is already misclassified counts as an error,
so robust accuracy never exceeds clean accuracy. The attack needs the model and
the inputs, not just predictions, so this metric's `update_state` takes
`(x, y)`; it is evaluated over a test set in a loop (or with `evaluate_dataset`),
not passed to `compile`.

References:
    Madry et al., 2018. "Towards Deep Learning Models Resistant to Adversarial
    Attacks". https://arxiv.org/abs/1706.06083
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_one_of, check_range

_ATTACKS = ("fgsm", "pgd")


@keras.saving.register_keras_serializable(package="keras_dlss")
class RobustAccuracy(keras.metrics.Metric):
    """Accuracy of `model` on adversarial examples within `eps` (FGSM or PGD).

    Args:
        model: the classifier under attack.
        eps: float >= 0. Attack radius (L∞ for FGSM; `norm` for PGD).
        attack: `"fgsm"` or `"pgd"`. Defaults to `"pgd"`.
        name: str. Defaults to `"robust_accuracy"`.
        **attack_kwargs: passed to the attack (`steps`, `norm`, `clip_min`, ...).

    Example:

    ```python
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    metric = keras_dlss.metrics.RobustAccuracy(net, eps=0.05, attack="fgsm")
    metric.update_state(np.full((4, 4), 0.5, "float32"), np.array([0, 1, 2, 0]))
    print(float(metric.result()))
    ```
    """

    def __init__(self, model, eps, attack="pgd", name="robust_accuracy", **attack_kwargs):
        dtype = attack_kwargs.pop("dtype", None)
        super().__init__(name=name, dtype=dtype)
        check_range("eps", eps, 0.0)
        self.model = model
        self.eps = float(eps)
        self.attack = check_one_of("attack", attack, _ATTACKS)
        self.attack_kwargs = attack_kwargs
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, x, y, sample_weight=None):
        """Attacks the batch `(x, y)` (int labels `[B]`) and counts the survivors."""
        from keras_dlss import adversarial

        fn = adversarial.fgsm if self.attack == "fgsm" else adversarial.pgd
        x_adv = fn(self.model, x, y, self.eps, **self.attack_kwargs)
        pred = np.asarray(ops.convert_to_numpy(self.model(x_adv, training=False))).argmax(-1)
        hit = (pred == np.asarray(y).reshape(-1)).astype("float32")
        w = np.ones_like(hit) if sample_weight is None else np.asarray(sample_weight, "float32")
        self.correct.assign(self.correct + float((hit * w).sum()))
        self.total.assign(self.total + float(w.sum()))

    def result(self):
        return ops.divide_no_nan(self.correct, self.total)

    def get_config(self):
        # The model is not part of the config: re-create the metric around a loaded model.
        return {"name": self.name, "eps": self.eps, "attack": self.attack, **self.attack_kwargs}
