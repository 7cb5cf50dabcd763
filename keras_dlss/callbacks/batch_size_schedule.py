"""Batch-size schedules: grow the batch instead of decaying the learning rate.

Smith et al. (2017) show that multiplying the batch size by `k` at the epochs
where a step schedule would divide the learning rate by `k` gives the same
test accuracy with fewer parameter updates. Keras fixes the batch size when
`fit` starts, so the schedule needs two pieces:

* `ScheduledBatchDataset`, a `keras.utils.PyDataset` over in-memory arrays
  whose `batch_size` can change between epochs (it reshuffles every epoch);
* `BatchSizeScheduler`, a callback that sets that batch size at the start of
  each epoch from milestones or a function.

The epoch after a change has fewer (or more) steps than Keras counted when
`fit` began; Keras stops the epoch when the dataset ends, and the callback
silences the "ran out of data" warning that this triggers.

References:
    Smith, Kindermans, Ying & Le, 2017. "Don't Decay the Learning Rate,
    Increase the Batch Size". https://arxiv.org/abs/1711.00489
"""

import math
import warnings

import keras
import numpy as np

from keras_dlss._validation import check_positive_int

_RAN_OUT = ".*ran out of data.*"


class ScheduledBatchDataset(keras.utils.PyDataset):
    """In-memory `(x, y[, sample_weight])` batches with a changeable batch size.

    Args:
        x: array or list of arrays (same first dimension).
        y: array, list of arrays, or None.
        batch_size: int >= 1. Initial batch size.
        shuffle: bool. Reshuffle the examples at every epoch. Defaults to `True`.
        seed: int. Shuffling seed. Defaults to `0`.
        sample_weight: optional array.
        **kwargs: passed to `keras.utils.PyDataset` (`workers`, ...).

    Example:

    ```python
    data = keras_dlss.callbacks.ScheduledBatchDataset(x, y, batch_size=32)
    scheduler = keras_dlss.callbacks.BatchSizeScheduler(data, milestones={10: 160, 20: 800})
    model.fit(data, epochs=30, callbacks=[scheduler])
    ```
    """

    def __init__(
        self, x, y=None, batch_size=32, shuffle=True, seed=0, sample_weight=None, **kwargs
    ):
        super().__init__(**kwargs)
        self._xs = list(x) if isinstance(x, (list, tuple)) else [x]
        self._x_is_list = isinstance(x, (list, tuple))
        self.y, self.sample_weight = y, sample_weight
        self.n = len(self._xs[0])
        if self.n == 0:
            raise ValueError(
                "Argument `x` must have a non-empty batch. Received: x with 0 examples"
            )
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.shuffle = bool(shuffle)
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def set_batch_size(self, batch_size):
        self.batch_size = check_positive_int("batch_size", batch_size)

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, index):
        if index >= len(self):
            raise IndexError(f"Batch {index} out of range for {len(self)} batches")
        idx = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        xs = [a[idx] for a in self._xs]
        batch = (xs if self._x_is_list else xs[0],)
        if self.y is not None:
            batch += (self.y[idx],)
            if self.sample_weight is not None:
                batch += (self.sample_weight[idx],)
        return batch

    def on_epoch_end(self):
        if self.shuffle:
            self._order = self._rng.permutation(self.n)


class BatchSizeScheduler(keras.callbacks.Callback):
    """Sets a `ScheduledBatchDataset`'s batch size at the start of each epoch.

    Args:
        dataset: the `ScheduledBatchDataset` given to `fit`.
        milestones: dict `{epoch: batch_size}` (0-based epochs); the batch size
            of the latest milestone <= epoch applies.
        schedule: alternatively a function `(epoch, batch_size) -> batch_size`.
        verbose: int. Print changes when > 0.

    Attributes:
        updates: number of parameter updates (batches) run so far.
        history: list of the batch size used at each epoch.
    """

    def __init__(self, dataset, milestones=None, schedule=None, verbose=0):
        super().__init__()
        if not isinstance(dataset, ScheduledBatchDataset):
            raise ValueError(
                f"Argument `dataset` must be a ScheduledBatchDataset. Received: dataset={dataset!r}"
            )
        if (milestones is None) == (schedule is None):
            raise ValueError(
                "Pass exactly one of `milestones` and `schedule`. "
                f"Received: milestones={milestones!r}, schedule={schedule!r}"
            )
        for epoch, size in (milestones or {}).items():
            check_positive_int("milestones epoch", epoch, minimum=0)
            check_positive_int("milestones batch_size", size)
        self.dataset = dataset
        self.milestones = dict(milestones or {})
        self.schedule = schedule
        self.verbose = verbose
        self._initial = dataset.batch_size
        self.updates = 0
        self.history = []

    def _size_for(self, epoch):
        if self.schedule is not None:
            return self.schedule(epoch, self.dataset.batch_size)
        size = self._initial
        for milestone in sorted(self.milestones):
            if milestone <= epoch:
                size = self.milestones[milestone]
        return size

    def on_train_begin(self, logs=None):
        self._filter = warnings.catch_warnings()
        self._filter.__enter__()
        warnings.filterwarnings("ignore", message=_RAN_OUT)

    def on_train_end(self, logs=None):
        self._filter.__exit__(None, None, None)

    def on_epoch_begin(self, epoch, logs=None):
        size = self._size_for(epoch)
        if size != self.dataset.batch_size and self.verbose:
            print(f"\nEpoch {epoch + 1}: batch size {self.dataset.batch_size} -> {size}")
        self.dataset.set_batch_size(size)
        self.history.append(size)

    def on_train_batch_end(self, batch, logs=None):
        self.updates += 1
