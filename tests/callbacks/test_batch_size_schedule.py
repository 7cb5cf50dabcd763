import keras
import numpy as np
import pytest

from keras_dlss.callbacks import BatchSizeScheduler, ScheduledBatchDataset

RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 3)).astype("float32")
Y = X.sum(1, keepdims=True)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_batch_size_grows_at_milestones(jit_compile):
    data = ScheduledBatchDataset(X, Y, batch_size=8, seed=1)
    scheduler = BatchSizeScheduler(data, milestones={2: 16, 4: 64})
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
    hist = model.fit(data, epochs=6, callbacks=[scheduler], verbose=0)
    assert scheduler.history == [8, 8, 16, 16, 64, 64]
    assert scheduler.updates == 8 + 8 + 4 + 4 + 1 + 1
    assert hist.history["loss"][-1] < hist.history["loss"][0]


def test_dataset_covers_every_example_once_per_epoch():
    data = ScheduledBatchDataset(X, Y, batch_size=10)
    assert len(data) == 7
    seen = np.concatenate([data[i][0] for i in range(len(data))])
    np.testing.assert_array_equal(np.sort(seen[:, 0]), np.sort(X[:, 0]))
    first = data[0][0].copy()
    data.on_epoch_end()
    assert not np.array_equal(first, data[0][0])  # reshuffled
    data.set_batch_size(64)
    assert len(data) == 1 and data[0][0].shape == (64, 3)


def test_schedule_function():
    data = ScheduledBatchDataset(X, Y, batch_size=4)
    scheduler = BatchSizeScheduler(data, schedule=lambda epoch, size: 4 * 2**epoch)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, epochs=3, callbacks=[scheduler], verbose=0)
    assert scheduler.history == [4, 8, 16] and scheduler.updates == 16 + 8 + 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="`batch_size`"):
        ScheduledBatchDataset(X, Y, batch_size=0)
    data = ScheduledBatchDataset(X, Y, batch_size=4)
    with pytest.raises(ValueError, match="`milestones`"):
        BatchSizeScheduler(data)
    with pytest.raises(ValueError, match="`dataset`"):
        BatchSizeScheduler((X, Y), milestones={1: 8})
