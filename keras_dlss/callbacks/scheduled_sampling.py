"""`ScheduledSampling` callback: decays the teacher-forcing probability during `fit`.

Bengio, Vinyals, Jaitly & Shazeer 2015, "Scheduled Sampling for Sequence
Prediction with Recurrent Neural Networks" (https://arxiv.org/abs/1506.03099).
The model owns a non-trainable scalar variable (by default the attribute
`teacher_forcing_probability` of the model or of one of its layers) that its
compiled train step reads; this callback assigns `schedule(i)` to it before
every batch or epoch, so the compiled graph is never retraced.
"""

import keras

from keras_dlss._validation import check_one_of

DEFAULT_ATTRIBUTE = "teacher_forcing_probability"


def _find_variable(model, name):
    candidates = [model, *getattr(model, "_flatten_layers", lambda: [])()]
    for obj in candidates:
        value = getattr(obj, name, None)
        if value is not None and hasattr(value, "assign"):
            return value
    raise ValueError(
        f"Argument `variable` names an attribute that no layer of the model holds as a "
        f"variable. Received: variable={name!r} on model {model.name!r}"
    )


class ScheduledSampling(keras.callbacks.Callback):
    """Sets the model's teacher-forcing probability from a schedule during `fit`.

    Args:
        schedule: a callable `step -> probability`, e.g.
            `keras_dlss.schedules.InverseSigmoidDecay(k)`.
        update: `"batch"` (i counts training batches across epochs) or
            `"epoch"` (i is the epoch index). Defaults to `"batch"`.
        variable: the variable to assign, or the attribute name under which
            the model (or one of its layers) holds it. Defaults to
            `"teacher_forcing_probability"`.
        initial_step: int. Value of i at the first update (to resume
            training). Defaults to `0`.

    The current value is written to the logs (and so to `History`) under the
    attribute name at the end of every epoch.

    Example:

    ```python
    from keras_dlss.callbacks import ScheduledSampling
    from keras_dlss.schedules import InverseSigmoidDecay

    callback = ScheduledSampling(InverseSigmoidDecay(k=50), update="batch")
    # model.fit(x, y, callbacks=[callback])  # model.teacher_forcing_probability decays
    ```

    References:
        - [Bengio et al., 2015](https://arxiv.org/abs/1506.03099)
    """

    def __init__(self, schedule, update="batch", variable=DEFAULT_ATTRIBUTE, initial_step=0):
        super().__init__()
        if not callable(schedule):
            raise ValueError(
                f"Argument `schedule` must be callable (step -> probability). Received: schedule={schedule!r}"
            )
        self.schedule = schedule
        self.update = check_one_of("update", update, ("batch", "epoch"))
        self.variable = variable
        self.step = int(initial_step)
        self._variable = None
        self.log_name = variable if isinstance(variable, str) else DEFAULT_ATTRIBUTE

    def _target(self):
        if self._variable is None:
            if isinstance(self.variable, str):
                self._variable = _find_variable(self.model, self.variable)
            else:
                self._variable = self.variable
        return self._variable

    def _assign(self, step):
        value = float(keras.ops.convert_to_numpy(self.schedule(step)))
        self._target().assign(value)
        return value

    def on_train_begin(self, logs=None):
        self._variable = None
        self._assign(self.step)

    def on_train_batch_begin(self, batch, logs=None):
        if self.update == "batch":
            self._assign(self.step)

    def on_train_batch_end(self, batch, logs=None):
        if self.update == "batch":
            self.step += 1

    def on_epoch_begin(self, epoch, logs=None):
        if self.update == "epoch":
            self.step = epoch
            self._assign(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.log_name] = float(keras.ops.convert_to_numpy(self._target()))
