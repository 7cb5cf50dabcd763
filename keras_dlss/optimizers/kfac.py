"""K-FAC: Kronecker-factored approximate curvature for Dense layers.

For a Dense layer `s = a W + b` the Fisher block of `W` is approximated by a
Kronecker product of two small matrices (Martens & Grosse 2015, eq. 1-3):

    F_W ~= A (x) G,   A = E[a a^T],   G = E[g g^T],   g = dloss_i/ds  (per example)

so the natural-gradient step is `A^-1 grad_W G^-1`; the bias block is
`grad_b G^-1`. Factors are running averages (`stat_decay`), inverted every
`inverse_update_freq` steps with factored Tikhonov damping
`(A + pi sqrt(lambda) I) (x) (G + sqrt(lambda) / pi I)` (section 6.3), and the
preconditioned step goes through heavy-ball momentum. This uses the empirical
Fisher (gradients of the actual loss).

The factors need the layer inputs `a` and the gradients w.r.t. the
pre-activations `s`, which an optimizer never sees: `KFACModel` wraps a
`keras.Sequential`, recomputes each Dense layer's pre-activation in its
training step (a `keras_dlss.models.CustomStepModel` step, so it runs on every
backend), takes the gradient w.r.t. `s` as the gradient of a zero probe added
to it, and hands both to `KFAC.update_curvature` before `KFAC.apply`.
Variables of other layers get plain momentum SGD.

References:
    Martens & Grosse, 2015. "Optimizing Neural Networks with Kronecker-factored
    Approximate Curvature". https://arxiv.org/abs/1503.05671
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.models import _backends
from keras_dlss.models.wrapper import WrapperModel


def kfac_factors(a, ds):
    """The batch estimates of `A` and `G` for one Dense layer.

    Args:
        a: `[..., in]` layer inputs.
        ds: `[..., out]` gradients of the (batch-mean) loss w.r.t. the
            pre-activations. Leading dims are flattened into examples.

    Returns:
        `(A [in, in], G [out, out])`. `G` is rescaled by the number of examples
        so that it estimates the second moment of per-example gradients.
    """
    a = ops.reshape(a, (-1, ops.shape(a)[-1]))
    ds = ops.reshape(ds, (-1, ops.shape(ds)[-1]))
    n = ops.cast(ops.shape(a)[0], a.dtype)
    return ops.matmul(ops.transpose(a), a) / n, ops.matmul(ops.transpose(ds), ds) * n


def damped_inverses(A, G, damping):
    """Inverses of the factors with factored Tikhonov (pi) damping (M&G 2015, 6.3)."""
    dim_a, dim_g = A.shape[0], G.shape[0]
    pi = ops.sqrt((ops.trace(A) / dim_a) / ops.maximum(ops.trace(G) / dim_g, 1e-12))
    pi = ops.maximum(pi, 1e-8)
    root = ops.sqrt(ops.cast(damping, A.dtype))
    A_inv = ops.inv(A + pi * root * ops.eye(dim_a, dtype=A.dtype))
    G_inv = ops.inv(G + root / pi * ops.eye(dim_g, dtype=G.dtype))
    return A_inv, G_inv


def kfac_precondition(grad, A_inv=None, G_inv=None):
    """`A^-1 grad G^-1` for a kernel, `grad G^-1` for a bias."""
    if A_inv is None:
        return ops.matmul(grad[None, :], G_inv)[0]
    return ops.matmul(ops.matmul(A_inv, grad), G_inv)


@keras.saving.register_keras_serializable(package="keras_dlss")
class KFAC(keras.optimizers.Optimizer):
    """K-FAC natural-gradient optimizer for the Dense layers of a `KFACModel`.

    Args:
        learning_rate: float or schedule. Defaults to `0.01`.
        damping: float > 0. Tikhonov damping `lambda`. Defaults to `1e-3`.
        momentum: float in [0, 1). Heavy-ball momentum. Defaults to `0.9`.
        stat_decay: float in [0, 1). Running-average decay of the factors
            (the first batch initialises them). Defaults to `0.95`.
        inverse_update_freq: int >= 1. Steps between factor inversions.
            Defaults to `10`.
        kl_clip: float > 0 or None. Rescales the step so that the predicted
            change of the model's output distribution, `lr^2 sum(step . grad)`,
            stays below `kl_clip` (Ba et al. 2017, "Distributed second-order
            optimization using Kronecker-factored approximations"); guards
            against the huge steps of a poorly estimated Fisher early on.
            None disables it. Defaults to `1e-3`.
        name: string. Defaults to `"kfac"`.

    Example:

    ```python
    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, "tanh"), keras.layers.Dense(8)])
    model = keras_dlss.optimizers.KFACModel(inner)
    model.compile(optimizer=keras_dlss.optimizers.KFAC(0.05, damping=1e-2), loss="mse")
    ```

    References:
        Martens & Grosse, 2015. https://arxiv.org/abs/1503.05671
    """

    def __init__(
        self,
        learning_rate=0.01,
        damping=1e-3,
        momentum=0.9,
        stat_decay=0.95,
        inverse_update_freq=10,
        kl_clip=1e-3,
        name="kfac",
        **kwargs,
    ):
        check_range("damping", damping, 0.0, low_inclusive=False)
        check_range("momentum", momentum, 0.0, 1.0, high_inclusive=False)
        check_range("stat_decay", stat_decay, 0.0, 1.0, high_inclusive=False)
        check_positive_int("inverse_update_freq", inverse_update_freq)
        if kl_clip is not None:
            check_range("kl_clip", kl_clip, 0.0, low_inclusive=False)
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.damping = float(damping)
        self.momentum = float(momentum)
        self.stat_decay = float(stat_decay)
        self.inverse_update_freq = int(inverse_update_freq)
        self.kl_clip = None if kl_clip is None else float(kl_clip)
        self._registered = {}  # variable path -> ("kernel" | "bias", layer name)

    def register_dense_layers(self, layers):
        """Marks the kernels/biases of `layers` for Kronecker preconditioning."""
        if self.built:
            raise RuntimeError("KFAC: register layers before the optimizer is built.")
        for layer in layers:
            self._registered[layer.kernel.path] = ("kernel", layer.name)
            if layer.use_bias:
                self._registered[layer.bias.path] = ("bias", layer.name)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momenta = [self.add_variable_from_reference(v, name="momentum") for v in var_list]
        eye = keras.initializers.Identity()
        self._kinds, self._layer_factors = [], {}
        layers = []
        for v in var_list:
            kind, layer = self._registered.get(v.path, (None, None))
            self._kinds.append(kind)
            layers.append(layer)
            if kind == "kernel":
                dim_in, dim_out = (int(d) for d in v.shape)
                self._layer_factors[layer] = {
                    key: self.add_variable((dim, dim), initializer=eye, name=f"{layer}_{key}")
                    for key, dim in (
                        ("A", dim_in),
                        ("A_inv", dim_in),
                        ("G", dim_out),
                        ("G_inv", dim_out),
                    )
                }
        self._factors = [self._layer_factors.get(layer) for layer in layers]
        self._stat_count = self.add_variable(
            (), initializer="zeros", dtype="int", name="stat_count"
        )

    def update_curvature(self, stats):
        """Updates the factors and, every `inverse_update_freq` steps, their inverses.

        Args:
            stats: dict `{layer_name: (a, ds)}` with the layer inputs and the
                gradients of the batch loss w.r.t. its pre-activations.
        """
        # Variables are read as tensors: jax.numpy functions no longer accept them.
        count = ops.convert_to_tensor(self._stat_count)
        first = ops.equal(count, 0)
        decay = ops.where(first, 0.0, self.stat_decay)
        refresh = ops.equal(ops.mod(count, self.inverse_update_freq), 0)
        for name, (a, ds) in stats.items():
            f = self._layer_factors[name]
            A_new, G_new = kfac_factors(a, ds)
            self.assign(f["A"], decay * f["A"] + (1.0 - decay) * A_new)
            self.assign(f["G"], decay * f["G"] + (1.0 - decay) * G_new)
            A_inv, G_inv = damped_inverses(
                ops.convert_to_tensor(f["A"]), ops.convert_to_tensor(f["G"]), self.damping
            )
            # A select, not a cond: XLA evaluates both and the factors are small.
            self.assign(f["A_inv"], ops.where(refresh, A_inv, ops.convert_to_tensor(f["A_inv"])))
            self.assign(f["G_inv"], ops.where(refresh, G_inv, ops.convert_to_tensor(f["G_inv"])))
        self.assign_add(self._stat_count, 1)

    def _precondition(self, gradient, variable):
        idx = self._get_variable_index(variable)
        kind, f = self._kinds[idx], self._factors[idx]
        if kind is None:
            return gradient
        G_inv = ops.convert_to_tensor(f["G_inv"])
        if kind == "kernel":
            return kfac_precondition(gradient, ops.convert_to_tensor(f["A_inv"]), G_inv)
        if kind == "bias":
            return kfac_precondition(gradient, None, G_inv)
        return gradient

    def apply(self, grads, trainable_variables=None):
        """Preconditions every gradient, applies the KL clip, then momentum SGD."""
        if not self.built:
            self.build(trainable_variables)
        # Under tf.distribute the KL clip (not linear in the gradient) needs the global
        # batch's gradient; each replica then hands 1/R of the step to the summing update.
        replicas = _backends.replica_count()
        grads = _backends.cross_replica_sum(grads)
        steps = [self._precondition(g, v) for g, v in zip(grads, trainable_variables)]
        if self.kl_clip is not None:
            lr = ops.cast(self.learning_rate, "float32")
            vg = ops.sum(ops.stack([ops.sum(s * g) for s, g in zip(steps, grads)]))
            nu = ops.minimum(
                1.0, ops.sqrt(self.kl_clip / ops.maximum(lr * lr * ops.abs(vg), 1e-30))
            )
            steps = [s * ops.cast(nu, s.dtype) for s in steps]
        if replicas > 1:
            steps = [s / ops.cast(replicas, s.dtype) for s in steps]
        return super().apply(steps, trainable_variables)

    def update_step(self, gradient, variable, learning_rate):
        # `gradient` is already preconditioned (and clipped) by `apply`.
        m = self._momenta[self._get_variable_index(variable)]
        self.assign(m, self.momentum * m + gradient)
        self.assign_sub(variable, ops.cast(learning_rate, variable.dtype) * m)

    def get_config(self):
        return {
            **super().get_config(),
            "damping": self.damping,
            "momentum": self.momentum,
            "stat_decay": self.stat_decay,
            "inverse_update_freq": self.inverse_update_freq,
            "kl_clip": self.kl_clip,
        }


@keras.saving.register_keras_serializable(package="keras_dlss")
class KFACModel(WrapperModel):
    """Wraps a `keras.Sequential` so that `fit` feeds K-FAC its curvature statistics.

    Compile it with a `KFAC` optimizer. Each Dense layer's pre-activation is
    recomputed in the training tape (`a @ kernel + bias`, then the activation),
    so the step has the layer inputs and the gradients w.r.t. the
    pre-activations. With another optimizer it trains like the wrapped model.

    `fisher` selects the curvature: `"empirical"` back-propagates the gradient
    of the actual loss (it vanishes with the residuals, so steps grow as the
    fit improves: keep `damping` large); `"gaussian"` (for a mean-squared
    error, `N(y_pred, d/2 I)`) and `"categorical"` (for cross-entropy on
    softmax probabilities) back-propagate the loss gradient at targets
    *sampled from the model*, the Monte-Carlo true Fisher of Martens & Grosse
    (section 5), which equals the Gauss-Newton matrix in expectation.

    Args:
        model: a `keras.Sequential`.
        fisher: `"empirical"`, `"gaussian"` or `"categorical"`. Defaults to
            `"empirical"`.
        seed: int or None. Seed of the sampled targets.
        **kwargs: passed to `keras.Model`.

    Example:

    ```python
    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4, "tanh"), keras.layers.Dense(8)])
    model = keras_dlss.optimizers.KFACModel(inner)
    model.compile(optimizer=keras_dlss.optimizers.KFAC(0.05), loss="mse")
    model.fit(x, x, epochs=3)
    ```
    """

    def __init__(self, model, fisher="empirical", seed=None, **kwargs):
        if not isinstance(model, keras.Sequential):
            raise ValueError(
                f"Argument `model` must be a keras.Sequential. Received: model={model!r}"
            )
        check_one_of("fisher", fisher, ("empirical", "gaussian", "categorical"))
        super().__init__(model, **kwargs)
        self.fisher = fisher
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)

    def _sampled_output_gradient(self, y_pred):
        """Per-example d loss / d y_pred at targets drawn from the model (no 1/n)."""
        y_pred = ops.stop_gradient(y_pred)
        if self.fisher == "gaussian":
            # Keras' MSE averages over d outputs: its likelihood is N(y_pred, d/2 I),
            # so the gradient at a sampled target is -sqrt(2/d) * eps.
            d = ops.cast(ops.shape(y_pred)[-1], y_pred.dtype)
            eps = _backends.replica_random(
                lambda n: keras.random.normal(
                    (n, *ops.shape(y_pred)[1:]), dtype=y_pred.dtype, seed=self._seed_generator
                ),
                ops.shape(y_pred)[0],
            )
            return -ops.sqrt(2.0 / d) * eps
        p = ops.clip(y_pred, 1e-7, 1.0)
        logits = _backends.all_gather(ops.log(p))  # each replica its share of one draw
        c = _backends.replica_rows(keras.random.categorical(logits, 1, seed=self._seed_generator))
        c = c[:, 0]
        onehot = ops.one_hot(c, ops.shape(p)[-1], dtype=p.dtype)
        return -onehot / p  # d(-log p_c)/dp; through the softmax: p - onehot(c)

    def get_config(self):
        return {**super().get_config(), "fisher": self.fisher, "seed": self.seed}

    def _dense_layers(self):
        return [layer for layer in self.inner_model.layers if type(layer) is keras.layers.Dense]

    def compile(self, *args, **kwargs):
        super().compile(*args, **kwargs)
        if isinstance(self.optimizer, KFAC) and not self.optimizer.built:
            if not self.inner_model.built:
                raise ValueError(
                    "KFACModel: build the wrapped model (give it an Input) before compile."
                )
            self.optimizer.register_dense_layers(self._dense_layers())

    def compile_from_config(self, config):
        # `compile` is overridden (to register the Dense layers), so Keras leaves
        # re-compiling a loaded model to us.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def _forward(self, x, probes):
        """Forward pass with `a @ kernel + bias + probe` for each Dense layer (probes are 0).

        The gradient w.r.t. a zero probe added to a pre-activation is the
        gradient w.r.t. that pre-activation, on every backend.
        """
        dense = {id(layer): i for i, layer in enumerate(self._dense_layers())}
        inputs, h = [], x
        for layer in self.inner_model.layers:
            if id(layer) not in dense:
                h = layer(h, training=True)
                continue
            inputs.append(h)
            s = ops.matmul(h, layer.kernel)
            if layer.use_bias:
                s = s + layer.bias
            h = layer.activation(s + probes[dense[id(layer)]])
        return h, inputs

    def _probes(self, x):
        batch = ops.shape(keras.tree.flatten(x)[0])[0]
        probes = []
        for layer in self._dense_layers():
            middle = tuple(layer.input.shape[1:-1])
            if None in middle:
                raise ValueError(
                    "KFACModel needs static non-batch input shapes for its Dense layers. "
                    f"Received: layer {layer.name!r} with input shape {layer.input.shape}"
                )
            probes.append(ops.zeros((batch, *middle, layer.units), layer.compute_dtype))
        return probes

    def custom_train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.trainable_variables
        probes = self._probes(x)
        probe_ids = list(range(len(probes)))

        def loss_fn(*probes):
            y_pred, inputs = self._forward(x, probes)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            if self.fisher == "empirical":
                return loss, (y_pred, inputs)
            # The global batch: every replica's statistics are gathered below.
            batch = ops.cast(ops.shape(y_pred)[0] * _backends.replica_count(), y_pred.dtype)
            # d(sum(y_pred * u)) / ds is the vector-Jacobian product with u,
            # the loss gradient at targets sampled from the model.
            u = ops.stop_gradient(self._sampled_output_gradient(y_pred) / batch)
            return (loss, ops.sum(y_pred * u)), (y_pred, inputs)

        if self.fisher == "empirical":
            loss, (y_pred, inputs), grads = self.compute_gradients(
                loss_fn, variables + probe_ids, probes
            )
            grads, pre_grads = grads[: len(variables)], grads[len(variables) :]
        else:
            (loss, _), (y_pred, inputs), (grads, pre_grads) = self.compute_gradients(
                loss_fn, (variables, probe_ids), probes
            )
        if isinstance(self.optimizer, KFAC):
            if not self.optimizer.built:
                self.optimizer.build(variables)
            # The factors are the global batch's, the same on every replica (and on one device).
            inputs = [_backends.all_gather(a) for a in inputs]
            pre_grads = [_backends.all_gather(g) for g in pre_grads]
            names = [layer.name for layer in self._dense_layers()]
            self.optimizer.update_curvature(
                {n: (a, g) for n, a, g in zip(names, inputs, pre_grads)}
            )
        self.optimizer.apply(grads, variables)
        loss = self.unscale_loss_for_distribution(loss)
        return self.step_logs(loss, x, y, y_pred, sample_weight)
