"""Sort-of-CLEVR (Santoro et al. 2017, section 4.2): a generated relational-reasoning VQA set.

Each image shows six objects of six distinct colours on a white canvas, each a square
or a circle, at non-overlapping random positions. Each question names one object by
its colour and asks either a non-relational question about it alone, or a relational
one that needs the other objects:

| kind | subtype | answer |
|---|---|---|
| non-relational | shape | square / circle |
| non-relational | left | yes / no: is it in the left half? |
| non-relational | top | yes / no: is it in the top half? |
| relational | closest | the shape of the object closest to it |
| relational | furthest | the shape of the object furthest from it |
| relational | count | how many objects (1-6) have its shape |

As in the paper, a question is a fixed-length binary vector, not text: a one-hot
colour (6), a one-hot kind (2: non-relational, relational) and a one-hot subtype (3),
11 values; answers are one of 10 classes, `ANSWERS`. The paper draws 75×75 images;
the default here is 32×32 with 5-pixel objects so a CPU can train on it in minutes.

Everything comes from one `np.random.default_rng(seed)`: the same arguments give the
same arrays.
"""

import dataclasses

import numpy as np

from keras_dlss._validation import check_positive_int

__all__ = [
    "ANSWERS",
    "COLORS",
    "QUESTION_SUBTYPES",
    "SortOfCLEVR",
    "describe_question",
    "sort_of_clevr",
]

COLORS = ("red", "green", "blue", "orange", "gray", "yellow")
_RGB = np.array(
    [
        [1.0, 0.0, 0.0],
        [0.0, 0.6, 0.0],
        [0.0, 0.0, 1.0],
        [1.0, 0.55, 0.0],
        [0.5, 0.5, 0.5],
        [1.0, 0.9, 0.0],
    ],
    "float32",
)
SHAPES = ("square", "circle")
ANSWERS = ("yes", "no", "square", "circle", "1", "2", "3", "4", "5", "6")
QUESTION_SUBTYPES = {
    "non-relational": ("shape", "left", "top"),
    "relational": ("closest", "furthest", "count"),
}
QUESTION_DIM = len(COLORS) + 2 + 3


@dataclasses.dataclass
class SortOfCLEVR:
    """A generated Sort-of-CLEVR set: one row per question.

    Attributes:
        images: float32 `[N, H, W, 3]` in [0, 1], one image per question (an image's
            questions share it; rows of one image are contiguous).
        questions: float32 `[N, 11]`: colour one-hot (`COLORS`), kind one-hot
            (non-relational, relational), subtype one-hot (`QUESTION_SUBTYPES`).
        answers: int32 `[N]`, indices into `ANSWERS`.
        relational: bool `[N]`, True for relational questions.
        image_index: int32 `[N]`, which generated image each question is about.
    """

    images: np.ndarray
    questions: np.ndarray
    answers: np.ndarray
    relational: np.ndarray
    image_index: np.ndarray

    def subset(self, rows):
        """The questions at `rows` (an index array or a boolean mask)."""
        return SortOfCLEVR(*(getattr(self, f.name)[rows] for f in dataclasses.fields(self)))


def describe_question(question):
    """The English reading of an 11-value question vector, e.g. "red: closest shape?"."""
    q = np.asarray(question)
    color = COLORS[int(np.argmax(q[:6]))]
    kind = ("non-relational", "relational")[int(np.argmax(q[6:8]))]
    return f"{color}: {QUESTION_SUBTYPES[kind][int(np.argmax(q[8:11]))]}? ({kind})"


