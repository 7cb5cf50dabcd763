"""PointerGeneratorTranslator(coverage=True): See et al. 2017 section 2.3 against NumPy references."""

import keras
import numpy as np
import pytest

from keras_dlss.applications import PointerGeneratorTranslator
from keras_dlss.applications._coverage import CoverageWrapper
from keras_dlss.debugging import gradient_check
from keras_dlss.layers import AttentionWrapper, BahdanauAttention
from keras_dlss.ops import extend_vocabulary

_np = keras.ops.convert_to_numpy
VOCAB = ["<pad>", "<start>", "<end>", "<unk>", "meet", "at", "call"]
SOURCES = [["meet", "ozil", "at", "9", "ozil"], ["meet", "kim", "at", "17"]] * 2
TARGETS = [["call", "ozil", "9", "<end>"], ["call", "kim", "<end>"]] * 2
BATCH = extend_vocabulary(SOURCES, VOCAB, max_oovs=3, unk_id=3, target_tokens=TARGETS)
INPUTS = {k: BATCH[k] for k in ("source", "source_extended", "target")}
ARGS = dict(max_oovs=3, units=8, embedding_dim=4, max_output_length=4, seed=0)
LAMBDA = 0.7


def _model(**kwargs):
    model = PointerGeneratorTranslator(len(VOCAB), len(VOCAB), **{**ARGS, **kwargs})
    model(INPUTS)
    return model


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)  # module fixtures run before conftest's per-test seeding
    model = _model(coverage=True, coverage_loss_weight=LAMBDA)
    model.coverage_cell.coverage_kernel.assign(np.linspace(-2, 2, 8).astype("float32"))
    return model


def _teacher_steps(model):
    """Coverage state and alignments of each teacher-forced step, through `model.step`."""
    state = model.initial_decoder_state(BATCH["source"])
    state = [*state, BATCH["source_extended"]]
    tokens = _np(model._decoder_inputs(BATCH["target"]))
    coverages, alignments = [], []
    for t in range(tokens.shape[1]):
        coverages.append(_np(state[-7]))  # [h, c, coverage, attention, alignments, ...]
        _, state = model.step(tokens[:, t], state)
        alignments.append(_np(state[-5]))
    return np.stack(coverages, 1), np.stack(alignments, 1), state


def test_coverage_is_the_running_sum_of_attention_and_the_scorer_sees_it(model):
    coverages, alignments, _ = _teacher_steps(model)
    expected = np.concatenate([np.zeros_like(alignments[:, :1]), alignments[:, :-1]], 1)
    np.testing.assert_allclose(coverages, np.cumsum(expected, 1), atol=1e-6)
    # The teacher-forced RNN pass computes the same attention as stepping.
    teacher = _np(model.attention_weights(BATCH["source"], BATCH["target"]))
    np.testing.assert_allclose(teacher, alignments, atol=1e-5)
    # eq. 11 by hand at step 2: softmax_i v^T tanh(W_h h_i + W_s s_t + w_c c_ti).
    state = model.initial_decoder_state(BATCH["source"])
    tokens = _np(model._decoder_inputs(BATCH["target"]))
    for t in range(3):
        coverage = _np(state[-6])
        _, state = model.step(tokens[:, t], [*state, BATCH["source_extended"]])
        state = state[:-1]
    mechanism = model.wrapper.attention
    w_q, w_m, v = (
        _np(w) for w in (mechanism.query_kernel, mechanism.memory_kernel, mechanism.score_vector)
    )
    w_c = _np(model.coverage_cell.coverage_kernel)
    memory, h, mask = _np(state[-3]), _np(state[0]), BATCH["source"] > 0
    hidden = memory @ w_m + (h @ w_q)[:, None] + coverage[..., None] * w_c
    scores = np.where(mask, np.tanh(hidden) @ v, -np.inf)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    np.testing.assert_allclose(
        alignments[:, 2], weights / weights.sum(-1, keepdims=True), atol=1e-5
    )


def test_coverage_loss_is_added_with_its_weight(model):
    log_probs = _np(model(INPUTS))
    attention = _np(model.attention_weights(BATCH["source"], BATCH["target"]))
    steps = BATCH["target"] > 0
    per_step = np.minimum(attention, np.cumsum(attention, 1) - attention).sum(-1)
    expected = LAMBDA * (per_step * steps).sum() / steps.sum()
    (added,) = model.losses
    np.testing.assert_allclose(_np(added), expected, rtol=1e-5)
    np.testing.assert_allclose(np.exp(log_probs).sum(-1), 1.0, atol=1e-5)


