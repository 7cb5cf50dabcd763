"""Procedural geometric shapes: an image data set that needs no download.

Each image shows a filled or outlined shape (circle, square, triangle, star,
cross, ring, ellipse, pentagon, hexagon, arrow) at a random position, scale,
rotation and colour, over a noisy, textured or plain background, and half of
the images have a distractor (a bar or a blob) drawn over part of the shape.
Colour and position carry no class information, so a linear model on the
pixels stays near chance while a small convolutional network learns it.

Shapes are rasterized for a whole batch at once: every pixel centre is mapped
into each image's shape frame (translate, rotate, scale) with NumPy
broadcasting over ``[n, H, W]``, and membership is a closed-form test in that
frame (a distance for circles and rings, half-planes for convex polygons, a
polar radius for the star). Outlines are the shape minus a shrunken copy of
itself, so every kind gets an outline without its own distance function.
Nothing is drawn per image in Python, which keeps 10,000 images at 32x32 to
about a second.

One `np.random.default_rng(seed)` draws everything in a fixed order: the same
arguments give the same arrays.
"""

import numpy as np

from keras_dlss._validation import check_one_of, check_positive_int, check_range

__all__ = ["SHAPE_NAMES", "shapes"]

SHAPE_NAMES = (
    "circle",
    "square",
    "triangle",
    "star",
    "cross",
    "ring",
    "ellipse",
    "pentagon",
    "hexagon",
    "arrow",
)
TASKS = ("classify", "segment", "count")
BACKGROUNDS = ("noise", "texture", "plain")


def _regular_polygon(u, v, sides):
    """Inside a regular polygon of circumradius 1: all half-planes at the apothem."""
    apothem = np.cos(np.pi / sides)
    inside = np.ones(u.shape, bool)
    for k in range(sides):
        a = 2 * np.pi * k / sides
        inside &= u * np.cos(a) + v * np.sin(a) <= apothem
    return inside


def _star(u, v, points=5, inner=0.45):
    """Inside a star polygon: compare the radius with the boundary's radius on the same ray.

    The boundary alternates radius 1 and `inner` at equal angles `step`; on a ray
    at angle `t` past vertex i it crosses the edge (r_i, r_j) at
    ``r_i r_j sin(step) / (r_i sin(t) + r_j sin(step - t))``.
    """
    step = np.pi / points
    phi = np.mod(np.arctan2(v, u), 2 * np.pi)
    sector = np.floor(phi / step)
    t = phi - sector * step
    even = np.mod(sector, 2) == 0
    r_i, r_j = np.where(even, 1.0, inner), np.where(even, inner, 1.0)
    edge = r_i * r_j * np.sin(step) / (r_i * np.sin(t) + r_j * np.sin(step - t))
    return u * u + v * v <= edge * edge


def _cross(u, v):
    au, av = np.abs(u), np.abs(v)
    return ((au <= 0.3) & (av <= 0.9)) | ((av <= 0.3) & (au <= 0.9))


def _ring(u, v):
    r2 = u * u + v * v
    return (r2 <= 1.0) & (r2 >= 0.55**2)


def _arrow(u, v):
    shaft = (np.abs(v) <= 0.2) & (u >= -0.9) & (u <= 0.2)
    head = (u >= 0.2) & (np.abs(v) <= 0.55 * (0.95 - u) / 0.75)
    return shaft | head


_INSIDE = (
    lambda u, v: u * u + v * v <= 1.0,
    lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.75,
    lambda u, v: _regular_polygon(u, v, 3),
    _star,
    _cross,
    _ring,
    lambda u, v: u * u + (v / 0.5) ** 2 <= 1.0,
    lambda u, v: _regular_polygon(u, v, 5),
    lambda u, v: _regular_polygon(u, v, 6),
    _arrow,
)


def _local_coords(size, cx, cy, radius, angle):
    """Pixel centres in each image's shape frame: two [m, H, W] arrays."""
    grid = np.arange(size, dtype=np.float32) + 0.5
    dx = grid[None, None, :] - cx[:, None, None]
    dy = grid[None, :, None] - cy[:, None, None]
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    scale = radius[:, None, None]
    return (cos * dx + sin * dy) / scale, (cos * dy - sin * dx) / scale


