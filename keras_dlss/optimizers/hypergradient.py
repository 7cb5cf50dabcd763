"""Hypergradient descent: online learning-rate adaptation.

Baydin, Cornish, Martínez Rubio, Schmidt and Wood, "Online Learning Rate
Adaptation with Hypergradient Descent", ICLR 2018 (arXiv:1703.04782).

The update θ_t = θ_{t-1} − α u_{t-1}(α) depends on the learning rate α, so the
loss's derivative with respect to α is available for free from two consecutive
steps: ∂f(θ_t)/∂α = −∇f(θ_t) · u_{t-1}. Gradient descent on α with the
hyper-learning-rate β gives (Eq. 5 for SGD, Algorithm 3 for Adam)

    α_t = α_{t-1} + β ∇f(θ_t) · u_{t-1},

a dot product over *all* variables: α grows while consecutive steps agree and
shrinks when they oscillate. `u` is the raw gradient for SGD and the
bias-corrected Adam direction m̂ / (√v̂ + ε) for Adam.

The Keras optimizers here are thin shells over Keras `SGD` / `Adam`: `apply`
first computes the global dot product and assigns the new α to the
`learning_rate` variable, then the parent update runs with it and each variable
stores its direction for the next step.
"""

import keras
from keras import ops

from keras_dlss._validation import check_range


def hypergradient(gradients, previous_directions):
    """∇f(θ_t) · u_{t-1} summed over all variables (a scalar float32 tensor)."""
    total = ops.zeros((), "float32")
    for g, u in zip(gradients, previous_directions):
        if g is None or u is None:
            continue
        g = ops.cast(ops.convert_to_tensor(g), "float32")
        total = total + ops.sum(g * ops.cast(u, "float32"))
    return total


def updated_learning_rate(learning_rate, hypergrad, hypergradient_lr, min_learning_rate):
    """α_t = max(α_{t-1} + β h_t, α_min) (Baydin et al. 2018, Eq. 5)."""
    new = ops.cast(learning_rate, "float32") + hypergradient_lr * hypergrad
    return ops.maximum(new, min_learning_rate)


def adam_direction(m, v, beta_1_power, beta_2_power, epsilon):
    """Adam's step per unit learning rate, √(1−β₂ᵗ)/(1−β₁ᵗ) · m / (√v + ε), as Keras applies it."""
    return ops.sqrt(1 - beta_2_power) / (1 - beta_1_power) * m / (ops.sqrt(v) + epsilon)


class _Hypergradient:
    """Shared shell: the global learning-rate step before the parent's update."""

    def _init_hypergradient(self, hypergradient_lr, min_learning_rate):
        check_range("hypergradient_lr", hypergradient_lr, 0)
        check_range("min_learning_rate", min_learning_rate, 0)
        if not isinstance(self._learning_rate, keras.Variable):
            raise ValueError(
                "Argument `learning_rate` must be a float for hypergradient descent (it is "
                f"the initial value of the adapted rate). Received: {self._learning_rate!r}"
            )
        if self.gradient_accumulation_steps:
            raise ValueError(
                "Hypergradient optimizers do not support gradient accumulation. Received: "
                f"gradient_accumulation_steps={self.gradient_accumulation_steps}"
            )
        self.hypergradient_lr = float(hypergradient_lr)
        self.min_learning_rate = float(min_learning_rate)

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._directions = self.add_optimizer_variables(variables, "hypergradient_direction")

    def apply(self, grads, trainable_variables=None):
        if not self.built and trainable_variables is not None:
            with keras.name_scope(self.name, caller=self):
                self.build(list(trainable_variables))
        variables = (
            self._trainable_variables if trainable_variables is None else trainable_variables
        )
        previous = [self._directions[self._get_variable_index(v)] for v in variables]
        h = hypergradient(grads, previous)
        self._learning_rate.assign(
            updated_learning_rate(
                self._learning_rate, h, self.hypergradient_lr, self.min_learning_rate
            )
        )
        return super().apply(grads, trainable_variables)

    def get_config(self):
        config = super().get_config()
        # The adapted rate is state (saved with the optimizer variables); the
        # config keeps the initial value.
        config["learning_rate"] = self._initial_learning_rate
        config.update(
            {"hypergradient_lr": self.hypergradient_lr, "min_learning_rate": self.min_learning_rate}
        )
        return config


