"""TextClassifier kinds and their layers: BoW by hand, SIF vs NumPy, padding by effect, save/load."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import (
    BagOfWords,
    MaskedGlobalPooling1D,
    SIFEmbedding,
    TextClassifier,
    ZeroPaddedPositions,
    fit_sif,
    sif_word_weights,
)
from keras_dlss.applications.text_classifier import KINDS
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(0)
VOCAB = 30


def _ids(batch=4, length=6, pad_from=(6, 4, 2, 1)):
    ids = RNG.integers(1, VOCAB, size=(batch, length)).astype("int32")
    for row, start in enumerate(pad_from[:batch]):
        ids[row, start:] = 0
    return ids


def test_bag_of_words_equals_hand_computed_sum():
    layer = BagOfWords(5, 2)
    layer.build((None, None))
    scores = np.arange(10, dtype="float32").reshape(5, 2)
    layer.scores.assign(scores)
    layer.bias.assign(np.array([0.5, -1.0], "float32"))
    out = keras.ops.convert_to_numpy(layer(np.array([[1, 3, 3, 0], [4, 0, 0, 0]])))
    # Row 0: W[1] + 2 W[3] + b = [2, 3] + [12, 14] + [0.5, -1]; row 1: W[4] + b.
    np.testing.assert_allclose(out, [[14.5, 16.0], [8.5, 8.0]])


def _sif_reference(vectors, ids, weights, u):
    """Arora et al. (2017), Algorithm 1, written out per sentence."""
    out = []
    for row in ids:
        words = [w for w in row if w > 0]
        v = sum(weights[w] * vectors[w] for w in words) / max(len(words), 1)
        out.append(v - u * (u @ v))
    return np.array(out)


def test_sif_embedding_and_fit_match_numpy_reference():
    ids = _ids(batch=4, length=6)
    model = TextClassifier(VOCAB, 2, "sif", embedding_dim=5)
    layer = fit_sif(model, ids, a=0.01)
    # Weights: a / (a + p(w)) from unigram frequencies of the training ids.
    counts = np.bincount(ids[ids > 0], minlength=VOCAB)
    expected = 0.01 / (0.01 + counts / counts.sum())
    expected[0] = 0.0
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.word_weights), expected, rtol=1e-6)
    np.testing.assert_allclose(sif_word_weights(ids, VOCAB, 0.01), expected, rtol=1e-6)
    vectors = keras.ops.convert_to_numpy(model.get_layer("embedding").embeddings)
    # The principal component: first right singular vector of the weighted averages.
    averages = _sif_reference(vectors, ids, expected, np.zeros(5))
    u = np.linalg.svd(averages)[2][0]
    got_u = keras.ops.convert_to_numpy(layer.principal_component)
    np.testing.assert_allclose(np.abs(got_u @ u), 1.0, rtol=1e-5)
    out = keras.ops.convert_to_numpy(layer([vectors[ids], ids]))
    np.testing.assert_allclose(out, _sif_reference(vectors, ids, expected, got_u), atol=1e-5)
    np.testing.assert_allclose(out @ got_u, 0.0, atol=1e-5)  # the common direction is removed


@pytest.fixture(scope="module")
def models():
    keras.utils.set_random_seed(1)
    small = {"embedding_dim": 6, "hidden_dim": 5, "filters": 3, "filter_widths": (2, 3)}
    built = {kind: TextClassifier(VOCAB, 3, kind, **small) for kind in KINDS}
    fit_sif(built["sif"], _ids())
    bow = built["bow"].get_layer("bag_of_words")  # zeros at start: give it something to sum
    bow.scores.assign(RNG.normal(size=(VOCAB, 3)).astype("float32"))
    return built


@pytest.mark.parametrize("kind", KINDS)
def test_padding_changes_nothing(models, kind):
    ids = _ids()
    model = models[kind]
    short = keras.ops.convert_to_numpy(model(ids))
    padded = keras.ops.convert_to_numpy(model(np.pad(ids, ((0, 0), (0, 5)))))
    assert short.shape == (4, 3)
    np.testing.assert_allclose(short, padded, atol=1e-6)
    np.testing.assert_allclose(short.sum(-1), 1.0, rtol=1e-5)
    # The content does matter: changing one real token changes that row.
    changed = ids.copy()
    changed[0, 0] = changed[0, 0] % (VOCAB - 1) + 1
    assert not np.allclose(keras.ops.convert_to_numpy(model(changed))[0], short[0])


def test_xla_and_keras_file_round_trip(models, tmp_path):
    ids = _ids()
    model = models["sif"]  # holds fitted non-trainable weights that must be saved
    model.compile(loss="sparse_categorical_crossentropy", jit_compile=True)
    expected = keras.ops.convert_to_numpy(model(ids))
    np.testing.assert_allclose(model.predict(ids, verbose=0), expected, atol=1e-6)
    path = str(tmp_path / "sif.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(restored(ids)), expected, atol=1e-6)


def test_pretrained_embeddings_frozen_or_fine_tuned():
    matrix = RNG.normal(size=(VOCAB, 4)).astype("float32")
    frozen = TextClassifier(VOCAB, 2, "cbow", embeddings=matrix, trainable_embeddings=False)
    embedding = frozen.get_layer("embedding")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(embedding.embeddings), matrix)
    assert not embedding.trainable_weights
    tuned = TextClassifier(VOCAB, 2, "cnn", embeddings=matrix)
    assert tuned.get_layer("embedding").trainable_weights


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"kind": "rnn"}, "kind"),
        ({"kind": "bow", "embeddings": np.ones((VOCAB, 2))}, "embeddings"),
        ({"kind": "cbow", "embeddings": np.ones((VOCAB + 1, 2))}, "embeddings"),
        ({"filter_widths": ()}, "filter_widths"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_bad_arguments_raise_naming_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received"):
        TextClassifier(VOCAB, 2, **kwargs)


def test_fit_sif_needs_a_sif_model(models):
    with pytest.raises(ValueError, match="`model`"):
        fit_sif(models["cbow"], _ids())


def _features_and_ids():
    return [
        RNG.normal(size=(2, 5, 3)).astype("float32"),
        np.array([[3, 1, 0, 0, 0], [2, 2, 2, 1, 4]]),
    ]


@pytest.mark.parametrize(
    "layer_cls, kwargs, data, export",
    [
        (BagOfWords, {"vocabulary_size": 6, "num_classes": 2, "scores_initializer": "glorot_uniform"}, _ids(2, 5)[:, :5] % 6, True),
        (SIFEmbedding, {"vocabulary_size": 6}, _features_and_ids(), True),
        # Weightless: SavedModel export adds nothing the two above do not check (CI time).
        (MaskedGlobalPooling1D, {"mode": "max"}, _features_and_ids(), False),
        (ZeroPaddedPositions, {}, _features_and_ids(), False),
    ],
)  # fmt: skip
def test_conformance(layer_cls, kwargs, data, export):
    report = run_layer_test(layer_cls, kwargs, data, check_export=export)
    assert "failed" not in str(report)


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_masked_pooling_modes(mode):
    x, ids = _features_and_ids()
    out = keras.ops.convert_to_numpy(MaskedGlobalPooling1D(mode)([x, ids]))
    mask = (ids > 0)[..., None]
    expected = (x * mask).sum(1)
    if mode == "mean":
        expected = expected / mask.sum(1)
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_task_reads_user_tsv_builds_and_predicts(tmp_path):
    from keras_dlss.applications import get_task

    path = tmp_path / "reviews.tsv"
    rows = [f"a {w} film\t{'pos' if w in ('good', 'fine') else 'neg'}" for w in ("good", "bad")]
    rows += [f"it was {w}\t{'pos' if w == 'fine' else 'neg'}" for w in ("fine", "dull")]
    path.write_text("\n".join(rows * 5) + "\n")
    task = get_task("text-classifier")
    data = task.load_data(str(path))
    assert data.info["label_names"] == ["neg", "pos"]
    assert len(data.train[0]) + len(data.validation[0]) + len(data.test[0]) == 20
    model = task.build_model(data, jit_compile=False, kind="sif", embedding_dim=4)
    lines = task.predict(model, ["a good film", "unseen words"], data.info)
    assert len(lines) == 2 and all(line.split()[0] in ("neg", "pos") for line in lines)
    path.write_text("a\tpos\n")
    with pytest.raises(ValueError, match="`data`"):
        task.load_data(str(path))
