import numpy as np
import pytest

from keras_dlss.datasets import SHAPE_NAMES, shapes


def test_classify_shapes_dtype_range_and_balance():
    x, y = shapes(300, image_size=24, num_classes=6, seed=3)
    assert x.shape == (300, 24, 24, 3) and x.dtype == np.float32
    assert y.shape == (300,) and y.dtype == np.int32
    assert 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(y, minlength=6), [50] * 6)


@pytest.mark.parametrize("task", ["classify", "segment", "count"])
@pytest.mark.parametrize("background", ["noise", "texture", "plain"])
def test_same_seed_same_data_other_seed_differs(task, background):
    a = shapes(20, image_size=16, task=task, background=background, seed=7)
    b = shapes(20, image_size=16, task=task, background=background, seed=7)
    c = shapes(20, image_size=16, task=task, background=background, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def test_segment_masks_agree_with_classify_labels():
    x, y = shapes(400, num_classes=10, seed=5)
    xs, masks = shapes(400, num_classes=10, task="segment", seed=5)
    np.testing.assert_array_equal(x, xs)  # same draws: the mask describes the same images
    assert masks.shape == (400, 32, 32) and masks.dtype == np.int32
    for label, mask in zip(y, masks):
        values = set(np.unique(mask).tolist())
        assert values == {0, int(label) + 1}  # background plus the one visible shape


def test_plain_background_pixels_outside_mask_are_one_colour():
    x, masks = shapes(50, task="segment", background="plain", seed=2)
    for image, mask in zip(x, masks):
        shape_colours = np.unique(image[mask > 0].reshape(-1, 3), axis=0)
        assert len(shape_colours) == 1  # plain: no noise on the visible shape
        assert not np.allclose(shape_colours[0], image[0, 0]) or mask[0, 0] > 0


def test_count_task_counts_shapes():
    from scipy import ndimage

    x, counts = shapes(200, image_size=64, num_classes=5, task="count", background="plain", seed=1)
    np.testing.assert_array_equal(np.bincount(counts), [40] * 5)
    for image, count in zip(x, counts):
        # Shapes are filled and never touch: 8-connected foreground regions = count
        # (8, not 4: a star's tip can be one pixel joined by a corner).
        foreground = np.any(np.abs(image - image[0, 0]) > 1e-6, axis=-1)
        assert ndimage.label(foreground, structure=np.ones((3, 3)))[1] == count


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_linear_model_fails():
    from sklearn.linear_model import LogisticRegression

    x, y = shapes(2000, seed=0)
    xt, yt = shapes(1000, seed=1)
    model = LogisticRegression(max_iter=100).fit(x.reshape(len(x), -1), y)
    assert model.score(xt.reshape(len(xt), -1), yt) < 0.6


def test_shape_names():
    assert len(SHAPE_NAMES) == 10 and SHAPE_NAMES[0] == "circle"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n": 0}, "Argument `n` must be an integer >= 1. Received: n=0"),
        ({"n": 5, "image_size": 7}, "Argument `image_size` must be an integer >= 8"),
        ({"n": 5, "num_classes": 11}, r"Argument `num_classes` must be in \[1, 10\]"),
        ({"n": 5, "num_classes": 0}, "Argument `num_classes` must be an integer >= 1"),
        ({"n": 5, "task": "detect"}, "Argument `task` must be one of .* Received: task='detect'"),
        ({"n": 5, "background": "x"}, "Argument `background` must be one of"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        shapes(**kwargs)
