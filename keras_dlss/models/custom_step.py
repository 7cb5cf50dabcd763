"""Models with their own training step, written once for TensorFlow, JAX and PyTorch.

Keras calls `train_step(data)` on TensorFlow and PyTorch, where variables are
assigned in place, and `train_step(state, data)` on JAX, where the step is a
pure function of every variable's value. A custom step written for one
convention fails on the others (`Seq2SeqTranslator.train_step() takes 2
positional arguments but 3 were given` on JAX). `CustomStep` owns both
conventions; a model writes its step once, *statefully*, from two primitives:

* `loss, aux, grads = self.compute_gradients(loss_fn, variables)`: one forward
  pass of `loss_fn()` with the model's current variables and the gradient of
  its loss; `loss` may be a tuple of losses, each with its own variable list
  (a GAN's two players from one forward pass), and gradients may be taken
  w.r.t. input tensors too (K-FAC's pre-activations);
* `optimizer.apply(grads, variables)`: any optimizer, over any subset.

Everything else is ordinary Keras: `self(x, training=True)`,
`self.compute_loss`, `variable.assign`, metrics' `update_state`,
`self.step_logs(...)`. Call either primitive as often as the step needs (SAM's
two passes, an unrolled inner step) or not at all (evolution strategies).
A loss the step computes by hand (not with `compute_loss`) is differentiated
as `self.scale_loss_for_distribution(loss)`, so that `tf.distribute`'s sum of
the replicas' gradients is the global batch's (docs/scaling.md).

Design, and what was rejected:

* Each model writing `train_step(self, *args)` with its own per-backend
  branches (the state before this module: TensorFlow-only SAM, K-FAC and
  professor forcing) repeats the JAX state plumbing in every model and leaves
  new models TensorFlow-only by default.
* A pure-functional hook `loss(trainable_values, non_trainable_values, data)`
  in the style of `stateless_call` works on JAX but makes every model thread
  state by hand, and cannot express an optimizer that assigns variables
  between two gradients (SAM's ascent) without re-implementing it statelessly.
* Overriding `compute_loss` only (Keras's backend-agnostic route for VAEs)
  cannot express two optimizers, two gradients per batch or gradient-free
  updates.

So the step stays stateful and the backend difference is absorbed in one place
(`keras_dlss/models/_backends.py`): on JAX the step runs inside a
`keras.StatelessScope` mapping every variable to its value in `state`, which is
how Keras's own JAX trainer updates metrics ("open a StatelessScope and pretend
everything is stateful").

Optimizers other than `model.optimizer` (a GAN's discriminator optimizer) are
listed by `extra_optimizers()` and must be built when the model is built; on
JAX their variables travel in the model's non-trainable state, which is how
they reach the compiled step and come back from it.
"""

import keras
from keras import ops

from keras_dlss.models import _backends


