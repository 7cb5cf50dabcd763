"""Bilevel optimization of DARTS: network weights on training data, architecture on validation data.

Liu, Simonyan & Yang, "DARTS: Differentiable Architecture Search", ICLR 2019
(arXiv:1806.09055), Section 2.3 and Algorithm 1. The architecture weights
`alpha` minimize the validation loss of the weights `w*(alpha)` that minimize
the training loss. One step approximates `w*(alpha)` by one gradient step:

* first order (`order=1`, the paper's xi = 0): `g_alpha = grad_alpha L_val(w, alpha)`;
* second order (`order=2`, Eq. 7-8): with `w' = w - xi grad_w L_train(w, alpha)`,
  ``g_alpha = grad_alpha L_val(w', alpha) - xi * H v``, where `v = grad_w' L_val(w', alpha)`
  and the mixed Hessian-vector product `H v = grad^2_{alpha,w} L_train(w, alpha) v` is the
  paper's central finite difference
  ``(grad_alpha L_train(w + eps v, alpha) - grad_alpha L_train(w - eps v, alpha)) / (2 eps)``
  with `eps = 0.01 / ||v||`.

How the data is split, and why: every batch carries a training part and a
validation part, `fit(x=(x_train, x_val), y=(y_train, y_val))` (or a
`tf.data` dataset yielding `((x_train, x_val), (y_train, y_val))`, e.g. a zip
of two datasets). The step reads `x_train`/`y_train` only for the weights'
gradient (and, in the second-order step, for `w'` and the Hessian term, as
the method requires) and `x_val`/`y_val` only for the architecture's. One
batch with both parts keeps the step a single compiled function on every
backend; a second iterator inside the step (the reference implementation's
`next(valid_queue)`) cannot be traced by XLA or JAX.

Both gradients are taken at the same `(w, alpha)` and then applied (the
paper's Algorithm 1 updates `alpha` first and takes the weights' gradient at
the new `alpha`). Taking them at one point makes "the weights never learn
from validation data" a property one can check by effect: changing only the
validation part leaves the weights' update unchanged. The two schemes differ
by one architecture step's effect on the weights' gradient, O(learning rate).

The second-order step differentiates at `w'` by assigning it to the weights
and restoring `w` afterwards: `compute_gradients` runs the model's own
forward pass, so no functional copy of the network is needed (the approach
of `optimizers.SAM`). The unrolled step is plain gradient descent with
`xi` = `unrolled_learning_rate` (default: the weights optimizer's current
learning rate), without the momentum and weight decay the paper folds in.
"""

import keras
from keras import ops

from keras_dlss.models.wrapper import WrapperModel

__all__ = ["DARTSSearch", "architecture_variables"]


def architecture_variables(model):
    """The architecture weights of `model`: its `architecture_variables` if it
    has them (`applications.DARTSNetwork`), else every `layers.MixedOperation`'s `alpha`."""
    found = getattr(model, "architecture_variables", None)
    if found is None:
        from keras_dlss.layers.mixed_operation import MixedOperation

        found = [
            w
            for layer in model._flatten_layers(include_self=True)
            if isinstance(layer, MixedOperation)
            for w in layer.architecture_weights
        ]
    return list(found)


def _global_norm(tensors):
    return ops.sqrt(sum(ops.sum(ops.square(t)) for t in tensors))


