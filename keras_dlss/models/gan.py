"""`GAN`: a generator and a discriminator trained against each other with `fit`.

Goodfellow et al. 2014; the losses of `keras_dlss.losses.gan`, the R1 and WGAN
gradient penalties of `keras_dlss.ops.gradient_penalty`, and an exponential
moving average (EMA) of the generator's weights for sampling (Yazıcı et al.
2019; Karras et al. 2018).

How the two optimizers are compiled, and why. `compile(generator_optimizer=,
discriminator_optimizer=)` makes the generator's optimizer `model.optimizer`
(so Keras's own machinery — `fit`'s JAX state, saving, `iterations` — treats
the generator step as "the" step) and the discriminator's an
`extra_optimizers()` entry of `CustomStep`, which carries it through a
compiled JAX step. Each is built in `compile` over its own player's variables
only, so neither can touch the other's weights, its slots hold only its own
player, and a saved model restores both with their state. Rejected: one
optimizer over both players with masked gradients (Adam moves weights on zero
gradients through its momentum, and one learning rate is a poor default for
two players, TTUR: Heusel et al. 2017), and Keras's tutorial route of two
optimizers set as plain attributes (not restored by `load_model`, and lost by
a JAX-compiled step).

One training step (one batch of real data) runs `discriminator_steps`
discriminator updates, each with fresh noise and the same real batch, then one
generator update with fresh noise (alternating updates: the generator sees
the discriminator it has just been trained against). Real and generated
examples go through the discriminator in one call, concatenated: one pass
instead of two. Penalized discriminators must therefore not use BatchNorm in
training mode (the penalties assume examples do not interact anyway).
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range, shape_str
from keras_dlss.losses.gan import GAN_LOSSES, discriminator_loss, generator_loss
from keras_dlss.models import _backends
from keras_dlss.models.custom_step import CustomStepModel
from keras_dlss.ops.gradient_penalty import r1_penalty, wgan_gradient_penalty

MODEL_LOSSES = tuple(k for k in GAN_LOSSES if k != "wasserstein") + ("wasserstein_gp",)
PENALTIES = (None, "r1", "wgan")
_DEFAULT_PENALTY_WEIGHT = {"r1": 10.0, "wgan": 10.0}


def _check_player(name, player):
    if not isinstance(player, keras.layers.Layer):
        raise ValueError(
            f"Argument `{name}` must be a keras.Model or keras.layers.Layer. "
            f"Received: {name}={player!r}"
        )
    if not player.built:
        raise ValueError(
            f"Argument `{name}` must be built (give it a `keras.Input` or call `build`). "
            f"Received: an unbuilt {name} {player.name!r}"
        )


@keras.saving.register_keras_serializable(package="keras_dlss")
class GAN(CustomStepModel):
    """A generative adversarial network whose `fit` trains both players.

    `model(z)` (and `predict`, `export`) map noise to samples with the EMA
    generator when `ema_decay` is set, the trained generator otherwise;
    `sample(n, seed)` draws `n` samples. Logs: `d_loss`, `g_loss`, `d_real`
    and `d_fake` (mean discriminator outputs on real and generated data),
    `penalty` when a gradient penalty is on, and `loss` (their sum, for tools
    that expect one number; it does not measure sample quality).

    Args:
        generator: built Keras model mapping `[batch, latent_dim]` noise to samples.
        discriminator: built Keras model mapping samples to `[batch, 1]` logits
            (critic scores for `"wasserstein_gp"`).
        latent_dim: int or None. Noise size; None reads it from the
            generator's input shape. Defaults to `None`.
        loss: one of `"non_saturating"`, `"minimax"`, `"hinge"`,
            `"least_squares"`, `"wasserstein_gp"`. Defaults to `"non_saturating"`.
        discriminator_steps: int. Discriminator updates per generator update.
            Defaults to `1`.
        gradient_penalty: None, `"r1"` or `"wgan"`; `"wasserstein_gp"` implies
            `"wgan"`. Defaults to `None`.
        penalty_weight: float or None: λ of WGAN-GP, γ of R1 (which adds γ/2
            times the penalty). None: 10. Defaults to `None`.
        ema_decay: float in [0, 1) or None. Decay of the generator's weight
            average used for sampling (warmed up as `min(decay, (1+t)/(10+t))`).
            Defaults to `None`.
        seed: int or None. Seed of the training noise. Defaults to `None`.
        **kwargs: passed to `keras.Model`.

    Example:

    ```python
    gen = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(2)])
    disc = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(1)])
    gan = keras_dlss.models.GAN(gen, disc, loss="hinge", ema_decay=0.99, seed=0)
    gan.compile(generator_optimizer=keras.optimizers.Adam(1e-3),
                discriminator_optimizer=keras.optimizers.Adam(1e-3))
    gan.fit(np.random.normal(size=(64, 2)).astype("float32"), epochs=1, batch_size=32, verbose=0)
    assert gan.sample(5, seed=1).shape == (5, 2)
    ```

    References:
        Goodfellow et al., "Generative adversarial nets", NeurIPS 2014,
        https://arxiv.org/abs/1406.2661.
    """

    def __init__(
        self,
        generator,
        discriminator,
        latent_dim=None,
        loss="non_saturating",
        discriminator_steps=1,
        gradient_penalty=None,
        penalty_weight=None,
        ema_decay=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_player("generator", generator)
        _check_player("discriminator", discriminator)
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = self._resolve_latent_dim(latent_dim)
        self.loss_kind = check_one_of("loss", loss, MODEL_LOSSES)
        self.discriminator_steps = check_positive_int("discriminator_steps", discriminator_steps)
        if loss == "wasserstein_gp" and gradient_penalty is None:
            gradient_penalty = "wgan"
        self.gradient_penalty = check_one_of("gradient_penalty", gradient_penalty, PENALTIES)
        if penalty_weight is not None:
            check_range("penalty_weight", penalty_weight, 0.0)
        self.penalty_weight = penalty_weight
        if ema_decay is not None:
            check_range("ema_decay", ema_decay, 0.0, 1.0, high_inclusive=False)
        self.ema_decay = ema_decay
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.ema_weights = []
        if ema_decay is not None:
            for v in generator.trainable_variables:
                w = self.add_weight(
                    shape=v.shape,
                    initializer="zeros",
                    trainable=False,
                    name="ema_" + v.path.replace("/", "_"),
                )
                # A copy: on JAX an assigned array is shared, and a compiled step that
                # donates both variables' buffers would donate one buffer twice.
                w.assign(ops.convert_to_numpy(v))
                self.ema_weights.append(w)
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("d_loss", "g_loss", "d_real", "d_fake")
        }
        if self.gradient_penalty:
            self.trackers["penalty"] = keras.metrics.Mean(name="penalty")
        self.discriminator_optimizer = None
        # Both players are built: build now, so `fit` need not trace `call` on data and
        # `export` finds the input signature Keras records at build time.
        self.build(self.input_shape_for_build())

    def input_shape_for_build(self):
        return (None, self.latent_dim)

    def build(self, input_shape=None):
        self.built = True

    def _resolve_latent_dim(self, latent_dim):
        shape = self.generator.input_shape
        shape = shape[0] if isinstance(shape, list) else shape
        expected = shape[-1] if shape else None
        if latent_dim is None:
            if expected is None:
                raise ValueError(
                    "Argument `latent_dim` is needed: the generator's input shape does not "
                    f"give it. Received: latent_dim=None, generator input shape {shape}"
                )
            return int(expected)
        latent_dim = check_positive_int("latent_dim", latent_dim)
        if expected is not None and expected != latent_dim:
            raise ValueError(
                f"Argument `latent_dim` must match the generator's noise input ({expected}). "
                f"Received: latent_dim={latent_dim}"
            )
        return latent_dim

    # ------------------------------------------------------------ compile and saving

    def compile(self, generator_optimizer="adam", discriminator_optimizer="adam", **kwargs):
        """Compiles with one optimizer per player (each built over its own weights only).

        Args:
            generator_optimizer: optimizer or name; becomes `model.optimizer`.
                Defaults to `"adam"`.
            discriminator_optimizer: optimizer or name. Defaults to `"adam"`.
            **kwargs: `jit_compile`, `steps_per_execution`, ... as for
                `keras.Model.compile` (no `loss`: the GAN brings its own).
        """
        generator_optimizer = keras.optimizers.get(generator_optimizer)
        discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
        if generator_optimizer is discriminator_optimizer:
            raise ValueError(
                "Arguments `generator_optimizer` and `discriminator_optimizer` must be two "
                "optimizer instances (each keeps its own player's slots). Received: the same "
                f"object twice, {generator_optimizer!r}"
            )
        super().compile(optimizer=generator_optimizer, **kwargs)
        self.discriminator_optimizer = discriminator_optimizer
        generator_optimizer.build(self.generator.trainable_variables)
        discriminator_optimizer.build(self.discriminator.trainable_variables)
        self._compile_kwargs = {k: v for k, v in kwargs.items() if k in ("jit_compile",)}

    def extra_optimizers(self):
        return [self.discriminator_optimizer]

    def get_compile_config(self):
        if not self.compiled or self.discriminator_optimizer is None:
            return {}
        return {
            "generator_optimizer": keras.saving.serialize_keras_object(self.optimizer),
            "discriminator_optimizer": keras.saving.serialize_keras_object(
                self.discriminator_optimizer
            ),
            **getattr(self, "_compile_kwargs", {}),
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("generator_optimizer", "discriminator_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "loss": self.loss_kind,
            "discriminator_steps": self.discriminator_steps,
            "gradient_penalty": self.gradient_penalty,
            "penalty_weight": self.penalty_weight,
            "ema_decay": self.ema_decay,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return cls(**config)

    def fit(self, x=None, y=None, **kwargs):
        # Keras runs zero steps on empty arrays and reports nothing: say so instead.
        shape = getattr(x, "shape", None)
        if shape is not None and len(shape) and shape[0] == 0:
            raise ValueError(
                f"Argument `x` must hold at least one example to train on. Received: x.shape={shape}"
            )
        return super().fit(x, y, **kwargs)

    # ------------------------------------------------------------ sampling

    def call(self, inputs, training=False):
        self._check_noise(inputs)
        if not self.ema_weights or training:
            return self.generator(inputs, training=training)
        # The EMA weights replace the generator's trainable ones for this call only.
        values = [ops.convert_to_tensor(w) for w in self.ema_weights]
        non_trainable = [ops.convert_to_tensor(v) for v in self.generator.non_trainable_variables]
        outputs, _ = self.generator.stateless_call(values, non_trainable, inputs, training=False)
        return outputs

    def _check_noise(self, inputs):
        z = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        if len(z.shape) != 2 or (z.shape[-1] is not None and z.shape[-1] != self.latent_dim):
            raise ValueError(
                f"Argument `z` must have shape (batch, {self.latent_dim}) (`latent_dim`). "
                f"Received: z.shape={shape_str(z.shape)}"
            )

    def noise(self, n, seed=None):
        """`[n, latent_dim]` standard normal noise (the training distribution)."""
        if isinstance(n, (int, np.integer)) or not hasattr(n, "shape"):
            n = check_positive_int("n", n)  # a traced batch size is checked by Keras instead
        return keras.random.normal((n, self.latent_dim), seed=seed)

    def sample(self, n, seed=None, batch_size=256):
        """`n` samples as a NumPy array, from the EMA generator when there is one.

        Args:
            n: int, number of samples.
            seed: int or None, seed of the noise. Defaults to `None`.
            batch_size: int. Defaults to `256`.
        """
        z = ops.convert_to_numpy(self.noise(n, seed))
        return self.predict(z, batch_size=batch_size, verbose=0)

    # ------------------------------------------------------------ the training step

    def unpack_data(self, data):
        """`(real, condition)` from a batch: an unconditional GAN has no condition."""
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return real, None

    def generate(self, z, condition, training):
        return self.generator(z, training=training)

    def discriminate(self, x, condition, training):
        return self.discriminator(x, training=training)

    def _both_logits(self, real, fake, condition):
        # One pass over [real; fake]: conditions (if any) are repeated alongside.
        both = ops.concatenate([real, fake], axis=0)
        both_condition = None if condition is None else ops.concatenate([condition] * 2, axis=0)
        logits = self.discriminate(both, both_condition, training=True)
        n = ops.shape(real)[0]
        return logits[:n], logits[n:]

    def _penalty(self, real, fake, condition):
        def critic(x):
            return self.discriminate(x, condition, training=True)

        if self.gradient_penalty == "r1":
            return 0.5 * self._weight() * r1_penalty(critic, real)
        return self._weight() * wgan_gradient_penalty(critic, real, fake, seed=self.seed_generator)

    def _weight(self):
        if self.penalty_weight is not None:
            return float(self.penalty_weight)
        return _DEFAULT_PENALTY_WEIGHT[self.gradient_penalty]

    @property
    def _kind(self):
        return "wasserstein" if self.loss_kind == "wasserstein_gp" else self.loss_kind

    def _replica_noise(self, batch):
        # Each replica its own share of the global batch's noise (not R copies of one draw).
        return _backends.replica_random(lambda n: self.noise(n, seed=self.seed_generator), batch)

    def _discriminator_step(self, real, condition):
        z = self._replica_noise(ops.shape(real)[0])
        fake = ops.stop_gradient(self.generate(z, condition, training=True))
        d_vars = self.discriminator.trainable_variables

        def loss_fn():
            real_logits, fake_logits = self._both_logits(real, fake, condition)
            loss = discriminator_loss(real_logits, fake_logits, self._kind)
            penalty = (
                self._penalty(real, fake, condition) if self.gradient_penalty else ops.zeros(())
            )
            aux = (loss, ops.mean(real_logits), ops.mean(fake_logits), penalty)
            return self.scale_loss_for_distribution(loss + penalty), aux

        _, aux, grads = self.compute_gradients(loss_fn, d_vars)
        self.discriminator_optimizer.apply(grads, d_vars)
        return aux

    def _generator_step(self, batch, condition):
        z = self._replica_noise(batch)
        g_vars = self.generator.trainable_variables

        def loss_fn():
            fake = self.generate(z, condition, training=True)
            loss = generator_loss(self.discriminate(fake, condition, training=True), self._kind)
            return self.scale_loss_for_distribution(loss), loss

        _, loss, grads = self.compute_gradients(loss_fn, g_vars)
        self.optimizer.apply(grads, g_vars)
        self._update_ema(g_vars)
        return loss

    def _update_ema(self, g_vars):
        if not self.ema_weights:
            return
        t = ops.cast(self.optimizer.iterations, "float32")
        decay = ops.minimum(self.ema_decay, (1.0 + t) / (10.0 + t))
        for average, v in zip(self.ema_weights, g_vars):
            average.assign(decay * average + (1.0 - decay) * ops.cast(v, average.dtype))

    def custom_train_step(self, data):
        real, condition = self.unpack_data(data)
        for _ in range(self.discriminator_steps):
            d_loss, d_real, d_fake, penalty = self._discriminator_step(real, condition)
        g_loss = self._generator_step(ops.shape(real)[0], condition)
        return self._logs(real, d_loss, g_loss, d_real, d_fake, penalty)

    def custom_test_step(self, data):
        real, condition = self.unpack_data(data)
        z = self.noise(ops.shape(real)[0], seed=self.seed_generator)
        fake = self.generate(z, condition, training=False)
        both = ops.concatenate([real, fake], axis=0)
        both_condition = None if condition is None else ops.concatenate([condition] * 2, axis=0)
        logits = self.discriminate(both, both_condition, training=False)
        n = ops.shape(real)[0]
        real_logits, fake_logits = logits[:n], logits[n:]
        d_loss = discriminator_loss(real_logits, fake_logits, self._kind)
        g_loss = generator_loss(fake_logits, self._kind)
        return self._logs(real, d_loss, g_loss, ops.mean(real_logits), ops.mean(fake_logits), 0.0)

    def _logs(self, real, d_loss, g_loss, d_real, d_fake, penalty):
        values = {"d_loss": d_loss, "g_loss": g_loss, "d_real": d_real, "d_fake": d_fake}
        if "penalty" in self.trackers:
            values["penalty"] = penalty
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return self.step_logs(d_loss + g_loss, real, None, None)
