"""BiLSTM-CRF tagger application and its CLI task."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dlss.applications import BiLSTMCRFTagger, get_task
from keras_dlss.applications.tagger import load_tagged, tokenize
from keras_dlss.layers import CRFModel

SMALL = dict(embedding_dim=8, char_embedding_dim=4, char_filters=8, lstm_units=8)


@pytest.fixture(scope="module")
def data():
    return load_tagged(seed=0)


def _subset(split, n):
    x, y = split
    return {k: val[:n] for k, val in x.items()}, y[:n]


def test_embedded_corpus_splits_and_metadata(data):
    info = data.info
    assert info["scheme"] == "BIO" and "O" in info["tags"] and "B-PER" in info["tags"]
    x, y = data.train
    assert x["words"].shape == y.shape and x["chars"].shape == y.shape + (16,)
    assert len(data.train[1]) + len(data.validation[1]) + len(data.test[1]) == 480
    assert info["words"]["tokens"][:2] == ["<pad>", "<unk>"]
    import json

    json.dumps(info)  # metadata.json must be serializable


def test_task_trains_predicts_and_round_trips(data, tmp_path):
    task = get_task("tagger")
    model = task.build_model(data, jit_compile=False, **SMALL)  # XLA: tests/layers/test_crf.py
    assert isinstance(model, CRFModel)
    x, y = _subset(data.train, 64)
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    metrics = task.evaluate(model, data)
    assert {"test_loss", "test_token_accuracy", "test_span_f1"} <= set(metrics)

    lines = task.predict(model, ["Jordan visited Paris .", "Nobody expected it"], data.info)
    words = [w.rsplit("/", 1) for w in lines[0].split()]
    assert [w for w, _ in words] == ["Jordan", "visited", "Paris", "."]
    assert all(t in data.info["tags"] for _, t in words)
    # Constrained BIO decoding: never I-X after O or at the start.
    for line in lines:
        tags = [w.rsplit("/", 1)[1] for w in line.split()]
        for prev, cur in zip(["O"] + tags[:-1], tags):
            if cur.startswith("I-"):
                assert prev[2:] == cur[2:] and prev != "O"

    sample = task.sample_inputs(data, 4)
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


def test_conllu_user_data(tmp_path):
    rows = []
    for i in range(6):
        rows += [
            f"# sent_id = {i}",
            "1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_",
            "2\tdog\tdog\tNOUN\tNN\t_\t0\troot\t_\t_",
            "",
        ]
    path = tmp_path / "mini.conllu"
    path.write_text("\n".join(rows), encoding="utf-8")
    data = get_task("tagger").load_data(str(path), seed=1)
    assert data.info["tags"] == ["DET", "NOUN"] and data.info["scheme"] is None


def test_softmax_head_and_plain_words_input():
    model = BiLSTMCRFTagger(20, 3, head="softmax", **SMALL)
    probs = model.predict(np.array([[1, 2, 0]]), verbose=0)
    assert probs.shape == (1, 3, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_tokenize_and_errors():
    assert tokenize("Dr. Smith's dog, e-mail!") == ["Dr", ".", "Smith's", "dog", ",", "e-mail", "!"]
    with pytest.raises(ValueError, match="`head` must be one of"):
        BiLSTMCRFTagger(20, 3, head="hmm")
    with pytest.raises(ValueError, match="`vocabulary_size` must be an integer >= 2"):
        BiLSTMCRFTagger(1, 3)
    with pytest.raises(ValueError, match=r"`labels` must hold num_tags=3 tags"):
        BiLSTMCRFTagger(20, 3, labels=["O"])
