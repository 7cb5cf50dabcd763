"""Malformed calls of the robustness metrics: each must raise a ValueError naming the argument."""

import keras
import numpy as np

from keras_dlss.metrics import RobustAccuracy, noise_stability


def _model():
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])


def _update_with_labels_of_wrong_length():
    RobustAccuracy(_model(), eps=0.1, attack="fgsm").update_state(
        np.zeros((4, 3), "float32"), np.zeros((3,), "int32")
    )


CASES = [
    ("RobustAccuracy", "eps", lambda: RobustAccuracy(_model(), eps=-0.5)),
    ("RobustAccuracy", "attack", lambda: RobustAccuracy(_model(), eps=0.1, attack="deepfool")),
    ("RobustAccuracy", "y", _update_with_labels_of_wrong_length),
]

CASES += [
    (
        "noise_stability",
        "noise_scale",
        lambda: noise_stability(_model(), np.ones((2, 3), "float32"), noise_scale=0.0),
    ),
    ("noise_stability", "x", lambda: noise_stability(_model(), np.ones((3,), "float32"))),
]
