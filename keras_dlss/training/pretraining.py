"""Greedy layer-wise pretraining with (denoising) auto-encoders.

Each hidden layer is trained, bottom-up, as the encoder of a one-layer
auto-encoder on the codes produced by the already trained layers below it:
corrupt the input (Gaussian or masking noise), encode with the layer, decode
with a throw-away Dense layer, and minimise the reconstruction error of the
*clean* input (Bengio et al. 2007; Vincent et al. 2008). The trained layers
are returned as a `keras.Sequential` stack, to which a supervised head is
added for fine-tuning.

References:
    Bengio, Lamblin, Popovici & Larochelle, 2007. "Greedy Layer-Wise Training
    of Deep Networks". NIPS.
    Vincent, Larochelle, Bengio & Manzagol, 2008. "Extracting and Composing
    Robust Features with Denoising Autoencoders". ICML.
"""

import keras
import numpy as np

from keras_dlss._validation import check_one_of, check_positive_int, check_range


def _corruption(kind, level, seed):
    if level == 0:
        return None
    if kind == "gaussian":
        return keras.layers.GaussianNoise(level, seed=seed)
    # Masking noise zeroes a fraction of the inputs (Vincent et al. 2008); Dropout
    # also rescales the survivors, which keeps the input's expected value.
    return keras.layers.Dropout(level, seed=seed)


def _fresh_optimizer(identifier):
    """A new optimizer per layer: slots built for one auto-encoder cannot serve the next."""
    opt = keras.optimizers.get(identifier)
    return opt.__class__.from_config(opt.get_config())


def pretrain_autoencoder_stack(
    layers,
    x,
    *,
    epochs=5,
    batch_size=32,
    corruption="gaussian",
    noise_level=0.1,
    optimizer="adam",
    loss="mse",
    decoder_activation=None,
    seed=0,
    verbose=0,
    return_histories=False,
):
    """Greedily pretrains `layers` as stacked (denoising) auto-encoders on `x`.

    Args:
        layers: list of unbuilt `keras.layers.Dense` (or any layers mapping a
            `[batch, features]` input to `[batch, units]`), bottom first.
        x: `[n, features]` float array (unlabelled data).
        epochs: int >= 1. Epochs per layer. Defaults to `5`.
        batch_size: int >= 1. Defaults to `32`.
        corruption: `"gaussian"` or `"masking"`. Defaults to `"gaussian"`.
        noise_level: float >= 0. Noise stddev (gaussian) or drop fraction
            (masking, < 1); 0 gives plain auto-encoders. Defaults to `0.1`.
        optimizer: optimizer identifier; a fresh copy is used per layer.
        loss: reconstruction loss. Defaults to `"mse"`.
        decoder_activation: activation of each throw-away decoder.
        seed: int. Seed for the corruption noise.
        verbose: int. Passed to `fit`.
        return_histories: bool. Also return each layer's `History.history`.

    Returns:
        A `keras.Sequential` with input shape `x.shape[1:]` holding the trained
        `layers` (and the list of histories when `return_histories`).

    Example:

    ```python
    stack = keras_dlss.training.pretrain_autoencoder_stack(
        [keras.layers.Dense(64, "relu"), keras.layers.Dense(16, "relu")], x_unlabelled, epochs=3)
    model = keras.Sequential([stack, keras.layers.Dense(10, "softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y)  # fine-tuning
    ```

    References:
        Bengio et al., 2007; Vincent et al., 2008.
    """
    if not layers:
        raise ValueError(
            f"Argument `layers` must be a non-empty list of layers. Received: layers={layers!r}"
        )
    check_positive_int("epochs", epochs)
    check_positive_int("batch_size", batch_size)
    check_one_of("corruption", corruption, ("gaussian", "masking"))
    check_range(
        "noise_level",
        noise_level,
        0.0,
        1.0 if corruption == "masking" else None,
        high_inclusive=False,
    )
    x = np.asarray(x)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(
            f"Argument `x` must be a non-empty [n, features] array. Received: x.shape={x.shape}"
        )
    codes = x.astype("float32")
    histories = []
    for i, layer in enumerate(layers):
        dim = codes.shape[-1]
        inputs = keras.Input((dim,))
        noise = _corruption(corruption, noise_level, seed + i)
        h = noise(inputs) if noise is not None else inputs
        outputs = keras.layers.Dense(dim, activation=decoder_activation, name=f"decoder_{i}")(
            layer(h)
        )
        autoencoder = keras.Model(inputs, outputs, name=f"autoencoder_{i}")
        autoencoder.compile(optimizer=_fresh_optimizer(optimizer), loss=loss)
        hist = autoencoder.fit(codes, codes, epochs=epochs, batch_size=batch_size, verbose=verbose)
        histories.append(hist.history)
        codes = np.asarray(layer(codes, training=False))
    stack = keras.Sequential([keras.Input(x.shape[1:]), *layers], name="pretrained_stack")
    return (stack, histories) if return_histories else stack
