"""Beam search with the GNMT length penalty, for any step function.

Keeps the `beam_width` best partial hypotheses per example (Graves 2012,
"Sequence Transduction with Recurrent Neural Networks",
https://arxiv.org/abs/1211.3711; Sutskever et al. 2014). Hypotheses are ranked
by log-probability divided by the length penalty of Wu et al. 2016 ("Google's
Neural Machine Translation System", https://arxiv.org/abs/1609.08144, eq. 14).

Unlike tensorflow-addons' `BeamSearchDecoder` (RNN cells only, tfa#2193; not
savable, tfa#1961), the decoder state is any nest of tensors: RNN states, a
Transformer key/value cache, encoder memory. It is tiled to `B * beam_width`
rows once and gathered along beam ancestry at every step, inside one bounded
`ops.while_loop` that compiles with XLA and exports to SavedModel.
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.decoding import _common
from keras_dlss.decoding.constrained import with_constraint


def beam_search(
    step_fn,
    initial_state,
    start_id,
    end_id,
    beam_width,
    max_length,
    length_penalty=0.0,
    allowed_tokens_fn=None,
    constraint_state=None,
):
    """Decodes the `beam_width` most probable sequences per example.

    At every step each live hypothesis is extended by every token; the
    `beam_width` best of the `beam_width * V` candidates survive, ranked by
    `log P(y) / ((5 + |y|) / 6) ** length_penalty`. A hypothesis that emitted
    `end_id` is finished: it keeps its score and length and can only be
    extended by `end_id` at no cost, so it competes with live hypotheses
    without growing. The loop stops after `max_length` steps or once every
    hypothesis has finished.

    Args:
        step_fn: callable `(tokens, state) -> (log_probs, new_state)` as in
            `greedy_decode`; it is called on `N = B * beam_width` rows.
        initial_state: tensor or nest of tensors with leading dimension `B`.
            Each tensor is repeated `beam_width` times (row `b * beam_width + k`
            is beam `k` of example `b`) and reordered by ancestry each step.
        start_id: int. Token fed at the first step (not part of the output).
        end_id: int. Token that ends a hypothesis; later positions hold `end_id`.
        beam_width: int >= 1. Hypotheses kept per example. `1` is greedy search.
        max_length: int >= 1. Number of generated tokens.
        length_penalty: float >= 0. GNMT `alpha`; `0` ranks by log-probability.
            Defaults to `0.0`.
        allowed_tokens_fn: optional callable `(tokens, constraint_state) ->
            (mask [N, V] bool, new_constraint_state)`, as in `greedy_decode`;
            hypotheses only ever contain allowed tokens. Its state is tiled
            and reordered along beam ancestry like the decoder state.
        constraint_state: tensor or nest with leading dimension `B`, the
            initial state of `allowed_tokens_fn`. Defaults to a dummy tensor.

    Returns:
        `(sequences, scores)`: `sequences` is a `[B, beam_width, max_length]`
        int32 tensor, best hypothesis first, without the start token; `scores`
        is `[B, beam_width]` float32, the length-penalized log-probability of
        each hypothesis (its log-probability when `length_penalty=0`).
        Hypotheses that cannot exist (`beam_width` larger than the number of
        distinct sequences) score `-inf`.

    Example:

    ```python
    import numpy as np
    from keras import ops
    from keras_dlss.decoding import beam_search

    transitions = np.log(np.random.dirichlet(np.ones(5), size=5)).astype("float32")

    def step_fn(tokens, state):  # a first-order Markov chain
        return ops.take(transitions, tokens, axis=0), state

    sequences, scores = beam_search(
        step_fn, initial_state=np.zeros((2, 1), "float32"), start_id=0, end_id=4,
        beam_width=3, max_length=6, length_penalty=0.6)
    sequences.shape  # (2, 3, 6)
    ```

    References:
        - [Wu et al., 2016](https://arxiv.org/abs/1609.08144)
        - [Graves, 2012](https://arxiv.org/abs/1211.3711)
    """
    start_id, end_id, max_length, batch = _common.validate_common(
        initial_state, start_id, end_id, max_length
    )
    beam = check_positive_int("beam_width", beam_width)
    alpha = float(check_range("length_penalty", length_penalty, 0.0))
    step_fn, initial_state = with_constraint(
        step_fn, initial_state, allowed_tokens_fn, constraint_state
    )
    state = keras.tree.map_structure(
        lambda x: ops.repeat(x, beam, axis=0), _common.to_tensors(initial_state)
    )
    _common.check_ids_below_vocab(
        start_id, end_id, _common.probe_vocab_size(step_fn, state, batch * beam)
    )

    def rank(log_probs, lengths):
        if alpha == 0.0:
            return log_probs
        return log_probs / _common.gnmt_length_penalty(lengths, alpha)

    def cond(i, tokens, state, sequences, log_probs, lengths, finished):
        return ops.logical_and(i < max_length, ops.logical_not(ops.all(finished)))

    def body(i, tokens, state, sequences, log_probs, lengths, finished):
        step_log_probs, state = _common.call_step(step_fn, tokens, state, start_id, end_id)
        vocab = step_log_probs.shape[-1]
        step_log_probs = ops.reshape(step_log_probs, (-1, beam, vocab))
        # A finished hypothesis may only be followed by `end_id`, at no cost:
        # it survives with its score unchanged and never grows.
        end_only = ops.where(ops.arange(vocab) == end_id, 0.0, _common.NEG_INF)
        step_log_probs = ops.where(finished[..., None], end_only, step_log_probs)
        candidates = log_probs[..., None] + step_log_probs  # [B, beam, V]
        new_lengths = lengths + ops.cast(ops.logical_not(finished), "int32")
        scores = rank(candidates, new_lengths[..., None])
        _, flat_ids = ops.top_k(ops.reshape(scores, (-1, beam * vocab)), beam)
        parents = flat_ids // vocab  # [B, beam]
        tokens = ops.cast(flat_ids % vocab, "int32")

        log_probs = ops.take_along_axis(ops.reshape(candidates, (-1, beam * vocab)), flat_ids, 1)
        lengths = ops.take_along_axis(new_lengths, parents, axis=1)
        finished = ops.logical_or(ops.take_along_axis(finished, parents, axis=1), tokens == end_id)
        sequences = ops.take_along_axis(sequences, parents[..., None], axis=1)
        sequences = _common.write_step(sequences, i, tokens)
        rows = ops.reshape(ops.arange(ops.shape(parents)[0]) * beam, (-1, 1)) + parents
        rows = ops.reshape(rows, (-1,))
        state = keras.tree.map_structure(lambda s: ops.take(s, rows, axis=0), state)
        return i + 1, ops.reshape(tokens, (-1,)), state, sequences, log_probs, lengths, finished

    # Only beam 0 is alive at the start, so the first step's candidates are
    # distinct tokens rather than `beam_width` copies of the same ones.
    first_beam = ops.arange(beam) == 0
    initial_log_probs = ops.where(first_beam, 0.0, _common.NEG_INF)
    loop_vars = (
        ops.convert_to_tensor(0, "int32"),
        ops.full((batch * beam,), start_id, "int32"),
        state,
        ops.full((batch, beam, max_length), end_id, "int32"),
        ops.tile(initial_log_probs[None, :], (batch, 1)),
        ops.zeros((batch, beam), "int32"),
        ops.zeros((batch, beam), "bool"),
    )
    outputs = ops.while_loop(cond, body, loop_vars, maximum_iterations=max_length)
    _, _, _, sequences, log_probs, lengths, _ = outputs
    scores = rank(log_probs, lengths)
    # Ranking is stable between steps, but sort once more so the contract
    # "best first" does not depend on that invariant.
    scores, order = ops.top_k(scores, beam)
    sequences = ops.take_along_axis(sequences, order[..., None], axis=1)
    return sequences, scores
