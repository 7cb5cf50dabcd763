"""Ancestral sampling with temperature, top-k and nucleus (top-p) truncation.

Draws each token from the model's next-token distribution and feeds it back
(ancestral sampling), optionally sharpened by a temperature, truncated to the
`top_k` most probable tokens (Fan et al. 2018, "Hierarchical Neural Story
Generation", https://arxiv.org/abs/1805.04833) or to the smallest set whose
probability reaches `top_p` (Holtzman et al. 2019, "The Curious Case of Neural
Text Degeneration", https://arxiv.org/abs/1904.09751).

All random numbers are drawn once, before the loop, from a seeded uniform
generator; each step turns its `[B]` uniforms into tokens by inverting the
truncated CDF. The loop therefore holds no random-generator state, which keeps
it deterministic under a seed and compilable with XLA on every backend.
"""

import numpy as np
from keras import ops, random

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.decoding import _common


def _truncate(logits, top_k, top_p):
    """Sets logits outside the top-k / nucleus set to -inf."""
    vocab = logits.shape[-1]
    neg_inf = ops.full_like(logits, _common.NEG_INF)
    if top_k is not None and top_k < vocab:
        kth = ops.top_k(logits, top_k)[0][:, -1:]
        logits = ops.where(logits < kth, neg_inf, logits)
    if top_p is not None and top_p < 1.0:
        sorted_logits = ops.top_k(logits, vocab)[0]
        sorted_probs = ops.softmax(sorted_logits, axis=-1)
        # Keep a token while the mass strictly before it is below top_p, so the
        # most probable token is always kept and the kept set reaches top_p.
        mass_before = ops.cumsum(sorted_probs, axis=-1) - sorted_probs
        kept = ops.where(mass_before < top_p, sorted_logits, ops.max(logits))
        threshold = ops.min(kept, axis=-1, keepdims=True)
        logits = ops.where(logits < threshold, neg_inf, logits)
    return logits


def _inverse_cdf(probs, uniforms):
    """Index `j` with `cdf[j-1] < u * total <= cdf[j]`: never a zero-probability token."""
    cdf = ops.cumsum(probs, axis=-1)
    target = uniforms[:, None] * cdf[:, -1:]
    return ops.cast(ops.sum(ops.cast(cdf < target, "int32"), axis=-1), "int32")


def sample(
    step_fn,
    initial_state,
    start_id,
    end_id,
    max_length,
    temperature=1.0,
    top_k=None,
    top_p=None,
    seed=None,
):
    """Decodes by sampling each token from the (truncated) model distribution.

    Args:
        step_fn: callable `(tokens, state) -> (log_probs, new_state)` as in
            `greedy_decode`.
        initial_state: tensor or nest of tensors with leading dimension `B`.
        start_id: int. Token fed at the first step (not part of the output).
        end_id: int. Token that ends a sequence; later positions hold `end_id`.
        max_length: int >= 1. Number of generated tokens.
        temperature: float > 0. Log-probabilities are divided by it before
            sampling; below 1 sharpens, above 1 flattens. Defaults to `1.0`.
        top_k: int >= 1 or None. Sample only among the `top_k` most probable
            tokens (`top_k=1` is greedy search). Defaults to `None`.
        top_p: float in (0, 1] or None. Sample only from the nucleus: the most
            probable tokens whose cumulative probability first reaches
            `top_p`. Defaults to `None`.
        seed: int, `keras.random.SeedGenerator` or None. Same int seed, same
            samples. Defaults to `None`.

    Returns:
        `(sequences, scores)`: `[B, max_length]` int32 sampled tokens (without
        the start token) and `[B]` float32 sums of the model's (untempered,
        untruncated) log-probabilities of those tokens, up to and including
        the first `end_id`.

    Example:

    ```python
    import numpy as np
    from keras import ops
    from keras_dlss.decoding import sample

    transitions = np.log(np.random.dirichlet(np.ones(5), size=5)).astype("float32")

    def step_fn(tokens, state):  # a first-order Markov chain
        return ops.take(transitions, tokens, axis=0), state

    sequences, scores = sample(
        step_fn, initial_state=np.zeros((4, 1), "float32"), start_id=0, end_id=4,
        max_length=8, temperature=0.8, top_p=0.9, seed=1)
    ```

    References:
        - [Holtzman et al., 2019](https://arxiv.org/abs/1904.09751)
        - [Fan et al., 2018](https://arxiv.org/abs/1805.04833)
    """
    start_id, end_id, max_length, batch = _common.validate_common(
        initial_state, start_id, end_id, max_length
    )
    temperature = float(check_range("temperature", temperature, 0.0, low_inclusive=False))
    if top_k is not None:
        top_k = check_positive_int("top_k", top_k)
    if top_p is not None:
        top_p = float(check_range("top_p", top_p, 0.0, 1.0, low_inclusive=False))
    state = _common.to_tensors(initial_state)
    _common.check_ids_below_vocab(start_id, end_id, _common.probe_vocab_size(step_fn, state, batch))
    # u in [tiny, 1): u * total > 0 so the inverse CDF never lands on a
    # leading zero-probability token.
    uniforms = random.uniform(
        (max_length, batch), minval=float(np.finfo("float32").tiny), maxval=1.0, seed=seed
    )

    def choose(i, log_probs):
        logits = _truncate(log_probs / temperature, top_k, top_p)
        probs = ops.exp(logits - ops.max(logits, axis=-1, keepdims=True))
        drawn = _inverse_cdf(probs, ops.take(uniforms, i, axis=0))
        return drawn, ops.take_along_axis(log_probs, drawn[:, None], axis=1)[:, 0]

    return _common.autoregressive_loop(step_fn, state, start_id, end_id, max_length, batch, choose)
