"""Malformed calls of the retrieval metrics (Recall@K, median rank)."""

import numpy as np

from keras_dlss.metrics import RecallAtK, median_rank, recall_at_k, retrieval_ranks

SQUARE, WIDE = np.zeros((3, 3), "float32"), np.zeros((2, 4), "float32")

CASES = [
    ("retrieval_ranks", "similarity", lambda: retrieval_ranks(np.zeros(3))),
    ("retrieval_ranks", "similarity", lambda: retrieval_ranks(WIDE)),
    ("retrieval_ranks", "candidate_groups", lambda: retrieval_ranks(WIDE, None, np.zeros(3))),
    ("retrieval_ranks", "candidate_mask", lambda: retrieval_ranks(SQUARE, candidate_mask=[1])),
    ("recall_at_k", "k", lambda: recall_at_k(SQUARE, 0)),
    ("recall_at_k", "k", lambda: recall_at_k(SQUARE, (1, 4))),
    ("recall_at_k", "query_groups", lambda: recall_at_k(WIDE, 1, np.zeros((2, 1)))),
    ("median_rank", "similarity", lambda: median_rank(np.full((2, 2), np.nan))),
    ("RecallAtK", "k", lambda: RecallAtK(k=(1, -5))),
    ("RecallAtK", "k", lambda: RecallAtK(k=5).update_state(SQUARE, SQUARE)),
    ("RecallAtK", "candidates", lambda: RecallAtK().update_state(SQUARE, np.zeros((3, 2)))),
    (
        "RecallAtK",
        "sample_weight",
        lambda: RecallAtK(1).update_state(SQUARE, SQUARE, sample_weight=np.ones(2)),
    ),
]
