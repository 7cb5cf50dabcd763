"""Procedural point clouds: a 3D recognition data set that needs no download.

`point_clouds(n)` samples points on the surfaces of ten primitives (sphere,
cube, cylinder, cone, torus, pyramid, capsule, ellipsoid, prism, plane), each
with random proportions, so a class is a family of shapes rather than one
template. Clouds are centred and scaled into the unit ball (as PointNet and
DGCNN preprocess ModelNet40), then optionally rotated (about z, or uniformly on
SO(3)) and jittered with Gaussian noise. With `task="segment"` the objects are
composites (table, lamp, rocket, mushroom) and every point carries the label of
the part it was sampled from, as in ShapeNet part segmentation.

Everything is sampled for all objects of a class at once (see
`_surface_sampling`): 10,000 clouds of 1,024 points take about a second. One
`np.random.default_rng(seed)` draws everything in a fixed order, so the same
arguments give the same arrays.
"""

import numpy as np

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.datasets import _surface_sampling as surf

__all__ = ["COMPOSITE_NAMES", "PART_NAMES", "PRIMITIVE_NAMES", "point_clouds"]

PRIMITIVE_NAMES = (
    "sphere",
    "cube",
    "cylinder",
    "cone",
    "torus",
    "pyramid",
    "capsule",
    "ellipsoid",
    "prism",
    "plane",
)
ROTATIONS = ("none", "z", "so3")
TASKS = ("classify", "segment")


def _u(rng, m, low, high):
    return rng.uniform(low, high, m)


# Each class: (rng, m, num_points) -> [m, num_points, 3], with its own spread of proportions.
_PRIMITIVES = {
    "sphere": lambda rng, m, p: surf.sphere(rng, m, p),
    "cube": lambda rng, m, p: surf.box(rng, m, p, rng.uniform(0.9, 1.1, (m, 3))),
    "cylinder": lambda rng, m, p: surf.cylinder(
        rng, m, p, _u(rng, m, 0.4, 0.6), _u(rng, m, 0.8, 1.2)
    ),
    "cone": lambda rng, m, p: surf.cone(rng, m, p, _u(rng, m, 0.6, 1.0), _u(rng, m, 0.6, 1.0)),
    "torus": lambda rng, m, p: surf.torus(rng, m, p, 1.0, _u(rng, m, 0.25, 0.4)),
    "pyramid": lambda rng, m, p: surf.pyramid(
        rng, m, p, _u(rng, m, 0.8, 1.0), _u(rng, m, 0.6, 1.0)
    ),
    "capsule": lambda rng, m, p: surf.capsule(
        rng, m, p, _u(rng, m, 0.35, 0.5), _u(rng, m, 0.6, 0.9)
    ),
    "ellipsoid": lambda rng, m, p: surf.ellipsoid(
        rng, m, p, np.stack([np.ones(m), _u(rng, m, 0.55, 0.7), _u(rng, m, 0.3, 0.4)], -1)
    ),
    "prism": lambda rng, m, p: surf.prism(rng, m, p, _u(rng, m, 0.8, 1.0), _u(rng, m, 0.5, 0.9)),
    "plane": lambda rng, m, p: surf.plane(rng, m, p, 1.0, _u(rng, m, 0.5, 1.0)),
}


def _shift(points, x=0.0, y=0.0, z=0.0):
    return points + np.array([x, y, z])


def _jit(rng, m, value):
    """`value` with ±10% per-object variation."""
    return value * rng.uniform(0.9, 1.1, m)


def _table(rng, m, counts):
    top = _shift(
        surf.box(
            rng,
            m,
            counts[0],
            np.stack([_jit(rng, m, 1.0), _jit(rng, m, 0.6), np.full(m, 0.05)], -1),
        ),
        z=0.5,
    )
    legs = []
    per_leg = np.diff(np.linspace(0, counts[1], 5).astype(int))
    for (sx, sy), k in zip(((-1, -1), (1, -1), (1, 1), (-1, 1)), per_leg):
        leg = surf.cylinder(rng, m, k, _jit(rng, m, 0.06), 0.45)
        legs.append(_shift(leg, 0.85 * sx, 0.45 * sy, 0.0))
    return [top, np.concatenate(legs, 1)]


def _lamp(rng, m, counts):
    base = _shift(surf.cylinder(rng, m, counts[0], _jit(rng, m, 0.5), 0.05), z=-0.9)
    pole = _shift(surf.cylinder(rng, m, counts[1], _jit(rng, m, 0.05), 0.6), z=-0.25)
    shade = _shift(surf.cone(rng, m, counts[2], _jit(rng, m, 0.6), _jit(rng, m, 0.3)), z=0.6)
    return [base, pole, shade]


def _rocket(rng, m, counts):
    radius = _jit(rng, m, 0.3)
    body = surf.cylinder(rng, m, counts[0], radius, 0.7)
    nose = _shift(surf.cone(rng, m, counts[1], radius, _jit(rng, m, 0.25)), z=0.95)
    half = counts[2] // 2
    span = _jit(rng, m, 0.6)
    fin_a = surf.box(rng, m, half, np.stack([span, np.full(m, 0.02), np.full(m, 0.2)], -1))
    fin_b = surf.box(
        rng, m, counts[2] - half, np.stack([np.full(m, 0.02), span, np.full(m, 0.2)], -1)
    )
    return [body, nose, _shift(np.concatenate([fin_a, fin_b], 1), z=-0.55)]