@keras.saving.register_keras_serializable(package="keras_dlss")
class HypergradientSGD(_Hypergradient, keras.optimizers.SGD):
    """SGD whose learning rate is learned online by hypergradient descent (SGD-HD).

    α_t = α_{t-1} + β ∇f(θ_t)·∇f(θ_{t-1}), then θ_t+1 = θ_t − α_t ∇f(θ_t). The
    current rate is `optimizer.learning_rate` (logged as `learning_rate` by
    `keras_dlss.callbacks.LearningRateLogger` and by Keras's TensorBoard callback).
    With momentum, the hypergradient uses the raw gradients (the paper's
    one-step approximation).

    Args:
        learning_rate: float. Initial learning rate α₀. Defaults to `0.01`.
        hypergradient_lr: float >= 0. The hyper-learning-rate β. Defaults to `1e-3`
            (the paper's value for SGD-HD).
        min_learning_rate: float >= 0. Lower bound on α. Defaults to `0.0`.
        momentum, nesterov: as in `keras.optimizers.SGD`.
        **kwargs: other `keras.optimizers.Optimizer` arguments (`clipnorm`, ...).

    Example:

    ```python
    model.compile(optimizer=HypergradientSGD(0.01, hypergradient_lr=1e-3), loss="mse")
    model.fit(x, y, callbacks=[keras_dlss.callbacks.LearningRateLogger()])
    ```

    References:
        Baydin et al., 2018, https://arxiv.org/abs/1703.04782
    """

    def __init__(
        self,
        learning_rate=0.01,
        hypergradient_lr=1e-3,
        min_learning_rate=0.0,
        momentum=0.0,
        nesterov=False,
        name="hypergradient_sgd",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, momentum=momentum, nesterov=nesterov, name=name, **kwargs
        )
        self._initial_learning_rate = learning_rate
        self._init_hypergradient(hypergradient_lr, min_learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        super().update_step(gradient, variable, learning_rate)
        direction = self._directions[self._get_variable_index(variable)]
        self.assign(direction, ops.cast(gradient, direction.dtype))


@keras.saving.register_keras_serializable(package="keras_dlss")
class HypergradientAdam(_Hypergradient, keras.optimizers.Adam):
    """Adam whose learning rate is learned online by hypergradient descent (Adam-HD).

    α_t = α_{t-1} + β ∇f(θ_t)·u_{t-1}, with u the bias-corrected Adam direction
    (Baydin et al. 2018, Algorithm 3); then the usual Adam step with α_t.

    Args:
        learning_rate: float. Initial learning rate α₀. Defaults to `1e-3`.
        hypergradient_lr: float >= 0. The hyper-learning-rate β. Defaults to `1e-7`
            (the paper's value for Adam-HD).
        min_learning_rate: float >= 0. Lower bound on α. Defaults to `0.0`.
        beta_1, beta_2, epsilon, amsgrad: as in `keras.optimizers.Adam`.
        **kwargs: other `keras.optimizers.Optimizer` arguments.

    Example:

    ```python
    model.compile(optimizer=HypergradientAdam(1e-3, hypergradient_lr=1e-7), loss="mse")
    ```

    References:
        Baydin et al., 2018, https://arxiv.org/abs/1703.04782
    """

    def __init__(
        self,
        learning_rate=1e-3,
        hypergradient_lr=1e-7,
        min_learning_rate=0.0,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        name="hypergradient_adam",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            name=name,
            **kwargs,
        )
        self._initial_learning_rate = learning_rate
        self._init_hypergradient(hypergradient_lr, min_learning_rate)

    def update_step(self, gradient, variable, learning_rate):
        super().update_step(gradient, variable, learning_rate)
        index = self._get_variable_index(variable)
        v = self._velocity_hats[index] if self.amsgrad else self._velocities[index]
        step = ops.cast(self.iterations + 1, variable.dtype)
        direction = adam_direction(
            self._momentums[index],
            v,
            ops.power(ops.cast(self.beta_1, variable.dtype), step),
            ops.power(ops.cast(self.beta_2, variable.dtype), step),
            self.epsilon,
        )
        self.assign(self._directions[index], direction)
