"""What every Gaussian latent-variable model here shares (internal): the ELBO step.

`VAE`, `ConditionalVAE` and `applications.MusicVAE` differ only in their
networks: where the posterior q(z | x, y), the prior p(z | x) and the
likelihood p(y | x, z) come from. This base owns the rest, written once:

* the training objective, the negative evidence lower bound
  `-E_q[log p(y | x, z)] + beta * KL(q(z | x, y) || p(z | x))` (Kingma &
  Welling 2014, Eq. 3; Sohn et al. 2015, Eq. 4), with one reparameterized
  sample per example;
* KL annealing: `beta` rises linearly from 0 to `kl_weight` over
  `kl_warmup_steps` optimizer steps (Bowman et al. 2016), read from
  `optimizer.iterations`, so it is part of the compiled step and of the
  saved state, with no callback to remember;
* free bits (Kingma et al. 2016; MusicVAE's recipe): KL below `free_bits`
  nats per example is not penalized, so the posterior is not pushed onto
  the prior before the decoder learns to use z;
* the importance-weighted estimate of log p(y | x) (Burda et al. 2016), a
  tighter bound than the ELBO, for evaluation.

A subclass implements `posterior(x, y, training)`, `prior(x, training)`
(None for the standard normal) and `log_likelihood(x, y, z, training)`.
The step is a `CustomStep` step, so it runs on TensorFlow, JAX and PyTorch.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.models import _backends
from keras_dlss.models.custom_step import CustomStepModel
from keras_dlss.ops.gaussian import (
    gaussian_kl_divergence,
    gaussian_log_likelihood,
    gaussian_sample,
)

LIKELIHOODS = ("bernoulli", "gaussian")


def observation_log_likelihood(target, output, likelihood):
    """log p(target | decoder output), summed over every axis but the batch.

    "bernoulli": `output` are logits and `target` lies in [0, 1] (grey levels
    are the usual relaxation for images); "gaussian": `output` is the mean of
    a unit-variance Gaussian.
    """
    target = ops.cast(target, output.dtype)
    batch = ops.shape(output)[0]
    target, output = ops.reshape(target, (batch, -1)), ops.reshape(output, (batch, -1))
    if likelihood == "bernoulli":
        # -BCE with logits, in the numerically stable form max(l, 0) - l t + log(1 + e^-|l|).
        bce = ops.relu(output) - output * target + ops.log1p(ops.exp(-ops.abs(output)))
        return -ops.sum(bce, axis=-1)
    return gaussian_log_likelihood(target, output, ops.zeros_like(output))


def split_gaussian(params, latent_dim):
    """`(mean, log_variance)` from a network output `[B, 2 * latent_dim]`."""
    if params.shape[-1] is not None and params.shape[-1] != 2 * latent_dim:
        raise ValueError(
            f"A Gaussian network must output 2 * latent_dim = {2 * latent_dim} values (mean "
            f"and log-variance). Received: output shape {tuple(params.shape)}"
        )
    return params[..., :latent_dim], params[..., latent_dim:]


class GaussianLatentModel(CustomStepModel):
    """Base of the variational models: the ELBO step, annealing, free bits, IWAE.

    Args:
        latent_dim: int. Size of z.
        kl_weight: float >= 0. Final weight `beta` of the KL term.
        kl_warmup_steps: int >= 0. Steps over which `beta` rises from 0.
        free_bits: float >= 0. KL nats per example that are not penalized.
        seed: int or None, for the reparameterization noise.
    """

    def __init__(
        self, latent_dim, kl_weight=1.0, kl_warmup_steps=0, free_bits=0.0, seed=None, **kwargs
    ):
        super().__init__(**kwargs)
        self.latent_dim = check_positive_int("latent_dim", latent_dim)
        self.kl_weight = float(check_range("kl_weight", kl_weight, 0.0))
        self.kl_warmup_steps = check_positive_int("kl_warmup_steps", kl_warmup_steps, minimum=0)
        self.free_bits = float(check_range("free_bits", free_bits, 0.0))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl")

    def build(self, input_shape):
        # The networks arrive built (or build on first use); building through Keras
        # records the input shape, which export and reloading need.
        self.built = True

    # ---------------------------------------------------------------- hooks

    def posterior(self, x, y, training=None):
        """`(mean, log_variance)` of q(z | x, y)."""
        raise NotImplementedError

    def prior(self, x, training=None):
        """`(mean, log_variance)` of p(z | x), or `(None, None)` for N(0, I)."""
        return None, None

    def log_likelihood(self, x, y, z, training=None):
        """`log p(y | x, z)` per example, `[B]`."""
        raise NotImplementedError

    def unpack(self, data):
        """`(x, y)` from a batch: the condition and the target of the model."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x, y

    # ---------------------------------------------------------------- objective

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def kl_beta(self):
        """The current KL weight: `kl_weight`, ramped linearly over `kl_warmup_steps`."""
        if self.kl_warmup_steps == 0 or getattr(self, "optimizer", None) is None:
            return ops.convert_to_tensor(self.kl_weight)
        step = ops.cast(self.optimizer.iterations, "float32") + 1.0
        return self.kl_weight * ops.minimum(1.0, step / float(self.kl_warmup_steps))

    def elbo_terms(self, x, y, training=None, noise=None):
        """`(log p(y | x, z), KL(q || p))` per example, with z ~ q reparameterized."""
        mean, log_var = self.posterior(x, y, training=training)
        prior_mean, prior_log_var = self.prior(x, training=training)
        if noise is None:  # each replica's share of the global batch's noise
            noise = _backends.replica_random(
                lambda n: keras.random.normal(
                    (n, *ops.shape(mean)[1:]), dtype=mean.dtype, seed=self.seed_generator
                ),
                ops.shape(mean)[0],
            )
        z = gaussian_sample(mean, log_var, noise=noise)
        reconstruction = self.log_likelihood(x, y, z, training=training)
        kl = gaussian_kl_divergence(mean, log_var, prior_mean, prior_log_var)
        return reconstruction, kl

    def _objective(self, x, y, training):
        reconstruction, kl = self.elbo_terms(x, y, training=training)
        penalized = ops.maximum(kl - self.free_bits, 0.0) if self.free_bits else kl
        loss = ops.mean(-reconstruction + self.kl_beta() * penalized)
        loss = loss + (ops.sum(self.losses) if self.losses else 0.0)
        return loss, (ops.mean(-reconstruction), ops.mean(kl))

    def _logs(self, loss, reconstruction, kl):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def custom_train_step(self, data):
        x, y = self.unpack(data)
        variables = self.trainable_variables

        def loss_fn():
            loss, terms = self._objective(x, y, True)
            return self.scale_loss_for_distribution(loss), (loss, terms)

        _, (loss, (reconstruction, kl)), grads = self.compute_gradients(loss_fn, variables)
        self.optimizer.apply(grads, variables)
        return self._logs(loss, reconstruction, kl)

    def custom_test_step(self, data):
        x, y = self.unpack(data)
        loss, (reconstruction, kl) = self._objective(x, y, False)
        return self._logs(loss, reconstruction, kl)

    # ---------------------------------------------------------------- evaluation

    def _log_weights(self, x, y):
        """One importance weight log p(y|x,z) + log p(z|x) - log q(z|x,y), z ~ q, per example."""
        mean, log_var = self.posterior(x, y, training=False)
        prior_mean, prior_log_var = self.prior(x, training=False)
        if prior_mean is None:
            prior_mean, prior_log_var = ops.zeros_like(mean), ops.zeros_like(log_var)
        z = gaussian_sample(mean, log_var, seed=self.seed_generator)
        return (
            self.log_likelihood(x, y, z, training=False)
            + gaussian_log_likelihood(z, prior_mean, prior_log_var)
            - gaussian_log_likelihood(z, mean, log_var)
        )

    def _iwae(self, x, y, num_samples, batch_size):
        num_samples = check_positive_int("num_samples", num_samples)
        batch_size = check_positive_int("batch_size", batch_size)
        first = keras.tree.flatten(y if x is None else x)[0]
        n = int(first.shape[0])
        if n == 0:
            raise ValueError(
                f"Argument `data` must hold at least one example. Received: data with {n} examples"
            )
        out = []
        for start in range(0, n, batch_size):

            def part(t, start=start):
                return (
                    None
                    if t is None
                    else keras.tree.map_structure(lambda a: a[start : start + batch_size], t)
                )

            xb, yb = part(x), part(y)
            logw = np.stack(
                [ops.convert_to_numpy(self._log_weights(xb, yb)) for _ in range(num_samples)]
            ).astype("float64")
            peak = logw.max(axis=0)
            out.append(peak + np.log(np.mean(np.exp(logw - peak), axis=0)))
        return np.concatenate(out)

    # ---------------------------------------------------------------- serialization

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "kl_weight": self.kl_weight,
            "kl_warmup_steps": self.kl_warmup_steps,
            "free_bits": self.free_bits,
            "seed": self.seed,
        }
