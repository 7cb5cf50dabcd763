"""Puts the optimizer's current learning rate into the training logs."""

import keras
from keras import ops


class LearningRateLogger(keras.callbacks.Callback):
    """Adds `learning_rate` (the value at the end of each epoch) to the logs.

    Keras records metrics only; an adapted learning rate (hypergradient
    optimizers, `ReduceLROnPlateau`) is otherwise invisible in `History`. Scalars
    put into `logs` also reach `keras.callbacks.TensorBoard` when this callback is
    listed before it.

    Args:
        key: str. Log entry name. Defaults to `"learning_rate"`.

    Example:

    ```python
    history = model.fit(x, y, epochs=3, callbacks=[LearningRateLogger()])
    history.history["learning_rate"]
    ```
    """

    def __init__(self, key="learning_rate"):
        super().__init__()
        self.key = key

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.key] = float(ops.convert_to_numpy(self.model.optimizer.learning_rate))
