"""The per-backend plumbing behind `CustomStep` (internal): the only backend code of a step.

Two primitives, each implemented once per backend:

* `run_step(model, args, step_fn, kind)`: Keras calls `train_step(data)` on
  TensorFlow and PyTorch (stateful: variables are assigned in place) and
  `train_step(state, data)` on JAX (stateless: the step receives the values of
  every variable and must return new ones). On JAX the user's stateful step
  runs inside one `keras.StatelessScope` mapping every variable of the step to
  its value in `state`, so reads see `state` and `assign`s (optimizer updates,
  metric updates, seed generators, BatchNorm statistics) are recorded in the
  scope; the new state is read back from it. This is the approach Keras itself
  uses for metrics in its JAX trainer.
* `gradients(model, loss_fn, wrt, inputs)`: one forward pass of `loss_fn`, then
  the gradient of each of its losses w.r.t. its own list of variables or input
  tensors. TensorFlow: a (persistent) `GradientTape`. PyTorch:
  `torch.autograd.grad` (not `.backward()`, so `.grad` never accumulates).
  JAX: `jax.vjp` of a pure function of the variable values, evaluated in a
  nested `StatelessScope`; updates made inside `loss_fn` to variables that
  are not differentiated (BatchNorm statistics, seed generators, metrics) are
  returned as auxiliary outputs and re-assigned in the step's scope, so
  non-trainable state advances exactly as it does on the stateful backends.

Gradients that do not depend on a loss are zeros on every backend (JAX's
convention), so an optimizer sees the same step everywhere.
"""

import threading

import keras
from keras import ops

_STEP = threading.local()


def step_variables(model, kind):
    """The variables a JAX `train_step`/`test_step` state holds, grouped as Keras orders them."""
    groups = [model.trainable_variables, model.non_trainable_variables]
    if kind == "train":
        groups.append(model.optimizer.variables)
    groups.append(model.metrics_variables)
    return groups


def run_step(model, args, step_fn, kind):
    """Runs the stateful `step_fn(data)` under Keras's calling convention of this backend."""
    if keras.config.backend() != "jax":
        (data,) = args
        return step_fn(data)
    state, data = args
    groups = step_variables(model, kind)
    mapping = [(v, value) for refs, values in zip(groups, state) for v, value in zip(refs, values)]
    previous = getattr(_STEP, "variables", None)
    _STEP.variables = [v for refs in groups for v in refs]
    try:
        with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
            logs = step_fn(data)
    finally:
        _STEP.variables = previous
    new_state = tuple([scope.get_current_value(v) for v in refs] for refs in groups)
    return logs, new_state


def gradients(model, loss_fn, wrt, inputs):
    """`(losses, aux, grads)`: `grads[i]` is the gradient of `losses[i]` w.r.t. `wrt()[i]`.

    `wrt` is a callable returning the lists: TensorFlow and PyTorch resolve it
    after the forward pass, which may have created the variables (Keras builds
    a model in its first traced step there); JAX's `fit` builds beforehand.
    """
    backend = keras.config.backend()
    if backend == "tensorflow":
        return _tensorflow_gradients(loss_fn, wrt, inputs)
    if backend == "torch":
        return _torch_gradients(loss_fn, wrt, inputs)
    if backend == "jax":
        return _jax_gradients(model, loss_fn, wrt, inputs)
    raise NotImplementedError(
        f"CustomStep has no gradient plumbing for this backend. Received: backend={backend!r}"
    )


def unscale_for_distribution(loss):
    """`loss` from `compute_loss` as one replica's share times the replica count.

    Under `tf.distribute`, Keras's `compute_loss` divides by the number of replicas so
    that the summed gradients are the global batch's; the logged loss must not be
    divided (Keras's own step unscales it the same way).
    """
    if keras.config.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss if replicas == 1 else loss * ops.cast(replicas, loss.dtype)


def replica_count():
    """Replicas a step runs on in sync: `tf.distribute`'s count on TensorFlow, else 1.

    JAX's `keras.distribution` shards one program over devices, and PyTorch
    runs one process per device: neither calls the step per replica.
    """
    if keras.config.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    if tf.distribute.in_cross_replica_context():  # outside a step nothing is split
        return 1
    return tf.distribute.get_strategy().num_replicas_in_sync


def scale_for_distribution(loss):
    """A loss averaged over this replica's examples, divided by the replica count.

    The optimizer sums the replicas' gradients; scaled so, the sum is the
    gradient of the loss averaged over the global batch (Keras's
    `compute_loss` does the same to the losses it computes).
    """
    replicas = replica_count()
    return loss if replicas == 1 else loss / ops.cast(replicas, loss.dtype)


def _replica_context():
    import tensorflow as tf

    return tf.distribute.get_replica_context()


def cross_replica_sum(values):
    """The list `values` summed over the replicas (unchanged with one replica)."""
    if replica_count() == 1:
        return list(values)
    return list(_replica_context().all_reduce("sum", list(values)))


