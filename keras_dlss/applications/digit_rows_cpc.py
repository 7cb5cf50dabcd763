"""Contrastive predictive coding on digit images read as sequences of rows.

Each 8x8 digit becomes a sequence of 8 rows of 8 pixels; the CPC model
(`models.ContrastivePredictiveCoding`) learns, without labels, to predict the
encodings of the next rows from the rows so far. `keras-dlss train cpc`
trains it and reports, besides the contrastive loss and accuracy, the
linear-probe accuracy of its representation (`training.linear_probe`: a
logistic regression on the frozen last context). `benchmarks/cpc_probe.py`
compares that with a random encoder and a supervised one.

References:
    - van den Oord, Li & Vinyals, "Representation Learning with Contrastive
      Predictive Coding", 2018. https://arxiv.org/abs/1807.03748
"""

import keras
import numpy as np

from keras_dlss._validation import check_positive_int
from keras_dlss.applications.base import Task, TaskData
from keras_dlss.models.contrastive_predictive_coding import ContrastivePredictiveCoding
from keras_dlss.training.linear_probe import linear_probe

__all__ = ["CPCTask", "build_row_cpc", "load_digit_rows"]


def build_row_cpc(row_width=8, rows=8, units=64, context_units=64, prediction_steps=3, **kwargs):
    """A CPC model over image rows: a two-layer per-row MLP encoder and a GRU context.

    Args:
        row_width: int. Pixels per row (the features of a step). Defaults to `8`.
        rows: int or None. Rows per image (sequence length). Defaults to `8`.
        units: int. Encoder width D. Defaults to `64`.
        context_units: int. GRU units. Defaults to `64`.
        prediction_steps: int. Rows predicted ahead. Defaults to `3`.
        **kwargs: `ContrastivePredictiveCoding` arguments.

    Returns:
        An uncompiled `ContrastivePredictiveCoding`.
    """
    row_width = check_positive_int("row_width", row_width)
    encoder = keras.Sequential(
        [
            keras.Input((rows, row_width)),
            keras.layers.Dense(units, activation="relu"),
            keras.layers.Dense(units),
        ],
        name="row_encoder",
    )
    return ContrastivePredictiveCoding(
        encoder, context_units=context_units, prediction_steps=prediction_steps, **kwargs
    )


def load_digit_rows(path=None, seed=0):
    """scikit-learn's 8x8 digits as `[N, 8 rows, 8 pixels]` sequences, with labels for probing."""
    if path is not None:
        raise ValueError(
            "Argument `data` is not supported by `cpc`: it trains on the embedded digits. "
            f"Received: data={path!r}"
        )
    from keras_dlss.datasets import digits

    images, labels = digits(8)
    x = images[..., 0]
    order = np.random.default_rng(seed).permutation(len(x))
    n_test, n_val = len(x) // 5, len(x) // 10
    test, val, train = np.split(order, [n_test, n_test + n_val])
    info = {"source": "scikit-learn digits (8x8, rows as a sequence)", "rows": 8, "row_width": 8}
    # Labels travel with the images for the linear probe; the CPC step ignores them.
    return TaskData((x[train], labels[train]), (x[val], labels[val]), (x[test], labels[test]), info)


class CPCTask(Task):
    name = "cpc"
    summary = "ContrastivePredictiveCoding on digit rows, evaluated by a linear probe"
    default_data = "scikit-learn's bundled 8x8 digits, read row by row (1,797 images; no download)"
    data_license = "CC BY 4.0 (UCI Optical Recognition of Handwritten Digits)"
    default_epochs = 40
    default_batch_size = 64
    monitor = "val_loss"
    patience = 8

    def load_data(self, path=None, seed=0):
        return load_digit_rows(path, seed)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        keras.utils.set_random_seed(seed)
        model = build_row_cpc(data.info["row_width"], data.info["rows"], **hparams)
        model.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=jit_compile)
        return model

    def evaluate(self, model, data):
        metrics = super().evaluate(model, data)
        probe = linear_probe(
            model.representation, data.train, data.test, epochs=100, learning_rate=0.03
        )
        metrics["test_probe_accuracy"] = probe["test_accuracy"]
        return metrics
