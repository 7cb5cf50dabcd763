"""Captioned shapes: generated image-caption pairs for joint-embedding retrieval.

Each image shows one shape of `shapes.SHAPE_NAMES` drawn with five attributes, and
each caption states all five in words: its kind, one of six named colours, its
size (small or large), its position in a 3x3 grid and whether it is filled or
outlined. Captions are written from the true attributes with several templates
and synonyms ("a small red star in the top left", "top-left corner: red
five-pointed star, tiny and solid"), so no single word order or word choice
identifies an image: retrieval has to read every attribute off the pixels and
off the words. 10 kinds x 6 colours x 2 sizes x 9 positions x 2 fills make 2,160
attribute combinations, so among 1,000 images about a third share their
combination with another one; `attribute_ceiling` says what that costs a
perfect model.

Shapes are rasterized by `shapes._rasterize` (the batched closed-form tests of
the shapes generator) on a dark, lightly noisy background, without occluders.
One `np.random.default_rng(seed)` draws everything: the same arguments give the
same data.

References:
    Kiros, Salakhutdinov & Zemel 2014, "Unifying Visual-Semantic Embeddings with
    Multimodal Neural Language Models", https://arxiv.org/abs/1411.2539 (the
    image-caption ranking task this data set stands in for).
"""

import dataclasses

import numpy as np

from keras_dlss._validation import check_positive_int
from keras_dlss.datasets.conll import Vocabulary
from keras_dlss.datasets.shapes import SHAPE_NAMES, _rasterize
from keras_dlss.datasets.text_classification import encode_texts, tokenize_text

__all__ = ["ShapeCaptions", "shape_caption_vocabulary", "shape_captions"]

COLOUR_NAMES = ("red", "green", "blue", "yellow", "purple", "white")
_PALETTE = np.array(
    [
        [0.9, 0.1, 0.1],
        [0.1, 0.8, 0.15],
        [0.2, 0.35, 1.0],
        [0.95, 0.9, 0.1],
        [0.7, 0.15, 0.9],
        [0.95, 0.95, 0.95],
    ],
    np.float32,
)
SIZE_NAMES = ("small", "large")
POSITION_NAMES = (
    "top left",
    "top",
    "top right",
    "left",
    "centre",
    "right",
    "bottom left",
    "bottom",
    "bottom right",
)
FILL_NAMES = ("outlined", "filled")

_KIND_WORDS = {
    "circle": ("circle", "round shape"),
    "square": ("square", "box"),
    "triangle": ("triangle", "three-sided shape"),
    "star": ("star", "five-pointed star"),
    "cross": ("cross", "plus sign"),
    "ring": ("ring", "donut"),
    "ellipse": ("ellipse", "oval"),
    "pentagon": ("pentagon", "five-sided polygon"),
    "hexagon": ("hexagon", "six-sided polygon"),
    "arrow": ("arrow", "pointer"),
}
_COLOUR_WORDS = {
    "red": ("red", "scarlet"),
    "green": ("green",),
    "blue": ("blue",),
    "yellow": ("yellow", "golden"),
    "purple": ("purple", "violet"),
    "white": ("white",),
}
_SIZE_WORDS = {"small": ("small", "little", "tiny"), "large": ("large", "big")}
_FILL_WORDS = {"outlined": ("outlined", "hollow"), "filled": ("filled", "solid")}
_POSITION_WORDS = {
    "top left": ("top left", "upper left", "top-left corner"),
    "top": ("top", "top middle", "upper middle"),
    "top right": ("top right", "upper right", "top-right corner"),
    "left": ("left", "middle left", "left side"),
    "centre": ("centre", "middle", "center"),
    "right": ("right", "middle right", "right side"),
    "bottom left": ("bottom left", "lower left", "bottom-left corner"),
    "bottom": ("bottom", "bottom middle", "lower middle"),
    "bottom right": ("bottom right", "lower right", "bottom-right corner"),
}
_TEMPLATES = (
    "a {size} {fill} {colour} {kind} in the {where}",
    "{where}: {colour} {kind}, {size} and {fill}",
    "there is a {size} {colour} {kind} at the {where}, it is {fill}",
    "{fill} {colour} {kind}, {size}, {where}",
    "the {where} holds a {size} {fill} {colour} {kind}",
)
MAX_CAPTION_LENGTH = 16  # tokens of the longest template with the longest synonyms


@dataclasses.dataclass
class ShapeCaptions:
    """Generated captioned shapes: one row per image.

    Attributes:
        images: float32 `[N, S, S, 3]` in [0, 1].
        tokens: int32 `[N, C, MAX_CAPTION_LENGTH]`, the C captions of each image as
            ids of `shape_caption_vocabulary()`, right-padded with 0.
        captions: list of N lists of C str.
        kind, colour, size, position: int32 `[N]` indices into `SHAPE_NAMES`,
            `COLOUR_NAMES`, `SIZE_NAMES`, `POSITION_NAMES`.
        filled: bool `[N]`.
    """

    images: np.ndarray
    tokens: np.ndarray
    captions: list
    kind: np.ndarray
    colour: np.ndarray
    size: np.ndarray
    position: np.ndarray
    filled: np.ndarray

    def subset(self, rows):
        """The images (and their captions) at `rows`, an index array or boolean mask."""
        rows = np.arange(len(self.images))[rows]
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields = {
            k: ([v[i] for i in rows] if k == "captions" else v[rows]) for k, v in fields.items()
        }
        return ShapeCaptions(**fields)

    def pairs(self, seed=None):
        """`(images [N, S, S, 3], tokens [N, T])`: one caption per image.

        Caption 0 of each image when `seed` is None, else one drawn at random
        (a fresh draw each epoch shows the model every paraphrase).
        """
        choice = np.zeros(len(self.images), int)
        if seed is not None:
            choice = np.random.default_rng(seed).integers(0, self.tokens.shape[1], len(choice))
        return self.images, self.tokens[np.arange(len(choice)), choice]

    def all_captions(self):
        """`(tokens [N * C, T], image_of_caption [N * C])`: every caption with its image."""
        n, c, t = self.tokens.shape
        return self.tokens.reshape(n * c, t), np.repeat(np.arange(n, dtype=np.int32), c)

    def attribute_ceiling(self):
        """Recall@1 a perfect model can reach when it must break attribute ties.

        Images sharing all five attributes are indistinguishable from their
        captions; with ties broken at random, text-to-image R@1 is the mean over
        images of 1 / (number of images with the same attributes).
        """
        keys = np.stack([self.kind, self.colour, self.size, self.position, self.filled], 1)
        _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
        return float(np.mean(1.0 / counts[inverse.reshape(-1)]))