class CustomStep:
    """Mixin giving a `keras.Model` a custom step that runs on every backend.

    List it before `keras.Model`: `class MyModel(CustomStep, keras.Model)`.
    Subclasses override `custom_train_step(data)` (and optionally
    `custom_test_step(data)`); the defaults are Keras's standard steps. Use
    `CustomStepModel` for subclassed models; use the mixin directly for a
    class that is also built functionally (`MyModel(inputs, outputs)`):
    Keras rewrites the bases of such a class in place, and would rewrite
    `CustomStepModel`'s for every other model too.
    """

    # ---------------------------------------------------------------- Keras entry points

    def train_step(self, *args):
        """Keras's entry point: `(data)` on TensorFlow/PyTorch, `(state, data)` on JAX."""
        if keras.config.backend() == "jax":
            self._check_extra_optimizers_built()
        return _backends.run_step(self, args, self.custom_train_step, "train")

    def test_step(self, *args):
        """Keras's entry point for `evaluate`, like `train_step`."""
        return _backends.run_step(self, args, self.custom_test_step, "test")

    # ---------------------------------------------------------------- hooks

    def custom_train_step(self, data):
        """One training step on `data`, written statefully; returns the logs dict.

        The default is Keras's: forward pass, compiled loss, gradient of the
        trainable variables, `self.optimizer`, compiled metrics.
        """
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)

        def loss_fn():
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            return loss, y_pred

        loss, y_pred, grads = self.compute_gradients(loss_fn, lambda: self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        loss = _backends.unscale_for_distribution(loss)  # log the global batch's loss
        return self.step_logs(loss, x, y, y_pred, sample_weight)

    def custom_test_step(self, data):
        """One evaluation step on `data`; returns the logs dict."""
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        y_pred = self(x, training=False)
        loss = self.compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False
        )
        return self.step_logs(_backends.unscale_for_distribution(loss), x, y, y_pred, sample_weight)

    def extra_optimizers(self):
        """Optimizers other than `self.optimizer` that the step applies. Defaults to `[]`.

        None entries (an optimizer not set yet, before `compile`) are skipped.
        """
        return []

    # ---------------------------------------------------------------- primitives

    def compute_gradients(self, loss_fn, wrt, inputs=()):
        """Runs `loss_fn(*inputs)` once and differentiates its loss(es).

        Args:
            loss_fn: callable returning `(loss, aux)`: `loss` a scalar tensor or
                a tuple of scalars, `aux` any nest of tensors (or None). It
                reads the model's current variables; assignments it makes to
                variables that are not differentiated (BatchNorm statistics,
                seed generators, metrics) take effect on every backend.
            wrt: for a scalar `loss`, a list whose items are variables or ints
                (an int `k` means `inputs[k]`); for a tuple of losses, a tuple
                of such lists, one per loss. Or a callable returning that,
                called after the forward pass (the default step passes
                `lambda: self.trainable_variables`, since on TensorFlow Keras
                builds an unbuilt model during the first traced step).
            inputs: tensors passed to `loss_fn`; list an index in `wrt` to get
                the gradient with respect to one of them (e.g. a zero "probe"
                added to an activation).

        Returns:
            `(loss, aux, grads)`, `grads` structured like `wrt`. A gradient
            that does not depend on its loss is zeros (on every backend).
        """
        resolve = wrt if callable(wrt) else (lambda: wrt)
        resolved = []

        def wrt_lists():
            value = resolve()
            resolved.append(value)
            return [list(w) for w in value] if isinstance(value, tuple) else [list(value)]

        losses, aux, grads = _backends.gradients(self, loss_fn, wrt_lists, list(inputs))
        multi = isinstance(resolved[-1], tuple)
        count = len(resolved[-1]) if multi else 1
        if len(losses) != count:
            raise ValueError(
                f"`compute_gradients` got {count} variable lists in `wrt` for "
                f"{len(losses)} losses from `loss_fn`: give one list per loss."
            )
        if multi:
            return tuple(losses), aux, tuple(grads)
        return losses[0], aux, grads[0]

    def scale_loss_for_distribution(self, loss):
        """A loss averaged by hand over this replica's examples, ready to differentiate.

        Under `tf.distribute` the optimizer sums the replicas' gradients, so a
        loss the step computes itself (not with `compute_loss`, which already
        does this) is divided by the replica count; unchanged elsewhere. Log
        the unscaled loss.
        """
        return _backends.scale_for_distribution(loss)

    def unscale_loss_for_distribution(self, loss):
        """A loss from `compute_loss` as the global batch's average, for the logs."""
        return _backends.unscale_for_distribution(loss)

    def step_logs(self, loss, x, y, y_pred, sample_weight=None):
        """Updates the `loss` tracker and the compiled metrics; returns the logs dict."""
        batch = ops.shape(keras.tree.flatten(x)[0])[0]
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=batch)
        return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)

    # ---------------------------------------------------------------- JAX state

    @property
    def non_trainable_variables(self):
        # On JAX a compiled step only sees the state Keras hands it; extra
        # optimizers' slots ride along with the non-trainable variables.
        variables = super().non_trainable_variables
        if keras.config.backend() != "jax":
            return variables
        for optimizer in self.extra_optimizers():
            if optimizer is not None:
                variables = variables + list(optimizer.variables)
        return variables

    def _check_extra_optimizers_built(self):
        for optimizer in self.extra_optimizers():
            if optimizer is not None and not optimizer.built:
                raise ValueError(
                    f"{type(self).__name__}: build each extra optimizer when the model is built "
                    "(`optimizer.build(variables)`, e.g. in `build()`), so that its variables "
                    f"exist before the first compiled step. Received an unbuilt {optimizer!r}"
                )


class CustomStepModel(CustomStep, keras.Model):
    """Base class of a subclassed `keras.Model` with its own training step.

    Override `custom_train_step(data)` using `compute_gradients`,
    `optimizer.apply` and `step_logs`; `fit`, `evaluate`, `jit_compile=True`
    and saving work on TensorFlow, JAX and PyTorch. See `docs/models.md`.

    Example:

    ```python
    class ClippedModel(keras_dlss.models.CustomStepModel):
        # Plain regression with per-step gradient clipping: the step in 8 lines.
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = keras.layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def custom_train_step(self, data):
            x, y = data

            def loss_fn():
                y_pred = self(x, training=True)
                return self.compute_loss(x=x, y=y, y_pred=y_pred), y_pred

            variables = self.trainable_variables
            loss, y_pred, grads = self.compute_gradients(loss_fn, variables)
            grads = [ops.clip(g, -1.0, 1.0) for g in grads]
            self.optimizer.apply(grads, variables)
            return self.step_logs(loss, x, y, y_pred)

    model = ClippedModel()
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    model.fit(np.ones((8, 3)), np.ones((8, 1)), epochs=2, verbose=0)
    ```
    """
