"""Helpers shared by greedy, beam and sampling decoders (internal).

Every decoder speaks the same step-function protocol:

    step_fn(tokens, state) -> (log_probs, new_state)

where `tokens` is `[N]` int32, `log_probs` is `[N, V]` and `state` is a tensor
or nest of tensors whose leading dimension is `N`. The helpers here validate the
boundary once (eagerly where values are concrete) and build the static-shape
pieces the loops share, so each decoder stays one bounded `ops.while_loop`.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import (
    check_positive_int,
    concrete_value,
    shape_str,
    shapes_compatible,
)

NEG_INF = float("-inf")


def is_eager():
    """True when ops run eagerly (no `tf.function` / `jax.jit` trace)."""
    return concrete_value(ops.convert_to_tensor(0)) is not None


def check_token_id(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"Argument `{name}` must be an integer >= 0. Received: {name}={value!r}")
    return int(value)


def check_ids_below_vocab(start_id, end_id, vocab_size):
    """Raises ValueError when `start_id` / `end_id` fall outside `[0, vocab_size)`."""
    if vocab_size is None:
        return
    for name, value in (("start_id", start_id), ("end_id", end_id)):
        if value >= vocab_size:
            raise ValueError(
                f"Argument `{name}` must be a token id in [0, {vocab_size}) (the step "
                f"function's vocabulary). Received: {name}={value}"
            )


def validate_common(initial_state, start_id, end_id, max_length):
    """Validates the shared arguments; returns `(start_id, end_id, max_length, batch)`.

    `batch` is the static batch size when known, else a scalar tensor.
    """
    start_id = check_token_id("start_id", start_id)
    end_id = check_token_id("end_id", end_id)
    max_length = check_positive_int("max_length", max_length)
    return start_id, end_id, max_length, state_batch_size(initial_state)


def state_batch_size(initial_state):
    """Leading dimension shared by every leaf of `initial_state` (ValueError if they differ)."""
    leaves = keras.tree.flatten(initial_state)
    if not leaves:
        raise ValueError(
            "Argument `initial_state` must hold at least one tensor with a leading batch "
            f"dimension. Received: initial_state={initial_state!r}"
        )
    static = set()
    for leaf in leaves:
        shape = tuple(getattr(leaf, "shape", np.shape(leaf)))
        if len(shape) == 0:
            raise ValueError(
                "Argument `initial_state` must contain tensors with a leading batch "
                "dimension (rank >= 1). Received: a leaf of shape ()"
            )
        if shape[0] is not None:
            static.add(int(shape[0]))
    if len(static) > 1:
        shapes = [tuple(getattr(x, "shape", np.shape(x))) for x in leaves]
        raise ValueError(
            "Argument `initial_state` must have the same leading (batch) dimension in "
            f"every tensor. Received: initial_state with shapes {shapes}"
        )
    if static:
        size = static.pop()
        if size == 0:
            raise ValueError(
                "Argument `initial_state` must have a non-empty batch. Received: batch size 0"
            )
        return size
    return ops.shape(ops.convert_to_tensor(leaves[0]))[0]


def to_tensors(state):
    return keras.tree.map_structure(ops.convert_to_tensor, state)


def probe_vocab_size(step_fn, state, n):
    """Eagerly, the vocabulary size from one step on token 0 (always a valid id).

    Only run when eager, so out-of-range `start_id` / `end_id` raise a ValueError
    before the step function sees them (an embedding would raise a backend error).
    Traced decoders check the static `V` inside the loop body instead, at no cost.
    """
    if not is_eager():
        return None
    log_probs, _ = step_fn(ops.zeros((n,), "int32"), state)
    return int(log_probs.shape[-1])


def check_log_probs(log_probs, rows):
    """Static checks of the `[N, V]` float log-probabilities a step function returned.

    Runs while the loop body is traced, so it costs nothing in the graph; `rows`
    is the static number of tokens fed (`N`), or None when unknown.
    """
    shape = tuple(getattr(log_probs, "shape", np.shape(log_probs)))
    if len(shape) != 2:
        raise ValueError(
            "Argument `step_fn` must return log-probabilities of shape [N, V]. "
            f"Received: log_probs.shape={shape_str(shape)}"
        )
    dtype = keras.backend.standardize_dtype(log_probs.dtype)
    if "float" not in dtype:
        raise ValueError(
            "Argument `step_fn` must return floating log-probabilities. "
            f"Received: log_probs.dtype={dtype}"
        )
    if rows is not None and shape[0] is not None and int(shape[0]) != int(rows):
        raise ValueError(
            f"Argument `step_fn` must return one row of log-probabilities per token fed "
            f"({rows}). Received: log_probs.shape={shape_str(shape)}"
        )


def check_state_shapes(state, new_state):
    """`new_state` keeps the structure and static shapes of `state` (the loop carry)."""
    try:
        keras.tree.assert_same_structure(state, new_state)
    except (ValueError, TypeError) as e:
        raise ValueError(
            "Argument `step_fn` must return a state with the same structure as its input "
            f"state. Received: {e}"
        ) from None
    for old, new in zip(keras.tree.flatten(state), keras.tree.flatten(new_state)):
        new_shape = tuple(getattr(new, "shape", np.shape(new)))
        if not shapes_compatible(new_shape, old.shape):
            raise ValueError(
                "Argument `step_fn` must return a state with the shapes of its input state. "
                f"Received: a state tensor of shape {shape_str(new_shape)} for one of shape "
                f"{shape_str(old.shape)}"
            )


def call_step(step_fn, tokens, state, start_id, end_id):
    """Calls `step_fn`, checks the output contract, returns float32 log-probs."""
    log_probs, new_state = step_fn(tokens, state)
    check_log_probs(log_probs, tokens.shape[0])
    check_ids_below_vocab(start_id, end_id, log_probs.shape[-1])
    check_state_shapes(state, new_state)
    new_state = keras.tree.map_structure(
        lambda old, new: ops.cast(new, old.dtype), state, new_state
    )
    return ops.cast(log_probs, "float32"), new_state


def argmax_last(x):
    """First index of the maximum along the last axis.

    Written with `max` and `min` rather than `ops.argmax`: Keras's TF argmax uses
    bit tricks (Bitcast) that tf2onnx cannot export from inside a loop.
    """
    vocab = x.shape[-1]
    best = ops.max(x, axis=-1, keepdims=True)
    ids = ops.arange(vocab, dtype="int32")
    return ops.min(ops.where(x >= best, ids, vocab), axis=-1)


def write_step(sequences, step, values):
    """Writes `values` ([...]) at position `step` of `sequences` ([..., L])."""
    length = sequences.shape[-1]
    positions = ops.arange(length, dtype="int32")
    return ops.where(positions == step, ops.expand_dims(values, -1), sequences)


def gnmt_length_penalty(lengths, alpha):
    """GNMT length penalty ((5 + |Y|) / 6) ** alpha (Wu et al. 2016, eq. 14)."""
    return ops.power((5.0 + ops.cast(lengths, "float32")) / 6.0, alpha)


def autoregressive_loop(step_fn, state, start_id, end_id, max_length, batch, choose):
    """The one-token-at-a-time loop shared by greedy search and sampling.

    `choose(i, log_probs) -> (tokens [N] int32, token_log_probs [N])` picks the
    next tokens; finished rows keep emitting `end_id` and stop adding score.
    One bounded `ops.while_loop` that exits early once every row has finished.
    """

    def cond(i, tokens, state, sequences, scores, finished):
        return ops.logical_and(i < max_length, ops.logical_not(ops.all(finished)))

    def body(i, tokens, state, sequences, scores, finished):
        log_probs, state = call_step(step_fn, tokens, state, start_id, end_id)
        chosen, chosen_log_prob = choose(i, log_probs)
        tokens = ops.where(finished, end_id, chosen)
        scores = scores + ops.where(finished, 0.0, chosen_log_prob)
        sequences = write_step(sequences, i, tokens)
        finished = ops.logical_or(finished, tokens == end_id)
        return i + 1, tokens, state, sequences, scores, finished

    loop_vars = (
        ops.convert_to_tensor(0, "int32"),
        ops.full((batch,), start_id, "int32"),
        state,
        ops.full((batch, max_length), end_id, "int32"),
        ops.zeros((batch,), "float32"),
        ops.zeros((batch,), "bool"),
    )
    _, _, _, sequences, scores, _ = ops.while_loop(
        cond, body, loop_vars, maximum_iterations=max_length
    )
    return sequences, scores
