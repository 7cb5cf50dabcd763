"""BiLSTM-CRF tagger application and its CLI task.

The default data is the embedded UD English EWT slice (UPOS, token accuracy);
the template NER corpus in tests/fixtures is the `--data` example of BIO
tagging (span F1, constrained decoding).
"""

import collections
import gzip
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dlss.applications import BiLSTMCRFTagger, get_task
from keras_dlss.applications.tagger import _pieces, load_tagged, tokenize
from keras_dlss.layers import CRFModel

SMALL = dict(embedding_dim=16, char_embedding_dim=8, char_filters=16, lstm_units=16)
FIXTURE = os.path.join(os.path.dirname(__file__), os.pardir, "fixtures", "toy_ner.conll")
UPOS = {
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM",
    "PART", "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X",
}  # fmt: skip


@pytest.fixture(scope="module")
def ewt():
    # 400 dev sentences (360 train, 40 validation) and 400 test sentences keep this quick.
    return load_tagged(seed=0, max_sentences=400)


def _tags(line):
    return [w.rsplit("/", 1)[1] for w in line.split()]


def test_default_data_is_the_embedded_ewt_slice():
    task = get_task("tagger")
    assert "CC BY-SA 4.0" in task.data_license and "EWT" in task.default_data
    data = load_tagged(seed=0)
    info = data.info
    assert set(info["tags"]) == UPOS and info["scheme"] is None
    assert info["max_length"] == 32 and info["words"]["tokens"][:2] == ["<pad>", "<unk>"]
    x, y = data.train
    assert x["words"].shape == y.shape == (len(y), 32) and x["chars"].shape == y.shape + (16,)
    # 1,800 train sentences, the 6% longer than 32 tokens split into pieces; no token lost.
    assert (
        1800 < len(y) < 1950
        and (x["words"] > 0).sum() + (data.validation[0]["words"] > 0).sum() == 25147
    )
    assert len(data.validation[1]) == 201
    x_test, y_test = data.test
    # Test sentences stay whole: encoded at the longest one's length.
    assert y_test.shape == (1068, 76) and (x_test["words"] > 0).sum() == 12572
    json.dumps(info)  # metadata.json must be serializable


def test_upos_task_beats_the_majority_tag_and_round_trips(ewt, tmp_path):
    task = get_task("tagger")
    # XLA: tests/layers/test_crf.py. 4 epochs of 360 sentences reach ~72% (majority tag: 15%).
    model = task.build_model(ewt, jit_compile=False, learning_rate=1e-2, **SMALL)
    assert isinstance(model, CRFModel)
    assert model.get_layer("crf").constraints is None  # UPOS: no BIO constraints
    model.fit(*ewt.train, epochs=4, batch_size=16, verbose=0)
    metrics = task.evaluate(model, ewt)
    assert "test_span_f1" not in metrics
    # Majority baseline: every test token tagged with the most frequent training tag.
    x_test, y_test = ewt.test
    train_counts = collections.Counter(ewt.train[1][ewt.train[0]["words"] > 0].tolist())
    majority = (y_test[x_test["words"] > 0] == train_counts.most_common(1)[0][0]).mean()
    assert majority < 0.2 and metrics["test_token_accuracy"] > majority + 0.3, metrics

    long_sentence = " ".join(["the cat sat on the mat ,"] * 6)  # 42 tokens > max_length 32
    lines = task.predict(model, ["the cat sat on the mat", long_sentence], ewt.info)
    assert [w.rsplit("/", 1)[0] for w in lines[0].split()] == tokenize("the cat sat on the mat")
    assert len(_tags(lines[1])) == 42 and set(_tags(lines[0]) + _tags(lines[1])) <= UPOS

    sample = task.sample_inputs(ewt, 4)
    expected = model.predict(sample, verbose=0)
    path = os.path.join(tmp_path, "tagger.keras")
    model.save(path)
    np.testing.assert_array_equal(
        keras.saving.load_model(path).predict(sample, verbose=0), expected
    )
    export = os.path.join(tmp_path, "saved_model")
    model.export(export, verbose=False)
    loaded = tf.saved_model.load(export)
    served = loaded.serve({k: tf.constant(v) for k, v in sample.items()})
    np.testing.assert_array_equal(served.numpy(), expected)