def _rasterize(size, kinds, cx, cy, radius, angle, filled):
    """Boolean [m, H, W] coverage of shape `kinds[i]` in image i (one pass per kind)."""
    u, v = _local_coords(size, cx, cy, radius, angle)
    # An outline is the shape minus itself shrunk about the centre; the band is
    # at least ~1.3 px wide so thin outlines still cover pixel centres.
    shrink = np.clip(1.0 - np.maximum(0.35, 1.3 / radius), 0.0, None)[:, None, None]
    out = np.zeros(u.shape, bool)
    for kind in np.unique(kinds):
        idx = np.flatnonzero(kinds == kind)
        uk, vk, inside = u[idx], v[idx], _INSIDE[kind]
        cover = inside(uk, vk)
        hollow = ~filled[idx]
        if hollow.any():
            k = np.maximum(shrink[idx][hollow], 1e-3)
            cover[hollow] &= ~inside(uk[hollow] / k, vk[hollow] / k)
        out[idx] = cover
    return out


def _backgrounds(rng, n, size, background):
    """Float [n, H, W, 3] backgrounds and each image's base colour [n, 3]."""
    base = rng.random((n, 3), dtype=np.float32)
    image = np.broadcast_to(base[:, None, None, :], (n, size, size, 3)).copy()
    if background == "texture":
        grid = np.arange(size, dtype=np.float32)
        for _ in range(2):  # two gratings: stripes and plaids at random angles and periods
            theta = rng.uniform(0, np.pi, n).astype(np.float32)
            freq = rng.uniform(0.3, 1.2, n).astype(np.float32)
            phase = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
            tint = rng.uniform(-0.15, 0.15, (n, 3)).astype(np.float32)
            wave = np.sin(
                (freq * np.cos(theta))[:, None, None] * grid[None, None, :]
                + (freq * np.sin(theta))[:, None, None] * grid[None, :, None]
                + phase[:, None, None]
            )
            image += wave[..., None] * tint[:, None, None, :]
    return image, base


def _contrasting(rng, base):
    """Colours at least 0.3 away from `base` in every channel (shifted by 0.5 +- 0.2 mod 1)."""
    return np.mod(base + 0.5 + rng.uniform(-0.2, 0.2, base.shape), 1.0).astype(np.float32)


def _occluders(rng, size, cx, cy, radius):
    """A bar through or a blob on the edge of each shape: boolean [n, H, W]."""
    n = len(cx)
    grid = np.arange(size, dtype=np.float32) + 0.5
    px, py = grid[None, None, :], grid[None, :, None]
    # Bars are at most 0.4 radius wide and blobs 0.45 radius across, so some of
    # the shape always stays visible.
    ox = cx + radius * rng.uniform(-0.5, 0.5, n)
    oy = cy + radius * rng.uniform(-0.5, 0.5, n)
    theta = rng.uniform(0, np.pi, n)
    half_width = radius * rng.uniform(0.1, 0.2, n)
    dist = np.abs(
        (px - ox[:, None, None]) * np.sin(theta)[:, None, None]
        - (py - oy[:, None, None]) * np.cos(theta)[:, None, None]
    )
    bar = dist <= half_width[:, None, None]
    direction = rng.uniform(0, 2 * np.pi, n)
    reach = radius * rng.uniform(0.6, 1.0, n)
    bx, by = cx + reach * np.cos(direction), cy + reach * np.sin(direction)
    blob_r = radius * rng.uniform(0.25, 0.45, n)
    blob = (px - bx[:, None, None]) ** 2 + (py - by[:, None, None]) ** 2 <= (blob_r**2)[
        :, None, None
    ]
    kind = rng.random(n) < 0.5
    present = rng.random(n) < 0.5
    return np.where(kind[:, None, None], bar, blob) & present[:, None, None]


def _single_shape(rng, n, size, num_classes, background):
    labels = rng.permutation(np.arange(n) % num_classes)
    image, base = _backgrounds(rng, n, size, background)
    radius = (size * rng.uniform(0.22, 0.42, n)).astype(np.float32)
    margin = 0.8 * radius
    cx = rng.uniform(margin, size - margin).astype(np.float32)
    cy = rng.uniform(margin, size - margin).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
    filled = rng.random(n) < 0.5
    cover = _rasterize(size, labels, cx, cy, radius, angle, filled)
    image = np.where(cover[..., None], _contrasting(rng, base)[:, None, None, :], image)
    occluded = _occluders(rng, size, cx, cy, radius)
    occ_colour = rng.random((n, 3), dtype=np.float32)
    image = np.where(occluded[..., None], occ_colour[:, None, None, :], image)
    mask = np.where(cover & ~occluded, labels[:, None, None] + 1, 0).astype(np.int32)
    return image, labels.astype(np.int32), mask