def sort_of_clevr(num_images=1000, questions_per_image=10, image_size=32, object_size=5, seed=0):
    """Generates Sort-of-CLEVR images with relational and non-relational questions.

    Args:
        num_images: int >= 1. Number of distinct images.
        questions_per_image: int >= 2. Questions per image, half non-relational and
            half relational (the paper: 10 of each). Defaults to `10`.
        image_size: int. Side of the square images in pixels, at least
            `4 * object_size`. Defaults to `32` (the paper: 75).
        object_size: int >= 3. Side of a square / diameter of a circle. Defaults to `5`.
        seed: int. Seed of every random draw.

    Returns:
        A `SortOfCLEVR` with `num_images * questions_per_image` rows.

    Example:

    ```python
    from keras_dlss.datasets import sort_of_clevr
    from keras_dlss.datasets.sort_of_clevr import ANSWERS, describe_question

    data = sort_of_clevr(num_images=4, seed=0)
    print(data.images.shape, data.questions.shape)   # (40, 32, 32, 3) (40, 11)
    print(describe_question(data.questions[5]), ANSWERS[data.answers[5]])
    ```

    References:
        Santoro et al. 2017, "A simple neural network module for relational
        reasoning" (NeurIPS), https://arxiv.org/abs/1706.01427
    """
    num_images = check_positive_int("num_images", num_images)
    per_image = check_positive_int("questions_per_image", questions_per_image, minimum=2)
    object_size = check_positive_int("object_size", object_size, minimum=3)
    image_size = check_positive_int("image_size", image_size, minimum=4 * object_size)
    rng = np.random.default_rng(seed)
    canvases, centres, shapes = [], [], []
    for _ in range(num_images):
        canvas, centre, shape = _draw_image(rng, image_size, object_size)
        canvases.append(canvas)
        centres.append(centre)
        shapes.append(shape)
    centres, shapes = np.stack(centres), np.stack(shapes)  # [I, 6, 2] (row, col), [I, 6]

    n = num_images * per_image
    image_index = np.repeat(np.arange(num_images), per_image).astype("int32")
    relational = np.tile(np.arange(per_image) >= per_image // 2, num_images)
    color = rng.integers(0, len(COLORS), n)
    subtype = rng.integers(0, 3, n)
    questions = np.zeros((n, QUESTION_DIM), "float32")
    questions[np.arange(n), color] = 1.0
    questions[np.arange(n), 6 + relational.astype(int)] = 1.0
    questions[np.arange(n), 8 + subtype] = 1.0
    answers = _answers(
        centres[image_index], shapes[image_index], color, subtype, relational, image_size
    )
    return SortOfCLEVR(
        np.stack(canvases)[image_index], questions, answers.astype("int32"), relational, image_index
    )


def _draw_image(rng, size, obj):
    """Six objects, one per colour, at centres at least `obj + 1` apart (no overlap)."""
    half = obj // 2
    centres = []
    while len(centres) < len(COLORS):
        # Candidates in blocks of 32: one generator call, not one per rejected draw.
        for c in rng.integers(half, size - half, (32, 2)):
            if all(np.max(np.abs(c - p)) > obj for p in centres):
                centres.append(c)
                if len(centres) == len(COLORS):
                    break
    centres = np.array(centres)
    shape = rng.integers(0, 2, len(COLORS))  # 0 square, 1 circle
    canvas = np.ones((size, size, 3), "float32")
    offsets = np.arange(obj) - (obj - 1) / 2.0
    disk = offsets[:, None] ** 2 + offsets[None, :] ** 2 <= (obj / 2.0) ** 2
    for k, ((r, c), s) in enumerate(zip(centres, shape)):
        patch = canvas[r - half : r - half + obj, c - half : c - half + obj]
        mask = disk if s else np.ones_like(disk)
        patch[mask[: patch.shape[0], : patch.shape[1]]] = _RGB[k]
    return canvas, centres, shape


def _answers(centres, shapes, color, subtype, relational, size):
    """Answer indices for questions about object `color` of images `centres`/`shapes`."""
    n = len(color)
    rows = np.arange(n)
    own = centres[rows, color].astype("float64")  # [n, 2] (row, col)
    own_shape = shapes[rows, color]
    distance = np.linalg.norm(centres - own[:, None], axis=-1)  # [n, 6]
    near = np.where(np.arange(6)[None] == color[:, None], np.inf, distance).argmin(1)
    far = distance.argmax(1)
    yes_no = lambda b: np.where(b, 0, 1)  # noqa: E731 (ANSWERS: yes = 0, no = 1)
    non_relational = np.select(
        [subtype == 0, subtype == 1],
        [2 + own_shape, yes_no(own[:, 1] < size / 2)],
        yes_no(own[:, 0] < size / 2),
    )
    count = (shapes == own_shape[:, None]).sum(1)  # includes the object itself: 1..6
    relational_answer = np.select(
        [subtype == 0, subtype == 1],
        [2 + shapes[rows, near], 2 + shapes[rows, far]],
        3 + count,
    )
    return np.where(relational, relational_answer, non_relational)
