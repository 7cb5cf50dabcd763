"""`normalization(kind, **kw)`: the one normalization switch every vision model uses.

Why a factory returning Keras core layers, not a wrapper layer: saved models then
hold plain `BatchNormalization` / `GroupNormalization` / `LayerNormalization` /
`Identity` layers, which load without keras-dlss, export and quantize like any
Keras layer, and keep their usual weight names for checkpoint surgery. A model
stores the `kind` string in its own config and calls the factory again on load.
The kinds live in a registry (`_BUILDERS`), so a new kind is one function and
one line.

Group normalization: Wu and He, "Group Normalization", ECCV 2018
(arXiv:1803.08494), which also defines layer norm (one group) and instance norm
(one group per channel) as its two extremes.
"""

import keras

from keras_dlss._validation import check_positive_int


def _batch(synchronized=False, channels=None, **kwargs):
    if channels is not None:
        check_positive_int("channels", channels)
    # `synchronized=True` averages batch statistics across replicas
    # (tf.distribute; TensorFlow backend only, Keras raises elsewhere).
    return keras.layers.BatchNormalization(synchronized=synchronized, **kwargs)


def _group(groups=32, channels=None, **kwargs):
    groups = check_positive_int("groups", groups)
    if channels is not None:
        channels = check_positive_int("channels", channels)
        if channels % groups:
            raise ValueError(
                "Argument `groups` must divide the number of channels. "
                f"Received: groups={groups}, channels={channels}"
            )
    return keras.layers.GroupNormalization(groups=groups, **kwargs)


def _instance(channels=None, **kwargs):
    if "groups" in kwargs:
        raise ValueError(
            'Argument `groups` is not accepted by kind="instance" (one group per '
            f"channel). Received: groups={kwargs['groups']!r}"
        )
    if channels is not None:
        check_positive_int("channels", channels)
    # Keras resolves groups=-1 to the channel count at build: each channel is
    # normalized alone over its spatial positions, i.e. instance norm.
    return keras.layers.GroupNormalization(groups=-1, **kwargs)


def _layer(channels=None, **kwargs):
    if channels is not None:
        check_positive_int("channels", channels)
    # Over the channel axis at each position (as in ConvNeXt and ViT), not over
    # (H, W, C): for the latter use kind="group" with groups=1.
    return keras.layers.LayerNormalization(**kwargs)


def _none(channels=None, **kwargs):
    if channels is not None:
        check_positive_int("channels", channels)
    return keras.layers.Identity(**kwargs)


_BUILDERS = {
    "batch": _batch,
    "group": _group,
    "instance": _instance,
    "layer": _layer,
    "none": _none,
}


def normalization(kind, **kwargs):
    """Returns a fresh Keras normalization layer of the given kind.

    Every kind normalizes over the last (channel) axis by default, for
    `channels_last` images `[batch, height, width, channels]`; pass `axis=1`
    for `channels_first`.

    Args:
        kind: str. One of:
            `"batch"`: `keras.layers.BatchNormalization`; `synchronized=True`
            syncs batch statistics across replicas (TensorFlow backend).
            `"group"`: `keras.layers.GroupNormalization`; `groups` (int >= 1,
            defaults to `32`) must divide the channel count.
            `"instance"`: `keras.layers.GroupNormalization(groups=-1)`, one group
            per channel, statistics over the spatial axes of each sample.
            `"layer"`: `keras.layers.LayerNormalization` over the channel axis.
            `"none"`: `keras.layers.Identity`.
        **kwargs: passed to the Keras layer (`epsilon`, `momentum`, `axis`,
            `center`, `scale`, `name`, `dtype`, ...). `channels` (int, optional,
            any kind) is the input channel count: given, `"group"` checks at
            construction that `groups` divides it instead of failing at build.

    Returns:
        A new `keras.layers.Layer` of that kind (unbuilt, but for `Identity`).

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import normalization

    x = np.random.rand(2, 8, 8, 16).astype("float32")
    for kind in ("batch", "group", "instance", "layer", "none"):
        y = normalization(kind, groups=4)(x) if kind == "group" else normalization(kind)(x)
        assert y.shape == x.shape
    ```

    References:
        Wu & He, 2018, https://arxiv.org/abs/1803.08494
        Ioffe & Szegedy, 2015 (Batch Normalization), https://arxiv.org/abs/1502.03167
    """
    if not isinstance(kind, str) or kind not in _BUILDERS:
        raise ValueError(
            f"Argument `kind` must be one of {sorted(_BUILDERS)}. Received: kind={kind!r}"
        )
    return _BUILDERS[kind](**kwargs)