def test_padding_never_gains_coverage_and_changes_nothing(model):
    padded = {k: np.pad(v, [(0, 0), (0, 3)]) if k != "target" else v for k, v in INPUTS.items()}
    np.testing.assert_allclose(_np(model(padded)), _np(model(INPUTS)), atol=1e-5)
    loss = _np(model.losses[0])
    model(INPUTS)
    np.testing.assert_allclose(loss, _np(model.losses[0]), atol=1e-6)
    source = padded["source"]
    state = [*model.initial_decoder_state(source), padded["source_extended"]]
    for t in range(3):
        _, state = model.step(np.full((4,), 4 + t % 2), state)
    coverage = _np(state[-7])
    assert np.all(coverage[source == 0] == 0) and np.all(coverage[source > 0] > 0)


def test_coverage_off_is_the_model_without_coverage(model):
    # Same weights, w_c = 0: coverage-on log-probs and decoding equal coverage-off.
    plain = _model()
    assert not any("coverage" in w.path for w in plain.weights)
    for name in (
        "source_embedding",
        "target_embedding",
        "encoder",
        "bridge_h",
        "bridge_c",
        "wrapper",
        "projection",
        "pointer_generator",
    ):
        getattr(plain, name).set_weights(getattr(model, name).get_weights())
    saved = _np(model.coverage_cell.coverage_kernel)
    model.coverage_cell.coverage_kernel.assign(np.zeros_like(saved))
    try:
        np.testing.assert_array_equal(_np(plain(INPUTS)), _np(model(INPUTS)))
        tokens, state = np.array([1, 4, 5, 6]), model.initial_decoder_state(BATCH["source"])
        plain_state = plain.initial_decoder_state(BATCH["source"])
        for _ in range(2):  # decoding steps too
            step, state = model.step(tokens, [*state, BATCH["source_extended"]])
            plain_step, plain_state = plain.step(tokens, [*plain_state, BATCH["source_extended"]])
            np.testing.assert_array_equal(_np(plain_step), _np(step))
            state, plain_state = state[:-1], plain_state[:-1]
    finally:
        model.coverage_cell.coverage_kernel.assign(saved)


def test_greedy_and_beam_search_carry_coverage(model):
    # Greedy search (a compiled loop) == argmax of `step` from the initial state.
    ids, _ = model.greedy_search(BATCH["source"], BATCH["source_extended"])
    state = [*model.initial_decoder_state(BATCH["source"]), BATCH["source_extended"]]
    tokens = np.full((4,), 1)
    for t in range(4):
        log_probs, state = model.step(tokens, state)
        tokens = _np(log_probs).argmax(-1)
        np.testing.assert_array_equal(
            _np(ids)[:, t][_np(ids)[:, t] != 2], tokens[_np(ids)[:, t] != 2]
        )
        if np.all(_np(ids)[:, t] == 2):
            break
    beams, scores = model.beam_search(BATCH["source"], BATCH["source_extended"], beam_width=2)
    assert _np(beams).shape == (4, 2, 4) and np.all(np.isfinite(_np(scores)))


def test_trains_saves_and_compiles(model, tmp_path):
    trained = _model(coverage=True)
    trained.compile(
        keras.optimizers.Adam(1e-2),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0),
        run_eagerly=True,  # tracing the RNN's backward costs ~20 s; XLA is checked below
    )
    history = trained.fit(INPUTS, BATCH["target"], epochs=3, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert np.any(_np(trained.coverage_cell.coverage_kernel) != 0)  # w_c learns
    eager = _np(trained(INPUTS))
    trained.run_eagerly, trained.jit_compile = False, True
    np.testing.assert_allclose(trained.predict_on_batch(INPUTS), eager, atol=1e-5)  # XLA
    path = str(tmp_path / "coverage.keras")
    trained.save(path)
    restored = keras.saving.load_model(path)
    config = restored.get_config()
    assert config["coverage"] is True and config["coverage_loss_weight"] == 1.0
    np.testing.assert_allclose(_np(restored(INPUTS)), eager, atol=1e-5)


def test_float64_gradient_of_the_coverage_scorer_term():
    wrapper = AttentionWrapper(
        keras.layers.LSTMCell(3, dtype="float64"),
        BahdanauAttention(3, dtype="float64"),
        dtype="float64",
    )
    cell = CoverageWrapper(wrapper, coverage_initializer="glorot_uniform", dtype="float64")
    rng = np.random.default_rng(0)
    memory, x = rng.normal(size=(2, 4, 5)), rng.normal(size=(2, 2))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]])

    def alignments(coverage):
        state = cell.initial_state(wrapper.initial_state(memory, mask))
        state[-6] = coverage
        return cell(x, state)[1][-4]

    alignments(np.zeros((2, 4)))  # builds the float64 weights
    gradient_check(alignments, (rng.uniform(0, 2, size=(2, 4)),), variables=[cell.coverage_kernel])


def test_bad_arguments():
    with pytest.raises(ValueError, match="`coverage_loss_weight`.*Received"):
        PointerGeneratorTranslator(7, 7, coverage=True, coverage_loss_weight=-1.0)
    with pytest.raises(ValueError, match="`coverage`.*Received"):
        PointerGeneratorTranslator(7, 7, coverage=True, attention="luong")
