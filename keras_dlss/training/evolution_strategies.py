"""Evolution strategies: training with loss evaluations only.

The gradient of the Gaussian-smoothed loss is estimated from antithetic pairs
of perturbations (Salimans et al. 2017, Algorithm 2 with mirrored sampling):

    g = 1 / (n sigma) * sum_i (F(theta + sigma eps_i) - F(theta - sigma eps_i)) eps_i,

with `n` loss evaluations (n / 2 pairs). With fitness shaping the raw losses
`F` are replaced by their centered ranks in [-0.5, 0.5], which makes the step
invariant to monotone transformations of the loss and robust to outliers. No
gradient of the loss is ever taken, so the loss can be non-differentiable
(0-1 error, a simulator's return, ...). The estimate is handed to any Keras
optimizer as a gradient.

References:
    Salimans et al., 2017. "Evolution Strategies as a Scalable Alternative to
    Reinforcement Learning". https://arxiv.org/abs/1703.03864
    Wierstra et al., 2014. "Natural Evolution Strategies". JMLR 15.
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.models import _backends
from keras_dlss.models.wrapper import WrapperModel


def centered_ranks(x):
    """Ranks of `x` (1-D) mapped linearly onto [-0.5, 0.5] (Salimans et al. 2017)."""
    n = ops.shape(x)[0]
    ranks = ops.cast(ops.argsort(ops.argsort(x)), "float32")
    return ranks / ops.cast(ops.maximum(n - 1, 1), "float32") - 0.5


def es_gradient(loss_fn, params, noise, sigma, fitness_shaping=True):
    """Antithetic ES estimate of the gradient of `loss_fn` at `params`.

    Args:
        loss_fn: callable mapping a list of tensors like `params` to a scalar.
        params: list of tensors.
        noise: list of tensors, one per param, each `[pairs, *param.shape]`
            standard normal.
        sigma: float > 0. Perturbation scale.
        fitness_shaping: bool. Use centered ranks instead of raw losses.

    Returns:
        `(grads, losses)`: a list like `params`, and the `[2 * pairs]` losses
        (the `+` half first).
    """
    losses = _population_losses(loss_fn, params, noise, float(sigma))
    return _estimate(losses, noise, float(sigma), fitness_shaping), losses


def _population_losses(loss_fn, params, noise, sigma):
    """The `[2 * pairs]` losses at `params + sigma * eps` (first half) and `- sigma * eps`."""

    def pair_losses(eps):
        plus = loss_fn([p + sigma * e for p, e in zip(params, eps)])
        minus = loss_fn([p - sigma * e for p, e in zip(params, eps)])
        return ops.stack([ops.cast(plus, "float32"), ops.cast(minus, "float32")])

    pair = ops.map(pair_losses, noise)  # [pairs, 2]
    return ops.concatenate([pair[:, 0], pair[:, 1]])


def _estimate(losses, noise, sigma, fitness_shaping):
    """The ES gradient estimate from the population's losses."""
    pairs = ops.shape(losses)[0] // 2
    utility = centered_ranks(losses) if fitness_shaping else losses
    weights = utility[:pairs] - utility[pairs:]
    scale = 1.0 / (2.0 * ops.cast(pairs, "float32") * sigma)
    grads = []
    for e in noise:
        w = ops.reshape(ops.cast(weights, e.dtype), (-1,) + (1,) * (len(e.shape) - 1))
        grads.append(ops.cast(scale, e.dtype) * ops.sum(w * e, axis=0))
    return grads


@keras.saving.register_keras_serializable(package="keras_dlss")
class EvolutionStrategiesModel(WrapperModel):
    """Wraps a model so that `fit` trains it by evolution strategies.

    `compile` it with any optimizer and any loss, differentiable or not; each
    training step evaluates the compiled loss at `population_size` perturbed
    weight vectors (antithetic pairs) on the batch and passes the ES gradient
    estimate to the optimizer. Non-trainable state (e.g. batch-norm statistics)
    is not updated by the perturbed evaluations. The step is a
    `keras_dlss.models.CustomStepModel` step (`stateless_call`, `ops.map`):
    it runs on TensorFlow, JAX and PyTorch and compiles with `jit_compile=True`.

    Args:
        model: the `keras.Model` to train.
        population_size: even int >= 2. Loss evaluations per step. Defaults to `50`.
        sigma: float > 0. Perturbation scale. Defaults to `0.05`.
        fitness_shaping: bool. Centered-rank fitness shaping. Defaults to `True`.
        seed: int or None. Seed of the perturbations.
        **kwargs: passed to `keras.Model`.

    Example:

    ```python
    inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model = keras_dlss.training.EvolutionStrategiesModel(inner, population_size=20, sigma=0.1)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mae")
    model.fit(x, y, epochs=5)
    ```

    References:
        Salimans et al., 2017. https://arxiv.org/abs/1703.03864
    """

    def __init__(
        self, model, population_size=50, sigma=0.05, fitness_shaping=True, seed=None, **kwargs
    ):
        check_positive_int("population_size", population_size, minimum=2)
        if population_size % 2:
            raise ValueError(
                "Argument `population_size` must be even (antithetic pairs). "
                f"Received: population_size={population_size}"
            )
        check_range("sigma", sigma, 0.0, low_inclusive=False)
        super().__init__(model, **kwargs)
        self.population_size = int(population_size)
        self.sigma = float(sigma)
        self.fitness_shaping = bool(fitness_shaping)
        self.seed = seed
        self._seed_generator = keras.random.SeedGenerator(seed)

    def custom_train_step(self, data):
        # No gradient is taken: the ES estimate goes straight to the optimizer.
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        inner = self.inner_model
        variables = inner.trainable_variables
        params = [ops.convert_to_tensor(v) for v in variables]
        frozen = [ops.convert_to_tensor(v) for v in inner.non_trainable_variables]
        pairs = self.population_size // 2
        noise = [
            keras.random.normal((pairs, *v.shape), dtype=v.dtype, seed=self._seed_generator)
            for v in variables
        ]

        def loss_fn(values):
            y_pred, _ = inner.stateless_call(values, frozen, x, training=False)
            return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)

        # Under tf.distribute every replica ranks the global batch's losses (their sum:
        # `compute_loss` divides each replica's by R) for the same perturbations (one seed
        # state); the summing optimizer then gets 1/R of the estimate from each replica.
        losses = _backends.cross_replica_sum(
            [_population_losses(loss_fn, params, noise, self.sigma)]
        )[0]
        grads = _estimate(losses, noise, self.sigma, self.fitness_shaping)
        grads = [_backends.scale_for_distribution(g) for g in grads]
        y_pred = self(x, training=False)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
        loss = self.unscale_loss_for_distribution(loss)
        self.optimizer.apply(grads, variables)
        return self.step_logs(loss, x, y, y_pred, sample_weight)

    def get_config(self):
        return {
            **super().get_config(),
            "population_size": self.population_size,
            "sigma": self.sigma,
            "fitness_shaping": self.fitness_shaping,
            "seed": self.seed,
        }
