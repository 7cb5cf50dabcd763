"""`keras-dlss train --tensorboard DIR` (issue #19 item 4), checked by reading the event files."""

import glob
import os

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from keras_dlss.cli import main
from keras_dlss.cli.tensorboard import as_image_batch


def _tags(directory):
    files = glob.glob(os.path.join(directory, "events.out.tfevents.*"))
    assert files, f"no event file in {directory}: {os.listdir(os.path.dirname(directory))}"
    accumulator = EventAccumulator(directory, size_guidance={"tensors": 0, "images": 0})
    accumulator.Reload()
    return accumulator


@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tb")
    argv = [
        "train",
        "seq2seq",
        "--epochs",
        "2",
        "--limit",
        "64",
        "--batch-size",
        "16",
        "--no-xla",
        "--export",
        "none",
        "--out",
        str(root / "run"),
        "--tensorboard",
        str(root / "logs"),
    ]
    assert main(argv) == 0
    return root / "logs"


def test_scalars_learning_rate_and_weight_histograms_per_epoch(logs):
    train = _tags(str(logs / "train"))
    tensors = train.Tags()["tensors"]
    assert "epoch_loss" in tensors and "epoch_learning_rate" in tensors, tensors
    assert len(train.Tensors("epoch_loss")) == 2  # one point per epoch
    assert any(t.endswith("/histogram") for t in tensors), tensors
    assert "epoch_loss" in _tags(str(logs / "validation")).Tags()["tensors"]


def test_the_application_attention_maps_are_logged_as_images(logs):
    images = _tags(str(logs / "images"))
    names = images.Tags()["tensors"]
    assert "attention/0" in names, names
    events = images.Tensors("attention/0")
    assert [e.step for e in events] == [0, 1]
    # An image summary stores [width, height, png...]: the map is (output chars + 1) x input chars.
    width, height = (int(v) for v in events[0].tensor_proto.string_val[:2])
    assert width >= 8 and height >= 8


def test_as_image_batch_scales_only_out_of_range_images_and_names_bad_shapes():
    batch = as_image_batch(np.stack([np.full((2, 2), 0.5), np.array([[-1.0, 1.0], [3.0, 1.0]])]))
    assert batch.shape == (2, 2, 2, 1)
    np.testing.assert_allclose(batch[0], 0.5)  # already in [0, 1]: left as is
    np.testing.assert_allclose(batch[1, ..., 0], [[0.0, 0.5], [1.0, 0.5]])
    with pytest.raises(ValueError, match=r"`images`.*Received: images.shape=\(2, 2, 2, 2, 2\)"):
        as_image_batch(np.zeros((2, 2, 2, 2, 2)))
