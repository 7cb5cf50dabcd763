"""Captioned shapes: every caption states the attributes the pixels show."""

import numpy as np
import pytest

from keras_dlss.datasets import SHAPE_NAMES, shape_caption_vocabulary, shape_captions
from keras_dlss.datasets.shape_captions import (
    _COLOUR_WORDS,
    _FILL_WORDS,
    _KIND_WORDS,
    _PALETTE,
    _POSITION_WORDS,
    _SIZE_WORDS,
    COLOUR_NAMES,
    FILL_NAMES,
    POSITION_NAMES,
    SIZE_NAMES,
)

DATA = shape_captions(60, captions_per_image=3, seed=3)


def test_shapes_determinism_and_helpers():
    assert DATA.images.shape == (60, 32, 32, 3) and DATA.images.dtype == np.float32
    assert DATA.tokens.shape == (60, 3, 16) and DATA.tokens.dtype == np.int32
    again = shape_captions(60, captions_per_image=3, seed=3)
    np.testing.assert_array_equal(again.images, DATA.images)
    assert again.captions == DATA.captions
    images, tokens = DATA.pairs(seed=0)
    assert tokens.shape == (60, 16)
    assert {tuple(t) for t in tokens} <= {tuple(t) for t in DATA.tokens.reshape(-1, 16)}
    flat, owner = DATA.all_captions()
    assert flat.shape == (180, 16) and owner.tolist() == np.repeat(np.arange(60), 3).tolist()
    part = DATA.subset(np.array([5, 2]))
    assert part.captions == [DATA.captions[5], DATA.captions[2]]
    np.testing.assert_array_equal(part.kind, DATA.kind[[5, 2]])


def test_tokens_encode_the_captions_without_unknowns_or_truncation():
    vocab = shape_caption_vocabulary()
    for i in range(60):
        for j in range(3):
            ids = DATA.tokens[i, j]
            words = [vocab.tokens[t] for t in ids if t > 0]
            assert "<unk>" not in words and ids[-1] == 0
            assert " ".join(words).replace(" ,", ",").replace(" :", ":") == DATA.captions[i][j]


def test_every_caption_names_the_true_attributes():
    for i, captions in enumerate(DATA.captions):
        truth = (
            (_KIND_WORDS, SHAPE_NAMES[DATA.kind[i]]),
            (_COLOUR_WORDS, COLOUR_NAMES[DATA.colour[i]]),
            (_SIZE_WORDS, SIZE_NAMES[DATA.size[i]]),
            (_FILL_WORDS, FILL_NAMES[int(DATA.filled[i])]),
            (_POSITION_WORDS, POSITION_NAMES[DATA.position[i]]),
        )
        for caption in captions:
            for words, value in truth:
                assert any(w in caption for w in words[value]), (caption, value)


def test_pixels_show_the_colour_position_and_size():
    background = np.median(DATA.images, axis=(1, 2))
    shape = np.abs(DATA.images - background[:, None, None, :]).max(-1) > 0.25
    rows, cols = np.mgrid[0:32, 0:32] + 0.5
    area = shape.sum((1, 2))
    assert area.min() > 0
    for i in range(60):
        mean_colour = DATA.images[i][shape[i]].mean(0)
        assert np.argmin(((_PALETTE - mean_colour) ** 2).sum(1)) == DATA.colour[i]
        cy, cx = rows[shape[i]].mean(), cols[shape[i]].mean()
        assert int(cy // (32 / 3)) * 3 + int(cx // (32 / 3)) == DATA.position[i]
    filled = DATA.filled
    for fill in (False, True):  # same fill, large covers more pixels on average
        pick = filled == fill
        assert area[pick & (DATA.size == 1)].mean() > 1.5 * area[pick & (DATA.size == 0)].mean()


def test_attribute_ceiling_counts_identical_attribute_sets():
    part = DATA.subset(np.array([0, 0, 1]))  # image 0 twice: 1/2 + 1/2 + 1, over 3
    assert part.attribute_ceiling() == pytest.approx(2 / 3)
    assert shape_captions(1).attribute_ceiling() == 1.0


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="`n`.*Received: n=0"):
        shape_captions(0)
    with pytest.raises(ValueError, match="`image_size`.*Received: image_size=8"):
        shape_captions(2, image_size=8)
    with pytest.raises(ValueError, match="`captions_per_image`.*Received"):
        shape_captions(2, captions_per_image=0)
