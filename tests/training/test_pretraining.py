import keras
import numpy as np
import pytest

from keras_dlss.training import pretrain_autoencoder_stack


def _data():
    rng = np.random.default_rng(0)
    return np.tanh(rng.normal(size=(256, 3)) @ rng.normal(size=(3, 12))).astype("float32")


@pytest.mark.parametrize("corruption", ["gaussian", "masking"])
def test_pretraining_learns_each_layer_and_returns_stack(corruption):
    x = _data()
    layers = [keras.layers.Dense(8, "tanh"), keras.layers.Dense(4, "tanh")]
    stack, histories = pretrain_autoencoder_stack(
        layers,
        x,
        epochs=15,
        batch_size=32,
        corruption=corruption,
        noise_level=0.1,
        return_histories=True,
    )
    assert [layer for layer in stack.layers] == layers
    assert stack.output_shape == (None, 4)
    for h in histories:
        assert h["loss"][-1] < 0.7 * h["loss"][0]
    # Layer 2 was trained on layer 1's codes: its decoder input width is 8.
    assert layers[1].kernel.shape == (8, 4)


def test_pretrained_stack_fine_tunes():
    x = _data()
    y = (x[:, 0] > 0).astype("int32")
    stack = pretrain_autoencoder_stack([keras.layers.Dense(8, "tanh")], x, epochs=3)
    model = keras.Sequential([stack, keras.layers.Dense(2, "softmax")])
    model.compile(
        optimizer=keras.optimizers.Adam(0.02),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    hist = model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    assert hist.history["accuracy"][-1] > 0.9


def test_bad_arguments():
    with pytest.raises(ValueError, match="`layers`"):
        pretrain_autoencoder_stack([], _data())
    with pytest.raises(ValueError, match="`noise_level`"):
        pretrain_autoencoder_stack(
            [keras.layers.Dense(2)], _data(), corruption="masking", noise_level=1.0
        )
    with pytest.raises(ValueError, match="`x`"):
        pretrain_autoencoder_stack([keras.layers.Dense(2)], np.zeros((0, 3)))
