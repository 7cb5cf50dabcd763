"""Multi-task learning: one shared encoder, named task heads, weighted per-task losses.

Hard parameter sharing (Caruana 1997): every task's head reads the same
encoder, so each task's gradient shapes the shared representation that the
others use. The training objective is `sum_t w_t * L_t` over the tasks present
in the step's batch; a task whose weight is 0 contributes nothing, and its
head is left out of the update entirely (weight decay or momentum cannot move
it either).

Input format. A step's data is either

* `(x, {task: y_t, ...})`: one **joint batch**, the encoder runs once and every
  head listed in the targets is trained on it (tagging and parsing the same
  sentences, Søgaard & Goldberg 2016); or
* `{task: (x_t, y_t), ...}`: **per-task batches**, each task with its own
  inputs. A task whose batch has 0 rows contributes no loss, no gradient and no
  metric update (its head's gradient is zero; with a momentum optimizer such
  as Adam the head still moves by its momentum from earlier steps, as it does
  when one optimizer updates all parameters with zero gradients).

Task sampling (one task per step, drawn "proportional" to its data size,
"uniform", or with a temperature `p_t ∝ n_t^(1/T)`) lives in the input
pipeline, in `MultiTaskDataset`, not in the step: drawing the task inside a
compiled step would need every task's batch loaded and (for a branch-free
XLA program) run through the network on every step, only to discard all but
one; drawing it in the pipeline loads and computes only the drawn task's batch
(the drawn task gets its batch, the others 0-row arrays), which is how MT-DNN
and jiant sample tasks. The model's step is the same in both modes: the sum of
the weighted losses of the tasks that have rows.

References:
    - Caruana, "Multitask Learning", Machine Learning 28, 1997.
    - Ruder, "An Overview of Multi-Task Learning in Deep Neural Networks",
      2017 (https://arxiv.org/abs/1706.05098).
    - Søgaard & Goldberg, "Deep multi-task learning with low level tasks
      supervised at lower layers", ACL 2016.
"""

import keras
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.models.custom_step import CustomStepModel


def _serialize(obj):
    return obj if isinstance(obj, str) else keras.saving.serialize_keras_object(obj)


def _deserialize(obj, custom_objects=None):
    if isinstance(obj, str):
        return obj
    return keras.saving.deserialize_keras_object(obj, custom_objects=custom_objects)


def _rows(x):
    return ops.shape(keras.tree.flatten(x)[0])[0]


