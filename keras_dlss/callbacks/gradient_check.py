"""Checks a compiled model's loss gradient with finite differences during `fit`.

"Debug your implementation of fprop/bprop with a finite-difference
approximation" (Bengio, "Practical recommendations for gradient-based training
of deep architectures", 2012, §3.1), run automatically before training starts.
"""

import keras

from keras_dlss._validation import check_one_of, check_positive_int
from keras_dlss.debugging._model_loss import float64_loss_function, require_compiled
from keras_dlss.debugging.gradient_check import gradient_check
from keras_dlss.debugging.gradient_report import GradientCheckError


class GradientCheck(keras.callbacks.Callback):
    """Checks the compiled loss's gradient w.r.t. the trainable weights on a small batch.

    The model and its loss (including regularization losses) are copied to
    float64 and `keras_dlss.debugging.gradient_check` compares the backend's
    gradient with central finite differences. On failure training stops
    (`model.stop_training = True`) and, by default, `GradientCheckError` is raised
    with the per-weight report; with `raise_on_failure=False` the report is printed
    instead. The last report is kept in `self.report`; `gradient_check_passed` (1 or
    0) is added to the epoch logs when checking at epoch ends.

    Args:
        x: a small batch of inputs (a few examples: each check costs two forward
            passes per weight tensor in fast mode, two per weight in full mode).
        y: the targets, or None for models without targets.
        fast_mode: bool. Random projections vᵀJu instead of full Jacobians.
            Defaults to `True`.
        on: `"train_begin"` (once, before the first update) or `"epoch_end"`.
            Defaults to `"train_begin"`.
        every_n_epochs: int >= 1 or None. Also check at the end of every n-th epoch.
            Defaults to None (`1` when `on="epoch_end"`).
        raise_on_failure: bool. Raise `GradientCheckError` after stopping training.
            Defaults to `True`.
        sample_weight: optional sample weights for the loss.
        **check_kwargs: `eps`, `atol`, `rtol`, `seed`, `skip_kinks` for
            `gradient_check`.

    Example:

    ```python
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, callbacks=[GradientCheck(x[:4], y[:4])])
    ```
    """

    def __init__(
        self,
        x,
        y=None,
        *,
        fast_mode=True,
        on="train_begin",
        every_n_epochs=None,
        raise_on_failure=True,
        sample_weight=None,
        **check_kwargs,
    ):
        super().__init__()
        check_one_of("on", on, ("train_begin", "epoch_end"))
        if every_n_epochs is not None:
            check_positive_int("every_n_epochs", every_n_epochs)
        unknown = set(check_kwargs) - {"eps", "atol", "rtol", "seed", "skip_kinks"}
        if unknown:
            raise ValueError(
                "GradientCheck accepts `eps`, `atol`, `rtol`, `seed` and `skip_kinks` as extra "
                f"arguments. Received: {sorted(unknown)}"
            )
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.fast_mode = bool(fast_mode)
        self.on = on
        self.every_n_epochs = every_n_epochs or (1 if on == "epoch_end" else None)
        self.raise_on_failure = raise_on_failure
        self.check_kwargs = check_kwargs
        self.report = None

    def check(self):
        """Runs the check now on `self.model`; returns the `GradientCheckReport`."""
        require_compiled(self.model, "GradientCheck")
        loss_fn, copy = float64_loss_function(self.model, self.x, self.y, self.sample_weight)
        self.report = gradient_check(
            loss_fn,
            (),
            variables=copy.trainable_variables,
            fast_mode=self.fast_mode,
            raise_exception=False,
            **self.check_kwargs,
        )
        if not self.report.passed:
            self.model.stop_training = True
            if self.raise_on_failure:
                raise GradientCheckError(self.report)
            print(f"GradientCheck: the loss gradient is wrong; training stopped.\n{self.report}")
        return self.report

    def on_train_begin(self, logs=None):
        if self.on == "train_begin":
            self.check()

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            report = self.check()
            if logs is not None:
                logs["gradient_check_passed"] = float(report.passed)
