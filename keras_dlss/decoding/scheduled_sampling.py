"""Scheduled sampling: a decoder unroll that mixes ground truth and own predictions.

Bengio, Vinyals, Jaitly & Shazeer 2015, "Scheduled Sampling for Sequence
Prediction with Recurrent Neural Networks" (https://arxiv.org/abs/1506.03099),
section 2.4: at every step and for every sequence, a coin flip with
probability `epsilon_i` feeds the true previous token, otherwise the model's
own previous prediction (its argmax, or a sample from it). `epsilon_i = 1` is
teacher forcing, `epsilon_i = 0` is free running. `epsilon_i` decays over
training (`keras_dlss.schedules`, `keras_dlss.callbacks.ScheduledSampling`).

The unroll is one bounded `ops.while_loop` with the coin flips drawn before it, so it
compiles with XLA and `epsilon` may be a variable that changes between steps
without retracing.
"""

import keras
import numpy as np
from keras import ops, random

from keras_dlss import _validation as v
from keras_dlss._validation import check_one_of, check_range, concrete_value
from keras_dlss.decoding import _common


def _split_step(outputs):
    if len(outputs) == 3:
        return outputs
    log_probs, state = outputs
    return log_probs, state, None


def _predict(log_probs, uniforms, sampling):
    if sampling == "argmax":
        return _common.argmax_last(log_probs)
    probs = ops.exp(log_probs - ops.max(log_probs, axis=-1, keepdims=True))
    cdf = ops.cumsum(probs, axis=-1)
    target = uniforms[:, None] * cdf[:, -1:]
    return ops.cast(ops.sum(ops.cast(cdf < target, "int32"), axis=-1), "int32")


