"""BiaffineParser: well-formed trees, masking by effect, save/load, XLA, CoNLL-U round trip."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import BiaffineParser
from keras_dlss.applications.parser_task import (
    ParserTask,
    build_vocabularies,
    encode_trees,
)
from keras_dlss.datasets import check_heads, read_conllu_trees, ud_english_ewt_path

SMALL = {"lstm_units": 8, "lstm_layers": 1, "arc_units": 8, "label_units": 4, "embedding_dim": 8}


@pytest.fixture(scope="module")
def trained():
    trees = [t for t in read_conllu_trees(ud_english_ewt_path("dev")) if len(t) <= 8][:12]
    info = build_vocabularies(trees)
    x, y = encode_trees(trees, info)
    model = BiaffineParser(
        len(info["words"]["tokens"]), len(info["deprels"]), num_tags=len(info["upos"]), **SMALL
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    model.fit(x, y, batch_size=12, epochs=1, verbose=0)
    return model, info, trees, x, y


def test_parse_returns_well_formed_trees(trained):
    model, _, trees, x, _ = trained
    for projective in (False, True):
        heads, labels, tags = model.parse(x, projective=projective)
        assert heads.shape == labels.shape == tags.shape == x["words"].shape
        for row, tree in enumerate(trees):
            check_heads(heads[row, 1 : len(tree) + 1])
            assert (heads[row, len(tree) + 1 :] == 0).all()


def test_padding_changes_nothing(trained):
    model, _, _, x, y = trained

    def pad(d, value):
        return {k: np.pad(a, ((0, 0), (0, 3)), constant_values=value) for k, a in d.items()}

    loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    padded = model.evaluate(pad(x, 0), pad(y, -1), verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(padded, loss, rtol=1e-5)
    heads, _, _ = model.parse(x)
    np.testing.assert_array_equal(model.parse(pad(x, 0))[0][:, : heads.shape[1]], heads)


def test_save_load_and_xla_agree(trained, tmp_path):
    model, _, _, x, _ = trained
    path = str(tmp_path / "parser.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    eager = model(x)
    restored.compile(optimizer="adam", jit_compile=True)
    compiled = restored.predict(x, verbose=0)
    for key in ("arcs", "labels", "tags"):
        np.testing.assert_allclose(compiled[key], keras.ops.convert_to_numpy(eager[key]), atol=1e-4)


def test_predict_prints_conllu_that_reads_back_as_trees(trained, tmp_path):
    model, info, _, _, _ = trained
    lines = ParserTask().predict(model, ["The cat sat on the mat .", "She ca n't go"], info)
    path = tmp_path / "out.conllu"
    path.write_text("\n".join(lines), encoding="utf-8")
    trees = read_conllu_trees(str(path))
    assert [t.words for t in trees] == [
        ["The", "cat", "sat", "on", "the", "mat", "."],
        ["She", "ca", "n't", "go"],
    ]
    assert all(t.deprels[t.heads.index(0)] == "root" for t in trees)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`dropout`.*Received"):
        BiaffineParser(10, 3, dropout=1.0)
    with pytest.raises(ValueError, match="`num_labels`.*Received"):
        BiaffineParser(10, 0)
    with pytest.raises(ValueError, match="`char_vocabulary_size`.*Received"):
        BiaffineParser(10, 3, char_vocabulary_size=1)


def test_char_feature_is_used_parses_and_round_trips(trained, tmp_path):
    from keras_dlss.datasets.conll import Vocabulary, encode_characters

    _, info, trees, x, y = trained
    sentences = [["<root>"] + t.words for t in trees]
    chars = Vocabulary.build([list(w) for s in sentences for w in s])
    x = {**x, "chars": encode_characters(sentences, chars, x["words"].shape[1], 6)}
    model = BiaffineParser(
        len(info["words"]["tokens"]),
        len(info["deprels"]),
        char_vocabulary_size=len(chars),
        max_word_length=6,
        char_embedding_dim=4,
        char_filters=5,
        **SMALL,
    )
    model.compile(optimizer="adam", jit_compile=False)
    model.fit(x, y, batch_size=12, epochs=1, verbose=0)
    arcs = keras.ops.convert_to_numpy(model(x)["arcs"])
    other = {**x, "chars": np.where(x["chars"] > 0, 1, 0).astype("int32")}  # all unknown
    assert np.abs(keras.ops.convert_to_numpy(model(other)["arcs"]) - arcs).max() > 1e-6
    heads, _, _ = model.parse(x)
    for row, tree in enumerate(trees):
        check_heads(heads[row, 1 : len(tree) + 1])
    path = str(tmp_path / "chars.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(restored(x)["arcs"]), arcs, rtol=1e-5, atol=1e-5
    )


def test_length_buckets_cover_every_sentence_once_without_cutting_words():
    from keras_dlss.applications.parser_task import LengthBuckets

    trees = read_conllu_trees(ud_english_ewt_path("dev"))[:200]
    info = build_vocabularies(trees)
    x, y = encode_trees(trees, info)
    buckets = LengthBuckets(x, y, batch_size=16)
    seen = []
    widths = set()
    for i in range(len(buckets)):
        bx, by = buckets[i]
        widths.add(bx["words"].shape[1])
        assert (bx["words"] > 0).sum(1).max() <= bx["words"].shape[1]
        assert by["heads"].shape == bx["words"].shape
        seen += [tuple(row[row > 0]) for row in bx["words"]]
    assert sorted(seen) == sorted(tuple(row[row > 0]) for row in x["words"])
    assert len(widths) > 1 and buckets[0][0]["words"].shape[1] != buckets[1][0]["words"].shape[1]
