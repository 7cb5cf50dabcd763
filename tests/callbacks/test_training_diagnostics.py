import keras
import numpy as np
import pytest

from keras_dlss.callbacks import TrainingDiagnostics


def _setup(lr=0.01):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype("float32")
    y = rng.standard_normal((32, 1)).astype("float32")
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="sigmoid", name="hidden"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return model, x, y


def test_quantities_land_in_history():
    model, x, y = _setup()
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[TrainingDiagnostics(x[:8], y[:8])])
    h = history.history
    for key in (
        "diagnostics/saturation/hidden",
        "diagnostics/grad_norm/hidden",
        "diagnostics/grad_norm/out",
        "diagnostics/learning_rate",
    ):
        assert len(h[key]) == 2, key
    assert h["diagnostics/learning_rate"] == pytest.approx([0.01, 0.01])
    assert all(0.0 <= v <= 1.0 for v in h["diagnostics/saturation/hidden"])
    assert h["diagnostics/grad_norm/out"][0] > 0


def test_every_n_epochs_and_divergence_hint(capsys):
    model, x, y = _setup(lr=50.0)
    callback = TrainingDiagnostics(x[:8], y[:8], every_n_epochs=2)
    history = model.fit(x, y, epochs=4, verbose=0, callbacks=[callback])
    assert callback.diagnosis in ("diverged", "oscillating")
    assert "learning rate" in capsys.readouterr().out
    assert len(history.history["loss"]) == 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="Received: every_n_epochs=0"):
        TrainingDiagnostics(np.zeros((1, 4)), every_n_epochs=0)


def test_quantities_reach_tensorboard(tmp_path):
    import tensorflow as tf

    model, x, y = _setup()
    callbacks = [TrainingDiagnostics(x[:8], y[:8]), keras.callbacks.TensorBoard(str(tmp_path))]
    model.fit(x, y, epochs=1, verbose=0, callbacks=callbacks)
    tags = set()
    for path in tf.io.gfile.glob(str(tmp_path / "train" / "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(v.tag for v in event.summary.value)
    assert "epoch_diagnostics/grad_norm/hidden" in tags
    assert "epoch_diagnostics/saturation/hidden" in tags