def _mushroom(rng, m, counts):
    stem = _shift(surf.cylinder(rng, m, counts[0], _jit(rng, m, 0.2), 0.45), z=-0.45)
    axes = np.stack([_jit(rng, m, 0.9), _jit(rng, m, 0.9), _jit(rng, m, 0.45)], -1)
    cap = surf.ellipsoid(rng, m, counts[1], axes)
    cap[..., 2] = np.abs(cap[..., 2])  # the upper half only: a dome
    return [stem, _shift(cap, z=0.0)]


# name -> (builder, part names, fraction of the points on each part)
_COMPOSITES = {
    "table": (_table, ("table_top", "table_leg"), (0.6, 0.4)),
    "lamp": (_lamp, ("lamp_base", "lamp_pole", "lamp_shade"), (0.25, 0.25, 0.5)),
    "rocket": (_rocket, ("rocket_body", "rocket_nose", "rocket_fin"), (0.5, 0.2, 0.3)),
    "mushroom": (_mushroom, ("mushroom_stem", "mushroom_cap"), (0.4, 0.6)),
}
COMPOSITE_NAMES = tuple(_COMPOSITES)
PART_NAMES = tuple(part for _, parts, _ in _COMPOSITES.values() for part in parts)


def _composite(rng, name, m, num_points):
    builder, parts, fractions = _COMPOSITES[name]
    counts = np.diff(np.round(np.cumsum((0.0,) + fractions) * num_points).astype(int))
    first = PART_NAMES.index(parts[0])
    points = np.concatenate(builder(rng, m, counts), axis=1)
    labels = np.repeat(np.arange(first, first + len(parts)), counts)
    labels = np.broadcast_to(labels, (m, num_points))
    # Shuffle each cloud so that nothing can be read from the point order.
    order = np.argsort(rng.random((m, num_points)), axis=1)
    return np.take_along_axis(points, order[..., None], 1), np.take_along_axis(labels, order, 1)


def _check_classes(classes, names):
    if classes is None:
        return tuple(names)
    classes = tuple(classes)
    bad = [c for c in classes if c not in names]
    if not classes or bad or len(set(classes)) != len(classes):
        raise ValueError(
            f"Argument `classes` must be distinct names from {list(names)}. Received: classes={classes!r}"
        )
    return classes


def point_clouds(
    n,
    num_points=1024,
    classes=None,
    noise=0.0,
    rotation="none",
    seed=0,
    task="classify",
):
    """Samples `n` point clouds of primitives (or part-labelled composites).

    Args:
        n: int. Number of clouds, >= 1. Classes are balanced: class `i` gets
            `n // num_classes` clouds, plus one for the first `n % num_classes`.
        num_points: int. Points per cloud, >= 1. Defaults to `1024`.
        classes: Optional sequence of names. For `task="classify"`, a subset of
            `PRIMITIVE_NAMES` (label `i` is `classes[i]`); for `"segment"`, a
            subset of `COMPOSITE_NAMES`. Defaults to all of them.
        noise: float >= 0. Standard deviation of the Gaussian jitter added to
            every coordinate, relative to the unit ball. Defaults to `0.0`.
        rotation: str. `"none"`, `"z"` (uniform about the vertical axis, the
            usual ModelNet augmentation) or `"so3"` (uniform over all
            rotations). Defaults to `"none"`.
        seed: int. Seed of everything random. Defaults to `0`.
        task: str. `"classify"` (one label per cloud) or `"segment"` (one part
            label per point, over `PART_NAMES`). Defaults to `"classify"`.

    Returns:
        `(points, labels)`: float32 `[n, num_points, 3]` clouds in the unit
        ball (before the noise), in shuffled order, and int32 labels `[n]`
        (classify) or `[n, num_points]` part ids (segment).

    Example:

    ```python
    from keras_dlss.datasets import point_clouds

    x, y = point_clouds(20, num_points=64, rotation="so3", noise=0.01)
    assert x.shape == (20, 64, 3) and y.shape == (20,)
    parts_x, parts_y = point_clouds(8, num_points=64, task="segment")
    assert parts_y.shape == (8, 64)
    ```

    References:
        Wu et al. 2015, "3D ShapeNets" (ModelNet), https://arxiv.org/abs/1406.5670;
        Yi et al. 2016, "A scalable active framework for region annotation in
        3D shape collections" (ShapeNet parts).
    """
    n = check_positive_int("n", n)
    num_points = check_positive_int("num_points", num_points)
    check_range("noise", noise, 0.0, None)
    check_one_of("rotation", rotation, ROTATIONS)
    check_one_of("task", task, TASKS)
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed!r}")
    names = _check_classes(classes, PRIMITIVE_NAMES if task == "classify" else COMPOSITE_NAMES)
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(names)
    rng.shuffle(labels)
    points = np.empty((n, num_points, 3))
    part_labels = np.empty((n, num_points), np.int32)
    for i, name in enumerate(names):
        idx = np.flatnonzero(labels == i)
        if not len(idx):
            continue
        if task == "classify":
            points[idx] = _PRIMITIVES[name](rng, len(idx), num_points)
        else:
            points[idx], part_labels[idx] = _composite(rng, name, len(idx), num_points)
    points = surf.normalize_to_unit_sphere(points)
    points = np.einsum("nij,npj->npi", surf.random_rotations(rng, n, rotation), points)
    if noise > 0:
        points = points + rng.normal(scale=noise, size=points.shape)
    y = labels.astype(np.int32) if task == "classify" else part_labels
    return points.astype(np.float32), y
