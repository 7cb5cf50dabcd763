"""Malformed calls of the segmentation layers, ops, decoders and metrics (issue #13).

`CASES` is a list of `(public_name, argument_name, thunk)`; `tests/test_malformed_inputs.py`
asserts each thunk raises a ValueError naming the argument and what it received.
"""

import numpy as np

from keras_dlss.decoding import cluster_embeddings
from keras_dlss.layers import DenseCRF
from keras_dlss.metrics import PanopticQuality, boundary_f_score, panoptic_quality, per_class_iou
from keras_dlss.ops import dense_crf_mean_field

UNARY = np.zeros((2, 6, 6, 3), "float32")
IMAGE = np.zeros((2, 6, 6, 3), "float32")
LABELS = np.zeros((2, 4, 4), "int32")

EXEMPT = {"IoUReport": "a result container returned by per_class_iou; it takes no user tensors"}

CASES = [
    ("DenseCRF", "image", lambda: DenseCRF()([UNARY, np.zeros((2, 5, 6, 3), "float32")])),
    ("DenseCRF", "unary", lambda: DenseCRF()([np.zeros((2, 6, 6), "float32"), IMAGE])),
    ("DenseCRF", "iterations", lambda: DenseCRF(iterations=0)),
    ("DenseCRF", "compatibility", lambda: DenseCRF(compatibility="full")),
    ("dense_crf_mean_field", "image", lambda: dense_crf_mean_field(UNARY, IMAGE[:1])),
    ("dense_crf_mean_field", "image", lambda: dense_crf_mean_field(UNARY, IMAGE[:, :, :5])),
    ("dense_crf_mean_field", "unary", lambda: dense_crf_mean_field(UNARY.astype("int32"), IMAGE)),
    (
        "dense_crf_mean_field",
        "compatibility",
        lambda: dense_crf_mean_field(UNARY, IMAGE, compatibility=np.eye(2, dtype="float32")),
    ),
    ("cluster_embeddings", "embeddings", lambda: cluster_embeddings(np.zeros((4, 4)))),
    (
        "cluster_embeddings",
        "bandwidth",
        lambda: cluster_embeddings(np.zeros((2, 2, 2)), bandwidth=0),
    ),
    ("PanopticQuality", "num_classes", lambda: PanopticQuality(0)),
    ("PanopticQuality", "y_true", lambda: PanopticQuality(2).update_state(np.zeros(4), LABELS)),
    ("panoptic_quality", "y_pred", lambda: panoptic_quality(LABELS, LABELS[:1, :3], 2)),
    ("boundary_f_score", "y_pred", lambda: boundary_f_score(LABELS, LABELS[:, :3])),
    ("boundary_f_score", "tolerance", lambda: boundary_f_score(LABELS, LABELS, tolerance=-1)),
    ("per_class_iou", "y_pred", lambda: per_class_iou(LABELS, LABELS[:1], 2)),
    ("per_class_iou", "num_classes", lambda: per_class_iou(LABELS, LABELS, 1)),
    (
        "per_class_iou",
        "y_true",
        lambda: per_class_iou(np.zeros((2, 4), "float32"), LABELS[:, 0], 3),
    ),
]
