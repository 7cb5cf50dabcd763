"""Sharpness-aware minimization (SAM).

SAM minimises the worst loss in an L2 ball of radius `rho` around the weights.
One step is an ascent to the (first-order) worst point followed by a descent
with the gradient taken there:

    e(w) = rho * T(w)^2 g / ||T(w) g||,   T(w) = I (SAM) or |w| (adaptive SAM)
    w   <- base_update(w, grad L(w + e(w)))

The second gradient has to be computed by the model, so the step is split:
`SAM.perturb(grads, variables)` performs the ascent and remembers `e`, and
`SAM.apply(grads, variables)` undoes it and hands the new gradient to the base
optimizer. `keras_dlss.optimizers.SAMModel` wraps any model with a `train_step`
that calls both on the same batch, so SAM is used through `compile`/`fit`:

    model = SAMModel(model)
    model.compile(optimizer=SAM(keras.optimizers.SGD(0.1), rho=0.05), loss="mse")
    model.fit(x, y)

References:
    Foret et al., 2021. "Sharpness-Aware Minimization for Efficiently Improving
    Generalization". https://arxiv.org/abs/2010.01412
    Kwon et al., 2021. "ASAM: Adaptive Sharpness-Aware Minimization".
    https://arxiv.org/abs/2102.11600
"""

import keras
from keras import ops

from keras_dlss._validation import check_range
from keras_dlss.models import _backends
from keras_dlss.models.wrapper import WrapperModel


def sam_perturbation(grads, variables, rho, adaptive=False, epsilon=1e-12):
    """The SAM ascent direction `e(w)` (Foret et al. 2021, eq. 2).

    Args:
        grads: list of gradient tensors (None entries are skipped).
        variables: list of the matching weights (used when `adaptive`).
        rho: float. Radius of the neighbourhood.
        adaptive: bool. Scale by `|w|` (ASAM, Kwon et al. 2021).
        epsilon: float. Guards the division by the gradient norm.

    Returns:
        A list like `grads` holding `e(w)` (None where the gradient is None).
    """
    scaled = []
    for g, v in zip(grads, variables):
        if g is None:
            scaled.append(None)
        elif adaptive:
            scaled.append(ops.abs(ops.convert_to_tensor(v)) * g)
        else:
            scaled.append(g)
    squares = [ops.sum(ops.square(ops.cast(s, "float32"))) for s in scaled if s is not None]
    norm = ops.sqrt(ops.sum(ops.stack(squares))) + epsilon
    out = []
    for s, v in zip(scaled, variables):
        if s is None:
            out.append(None)
            continue
        e = ops.cast(rho / norm, s.dtype) * s
        if adaptive:
            e = ops.abs(ops.convert_to_tensor(v)) * e
        out.append(e)
    return out


