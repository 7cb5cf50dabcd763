"""InfoNCE against categorical cross-entropy, CPC training/saving/export, linear probe, bad input."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_dlss.applications.digit_rows_cpc import build_row_cpc
from keras_dlss.export import export_and_compare
from keras_dlss.losses import InfoNCE, info_nce_logits, info_nce_loss
from keras_dlss.models import ContrastivePredictiveCoding
from keras_dlss.training import linear_probe

RNG = np.random.default_rng(0)


def test_info_nce_equals_categorical_cross_entropy_over_similarity_logits():
    q, k = RNG.normal(size=(3, 6, 4)), RNG.normal(size=(3, 6, 4))
    logits = np.einsum("gid,gjd->gij", q, k) / 0.5
    labels = np.broadcast_to(np.arange(6), (3, 6))
    cce = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    np.testing.assert_allclose(
        ops.convert_to_numpy(info_nce_loss(q, k, temperature=0.5)),
        ops.convert_to_numpy(cce),
        rtol=1e-5,
    )
    np.testing.assert_allclose(ops.convert_to_numpy(info_nce_logits(q, k, 0.5)), logits, rtol=1e-5)
    # Numpy brute force of -log softmax diagonal, and the Keras loss wrapper (mean).
    shifted = logits - logits.max(-1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    brute = -np.diagonal(log_softmax, axis1=-2, axis2=-1)
    assert float(InfoNCE(0.5)(k, q)) == pytest.approx(brute.mean(), rel=1e-5)
    restored = InfoNCE.from_config(InfoNCE(0.5).get_config())
    assert restored.temperature == 0.5


def test_info_nce_bad_input_names_the_argument():
    q = np.zeros((4, 3), "float32")
    with pytest.raises(ValueError, match="`temperature`.*Received: temperature=0"):
        info_nce_loss(q, q, temperature=0)
    with pytest.raises(ValueError, match="`temperature`"):
        InfoNCE(temperature=-1.0)
    with pytest.raises(ValueError, match="`keys`.*Received"):
        info_nce_loss(q, np.zeros((4, 2), "float32"))


@pytest.fixture(scope="module")
def digits_rows():
    from keras_dlss.datasets import digits

    x, y = digits(8)
    return x[..., 0][:400], y[:400]


@pytest.fixture(scope="module")
def trained_cpc(digits_rows):
    x, _ = digits_rows
    keras.utils.set_random_seed(0)
    cpc = build_row_cpc(units=32, context_units=32, prediction_steps=2)
    cpc.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    history = cpc.fit(x, epochs=3, batch_size=64, verbose=0).history
    return cpc, history


def test_cpc_learns_to_predict_rows_and_its_probe_beats_chance(trained_cpc, digits_rows):
    cpc, history = trained_cpc
    x, y = digits_rows
    assert history["loss"][-1] < history["loss"][0] < np.log(64) + 0.1
    assert history["accuracy"][-1] > 3 / 64  # chance is 1/64
    result = linear_probe(
        cpc.representation, (x[:300], y[:300]), (x[300:], y[300:]), epochs=30, learning_rate=0.05
    )
    assert result["feature_dim"] == 32 and result["test_accuracy"] > 0.4


def test_cpc_save_load_and_export(trained_cpc, digits_rows, tmp_path):
    cpc, _ = trained_cpc
    x, _ = digits_rows
    path = str(tmp_path / "cpc.keras")
    cpc.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        ops.convert_to_numpy(loaded(x[:4])), ops.convert_to_numpy(cpc(x[:4])), atol=1e-6
    )
    assert int(loaded.optimizer.iterations) == int(cpc.optimizer.iterations)
    assert loaded.prediction_steps == 2
    assert export_and_compare(cpc, str(tmp_path / "saved"), x[:4]) < 1e-5


def test_cpc_and_probe_bad_input():
    encoder = keras.Sequential([keras.Input((3, 4)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="`prediction_steps`.*Received: prediction_steps=3"):
        ContrastivePredictiveCoding(encoder, prediction_steps=3)
    with pytest.raises(ValueError, match="`temperature`"):
        ContrastivePredictiveCoding(encoder, prediction_steps=1, temperature=0.0)
    with pytest.raises(ValueError, match="`data`.*Received"):
        linear_probe(keras.layers.Identity(), (np.zeros((0, 3)), np.zeros((0,))))
    with pytest.raises(ValueError, match="`data`.*Received"):
        linear_probe(keras.layers.Identity(), (np.zeros((4, 3)), np.zeros((3,))))
