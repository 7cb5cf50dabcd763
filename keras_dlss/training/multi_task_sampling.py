"""Task sampling for multi-task training: which task's batch each step trains on.

With tasks of very different sizes, drawing each step's task *proportionally*
to its data size lets the large task dominate, *uniform* draws over-train the
small ones; the temperature rule `p_t ∝ n_t^(1/T)` interpolates (T = 1:
proportional, T -> inf: uniform; Arivazhagan et al. 2019 use T = 5 for
multilingual NMT). `MultiTaskDataset` draws the tasks with a seeded NumPy
generator, so a run is reproducible, and hands `MultiTaskModel` per-task
batches `{task: (x, y)}` in which only the drawn task has rows (see
`training/multi_task.py` for why sampling lives in the input pipeline).

References:
    - Ruder, "An Overview of Multi-Task Learning in Deep Neural Networks", 2017.
    - Arivazhagan et al., "Massively Multilingual Neural Machine Translation in
      the Wild", 2019 (temperature-based sampling).
"""

import keras
import numpy as np

from keras_dlss import _validation as v

SAMPLING = ("proportional", "uniform", "temperature")


def task_probabilities(sizes, sampling="proportional", temperature=None):
    """Probability of drawing each task: `{task: p}` from `{task: size}`.

    Args:
        sizes: dict `{task: n_t}`, positive sizes (batches or examples).
        sampling: "proportional" (`p ∝ n`), "uniform", or "temperature"
            (`p ∝ n^(1/temperature)`).
        temperature: float > 0, only with "temperature".

    Returns:
        dict `{task: probability}` summing to 1.

    Example:

    ```python
    p = keras_dlss.training.task_probabilities({"a": 900, "b": 100}, "temperature", 2.0)
    # {'a': 0.75, 'b': 0.25}: sqrt(900) : sqrt(100)
    ```
    """
    if not isinstance(sizes, dict) or not sizes:
        raise ValueError(f"Argument `sizes` must be a non-empty dict. Received: sizes={sizes!r}")
    for task, n in sizes.items():
        v.check_range(f"sizes['{task}']", n, 0.0, low_inclusive=False)
    v.check_one_of("sampling", sampling, SAMPLING)
    if sampling == "temperature":
        v.check_range("temperature", temperature, 0.0, low_inclusive=False)
    n = np.array([float(s) for s in sizes.values()])
    power = {"proportional": 1.0, "uniform": 0.0}.get(sampling)
    weights = n ** (1.0 / float(temperature) if power is None else power)
    return dict(zip(sizes, (weights / weights.sum()).tolist()))


class _ArrayBatches:
    """Shuffled fixed-size batches of `(x, y[, sample_weight])` arrays (nests allowed)."""

    def __init__(self, task, data, batch_size, seed):
        if not isinstance(data, tuple) or len(data) not in (2, 3):
            raise ValueError(
                f"Argument `sources` must map each task to `(x, y)` arrays or a PyDataset. "
                f"Received: sources[{task!r}] of type {type(data).__name__}"
            )
        self.data = tuple(keras.tree.map_structure(np.asarray, part) for part in data)
        self.rows = len(keras.tree.flatten(self.data[0])[0])
        self.batch_size, self.rng = batch_size, np.random.default_rng(seed)
        self.on_epoch_end()

    def on_epoch_end(self):
        self.order = self.rng.permutation(self.rows)

    def __len__(self):
        return -(-self.rows // self.batch_size)

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size : (i + 1) * self.batch_size]
        return keras.tree.map_structure(lambda a: a[idx], self.data)


