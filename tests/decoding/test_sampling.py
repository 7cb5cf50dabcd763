import decoding_chains as _chains
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_dlss.decoding import greedy_decode, sample

# Token- and state-independent next-token distribution; end_id = 4 lies outside
# every nucleus below, so one step gives many independent draws.
_PROBS = np.array([0.5, 0.3, 0.1, 0.06, 0.04])


def _fixed_step(tokens, state):
    log_probs = ops.log(ops.convert_to_tensor(_PROBS, "float32"))
    return ops.tile(log_probs[None, :], (ops.shape(tokens)[0], 1)), state


def _first_tokens(n=4000, **kwargs):
    seqs, _ = sample(_fixed_step, np.zeros((n, 1), "float32"), 0, 4, 1, **kwargs)
    return ops.convert_to_numpy(seqs)[:, 0]


@pytest.mark.parametrize("seed", [0, 1])
def test_top_k_one_equals_greedy(seed):
    step = _chains.markov_step(_chains.markov_chain(5, seed))
    state = np.zeros((6, 1), "float32")
    g_seq, g_score = greedy_decode(step, state, 0, 4, 8)
    s_seq, s_score = sample(step, state, 0, 4, 8, top_k=1, seed=seed)
    np.testing.assert_array_equal(s_seq, g_seq)
    np.testing.assert_allclose(s_score, g_score, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_p_never_leaves_nucleus(seed):
    # Nucleus for 0.75: {0, 1} (0.5 < 0.75 <= 0.8); renormalized 0.625 / 0.375.
    tokens = _first_tokens(top_p=0.75, seed=seed)
    assert set(np.unique(tokens)) <= {0, 1}
    assert abs(np.mean(tokens == 0) - 0.625) < 0.04
    # Nucleus for 0.85: {0, 1, 2}.
    tokens = _first_tokens(top_p=0.85, seed=seed)
    assert set(np.unique(tokens)) == {0, 1, 2}


def test_top_k_and_full_distribution_frequencies():
    tokens = _first_tokens(top_k=3, seed=5)
    assert set(np.unique(tokens)) == {0, 1, 2}
    freqs = np.bincount(_first_tokens(n=20000, seed=6), minlength=5) / 20000
    np.testing.assert_allclose(freqs, _PROBS, atol=0.015)


def test_temperature_sharpens():
    cold = _first_tokens(temperature=0.05, seed=0)
    hot = _first_tokens(temperature=5.0, seed=0)
    assert np.mean(cold == 0) > 0.99
    assert np.mean(hot == 0) < 0.35


def test_seed_is_deterministic_also_under_xla():
    step = _chains.markov_step(_chains.markov_chain(5, 2))
    state = np.zeros((16, 1), "float32")
    a = sample(step, state, 0, 4, 6, seed=3)[0]
    b = sample(step, state, 0, 4, 6, seed=3)[0]
    c = sample(step, state, 0, 4, 6, seed=4)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    fn = tf.function(lambda s: sample(step, s, 0, 4, 6, seed=3), jit_compile=True)
    np.testing.assert_array_equal(fn(state)[0], fn(state)[0])


def test_scores_are_model_log_probs():
    log_t = _chains.markov_chain(5, 1)
    seqs, scores = sample(
        _chains.markov_step(log_t), np.zeros((8, 1)), 0, 4, 5, seed=0, temperature=2.0
    )
    score = _chains.first_order_score(log_t, 0)
    for row, s in zip(ops.convert_to_numpy(seqs), ops.convert_to_numpy(scores)):
        cut = list(row).index(4) + 1 if 4 in row else 5
        np.testing.assert_allclose(s, score(tuple(row[:cut])), rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"top_k": 0}, "top_k"),
        ({"temperature": 0.0}, "temperature"),
        ({"end_id": 5}, "end_id"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = dict(
        step_fn=_fixed_step, initial_state=np.zeros((2, 1)), start_id=0, end_id=4, max_length=3
    )
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sample(**args)
