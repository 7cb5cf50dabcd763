"""Attributions for token inputs, taken through the embedding (issue #15: token-embedding inputs).

Gradients need float inputs, so a token model is explained by the part that
starts at its embedding output, and a token's attribution is the sum over its
embedding dimensions (as captum's LayerIntegratedGradients on the embedding).
"""

import keras
import numpy as np
import pytest

from keras_dlss import interpret

VOCAB, LENGTH, DIM = 12, 6, 4
KEY_TOKEN = 7  # the only token whose embedding the classifier reads


@pytest.fixture(scope="module")
def token_model():
    rng = np.random.default_rng(0)
    table = 0.05 * rng.normal(size=(VOCAB, DIM))
    table[KEY_TOKEN] = [3.0, 0.0, 0.0, 0.0]
    embedding = keras.layers.Embedding(VOCAB, DIM)
    head = keras.Sequential(
        [keras.Input((LENGTH, DIM)), keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)]
    )
    model = keras.Sequential([keras.Input((LENGTH,), dtype="int32"), embedding, head])
    embedding.set_weights([table.astype("float32")])
    head.set_weights([_w(), np.zeros(2, "float32")])
    tokens = rng.integers(0, VOCAB, size=(3, LENGTH))
    tokens[tokens == KEY_TOKEN] = 0
    tokens[np.arange(3), [1, 3, 5]] = KEY_TOKEN
    return model, embedding, head, tokens


def _w():
    w = np.zeros((DIM, 2), "float32")
    w[0, 1] = 1.0  # class 1 reads the key token's dimension
    w[1, 0] = 0.5
    return w


def test_integrated_gradients_through_the_embedding_find_the_key_token(token_model):
    model, embedding, head, tokens = token_model
    embedded = keras.ops.convert_to_numpy(embedding(tokens))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(head(embedded)),
        keras.ops.convert_to_numpy(model(tokens)),
        rtol=1e-6,
    )
    ig, delta = interpret.integrated_gradients(head, embedded, 1, steps=16)
    per_token = keras.ops.convert_to_numpy(ig).sum(-1)
    assert per_token.shape == (3, LENGTH)
    np.testing.assert_array_equal(per_token.argmax(1), [1, 3, 5])
    # Completeness from the zero embedding: the head is linear, so the gap is round-off.
    gap = keras.ops.convert_to_numpy(head(embedded) - head(np.zeros_like(embedded)))[:, 1]
    np.testing.assert_allclose(per_token.sum(1), gap, atol=1e-5)
    assert np.max(np.abs(keras.ops.convert_to_numpy(delta))) < 1e-5


def test_saliency_and_occlusion_over_token_positions(token_model):
    _, embedding, head, tokens = token_model
    embedded = keras.ops.convert_to_numpy(embedding(tokens))
    grads = keras.ops.convert_to_numpy(interpret.saliency(head, embedded, 1))
    # Global average pooling: every position gets the same gradient, w[:, 1] / LENGTH.
    np.testing.assert_allclose(grads, np.broadcast_to(_w()[:, 1] / LENGTH, grads.shape), atol=1e-7)
    occ = interpret.occlusion(head, embedded, 1, window=(1, DIM), strides=(1, DIM))
    per_token = keras.ops.convert_to_numpy(occ).sum(-1)
    np.testing.assert_array_equal(per_token.argmax(1), [1, 3, 5])