def _counted_shapes(rng, n, size, num_classes, background):
    """Images with y shapes each, y in 0..num_classes-1, one per cell of a jittered grid."""
    counts = rng.permutation(np.arange(n) % num_classes)
    image, base = _backgrounds(rng, n, size, background)
    slots = max(num_classes - 1, 1)
    cells = int(np.ceil(np.sqrt(slots)))
    cell = size / cells
    order = np.argsort(rng.random((n, cells * cells)), axis=1)[:, :slots]
    colours = _contrasting(rng, base)
    for j in range(slots):
        active = np.flatnonzero(counts > j)
        m = len(active)
        kinds = rng.integers(0, len(SHAPE_NAMES), m)
        radius = (cell * rng.uniform(0.3, 0.42, m)).astype(np.float32)
        # Jitter keeps each shape inside its own cell: shapes never touch, so the
        # count is unambiguous.
        jitter = (cell / 2 - 1.05 * radius)[:, None] * rng.uniform(-1, 1, (m, 2))
        cx = ((order[active, j] % cells + 0.5) * cell + jitter[:, 0]).astype(np.float32)
        cy = ((order[active, j] // cells + 0.5) * cell + jitter[:, 1]).astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi, m).astype(np.float32)
        # Filled only: a few-pixel outline can break into pieces that look like two shapes.
        cover = _rasterize(size, kinds, cx, cy, radius, angle, np.ones(m, bool))
        image[active] = np.where(cover[..., None], colours[active][:, None, None, :], image[active])
    return image, counts.astype(np.int32)


def shapes(n, image_size=32, num_classes=10, task="classify", seed=0, background="noise"):
    """Procedural images of geometric shapes, for classification, segmentation or counting.

    The shape classes are the first `num_classes` of `SHAPE_NAMES`: circle,
    square, triangle, star, cross, ring, ellipse, pentagon, hexagon, arrow.
    Each shape is filled or outlined (half each), at a random position, scale
    (radius 22-42% of the image side), rotation and colour that contrasts with
    the background colour; half of the images of the `"classify"` and
    `"segment"` tasks have a random-coloured bar or blob drawn over part of the
    shape. Labels are balanced: each class appears `n // num_classes` or one
    more times, in random order. The same arguments give the same arrays.

    Args:
        n: int. Number of images.
        image_size: int. Side of the square images in pixels, at least 8.
            Defaults to `32`.
        num_classes: int. Number of shape classes (or of possible counts), 1 to
            10. Defaults to `10`.
        task: str. What the labels are:
            `"classify"`: `y` is the shape's class index in `[0, num_classes)`.
            `"segment"`: `y` is an int32 `[n, image_size, image_size]` mask with
            0 for background (and for occluded pixels) and `class + 1` (so
            `1..num_classes`) for the visible pixels of the shape.
            `"count"`: each image holds `y` non-overlapping filled shapes of random
            classes (any of the ten) on a jittered grid (on a plain
            background each is one 8-connected region), `y` uniform in
            `[0, num_classes)`, so `y` is both the count and the class index;
            no occluders. Defaults to `"classify"`.
        seed: int. Seed of `np.random.default_rng`. Defaults to `0`.
        background: str. `"noise"` (flat colour plus per-pixel Gaussian noise
            over the whole image), `"texture"` (two random colour gratings plus
            light noise) or `"plain"` (one flat colour, no noise). Defaults to
            `"noise"`.

    Returns:
        A tuple `(x, y)`: `x` float32 `[n, image_size, image_size, 3]` in
        `[0, 1]`, and `y` int32 `[n]` (classify, count) or
        `[n, image_size, image_size]` (segment).

    Example:

    ```python
    x, y = shapes(100, image_size=32, num_classes=4, seed=1)
    assert x.shape == (100, 32, 32, 3) and sorted(set(y.tolist())) == [0, 1, 2, 3]
    x, masks = shapes(8, task="segment")
    assert masks.shape == (8, 32, 32) and masks.max() <= 10
    ```
    """
    n = check_positive_int("n", n)
    image_size = check_positive_int("image_size", image_size, minimum=8)
    num_classes = check_positive_int("num_classes", num_classes)
    check_range("num_classes", num_classes, 1, len(SHAPE_NAMES))
    check_one_of("task", task, TASKS)
    check_one_of("background", background, BACKGROUNDS)
    rng = np.random.default_rng(seed)
    if task == "count":
        image, y = _counted_shapes(rng, n, image_size, num_classes, background)
    else:
        image, labels, mask = _single_shape(rng, n, image_size, num_classes, background)
        y = labels if task == "classify" else mask
    sigma = {"noise": 0.08, "texture": 0.04, "plain": 0.0}[background]
    if sigma:
        image += sigma * rng.standard_normal(image.shape, dtype=np.float32)
    return np.clip(image, 0.0, 1.0, out=image).astype(np.float32, copy=False), y
