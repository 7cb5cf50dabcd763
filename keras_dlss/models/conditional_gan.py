"""`ConditionalGAN`: a GAN whose players both see the class label (Mirza & Osindero 2014).

The generator maps `[z, label]` to a sample, the discriminator scores
`[x, label]`; `fit(images, labels)` trains both, with generated examples
conditioned on the labels of the real batch (so classes are generated in the
data's proportions). How a player uses the label is its own architecture:
`applications.DCGAN(..., num_classes=10, conditioning="projection")` builds
the projection discriminator of Miyato & Koyama 2018 (`D(x, y) = ψ(φ(x)) +
embed(y)ᵀ φ(x)`) or, with `"concatenation"`, one that concatenates a learned
label map to the image channels. The training step, losses, penalties and EMA
are `GAN`'s.
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, shape_str, static_dim
from keras_dlss.models.gan import GAN


@keras.saving.register_keras_serializable(package="keras_dlss")
class ConditionalGAN(GAN):
    """A class-conditional GAN: `model([z, labels])` samples the requested classes.

    Args:
        generator: built model mapping `[z [batch, latent_dim], labels [batch]]`
            (int labels) to samples.
        discriminator: built model mapping `[x, labels]` to `[batch, 1]` logits.
        num_classes: int, number of classes; labels lie in `[0, num_classes)`.
        **kwargs: every other `GAN` argument (`latent_dim`, `loss`,
            `discriminator_steps`, `gradient_penalty`, `penalty_weight`,
            `ema_decay`, `seed`) and `keras.Model`'s.

    Example:

    ```python
    z_in, y_in = keras.Input((4,)), keras.Input((), dtype="int32")
    h = keras.layers.Concatenate()([z_in, keras.layers.Embedding(3, 4)(y_in)])
    gen = keras.Model([z_in, y_in], keras.layers.Dense(2)(h))
    x_in, yd_in = keras.Input((2,)), keras.Input((), dtype="int32")
    h = keras.layers.Concatenate()([x_in, keras.layers.Embedding(3, 4)(yd_in)])
    disc = keras.Model([x_in, yd_in], keras.layers.Dense(1)(h))
    cgan = keras_dlss.models.ConditionalGAN(gen, disc, num_classes=3, seed=0)
    cgan.compile(generator_optimizer="adam", discriminator_optimizer="adam")
    cgan.fit(np.random.rand(32, 2).astype("float32"), np.arange(32) % 3, batch_size=16, verbose=0)
    assert cgan.sample(6, labels=[0, 1, 2, 0, 1, 2], seed=0).shape == (6, 2)
    ```

    References:
        Mirza & Osindero, "Conditional generative adversarial nets", 2014,
        https://arxiv.org/abs/1411.1784; Miyato & Koyama, "cGANs with
        projection discriminator", ICLR 2018, https://arxiv.org/abs/1802.05637.
    """

    def __init__(self, generator, discriminator, num_classes, **kwargs):
        self._num_classes = check_positive_int("num_classes", num_classes)
        super().__init__(generator, discriminator, **kwargs)

    @property
    def num_classes(self):
        return self._num_classes

    def input_shape_for_build(self):
        return [(None, self.latent_dim), (None,)]

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}

    def _check_noise(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                "Argument `inputs` must be a pair `[z, labels]`. "
                f"Received: inputs of type {type(inputs).__name__}"
            )
        super()._check_noise(inputs[0])
        _check_label_count(inputs[1], inputs[0])

    def call(self, inputs, training=False):
        self._check_noise(inputs)
        z, labels = inputs
        return super().call([z, ops.cast(labels, "int32")], training=training)

    def unpack_data(self, data):
        real, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        if labels is None:
            raise ValueError(
                "ConditionalGAN trains on `(images, labels)`: call `fit(x, labels)`. "
                "Received: labels=None"
            )
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        _check_label_count(labels, real, name="real")
        return real, labels

    def generate(self, z, condition, training):
        return self.generator([z, condition], training=training)

    def discriminate(self, x, condition, training):
        return self.discriminator([x, condition], training=training)

    def sample(self, n, labels=None, seed=None, batch_size=256):
        """`n` samples as a NumPy array, of the given classes.

        Args:
            n: int, number of samples.
            labels: ints of length `n`, or None for `i % num_classes`.
                Defaults to `None`.
            seed: int or None, seed of the noise. Defaults to `None`.
            batch_size: int. Defaults to `256`.
        """
        import numpy as np

        n = check_positive_int("n", n)
        labels = np.arange(n) % self.num_classes if labels is None else np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(
                f"Argument `labels` must hold one label per sample ({n}). "
                f"Received: labels.shape={labels.shape}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            raise ValueError(
                f"Argument `labels` must lie in [0, {self.num_classes}). "
                f"Received: labels containing {labels.min() if labels.min() < 0 else labels.max()}"
            )
        z = ops.convert_to_numpy(self.noise(n, seed))
        return self.predict([z, labels.astype("int32")], batch_size=batch_size, verbose=0)


def _check_label_count(labels, x, name="z"):
    """Static check: one label per example."""
    # static_dim: a jax2tf export traces with a symbolic batch that int() rejects.
    n = static_dim(labels.shape[0]) if len(labels.shape) else None
    m = static_dim(x.shape[0])
    if n is not None and m is not None and n != m:
        raise ValueError(
            f"Argument `labels` must hold one label per example of `{name}` ({m}). "
            f"Received: labels.shape={shape_str(labels.shape)}"
        )
