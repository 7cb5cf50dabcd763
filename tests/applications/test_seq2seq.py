import os

import keras
import numpy as np
import pytest

from keras_dlss.applications import Seq2SeqTranslator
from keras_dlss.applications.registry import get_task
from keras_dlss.applications.seq2seq_task import decode_targets, encode_sources, encode_targets

RNG = np.random.default_rng(0)
SOURCE = RNG.integers(1, 12, size=(8, 7)).astype("int32")
SOURCE[:, 5:] = 0  # padding
TARGET = RNG.integers(3, 9, size=(8, 5)).astype("int32")
TARGET[:, -1] = 2
X = {"source": SOURCE, "target": TARGET}


def _model(regime="teacher_forcing", jit_compile=False, **kwargs):
    model = Seq2SeqTranslator(
        12,
        9,
        embedding_dim=4,
        units=6,
        regime=regime,
        max_output_length=5,
        seed=1,
        discriminator_units=4,
        **kwargs,
    )
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def test_scheduled_sampling_fits_under_xla_and_epsilon_one_is_teacher_forcing():
    model = _model("scheduled_sampling", jit_compile=True)
    history = model.fit(X, TARGET, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    logits = model(X)
    log_probs, _ = model.scheduled_sampling(SOURCE, TARGET, training=False)  # epsilon = 1
    np.testing.assert_allclose(
        log_probs, keras.ops.log_softmax(logits, axis=-1), rtol=1e-4, atol=1e-5
    )
    model.teacher_forcing_probability.assign(0.0)
    free, _ = model.scheduled_sampling(SOURCE, TARGET, training=False)
    greedy, _ = model.greedy_search(SOURCE)
    # Free running feeds argmax tokens: its argmaxes are the greedy decode until the end token.
    fed = keras.ops.convert_to_numpy(keras.ops.argmax(free, axis=-1))
    greedy = keras.ops.convert_to_numpy(greedy)
    first = greedy[:, 0]
    np.testing.assert_array_equal(fed[:, 0], first)


def test_professor_forcing_trains_both_players_and_round_trips(tmp_path):
    model = _model("professor_forcing")
    disc_before = [np.array(w) for w in model.discriminator.weights]
    history = model.fit(X, TARGET, batch_size=8, epochs=1, verbose=0)
    assert {"loss", "discriminator_loss", "discriminator_accuracy"} <= set(history.history)
    assert any(
        not np.allclose(a, np.asarray(b)) for a, b in zip(disc_before, model.discriminator.weights)
    )
    path = os.path.join(tmp_path, "pf.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded(X), model(X), rtol=1e-5, atol=1e-6)


def test_decoding_beam_one_is_greedy_and_masks_source_padding():
    model = _model(attention="luong")
    model(X)
    greedy, g_scores = model.greedy_search(SOURCE)
    beam, b_scores = model.beam_search(SOURCE, beam_width=1)
    np.testing.assert_array_equal(beam[:, 0], greedy)
    np.testing.assert_allclose(b_scores[:, 0], g_scores, rtol=1e-5)
    beam3, _ = model.beam_search(SOURCE, beam_width=3)
    assert tuple(beam3.shape) == (8, 3, 5)
    # Effect of the source mask: extra padding changes neither tokens nor scores.
    longer = np.pad(SOURCE, ((0, 0), (0, 4)))
    longer_greedy, longer_scores = model.greedy_search(longer)
    np.testing.assert_array_equal(longer_greedy, greedy)
    np.testing.assert_allclose(longer_scores, g_scores, rtol=1e-5, atol=1e-6)
    weights = keras.ops.convert_to_numpy(model.attention_weights(SOURCE, TARGET))
    assert weights.shape == (8, 5, 7)
    assert np.all(weights[:, :, 5:] == 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError, match="regime"):
        Seq2SeqTranslator(10, 10, regime="curriculum")
    with pytest.raises(ValueError, match="end_id"):
        Seq2SeqTranslator(10, 3, end_id=3)
    with pytest.raises(ValueError, match="beam_width"):
        _model().beam_search(SOURCE, beam_width=0)


def test_task_end_to_end_on_a_tsv_file(tmp_path):
    from keras_dlss.datasets import generate_dates

    data_path = os.path.join(tmp_path, "pairs.tsv")
    with open(data_path, "w") as f:
        f.writelines(f"{s}\t{t}\n" for s, t in generate_dates(60, seed=2))
    task = get_task("seq2seq")
    data = task.load_data(data_path, seed=0)
    info = data.info
    assert decode_targets(encode_targets(["1987-03-03"], info), info) == ["1987-03-03"]
    assert encode_sources(["MAR"], info)[0, 0] == info["source_vocab"].index("m")
    model = task.build_model(data, jit_compile=False, units=8, embedding_dim=4)
    task.fit(model, data, epochs=1, batch_size=16, callbacks=[], verbose=0)
    metrics = task.evaluate(model, data)
    assert 0.0 <= metrics["test_exact_match_greedy"] <= 1.0
    assert "test_exact_match_beam4" in metrics
    paths = task.save_artifacts(model, data, str(tmp_path))
    assert os.path.getsize(paths[0]) > 1000
    lines = task.predict(model, ["3rd of march 1987"], info)
    assert lines[0].startswith("3rd of march 1987 -> ") and lines[0].count("|") == 3