def test_bio_fixture_through_cli_data_has_span_f1_and_constrained_decoding(tmp_path, capsys):
    from keras_dlss.cli import main

    out = tmp_path / "ner"
    argv = ["train", "tagger", "--data", FIXTURE, "--epochs", "1", "--no-xla", "--no-export"]
    assert main([*argv, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"test_token_accuracy", "test_span_f1", "test_span_precision"} <= set(metrics)
    assert metrics["data"] == "toy_ner.conll"
    info = json.loads((out / "metadata.json").read_text())
    assert info["scheme"] == "BIO" and {"O", "B-PER", "I-PER", "B-ORG"} <= set(info["tags"])
    model = keras.saving.load_model(out / "model.keras")
    constraints = model.get_layer("crf").constraints
    assert constraints is not None  # BIO: decoding is constrained
    capsys.readouterr()
    assert main(["predict", "tagger", str(out / "model.keras"), "Jordan visited Paris ."]) == 0
    tags = _tags(capsys.readouterr().out)
    assert len(tags) == 4 and set(tags) <= set(info["tags"])
    for prev, cur in zip(["O", *tags[:-1]], tags):  # never I-X after O or at the start
        if cur.startswith("I-"):
            assert prev != "O" and prev[2:] == cur[2:]


def test_long_training_sentences_are_split_outside_bio_spans():
    words = [list("abcdefg")]
    assert _pieces(words, [list("ABCDEFG")], 3)[1] == [list("ABC"), list("DEF"), ["G"]]
    bio = [["O", "B-X", "I-X", "I-X", "O", "B-Y", "I-Y"]]
    assert _pieces(words, bio, 3)[1] == [["O"], ["B-X", "I-X", "I-X"], ["O", "B-Y", "I-Y"]]
    # A span longer than the piece keeps its head; the sentence ends there.
    assert _pieces(words, [["B-X", "I-X", "I-X", "I-X", "O", "O", "O"]], 3)[0] == [list("abc")]


def test_conllu_user_data(tmp_path):
    rows = []
    for i in range(6):
        rows += [
            f"# sent_id = {i}",
            "1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_",
            "2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_",
            "",
        ]
    path = tmp_path / "mini.conllu.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\n".join(rows))
    data = get_task("tagger").load_data(str(path), seed=1)
    assert data.info["tags"] == ["DET", "NOUN"] and data.info["scheme"] is None
    assert data.info["source"] == "mini.conllu.gz"


def test_softmax_head_and_plain_words_input():
    model = BiLSTMCRFTagger(20, 3, head="softmax", **SMALL)
    probs = model.predict(np.array([[1, 2, 0]]), verbose=0)
    assert probs.shape == (1, 3, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_tokenize_and_errors(tmp_path):
    assert tokenize("Dr. Smith's dog, e-mail!") == [
        "Dr",
        ".",
        "Smith",
        "'s",
        "dog",
        ",",
        "e-mail",
        "!",
    ]
    assert tokenize("I can't, we'll") == ["I", "ca", "n't", ",", "we", "'ll"]
    with pytest.raises(ValueError, match="`head` must be one of"):
        BiLSTMCRFTagger(20, 3, head="hmm")
    with pytest.raises(ValueError, match="`vocabulary_size` must be an integer >= 2"):
        BiLSTMCRFTagger(20 - 19, 3)
    with pytest.raises(ValueError, match=r"`labels` must hold num_tags=3 tags"):
        BiLSTMCRFTagger(20, 3, labels=["O"])
    with pytest.raises(ValueError, match="`path` must hold at least 3 sentences. Received: 2"):
        load_tagged(FIXTURE, max_sentences=2)
    with pytest.raises(ValueError, match="`max_length` must be an integer >= 1"):
        load_tagged(FIXTURE, max_length=0)
