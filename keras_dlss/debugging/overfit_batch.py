"""Debugging on a small dataset: can the model fit one batch?

"Make sure you can overfit a small portion of the training data" (Bengio,
"Practical recommendations for gradient-based training of deep
architectures", 2012, §3.1; Karpathy, "A recipe for training neural
networks", 2019). A model that cannot drive the loss on a handful of examples
to (near) zero has a bug, saturated units, or a bad learning rate; the report
says which of these it sees.
"""

import dataclasses

import keras
import numpy as np

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.debugging._model_loss import require_compiled
from keras_dlss.debugging.diagnostics import (
    diagnose_loss_curve,
    layer_gradient_norms,
    saturation_fractions,
)


@dataclasses.dataclass
class OverfitReport:
    """What `overfit_batch` saw. `str(report)` is a readable summary.

    Attributes:
        losses: the loss after each step.
        initial_loss, best_loss: loss before training and the lowest reached.
        target_loss: the threshold for success.
        reached_target: whether `best_loss <= target_loss`.
        diagnosis: "converged", "decreasing", "plateau", "oscillating" or "diverged".
        saturation: `layer -> (activation, fraction)` before the first update.
        gradient_norms: `layer -> gradient norm` before the first update.
        hints: plain-language advice, most important first.
    """

    losses: list
    initial_loss: float
    best_loss: float
    target_loss: float
    reached_target: bool
    diagnosis: str
    saturation: dict
    gradient_norms: dict
    hints: list

    def __str__(self):
        verdict = "reached" if self.reached_target else "did NOT reach"
        lines = [
            f"overfit_batch: {len(self.losses)} steps, loss {self.initial_loss:.4g} -> "
            f"best {self.best_loss:.4g}; {verdict} the target {self.target_loss:.4g} "
            f"(curve: {self.diagnosis})",
            "layer                 activation  saturated   grad norm",
        ]
        for name in dict.fromkeys([*self.saturation, *self.gradient_norms]):
            kind, frac = self.saturation.get(name, ("-", None))
            norm = self.gradient_norms.get(name)
            lines.append(
                f"{name:<21} {kind:<11} {'-' if frac is None else f'{frac:.0%}':<11} "
                f"{'-' if norm is None else f'{norm:.3g}'}"
            )
        lines += [f"hint: {h}" for h in self.hints]
        return "\n".join(lines)


def overfit_batch(model, x, y, *, steps=200, target_loss=None, sample_weight=None):
    """Trains a copy of `model` on one small batch and diagnoses what goes wrong.

    Before the first update it measures the fraction of saturated units
    (tanh/sigmoid near their bounds, dead ReLUs) and per-layer gradient norms;
    then it runs up to `steps` updates with the model's optimizer and loss on
    (x, y) and classifies the loss curve. `model` itself is not modified.

    Args:
        model: a compiled Keras model (functional or Sequential for the
            saturation probe).
        x, y: a small batch (a few to a few dozen examples).
        steps: int >= 1. Maximum number of updates. Defaults to `200`.
        target_loss: float >= 0. Success threshold. Defaults to 1% of the
            initial loss.
        sample_weight: optional sample weights.

    Returns:
        An `OverfitReport`.

    Example:

    ```python
    report = overfit_batch(model, x[:16], y[:16], steps=100)
    print(report)  # loss curve, saturation, gradient norms and hints
    ```
    """
    require_compiled(model, "overfit_batch")
    steps = check_positive_int("steps", steps)
    if target_loss is not None:
        check_range("target_loss", target_loss, 0)
    copy = _trainable_copy(model, x)
    saturation = saturation_fractions(copy, x)
    initial_loss, norms = layer_gradient_norms(copy, x, y, sample_weight)
    target = 0.01 * initial_loss if target_loss is None else float(target_loss)
    losses = []
    for _ in range(steps):
        logs = copy.train_on_batch(x, y, sample_weight=sample_weight, return_dict=True)
        losses.append(float(logs["loss"]))
        if losses[-1] <= target or not np.isfinite(losses[-1]):
            break
    best = float(np.nanmin(losses)) if np.any(np.isfinite(losses)) else float("nan")
    reached = bool(best <= target)
    diagnosis, curve_hint = diagnose_loss_curve([initial_loss, *losses])
    if reached:
        diagnosis = "converged"
    hints = _hints(reached, curve_hint, saturation, norms, copy, steps, len(losses))
    return OverfitReport(
        losses, initial_loss, best, target, reached, diagnosis, saturation, norms, hints
    )


def _trainable_copy(model, x):
    try:
        copy = keras.models.clone_model(model)
    except (ValueError, TypeError):  # subclassed models: through their config
        try:
            copy = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
            copy(x)
        except Exception as e:
            raise ValueError(
                "overfit_batch trains a copy of the model and could not copy this "
                f"{type(model).__name__} ({type(e).__name__}: {e}). Make it serializable "
                "(get_config/from_config)."
            ) from e
    copy.set_weights(model.get_weights())
    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer))
    copy.compile(optimizer=optimizer, loss=model.loss)
    return copy


def _hints(reached, curve_hint, saturation, norms, model, steps, ran):
    hints = []
    if curve_hint and not reached:
        hints.append(curve_hint)
    for name, (kind, fraction) in saturation.items():
        if fraction > 0.5 and kind == "relu":
            hints.append(
                f"Layer `{name}`: {fraction:.0%} of ReLU units are dead before training; use "
                "He initialization, a smaller learning rate, or LeakyReLU."
            )
        elif fraction > 0.5:
            hints.append(
                f"Layer `{name}`: {fraction:.0%} of {kind} units are saturated before training; "
                "scale the initialization down (Glorot) or normalize the inputs."
            )
    values = [v for v in norms.values() if np.isfinite(v)]
    if values and max(values) > 0:
        top = max(values)
        for name, norm in norms.items():
            if norm < 1e-4 * top:
                hints.append(
                    f"Layer `{name}`: gradient norm {norm:.2g} is tiny next to {top:.2g}; its "
                    "gradients vanish (saturated units, or a path that bypasses it)."
                )
        if top > 1e3:
            hints.append(f"Gradient norms reach {top:.3g}: clip gradients or rescale the loss.")
    if values and max(values) == 0:
        hints.append("All gradients are zero: the loss does not depend on the weights.")
    regularization = float(sum(float(keras.ops.convert_to_numpy(term)) for term in model.losses))
    if regularization > 0 and not reached:
        hints.append(
            f"Regularization losses add {regularization:.3g} to the loss: weaken them while "
            "checking that the model can overfit."
        )
    if not reached and ran == steps and not curve_hint:
        hints.append("The loss is still decreasing: run more steps or raise the learning rate.")
    return hints
