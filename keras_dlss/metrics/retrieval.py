"""Cross-modal retrieval: Recall@K and median rank of the matching candidate.

The numbers joint-embedding papers report (Kiros et al. 2014, Table 1; Faghri et
al. 2018, Table 1): each query (an image, or a caption) ranks every candidate
of the other modality by similarity; R@K is the fraction of queries whose
match is among the top K, "Med r" the median rank of the match (1 is best).

A query may have several correct candidates (five captions per image): they
share a group id with it, and the query's rank is that of its best-ranked
correct candidate, as in both papers. Ties are counted *pessimistically*: a
wrong candidate scoring exactly as high as the best correct one ranks ahead of
it, so a constant similarity scores R@K = 0 for K below the number of wrong
candidates, not a lucky 1 (an optimistic count would reward collapsed
embeddings). Everything is `keras.ops`, so the metric runs inside XLA-compiled
steps; the data-dependent checks (every query has a correct candidate, finite
scores) run on eager calls only.

References:
    Kiros, Salakhutdinov & Zemel 2014, "Unifying Visual-Semantic Embeddings with
    Multimodal Neural Language Models", https://arxiv.org/abs/1411.2539;
    Faghri, Fleet, Kiros & Fidler 2018, "VSE++", https://arxiv.org/abs/1707.05612
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import (
    check_finite,
    check_one_of,
    check_rank,
    concrete_value,
    shape_str,
    static_dim,
)

__all__ = ["RecallAtK", "median_rank", "recall_at_k", "retrieval_ranks"]

SIMILARITIES = ("cosine", "dot", "precomputed")


def _check_ks(k, num_candidates=None):
    """`k` (an int or a tuple of ints) as a tuple, each in [1, num_candidates]."""
    ks = (k,) if isinstance(k, (int, np.integer)) and not isinstance(k, bool) else k
    try:
        ks = tuple(ks)
    except TypeError:
        ks = (k,)
    ok = len(ks) > 0 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in ks
    )
    if not ok:
        raise ValueError(
            f"Argument `k` must be an integer >= 1 or a tuple of them. Received: k={k!r}"
        )
    if num_candidates is not None and max(ks) > num_candidates:
        raise ValueError(
            f"Argument `k` must be at most the number of candidates ({num_candidates}). "
            f"Received: k={k!r}"
        )
    return tuple(int(v) for v in ks)


def _check_groups(name, groups, expected, expected_desc):
    if groups is None:
        return None
    groups = ops.convert_to_tensor(groups)
    dim = static_dim(groups.shape[0]) if len(groups.shape) == 1 else None
    if len(groups.shape) != 1 or (dim is not None and expected is not None and dim != expected):
        raise ValueError(
            f"Argument `{name}` must have shape [{expected_desc}] = ({expected},). "
            f"Received: {name}.shape={shape_str(groups.shape)}"
        )
    return groups


def _prepare(similarity, query_groups, candidate_groups, candidate_mask):
    similarity = ops.convert_to_tensor(similarity)
    if not keras.backend.standardize_dtype(similarity.dtype).startswith(("float", "bfloat")):
        similarity = ops.cast(similarity, "float32")
    check_rank("similarity", similarity, 2)
    check_finite("similarity", similarity)
    q, c = static_dim(similarity.shape[0]), static_dim(similarity.shape[1])
    if query_groups is None and candidate_groups is None and None not in (q, c) and q != c:
        raise ValueError(
            "Argument `similarity` must be square (query i matches candidate i) when no "
            f"group ids are given. Received: similarity.shape={shape_str(similarity.shape)}"
        )
    query_groups = _check_groups("query_groups", query_groups, q, "queries")
    candidate_groups = _check_groups("candidate_groups", candidate_groups, c, "candidates")
    if candidate_mask is not None:
        candidate_mask = _check_groups("candidate_mask", candidate_mask, c, "candidates")
    return similarity, query_groups, candidate_groups, candidate_mask


def _ranks(similarity, query_groups, candidate_groups, candidate_mask):
    """1-based rank of each query's best correct candidate; C + 1 when it has none."""
    num_q, num_c = ops.shape(similarity)[0], ops.shape(similarity)[1]
    qg = ops.arange(num_q, dtype="int32") if query_groups is None else query_groups
    cg = ops.arange(num_c, dtype="int32") if candidate_groups is None else candidate_groups
    correct = ops.equal(ops.cast(qg, "int32")[:, None], ops.cast(cg, "int32")[None, :])
    valid = ops.ones_like(correct)
    if candidate_mask is not None:
        valid = ops.logical_and(valid, ops.cast(candidate_mask, "bool")[None, :])
    correct = ops.logical_and(correct, valid)
    best = ops.max(ops.where(correct, similarity, float("-inf")), axis=1, keepdims=True)
    # `>=`: a wrong candidate tied with the best correct one ranks ahead (pessimistic).
    ahead = ops.logical_and(ops.logical_and(ops.logical_not(correct), valid), similarity >= best)
    ranks = 1 + ops.sum(ops.cast(ahead, "int32"), axis=1)
    return ops.where(ops.any(correct, axis=1), ranks, ops.cast(num_c, "int32") + 1)


