"""Recall@K and median rank against a NumPy brute-force ranking (sorted lists)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_dlss.metrics import RecallAtK, median_rank, recall_at_k, retrieval_ranks

RNG = np.random.default_rng(0)
# 6 images x 12 captions (2 per image); scores rounded to 0.1 so ties occur.
SIM = np.round(RNG.uniform(size=(6, 12)), 1).astype("float32")
CAPTION_IMAGE = np.repeat(np.arange(6), 2)


def _brute_ranks(sim, query_groups, candidate_groups):
    """Sort each row best first, wrong candidates ahead of correct ones on ties."""
    ranks = []
    for i, row in enumerate(sim):
        correct = candidate_groups == query_groups[i]
        order = sorted(range(len(row)), key=lambda j: (-row[j], bool(correct[j])))
        ranks.append(1 + next(p for p, j in enumerate(order) if correct[j]))
    return np.array(ranks)


def test_ranks_recall_and_median_match_brute_force_in_both_directions():
    image_to_text = _brute_ranks(SIM, np.arange(6), CAPTION_IMAGE)
    text_to_image = _brute_ranks(SIM.T, CAPTION_IMAGE, np.arange(6))
    np.testing.assert_array_equal(
        retrieval_ranks(SIM, candidate_groups=CAPTION_IMAGE), image_to_text
    )
    np.testing.assert_array_equal(retrieval_ranks(SIM.T, query_groups=CAPTION_IMAGE), text_to_image)
    got = recall_at_k(SIM.T, k=(1, 2, 5), query_groups=CAPTION_IMAGE)
    expected = [(text_to_image <= k).mean() for k in (1, 2, 5)]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(got), expected, atol=1e-6)
    assert float(recall_at_k(SIM, 3, candidate_groups=CAPTION_IMAGE)) == pytest.approx(
        (image_to_text <= 3).mean()
    )
    assert float(median_rank(SIM.T, query_groups=CAPTION_IMAGE)) == np.median(text_to_image)
    square = SIM[:, :6]
    np.testing.assert_array_equal(
        retrieval_ranks(square), _brute_ranks(square, np.arange(6), np.arange(6))
    )


def test_ties_are_pessimistic():
    np.testing.assert_array_equal(retrieval_ranks(np.ones((4, 4))), [4, 4, 4, 4])
    assert float(recall_at_k(np.ones((4, 4)), 3)) == 0.0


def test_masked_candidates_have_no_effect():
    padded = np.concatenate([SIM, np.full((6, 3), 5.0, "float32")], axis=1)
    groups = np.concatenate([CAPTION_IMAGE, [0, 1, 2]])
    mask = np.arange(15) < 12
    reference = retrieval_ranks(SIM, candidate_groups=CAPTION_IMAGE)
    np.testing.assert_array_equal(
        retrieval_ranks(padded, candidate_groups=groups, candidate_mask=mask), reference
    )
    assert not np.array_equal(retrieval_ranks(padded, candidate_groups=groups), reference)


def test_metric_accumulates_weights_queries_and_resets():
    queries, candidates = RNG.normal(size=(8, 4)), RNG.normal(size=(8, 4))
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    ranks = _brute_ranks(unit(queries) @ unit(candidates).T, np.arange(8), np.arange(8))
    metric = RecallAtK(k=(1, 3))
    metric.update_state(queries, candidates, candidate_groups=np.arange(8))
    # A second batch of 4 queries whose weights mask two of them.
    sim2 = SIM[:4, :4]
    ranks2 = _brute_ranks(sim2, np.arange(4), np.arange(4))
    precomputed = RecallAtK(k=(1, 3), similarity="precomputed")
    weights = np.array([1.0, 0.0, 1.0, 0.0])
    precomputed.update_state(sim2, sample_weight=weights)
    for k in (1, 3):
        assert float(metric.result()[f"recall_at_{k}"]) == pytest.approx((ranks <= k).mean())
        expected = ((ranks2 <= k) * weights).sum() / weights.sum()
        assert float(precomputed.result()[f"recall_at_{k}"]) == pytest.approx(expected)
    precomputed.update_state(SIM[:4, :4])  # state accumulates: 2 + 4 weighted queries
    expected = ((ranks2 <= 1) * weights).sum() + (ranks2 <= 1).sum()
    assert float(precomputed.result()["recall_at_1"]) == pytest.approx(expected / 6)
    metric.reset_state()
    assert float(metric.result()["recall_at_1"]) == 0.0
    clone = RecallAtK.from_config(RecallAtK(5, "dot", name="r").get_config())
    assert (clone.k, clone.similarity, clone.name) == (5, "dot", "r")
    clone.update_state(np.eye(5), np.eye(5))
    assert float(clone.result()) == 1.0


def test_xla_equals_eager():
    groups = tf.constant(CAPTION_IMAGE)

    @tf.function(jit_compile=True)
    def compiled(sim):
        return recall_at_k(sim, (1, 5), query_groups=groups), median_rank(sim, groups)

    metric = RecallAtK((1, 5), similarity="precomputed")
    update = tf.function(
        lambda sim: metric.update_state(sim, query_groups=groups), jit_compile=True
    )
    update(tf.constant(SIM.T))
    recall, med = compiled(tf.constant(SIM.T))
    eager = recall_at_k(SIM.T, (1, 5), query_groups=CAPTION_IMAGE)
    np.testing.assert_allclose(recall.numpy(), keras.ops.convert_to_numpy(eager))
    assert float(med) == float(median_rank(SIM.T, CAPTION_IMAGE))
    np.testing.assert_allclose(
        [float(v) for v in metric.result().values()], keras.ops.convert_to_numpy(eager)
    )


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="`k`.*Received: k=0"):
        recall_at_k(SIM[:, :6], 0)
    with pytest.raises(ValueError, match="`k`.*at most the number of candidates \\(6\\)"):
        recall_at_k(SIM[:, :6], (1, 10))
    with pytest.raises(ValueError, match="`similarity`.*square.*Received: similarity.shape"):
        recall_at_k(SIM, 1)
    with pytest.raises(ValueError, match="`candidate_groups`.*Received: candidate_groups.shape"):
        recall_at_k(SIM, 1, candidate_groups=CAPTION_IMAGE[:5])
    with pytest.raises(ValueError, match="`query_groups`.*Received: query 0"):
        retrieval_ranks(SIM, query_groups=np.full(6, 99), candidate_groups=CAPTION_IMAGE)
    with pytest.raises(ValueError, match="`candidates`.*Received: candidates.shape=\\(3, 5\\)"):
        RecallAtK().update_state(np.zeros((3, 4)), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="`similarity`.*Received"):
        RecallAtK(similarity="l2")
