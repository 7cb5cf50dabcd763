"""Logs training diagnostics (saturation, gradient norms, learning rate) during `fit`.

The quantities of `keras_dlss.debugging.overfit_batch`, tracked over epochs
(Glorot and Bengio, AISTATS 2010; Bengio, "Practical recommendations for
gradient-based training of deep architectures", 2012).
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.debugging.diagnostics import (
    diagnose_loss_curve,
    layer_gradient_norms,
    saturation_fractions,
)


class TrainingDiagnostics(keras.callbacks.Callback):
    """Adds saturation fractions, per-layer gradient norms and the learning rate to logs.

    At the end of every `every_n_epochs`-th epoch, on the fixed batch (x, y), it
    writes into the epoch logs (so they land in `History`, and in
    `keras.callbacks.TensorBoard` when that callback is listed after this one):

    * `diagnostics/saturation/<layer>`: fraction of saturated tanh/sigmoid units or
      dead ReLUs (see `keras_dlss.debugging.saturation_fractions`);
    * `diagnostics/grad_norm/<layer>`: the loss gradient's norm for that layer;
    * `diagnostics/learning_rate`: the optimizer's current learning rate.

    It also classifies the epoch-loss curve; when it turns to "diverged" or
    "oscillating" the hint is printed once (and `diagnosis` holds the label).

    Args:
        x, y: a small fixed batch to measure on.
        every_n_epochs: int >= 1. Defaults to `1`.
        prefix: str. Log-key prefix. Defaults to `"diagnostics/"`.
        verbose: bool. Print hints. Defaults to `True`.

    Example:

    ```python
    history = model.fit(x, y, epochs=5, callbacks=[TrainingDiagnostics(x[:32], y[:32])])
    history.history["diagnostics/grad_norm/dense"]
    ```
    """

    def __init__(self, x, y=None, *, every_n_epochs=1, prefix="diagnostics/", verbose=True):
        super().__init__()
        self.x, self.y = x, y
        self.every_n_epochs = check_positive_int("every_n_epochs", every_n_epochs)
        self.prefix = prefix
        self.verbose = verbose
        self.diagnosis = None
        self._epoch_losses = []
        self._warned = set()

    def measure(self):
        """The diagnostics of `self.model` now, as a dict of floats."""
        values = {}
        for name, (_, fraction) in saturation_fractions(self.model, self.x).items():
            values[f"{self.prefix}saturation/{name}"] = fraction
        _, norms = layer_gradient_norms(self.model, self.x, self.y)
        for name, norm in norms.items():
            values[f"{self.prefix}grad_norm/{name}"] = norm
        lr = self.model.optimizer.learning_rate
        values[f"{self.prefix}learning_rate"] = float(ops.convert_to_numpy(lr))
        return values

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        if "loss" in logs:
            self._epoch_losses.append(float(logs["loss"]))
            self.diagnosis, hint = diagnose_loss_curve(self._epoch_losses)
            if hint and self.verbose and self.diagnosis not in self._warned:
                self._warned.add(self.diagnosis)
                print(f"TrainingDiagnostics (epoch {epoch + 1}): {hint}")
        if (epoch + 1) % self.every_n_epochs == 0 and np.isfinite(logs.get("loss", 0.0)):
            logs.update(self.measure())