def _check_every_query_matched(ranks, similarity):
    arr = concrete_value(ranks)
    if arr is not None and arr.size and int(arr.max()) > similarity.shape[1]:
        row = int(np.argmax(arr))
        raise ValueError(
            "Argument `query_groups` must give every query at least one correct (unmasked) "
            f"candidate. Received: query {row} with none"
        )


def retrieval_ranks(similarity, query_groups=None, candidate_groups=None, candidate_mask=None):
    """1-based rank of each query's best-ranked correct candidate (ties pessimistic).

    Args:
        similarity: float tensor `[Q, C]`, the score of candidate j for query i
            (higher is better).
        query_groups: optional int tensor `[Q]`. Group id of each query; its correct
            candidates are those with the same id. Defaults to `arange(Q)`.
        candidate_groups: optional int tensor `[C]`. Defaults to `arange(C)`. With
            neither given, query i matches candidate i and `similarity` must be square.
        candidate_mask: optional bool tensor `[C]`: False for padding candidates,
            which are neither correct nor ranked ahead of anything.

    Returns:
        int32 tensor `[Q]`: 1 + the number of valid wrong candidates scoring at least
        as high as the best correct one.

    Example:

    ```python
    import numpy as np
    from keras_dlss.metrics import retrieval_ranks

    scores = np.array([[0.9, 0.1], [0.8, 0.3]], "float32")
    print(retrieval_ranks(scores))   # [1 2]: query 1's match is second
    ```

    References:
        Kiros et al. 2014, https://arxiv.org/abs/1411.2539
    """
    prepared = _prepare(similarity, query_groups, candidate_groups, candidate_mask)
    ranks = _ranks(*prepared)
    _check_every_query_matched(ranks, prepared[0])
    return ranks


def recall_at_k(
    similarity, k=(1, 5, 10), query_groups=None, candidate_groups=None, candidate_mask=None
):
    """Fraction of queries whose correct candidate ranks in the top `k` (Recall@K).

    For image-to-text retrieval pass `similarity[image, caption]` with
    `candidate_groups` = the image of each caption; for text-to-image pass its
    transpose with `query_groups` = the image of each caption.

    Args:
        similarity: float tensor `[Q, C]` (higher is better).
        k: int >= 1 or a tuple of them, each at most C. Defaults to `(1, 5, 10)`.
        query_groups: optional int `[Q]`, as for `retrieval_ranks`.
        candidate_groups: optional int `[C]`, as for `retrieval_ranks`.
        candidate_mask: optional bool `[C]`, as for `retrieval_ranks`.

    Returns:
        float32 scalar for an int `k`, else a `[len(k)]` tensor.

    Example:

    ```python
    import numpy as np
    from keras_dlss.metrics import recall_at_k

    scores = np.array([[0.9, 0.1, 0.0], [0.8, 0.3, 0.1], [0.5, 0.2, 0.1]], "float32")
    print(recall_at_k(scores, k=(1, 2)))   # [0.333 0.667]: ranks are 1, 2, 3
    ```

    References:
        Faghri et al. 2018, https://arxiv.org/abs/1707.05612
    """
    prepared = _prepare(similarity, query_groups, candidate_groups, candidate_mask)
    ks = _check_ks(k, static_dim(prepared[0].shape[1]))
    ranks = retrieval_ranks(*prepared)
    hits = ops.cast(ranks[:, None] <= ops.convert_to_tensor(ks, "int32")[None, :], "float32")
    recall = ops.mean(hits, axis=0)
    return recall[0] if isinstance(k, (int, np.integer)) else recall


def median_rank(similarity, query_groups=None, candidate_groups=None, candidate_mask=None):
    """Median over queries of the correct candidate's 1-based rank ("Med r"; 1 is best).

    Args:
        similarity: float tensor `[Q, C]` (higher is better).
        query_groups: optional int `[Q]`, as for `retrieval_ranks`.
        candidate_groups: optional int `[C]`, as for `retrieval_ranks`.
        candidate_mask: optional bool `[C]`, as for `retrieval_ranks`.

    Returns:
        float32 scalar; with an even number of queries, the mean of the two middle
        ranks (as `np.median`).

    Example:

    ```python
    import numpy as np
    from keras_dlss.metrics import median_rank

    scores = np.array([[0.9, 0.1, 0.0], [0.8, 0.3, 0.1], [0.5, 0.2, 0.1]], "float32")
    print(float(median_rank(scores)))   # 2.0
    ```

    References:
        Kiros et al. 2014, https://arxiv.org/abs/1411.2539
    """
    ranks = retrieval_ranks(similarity, query_groups, candidate_groups, candidate_mask)
    return ops.median(ops.cast(ranks, "float32"))


