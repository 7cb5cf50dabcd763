"""FiLMQuestionAnswering: every fusion arm trains, pairs against brute force, save/load, the task."""

import keras
import numpy as np
import pytest

from keras_dlss.applications.film_vqa import (
    FUSIONS,
    CoordinateChannels,
    FiLMQuestionAnswering,
    ObjectPairs,
)
from keras_dlss.applications.film_vqa_task import FiLMVQATask, accuracy_by_kind
from keras_dlss.datasets import sort_of_clevr
from keras_dlss.testing import run_layer_test

RNG = np.random.default_rng(0)
DATA = sort_of_clevr(num_images=4, seed=0)
X = [DATA.images, DATA.questions]
SMALL = {"filters": 4, "hidden": 8, "blocks": 1, "sketch_dim": 16, "seed": 0}


def test_object_pairs_hold_every_ordered_pair_with_the_question():
    objects, question = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 5))
    pairs = keras.ops.convert_to_numpy(ObjectPairs()([objects, question]))
    expected = [
        [
            np.concatenate([objects[b, i], objects[b, j], question[b]])
            for i in range(3)
            for j in range(3)
        ]
        for b in range(2)
    ]
    np.testing.assert_allclose(pairs, np.array(expected), atol=1e-6)


def test_coordinate_channels():
    out = keras.ops.convert_to_numpy(CoordinateChannels()(np.zeros((1, 3, 2, 1), "float32")))
    np.testing.assert_allclose(out[0, :, 0, 1], [-1, 0, 1])
    np.testing.assert_allclose(out[0, 0, :, 2], [-1, 1])


def test_helper_layers_conformance():
    maps = RNG.normal(size=(2, 3, 3, 2)).astype("float32")
    print(run_layer_test(CoordinateChannels, {}, maps, expected_output_shape=(2, 3, 3, 4)))
    pair_inputs = [
        RNG.normal(size=(2, 3, 2)).astype("float32"),
        RNG.normal(size=(2, 4)).astype("float32"),
    ]
    print(run_layer_test(ObjectPairs, {}, pair_inputs, expected_output_shape=(2, 9, 8)))


@pytest.mark.parametrize("fusion", FUSIONS)
def test_every_fusion_trains_and_answers(fusion):
    model = FiLMQuestionAnswering(fusion=fusion, **SMALL)
    # Eager: tracing six tiny graphs would cost more than the steps (graphs: save/load test).
    model.compile(run_eagerly=True)
    before = model.evaluate(X, DATA.answers, batch_size=40, verbose=0, return_dict=True)["loss"]
    model.fit(X, DATA.answers, epochs=3, batch_size=40, verbose=0)
    after = model.evaluate(X, DATA.answers, batch_size=40, verbose=0, return_dict=True)["loss"]
    assert np.isfinite(after) and after < before
    probabilities = keras.ops.convert_to_numpy(model(X))
    assert probabilities.shape == (40, 10)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)


def test_save_load_round_trip(tmp_path):
    model = FiLMQuestionAnswering(fusion="film", **SMALL)
    model.compile()
    path = str(tmp_path / "film.keras")
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(
        restored.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-5
    )
    assert restored.get_config() == model.get_config()
    with pytest.raises(ValueError, match="`fusion`.*Received"):
        FiLMQuestionAnswering(fusion="sum")


def test_task_splits_by_image_and_reports_both_kinds():
    task = FiLMVQATask()
    data = task.load_data(num_images=20, seed=0)
    train_images = {img.tobytes() for img in data.train[0][0]}
    assert not any(img.tobytes() in train_images for img in data.test[0][0])
    assert len(data.train[1]) == 160 and len(data.test[1]) == 20
    model = task.build_model(
        data, jit_compile=False, **{k: SMALL[k] for k in ("filters", "hidden")}
    )
    metrics = task.evaluate(model, data)
    assert 0 <= metrics["test_relational_accuracy"] <= 1
    assert 0 <= metrics["test_non_relational_accuracy"] <= 1
    kinds = accuracy_by_kind(model, *data.test)
    assert kinds["accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    with pytest.raises(ValueError, match="`data`"):
        task.load_data("questions.json")


def test_stem_moving_statistics_track_the_batch_statistics():
    # Regression: on white-background images (blank canvas = 1) Adam moved each stem
    # channel's response to the blank pixels faster than batch normalization's moving mean
    # could follow; inference-mode answers on new images then collapsed below the
    # question-only floor while training-mode accuracy kept rising.
    model = FiLMQuestionAnswering(fusion="concat", filters=8, hidden=16, seed=0)
    model.compile(run_eagerly=True)  # 30 tiny steps: tracing would cost more than running
    train = sort_of_clevr(num_images=16, seed=1)
    model.fit([train.images, train.questions], train.answers, epochs=3, batch_size=16, verbose=0)
    bn = model.get_layer("stem_bn_0")
    held_out = keras.ops.convert_to_numpy(keras.Model(model.inputs[0], bn.input)(DATA.images))
    held_out = held_out.reshape(-1, held_out.shape[-1])
    lag = np.abs(keras.ops.convert_to_numpy(bn.moving_mean) - held_out.mean(0))
    assert np.all(lag < 0.25 * held_out.std(0)), lag / held_out.std(0)