class MultiTaskDataset(keras.utils.PyDataset):
    """Per-task batches `{task: (x, y)}` for `MultiTaskModel.fit`, one task drawn per step.

    Each step draws a task by the sampling rule and yields that task's next
    batch; every other task gets a 0-row batch of the same structure (no loss,
    no gradient, no metric update in `MultiTaskModel`). With `sampling=None`
    every step yields the next batch of *every* task (their weighted losses
    are summed). Task sizes for the rule are the sources' batch counts. Each
    source cycles on its own; a source that wrapped around is reshuffled (its
    `on_epoch_end`) at the end of the epoch.

    On TensorFlow, Keras fixes the input signature from the first two batches:
    give each task batches of a fixed width, or a source whose first two
    batches differ in width (as `parser_task.LengthBuckets` arranges).

    Args:
        sources: dict `{task: (x, y)}` of arrays (batched here with
            `batch_size`) or `{task: PyDataset}` (any object with `__len__` and
            `__getitem__` returning `(x, y)` or `(x, y, sample_weight)`).
        batch_size: int. Rows per batch of array sources.
        sampling: "proportional", "uniform", "temperature", or None (every task
            every step). Defaults to "proportional".
        temperature: float > 0. `T` of `p ∝ n^(1/T)` with "temperature".
        steps_per_epoch: int. Defaults to the sum of the sources' batch counts
            (sampling) or the largest count (`sampling=None`).
        seed: int. Seeds the task draws and the array sources' shuffling.
        **kwargs: passed to `keras.utils.PyDataset` (`workers`, ...).

    Example:

    ```python
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4)).astype("float32")
    data = keras_dlss.training.MultiTaskDataset(
        {"value": (x, x[:, :1]), "kind": (x[:16], (x[:16, 1] > 0).astype("int32"))},
        batch_size=8, sampling="temperature", temperature=2.0, seed=0)
    print(len(data), data.probabilities)   # 8 steps; p ∝ sqrt(6) : sqrt(2)
    batch = data[0]                         # {"value": (x, y), "kind": (x, y)}, one with 0 rows
    ```
    """

    def __init__(
        self,
        sources,
        batch_size=None,
        sampling="proportional",
        temperature=None,
        steps_per_epoch=None,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(sources, dict) or not sources:
            raise ValueError(
                f"Argument `sources` must be a non-empty dict {{task: data}}. "
                f"Received: sources={type(sources).__name__}"
            )
        if sampling is not None:
            v.check_one_of("sampling", sampling, SAMPLING)
        self.tasks = list(sources)
        self.sources = {}
        for k, (task, source) in enumerate(sources.items()):
            if (
                hasattr(source, "__getitem__")
                and hasattr(source, "__len__")
                and not isinstance(source, tuple)
            ):
                self.sources[task] = source
            else:
                v.check_positive_int("batch_size", batch_size)
                self.sources[task] = _ArrayBatches(task, source, batch_size, [seed, k])
            if len(self.sources[task]) == 0:
                raise ValueError(f"Argument `sources` has no batch for task {task!r}. Received: 0")
        sizes = {t: len(s) for t, s in self.sources.items()}
        self.sampling, self.temperature, self.seed = sampling, temperature, seed
        self.probabilities = (
            None if sampling is None else task_probabilities(sizes, sampling, temperature)
        )
        default = max(sizes.values()) if sampling is None else sum(sizes.values())
        self.steps_per_epoch = v.check_positive_int("steps_per_epoch", steps_per_epoch or default)
        self._offset = dict.fromkeys(self.tasks, 0)
        self._epoch = 0
        self._plan_epoch()

    @staticmethod
    def _zero_rows(batch):
        return keras.tree.map_structure(lambda a: np.asarray(a)[:0], tuple(batch))

    def _plan_epoch(self):
        """Draws this epoch's task of every step: `schedule[i]` and its batch index."""
        if self.sampling is None:
            self.schedule = None
            return
        rng = np.random.default_rng([self.seed, self._epoch])
        p = [self.probabilities[t] for t in self.tasks]
        self.schedule = rng.choice(len(self.tasks), size=self.steps_per_epoch, p=p)
        drawn = np.eye(len(self.tasks), dtype="int64")[self.schedule]
        self._before = np.cumsum(drawn, axis=0) - drawn  # [steps, tasks]

    def task_counts(self):
        """`{task: steps}` drawn for the current epoch."""
        if self.schedule is None:
            return dict.fromkeys(self.tasks, self.steps_per_epoch)
        counts = np.bincount(self.schedule, minlength=len(self.tasks))
        return dict(zip(self.tasks, counts.tolist()))

    def _batch(self, task, j):
        source = self.sources[task]
        return tuple(source[(self._offset[task] + j) % len(source)])

    def __len__(self):
        return self.steps_per_epoch

    def __getitem__(self, i):
        if self.schedule is None:
            return {t: self._batch(t, i) for t in self.tasks}
        drawn = int(self.schedule[i])
        batches = {}
        for k, task in enumerate(self.tasks):
            j = int(self._before[i, k])  # the task's batches drawn before step i
            if k == drawn:
                batches[task] = self._batch(task, j)
            else:
                # 0 rows of a batch of its own, chosen so that each task's arrays differ
                # between steps 0 and 1 whenever its batches 0 and 1 differ in width:
                # Keras's TensorFlow adapter fixes the input signature from those two.
                batches[task] = self._zero_rows(self._batch(task, j + 1 - i % 2))
        return batches

    def on_epoch_end(self):
        for task, count in self.task_counts().items():
            source = self.sources[task]
            used = self._offset[task] + count
            if used >= len(source) and hasattr(source, "on_epoch_end"):
                source.on_epoch_end()
                used = 0
            self._offset[task] = used % len(source)
        self._epoch += 1
        self._plan_epoch()
