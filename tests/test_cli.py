"""End to end: the `keras-dlss` console script as a newcomer runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from keras_dlss.cli import main

CLI = [sys.executable, "-m", "keras_dlss"]


def run_cli(*args, cwd=None):
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def trained_mlp(tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp")
    result = run_cli("train", "mlp", "--epochs", "40", "--out", str(out), "--seed", "0")
    assert result.returncode == 0, result.stderr
    return out, result


def test_train_writes_every_artifact_and_reaches_95_percent(trained_mlp):
    out, result = trained_mlp
    for name in (
        "model.keras",
        "metrics.json",
        "history.png",
        "metadata.json",
        "sample_inputs.npz",
    ):
        assert (out / name).is_file(), name
    assert (out / "saved_model" / "saved_model.pb").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] >= 0.95
    assert metrics["jit_compile"] is True
    assert metrics["saved_model_max_abs_diff"] <= 1e-5
    # TensorFlow's C++ start-up logging is silenced.
    assert "oneDNN" not in result.stderr and "cuda" not in result.stderr.lower()


def test_export_onnx_prints_parity_within_1e5(trained_mlp, tmp_path):
    out, _ = trained_mlp
    result = run_cli(
        "export", str(out / "model.keras"), "--format", "onnx", "--out", str(tmp_path / "m.onnx")
    )
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("max abs difference"))
    assert float(line.rsplit(":", 1)[1]) <= 1e-5
    assert (tmp_path / "m.onnx").stat().st_size > 1000


def test_predict_prints_a_class(trained_mlp, capsys):
    out, _ = trained_mlp
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    row = " ".join(str(v / 16.0) for v in x[0])
    assert main(["predict", "mlp", str(out / "model.keras"), row]) == 0
    assert capsys.readouterr().out.startswith(f"{y[0]} (p=")


def test_list_names_each_application_with_its_default_data_and_license(capsys):
    from keras_dlss.applications import get_task, task_names

    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "mlp" in text and "digits" in text
    for name in task_names():
        task = get_task(name)
        assert f"default data: {task.default_data} (license: {task.data_license})" in text, name


def test_unknown_application_lists_the_available_ones(capsys):
    assert main(["train", "no-such-app"]) == 2
    err = capsys.readouterr().err
    assert "unknown application 'no-such-app'" in err and "mlp" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["train", "mlp", "--data", "/no/such/file.csv"],
            "no such file or directory: '/no/such/file.csv'",
        ),
        (["train", "mlp", "--epochs", "0"], "expected a positive integer, got '0'"),
        (["export", "/no/such/model.keras", "--out", "x"], "no such file or directory"),
        (["export", __file__, "--format", "pdf", "--out", "x"], "invalid choice: 'pdf'"),
        (["train", "mlp", "--export", "pdf"], "expected formats among tf_saved_model, onnx"),
    ],
)
def test_bad_options_say_what_is_wrong_without_traceback(argv, message):
    result = run_cli(*argv)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_unreadable_data_content_is_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nc,d\n")
    assert main(["train", "mlp", "--data", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "error:" in capsys.readouterr().err


def test_export_rejects_non_keras_file(tmp_path, capsys):
    assert main(["export", __file__, "--out", str(tmp_path / "x")]) == 2
    assert "expected a .keras model file" in capsys.readouterr().err


def test_tune_random_writes_best_hyperparameters_and_trials(tmp_path, capsys):
    out = tmp_path / "tune"
    assert (
        main(
            [
                "tune",
                "mlp",
                "--tuner",
                "random",
                "--trials",
                "2",
                "--epochs",
                "1",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    best = json.loads((out / "best_hyperparameters.json").read_text())
    assert {"depth", "width", "activation", "optimizer"} <= set(best)
    rows = (out / "trials.csv").read_text().strip().splitlines()
    assert rows[0].startswith("trial_id,status,score") and len(rows) == 3
    assert os.path.isdir(out / "random")
    assert np.isfinite(float(rows[1].split(",")[2]))


@pytest.mark.parametrize("app", ["tagger", "seq2seq", "performance-rnn", "music-transformer"])
def test_every_application_trains_and_exports_from_the_cli(app, tmp_path, capsys):
    # One epoch without XLA keeps this fast: each application's XLA path is tested in its own module.
    out = tmp_path / app
    assert main(["train", app, "--epochs", "1", "--no-xla", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs_run"] == 1 and metrics["jit_compile"] is False
    assert metrics["saved_model_max_abs_diff"] <= 1e-4
    for name in ("model.keras", "history.png", "metadata.json"):
        assert (out / name).is_file(), name


def test_a_failed_export_keeps_the_run_and_fails_only_when_asked_for(tmp_path, capsys, monkeypatch):
    from keras_dlss.export import artifacts as export_artifacts

    def broken(*args, **kwargs):
        raise RuntimeError("simulated exporter crash\nwith a second line")

    monkeypatch.setattr(export_artifacts, "export_model", broken)
    quick = ["--epochs", "1", "--limit", "64", "--no-xla"]
    out = tmp_path / "implicit"
    # The default export is implicit: its failure is reported, the run is kept, exit 0.
    assert main(["train", "mlp", *quick, "--out", str(out)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "keras-dlss train: tf_saved_model export failed, model.keras and metrics.json are "
        "kept: RuntimeError: simulated exporter crash"
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["exports"] == {
        "tf_saved_model": {"ok": False, "reason": "RuntimeError: simulated exporter crash"}
    }
    assert np.isfinite(metrics["train_loss"]) and metrics["steps_per_second"] > 0
    assert metrics["train_examples"] == 64 and (out / "model.keras").is_file()
    # Asked for explicitly, by `train --export` or by `export`: exit 1, one line.
    assert (
        main(["train", "mlp", *quick, "--export", "tf_saved_model", "--out", str(tmp_path / "x")])
        == 1
    )
    capsys.readouterr()
    assert main(["export", str(out / "model.keras"), "--out", str(tmp_path / "sm")]) == 1
    assert capsys.readouterr().err == (
        "keras-dlss export: tf_saved_model export failed: RuntimeError: simulated exporter crash\n"
    )


def test_unavailable_format_says_why(monkeypatch):
    import importlib.util

    from keras_dlss.export import unavailable_reason

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m: None if m == "jax2onnx" else real(m))
    assert "needs jax2onnx" in unavailable_reason("onnx", backend="jax")
    assert unavailable_reason("tf_saved_model", backend="tensorflow") is None


def test_jax_polymorphic_shapes_tie_a_shared_axis_only():
    import keras

    from keras_dlss.export import polymorphic_shapes

    specs = [
        {
            "words": keras.InputSpec(shape=(None, None)),
            "chars": keras.InputSpec(shape=(None, None, 16)),
        }
    ]
    sample = {"words": np.zeros((2, 7)), "chars": np.zeros((2, 7, 16))}
    assert polymorphic_shapes(specs, sample) == [
        {"words": "(batch, d1_7)", "chars": "(batch, d1_7, 16)"}
    ]
    specs = [
        {
            "source": keras.InputSpec(shape=(None, None)),
            "target": keras.InputSpec(shape=(None, None)),
        }
    ]
    sample = {"source": np.zeros((2, 30)), "target": np.zeros((2, 11))}
    assert polymorphic_shapes(specs, sample) == [
        {"source": "(batch, d1_30)", "target": "(batch, d1_11)"}
    ]
