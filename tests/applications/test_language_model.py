import dataclasses

import keras
import numpy as np
import pytest
from scipy.special import log_softmax

from keras_dlss.applications import RNNLanguageModel, generate_text
from keras_dlss.applications.language_model_task import LanguageModelTask, _corpus_from_metadata
from keras_dlss.datasets import build_language_model_corpus
from keras_dlss.decoding import beam_search, greedy_decode

V = 11
RNG = np.random.default_rng(0)
X = RNG.integers(1, V, size=(4, 7)).astype("int32")
X[1, 5:] = 0


def _model(**kwargs):
    kwargs = {"vocabulary_size": V, "embedding_dim": 6, "units": 6, **kwargs}
    return RNNLanguageModel(**kwargs)


@pytest.mark.parametrize("cell", ["lstm", "gru", "mlstm", "stacked", "hmlstm"])
def test_cells_train_and_log_likelihood_is_the_masked_cross_entropy(cell):
    model = _model(cell=cell, num_layers=2, units=8)  # units != embedding: projection + tying
    model.compile(jit_compile=False, run_eagerly=True)  # graph and XLA: the test below
    history = model.fit(X[:, :-1], X[:, 1:], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    logits = np.asarray(model.predict(X[:, :-1], verbose=0), "float64")
    targets = X[:, 1:]
    logp = np.take_along_axis(log_softmax(logits, -1), targets[..., None], -1)[..., 0]
    expected = (logp * (targets != 0)).sum(-1)
    np.testing.assert_allclose(model.log_likelihood(X[:, :-1], targets), expected, rtol=1e-4)
    result = model.evaluate(X[:, :-1], targets, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        result["perplexity"], np.exp(-expected.sum() / (targets != 0).sum()), rtol=1e-4
    )


def test_tied_output_uses_the_embedding_matrix():
    tied, untied = _model(), _model(tie_weights=False)
    tied.build()
    untied.build()
    assert tied.count_params() == untied.count_params() - 6 * V
    before = np.asarray(tied(X))
    tied.embedding.embeddings.assign(tied.embedding.embeddings * 2.0)
    logits = np.asarray(tied(X))
    assert not np.allclose(before, logits)


def test_conditioning_vector_sets_the_initial_state():
    model = _model(conditioned=True, condition_dim=3)
    a = np.asarray(model({"tokens": X, "condition": np.zeros((4, 3), "float32")}))
    b = np.asarray(model({"tokens": X, "condition": np.ones((4, 3), "float32")}))
    assert not np.allclose(a[:, 0], b[:, 0])
    with pytest.raises(ValueError, match="`inputs`"):
        model(X)


@pytest.mark.parametrize("cell", ["mlstm", "stacked", "hmlstm"])
def test_step_function_agrees_with_the_full_forward_pass(cell):
    model = _model(cell=cell, num_layers=2)
    state = model.initial_decoding_state(2)
    tokens, _ = greedy_decode(model.step, state, start_id=2, end_id=0, max_length=5)
    tokens = np.asarray(tokens)
    full = np.concatenate([np.full((2, 1), 2, "int32"), tokens[:, :-1]], 1)
    np.testing.assert_array_equal(np.asarray(model(full)).argmax(-1), tokens)
    sequences, scores = beam_search(model.step, state, 2, 0, beam_width=3, max_length=4)
    assert np.asarray(sequences).shape == (2, 3, 4)
    assert np.all(np.diff(np.asarray(scores), axis=1) <= 1e-6)


def test_stacked_cell_is_the_skip_connected_stacked_rnn():
    from keras_dlss.layers import StackedRNN

    model = _model(cell="stacked", num_layers=3, units=5, tie_weights=False)
    model(X)
    stack = StackedRNN(5, num_layers=3, connections="skip")
    embedded = np.asarray(model.embedding(X))
    stack(embedded)
    for rnn, reference in zip(model.rnns, stack.rnns):
        reference.set_weights(rnn.get_weights())
    expected = np.asarray(model.head(stack(embedded)))  # y = [h_1, h_2, h_3] -> logits
    np.testing.assert_allclose(np.asarray(model(X)), expected, atol=1e-5)
    assert model.output_width == 15 and model.slope is None


def test_task_anneals_the_hmlstm_slope_per_epoch():
    task = LanguageModelTask()
    data = task.load_data(level="char")
    small = dataclasses.replace(
        data,
        train=tuple(a[:2, :3] for a in data.train),
        validation=tuple(a[:2, :3] for a in data.validation),
    )
    model = task.build_model(small, jit_compile=False, cell="hmlstm", units=4, num_layers=2)
    model.compile(jit_compile=False, run_eagerly=True)  # tracing the loop costs more here
    history = task.fit(model, small, epochs=3, batch_size=2, callbacks=[], verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    np.testing.assert_allclose(float(model.slope), 1.08)  # min(5, 1 + 0.04 * epoch), epoch 2


def test_xla_fit_and_keras_round_trip(tmp_path):
    model = _model(dropout=0.1)
    model.compile()  # preset: jit_compile=True
    model.fit(X[:, :-1], X[:, 1:], epochs=1, verbose=0)
    path = str(tmp_path / "lm.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    assert loaded.jit_compile is True and loaded.get_config() == model.get_config()


def test_generate_text_with_primer_and_vocabulary_mismatch():
    corpus = build_language_model_corpus([list("abcab "), list("cab")], [["a"]], [["b"]], "char")
    model = _model(vocabulary_size=len(corpus.vocabulary))
    text = generate_text(model, corpus, primer="ab", length=3, seed=1, jit_compile=False)
    assert text.startswith("ab") and text != "ab"
    metadata = {"vocabulary": corpus.vocabulary.tokens[:-1], "level": "char"}
    with pytest.raises(ValueError, match="`vocabulary`.*Received"):
        generate_text(model, _corpus_from_metadata(metadata), primer="ab", length=3, seed=0)


def test_task_levels_and_bad_arguments():
    task = LanguageModelTask()
    data = task.load_data(level="char")
    assert data.train[0].shape[1] == 100 and data.info["level"] == "char"
    with pytest.raises(ValueError, match="`cell`.*Received"):
        _model(cell="rnn")
    with pytest.raises(ValueError, match="`condition_dim`.*Received"):
        _model(conditioned=True)
    with pytest.raises(ValueError, match="`conditioned`.*Received"):
        _model(cell="hmlstm", conditioned=True, condition_dim=3)
    with pytest.raises(ValueError, match="`recurrent_dropout`.*Received"):
        _model(cell="mlstm", recurrent_dropout=0.2)


def test_cli_primer_is_text_for_language_models_and_a_file_elsewhere(tmp_path, capsys):
    from keras_dlss.cli import main

    fake = tmp_path / "model.keras"
    fake.write_text("not a model")
    out = str(tmp_path / "o.mid")
    assert main(["generate", "performance-rnn", str(fake), "--out", out, "--primer", "x y"]) == 2
    assert "--primer" in capsys.readouterr().err  # a file is expected there, before loading
    # For the language model the primer is text: the error is about the model file instead.
    assert main(["generate", "language-model", str(fake), "--out", out, "--primer", "x y"]) != 0
    assert "--primer" not in capsys.readouterr().err


def test_word_type_and_locked_dropout_by_effect():
    model = _model(embedding_dropout=0.5, dropout=0.5, locked_dropout=True)
    assert RNNLanguageModel.from_config(model.get_config()).get_config() == model.get_config()
    model(X)
    table = keras.ops.convert_to_numpy(model.embedding.embeddings)
    tokens = np.tile(np.arange(1, V), (3, 1))  # every word type three times
    dropped = keras.ops.convert_to_numpy(model._embed(tokens, training=True))
    kept = np.abs(dropped).sum(-1) > 0
    assert kept.any() and not kept.all()
    assert (kept == kept[:1]).all()  # a word type is dropped everywhere in the batch or nowhere
    np.testing.assert_allclose(dropped[kept], 2.0 * table[tokens][kept], rtol=1e-6)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model._embed(tokens)), table[tokens]
    )  # inference
    ones = np.ones((4, 7, 16), "float32")
    mask = keras.ops.convert_to_numpy(model.dropout_layer(ones, training=True))
    assert (mask == mask[:, :1]).all() and (mask == 0).any()  # one mask per sequence
    with pytest.raises(ValueError, match="`embedding_dropout`.*Received"):
        _model(embedding_dropout=1.0)
