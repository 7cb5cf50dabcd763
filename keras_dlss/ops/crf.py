"""Linear-chain conditional random field: likelihood, partition, Viterbi, marginals.

A linear-chain CRF scores a tag sequence `y` of length `L` given per-token
emission scores `e` as

    s(y) = start[y_0] + sum_{t<L} e_t[y_t] + sum_{0<t<L} A[y_{t-1}, y_t] + end[y_{L-1}]

and defines `p(y | e) = exp(s(y)) / Z`. `transitions[i, j]` (`A`) scores
moving **from tag i to tag j**. The forward algorithm gives `log Z`, the
Viterbi algorithm the best path, and forward-backward the per-token
posteriors. Every function takes `algorithm="sequential"` (an `ops.scan`
over time, O(T) depth) or `"parallel"` (a balanced tree of semiring matrix
products, O(log T) depth, see `crf_parallel.py`); both give the same numbers.

Shapes: emissions `[B, T, K]` float, tags `[B, T]` int, mask `[B, T]` bool
(right-padded: ones then zeros). Sequences of length 0 are allowed: their
log-likelihood and log-partition are 0 and their decoded tags are all 0.

References:
    - Lafferty, McCallum & Pereira, "Conditional Random Fields: Probabilistic
      Models for Segmenting and Labeling Sequence Data", ICML 2001.
    - Lample et al., "Neural Architectures for Named Entity Recognition",
      NAACL 2016 (https://arxiv.org/abs/1603.01360).
"""

import keras
import numpy as np
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.ops import crf_forward_backward as fb
from keras_dlss.ops import crf_parallel as par
from keras_dlss.ops import crf_sequential as seq
from keras_dlss.ops.crf_constraints import allowed_transitions  # noqa: F401 (re-export)

_ALGORITHMS = ("sequential", "parallel")


# ----------------------------------------------------------------------------- inputs


def _prepare(emissions, transitions, mask, start, end, constraints, algorithm, tags=None):
    """Validates the public arguments and returns float tensors in one dtype."""
    v.check_one_of("algorithm", algorithm, _ALGORITHMS)
    emissions = ops.convert_to_tensor(emissions)
    v.check_rank("emissions", emissions, 3)
    v.check_dtype_kind("emissions", emissions, "floating")
    v.check_nonempty_batch("emissions", emissions)
    num_tags, steps = emissions.shape[-1], emissions.shape[1]
    if num_tags is None or num_tags < 1:
        raise ValueError(
            f"Argument `emissions` must have a static number of tags >= 1. Received: emissions.shape={emissions.shape}"
        )
    if steps == 0:
        raise ValueError(
            f"Argument `emissions` must have at least one time step. Received: emissions.shape={emissions.shape}"
        )
    if algorithm == "parallel" and steps is None:
        raise ValueError(
            "Argument `algorithm`='parallel' needs a static sequence length (the tree depth is "
            f"static). Received: emissions.shape={emissions.shape}"
        )
    v.check_finite("emissions", emissions)
    # Half precision cannot hold log-space sums over long sequences: compute in float32.
    dtype = keras.backend.standardize_dtype(emissions.dtype)
    dtype = dtype if dtype in ("float32", "float64") else "float32"
    emissions = ops.cast(emissions, dtype)
    transitions = _check_param("transitions", transitions, (num_tags, num_tags), dtype)
    start = _check_param("start_transitions", start, (num_tags,), dtype)
    end = _check_param("end_transitions", end, (num_tags,), dtype)
    transitions, start, end = _apply_constraints(constraints, transitions, start, end, num_tags)
    mask = _prepare_mask(mask, emissions)
    if tags is not None:
        tags = _prepare_tags(tags, emissions, mask, num_tags)
    return emissions, transitions, mask, start, end, tags


def _check_param(name, x, shape, dtype):
    if x is None:
        return ops.zeros(shape, dtype=dtype)
    x = ops.convert_to_tensor(x)
    if not v.shapes_compatible(x.shape, shape):
        raise ValueError(
            f"Argument `{name}` must have shape {shape}. Received: {name}.shape={v.shape_str(x.shape)}"
        )
    v.check_dtype_kind(name, x, "floating")
    v.check_finite(name, x)
    return ops.cast(x, dtype)


