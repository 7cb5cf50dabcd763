"""Vectorized surface sampling of primitives and triangle meshes (internal).

Every sampler draws `num_points` points on the surfaces of `m` shapes at once,
returning `[m, num_points, 3]`; shape parameters are arrays of length `m`, so a
batch of cylinders with different radii is one NumPy expression. Curved
surfaces pick a patch (side or cap) with probability proportional to its area,
then sample the patch uniformly; polyhedra are triangle meshes sampled by
`sample_triangles` (face chosen by area, then the square-root barycentric trick
of Osada et al. 2002, "Shape distributions"), which `mesh_io` reuses for OFF
and PLY meshes. Tori and ellipsoids are sampled uniformly in their angles, not
in area: the density varies a little over their surfaces.
"""

import numpy as np


def _column(a, m):
    return np.broadcast_to(np.asarray(a, np.float64), (m,))[:, None]


def sample_triangles(rng, triangles, num_points):
    """Area-uniform points on `m` triangle meshes `[m, F, 3, 3]` -> `[m, num_points, 3]`."""
    triangles = np.asarray(triangles, np.float64)
    a, b, c = triangles[:, :, 0], triangles[:, :, 1], triangles[:, :, 2]
    areas = 0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=-1)
    total = areas.sum(-1, keepdims=True)
    cdf = np.cumsum(areas / np.where(total > 0, total, 1.0), axis=-1)
    u = rng.random((len(triangles), num_points))
    # One search per mesh row: vectorized over rows by offsetting each row's cdf by its index.
    offsets = np.arange(len(triangles))[:, None]
    face = np.searchsorted((cdf + offsets).ravel(), (u + offsets).ravel(), side="right")
    face = np.minimum(face.reshape(u.shape) - offsets * cdf.shape[1], cdf.shape[1] - 1)
    rows = offsets.repeat(num_points, 1)
    r1 = np.sqrt(rng.random(u.shape))[..., None]
    r2 = rng.random(u.shape)[..., None]
    pa, pb, pc = a[rows, face], b[rows, face], c[rows, face]
    return (1 - r1) * pa + r1 * (1 - r2) * pb + r1 * r2 * pc


def _unit_vectors(rng, shape):
    v = rng.normal(size=shape + (3,))
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _choose(rng, weights, num_points):
    """Index of the patch for each point, with probabilities `weights [m, P]` (row-normalized)."""
    cdf = np.cumsum(weights / weights.sum(-1, keepdims=True), axis=-1)
    u = rng.random((len(weights), num_points))
    return np.minimum((u[..., None] >= cdf[:, None, :]).sum(-1), weights.shape[1] - 1)


def sphere(rng, m, num_points, radius=1.0):
    return _unit_vectors(rng, (m, num_points)) * _column(radius, m)[..., None]


def ellipsoid(rng, m, num_points, axes):
    return _unit_vectors(rng, (m, num_points)) * np.asarray(axes, np.float64)[:, None, :]


def cylinder(rng, m, num_points, radius, half_height):
    r, h = _column(radius, m), _column(half_height, m)
    patch = _choose(rng, np.concatenate([4 * h * r, r * r, r * r], axis=1), num_points)
    theta = rng.uniform(0, 2 * np.pi, (m, num_points))
    rho = np.where(patch == 0, r, r * np.sqrt(rng.random((m, num_points))))
    z = np.where(patch == 0, rng.uniform(-1, 1, (m, num_points)) * h, np.where(patch == 1, h, -h))
    return np.stack([rho * np.cos(theta), rho * np.sin(theta), z], axis=-1)


def cone(rng, m, num_points, radius, half_height):
    r, h = _column(radius, m), _column(half_height, m)
    slant = np.sqrt(r * r + 4 * h * h)
    patch = _choose(rng, np.concatenate([r * slant, r * r], axis=1), num_points)
    # sqrt(u) makes the lateral density uniform in area (the circumference grows linearly).
    t = np.sqrt(rng.random((m, num_points)))
    theta = rng.uniform(0, 2 * np.pi, (m, num_points))
    rho = r * t
    z = np.where(patch == 0, h - 2 * h * t, -h)
    return np.stack([rho * np.cos(theta), rho * np.sin(theta), z], axis=-1)


