"""Constrained decoding: a token mask applied inside the decoding loop.

A constraint is `allowed_tokens_fn(tokens, constraint_state) -> (mask,
new_constraint_state)`: given the tokens just fed (`[N]` int32) and its own
state (a tensor or nest with leading dimension `N`), it returns which tokens may
come next (`[N, V]` bool) and its updated state. `constrain_step_fn` folds it
into an ordinary step function whose state is `(decoder_state,
constraint_state)` and whose disallowed log-probabilities are `-inf`, so greedy
search, beam search and sampling enforce it without a loop of their own: beam
search reorders the constraint state along beam ancestry like any decoder state,
and everything stays one XLA-compilable `ops.while_loop`.

Grammar-constrained decoding of this kind is how syntax-aware semantic parsers
guarantee well-formed programs (Yin & Neubig 2017, "A Syntactic Neural Model
for General-Purpose Code Generation", https://arxiv.org/abs/1704.01696).
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import shape_str
from keras_dlss.decoding import _common


def _check_mask(mask, log_probs):
    shape = tuple(getattr(mask, "shape", np.shape(mask)))
    expected = tuple(log_probs.shape)
    if len(shape) != 2 or not all(
        a is None or b is None or int(a) == int(b) for a, b in zip(shape, expected)
    ):
        raise ValueError(
            "Argument `allowed_tokens_fn` must return a mask of shape [N, V] matching the "
            f"log-probabilities {shape_str(expected)}. Received: mask.shape={shape_str(shape)}"
        )


def constrain_step_fn(step_fn, allowed_tokens_fn):
    """Wraps `step_fn` so that tokens outside `allowed_tokens_fn`'s mask get `-inf`.

    The wrapped step function takes and returns the state `(decoder_state,
    constraint_state)`. Disallowed tokens are masked, not renormalized: allowed
    tokens keep the model's log-probabilities, so scores stay comparable with
    unconstrained decoding and an all-True mask changes nothing.

    Args:
        step_fn: callable `(tokens, state) -> (log_probs [N, V], new_state)`.
        allowed_tokens_fn: callable `(tokens, constraint_state) -> (mask [N, V]
            bool, new_constraint_state)`.

    Returns:
        A step function `(tokens, (state, constraint_state)) -> (log_probs,
        (new_state, new_constraint_state))`.

    Example:

    ```python
    import numpy as np
    from keras import ops
    from keras_dlss.decoding import constrain_step_fn, greedy_decode

    transitions = np.log(np.random.dirichlet(np.ones(5), size=5)).astype("float32")

    def step_fn(tokens, state):
        return ops.take(transitions, tokens, axis=0), state

    def no_token_3(tokens, constraint_state):
        return ops.tile(ops.arange(5)[None] != 3, (tokens.shape[0], 1)), constraint_state

    wrapped = constrain_step_fn(step_fn, no_token_3)
    state = (np.zeros((2, 1), "float32"), np.zeros((2, 1), "int32"))
    sequences, _ = greedy_decode(wrapped, state, start_id=0, end_id=4, max_length=6)
    ```

    References:
        - [Yin & Neubig, 2017](https://arxiv.org/abs/1704.01696)
    """
    if not callable(step_fn):
        raise ValueError(f"Argument `step_fn` must be callable. Received: step_fn={step_fn!r}")
    if not callable(allowed_tokens_fn):
        raise ValueError(
            "Argument `allowed_tokens_fn` must be callable `(tokens, constraint_state) -> "
            f"(mask, new_constraint_state)`. Received: allowed_tokens_fn={allowed_tokens_fn!r}"
        )

    def wrapped(tokens, state):
        decoder_state, constraint_state = state
        log_probs, decoder_state = step_fn(tokens, decoder_state)
        mask, new_constraint_state = allowed_tokens_fn(tokens, constraint_state)
        _check_mask(mask, log_probs)
        _common.check_state_shapes(constraint_state, new_constraint_state)
        mask = ops.cast(mask, "bool")
        log_probs = ops.where(mask, log_probs, ops.cast(_common.NEG_INF, log_probs.dtype))
        return log_probs, (decoder_state, new_constraint_state)

    return wrapped


def with_constraint(step_fn, initial_state, allowed_tokens_fn, constraint_state):
    """`(step_fn, initial_state)` for a decoder, constrained when `allowed_tokens_fn` is set.

    Shared by `greedy_decode` and `beam_search`. A missing `constraint_state`
    becomes a dummy `[B, 1]` int32 tensor, so stateless masks need no state of
    their own.
    """
    if allowed_tokens_fn is None:
        if constraint_state is not None:
            raise ValueError(
                "Argument `constraint_state` is only used with `allowed_tokens_fn`. "
                "Received: constraint_state without allowed_tokens_fn"
            )
        return step_fn, initial_state
    batch = _common.state_batch_size(initial_state)
    if constraint_state is None:
        constraint_state = ops.zeros((batch, 1), "int32")
    else:
        constraint_batch = _common.state_batch_size(constraint_state)
        if isinstance(batch, int) and isinstance(constraint_batch, int):
            if batch != constraint_batch:
                raise ValueError(
                    "Argument `constraint_state` must have the batch size of `initial_state` "
                    f"({batch}). Received: constraint_state with batch size {constraint_batch}"
                )
    constraint_state = keras.tree.map_structure(ops.convert_to_tensor, constraint_state)
    state = (_common.to_tensors(initial_state), constraint_state)
    return constrain_step_fn(step_fn, allowed_tokens_fn), state
