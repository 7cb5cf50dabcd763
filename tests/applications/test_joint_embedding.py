"""Joint image-caption embedding on captioned shapes: it learns, it is unit-norm, it reloads."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import JointEmbedding
from keras_dlss.datasets import shape_caption_vocabulary, shape_captions
from keras_dlss.losses import contrastive_ranking_loss

VOCAB = len(shape_caption_vocabulary().tokens)
HELD_OUT = shape_captions(100, captions_per_image=1, seed=101)


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    train = shape_captions(512, captions_per_image=5, seed=100)
    model = JointEmbedding(VOCAB, embedding_dim=24, filters=8, word_dim=16, text_encoder="bow")
    model.compile(keras.optimizers.Adam(3e-3), jit_compile=True)
    before = model.retrieval_scores(HELD_OUT.images, HELD_OUT.tokens[:, 0], k=(1, 5))
    for epoch in range(3):
        model.fit(list(train.pairs(seed=epoch)), batch_size=32, epochs=1, verbose=0)
    return model, before


def test_training_lifts_recall_well_above_chance(trained):
    model, before = trained
    after = model.retrieval_scores(HELD_OUT.images, HELD_OUT.tokens[:, 0], k=(1, 5))
    # 100 held-out pairs: chance R@1 is 0.01 and R@5 0.05.
    assert after["t2i_r1"] >= 0.08 and after["i2t_r1"] >= 0.08, after
    assert after["t2i_r5"] >= 0.3 and after["t2i_r5"] > before["t2i_r5"] + 0.15, (before, after)
    assert after["t2i_medr"] < before["t2i_medr"] / 2


def test_embeddings_are_unit_norm_and_retrieve_ranks_by_cosine(trained):
    model, _ = trained
    images, tokens = HELD_OUT.images[:20], HELD_OUT.tokens[:20, 0]
    image_emb, text_emb = model.encode_images(images), model.encode_texts(tokens)
    np.testing.assert_allclose(np.linalg.norm(image_emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(text_emb, axis=1), 1.0, atol=1e-5)
    best, scores = model.retrieve(tokens, images, k=3)
    brute = np.argsort(-(text_emb @ image_emb.T), axis=1, kind="stable")[:, :3]
    np.testing.assert_array_equal(best, brute)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)
    again, _ = model.retrieve(text_emb, image_emb, k=3)  # pre-embedded gallery
    np.testing.assert_array_equal(again, best)
    with pytest.raises(ValueError, match="`k`.*Received: k=21"):
        model.retrieve(tokens, images, k=21)
    with pytest.raises(ValueError, match="`queries`.*Received: queries.shape=\\(2, 5\\)"):
        model.retrieve(np.zeros((2, 5), "float32"), images)


def test_loss_is_the_ranking_loss_of_the_outputs(trained):
    model, _ = trained
    x = [HELD_OUT.images[:8], HELD_OUT.tokens[:8, 0]]
    out = model(x)
    for hardest in (False, True):
        model.hardest_negative = hardest
        expected = np.mean(
            keras.ops.convert_to_numpy(
                contrastive_ranking_loss(out["images"], out["texts"], 0.2, hardest)
            )
        )
        got = float(model.compute_loss(x=x, y_pred=out))
        np.testing.assert_allclose(got, expected, rtol=1e-5)
    model.hardest_negative = False


def test_save_load_parity(trained, tmp_path):
    model, _ = trained
    path = str(tmp_path / "joint.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.get_config() == model.get_config()
    x = HELD_OUT.images[:5], HELD_OUT.tokens[:5, 0]
    np.testing.assert_allclose(restored.encode_images(x[0]), model.encode_images(x[0]), atol=1e-6)
    np.testing.assert_allclose(restored.encode_texts(x[1]), model.encode_texts(x[1]), atol=1e-6)


@pytest.mark.parametrize("encoder", ["gru", "bow"])
def test_padding_does_not_change_caption_embeddings(encoder):
    model = JointEmbedding(VOCAB, embedding_dim=8, filters=4, word_dim=4, text_encoder=encoder)
    tokens = HELD_OUT.tokens[:3, 0]
    longer = np.concatenate([tokens, np.zeros((3, 5), "int32")], axis=1)
    shorter = tokens[:, : int((tokens > 0).sum(1).max())]
    reference = model.encode_texts(tokens)
    np.testing.assert_allclose(model.encode_texts(longer), reference, atol=1e-5)
    np.testing.assert_allclose(model.encode_texts(shorter), reference, atol=1e-5)
    changed = tokens.copy()
    changed[:, 0] = 2  # a real word changes the embedding
    assert not np.allclose(model.encode_texts(changed), reference, atol=1e-4)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="`text_encoder`.*Received: text_encoder='lstm'"):
        JointEmbedding(10, text_encoder="lstm")
    with pytest.raises(ValueError, match="`image_shape`.*Received"):
        JointEmbedding(10, image_shape=(32, 32))
    with pytest.raises(ValueError, match="`margin`.*Received"):
        JointEmbedding(10, margin=-0.1)