@keras.saving.register_keras_serializable(package="keras_dlss")
class DARTSSearch(WrapperModel):
    """Wraps a search network and trains it by DARTS's bilevel optimization.

    `compile(optimizer=...)` sets the weights' optimizer (the paper: SGD with
    momentum 0.9, cosine-decayed learning rate 0.025) and
    `architecture_optimizer` the architecture's (the paper: Adam 3e-4,
    beta_1 = 0.5, weight decay 1e-3; the default here is Adam 3e-3,
    beta_1 = 0.5, for short searches). Fit on batches with a training and a
    validation part (see the module docstring); `evaluate` and `predict`
    take ordinary data. Logs: the training part's loss and metrics, and
    `architecture_loss`, the validation loss the architecture step descends.

    Args:
        model: the search network: an `applications.DARTSNetwork(genotype=None)`,
            or any model holding `layers.MixedOperation` layers.
        order: int. 1 (first-order approximation) or 2 (unrolled). Defaults to `1`.
        unrolled_learning_rate: float or None. `xi` of the second-order step;
            None uses the weights optimizer's learning rate. Defaults to `None`.
        **kwargs: `keras.Model` arguments.

    Example:

    ```python
    # Any network of MixedOperation layers (DARTSNetwork is the full search space).
    net = keras.Sequential([
        keras.Input((4,)),
        keras_dlss.layers.MixedOperation([keras.layers.Dense(3), keras.layers.Dense(3, "tanh")]),
        keras.layers.Dense(2, activation="softmax"),
    ])
    search = keras_dlss.training.DARTSSearch(net, order=2)
    search.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9),
                   loss="sparse_categorical_crossentropy", run_eagerly=True)
    x, y = np.random.rand(16, 4).astype("float32"), np.arange(16) % 2
    search.fit(x=(x[:8], x[8:]), y=(y[:8], y[8:]), batch_size=8, epochs=1, verbose=0)
    print(ops.softmax(search.architecture_variables[0]))  # learned mixing weights
    ```

    References:
        Liu, Simonyan & Yang, 2019. "DARTS: Differentiable Architecture
        Search". https://arxiv.org/abs/1806.09055
    """

    def __init__(self, model, order=1, unrolled_learning_rate=None, **kwargs):
        super().__init__(model, **kwargs)
        if order not in (1, 2) or isinstance(order, bool):
            raise ValueError(f"Argument `order` must be 1 or 2. Received: order={order!r}")
        if unrolled_learning_rate is not None and not float(unrolled_learning_rate) > 0:
            raise ValueError(
                "Argument `unrolled_learning_rate` must be > 0 or None. "
                f"Received: unrolled_learning_rate={unrolled_learning_rate!r}"
            )
        if not architecture_variables(model):
            raise ValueError(
                "Argument `model` must hold architecture weights (a search DARTSNetwork, or "
                f"MixedOperation layers). Received: model={model.name!r} with none"
            )
        self.order = int(order)
        self.unrolled_learning_rate = (
            None if unrolled_learning_rate is None else float(unrolled_learning_rate)
        )
        self.architecture_optimizer = None
        self.architecture_loss_tracker = keras.metrics.Mean(name="architecture_loss")

    @property
    def architecture_variables(self):
        """The architecture weights `alpha` (updated on validation data only)."""
        return architecture_variables(self.inner_model)

    @property
    def network_variables(self):
        """The network weights `w` (updated on training data only)."""
        arch = {id(v) for v in self.architecture_variables}
        return [v for v in self.inner_model.trainable_variables if id(v) not in arch]

    def compile(self, optimizer="sgd", architecture_optimizer=None, **kwargs):
        """`keras.Model.compile`, plus the architecture's optimizer (built here)."""
        super().compile(optimizer=optimizer, **kwargs)
        if architecture_optimizer is None:
            architecture_optimizer = keras.optimizers.Adam(3e-3, beta_1=0.5)
        self.architecture_optimizer = keras.optimizers.get(architecture_optimizer)
        self.architecture_optimizer.build(self.architecture_variables)

    def extra_optimizers(self):
        return [self.architecture_optimizer]

    # ---------------------------------------------------------------- the step

    def _loss_fn(self, x, y):
        def loss_fn():
            y_pred = self(x, training=True)
            return self.compute_loss(x=x, y=y, y_pred=y_pred, training=True), y_pred

        return loss_fn

    def architecture_gradients(self, train, validation, train_gradients=None):
        """The architecture gradient of one DARTS step (first or second order).

        Args:
            train: `(x, y)` training part of the batch.
            validation: `(x, y)` validation part.
            train_gradients: optional `grad_w L_train(w, alpha)` (list matching
                `network_variables`), computed if None (second order only).

        Returns:
            `(validation_loss, gradients)`: the loss the architecture descends
            and its gradients, one per `architecture_variables` entry. The
            network weights are unchanged on return.
        """
        arch, net = self.architecture_variables, self.network_variables
        val_loss_fn = self._loss_fn(*validation)
        if self.order == 1:
            loss, _, grads = self.compute_gradients(val_loss_fn, arch)
            return loss, grads
        train_loss_fn = self._loss_fn(*train)
        if train_gradients is None:
            _, _, train_gradients = self.compute_gradients(train_loss_fn, net)
        xi = self.unrolled_learning_rate
        if xi is None:
            xi = ops.convert_to_tensor(self.optimizer.learning_rate)
        # A copy, not a read: on PyTorch the variable's tensor is updated in place.
        w = [ops.copy(ops.convert_to_tensor(v)) for v in net]
        for v, w0, g in zip(net, w, train_gradients):
            v.assign(w0 - ops.cast(xi, w0.dtype) * g)
        loss, _, grads = self.compute_gradients(val_loss_fn, arch + net)
        alpha_grads, vector = grads[: len(arch)], grads[len(arch) :]
        eps = 0.01 / (_global_norm(vector) + 1e-12)  # the paper's 0.01 / ||v||
        differences = []
        for sign in (1.0, -1.0):
            for v, w0, d in zip(net, w, vector):
                v.assign(w0 + ops.cast(sign * eps, w0.dtype) * d)
            differences.append(self.compute_gradients(train_loss_fn, arch)[2])
        for v, w0 in zip(net, w):
            v.assign(w0)
        hessian_vector = [(p - m) / (2.0 * eps) for p, m in zip(*differences)]
        return loss, [g - ops.cast(xi, g.dtype) * h for g, h in zip(alpha_grads, hessian_vector)]

    def custom_train_step(self, data):
        (x_train, x_val), (y_train, y_val) = _split_batch(data)
        net = self.network_variables
        loss, y_pred, w_grads = self.compute_gradients(self._loss_fn(x_train, y_train), net)
        val_loss, alpha_grads = self.architecture_gradients(
            (x_train, y_train), (x_val, y_val), train_gradients=w_grads
        )
        self.architecture_optimizer.apply(alpha_grads, self.architecture_variables)
        self.optimizer.apply(w_grads, net)
        self.architecture_loss_tracker.update_state(val_loss)
        logs = self.step_logs(loss, x_train, y_train, y_pred)
        return {**logs, "architecture_loss": self.architecture_loss_tracker.result()}

    def _symbolic_build(self, iterator=None, data_batch=None):
        # Keras's JAX and PyTorch trainers build the compiled loss and metrics from
        # one `(x, y)` batch before the first step; a search batch is
        # `((x_train, x_val), (y_train, y_val))`, so they are built from its
        # training part (the one `compute_loss` and the metrics see).
        if data_batch is None and iterator is not None:
            for _, _, data_or_iterator in iterator:
                if isinstance(data_or_iterator, (list, tuple)):
                    data_batch = data_or_iterator[0]
                else:
                    data_batch = next(data_or_iterator)
                break
        if data_batch is not None and _is_search_batch(data_batch):
            (x_train, _), (y_train, _) = _split_batch(data_batch)
            data_batch = (x_train, y_train)
        return super()._symbolic_build(data_batch=data_batch)

    def get_config(self):
        return {
            **super().get_config(),
            "order": self.order,
            "unrolled_learning_rate": self.unrolled_learning_rate,
        }


def _is_search_batch(data):
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    pair = (tuple, list)
    return isinstance(x, pair) and len(x) == 2 and isinstance(y, pair) and len(y) == 2


def _split_batch(data):
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    if not _is_search_batch(data):
        raise ValueError(
            "Argument `data` of a DARTSSearch step must be ((x_train, x_val), (y_train, y_val)): "
            "fit(x=(x_train, x_val), y=(y_train, y_val)). "
            f"Received: data with x of type {type(x).__name__} and y of type {type(y).__name__}"
        )
    return (x[0], x[1]), (y[0], y[1])