def scheduled_sampling_unroll(
    step_fn,
    initial_state,
    targets,
    teacher_forcing_probability,
    start_id,
    sampling="argmax",
    seed=None,
):
    """Runs a decoder over `targets`, feeding truth or its own predictions per token.

    Step t feeds `start_id` (t = 0) or, for each sequence independently,
    `targets[:, t - 1]` with probability `teacher_forcing_probability` and the
    model's prediction from step t - 1 otherwise. Predictions are discrete, so
    no gradient flows through the choice (as in the paper).

    Args:
        step_fn: callable `(tokens, state) -> (log_probs, new_state)` or
            `(log_probs, new_state, hidden)`, as in `keras_dlss.decoding`.
            `hidden` (e.g. decoder outputs, `[N, H]`) is collected for
            professor forcing.
        initial_state: tensor or nest of tensors with leading dimension `B`.
        targets: `[B, T]` int tensor, the ground-truth output tokens.
        teacher_forcing_probability: float or scalar tensor in [0, 1], the
            paper's `epsilon_i` (a variable may change between calls).
        start_id: int. Token fed at the first step.
        sampling: `"argmax"` or `"sample"`: how the model's own prediction is
            chosen. Defaults to `"argmax"`.
        seed: int, `keras.random.SeedGenerator` or None, for the coin flips and
            samples. Defaults to `None`.

    Returns:
        `(log_probs, hidden)`: `[B, T, V]` float32 log-probabilities of every
        step, and the `[B, T, H]` stacked `hidden` outputs (None when
        `step_fn` returns two values).

    Example:

    ```python
    import numpy as np
    from keras import ops
    from keras_dlss.decoding import scheduled_sampling_unroll

    transitions = np.log(np.random.dirichlet(np.ones(5), size=5)).astype("float32")

    def step_fn(tokens, state):
        return ops.take(transitions, tokens, axis=0), state

    targets = np.random.randint(0, 5, size=(2, 6))
    log_probs, _ = scheduled_sampling_unroll(
        step_fn, np.zeros((2, 1), "float32"), targets, 0.75, start_id=0, seed=1)
    ```

    References:
        - [Bengio et al., 2015](https://arxiv.org/abs/1506.03099)
    """
    sampling = check_one_of("sampling", sampling, ("argmax", "sample"))
    start_id = _common.check_token_id("start_id", start_id)
    targets = ops.convert_to_tensor(targets)
    v.check_rank("targets", targets, 2)
    v.check_dtype_kind("targets", targets, "integer")
    length = targets.shape[1]
    if length is None or length < 1:
        raise ValueError(
            "Argument `targets` must have a static time dimension >= 1 (the unroll "
            f"length). Received: targets.shape={v.shape_str(targets.shape)}"
        )
    epsilon_shape = tuple(
        getattr(teacher_forcing_probability, "shape", None)
        if hasattr(teacher_forcing_probability, "shape")
        else np.shape(teacher_forcing_probability)
    )
    if epsilon_shape:
        raise ValueError(
            "Argument `teacher_forcing_probability` must be a scalar. "
            f"Received: teacher_forcing_probability.shape={v.shape_str(epsilon_shape)}"
        )
    epsilon = concrete_value(teacher_forcing_probability)
    if epsilon is not None and epsilon.ndim == 0:
        check_range("teacher_forcing_probability", float(epsilon), 0.0, 1.0)
    targets = ops.cast(targets, "int32")
    batch = _common.state_batch_size(initial_state)
    static_batch = batch if isinstance(batch, int) else None
    v.check_dims_match("targets", targets, 0, static_batch, "the batch size of `initial_state`")
    state = _common.to_tensors(initial_state)

    log_probs, state, hidden = _split_step(step_fn(ops.full((batch,), start_id, "int32"), state))
    _common.check_log_probs(log_probs, static_batch)
    log_probs = ops.cast(log_probs, "float32")
    # Coin flips and sampling noise for every step, drawn outside the loop.
    noise = random.uniform((2, length, batch), seed=seed)
    epsilon = ops.cast(teacher_forcing_probability, "float32")
    use_truth = noise[0] < epsilon
    truth = ops.transpose(targets)  # [T, B]; step t may feed truth[t - 1]
    with_hidden = hidden is not None
    # Per-step outputs go into [T, B, ...] buffers with scatter updates inside a
    # while loop with a static trip count: unlike ops.scan / ops.fori_loop on
    # TensorFlow, this is differentiable under XLA (needs maximum_iterations).
    buffers = [_buffer(log_probs, length)]
    if with_hidden:
        buffers.append(_buffer(hidden, length))

    def cond(i, *_):
        return i < length

    def body(i, log_probs, state, buffers):
        teacher = ops.take(use_truth, i, axis=0)
        uniforms = ops.take(noise[1], i, axis=0)
        predicted = ops.stop_gradient(_predict(log_probs, uniforms, sampling))
        tokens = ops.where(teacher, ops.take(truth, i - 1, axis=0), predicted)
        new_log_probs, new_state, new_hidden = _split_step(step_fn(tokens, state))
        _common.check_log_probs(new_log_probs, static_batch)
        _common.check_state_shapes(state, new_state)
        new_state = keras.tree.map_structure(lambda o, n: ops.cast(n, o.dtype), state, new_state)
        new_log_probs = ops.cast(new_log_probs, "float32")
        values = [new_log_probs] + ([new_hidden] if with_hidden else [])
        buffers = [_write(b, i, v) for b, v in zip(buffers, values)]
        return i + 1, new_log_probs, new_state, buffers

    buffers = _run_loop(cond, body, (log_probs, state, buffers), length)
    stacked = [_time_major_to_batch_major(b) for b in buffers]
    return stacked[0], (stacked[1] if with_hidden else None)


def _run_loop(cond, body, loop_vars, length):
    """Steps 1..length-1 of the unroll, differentiable on every backend.

    JAX cannot reverse-differentiate `lax.while_loop`; `ops.fori_loop` with
    static bounds lowers to `lax.scan`, which it can. On TensorFlow the
    while loop needs `maximum_iterations` to be differentiable under XLA
    (`ops.fori_loop` does not pass it), so each backend gets its loop here.
    """
    if keras.config.backend() == "jax":
        if length < 2:
            return loop_vars[-1]
        step = lambda i, carry: body(ops.convert_to_tensor(i, "int32"), *carry)[1:]  # noqa: E731
        return ops.fori_loop(1, length, step, loop_vars)[-1]
    start = ops.convert_to_tensor(1, "int32")
    *_, buffers = ops.while_loop(
        cond, body, (start, *loop_vars), maximum_iterations=max(length - 1, 1)
    )
    return buffers


def _buffer(first, length):
    """A [T, B, ...] buffer holding `first` at step 0."""
    buffer = ops.zeros((length, *ops.shape(first)), first.dtype)
    return _write(buffer, 0, first)


def _write(buffer, step, value):
    index = ops.reshape(ops.convert_to_tensor(step, "int32"), (1, 1))
    return ops.scatter_update(buffer, index, ops.cast(value, buffer.dtype)[None])


def _time_major_to_batch_major(x):
    return ops.transpose(x, (1, 0) + tuple(range(2, len(x.shape))))