def shape_caption_vocabulary():
    """The `Vocabulary` of every word the caption templates can produce (ids fixed)."""
    phrases = [t.format(size="", fill="", colour="", kind="", where="") for t in _TEMPLATES]
    for words in (_KIND_WORDS, _COLOUR_WORDS, _SIZE_WORDS, _FILL_WORDS, _POSITION_WORDS):
        phrases += [p for options in words.values() for p in options]
    tokens = sorted({tok for p in phrases for tok in tokenize_text(p)})
    return Vocabulary(["<pad>", "<unk>", *tokens])


def _caption(rng, kind, colour, size, position, filled):
    def pick(options):
        return options[rng.integers(len(options))]

    template = pick(_TEMPLATES)
    return template.format(
        kind=pick(_KIND_WORDS[SHAPE_NAMES[kind]]),
        colour=pick(_COLOUR_WORDS[COLOUR_NAMES[colour]]),
        size=pick(_SIZE_WORDS[SIZE_NAMES[size]]),
        fill=pick(_FILL_WORDS[FILL_NAMES[int(filled)]]),
        where=pick(_POSITION_WORDS[POSITION_NAMES[position]]),
    )


def shape_captions(n, captions_per_image=5, image_size=32, seed=0):
    """Images of one shape each, with captions generated from their attributes.

    Each image has a dark background (grey level 0.05-0.3, Gaussian noise of
    standard deviation 0.03) and one shape of a uniformly drawn kind, colour
    (`COLOUR_NAMES`, each channel jittered by up to 0.06), size (radius 11-14% of
    the side for small, 18-22% for large), 3x3 grid cell (centres at 22%, 50% and
    78% of the side, jittered by up to 5%) and fill, at a random rotation. Every
    caption names all five attributes, with a random template and random synonyms.

    Args:
        n: int. Number of images.
        captions_per_image: int. Captions per image (Flickr and COCO have 5).
            Defaults to `5`.
        image_size: int >= 16. Side of the square images. Defaults to `32`.
        seed: int. Seed of `np.random.default_rng`. Defaults to `0`.

    Returns:
        A `ShapeCaptions`.

    Example:

    ```python
    from keras_dlss.datasets import shape_captions

    data = shape_captions(4, captions_per_image=2, seed=0)
    print(data.images.shape, data.tokens.shape)   # (4, 32, 32, 3) (4, 2, 16)
    print(data.captions[0][0])                     # e.g. "a small solid red star in the top left"
    ```

    References:
        Kiros et al. 2014, https://arxiv.org/abs/1411.2539
    """
    n = check_positive_int("n", n)
    per_image = check_positive_int("captions_per_image", captions_per_image)
    size = check_positive_int("image_size", image_size, minimum=16)
    rng = np.random.default_rng(seed)
    kind = rng.integers(0, len(SHAPE_NAMES), n)
    colour = rng.integers(0, len(COLOUR_NAMES), n)
    large = rng.integers(0, 2, n)
    position = rng.integers(0, 9, n)
    filled = rng.random(n) < 0.5
    radius = size * np.where(large, rng.uniform(0.18, 0.22, n), rng.uniform(0.11, 0.14, n))
    # Cell centres pulled in from the sixths to 0.22 / 0.5 / 0.78 of the side, so a
    # large shape at an edge cell loses at most a vertex to the border.
    centres = np.array([0.22, 0.5, 0.78]) * size
    jitter = rng.uniform(-size / 20, size / 20, (n, 2))
    cx = (centres[position % 3] + jitter[:, 0]).astype(np.float32)
    cy = (centres[position // 3] + jitter[:, 1]).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
    cover = _rasterize(size, kind, cx, cy, radius.astype(np.float32), angle, filled)
    paint = np.clip(_PALETTE[colour] + rng.uniform(-0.06, 0.06, (n, 3)), 0, 1)
    grey = rng.uniform(0.05, 0.3, n).astype(np.float32)
    images = np.where(cover[..., None], paint[:, None, None, :], grey[:, None, None, None])
    images = images + 0.03 * rng.standard_normal(images.shape)
    images = np.clip(images, 0.0, 1.0).astype(np.float32)
    captions = [
        [
            _caption(rng, kind[i], colour[i], large[i], position[i], filled[i])
            for _ in range(per_image)
        ]
        for i in range(n)
    ]
    flat = [c for row in captions for c in row]
    tokens = encode_texts(flat, shape_caption_vocabulary(), max_length=MAX_CAPTION_LENGTH)
    return ShapeCaptions(
        images=images,
        tokens=tokens.reshape(n, per_image, MAX_CAPTION_LENGTH).astype(np.int32),
        captions=captions,
        kind=kind.astype(np.int32),
        colour=colour.astype(np.int32),
        size=large.astype(np.int32),
        position=position.astype(np.int32),
        filled=filled,
    )