@keras.saving.register_keras_serializable(package="keras_dlss")
class MultiTaskModel(CustomStepModel):
    """A shared encoder with named task heads, trained on a weighted sum of per-task losses.

    `compile` it with an optimizer only (losses, weights and metrics belong to
    the tasks and are given here) and `fit` it on joint batches
    `(x, {task: y})` or per-task batches `{task: (x, y)}` (see the module
    docstring; `MultiTaskDataset` makes per-task batches with task sampling).
    The History holds `loss` (the weighted sum), `<task>_loss` (each task's
    unweighted loss, averaged over the steps where the task had a batch) and
    `<task>_<metric>`. `model(x)` returns `{task: head output}`;
    `task_model(task)` is a plain functional model (encoder + that head) for
    inference and export.

    Args:
        encoder: a functional `keras.Model` (built from `keras.Input`s); its
            output, whatever its structure, is what every head receives.
        heads: dict `{task name: keras layer or model}` applied to the
            encoder's output.
        losses: dict `{task name: loss}`, one per head: a Keras loss
            identifier or object, or a callable `loss(y_true, y_pred)`
            returning a scalar (register it as serializable to save the model).
        loss_weights: optional dict `{task name: float >= 0}`, one per head.
            Defaults to 1 for every task.
        metrics: optional dict `{task name: [metric, ...]}`; each metric is
            reported as `<task>_<metric name>`.
        **kwargs: passed to `keras.Model` (e.g. `name`).

    Returns:
        A `keras.Model` whose call returns `{task: head(encoder(x))}`.

    Example:

    ```python
    inputs = keras.Input((4,))
    encoder = keras.Model(inputs, keras.layers.Dense(8, activation="relu")(inputs))
    model = keras_dlss.training.MultiTaskModel(
        encoder,
        heads={"value": keras.layers.Dense(1), "kind": keras.layers.Dense(3)},
        losses={"value": "mse", "kind": keras.losses.SparseCategoricalCrossentropy(True)},
        loss_weights={"value": 1.0, "kind": 0.5},
        metrics={"kind": ["sparse_categorical_accuracy"]},
    )
    model.compile(optimizer="adam", jit_compile=True)
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    y = {"value": x[:, :1], "kind": (x[:, 1] > 0).astype("int32")}
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    print(sorted(history.history))  # kind_loss, kind_sparse_categorical_accuracy, loss, value_loss
    value_model = model.task_model("value")  # encoder + the "value" head, for export
    ```

    References:
        Caruana, "Multitask Learning", 1997; Ruder, "An Overview of Multi-Task
        Learning in Deep Neural Networks", 2017.
    """

    def __init__(self, encoder, heads, losses, loss_weights=None, metrics=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.Model) or not hasattr(encoder, "inputs"):
            raise ValueError(
                "Argument `encoder` must be a functional keras.Model (built from keras.Input). "
                f"Received: encoder={encoder!r}"
            )
        if not isinstance(heads, dict) or not heads:
            raise ValueError(
                f"Argument `heads` must be a non-empty dict {{task: layer}}. Received: heads={heads!r}"
            )
        for task, head in heads.items():
            if not isinstance(task, str) or not isinstance(head, keras.layers.Layer):
                raise ValueError(
                    "Argument `heads` must map task names (str) to keras layers. "
                    f"Received: heads[{task!r}]={head!r}"
                )
        self.tasks = tuple(heads)
        self.encoder = encoder
        self.heads = dict(heads)
        self.task_losses = self._per_task("losses", losses, required=True)
        weights = self._per_task("loss_weights", loss_weights) or {t: 1.0 for t in self.tasks}
        for task, weight in weights.items():
            v.check_range(f"loss_weights['{task}']", weight, 0.0)
        self.loss_weights = {t: float(w) for t, w in weights.items()}
        self.task_metrics = self._per_task("metrics", metrics, partial=True) or {}
        self._loss_fns = {t: self._resolve_loss(t, loss) for t, loss in self.task_losses.items()}
        self._loss_trackers = {t: keras.metrics.Mean(name=f"{t}_loss") for t in self.tasks}
        self._metric_objects = {
            t: [self._resolve_metric(t, m) for m in ms] for t, ms in self.task_metrics.items()
        }
        # Build every head on the encoder's symbolic output, so the model has all its
        # variables before `fit` (JAX's step state) and before weights are loaded.
        features = encoder(encoder.input)
        for head in self.heads.values():
            head(features)
        self.built = True

    # ---------------------------------------------------------------- configuration

    def _per_task(self, name, value, required=False, partial=False):
        if value is None and not required:
            return None
        if not isinstance(value, dict):
            raise ValueError(
                f"Argument `{name}` must be a dict keyed by task name {list(self.tasks)}. "
                f"Received: {name}={value!r}"
            )
        unknown = sorted(set(value) - set(self.tasks))
        missing = [] if partial else sorted(set(self.tasks) - set(value))
        if unknown or missing:
            raise ValueError(
                f"Argument `{name}` must have one entry per task {list(self.tasks)}: unknown "
                f"{unknown}, missing {missing}. Received: {name} keys={sorted(value)}"
            )
        return dict(value)

    @staticmethod
    def _resolve_loss(task, loss):
        if isinstance(loss, (str, dict)):
            return keras.losses.get(loss)
        if not callable(loss):
            raise ValueError(
                f"Argument `losses` must hold a loss or callable per task. "
                f"Received: losses[{task!r}]={loss!r}"
            )
        return loss

    @staticmethod
    def _resolve_metric(task, metric):
        if isinstance(metric, (str, dict)):
            metric = keras.metrics.get(metric)
        if isinstance(metric, keras.metrics.Metric):
            return type(metric).from_config(
                {**metric.get_config(), "name": f"{task}_{metric.name}"}
            )
        if callable(metric):
            name = getattr(metric, "__name__", "metric")
            return keras.metrics.MeanMetricWrapper(metric, name=f"{task}_{name}")
        raise ValueError(
            f"Argument `metrics` must hold Keras metrics per task. "
            f"Received: metrics[{task!r}] item {metric!r}"
        )

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "heads": {t: keras.saving.serialize_keras_object(h) for t, h in self.heads.items()},
            "losses": {t: _serialize(loss) for t, loss in self.task_losses.items()},
            "loss_weights": dict(self.loss_weights),
            "metrics": {t: [_serialize(m) for m in ms] for t, ms in self.task_metrics.items()},
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["encoder"] = _deserialize(config["encoder"], custom_objects)
        for key in ("heads", "losses"):
            config[key] = {t: _deserialize(o, custom_objects) for t, o in config[key].items()}
        config["metrics"] = {
            t: [_deserialize(m, custom_objects) for m in ms] for t, ms in config["metrics"].items()
        }
        return cls(**config)

    # ---------------------------------------------------------------- inference

    def call(self, inputs, training=None):
        features = self.encoder(inputs, training=training)
        return {t: head(features, training=training) for t, head in self.heads.items()}

    def task_model(self, task):
        """A functional `keras.Model`: the shared encoder and `task`'s head (weights shared).

        Args:
            task: str. One of the model's task names.

        Returns:
            A `keras.Model` from the encoder's inputs to the head's output, e.g.
            for `predict` or `model.export(path)` (SavedModel).
        """
        self._check_task("task", task)
        inputs = self.encoder.input
        outputs = self.heads[task](self.encoder(inputs))
        return keras.Model(inputs, outputs, name=f"{self.name}_{task}")

    def _check_task(self, name, task):
        if task not in self.heads:
            raise ValueError(
                f"Argument `{name}` must be one of the tasks {list(self.tasks)}. "
                f"Received: {name}={task!r}"
            )

    # ---------------------------------------------------------------- training

    def _task_batches(self, data):
        """`[(tasks, x, {task: y}, {task: sample_weight})]`: one entry per encoder pass."""
        if isinstance(data, (tuple, list)) and all(d is None for d in data[1:]):
            data = data[0]  # `train_on_batch({task: (x, y)})` arrives as `({...}, None, None)`
        if isinstance(data, dict):
            groups = []
            for task, batch in data.items():
                self._check_task("data", task)
                x, y, sw = keras.utils.unpack_x_y_sample_weight(tuple(batch))
                groups.append(((task,), x, {task: y}, {task: sw}))
            return groups
        x, y, sw = keras.utils.unpack_x_y_sample_weight(data)
        if not isinstance(y, dict):
            raise ValueError(
                "A multi-task batch must be `(x, {task: y})` or `{task: (x, y)}`. "
                f"Received: y of type {type(y).__name__}"
            )
        for task in y:
            self._check_task("y", task)
        sw = sw if isinstance(sw, dict) else {t: sw for t in y}
        return [(tuple(y), x, y, sw)]

    def _task_loss(self, task, y, y_pred, sample_weight):
        fn = self._loss_fns[task]
        if isinstance(fn, keras.losses.Loss):
            loss = fn(y, y_pred, sample_weight=sample_weight)
        else:
            loss = fn(y, y_pred)
        loss = ops.mean(loss)
        return ops.cast(loss, "float32")

    def _weighted_losses(self, groups, training):
        """`(total, {task: (loss, rows)}, {task: y_pred})` of one forward pass."""
        total, per_task, preds = 0.0, {}, {}
        for tasks, x, y, sw in groups:
            rows = _rows(x)
            features = self.encoder(x, training=training)
            for task in tasks:
                preds[task] = self.heads[task](features, training=training)
                loss = self._task_loss(task, y[task], preds[task], sw.get(task))
                # A 0-row batch: the task was not drawn this step (its mean loss is 0/0).
                loss = ops.where(ops.greater(rows, 0), loss, ops.zeros_like(loss))
                per_task[task] = (loss, rows)
                total = total + self.loss_weights[task] * loss
        if self.losses:
            total = total + ops.cast(ops.sum(ops.stack(self.losses)), "float32")
        return total, per_task, preds

    def _updated_variables(self):
        frozen = {
            id(w)
            for t, head in self.heads.items()
            if self.loss_weights[t] == 0.0
            for w in head.trainable_variables
        }
        return [w for w in self.trainable_variables if id(w) not in frozen]

    def custom_train_step(self, data):
        groups = self._task_batches(data)

        def loss_fn():
            total, per_task, preds = self._weighted_losses(groups, training=True)
            return self.scale_loss_for_distribution(total), (total, per_task, preds)

        _, (total, per_task, preds), grads = self.compute_gradients(
            loss_fn, self._updated_variables
        )
        self.optimizer.apply(grads, self._updated_variables())
        return self._logs(total, groups, per_task, preds)

    def custom_test_step(self, data):
        groups = self._task_batches(data)
        total, per_task, preds = self._weighted_losses(groups, training=False)
        return self._logs(total, groups, per_task, preds)

    def _logs(self, total, groups, per_task, preds):
        for task, (loss, rows) in per_task.items():
            present = ops.cast(ops.greater(rows, 0), "float32")
            self._loss_trackers[task].update_state(loss, sample_weight=present)
        for tasks, _, y, sw in groups:
            for task in tasks:
                for metric in self._metric_objects.get(task, []):
                    metric.update_state(y[task], preds[task], sample_weight=sw.get(task))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(total)
        return self.get_metrics_result()
