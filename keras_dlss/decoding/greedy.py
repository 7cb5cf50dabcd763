"""Greedy search: feed back the most probable token at every step.

The simplest decoder for autoregressive models (Sutskever et al. 2014,
"Sequence to Sequence Learning with Neural Networks",
https://arxiv.org/abs/1409.3215): it approximates the most probable output by
the locally best choice, in one bounded loop that compiles with XLA.
"""

from keras import ops

from keras_dlss.decoding import _common
from keras_dlss.decoding.constrained import with_constraint


def greedy_decode(
    step_fn,
    initial_state,
    start_id,
    end_id,
    max_length,
    allowed_tokens_fn=None,
    constraint_state=None,
):
    """Decodes by choosing the most probable next token at every step.

    The whole decode is one `ops.while_loop` with static shapes and at most
    `max_length` iterations (it exits early once every sequence has emitted
    `end_id`), so it runs inside a `jit_compile=True` function or model.

    Args:
        step_fn: callable `(tokens, state) -> (log_probs, new_state)`. `tokens`
            is a `[N]` int32 tensor, `log_probs` a `[N, V]` float tensor of
            log-probabilities of the next token and `state` a tensor or nest of
            tensors with leading dimension `N` (RNN states, a Transformer cache
            and its step counter, encoder memory...). `new_state` must keep the
            structure, shapes and dtypes of `state`.
        initial_state: tensor or nest of tensors with leading dimension `B`.
        start_id: int. Token fed at the first step (not part of the output).
        end_id: int. Token that ends a sequence; later positions hold `end_id`.
        max_length: int >= 1. Number of generated tokens.
        allowed_tokens_fn: optional callable `(tokens, constraint_state) ->
            (mask [N, V] bool, new_constraint_state)` evaluated inside the
            loop after every fed token (the start token first): only tokens
            where `mask` is True can be chosen (see `constrain_step_fn`;
            `Grammar.allowed_tokens_fn` builds one from a grammar).
        constraint_state: tensor or nest with leading dimension `B`, the
            initial state of `allowed_tokens_fn`. Defaults to a dummy tensor.

    Returns:
        `(sequences, scores)`: `sequences` is a `[B, max_length]` int32 tensor
        (without the start token), `scores` a `[B]` float32 tensor: the sum of
        the log-probabilities of the generated tokens up to and including the
        first `end_id`.

    Example:

    ```python
    import numpy as np
    from keras import ops
    from keras_dlss.decoding import greedy_decode

    transitions = np.log(np.random.dirichlet(np.ones(5), size=5)).astype("float32")

    def step_fn(tokens, state):  # a first-order Markov chain
        return ops.take(transitions, tokens, axis=0), state

    sequences, scores = greedy_decode(
        step_fn, initial_state=np.zeros((2, 1), "float32"), start_id=0, end_id=4,
        max_length=6)
    ```

    References:
        - [Sutskever et al., 2014](https://arxiv.org/abs/1409.3215)
    """
    start_id, end_id, max_length, batch = _common.validate_common(
        initial_state, start_id, end_id, max_length
    )
    step_fn, initial_state = with_constraint(
        step_fn, initial_state, allowed_tokens_fn, constraint_state
    )
    state = _common.to_tensors(initial_state)
    _common.check_ids_below_vocab(start_id, end_id, _common.probe_vocab_size(step_fn, state, batch))

    def choose(i, log_probs):
        return _common.argmax_last(log_probs), ops.max(log_probs, axis=-1)

    return _common.autoregressive_loop(step_fn, state, start_id, end_id, max_length, batch, choose)
