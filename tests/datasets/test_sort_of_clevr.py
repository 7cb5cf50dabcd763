"""Sort-of-CLEVR: answers re-derived from the pixels alone, determinism, question encoding."""

import numpy as np
import pytest

from keras_dlss.datasets.sort_of_clevr import (
    _RGB,
    ANSWERS,
    SortOfCLEVR,
    describe_question,
    sort_of_clevr,
)

DATA = sort_of_clevr(num_images=12, questions_per_image=10, seed=3)


def _objects_from_pixels(image):
    """(centre row, centre col, shape) of each colour, read off the image."""
    objects = []
    for rgb in _RGB:
        rows, cols = np.nonzero(np.all(np.abs(image - rgb) < 1e-6, axis=-1))
        shape = "square" if len(rows) == 25 else "circle"  # a 5x5 square fills every pixel
        objects.append((rows.mean(), cols.mean(), shape))
    return objects


def _brute_force_answer(image, question):
    objects = _objects_from_pixels(image)
    color, kind, sub = (
        int(np.argmax(question[s])) for s in (slice(0, 6), slice(6, 8), slice(8, 11))
    )
    row, col, shape = objects[color]
    if kind == 0:
        if sub == 0:
            return shape
        return "yes" if (col if sub == 1 else row) < 16 else "no"
    dist = [np.hypot(r - row, c - col) for r, c, _ in objects]
    if sub == 2:
        return str(sum(s == shape for _, _, s in objects))
    others = [d if k != color else (np.inf if sub == 0 else -np.inf) for k, d in enumerate(dist)]
    return objects[int(np.argmin(others) if sub == 0 else np.argmax(others))][2]


def test_every_answer_matches_one_derived_from_the_pixels():
    for image, question, answer in zip(DATA.images, DATA.questions, DATA.answers):
        assert ANSWERS[answer] == _brute_force_answer(image, question), describe_question(question)


def test_layout_encoding_and_determinism():
    assert DATA.images.shape == (120, 32, 32, 3) and DATA.questions.shape == (120, 11)
    np.testing.assert_array_equal(DATA.questions[:, :6].sum(1), 1)
    np.testing.assert_array_equal(DATA.questions[:, 6:8].sum(1), 1)
    np.testing.assert_array_equal(DATA.questions[:, 8:].sum(1), 1)
    np.testing.assert_array_equal(DATA.relational, DATA.questions[:, 7] == 1)
    assert DATA.relational.mean() == 0.5
    np.testing.assert_array_equal(np.repeat(np.arange(12), 10), DATA.image_index)
    again = sort_of_clevr(num_images=12, questions_per_image=10, seed=3)
    for name in ("images", "questions", "answers"):
        np.testing.assert_array_equal(getattr(DATA, name), getattr(again, name))
    part = DATA.subset(DATA.relational)
    assert isinstance(part, SortOfCLEVR) and part.relational.all() and len(part.answers) == 60
    assert describe_question(DATA.questions[9]).endswith("(relational)")


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_images": 0}, "num_images"),
        ({"questions_per_image": 1}, "questions_per_image"),
        ({"image_size": 12}, "image_size"),
        ({"object_size": 2}, "object_size"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=f"`{name}`.*Received"):
        sort_of_clevr(**kwargs)
