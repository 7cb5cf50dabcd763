"""DCGAN (Radford, Metz & Chintala 2016): convolutional players for small images.

The architecture guidelines of the paper (sec. 3.1): strided convolutions
instead of pooling in the discriminator, fractionally strided (transposed)
convolutions in the generator; BatchNorm in the generator; ReLU in the
generator with tanh at the output; LeakyReLU(0.2) in the discriminator; no
fully connected hidden layers (one projection of `z`, one linear read-out).
The discriminator is unnormalized by default (`normalization="none"`), since
`GAN` passes real and generated examples through it in one batch and gradient
penalties need examples that do not interact; `"layer"` is the
penalty-compatible normalization.

Sizes: the generator starts from a 4x4 map and doubles it up to `image_size`
(16: two upsamplings, 32: three), `base_filters` channels at full size and
twice as many at each halving; the discriminator mirrors it.

Conditional players (`num_classes`): the generator concatenates a learned
label embedding to `z`. The discriminator either concatenates a learned
`image_size x image_size` label map to the image channels
(`conditioning="concatenation"`), or uses the projection head of Miyato &
Koyama 2018, `D(x, y) = wᵀφ(x) + embed(y)ᵀφ(x)` (`"projection"`), which they
found better than input concatenation.
"""

import math

import keras

from keras_dlss._validation import check_one_of, check_positive_int
from keras_dlss.models.conditional_gan import ConditionalGAN
from keras_dlss.models.gan import GAN

CONDITIONINGS = ("projection", "concatenation")
_D_NORMALIZATIONS = ("none", "layer", "batch")


def _num_upsamplings(image_size):
    image_size = check_positive_int("image_size", image_size)
    steps = math.log2(image_size / 4) if image_size >= 8 else -1
    if steps != int(steps) or steps < 1:
        raise ValueError(
            "Argument `image_size` must be a power of two >= 8 (the players double a 4x4 map). "
            f"Received: image_size={image_size}"
        )
    return int(steps)


def dcgan_generator(
    latent_dim=64, image_size=16, channels=1, base_filters=64, num_classes=None, name="generator"
):
    """The DCGAN generator: `z` (and a label) to a `tanh` image in `[-1, 1]`.

    Args:
        latent_dim: int. Noise size. Defaults to `64`.
        image_size: int, a power of two >= 8. Defaults to `16`.
        channels: int. Output channels. Defaults to `1`.
        base_filters: int. Channels at full resolution (doubled per halving).
            Defaults to `64`.
        num_classes: int or None. Conditional generator (inputs `[z, labels]`)
            when set. Defaults to `None`.
        name: str. Defaults to `"generator"`.

    Returns:
        A built functional `keras.Model`.

    Example:

    ```python
    g = dcgan_generator(latent_dim=8, image_size=8, base_filters=4)
    assert g(np.zeros((2, 8), "float32")).shape == (2, 8, 8, 1)
    ```
    """
    steps = _num_upsamplings(image_size)
    latent_dim = check_positive_int("latent_dim", latent_dim)
    base_filters = check_positive_int("base_filters", base_filters)
    z = keras.Input((latent_dim,), name="z")
    inputs, h = [z], z
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        embedded = keras.layers.Embedding(num_classes, min(latent_dim, 32), name="label_embedding")
        h = keras.layers.Concatenate(name="z_and_label")([z, embedded(labels)])
        inputs.append(labels)
    filters = base_filters * 2 ** (steps - 1)
    h = keras.layers.Dense(4 * 4 * filters, use_bias=False, name="project")(h)
    h = keras.layers.Reshape((4, 4, filters))(h)
    h = keras.layers.BatchNormalization(name="project_bn")(h)
    h = keras.layers.ReLU()(h)
    for i in range(steps - 1):
        filters //= 2
        h = keras.layers.Conv2DTranspose(
            filters, 4, strides=2, padding="same", use_bias=False, name=f"up{i}"
        )(h)
        h = keras.layers.BatchNormalization(name=f"up{i}_bn")(h)
        h = keras.layers.ReLU()(h)
    image = keras.layers.Conv2DTranspose(
        channels, 4, strides=2, padding="same", activation="tanh", name="to_image"
    )(h)
    return keras.Model(inputs if num_classes is not None else z, image, name=name)


