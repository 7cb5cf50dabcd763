"""Variational autoencoders: `VAE` (Kingma & Welling 2014) and `ConditionalVAE` (Sohn et al. 2015).

Both take the user's networks and own the training step (the negative ELBO
with KL annealing and free bits, in `_latent.GaussianLatentModel`); a
Gaussian network outputs `2 * latent_dim` values, the mean then the
log-variance of z.

Why a conditional VAE (the curriculum's structured-prediction point): when
the target y is not a function of the input x (the bottom half of a digit
given its top half), a regressor trained with squared error predicts the
conditional *mean*, a blur of every plausible answer. The conditional VAE's
latent z carries what x does not determine about y: p(y | x) =
∫ p(y | x, z) p(z | x) dz, so sampling z from the conditional prior p(z | x)
gives distinct, sharp completions. Training uses the recognition network
q(z | x, y), which sees the answer, and the KL term pulls p(z | x) towards
it (Sohn et al. 2015, Eq. 4).

Design: the networks are arguments, not built here, as in Keras's own
`keras.Model` wrappers: users pick convolutional, recurrent or dense
networks, and `get_config` stores each one serialized. `call` is the
deterministic reconstruction / completion at the posterior or prior mean
(what `predict` and an exported SavedModel serve); `sample` draws.

References:
    - Kingma & Welling, "Auto-Encoding Variational Bayes", 2014.
      https://arxiv.org/abs/1312.6114
    - Sohn, Lee & Yan, "Learning Structured Output Representation using Deep
      Conditional Generative Models", NeurIPS 2015.
    - Burda, Grosse & Salakhutdinov, "Importance Weighted Autoencoders", 2016.
      https://arxiv.org/abs/1509.00519
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, shape_str
from keras_dlss.models._latent import (
    LIKELIHOODS,
    GaussianLatentModel,
    observation_log_likelihood,
    split_gaussian,
)
from keras_dlss.ops.gaussian import gaussian_sample

__all__ = ["ConditionalVAE", "VAE"]


def _check_network(name, network):
    if not isinstance(network, keras.layers.Layer):
        raise ValueError(
            f"Argument `{name}` must be a keras.Model or keras.layers.Layer. "
            f"Received: {name}={network!r}"
        )
    return network


def _check_latent(name, z, latent_dim):
    z = ops.convert_to_tensor(z)
    if len(z.shape) < 1 or (z.shape[-1] is not None and z.shape[-1] != latent_dim):
        raise ValueError(
            f"Argument `{name}` must have latent_dim={latent_dim} values in its last axis. "
            f"Received: {name}.shape={shape_str(z.shape)}"
        )
    return z


def _check_gaussian_network(name, network, latent_dim):
    """A built network's output must hold a mean and a log-variance for each latent unit."""
    outputs = getattr(network, "outputs", None) if network.built else None
    width = outputs[0].shape[-1] if outputs and len(outputs) == 1 else None
    if width is not None and width != 2 * latent_dim:
        raise ValueError(
            f"Argument `latent_dim` must be half the width of `{name}`'s output (a mean and a "
            f"log-variance per latent unit): `{name}` outputs {width} values. "
            f"Received: latent_dim={latent_dim}"
        )


def _serialize(network):
    return None if network is None else keras.saving.serialize_keras_object(network)


def _deserialize(config, key, custom_objects):
    value = config.get(key)
    if value is not None:
        config[key] = keras.saving.deserialize_keras_object(value, custom_objects=custom_objects)


class _NetworksMixin:
    """Serialization of the network arguments; `_NETWORKS` names them."""

    _NETWORKS = ()

    def get_config(self):
        config = super().get_config()
        config.update({k: _serialize(getattr(self, k)) for k in self._NETWORKS})
        config["likelihood"] = self.likelihood
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in cls._NETWORKS:
            _deserialize(config, key, custom_objects)
        return cls(**config)

    def _build_from(self, network, index):
        """Builds the model for the input shape of `network`'s input `index`, when known.

        `fit` never calls the model itself (the step calls the networks), so
        without this the input shape that export and reloading need would be
        recorded only by a first explicit call.
        """
        inputs = getattr(network, "inputs", None) if network.built else None
        if inputs:
            self.build((None, *inputs[min(index, len(inputs) - 1)].shape[1:]))

    def _output(self, decoded):
        return ops.sigmoid(decoded) if self.likelihood == "bernoulli" else decoded


