import keras
import numpy as np
import pytest

from keras_dlss.callbacks import ScheduledSampling
from keras_dlss.schedules import LinearDecay


class Recorder(keras.Model):
    """Reads its teacher-forcing probability inside the compiled train step."""

    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(1)
        self.teacher_forcing_probability = keras.Variable(1.0, trainable=False)
        self.seen = keras.Variable(np.zeros(16, "float32"), trainable=False)
        self.count = keras.Variable(0, trainable=False, dtype="int32")

    def call(self, x, training=False):
        if training:
            self.seen.assign(
                keras.ops.where(
                    keras.ops.arange(16) == self.count, self.teacher_forcing_probability, self.seen
                )
            )
            self.count.assign_add(1)
        return self.dense(x) * self.teacher_forcing_probability


def _fit(update, epochs=2):
    model = Recorder()
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    x, y = np.ones((8, 2), "float32"), np.ones((8, 1), "float32")
    callback = ScheduledSampling(LinearDecay(1.0, 0.1), update=update)
    history = model.fit(x, y, batch_size=2, epochs=epochs, callbacks=[callback], verbose=0)
    return np.asarray(model.seen)[: int(model.count)], history


def test_batch_updates_reach_the_compiled_step():
    seen, history = _fit("batch")
    np.testing.assert_allclose(seen, 1.0 - 0.1 * np.arange(8), rtol=1e-6)
    np.testing.assert_allclose(
        history.history["teacher_forcing_probability"], [0.7, 0.3], rtol=1e-5
    )


def test_epoch_updates():
    seen, history = _fit("epoch", epochs=3)
    np.testing.assert_allclose(seen, np.repeat([1.0, 0.9, 0.8], 4), rtol=1e-6)
    np.testing.assert_allclose(
        history.history["teacher_forcing_probability"], [1.0, 0.9, 0.8], rtol=1e-6
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="update"):
        ScheduledSampling(LinearDecay(), update="step")
    with pytest.raises(ValueError, match="schedule"):
        ScheduledSampling(0.5)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="variable"):
        model.fit(
            np.ones((2, 2)),
            np.ones((2, 1)),
            callbacks=[ScheduledSampling(LinearDecay())],
            verbose=0,
        )
