"""CycleGAN: unpaired image-to-image translation (Zhu, Park, Isola & Efros 2017).

Two generators G: A -> B and F: B -> A and two discriminators D_A, D_B,
trained on unpaired images of the two domains. Each generator fools its
discriminator (least-squares GAN loss, the paper's choice, Sec. 4), and the
cycle-consistency loss `|F(G(a)) - a|_1 + |G(F(b)) - b|_1` (Eq. 2) makes the
translation keep the content of its input; without it any mapping onto the
target distribution would do. The identity loss `|G(b) - b|_1 + |F(a) - a|_1`
(Sec. 5.2) keeps a generator from changing images already in its domain.

Design:

* One step updates all four networks from one forward pass: the generators'
  loss w.r.t. both generators' weights (one optimizer, as in the paper's
  code) and the discriminators' loss w.r.t. both discriminators' weights
  (a second optimizer, an `extra_optimizers()` entry), via `CustomStep`'s
  tuple-of-losses `compute_gradients`, so it runs on TensorFlow, JAX and
  PyTorch.
* The history buffer (Shrivastava et al. 2017; Sec. 4 of the paper): the
  discriminators see generated images drawn half the time from the last
  `buffer_size` generated ones, which damps oscillation. The buffer is two
  non-trainable variables of static shape `[buffer_size, ...]` and a count;
  a step writes its fakes at distinct slots (a random permutation's first
  B slots once the buffer is full), so the update is a scatter without
  collisions and compiles under XLA.
* The adversarial terms are `keras_dlss.losses.discriminator_loss` /
  `generator_loss` with `kind="least_squares"` (other GAN losses work too).

References:
    - Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
      Cycle-Consistent Adversarial Networks", ICCV 2017.
      https://arxiv.org/abs/1703.10593
    - Shrivastava et al., "Learning from Simulated and Unsupervised Images
      through Adversarial Training", CVPR 2017. https://arxiv.org/abs/1612.07828
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range, static_dim
from keras_dlss.losses.gan import GAN_LOSSES, discriminator_loss, generator_loss
from keras_dlss.models import _backends
from keras_dlss.models.custom_step import CustomStepModel

__all__ = ["CycleGAN"]

_NETWORKS = ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b")


def _image_shape(name, network):
    outputs = getattr(network, "outputs", None) if network.built else None
    if not outputs or len(outputs) != 1 or None in tuple(outputs[0].shape[1:]):
        raise ValueError(
            f"Argument `{name}` must be a built keras network with one output of static "
            f"image shape (a functional or Sequential model). Received: {name}={network!r}"
        )
    return tuple(outputs[0].shape[1:])


@keras.saving.register_keras_serializable(package="keras_dlss")
class CycleGAN(CustomStepModel):
    """Unpaired translation between domains A and B with cycle-consistency.

    Trains with `fit((images_a, images_b))` on unpaired batches of the two
    domains (equal batch sizes); logs `loss` (the generators' objective:
    adversarial + cycle + identity terms), `discriminator_loss`, `cycle_loss`
    and `identity_loss`. `evaluate` computes the same terms (no buffer).

    Args:
        generator_ab: network A -> B images (G).
        generator_ba: network B -> A images (F).
        discriminator_a: network A images -> logits (any shape, e.g. patches).
        discriminator_b: network B images -> logits.
        cycle_weight: float. lambda of the cycle loss. Defaults to `10.0`.
        identity_weight: float. Weight of the identity loss, relative to
            `cycle_weight` (the paper's 0.5). Defaults to `0.5`.
        buffer_size: int. Generated images kept per domain for the
            discriminators; 0 disables the buffer. Defaults to `50`.
        adversarial_loss: a `keras_dlss.losses.GAN_LOSSES` kind. Defaults to
            `"least_squares"`.
        seed: int or None, for the buffer's sampling.
        **kwargs: `keras.Model` arguments.

    Call: `images_a -> G(images_a)` (translation to B).

    Example:

    ```python
    def net(out_activation):
        return keras.Sequential([keras.Input((8, 8, 1)),
                                 keras.layers.Conv2D(1, 3, padding="same", activation=out_activation)])
    cycle_gan = keras_dlss.models.CycleGAN(net("sigmoid"), net("sigmoid"), net(None), net(None),
                                           buffer_size=8, seed=0)
    cycle_gan.compile(generator_optimizer=keras.optimizers.Adam(2e-4),
                      discriminator_optimizer=keras.optimizers.Adam(2e-4))
    a, b = np.random.rand(16, 8, 8, 1), 1 - np.random.rand(16, 8, 8, 1)
    cycle_gan.fit((a.astype("float32"), b.astype("float32")), epochs=1, batch_size=8, verbose=0)
    translated = cycle_gan.generator_ba(b[:2])      # B -> A
    ```

    References:
        Zhu et al., ICCV 2017, https://arxiv.org/abs/1703.10593.
    """

    def __init__(
        self,
        generator_ab,
        generator_ba,
        discriminator_a,
        discriminator_b,
        cycle_weight=10.0,
        identity_weight=0.5,
        buffer_size=50,
        adversarial_loss="least_squares",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        networks = (generator_ab, generator_ba, discriminator_a, discriminator_b)
        for name, network in zip(_NETWORKS, networks):
            if not isinstance(network, keras.layers.Layer):
                raise ValueError(
                    f"Argument `{name}` must be a keras.Model or keras.layers.Layer. "
                    f"Received: {name}={network!r}"
                )
        self.generator_ab, self.generator_ba = generator_ab, generator_ba
        self.discriminator_a, self.discriminator_b = discriminator_a, discriminator_b
        self.cycle_weight = float(check_range("cycle_weight", cycle_weight, 0.0))
        self.identity_weight = float(check_range("identity_weight", identity_weight, 0.0))
        self.buffer_size = check_positive_int("buffer_size", buffer_size, minimum=0)
        self.adversarial_loss = check_one_of("adversarial_loss", adversarial_loss, GAN_LOSSES)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.discriminator_optimizer = None
        shape_b = _image_shape("generator_ab", generator_ab)
        shape_a = _image_shape("generator_ba", generator_ba)
        size = max(self.buffer_size, 1)
        # Non-trainable state of static shape: the history buffers and how many images each holds.
        self.buffer_a = self.add_weight(
            shape=(size, *shape_a), initializer="zeros", trainable=False, name="buffer_a"
        )
        self.buffer_b = self.add_weight(
            shape=(size, *shape_b), initializer="zeros", trainable=False, name="buffer_b"
        )
        self.buffer_count = self.add_weight(
            shape=(), initializer="zeros", dtype="int32", trainable=False, name="buffer_count"
        )
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "discriminator_loss", "cycle_loss", "identity_loss")
        }
        self.build((None, *shape_a))

    def build(self, input_shape):
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, images_a, training=None):
        return self.generator_ab(images_a, training=training)

    def compile(self, generator_optimizer="adam", discriminator_optimizer="adam", **kwargs):
        """`generator_optimizer` updates both generators, `discriminator_optimizer` both discriminators."""
        super().compile(optimizer=generator_optimizer, **kwargs)
        # Built over the generators only, here: otherwise `fit` on JAX builds it over every
        # trainable variable, and a reloaded model's optimizer would not match.
        self.optimizer.build(self._generator_variables())
        self.discriminator_optimizer = keras.optimizers.get(discriminator_optimizer)
        self.discriminator_optimizer.build(self._discriminator_variables())

    def get_compile_config(self):
        return {
            **super().get_compile_config(),
            "discriminator_optimizer": keras.saving.serialize_keras_object(
                self.discriminator_optimizer
            ),
        }

    def compile_from_config(self, config):
        config = dict(config)
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator_optimizer"))
        generator = keras.saving.deserialize_keras_object(config.pop("optimizer"))
        config = {k: v for k, v in config.items() if k in ("jit_compile", "steps_per_execution")}
        self.compile(generator, discriminator, **config)

    def extra_optimizers(self):
        return [self.discriminator_optimizer]

    def _generator_variables(self):
        return self.generator_ab.trainable_variables + self.generator_ba.trainable_variables

    def _discriminator_variables(self):
        return self.discriminator_a.trainable_variables + self.discriminator_b.trainable_variables

    # ---------------------------------------------------------------- losses

    def cycle_loss(self, images_a, images_b, training=None):
        """`mean|F(G(a)) - a| + mean|G(F(b)) - b|` (Eq. 2 of the paper)."""
        images_a, images_b = ops.convert_to_tensor(images_a), ops.convert_to_tensor(images_b)
        back_a = self.generator_ba(
            self.generator_ab(images_a, training=training), training=training
        )
        back_b = self.generator_ab(
            self.generator_ba(images_b, training=training), training=training
        )
        return ops.mean(ops.abs(back_a - images_a)) + ops.mean(ops.abs(back_b - images_b))

    def _query_buffer(self, buffer, fakes):
        """Fakes for the discriminator (half of them from history once full); updates `buffer`."""
        if self.buffer_size == 0:
            return fakes
        # Under tf.distribute every replica updates the buffer with the global batch's
        # fakes, the same way, so its copies stay equal (and equal to one device's).
        fakes = _backends.all_gather(fakes)
        batch = ops.shape(fakes)[0]
        size = self.buffer_size
        static_batch = static_dim(fakes.shape[0])
        if static_batch is not None and static_batch > size:
            raise ValueError(
                f"Argument `buffer_size` must be at least the batch size {static_batch} (a step "
                f"writes each generated image to its own slot). Received: buffer_size={size}"
            )
        count = ops.convert_to_tensor(self.buffer_count)
        full = count >= size
        fill_slots = (count + ops.arange(batch, dtype="int32")) % size
        # Distinct random slots: the first `batch` entries of a random permutation of the buffer.
        order = ops.argsort(keras.random.uniform((size,), seed=self.seed_generator))
        random_slots = ops.cast(order[:batch], "int32")
        slots = ops.where(full, random_slots, fill_slots)
        stored = ops.take(ops.convert_to_tensor(buffer), slots, axis=0)
        coin = keras.random.uniform((batch,), seed=self.seed_generator) < 0.5
        use_old = ops.logical_and(coin, full)
        mask = ops.reshape(use_old, (-1,) + (1,) * (len(fakes.shape) - 1))
        shown = ops.where(mask, stored, fakes)
        written = ops.where(mask, fakes, stored)
        written = ops.where(full, written, fakes)
        buffer.assign(ops.scatter_update(ops.convert_to_tensor(buffer), slots[:, None], written))
        return ops.stop_gradient(_backends.replica_rows(shown))

    def _player_losses(self, images_a, images_b, training=True):
        t = training
        fake_b = self.generator_ab(images_a, training=t)
        fake_a = self.generator_ba(images_b, training=t)
        cycle = ops.mean(ops.abs(self.generator_ba(fake_b, training=t) - images_a)) + ops.mean(
            ops.abs(self.generator_ab(fake_a, training=t) - images_b)
        )
        identity = ops.mean(ops.abs(self.generator_ab(images_b, training=t) - images_b)) + (
            ops.mean(ops.abs(self.generator_ba(images_a, training=t) - images_a))
        )
        kind = self.adversarial_loss
        adversarial = generator_loss(self.discriminator_b(fake_b, training=t), kind) + (
            generator_loss(self.discriminator_a(fake_a, training=t), kind)
        )
        g_loss = (
            adversarial
            + self.cycle_weight * cycle
            + self.cycle_weight * self.identity_weight * identity
        )
        shown_b, shown_a = ops.stop_gradient(fake_b), ops.stop_gradient(fake_a)
        if training and self.buffer_size:
            shown_b = self._query_buffer(self.buffer_b, shown_b)
            shown_a = self._query_buffer(self.buffer_a, shown_a)
            batch = ops.shape(images_a)[0] * _backends.replica_count()
            self.buffer_count.assign(self.buffer_count + ops.cast(batch, "int32"))
        d_loss = discriminator_loss(
            self.discriminator_a(images_a, training=t),
            self.discriminator_a(shown_a, training=t),
            kind,
        ) + discriminator_loss(
            self.discriminator_b(images_b, training=t),
            self.discriminator_b(shown_b, training=t),
            kind,
        )
        return (g_loss, d_loss), (cycle, identity)

    def _split(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if not isinstance(x, (tuple, list)) or len(x) != 2:
            raise ValueError(
                "Argument `x` of `fit` must be a pair (images_a, images_b) of unpaired batches. "
                f"Received: x of type {type(x).__name__}"
            )
        return x

    def custom_train_step(self, data):
        images_a, images_b = self._split(data)
        g_vars, d_vars = self._generator_variables(), self._discriminator_variables()

        def loss_fn():
            losses, terms = self._player_losses(images_a, images_b)
            return tuple(self.scale_loss_for_distribution(v) for v in losses), (losses, terms)

        _, ((g_loss, d_loss), (cycle, identity)), (g_grads, d_grads) = self.compute_gradients(
            loss_fn, (g_vars, d_vars)
        )
        self.optimizer.apply(g_grads, g_vars)
        self.discriminator_optimizer.apply(d_grads, d_vars)
        return self._logs(g_loss, d_loss, cycle, identity)

    def custom_test_step(self, data):
        images_a, images_b = self._split(data)
        (g_loss, d_loss), (cycle, identity) = self._player_losses(images_a, images_b, False)
        return self._logs(g_loss, d_loss, cycle, identity)

    def _logs(self, g_loss, d_loss, cycle, identity):
        values = {
            "loss": g_loss,
            "discriminator_loss": d_loss,
            "cycle_loss": cycle,
            "identity_loss": identity,
        }
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: t.result() for name, t in self.trackers.items()}

    # ---------------------------------------------------------------- serialization

    def get_config(self):
        config = super().get_config()
        for name in _NETWORKS:
            config[name] = keras.saving.serialize_keras_object(getattr(self, name))
        config.update(
            cycle_weight=self.cycle_weight,
            identity_weight=self.identity_weight,
            buffer_size=self.buffer_size,
            adversarial_loss=self.adversarial_loss,
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for name in _NETWORKS:
            config[name] = keras.saving.deserialize_keras_object(
                config[name], custom_objects=custom_objects
            )
        return cls(**config)