def capsule(rng, m, num_points, radius, half_length):
    r, h = _column(radius, m), _column(half_length, m)
    patch = _choose(rng, np.concatenate([2 * h, r], axis=1), num_points)  # 4πrh vs 4πr²
    side = cylinder(rng, m, num_points, radius, half_length)
    cap = _unit_vectors(rng, (m, num_points)) * r[..., None]
    cap[..., 2] += np.sign(cap[..., 2]) * h
    return np.where((patch == 0)[..., None], side, cap)


def torus(rng, m, num_points, major, minor):
    big, small = _column(major, m), _column(minor, m)
    u = rng.uniform(0, 2 * np.pi, (m, num_points))
    v = rng.uniform(0, 2 * np.pi, (m, num_points))
    ring = big + small * np.cos(v)
    return np.stack([ring * np.cos(u), ring * np.sin(u), small * np.sin(v)], axis=-1)


def box(rng, m, num_points, half_sizes):
    """A box with half side lengths `[m, 3]`, as 12 triangles."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    faces = np.array(
        [
            [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
            [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],
        ]
    )  # fmt: skip
    vertices = corners[None] * np.asarray(half_sizes, float)[:, None, :]
    return sample_triangles(rng, vertices[:, faces], num_points)


def pyramid(rng, m, num_points, half_base, half_height):
    """A square pyramid: four sides and the base."""
    a, h = _column(half_base, m)[:, 0], _column(half_height, m)[:, 0]
    zeros = np.zeros(m)
    apex = np.stack([zeros, zeros, h], -1)
    base = [np.stack([sx * a, sy * a, -h], -1) for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    tris = [(base[i], base[(i + 1) % 4], apex) for i in range(4)]
    tris += [(base[0], base[2], base[1]), (base[0], base[3], base[2])]
    return sample_triangles(rng, np.stack([np.stack(t, 1) for t in tris], 1), num_points)


def prism(rng, m, num_points, radius, half_height):
    """A triangular prism: an equilateral triangle of circumradius `radius` extruded."""
    r, h = _column(radius, m)[:, 0], _column(half_height, m)[:, 0]
    angles = np.pi / 2 + 2 * np.pi * np.arange(3) / 3
    top = [np.stack([r * np.cos(t), r * np.sin(t), h], -1) for t in angles]
    bottom = [np.stack([r * np.cos(t), r * np.sin(t), -h], -1) for t in angles]
    tris = [(top[0], top[1], top[2]), (bottom[0], bottom[2], bottom[1])]
    for i in range(3):
        j = (i + 1) % 3
        tris += [(bottom[i], bottom[j], top[j]), (bottom[i], top[j], top[i])]
    return sample_triangles(rng, np.stack([np.stack(t, 1) for t in tris], 1), num_points)


def plane(rng, m, num_points, half_width, half_depth):
    """A flat rectangle in the z = 0 plane (a surface with no volume)."""
    w, d = _column(half_width, m), _column(half_depth, m)
    u = rng.uniform(-1, 1, (m, num_points)) * w
    v = rng.uniform(-1, 1, (m, num_points)) * d
    return np.stack([u, v, np.zeros_like(u)], axis=-1)


def random_rotations(rng, m, mode):
    """`[m, 3, 3]` rotations: identity, about z, or uniform on SO(3) (unit quaternions)."""
    if mode == "none":
        return np.broadcast_to(np.eye(3), (m, 3, 3)).copy()
    if mode == "z":
        t = rng.uniform(0, 2 * np.pi, m)
        c, s, o, i = np.cos(t), np.sin(t), np.zeros(m), np.ones(m)
        return np.stack(
            [np.stack([c, -s, o], -1), np.stack([s, c, o], -1), np.stack([o, o, i], -1)], 1
        )
    # A normalized 4-D Gaussian is uniform on S^3, hence its rotation is Haar-uniform on SO(3).
    q = rng.normal(size=(m, 4))
    w, x, y, z = (q / np.linalg.norm(q, axis=-1, keepdims=True)).T
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        1,
    )


def normalize_to_unit_sphere(points):
    """Centres each cloud `[..., N, 3]` at its centroid and scales it into the unit ball."""
    points = points - points.mean(axis=-2, keepdims=True)
    radius = np.linalg.norm(points, axis=-1).max(axis=-1)[..., None, None]
    return points / np.maximum(radius, 1e-12)
