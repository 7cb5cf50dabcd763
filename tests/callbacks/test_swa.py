import keras
import numpy as np
import pytest

from keras_dlss.callbacks import StochasticWeightAveraging, update_batch_norm


class _Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.snapshots = []

    def on_epoch_end(self, epoch, logs=None):
        self.snapshots.append(
            [v.numpy().astype(np.float64) for v in self.model.trainable_variables]
        )


def test_swa_averages_exactly():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, "relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    recorder = _Recorder()
    # Recorder runs first so it sees the epoch's final weights, as SWA does.
    swa = StochasticWeightAveraging(start_epoch=2, frequency=2)
    model.fit(x, y, epochs=7, batch_size=8, verbose=0, callbacks=[recorder, swa])
    picked = [recorder.snapshots[e] for e in (2, 4, 6)]
    assert swa.num_averaged == 3
    for i, v in enumerate(model.trainable_variables):
        expected = np.mean([snap[i] for snap in picked], axis=0)
        np.testing.assert_allclose(v.numpy(), expected, rtol=1e-6, atol=1e-7)
        assert not np.allclose(expected, recorder.snapshots[-1][i])


def test_update_batch_norm_matches_data_statistics():
    x = np.random.default_rng(1).normal(2.0, 3.0, size=(64, 2)).astype("float32")
    model = keras.Sequential([keras.Input((2,)), keras.layers.BatchNormalization()])
    assert update_batch_norm(model, x, batch_size=16) == 1
    bn = model.layers[0]
    np.testing.assert_allclose(bn.moving_mean.numpy(), x.mean(0), rtol=1e-4)
    batch_vars = np.mean([x[i : i + 16].var(0) for i in range(0, 64, 16)], axis=0)
    np.testing.assert_allclose(bn.moving_variance.numpy(), batch_vars, rtol=1e-3)
    assert bn.momentum == 0.99


def test_swa_bad_arguments():
    with pytest.raises(ValueError, match="`start_epoch`"):
        StochasticWeightAveraging(start_epoch=-1)
    with pytest.raises(ValueError, match="`frequency`"):
        StochasticWeightAveraging(start_epoch=0, frequency=0)
