import decoding_chains as _chains
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from keras_dlss.decoding import scheduled_sampling_unroll

RNG = np.random.default_rng(0)
TARGETS = RNG.integers(0, 5, size=(4, 6)).astype("int32")


def _second_order():
    # Log-probs depend on the fed token AND the previous one (in the state), so
    # the fed tokens are visible in every output.
    log_t = np.log(RNG.dirichlet(np.ones(5), size=(5, 5))).astype("float32")
    step = _chains.second_order_step(log_t)
    state = {"prev": np.zeros((4,), "int32"), "pad": np.zeros((4, 2), "float32")}
    return log_t, step, state


def _run_forced(log_t, fed):
    """Reference: log-probs when `fed` [B, T] tokens are fed (fed[:, 0] = start)."""
    prev = np.zeros(fed.shape[0], int)
    out = []
    for t in range(fed.shape[1]):
        out.append(log_t[prev, fed[:, t]])
        prev = fed[:, t]
    return np.stack(out, 1)


def test_epsilon_one_is_teacher_forcing():
    log_t, step, state = _second_order()
    log_probs, _ = scheduled_sampling_unroll(step, state, TARGETS, 1.0, start_id=0, seed=0)
    fed = np.concatenate([np.zeros((4, 1), int), TARGETS[:, :-1]], 1)
    np.testing.assert_allclose(log_probs, _run_forced(log_t, fed), rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_epsilon_zero_is_free_running(jit):
    log_t, step, state = _second_order()
    fn = lambda eps: scheduled_sampling_unroll(step, state, TARGETS, eps, start_id=0, seed=0)  # noqa: E731
    if jit:
        fn = tf.function(fn, jit_compile=True)
    log_probs = ops.convert_to_numpy(fn(ops.convert_to_tensor(0.0))[0])
    fed = [np.zeros(4, int)]
    for t in range(1, 6):
        fed.append(np.argmax(log_probs[:, t - 1], -1))
    fed = np.stack(fed, 1)
    np.testing.assert_allclose(log_probs, _run_forced(log_t, fed), rtol=1e-6)
    # ...and the fed tokens are the model's greedy choices, not the targets.
    assert not np.array_equal(fed[:, 1:], TARGETS[:, :-1])


def test_mixing_rate_and_sampled_predictions():
    # The "model" puts 0.9 on token 3 whatever it is fed, and reports the token it
    # was fed as its hidden output: the truth (7) should be fed 30% of the time.
    def step(tokens, state):
        log_probs = ops.log(ops.one_hot(ops.full_like(tokens, 3), 50) * 0.9 + 0.1 / 50)
        return log_probs, state, ops.cast(tokens, "float32")[:, None]

    targets = np.full((400, 11), 7, "int32")
    _, hidden = scheduled_sampling_unroll(
        step, np.zeros((400, 1)), targets, 0.3, 3, "sample", seed=1
    )
    fed = ops.convert_to_numpy(hidden)[:, 1:, 0]
    assert abs(np.mean(fed == 7) - 0.3) < 0.03
    # Own predictions are samples: mostly 3, sometimes another token.
    own = fed[fed != 7]
    assert 0.85 < np.mean(own == 3) < 0.95


def test_bad_arguments():
    _, step, state = _second_order()
    with pytest.raises(ValueError, match="sampling"):
        scheduled_sampling_unroll(step, state, TARGETS, 0.5, 0, sampling="beam")
    with pytest.raises(ValueError, match="teacher_forcing_probability"):
        scheduled_sampling_unroll(step, state, TARGETS, 1.5, 0)
    with pytest.raises(ValueError, match="targets"):
        scheduled_sampling_unroll(step, state, TARGETS[:, 0], 0.5, 0)