@keras.saving.register_keras_serializable(package="keras_dlss")
class VAE(_NetworksMixin, GaussianLatentModel):
    """Variational autoencoder: encoder q(z | x), standard normal prior, decoder p(x | z).

    Trains with `fit(x)` on the negative ELBO; logs `loss`,
    `reconstruction_loss` (-log p(x | z), nats per example) and `kl`.

    Args:
        encoder: keras network `x -> [B, 2 * latent_dim]` (mean, log-variance).
        decoder: keras network `z [B, latent_dim] -> x`-shaped logits
            ("bernoulli") or means ("gaussian").
        latent_dim: int. Size of z.
        likelihood: "bernoulli" (x in [0, 1]) or "gaussian" (unit variance).
            Defaults to `"bernoulli"`.
        kl_weight: float. Final KL weight beta. Defaults to `1.0`.
        kl_warmup_steps: int. Steps over which beta rises from 0 (KL
            annealing). Defaults to `0`.
        free_bits: float. KL nats per example not penalized. Defaults to `0.0`.
        seed: int or None. Seed of the sampling noise.
        **kwargs: `keras.Model` arguments.

    Call: `x -> reconstruction` (decoded at the posterior mean; probabilities
    for "bernoulli").

    Example:

    ```python
    x = np.random.rand(64, 16).astype("float32")
    encoder = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(4)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16)])
    vae = keras_dlss.models.VAE(encoder, decoder, latent_dim=2, kl_warmup_steps=10, seed=0)
    vae.compile(optimizer="adam")
    vae.fit(x, epochs=1, batch_size=16, verbose=0)
    samples = vae.sample(4, seed=1)              # [4, 16] probabilities
    log_px = vae.importance_weighted_log_likelihood(x[:8], num_samples=16)
    ```

    References:
        Kingma & Welling 2014, https://arxiv.org/abs/1312.6114; Burda et al.
        2016, https://arxiv.org/abs/1509.00519.
    """

    _NETWORKS = ("encoder", "decoder")

    def __init__(self, encoder, decoder, latent_dim, likelihood="bernoulli", **kwargs):
        super().__init__(latent_dim, **kwargs)
        self.encoder = _check_network("encoder", encoder)
        self.decoder = _check_network("decoder", decoder)
        self.likelihood = check_one_of("likelihood", likelihood, LIKELIHOODS)
        _check_gaussian_network("encoder", self.encoder, self.latent_dim)
        self._build_from(self.encoder, 0)

    def posterior(self, x, y, training=None):
        return split_gaussian(self.encoder(x, training=training), self.latent_dim)

    def log_likelihood(self, x, y, z, training=None):
        return observation_log_likelihood(x, self.decoder(z, training=training), self.likelihood)

    def unpack(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x, None

    def call(self, x, training=None):
        mean, _ = self.posterior(x, None, training=training)
        return self._output(self.decoder(mean, training=training))

    def decode(self, z):
        """Decoder output for latent codes `z [B, latent_dim]` (probabilities for "bernoulli")."""
        return self._output(self.decoder(_check_latent("z", z, self.latent_dim), training=False))

    def sample(self, num_samples, seed=None):
        """`num_samples` draws x ~ p(x | z), z ~ N(0, I), shown as their decoder means."""
        num_samples = check_positive_int("num_samples", num_samples)
        z = keras.random.normal((num_samples, self.latent_dim), seed=seed)
        return self.decode(z)

    def importance_weighted_log_likelihood(self, x, num_samples=64, batch_size=256):
        """Importance-weighted estimate of log p(x) per example, in nats (Burda et al. 2016).

        `log (1/K) sum_k p(x, z_k) / q(z_k | x)` with K = `num_samples` draws
        from q; a lower bound on log p(x) that tightens as K grows (K = 1 is
        the ELBO). Returns a float64 NumPy array `[N]`.
        """
        return self._iwae(ops.convert_to_tensor(x), None, num_samples, batch_size)


@keras.saving.register_keras_serializable(package="keras_dlss")
class ConditionalVAE(_NetworksMixin, GaussianLatentModel):
    """Conditional VAE: recognition q(z | x, y), conditional prior p(z | x), decoder p(y | x, z).

    Trains with `fit(x, y)` on the conditional ELBO
    `E_q[log p(y | x, z)] - KL(q(z | x, y) || p(z | x))`.

    Args:
        recognition: keras network `[x, y] -> [B, 2 * latent_dim]`.
        prior: keras network `x -> [B, 2 * latent_dim]`, or None for a
            standard normal prior independent of x.
        decoder: keras network `[x, z] -> y`-shaped logits ("bernoulli") or
            means ("gaussian").
        latent_dim: int. Size of z.
        likelihood: "bernoulli" or "gaussian". Defaults to `"bernoulli"`.
        kl_weight, kl_warmup_steps, free_bits, seed: as in `VAE`.
        **kwargs: `keras.Model` arguments.

    Call: `x -> y` decoded at the prior mean of z (a deterministic
    completion); `sample(x, num_samples)` draws diverse ones.

    Example:

    ```python
    x, y = np.random.rand(32, 6).astype("float32"), np.random.rand(32, 4).astype("float32")
    xi, yi, zi = keras.Input((6,)), keras.Input((4,)), keras.Input((2,))
    recognition = keras.Model([xi, yi], keras.layers.Dense(4)(keras.layers.Concatenate()([xi, yi])))
    prior = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4)])
    decoder = keras.Model([xi, zi], keras.layers.Dense(4)(keras.layers.Concatenate()([xi, zi])))
    cvae = keras_dlss.models.ConditionalVAE(recognition, prior, decoder, latent_dim=2, seed=0)
    cvae.compile(optimizer="adam")
    cvae.fit(x, y, epochs=1, batch_size=16, verbose=0)
    completions = cvae.sample(x[:3], num_samples=5, seed=0)   # [5, 3, 4]
    ```

    References:
        Sohn, Lee & Yan, NeurIPS 2015, "Learning Structured Output
        Representation using Deep Conditional Generative Models".
    """

    _NETWORKS = ("recognition", "prior_network", "decoder")

    def __init__(
        self, recognition, prior_network, decoder, latent_dim, likelihood="bernoulli", **kwargs
    ):
        super().__init__(latent_dim, **kwargs)
        self.recognition = _check_network("recognition", recognition)
        self.prior_network = (
            None if prior_network is None else _check_network("prior_network", prior_network)
        )
        self.decoder = _check_network("decoder", decoder)
        self.likelihood = check_one_of("likelihood", likelihood, LIKELIHOODS)
        _check_gaussian_network("recognition", self.recognition, self.latent_dim)
        if self.prior_network is not None:
            _check_gaussian_network("prior_network", self.prior_network, self.latent_dim)
        self._build_from(self.decoder, 0)

    def posterior(self, x, y, training=None):
        return split_gaussian(self.recognition([x, y], training=training), self.latent_dim)

    def prior(self, x, training=None):
        if self.prior_network is None:
            return None, None
        return split_gaussian(self.prior_network(x, training=training), self.latent_dim)

    def log_likelihood(self, x, y, z, training=None):
        decoded = self.decoder([x, z], training=training)
        return observation_log_likelihood(y, decoded, self.likelihood)

    def _prior_params(self, x):
        mean, log_var = self.prior(x, training=False)
        if mean is None:
            batch = ops.shape(keras.tree.flatten(x)[0])[0]
            mean = ops.zeros((batch, self.latent_dim), self.compute_dtype)
            log_var = ops.zeros_like(mean)
        return mean, log_var

    def call(self, x, training=None):
        mean, _ = self._prior_params(x)
        return self._output(self.decoder([x, mean], training=training))

    def decode(self, x, z):
        """Decoder output for conditions `x` and latent codes `z [B, latent_dim]`."""
        z = _check_latent("z", z, self.latent_dim)
        return self._output(self.decoder([x, z], training=False))

    def sample(self, x, num_samples=1, seed=None, noise=None):
        """Draws y ~ p(y | x, z), z ~ p(z | x): `[num_samples, B, ...]` decoder means.

        Args:
            x: conditions `[B, ...]`.
            num_samples: int. Samples per condition.
            seed: int, SeedGenerator or None.
            noise: optional fixed standard-normal noise `[num_samples, B,
                latent_dim]` (reproducible samples, export parity).
        """
        num_samples = check_positive_int("num_samples", num_samples)
        x = ops.convert_to_tensor(x)
        mean, log_var = self._prior_params(x)
        if noise is None:
            noise = keras.random.normal((num_samples, *mean.shape), seed=seed)
        noise = _check_latent("noise", noise, self.latent_dim)
        return ops.stack(
            [
                self.decode(x, gaussian_sample(mean, log_var, noise=noise[i]))
                for i in range(num_samples)
            ]
        )

    def importance_weighted_log_likelihood(self, x, y, num_samples=64, batch_size=256):
        """Importance-weighted estimate of log p(y | x) per example (nats), float64 `[N]`.

        Samples z from the recognition network q(z | x, y) and weighs each by
        p(z | x) / q(z | x, y) (Sohn et al. 2015, Eq. 11; Burda et al. 2016).
        """
        return self._iwae(
            ops.convert_to_tensor(x), ops.convert_to_tensor(y), num_samples, batch_size
        )