def dcgan_discriminator(
    image_size=16,
    channels=1,
    base_filters=64,
    num_classes=None,
    conditioning="projection",
    normalization="none",
    name="discriminator",
):
    """The DCGAN discriminator: an image (and a label) to one logit.

    Args:
        image_size: int, a power of two >= 8. Defaults to `16`.
        channels: int. Input channels. Defaults to `1`.
        base_filters: int. Channels of the first convolution (its width;
            doubled per halving). Defaults to `64`.
        num_classes: int or None. Conditional discriminator (inputs
            `[x, labels]`) when set. Defaults to `None`.
        conditioning: `"projection"` or `"concatenation"` (module docstring).
            Defaults to `"projection"`.
        normalization: `"none"`, `"layer"` or `"batch"` after each but the
            first convolution. Defaults to `"none"`.
        name: str. Defaults to `"discriminator"`.

    Returns:
        A built functional `keras.Model` giving `[batch, 1]` logits.

    Example:

    ```python
    d = dcgan_discriminator(image_size=8, base_filters=4, num_classes=3)
    logits = d([np.zeros((2, 8, 8, 1), "float32"), np.array([0, 2])])
    assert logits.shape == (2, 1)
    ```
    """
    from keras_dlss.layers import normalization as make_normalization

    steps = _num_upsamplings(image_size)
    base_filters = check_positive_int("base_filters", base_filters)
    check_one_of("conditioning", conditioning, CONDITIONINGS)
    check_one_of("normalization", normalization, _D_NORMALIZATIONS)
    x = keras.Input((image_size, image_size, channels), name="image")
    inputs, h = [x], x
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        if conditioning == "concatenation":
            plane = keras.layers.Embedding(num_classes, image_size * image_size, name="label_map")
            label_map = keras.layers.Reshape((image_size, image_size, 1))(plane(labels))
            h = keras.layers.Concatenate(name="image_and_label")([x, label_map])
    filters = base_filters
    for i in range(steps):
        h = keras.layers.Conv2D(filters, 4, strides=2, padding="same", name=f"down{i}")(h)
        if i > 0 and normalization != "none":
            h = make_normalization(normalization, name=f"down{i}_norm")(h)
        h = keras.layers.LeakyReLU(0.2)(h)
        filters *= 2
    features = keras.layers.Flatten(name="features")(h)
    logit = keras.layers.Dense(1, name="logit")(features)
    if num_classes is not None and conditioning == "projection":
        # Miyato & Koyama 2018, eq. 3: the label enters as an inner product with φ(x).
        embedded = keras.layers.Embedding(
            num_classes, int(features.shape[-1]), name="label_projection"
        )(labels)
        projection = keras.layers.Dot(axes=1, name="projection")([embedded, features])
        logit = keras.layers.Add(name="logit_plus_projection")([logit, projection])
    return keras.Model(inputs if num_classes is not None else x, logit, name=name)


def DCGAN(
    image_size=16,
    channels=1,
    latent_dim=64,
    base_filters=64,
    discriminator_filters=None,
    num_classes=None,
    conditioning="projection",
    discriminator_normalization="none",
    **gan_kwargs,
):
    """A `GAN` (or, with `num_classes`, a `ConditionalGAN`) of DCGAN players.

    Args:
        image_size: int, a power of two >= 8. Defaults to `16`.
        channels: int. Defaults to `1`.
        latent_dim: int. Defaults to `64`.
        base_filters: int. The generator's width. Defaults to `64`.
        discriminator_filters: int or None. The discriminator's width; None:
            `base_filters`. Defaults to `None`.
        num_classes: int or None. Class-conditional players when set.
            Defaults to `None`.
        conditioning: `"projection"` or `"concatenation"`. Defaults to `"projection"`.
        discriminator_normalization: `"none"`, `"layer"` or `"batch"`.
            Defaults to `"none"`.
        **gan_kwargs: `GAN` arguments (`loss`, `gradient_penalty`,
            `ema_decay`, `seed`, ...).

    Returns:
        An uncompiled `models.GAN` or `models.ConditionalGAN` (compile it with
        `generator_optimizer=` and `discriminator_optimizer=`; Radford et al.
        use Adam with learning rate 2e-4 and `beta_1=0.5`).

    Example:

    ```python
    gan = DCGAN(image_size=8, latent_dim=8, base_filters=4, num_classes=10, seed=0)
    gan.compile(generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5))
    assert gan.sample(4, labels=[0, 1, 2, 3], seed=0).shape == (4, 8, 8, 1)
    ```

    References:
        Radford, Metz & Chintala, "Unsupervised representation learning with
        deep convolutional generative adversarial networks", ICLR 2016,
        https://arxiv.org/abs/1511.06434.
    """
    generator = dcgan_generator(latent_dim, image_size, channels, base_filters, num_classes)
    discriminator = dcgan_discriminator(
        image_size,
        channels,
        discriminator_filters or base_filters,
        num_classes,
        conditioning,
        discriminator_normalization,
    )
    if num_classes is None:
        return GAN(generator, discriminator, latent_dim=latent_dim, **gan_kwargs)
    return ConditionalGAN(
        generator, discriminator, num_classes=num_classes, latent_dim=latent_dim, **gan_kwargs
    )