def _apply_constraints(constraints, transitions, start, end, num_tags):
    """Replaces forbidden transitions (and starts/ends) by a large negative score."""
    if constraints is None:
        return transitions, start, end
    if (
        isinstance(constraints, (tuple, list))
        and len(constraints) == 3
        and np.ndim(constraints[0]) == 2
    ):
        allowed, allowed_start, allowed_end = (np.asarray(c, dtype=bool) for c in constraints)
    else:
        allowed, allowed_start, allowed_end = np.asarray(constraints, dtype=bool), None, None
    if allowed.shape != (num_tags, num_tags):
        raise ValueError(
            f"Argument `constraints` must be a boolean [{num_tags}, {num_tags}] matrix or a tuple "
            f"(matrix, start [{num_tags}], end [{num_tags}]). Received: constraints.shape={allowed.shape}"
        )
    for name, arr in (("constraints[1]", allowed_start), ("constraints[2]", allowed_end)):
        if arr is not None and arr.shape != (num_tags,):
            raise ValueError(
                f"Argument `{name}` must have shape ({num_tags},). Received: {name}.shape={arr.shape}"
            )
    transitions = ops.where(allowed, transitions, par.NEG)
    if allowed_start is not None:
        start = ops.where(allowed_start, start, par.NEG)
        end = ops.where(allowed_end, end, par.NEG)
    return transitions, start, end


def _prepare_mask(mask, emissions):
    if mask is None:
        return ops.ones(ops.shape(emissions)[:2], dtype="bool")
    mask = ops.convert_to_tensor(mask)
    v.check_rank("mask", mask, 2)
    for axis in (0, 1):
        v.check_dims_match("mask", mask, axis, emissions.shape[axis], f"emissions.shape[{axis}]")
    v.check_right_padded("mask", mask)
    return ops.cast(mask, "bool")


def _prepare_tags(tags, emissions, mask, num_tags):
    tags = ops.convert_to_tensor(tags)
    v.check_rank("tags", tags, 2)
    v.check_dtype_kind("tags", tags, "integer")
    for axis in (0, 1):
        v.check_dims_match("tags", tags, axis, emissions.shape[axis], f"emissions.shape[{axis}]")
    tags_np, mask_np = v.concrete_value(tags), v.concrete_value(mask)
    if tags_np is not None and mask_np is not None:  # padded positions may hold anything
        v.check_ids_in_range("tags", tags_np[mask_np.astype(bool)], num_tags)
    return ops.where(mask, ops.cast(tags, "int32"), 0)


def _lengths(mask):
    return ops.sum(ops.cast(mask, "int32"), axis=1)


# ----------------------------------------------------------------------------- scores


def _sequence_score(emissions, tags, transitions, mask, start, end):
    """Unnormalized score s(y) of the given tags, `[B]` (0 for empty sequences)."""
    num_tags = emissions.shape[-1]
    maskf = ops.cast(mask, emissions.dtype)
    onehot = ops.one_hot(tags, num_tags, dtype=emissions.dtype)  # [B, T, K]
    emit = ops.sum(ops.sum(onehot * emissions, axis=-1) * maskf, axis=1)
    # A[y_{t-1}, y_t] as one-hot matmuls: no gathers, clean gradients for A.
    trans = ops.sum(ops.matmul(onehot[:, :-1], transitions) * onehot[:, 1:], axis=-1)
    trans = ops.sum(trans * maskf[:, 1:], axis=1)
    # The last valid position is where the (right-padded) mask turns off.
    next_valid = ops.concatenate([mask[:, 1:], ops.zeros_like(mask[:, :1])], axis=1)
    last_pos = ops.cast(ops.logical_and(mask, ops.logical_not(next_valid)), emissions.dtype)
    last = ops.sum(ops.sum(onehot * ops.expand_dims(last_pos, -1), axis=1) * end, axis=-1)
    first = ops.sum(onehot[:, 0] * start, axis=-1) * maskf[:, 0]
    return emit + trans + first + last


def _forward_backward(algorithm):
    if algorithm == "parallel":
        return par.forward_backward
    return seq.forward_backward


def _log_partition(emissions, transitions, mask, start, end, algorithm):
    log_z = fb.log_partition(emissions, transitions, mask, start, end, _forward_backward(algorithm))
    return ops.where(_lengths(mask) > 0, log_z, 0.0)


# ----------------------------------------------------------------------------- public


def crf_log_partition(
    emissions,
    transitions,
    mask=None,
    start_transitions=None,
    end_transitions=None,
    *,
    constraints=None,
    algorithm="sequential",
):
    """Log normalizer `log Z` of a linear-chain CRF (forward algorithm in log space).

    Args:
        emissions: `[B, T, K]` float tensor of per-token tag scores.
        transitions: `[K, K]` float tensor; `transitions[i, j]` scores tag i -> tag j.
        mask: optional `[B, T]` bool tensor, right-padded. Defaults to all valid.
        start_transitions: optional `[K]` scores of the first tag. Defaults to 0.
        end_transitions: optional `[K]` scores of the last tag. Defaults to 0.
        constraints: optional boolean `[K, K]` matrix of allowed transitions, or a
            tuple `(allowed [K, K], allowed_start [K], allowed_end [K])`, e.g. from
            `allowed_transitions`. Forbidden moves get a score of -1e4.
        algorithm: `"sequential"` or `"parallel"` (needs a static `T`; O(log T)
            depth for accelerators, slower than `"sequential"` on CPU).

    Returns:
        `[B]` float tensor; 0 for sequences of length 0.

    Example:

    ```pycon
    >>> e = np.zeros((1, 3, 2), "float32")
    >>> float(crf_log_partition(e, np.zeros((2, 2), "float32"))[0])  # log(2**3)
    2.079...
    ```
    """
    emissions, transitions, mask, start, end, _ = _prepare(
        emissions, transitions, mask, start_transitions, end_transitions, constraints, algorithm
    )
    return _log_partition(emissions, transitions, mask, start, end, algorithm)


