"""`keras-dlss train ntm`: a neural Turing machine on the generated copy task.

The model is `RNN(NTMCell)` with a sigmoid read-out per bit; the loss (binary
cross-entropy) and the reported per-bit error count only the answer phase
(`sample_weight` from `keras_dlss.datasets.copy_task`). The test split holds longer
sequences than training (`--test-length`), the generalization Graves et al. (2014)
report for the NTM and not for an LSTM.
"""

import keras
import numpy as np

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.datasets.algorithmic import copy_task
from keras_dlss.layers.ntm_cell import NTMCell


def ntm_copy_model(bits=8, units=100, memory_size=128, memory_width=20, jit_compile=True):
    """`RNN(NTMCell)` + a sigmoid Dense read-out, compiled for the copy task (Adam, BCE)."""
    inputs = keras.Input((None, bits + 1), name="sequence")
    cell = NTMCell(units, memory_size=memory_size, memory_width=memory_width)
    h = keras.layers.RNN(cell, return_sequences=True, name="ntm")(inputs)
    outputs = keras.layers.Dense(bits, activation="sigmoid", name="bits")(h)
    model = keras.Model(inputs, outputs, name="ntm_copy")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, clipnorm=10.0),
        loss="binary_crossentropy",
        jit_compile=jit_compile,
    )
    return model


def bit_error(model, inputs, targets, weights, batch_size=64):
    """Mean per-bit error on the answer phase (predictions thresholded at 0.5)."""
    probs = model.predict(inputs, batch_size=batch_size, verbose=0)
    wrong = (probs > 0.5) != (targets > 0.5)
    return float((wrong * weights[..., None]).sum() / (weights.sum() * targets.shape[-1]))


class NTMTask(Task):
    name = "ntm"
    summary = "neural Turing machine (LSTM controller, 1 read + 1 write head): generated copy task"
    default_data = "generated: copy task of random 8-bit vectors (keras_dlss.datasets.copy_task)"
    default_epochs = 20
    default_batch_size = 32
    monitor = "val_loss"
    patience = 5
    options = {
        "units": {"type": int, "help": "controller LSTM units (default 100)"},
        "memory-size": {"type": int, "help": "memory locations N (default 128)"},
        "memory-width": {"type": int, "help": "location width M (default 20)"},
    }

    def load_data(self, path=None, seed=0, max_length=10, test_length=20):
        if path is not None:
            raise ValueError(f"Argument `data` is not used by ntm (generated). Received: {path!r}")
        train = copy_task(4000, 1, max_length, seed=seed)
        validation = copy_task(256, 1, max_length, seed=seed + 1)
        test = copy_task(256, test_length, test_length, seed=seed + 2)
        info = {"source": "generated copy task", "bits": 8, "train_max_length": max_length}
        return TaskData(train, validation, test, info)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        return ntm_copy_model(data.info["bits"], jit_compile=jit_compile, **hparams)

    def fit(self, model, data, *, epochs, batch_size, callbacks, verbose=1):
        x, y, w = data.train
        return model.fit(
            x,
            y,
            sample_weight=w,
            validation_data=data.validation,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=callbacks,
            verbose=verbose,
        )

    def evaluate(self, model, data):
        x, y, w = data.test
        loss = model.evaluate(x, y, sample_weight=w, verbose=0)
        return {
            "test_loss": float(np.ravel(loss)[0]),
            "test_bit_error": bit_error(model, x, y, w),
            "test_length": int(w.sum(-1).max()),
        }

    def sample_inputs(self, data, n=8):
        return data.test[0][:n]