def all_gather(value):
    """`value` of every replica, concatenated along axis 0 in replica order.

    For what must see the global batch: a history of generated images, K-FAC's
    curvature statistics, contrastive candidates. Differentiable: the gradient
    w.r.t. a replica's rows is the sum over replicas of the gradient w.r.t.
    those rows of the gathered tensor.
    """
    if replica_count() == 1:
        return value
    return _replica_context().all_gather(value, axis=0)


def replica_rows(value):
    """This replica's equal share of the global batch `value` (axis 0)."""
    replicas = replica_count()
    if replicas == 1:
        return value
    shape = ops.shape(value)
    parts = ops.reshape(value, (replicas, shape[0] // replicas, *shape[1:]))
    return ops.take(parts, _replica_context().replica_id_in_sync_group, axis=0)


def replica_random(draw, rows):
    """`draw(n)` for this replica's `rows` examples, drawn as for the global batch.

    Every replica reads the same seed state, so `draw(rows)` would give every
    replica the same numbers. Drawn for the R * rows examples of the global
    batch and sliced, each replica gets its own share: the noise of a
    single-device step on the same batch (and the seed advances alike).
    """
    replicas = replica_count()
    if replicas == 1:
        return draw(rows)
    return replica_rows(draw(rows * replicas))


def _split(out):
    """`loss_fn` returns `(loss, aux)`, `loss` a scalar or a tuple of scalars."""
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise ValueError(
            "The `loss_fn` given to `compute_gradients` must return `(loss, aux)` (aux may be "
            f"None). Received: {type(out).__name__}"
        )
    losses, aux = out
    return (tuple(losses) if isinstance(losses, (tuple, list)) else (losses,)), aux


def _zeros_for_none(grads, targets):
    return [ops.zeros_like(t) if g is None else g for g, t in zip(grads, targets)]


def _tensorflow_gradients(loss_fn, wrt, inputs):
    import tensorflow as tf

    inputs = [tf.convert_to_tensor(x) for x in inputs]
    # Persistent: the number of losses is known only once `loss_fn` has run.
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(inputs)
        losses, aux = _split(loss_fn(*inputs))
    grads = []
    for loss, targets in zip(losses, wrt()):
        targets = [inputs[t] if isinstance(t, int) else t for t in targets]
        # The tape wants the backing tf.Variable: given a Keras Variable that the loss does
        # not use, UnconnectedGradients.ZERO fails ('str' object has no attribute '_type_enum').
        sources = [t.value if isinstance(t, keras.Variable) else t for t in targets]
        grads.append(
            tape.gradient(loss, sources, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        )
    del tape
    return losses, aux, grads


def _torch_gradients(loss_fn, wrt, inputs):
    import torch

    leaves = [ops.convert_to_tensor(x).detach().requires_grad_(True) for x in inputs]
    losses, aux = _split(loss_fn(*leaves))
    grads = []
    wrt = wrt()
    for i, (loss, targets) in enumerate(zip(losses, wrt)):
        targets = [leaves[t] if isinstance(t, int) else t.value for t in targets]
        grad = torch.autograd.grad(loss, targets, retain_graph=i < len(wrt) - 1, allow_unused=True)
        grads.append(_zeros_for_none(grad, targets))
    return losses, aux, grads


def _jax_gradients(model, loss_fn, wrt, inputs):
    import jax

    wrt = wrt()
    variables = _unique([t for targets in wrt for t in targets if not isinstance(t, int)])
    diff_ids = {id(v) for v in variables}
    everything = getattr(_STEP, "variables", None) or _all_variables(model)
    others = [v for v in _unique(everything) if id(v) not in diff_ids]
    other_values = [v.value for v in others]  # the step scope's current values

    def pure(var_values, input_values):
        mapping = list(zip(variables, var_values)) + list(zip(others, other_values))
        with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
            losses, aux = _split(loss_fn(*input_values))
        updates = [scope.get_current_value(v) for v in others]
        return tuple(losses), (aux, updates)

    var_values = [v.value for v in variables]
    input_values = [ops.convert_to_tensor(x) for x in inputs]
    losses, vjp_fn, (aux, updates) = jax.vjp(pure, var_values, input_values, has_aux=True)
    for v, old, new in zip(others, other_values, updates):
        if new is not old:
            v.assign(new)
    position = {id(v): i for i, v in enumerate(variables)}
    grads = []
    for i, targets in enumerate(wrt):
        cotangent = tuple(
            ops.ones_like(loss) if j == i else ops.zeros_like(loss) for j, loss in enumerate(losses)
        )
        var_grads, input_grads = vjp_fn(cotangent)
        grads.append(
            [input_grads[t] if isinstance(t, int) else var_grads[position[id(t)]] for t in targets]
        )
    return losses, aux, grads


def _all_variables(model):
    """Outside `fit` (a custom loop on JAX): every variable the model's step may touch."""
    found = list(model.variables) + list(model.metrics_variables)
    if getattr(model, "optimizer", None) is not None:
        found += list(model.optimizer.variables)
    for optimizer in model.extra_optimizers():
        found += list(optimizer.variables) if optimizer is not None else []
    return found


def _unique(variables):
    seen, out = set(), []
    for v in variables:
        if id(v) not in seen:
            seen.add(id(v))
            out.append(v)
    return out
