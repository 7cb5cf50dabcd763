"""`keras-dlss search darts` end to end, at the smallest size (the numbers are the benchmark's)."""

import json

import keras

from keras_dlss.cli import main


def test_search_darts_writes_genotype_model_and_test_accuracy(tmp_path, capsys):
    out = tmp_path / "darts"
    status = main(
        [
            "search", "darts", "--order", "2", "--epochs", "1", "--retrain-epochs", "1",
            "--limit", "16", "--batch-size", "8", "--image-size", "8", "--num-classes", "2",
            "--channels", "4", "--cells", "1", "--steps", "1", "--run-eagerly",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert status == 0
    genotype = json.loads((out / "genotype.json").read_text())
    assert len(genotype["normal"]) == len(genotype["reduce"]) == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["order"] == 2 and 0.0 <= metrics["test_accuracy"] <= 1.0
    model = keras.saving.load_model(out / "model.keras")
    assert model.genotype == genotype
    assert "test accuracy" in capsys.readouterr().out


def test_search_rejects_a_bad_order(capsys):
    try:
        main(["search", "darts", "--order", "3"])
    except SystemExit as e:
        assert e.code == 2
    assert "--order" in capsys.readouterr().err
