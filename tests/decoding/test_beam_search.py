import decoding_chains as _chains
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_dlss.decoding import beam_search, greedy_decode


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_width_one_equals_greedy(seed):
    step = _chains.markov_step(_chains.markov_chain(5, seed))
    state = np.zeros((4, 1), "float32")
    g_seq, g_score = greedy_decode(step, state, 0, 4, max_length=6)
    b_seq, b_score = beam_search(step, state, 0, 4, beam_width=1, max_length=6)
    np.testing.assert_array_equal(b_seq[:, 0], g_seq)
    np.testing.assert_allclose(b_score[:, 0], g_score, rtol=1e-6)


@pytest.mark.parametrize(
    "vocab,length,alpha,seed", [(4, 3, 0.0, 0), (3, 4, 0.0, 1), (5, 3, 0.0, 2), (4, 3, 1.0, 3)]
)
def test_markov_chain_matches_brute_force(vocab, length, alpha, seed):
    # With beam_width >= V ** (length - 1) (>= V) no prefix is ever pruned, so
    # beam search must return exactly the brute-force top-k, not just the best.
    log_t = _chains.markov_chain(vocab, seed)
    beam = vocab ** (length - 1)
    start_id, end_id = 0, vocab - 1
    ranked = _chains.enumerate_sequences(
        _chains.first_order_score(log_t, start_id), vocab, end_id, length, alpha
    )
    seqs, scores = beam_search(
        _chains.markov_step(log_t),
        np.zeros((2, 1), "float32"),
        start_id,
        end_id,
        beam_width=beam,
        max_length=length,
        length_penalty=alpha,
    )
    seqs, scores = ops.convert_to_numpy(seqs), ops.convert_to_numpy(scores)
    assert tuple(seqs[0, 0]) == ranked[0][0]
    np.testing.assert_allclose(scores[0, 0], ranked[0][1], rtol=1e-5)
    k = min(beam, len(ranked))
    np.testing.assert_allclose(scores[1, :k], [s for _, s in ranked[:k]], rtol=1e-5)
    assert np.all(np.diff(scores[0][np.isfinite(scores[0])]) <= 1e-6)  # best first


def test_beam_equal_to_vocab_finds_best_of_short_chain():
    # beam_width == V: every first token survives, and the last step sees all candidates.
    log_t = _chains.markov_chain(5, 7)
    ranked = _chains.enumerate_sequences(_chains.first_order_score(log_t, 0), 5, 4, 2)
    seqs, scores = beam_search(_chains.markov_step(log_t), np.zeros((1, 1)), 0, 4, 5, 2)
    assert tuple(ops.convert_to_numpy(seqs)[0, 0]) == ranked[0][0]


def test_state_is_reordered_by_ancestry():
    # A second-order chain keeps the older token in the state: wrong gathering
    # along beam ancestry would score continuations against the wrong history.
    rng = np.random.default_rng(3)
    vocab, length = 4, 3
    log_t = np.log(rng.dirichlet(np.full(vocab, 0.5), size=(vocab, vocab))).astype("float32")
    ranked = _chains.enumerate_sequences(_chains.second_order_score(log_t, 0, 2), vocab, 3, length)
    state = {"prev": np.full((2,), 2, "int32"), "pad": np.zeros((2, 2), "float32")}
    seqs, scores = beam_search(_chains.second_order_step(log_t), state, 0, 3, 16, length)
    np.testing.assert_allclose(
        ops.convert_to_numpy(scores)[0], [s for _, s in ranked[:16]], rtol=1e-5
    )


def test_finished_beams_stop_growing():
    log_t = _chains.markov_chain(5, 4)
    seqs, scores = beam_search(_chains.markov_step(log_t), np.zeros((3, 1)), 0, 4, 4, 7)
    seqs, scores = ops.convert_to_numpy(seqs), ops.convert_to_numpy(scores)
    score = _chains.first_order_score(log_t, 0)
    for row, s in zip(seqs.reshape(-1, 7), scores.reshape(-1)):
        ends = np.flatnonzero(row == 4)
        cut = ends[0] + 1 if ends.size else 7
        assert np.all(row[cut:] == 4)
        np.testing.assert_allclose(s, score(tuple(row[:cut])), rtol=1e-5)


def test_length_penalty_prefers_longer_hypotheses():
    # Token 1 ends the sequence early with prob .5; the long path has log-prob per
    # token close to 0, so a strong length penalty ranks it first.
    p = np.full((3, 3), 1e-6)
    p[0] = [1e-6, 0.5, 0.5]  # start: end now, or enter the loop
    p[2] = [1e-6, 0.05, 0.95]
    log_t = np.log(p / p.sum(1, keepdims=True)).astype("float32")
    step = _chains.markov_step(log_t)
    plain, _ = beam_search(step, np.zeros((1, 1)), 0, 1, 2, 6, length_penalty=0.0)
    long, _ = beam_search(step, np.zeros((1, 1)), 0, 1, 2, 6, length_penalty=2.0)
    assert ops.convert_to_numpy(plain)[0, 0, 0] == 1
    assert ops.convert_to_numpy(long)[0, 0, 0] == 2


def test_xla_matches_eager():
    model = _chains.GRUDecoder(mode="beam")
    state = np.random.default_rng(0).normal(size=(3, 8)).astype("float32")
    eager = model(state)
    compiled = tf.function(model, jit_compile=True)(state)
    np.testing.assert_array_equal(eager[0], compiled[0])
    np.testing.assert_allclose(eager[1], compiled[1], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"beam_width": 0}, "beam_width"),
        ({"start_id": 9}, "start_id"),
        ({"end_id": 5}, "end_id"),
        ({"end_id": -1}, "end_id"),
        ({"max_length": 0}, "max_length"),
        ({"length_penalty": -1.0}, "length_penalty"),
        ({"initial_state": (np.zeros((2, 1)), np.zeros((3, 1)))}, "initial_state"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = dict(
        step_fn=_chains.markov_step(_chains.markov_chain(5, 0)),
        initial_state=np.zeros((2, 1), "float32"),
        start_id=0,
        end_id=4,
        beam_width=2,
        max_length=3,
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        beam_search(**args)


def test_out_of_vocab_start_id_raises_before_embedding_lookup():
    model = _chains.GRUDecoder()
    state = np.zeros((2, 8), "float32")
    with pytest.raises(ValueError, match="start_id"):
        beam_search(model.step, state, 7, 0, 2, 3)
    with pytest.raises(ValueError, match="end_id"):
        tf.function(lambda s: beam_search(model.step, s, 1, 70, 2, 3))(state)