def crf_log_likelihood(
    emissions,
    tags,
    transitions,
    mask=None,
    start_transitions=None,
    end_transitions=None,
    *,
    constraints=None,
    algorithm="sequential",
):
    """Log-likelihood `log p(tags | emissions)` of a linear-chain CRF.

    Args:
        emissions: `[B, T, K]` float tensor of per-token tag scores.
        tags: `[B, T]` int tensor of gold tags in `[0, K)` (padded positions are ignored).
        transitions: `[K, K]` float tensor; `transitions[i, j]` scores tag i -> tag j.
        mask: optional `[B, T]` bool tensor, right-padded. Defaults to all valid.
        start_transitions, end_transitions: optional `[K]` first/last-tag scores.
        constraints: optional allowed-transition matrix (see `crf_log_partition`).
        algorithm: `"sequential"` or `"parallel"`.

    Returns:
        `[B]` float tensor (<= 0); exactly 0 for sequences of length 0.

    Example:

    ```pycon
    >>> e = np.random.randn(2, 5, 3).astype("float32")
    >>> ll = crf_log_likelihood(e, np.zeros((2, 5), "int32"), np.zeros((3, 3), "float32"))
    >>> loss = -ops.mean(ll)
    ```
    """
    emissions, transitions, mask, start, end, tags = _prepare(
        emissions,
        transitions,
        mask,
        start_transitions,
        end_transitions,
        constraints,
        algorithm,
        tags,
    )
    score = _sequence_score(emissions, tags, transitions, mask, start, end)
    return score - _log_partition(emissions, transitions, mask, start, end, algorithm)


def crf_marginals(
    emissions,
    transitions,
    mask=None,
    start_transitions=None,
    end_transitions=None,
    *,
    constraints=None,
    algorithm="sequential",
):
    """Per-token posteriors `p(y_t = k | emissions)` by forward-backward.

    Args: as `crf_log_partition`.

    Returns:
        `[B, T, K]` float tensor; rows sum to 1 at valid positions and are 0 at padded ones.

    Example:

    ```pycon
    >>> p = crf_marginals(np.random.randn(2, 4, 3), np.zeros((3, 3)))
    >>> confidence = ops.max(p, axis=-1)
    ```
    """
    emissions, transitions, mask, start, end, _ = _prepare(
        emissions, transitions, mask, start_transitions, end_transitions, constraints, algorithm
    )
    alphas, betas = _forward_backward(algorithm)(emissions, transitions, mask, start, end)
    log_z = ops.logsumexp(alphas[:, -1] + end, axis=-1)
    post = ops.exp(alphas + betas - log_z[:, None, None])
    return post * ops.cast(mask, post.dtype)[..., None]


def crf_decode(
    emissions,
    transitions,
    mask=None,
    start_transitions=None,
    end_transitions=None,
    *,
    constraints=None,
    algorithm="sequential",
):
    """Viterbi decoding: the highest-scoring tag sequence and its score.

    Args: as `crf_log_partition`.

    Returns:
        `(tags, scores)`: `[B, T]` int32 best paths (padded positions hold 0) and
        `[B]` float unnormalized path scores (0 for sequences of length 0).

    Example:

    ```pycon
    >>> tags, scores = crf_decode(np.random.randn(2, 6, 4), np.zeros((4, 4)))
    ```
    """
    emissions, transitions, mask, start, end, _ = _prepare(
        emissions, transitions, mask, start_transitions, end_transitions, constraints, algorithm
    )
    if emissions.shape[1] == 1:
        final = start + emissions[:, 0] + end
        tags = par.first_argmax(final)[:, None]
        best = ops.max(final, axis=-1)
    elif algorithm == "parallel":
        tags, best = par.viterbi(emissions, transitions, mask, start, end)
    else:
        tags, best = seq.viterbi(emissions, transitions, mask, start, end)
    nonempty = _lengths(mask) > 0
    return ops.where(mask, tags, 0), ops.where(nonempty, best, 0.0)
