"""Malformed calls of the generative-model metrics and the gradient penalties."""

import numpy as np

from keras_dlss.metrics import (
    FrechetDistance,
    birthday_paradox_support,
    feature_statistics,
    fid,
    frechet_distance,
    mode_coverage,
)
from keras_dlss.ops import r1_penalty, wgan_gradient_penalty


def _critic(x):
    return x[:, :1]


X = np.zeros((4, 3), "float32")

CASES = [
    (
        "frechet_distance",
        "sigma1",
        lambda: frechet_distance(np.zeros(3), np.eye(2), np.zeros(3), np.eye(3)),
    ),
    (
        "frechet_distance",
        "mu2",
        lambda: frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2)),
    ),
    ("feature_statistics", "features", lambda: feature_statistics(np.zeros((1, 3)))),
    ("fid", "fake", lambda: fid(np.zeros((5, 3)), np.zeros((0, 3)))),
    ("FrechetDistance", "real_features", lambda: FrechetDistance(3).update_state(X[:, :2], X)),
    ("FrechetDistance", "dim", lambda: FrechetDistance(0)),
    ("mode_coverage", "labels_or_probs", lambda: mode_coverage(np.array([0, 12]), 10)),
    ("mode_coverage", "labels_or_probs", lambda: mode_coverage(np.zeros((3, 4)), 10)),
    ("mode_coverage", "labels_or_probs", lambda: mode_coverage(np.zeros(0, "int32"), 10)),
    ("mode_coverage", "num_classes", lambda: mode_coverage(np.array([0]), 0)),
    ("birthday_paradox_support", "threshold", lambda: birthday_paradox_support(X, threshold=0.0)),
    (
        "birthday_paradox_support",
        "batch_size",
        lambda: birthday_paradox_support(X, 1.0, batch_size=9),
    ),
    ("birthday_paradox_support", "samples", lambda: birthday_paradox_support(X[:1], 1.0)),
    (
        "birthday_paradox_support",
        "distance",
        lambda: birthday_paradox_support(X, 1.0, distance="l7"),
    ),
    ("r1_penalty", "real", lambda: r1_penalty(_critic, np.zeros(3, "float32"))),
    ("r1_penalty", "real", lambda: r1_penalty(_critic, np.zeros((2, 3), "int32"))),
    ("wgan_gradient_penalty", "fake", lambda: wgan_gradient_penalty(_critic, X, X[:2])),
]