@keras.saving.register_keras_serializable(package="keras_dlss")
class RecallAtK(keras.metrics.Metric):
    """Recall@K of retrieval, accumulated over batches of queries.

    `update_state(queries, candidates, ...)` scores every candidate for every query
    of the batch (cosine or dot product of the embeddings, or a precomputed
    `[Q, C]` similarity passed as `queries`) and counts, per K, the queries whose
    correct candidate ranks in the top K among the batch's candidates. Directions:
    image-to-text is `update_state(image_embeddings, caption_embeddings,
    candidate_groups=image_of_caption)`; text-to-image is
    `update_state(caption_embeddings, image_embeddings, query_groups=image_of_caption)`.
    Ties are counted pessimistically (module docstring).

    Args:
        k: int >= 1 or a tuple of them. Defaults to `(1, 5, 10)`.
        similarity: `"cosine"`, `"dot"` or `"precomputed"`. Defaults to `"cosine"`.
        name: str. Prefix of the result keys. Defaults to `"recall_at"`.
        dtype: metric dtype. Defaults to `None`.

    Returns:
        `result()`: a float for an int `k`; else a dict `{f"{name}_{k}": recall}`.
        `sample_weight` (`[Q]`) weights queries (0 masks a padding query).

    Example:

    ```python
    import numpy as np
    from keras_dlss.metrics import RecallAtK

    metric = RecallAtK(k=(1, 2))
    images = np.eye(3, dtype="float32")
    captions = np.array([[1, 0, 0], [0, 0, 1], [0, 0, 1]], "float32")
    metric.update_state(images, captions)
    print({key: float(v) for key, v in metric.result().items()})   # R@1 1/3, R@2 2/3 (ties)
    ```

    References:
        Faghri et al. 2018, https://arxiv.org/abs/1707.05612
    """

    def __init__(self, k=(1, 5, 10), similarity="cosine", name="recall_at", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.ks = _check_ks(k)
        self.k = self.ks[0] if isinstance(k, (int, np.integer)) else self.ks
        self.similarity = check_one_of("similarity", similarity, SIMILARITIES)
        self.hits = self.add_variable((len(self.ks),), initializer="zeros", name="hits")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def _similarity(self, queries, candidates):
        queries = ops.convert_to_tensor(queries)
        if self.similarity == "precomputed":
            if candidates is not None:
                raise ValueError(
                    "Argument `candidates` must be None with similarity='precomputed' "
                    f"(`queries` is the [Q, C] similarity). Received: candidates of type "
                    f"{type(candidates).__name__}"
                )
            return queries
        if candidates is None:
            raise ValueError(
                f"Argument `candidates` is required with similarity={self.similarity!r}. "
                "Received: candidates=None"
            )
        candidates = ops.cast(ops.convert_to_tensor(candidates), queries.dtype)
        check_rank("queries", queries, 2)
        check_rank("candidates", candidates, 2)
        d_q, d_c = static_dim(queries.shape[1]), static_dim(candidates.shape[1])
        if None not in (d_q, d_c) and d_q != d_c:
            raise ValueError(
                f"Argument `candidates` must have the embedding size of `queries` ({d_q}). "
                f"Received: candidates.shape={shape_str(candidates.shape)}"
            )
        if self.similarity == "cosine":
            queries, candidates = ops.normalize(queries, -1), ops.normalize(candidates, -1)
        return ops.matmul(queries, ops.transpose(candidates))

    def update_state(
        self,
        queries,
        candidates=None,
        sample_weight=None,
        query_groups=None,
        candidate_groups=None,
        candidate_mask=None,
    ):
        similarity = self._similarity(queries, candidates)
        prepared = _prepare(similarity, query_groups, candidate_groups, candidate_mask)
        _check_ks(self.ks, static_dim(prepared[0].shape[1]))
        ranks = retrieval_ranks(*prepared)
        hits = ops.cast(
            ranks[:, None] <= ops.convert_to_tensor(self.ks, "int32")[None, :], "float32"
        )
        weights = ops.ones_like(hits[:, 0])
        if sample_weight is not None:
            sample_weight = ops.convert_to_tensor(sample_weight)
            _check_groups("sample_weight", sample_weight, static_dim(hits.shape[0]), "queries")
            weights = ops.cast(sample_weight, "float32")
        self.hits.assign_add(ops.cast(ops.sum(hits * weights[:, None], axis=0), self.hits.dtype))
        self.count.assign_add(ops.cast(ops.sum(weights), self.count.dtype))

    def result(self):
        recall = ops.divide_no_nan(self.hits, self.count)
        if isinstance(self.k, int):
            return recall[0]
        return {f"{self.name}_{k}": recall[i] for i, k in enumerate(self.ks)}

    def reset_state(self):
        self.hits.assign(ops.zeros_like(self.hits))
        self.count.assign(0.0)

    def get_config(self):
        return {**super().get_config(), "k": self.k, "similarity": self.similarity}
