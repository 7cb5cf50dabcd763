"""BiDAF reader: masked span logits, save/load, and the `bidaf` task's data, decoding and predict."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import BiDAF
from keras_dlss.applications.bidaf_task import (
    BiDAFTask,
    answer_text,
    decode_answers,
    load_reading_data,
)


@pytest.fixture(scope="module")
def model():
    return BiDAF(20, embedding_dim=6, units=3, modeling_layers=1, dropout=0.0)


def _inputs():
    rng = np.random.default_rng(0)
    context = rng.integers(1, 20, size=(2, 7)).astype("int32")
    context[1, 5:] = 0
    return {"context": context, "question": rng.integers(1, 20, size=(2, 4)).astype("int32")}


def test_padding_is_masked_by_effect(model):
    x = _inputs()
    logits = keras.ops.convert_to_numpy(model(x))
    assert logits.shape == (2, 2, 7) and logits.dtype == np.float32
    np.testing.assert_array_equal(logits[1, :, 5:], -1e9)
    # More padding on both inputs changes no real position's logit.
    wider = {k: np.pad(v, ((0, 0), (0, 3))) for k, v in x.items()}
    padded = keras.ops.convert_to_numpy(model(wider))
    np.testing.assert_allclose(padded[:, :, :7], logits, rtol=1e-5, atol=1e-5)


def test_save_load_round_trip(model, tmp_path):
    x = _inputs()
    path = str(tmp_path / "bidaf.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(model(x)), rtol=1e-6
    )
    assert loaded.get_config() == model.get_config()


def test_task_data_decoding_and_predict(model):
    data, test_examples = load_reading_data(seed=1)
    (x, _), (tx, tspans) = data.train, data.test
    assert x["context"].shape[1] == data.info["context_length"]
    assert len(test_examples) == len(tspans) == 400
    ex, (s, e) = test_examples[0], tspans[0]
    assert answer_text(ex, s, e) == ex["answers"][0]

    class Oracle:  # logits peaked on the gold span: decoding must return the gold text
        def predict(self, inputs, **kwargs):
            logits = np.full((len(tspans), 2, tx["context"].shape[1]), -5.0, "float32")
            logits[np.arange(len(tspans)), 0, tspans[:, 0]] = 5.0
            logits[np.arange(len(tspans)), 1, tspans[:, 1]] = 5.0
            return logits

    assert decode_answers(Oracle(), tx, test_examples) == [ex["answers"][0] for ex in test_examples]
    task = BiDAFTask()
    metadata = {"vocabulary": data.info["vocabulary"]}
    bidaf = BiDAF(len(data.info["vocabulary"]), embedding_dim=4, units=2, modeling_layers=1)
    (line,) = task.predict(bidaf, ["Alice was born in Paris. | Where was Alice born?"], metadata)
    assert "(words" in line and "p=" in line
    with pytest.raises(ValueError, match="`inputs`.*Received"):
        task.predict(bidaf, ["no separator here"], metadata)


def test_bad_arguments():
    with pytest.raises(ValueError, match="`units`.*Received"):
        BiDAF(20, units=0)
    with pytest.raises(ValueError, match="`dropout`.*Received"):
        BiDAF(20, dropout=1.0)


def test_user_squad_file_with_dev_sibling(tmp_path):
    import json

    from keras_dlss.datasets import generate_reading_comprehension

    train, dev = tmp_path / "train-v1.1.json", tmp_path / "dev-v1.1.json"
    train.write_text(json.dumps(generate_reading_comprehension(20, seed=5)))
    dev.write_text(json.dumps(generate_reading_comprehension(3, seed=6)))
    data, test_examples = load_reading_data(str(train), max_context_length=40)
    assert data.info["source"] == str(train)
    assert [ex["id"] for ex in test_examples][:1] == ["generated-6-0-0"]  # the dev file
    cut = data.info["dropped_answers_past_context_length"]
    assert len(data.train[1]) + len(data.validation[1]) + cut["train"] + cut["validation"] == 40
    assert data.train[0]["context"].shape[1] == 40 and data.train[1].max() < 40
