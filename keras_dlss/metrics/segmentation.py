"""Semantic segmentation scores: a per-class IoU report and the boundary F-score.

`per_class_iou` accumulates Keras's own `keras.metrics.MeanIoU` confusion matrix
(nothing rebuilt) and reports what `MeanIoU.result()` hides: the IoU of each
class, which tells a segmentation that misses the small classes from one that
is uniformly mediocre. `boundary_f_score` measures what mean IoU barely sees:
how well predicted label boundaries align with the true ones (Csurka et al.,
"What is a good evaluation measure for semantic segmentation?", BMVC 2013),
the quantity a dense CRF is meant to improve.
"""

import dataclasses

import keras
import numpy as np

from keras_dlss._validation import check_positive_int, shape_str

__all__ = ["IoUReport", "boundary_f_score", "per_class_iou"]


@dataclasses.dataclass
class IoUReport:
    """Per-class IoU (NaN for a class absent from both maps), their mean, the confusion matrix."""

    iou: np.ndarray
    mean_iou: float
    confusion: np.ndarray
    class_names: list

    def as_dict(self):
        per_class = {
            n: (None if np.isnan(v) else float(v)) for n, v in zip(self.class_names, self.iou)
        }
        return {"mean_iou": self.mean_iou, "per_class_iou": per_class}

    def __str__(self):
        width = max(len(str(n)) for n in self.class_names + ["class"])
        rows = [f"{'class':<{width}}  IoU"]
        for name, value in zip(self.class_names, self.iou):
            rows.append(f"{name!s:<{width}}  " + ("  -" if np.isnan(value) else f"{value:.3f}"))
        rows.append(f"{'mean':<{width}}  {self.mean_iou:.3f}")
        return "\n".join(rows)


def _labels(name, y, num_classes):
    y = np.asarray(keras.ops.convert_to_numpy(y))
    if np.issubdtype(y.dtype, np.floating) and y.ndim >= 1 and y.shape[-1] == num_classes:
        return y.argmax(-1)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"Argument `{name}` must hold integer labels, or scores with {num_classes} classes "
            f"on the last axis. Received: {name}.shape={shape_str(y.shape)}, {name}.dtype={y.dtype}"
        )
    return y


def per_class_iou(y_true, y_pred, num_classes, class_names=None, ignore_class=None):
    """IoU of each class and their mean, from `keras.metrics.MeanIoU`'s confusion matrix.

    Args:
        y_true: int labels of any shape (e.g. `[batch, height, width]`).
        y_pred: int labels of the same shape, or scores/logits with an extra
            last axis of `num_classes` (the argmax is taken).
        num_classes: int >= 2.
        class_names: optional list of `num_classes` names. Defaults to the ids.
        ignore_class: optional label id excluded from the scores (void pixels).

    Returns:
        An `IoUReport`; `str(report)` is a table, `report.as_dict()` JSON-ready.
        `report.mean_iou` equals `keras.metrics.MeanIoU(...).result()`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.metrics import per_class_iou

    truth = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 1, 1, 1]])
    report = per_class_iou(truth, pred, 2, class_names=["background", "shape"])
    np.testing.assert_allclose(report.iou, [0.5, 2 / 3])
    print(report)
    ```
    """
    num_classes = check_positive_int("num_classes", num_classes, minimum=2)
    truth = _labels("y_true", y_true, num_classes)
    pred = _labels("y_pred", y_pred, num_classes)
    if truth.shape != pred.shape:
        raise ValueError(
            f"Argument `y_pred` must have the labels' shape {shape_str(truth.shape)}. "
            f"Received: y_pred labels of shape {shape_str(pred.shape)}"
        )
    names = list(class_names) if class_names is not None else list(range(num_classes))
    if len(names) != num_classes:
        raise ValueError(
            f"Argument `class_names` must hold {num_classes} names. Received: class_names={names!r}"
        )
    metric = keras.metrics.MeanIoU(num_classes, ignore_class=ignore_class)
    metric.update_state(truth.reshape(-1), pred.reshape(-1))
    confusion = np.asarray(keras.ops.convert_to_numpy(metric.total_cm), "float64")
    tp = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    return IoUReport(iou, float(metric.result()), confusion, names)


def _boundaries(labels):
    """Pixels with a 4-neighbour of another label: bool, same shape ([..., H, W])."""
    edge = np.zeros(labels.shape, bool)
    dy = labels[..., 1:, :] != labels[..., :-1, :]
    dx = labels[..., :, 1:] != labels[..., :, :-1]
    edge[..., 1:, :] |= dy
    edge[..., :-1, :] |= dy
    edge[..., :, 1:] |= dx
    edge[..., :, :-1] |= dx
    return edge


def _dilate(mask, radius):
    """Chessboard dilation of a [..., H, W] mask by `radius` pixels."""
    out = mask.copy()
    for _ in range(radius):
        grown = out.copy()
        grown[..., 1:, :] |= out[..., :-1, :]
        grown[..., :-1, :] |= out[..., 1:, :]
        grown[..., :, 1:] |= out[..., :, :-1]
        grown[..., :, :-1] |= out[..., :, 1:]
        grown[..., 1:, 1:] |= out[..., :-1, :-1]
        grown[..., :-1, :-1] |= out[..., 1:, 1:]
        grown[..., 1:, :-1] |= out[..., :-1, 1:]
        grown[..., :-1, 1:] |= out[..., 1:, :-1]
        out = grown
    return out


def boundary_f_score(y_true, y_pred, tolerance=1):
    """F-score of label boundaries matched within `tolerance` pixels (Csurka et al. 2013).

    Boundary pixels are those with a 4-neighbour of another label. Precision is
    the fraction of predicted boundary pixels within `tolerance` (chessboard
    distance) of a true boundary pixel; recall the converse. Counts are summed
    over the batch before the ratio.

    Args:
        y_true: int [height, width] or [batch, height, width] labels.
        y_pred: int labels of the same shape.
        tolerance: int >= 0. Matching distance in pixels. Defaults to `1`.

    Returns:
        float in [0, 1] (1.0 when neither map has a boundary).

    Example:

    ```python
    import numpy as np
    from keras_dlss.metrics import boundary_f_score

    truth = np.zeros((8, 8), "int32"); truth[:, 4:] = 1
    shifted = np.zeros((8, 8), "int32"); shifted[:, 5:] = 1
    assert boundary_f_score(truth, shifted, tolerance=1) == 1.0
    assert boundary_f_score(truth, shifted, tolerance=0) < 1.0
    ```
    """
    truth = np.asarray(keras.ops.convert_to_numpy(y_true))
    pred = np.asarray(keras.ops.convert_to_numpy(y_pred))
    if truth.ndim not in (2, 3):
        raise ValueError(
            "Argument `y_true` must be [height, width] or [batch, height, width] labels. "
            f"Received: y_true.shape={shape_str(truth.shape)}"
        )
    if pred.shape != truth.shape:
        raise ValueError(
            f"Argument `y_pred` must have `y_true`'s shape {shape_str(truth.shape)}. "
            f"Received: y_pred.shape={shape_str(pred.shape)}"
        )
    tolerance = check_positive_int("tolerance", tolerance, minimum=0)
    bt, bp = _boundaries(truth), _boundaries(pred)
    if not bt.any() and not bp.any():
        return 1.0
    precision = (bp & _dilate(bt, tolerance)).sum() / max(bp.sum(), 1)
    recall = (bt & _dilate(bp, tolerance)).sum() / max(bt.sum(), 1)
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))