@keras.saving.register_keras_serializable(package="keras_dlss")
class SAM(keras.optimizers.Optimizer):
    """Sharpness-aware minimization around any Keras optimizer.

    Use with `keras_dlss.optimizers.SAMModel`, whose training step computes the
    two gradients SAM needs on each batch. Called from a plain `Model`, the
    optimizer cannot compute the second gradient and raises a `RuntimeError`.

    Args:
        base_optimizer: a `keras.optimizers.Optimizer` (or its identifier) that
            makes the descent step.
        rho: float >= 0. Neighbourhood radius. Defaults to `0.05`.
        adaptive: bool. Adaptive SAM (scale-invariant radius). Defaults to `False`.
        epsilon: float > 0. Numerical guard. Defaults to `1e-12`.
        name: string. Defaults to `"sam"`.

    Example:

    ```python
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model = keras_dlss.optimizers.SAMModel(inner)
    model.compile(optimizer=keras_dlss.optimizers.SAM("sgd", rho=0.05), loss="mse")
    model.fit(np.ones((8, 4)), np.ones((8, 1)), epochs=1, verbose=0)
    ```

    References:
        Foret et al., 2021. https://arxiv.org/abs/2010.01412
    """

    def __init__(
        self, base_optimizer, rho=0.05, adaptive=False, epsilon=1e-12, name="sam", **kwargs
    ):
        check_range("rho", rho, 0.0)
        check_range("epsilon", epsilon, 0.0, low_inclusive=False)
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.base_optimizer = keras.optimizers.get(base_optimizer)
        self.rho = float(rho)
        self.adaptive = bool(adaptive)
        self.epsilon = float(epsilon)
        self._perturbed = False

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.base_optimizer.build(var_list)
        self._perturbations = [
            self.add_variable_from_reference(v, name="sam_perturbation") for v in var_list
        ]

    @property
    def variables(self):
        return self._variables + self.base_optimizer.variables

    @property
    def learning_rate(self):
        return self.base_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.base_optimizer.learning_rate = value

    @property
    def iterations(self):
        return self.base_optimizer.iterations

    def perturb(self, grads, trainable_variables):
        """Ascent step: `w <- w + e(w)`; remembers `e` for `apply`."""
        if not self.built:
            self.build(trainable_variables)
        es = sam_perturbation(grads, trainable_variables, self.rho, self.adaptive, self.epsilon)
        for e, v in zip(es, trainable_variables):
            if e is None:
                continue
            slot = self._perturbations[self._get_variable_index(v)]
            self.assign(slot, e)
            self.assign_add(v, e)
        self._perturbed = True

    def apply(self, grads, trainable_variables=None):
        """Descent step: undo the ascent, then apply the base optimizer."""
        if not self._perturbed:
            raise RuntimeError(
                "SAM needs the gradient at the perturbed weights, which only the model can "
                "compute: wrap the model in `keras_dlss.optimizers.SAMModel(model)` before "
                "`compile`, or call `SAM.perturb(grads, variables)` before `apply` in a "
                "custom training loop."
            )
        if not self.built:
            self.build(trainable_variables)
        for v in trainable_variables:
            slot = self._perturbations[self._get_variable_index(v)]
            self.assign_sub(v, slot)
            self.assign(slot, ops.zeros(slot.shape, slot.dtype))
        self.base_optimizer.apply(grads, trainable_variables)
        self._perturbed = False

    def apply_gradients(self, grads_and_vars):
        grads, variables = zip(*grads_and_vars)
        self.apply(list(grads), list(variables))
        return self.iterations

    def finalize_variable_values(self, var_list):
        self.base_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        return {
            "name": self.name,
            "base_optimizer": keras.saving.serialize_keras_object(self.base_optimizer),
            "rho": self.rho,
            "adaptive": self.adaptive,
            "epsilon": self.epsilon,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["base_optimizer"] = keras.saving.deserialize_keras_object(
            config["base_optimizer"], custom_objects=custom_objects
        )
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_dlss")
class SAMModel(WrapperModel):
    """Wraps a model so that `fit` runs SAM's two gradient evaluations per batch.

    Compile it with a `SAM` optimizer. Both gradients are taken on the same
    batch, as in the paper; the step (`keras_dlss.models.CustomStepModel`)
    runs on TensorFlow, JAX and PyTorch. Inference, `evaluate` and saving behave like the
    wrapped model (`SAMModel.inner_model`).

    Args:
        model: the `keras.Model` to train.
        **kwargs: passed to `keras.Model`.

    Example:

    ```python
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model = keras_dlss.optimizers.SAMModel(inner)
    model.compile(optimizer=keras_dlss.optimizers.SAM(keras.optimizers.Adam(1e-3)), loss="mse")
    ```
    """

    def custom_train_step(self, data):
        if not isinstance(self.optimizer, SAM):
            raise ValueError(
                "SAMModel must be compiled with a `keras_dlss.optimizers.SAM` optimizer. "
                f"Received: optimizer={self.optimizer!r}"
            )
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.trainable_variables

        def loss_fn():
            y_pred = self(x, training=True)
            loss = self.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True
            )
            return loss, y_pred

        loss, y_pred, grads = self.compute_gradients(loss_fn, variables)
        # The ascent uses the global batch's gradient, as on one device; each replica's own
        # (Foret et al.'s per-accelerator "m-sharpness") would make the result depend on R.
        grads = _backends.cross_replica_sum(grads)
        self.optimizer.perturb(grads, variables)  # ascent: w + e(w)
        _, _, grads_adv = self.compute_gradients(loss_fn, variables)  # same batch, perturbed w
        self.optimizer.apply(grads_adv, variables)
        loss = self.unscale_loss_for_distribution(loss)
        return self.step_logs(loss, x, y, y_pred, sample_weight)
