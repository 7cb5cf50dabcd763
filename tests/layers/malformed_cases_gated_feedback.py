"""Malformed gated-feedback LSTM calls (issue #16): ValueError naming the argument."""

from keras_dlss.layers import GatedFeedbackLSTMCell

CASES = [
    ("GatedFeedbackLSTMCell", "units", lambda: GatedFeedbackLSTMCell(0)),
    ("GatedFeedbackLSTMCell", "num_layers", lambda: GatedFeedbackLSTMCell(2, num_layers=-1)),
    (
        "GatedFeedbackLSTMCell",
        "input_shape",
        lambda: GatedFeedbackLSTMCell(2).build((None, None)),
    ),
]
