"""Panoptic quality, PQ = SQ × RQ (Kirillov, He, Girshick, Rother & Dollár, CVPR 2019).

A panoptic segmentation gives every pixel a class and, for countable "things",
an instance: a set of non-overlapping segments. A predicted and a true segment
of the same class match when their IoU exceeds 0.5, which makes the matching
unique (two segments cannot both overlap a third by more than half). Per class,

    PQ = Σ_{TP} IoU / (|TP| + ½|FP| + ½|FN|)
       = (Σ_{TP} IoU / |TP|) × (|TP| / (|TP| + ½|FP| + ½|FN|)) = SQ × RQ,

and the reported PQ, SQ and RQ are each averaged over the classes that occur.

Why NumPy and not a `keras.metrics.Metric`: the number of segments per image is
data dependent, so matching has dynamic shapes; like the reference
implementation (cocodataset/panopticapi) this runs after the network. It keeps
the `update_state` / `result` / `reset_state` protocol of a metric.
"""

import numpy as np

from keras_dlss._validation import check_positive_int, shape_str

__all__ = ["PanopticQuality", "panoptic_quality"]


def _as_maps(name, y):
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer) or y.ndim not in (2, 3):
        raise ValueError(
            f"Argument `{name}` must be int [height, width] or [batch, height, width] panoptic "
            f"ids (class * label_divisor + instance). Received: {name}.shape="
            f"{shape_str(y.shape)}, {name}.dtype={y.dtype}"
        )
    return y[None] if y.ndim == 2 else y


class PanopticQuality:
    """Accumulates panoptic quality over images (Kirillov et al. 2019).

    Maps hold one int per pixel, `class_id * label_divisor + instance_id`
    (the Cityscapes / COCO panoptic convention); a "stuff" class uses one
    instance id for its whole region. Pixels of class `ignore_class` in the
    truth are void: they count in neither IoU, and a predicted segment that is
    more than half void is not a false positive.

    Args:
        num_classes: int >= 1. Classes `0..num_classes-1`.
        label_divisor: int. Defaults to `1000`.
        ignore_class: optional class id of void pixels. Defaults to `None`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.metrics import PanopticQuality

    truth = np.array([[1001, 1001, 1002, 1002]])   # two instances of class 1
    pred = np.array([[1001, 1001, 1001, 1002]])    # second one mostly missed
    pq = PanopticQuality(num_classes=2)
    pq.update_state(truth, pred)
    result = pq.result()      # one match with IoU 2/3, one FP, one FN
    assert abs(result["pq"] - (2 / 3) / 2) < 1e-9
    ```

    References:
        Kirillov et al. 2019, https://arxiv.org/abs/1801.00868.
    """

    def __init__(self, num_classes, label_divisor=1000, ignore_class=None):
        self.num_classes = check_positive_int("num_classes", num_classes)
        self.label_divisor = check_positive_int("label_divisor", label_divisor)
        self.ignore_class = ignore_class
        self.reset_state()

    def reset_state(self):
        self.iou_sum = np.zeros(self.num_classes)
        self.tp = np.zeros(self.num_classes, "int64")
        self.fp = np.zeros(self.num_classes, "int64")
        self.fn = np.zeros(self.num_classes, "int64")

    def update_state(self, y_true, y_pred):
        truth, pred = _as_maps("y_true", y_true), _as_maps("y_pred", y_pred)
        if truth.shape != pred.shape:
            raise ValueError(
                f"Argument `y_pred` must have `y_true`'s shape {shape_str(truth.shape)}. "
                f"Received: y_pred.shape={shape_str(pred.shape)}"
            )
        for t, p in zip(truth, pred):
            self._update_image(t.ravel(), p.ravel())

    def _class(self, ids):
        classes = ids // self.label_divisor
        bad = (classes < 0) | (classes >= self.num_classes)
        if bad.any():
            raise ValueError(
                f"Argument `y_true`/`y_pred` holds class {int(classes[bad][0])} outside "
                f"[0, {self.num_classes}). Received: panoptic id {int(ids[bad][0])}"
            )
        return classes

    def _update_image(self, truth, pred):
        void = (
            np.zeros(truth.shape, bool)
            if self.ignore_class is None
            else truth // self.label_divisor == self.ignore_class
        )
        gt_ids, gt_area = np.unique(truth[~void], return_counts=True)
        pr_ids, pr_area = np.unique(pred, return_counts=True)
        gt_class, pr_class = self._class(gt_ids), self._class(pr_ids)
        pairs, inter = np.unique(np.stack([truth[~void], pred[~void]]), axis=1, return_counts=True)
        void_overlap = dict(zip(*np.unique(pred[void], return_counts=True)))
        gt_index = {g: i for i, g in enumerate(gt_ids)}
        pr_index = {p: i for i, p in enumerate(pr_ids)}
        gt_matched = np.zeros(len(gt_ids), bool)
        pr_matched = np.zeros(len(pr_ids), bool)
        for (g, p), n in zip(pairs.T, inter):
            gi, pi = gt_index[g], pr_index[p]
            if gt_class[gi] != pr_class[pi]:
                continue
            # Void pixels of the prediction are left out of the union (panopticapi).
            union = gt_area[gi] + pr_area[pi] - n - void_overlap.get(p, 0)
            iou = n / union
            if iou > 0.5:
                c = gt_class[gi]
                self.tp[c] += 1
                self.iou_sum[c] += iou
                gt_matched[gi] = pr_matched[pi] = True
        for gi in np.flatnonzero(~gt_matched):
            self.fn[gt_class[gi]] += 1
        for pi in np.flatnonzero(~pr_matched):
            if void_overlap.get(pr_ids[pi], 0) > 0.5 * pr_area[pi]:
                continue
            if self.ignore_class is not None and pr_class[pi] == self.ignore_class:
                continue
            self.fp[pr_class[pi]] += 1

    def result(self):
        """`{"pq", "sq", "rq"}` averaged over classes that occur, and `"per_class"`."""
        denom = self.tp + 0.5 * self.fp + 0.5 * self.fn
        present = denom > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            pq = np.where(present, self.iou_sum / denom, np.nan)
            sq = np.where(self.tp > 0, self.iou_sum / self.tp, 0.0)
            rq = np.where(present, self.tp / denom, np.nan)
        per_class = {
            int(c): {"pq": float(pq[c]), "sq": float(sq[c]), "rq": float(rq[c])}
            for c in np.flatnonzero(present)
        }
        if not present.any():
            return {"pq": 0.0, "sq": 0.0, "rq": 0.0, "per_class": {}}
        return {
            "pq": float(np.mean(pq[present])),
            "sq": float(np.mean(sq[present])),
            "rq": float(np.mean(rq[present])),
            "per_class": per_class,
        }

    def get_config(self):
        return {
            "num_classes": self.num_classes,
            "label_divisor": self.label_divisor,
            "ignore_class": self.ignore_class,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def panoptic_quality(y_true, y_pred, num_classes, label_divisor=1000, ignore_class=None):
    """PQ, SQ and RQ of one batch of panoptic maps (see `PanopticQuality`).

    Example:

    ```python
    import numpy as np
    from keras_dlss.metrics import panoptic_quality

    maps = np.array([[0, 0, 1001, 1001]])
    assert panoptic_quality(maps, maps, num_classes=2)["pq"] == 1.0
    ```
    """
    metric = PanopticQuality(num_classes, label_divisor, ignore_class)
    metric.update_state(y_true, y_pred)
    return metric.result()
