"""`keras-dlss explain` and `keras-dlss attack` on a small saved classifier (issue #15)."""

import json

import keras
import numpy as np
import pytest

from keras_dlss import cli
from keras_dlss.cli import artifacts


@pytest.fixture(scope="module")
def saved_mlp(tmp_path_factory):
    """A digits-shaped classifier saved as `train` would save it (no training: fast)."""
    out = tmp_path_factory.mktemp("mlp")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.save(out / "model.keras")
    sample = np.random.default_rng(0).uniform(size=(3, 64)).astype("float32")
    artifacts.save_sample(str(out / artifacts.SAMPLE_INPUTS), sample)
    with open(out / "metrics.json", "w") as f:
        json.dump({"application": "mlp"}, f)
    np.save(out / "one.npy", sample[0])
    return out


@pytest.mark.parametrize("method", ["ig", "occlusion"])
def test_explain_writes_a_png(saved_mlp, method, capsys):
    png = saved_mlp / f"{method}.png"
    status = cli.main(
        [
            "explain",
            str(saved_mlp / "model.keras"),
            "sample",
            "--method",
            method,
            "--out",
            str(png),
            "--steps",
            "8",
        ]
    )
    assert status == 0 and png.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {png}" in capsys.readouterr().out


def test_explain_one_npy_example_and_bad_options(saved_mlp, capsys):
    png = saved_mlp / "one.png"
    args = ["explain", str(saved_mlp / "model.keras"), str(saved_mlp / "one.npy")]
    assert cli.main([*args, "--method", "smoothgrad", "--steps", "4", "--out", str(png)]) == 0
    assert cli.main([*args, "--method", "gradcam", "--out", str(png)]) == 2
    assert "no layer with spatial outputs" in capsys.readouterr().err
    assert cli.main([*args, "--out", str(saved_mlp / "x.jpg")]) == 2


def test_attack_prints_clean_and_robust_accuracy(saved_mlp, capsys):
    status = cli.main(
        [
            "attack",
            str(saved_mlp / "model.keras"),
            "--method",
            "pgd",
            "--eps",
            "0,0.1",
            "--steps",
            "3",
            "--limit",
            "40",
        ]
    )
    lines = capsys.readouterr().out.splitlines()
    assert status == 0 and lines[0].startswith("mlp: 40 test examples, pgd")
    clean = float(lines[2].split()[-1])
    at_zero, at_tenth = (float(line.split()[-1]) for line in lines[3:5])
    assert at_zero == clean and at_tenth <= clean
    with pytest.raises(SystemExit):
        cli.main(["attack", str(saved_mlp / "model.keras"), "--eps", "-1"])
