import decoding_chains as _chains
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_dlss.decoding import greedy_decode


def _numpy_greedy(log_t, start_id, end_id, length):
    seq, total, prev = [], 0.0, start_id
    for _ in range(length):
        tok = int(np.argmax(log_t[prev]))
        seq.append(tok)
        total += float(log_t[prev, tok])
        if tok == end_id:
            break
        prev = tok
    return seq + [end_id] * (length - len(seq)), total


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_matches_numpy_greedy(seed):
    log_t = _chains.markov_chain(5, seed)
    expected, expected_score = _numpy_greedy(log_t, 0, 4, 6)
    seqs, scores = greedy_decode(_chains.markov_step(log_t), np.zeros((2, 3)), 0, 4, 6)
    np.testing.assert_array_equal(ops.convert_to_numpy(seqs), [expected, expected])
    np.testing.assert_allclose(ops.convert_to_numpy(scores), expected_score, rtol=1e-5)


def test_positions_after_end_hold_end_id():
    p = np.array([[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [1 / 3] * 3])  # 0 -> 1 -> 2 (end)
    seqs, scores = greedy_decode(_chains.markov_step(np.log(p)), np.zeros((1, 1)), 0, 2, 5)
    np.testing.assert_array_equal(ops.convert_to_numpy(seqs), [[1, 2, 2, 2, 2]])
    np.testing.assert_allclose(ops.convert_to_numpy(scores), [2 * np.log(0.8)], rtol=1e-5)


@pytest.mark.parametrize("mode", ["greedy", "sample"])
def test_xla_and_graph_match_eager(mode):
    model = _chains.GRUDecoder(mode=mode)
    state = np.random.default_rng(1).normal(size=(4, 8)).astype("float32")
    eager = model(state)
    for jit in (False, True):
        out = tf.function(model, jit_compile=jit)(state)
        np.testing.assert_array_equal(eager[0], out[0])
        np.testing.assert_allclose(eager[1], out[1], rtol=1e-5, atol=1e-6)


def test_bad_state_batch():
    step = _chains.markov_step(_chains.markov_chain(5, 0))
    with pytest.raises(ValueError, match="initial_state"):
        greedy_decode(step, {"a": np.zeros((2, 1)), "b": np.zeros((4, 1))}, 0, 4, 3)
    with pytest.raises(ValueError, match="initial_state"):
        greedy_decode(step, np.zeros((0, 1)), 0, 4, 3)
    with pytest.raises(ValueError, match="start_id"):
        greedy_decode(step, np.zeros((2, 1)), 5, 4, 3)
