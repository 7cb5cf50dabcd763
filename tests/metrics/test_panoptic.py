"""Panoptic quality against hand-computed cases; the per-class IoU report; boundary F-score."""

import keras
import numpy as np
import pytest

from keras_dlss.metrics import (
    PanopticQuality,
    boundary_f_score,
    panoptic_quality,
    per_class_iou,
)


def test_perfect_prediction_has_pq_one():
    maps = np.array([[0, 0, 1001, 1001], [0, 2001, 2001, 1002]])
    result = panoptic_quality(maps, maps, num_classes=3)
    assert result == {
        "pq": 1.0,
        "sq": 1.0,
        "rq": 1.0,
        "per_class": {c: {"pq": 1.0, "sq": 1.0, "rq": 1.0} for c in (0, 1, 2)},
    }


def test_hand_computed_match_false_positive_and_false_negative():
    # Class 1: truth has instances A (4 px) and B (2 px); the prediction covers A
    # with 3 of its pixels plus 1 of B's (IoU 3/5 > 0.5: a match), and B's other
    # pixel alone (IoU 1/2, not > 0.5): one TP, one FP, one FN.
    truth = np.array([[1001, 1001, 1001, 1001, 1002, 1002]])
    pred = np.array([[1001, 1001, 1001, 0, 1001, 1002]])
    # Class 0 (stuff): truth has none; the predicted pixel is a false positive.
    result = panoptic_quality(truth, pred, num_classes=2)
    iou = 3 / 5
    assert result["per_class"][1]["pq"] == pytest.approx(iou / (1 + 0.5 + 0.5))
    assert result["per_class"][1]["sq"] == pytest.approx(iou)
    assert result["per_class"][1]["rq"] == pytest.approx(0.5)
    assert result["per_class"][0] == {"pq": 0.0, "sq": 0.0, "rq": 0.0}
    assert result["pq"] == pytest.approx((iou / 2 + 0.0) / 2)
    for c in result["per_class"].values():  # PQ = SQ x RQ for each class
        assert c["pq"] == pytest.approx(c["sq"] * c["rq"])


def test_iou_of_exactly_one_half_does_not_match():
    truth = np.array([[1001, 1001, 0, 0]])
    pred = np.array([[1001, 0, 0, 0]])  # IoU 1/2
    result = panoptic_quality(truth, pred, num_classes=2)
    assert result["per_class"][1] == {"pq": 0.0, "sq": 0.0, "rq": 0.0}


def test_class_mismatch_never_matches():
    truth = np.array([[1001, 1001]])
    pred = np.array([[2001, 2001]])
    result = panoptic_quality(truth, pred, num_classes=3)
    assert result["pq"] == 0.0 and set(result["per_class"]) == {1, 2}


def test_void_pixels_are_left_out():
    # Class 9 is void in the truth: the predicted segment's void pixels leave the union,
    # and a prediction lying mostly on void is not a false positive.
    truth = np.array([[1001, 1001, 9000, 9000, 9000, 0]])
    pred = np.array([[1001, 1001, 1001, 2001, 2001, 0]])
    result = panoptic_quality(truth, pred, num_classes=10, ignore_class=9)
    assert result["per_class"][1] == {"pq": 1.0, "sq": 1.0, "rq": 1.0}
    assert 2 not in result["per_class"]


def test_accumulates_over_batches_and_resets():
    metric = PanopticQuality(num_classes=2)
    a = np.array([[1001, 1001, 0, 0]])
    metric.update_state(a, a)
    metric.update_state(a, np.zeros_like(a))  # class-1 FN, class-0 segment IoU 1/2 -> FP+FN
    per_class = metric.result()["per_class"]
    assert per_class[1]["rq"] == pytest.approx(1 / (1 + 0.5))
    metric.reset_state()
    assert metric.result()["pq"] == 0.0
    assert PanopticQuality.from_config(metric.get_config()).num_classes == 2


def test_per_class_iou_matches_keras_mean_iou_and_a_hand_count():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, (3, 8, 8))
    logits = rng.normal(size=(3, 8, 8, 4)).astype("float32")
    report = per_class_iou(truth, logits, 4, class_names=["bg", "a", "b", "c"])
    pred = logits.argmax(-1)
    for c in range(4):
        inter = np.sum((truth == c) & (pred == c))
        union = np.sum((truth == c) | (pred == c))
        assert report.iou[c] == pytest.approx(inter / union)
    keras_miou = keras.metrics.MeanIoU(4)
    keras_miou.update_state(truth.ravel(), pred.ravel())
    assert report.mean_iou == pytest.approx(float(keras_miou.result()))
    assert "mean" in str(report) and report.as_dict()["per_class_iou"]["a"] == report.iou[1]


def test_absent_class_is_nan_and_left_out_of_the_mean():
    report = per_class_iou(np.array([0, 0, 1]), np.array([0, 0, 1]), 3)
    assert np.isnan(report.iou[2]) and report.mean_iou == pytest.approx(1.0)
    assert report.as_dict()["per_class_iou"][2] is None


def test_boundary_f_score_hand_cases():
    truth = np.zeros((2, 8, 8), "int32")
    truth[:, :, 4:] = 1
    assert boundary_f_score(truth, truth, tolerance=0) == 1.0
    shifted = np.roll(truth, 2, axis=2)
    shifted[:, :, :2] = 0
    assert boundary_f_score(truth, shifted, tolerance=2) == 1.0
    # Boundary pixels sit on both sides of an edge: columns 3|4 true, 5|6 predicted.
    assert boundary_f_score(truth, shifted, tolerance=1) == pytest.approx(0.5)
    assert boundary_f_score(truth, shifted, tolerance=0) == 0.0
    assert boundary_f_score(np.zeros((4, 4), int), np.zeros((4, 4), int)) == 1.0
    assert boundary_f_score(truth, np.zeros_like(truth)) == 0.0


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: panoptic_quality(np.zeros((2, 2)), np.zeros((2, 2), int), 2), "y_true"),
        (lambda: panoptic_quality(np.zeros((2, 2), int), np.zeros((2, 3), int), 2), "y_pred"),
        (lambda: per_class_iou(np.zeros(4, int), np.zeros(5, int), 2), "y_pred"),
        (lambda: boundary_f_score(np.zeros(4, int), np.zeros(4, int)), "y_true"),
    ],
)
def test_bad_inputs_raise(call, argument):
    with pytest.raises(ValueError, match=rf"`{argument}`.*Received"):
        call()
