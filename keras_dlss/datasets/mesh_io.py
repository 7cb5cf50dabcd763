"""Readers for user 3D data: OFF meshes (ModelNet's format), XYZ and ASCII PLY.

`read_off` and `read_ply` return `(vertices, faces)` with polygons fanned into
triangles; `read_xyz` returns points. `sample_surface` draws area-uniform
points on a mesh, `load_point_cloud` turns any of the three into a normalized
cloud of a fixed size, and `point_cloud_folder` reads a class-per-folder tree
(ModelNet's `class/train/*.off` layout works too) for `keras-dlss train
pointnet --data FOLDER`.

Malformed files raise `ValueError` naming the argument, the file and the line
(1-based) where reading failed, so a user can open the file at that line.
ModelNet's OFF files sometimes run the header into the counts (`OFF490 518 0`);
that quirk is accepted.
"""

import os

import numpy as np

from keras_dlss._validation import check_positive_int
from keras_dlss.datasets import _surface_sampling as surf

__all__ = [
    "load_point_cloud",
    "point_cloud_folder",
    "read_off",
    "read_ply",
    "read_xyz",
    "sample_surface",
]

EXTENSIONS = (".off", ".ply", ".xyz", ".pts", ".txt")


def _error(path, line, message):
    return ValueError(
        f"Argument `path` is malformed at line {line}: {message}. Received: path={str(path)!r}"
    )


def _lines(path):
    """Non-empty, comment-free lines with their 1-based numbers."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = f.read().splitlines()
    except OSError as e:
        raise ValueError(
            f"Argument `path` could not be read: {e}. Received: path={str(path)!r}"
        ) from None
    out = []
    for number, line in enumerate(raw, 1):
        text = line.split("#", 1)[0].strip()
        if text:
            out.append((number, text))
    return out


def _numbers(path, number, text, kind, count=None):
    try:
        values = [kind(v) for v in text.split()]
    except ValueError:
        raise _error(path, number, f"expected {kind.__name__} values, found {text!r}") from None
    if count is not None and len(values) < count:
        raise _error(path, number, f"expected {count} values, found {len(values)} in {text!r}")
    return values


def _fan(path, number, indices, num_vertices):
    """Triangles `(i0, i_k, i_k+1)` of one polygon, indices checked."""
    if len(indices) < 3:
        raise _error(path, number, f"a face needs >= 3 vertices, found {len(indices)}")
    bad = [i for i in indices if not 0 <= i < num_vertices]
    if bad:
        raise _error(path, number, f"vertex index {bad[0]} is out of range [0, {num_vertices})")
    return [(indices[0], indices[k], indices[k + 1]) for k in range(1, len(indices) - 1)]


def _check_vertices(path, vertices, line):
    if not len(vertices):
        raise _error(path, line, "the file holds no vertices (an empty point cloud)")
    if not np.all(np.isfinite(vertices)):
        raise _error(path, line, "vertices must be finite")


def read_off(path):
    """Reads an OFF mesh (the Object File Format of ModelNet and Princeton's benchmark).

    Args:
        path: str or path-like. An ASCII `.off` file: `OFF`, then
            `num_vertices num_faces num_edges`, the vertices `x y z`, then faces
            `k i_1 ... i_k` (polygons are fanned into triangles).

    Returns:
        `(vertices, faces)`: float32 `[V, 3]` and int32 `[F, 3]`.

    Raises:
        ValueError: naming the line, for a missing header, bad counts,
            non-numeric values, missing vertices or faces, or out-of-range
            vertex indices.

    Example:

    ```python
    import tempfile, os
    from keras_dlss.datasets import read_off

    path = os.path.join(tempfile.mkdtemp(), "tri.off")
    with open(path, "w") as f:
        f.write("OFF\\n3 1 0\\n0 0 0\\n1 0 0\\n0 1 0\\n3 0 1 2\\n")
    vertices, faces = read_off(path)
    assert vertices.shape == (3, 3) and faces.tolist() == [[0, 1, 2]]
    ```
    """
    lines = _lines(path)
    if not lines or not lines[0][1].upper().startswith("OFF"):
        first = lines[0][0] if lines else 1
        raise _error(path, first, "the first line must be 'OFF'")
    number, header = lines[0]
    rest = header[3:].strip()  # ModelNet's "OFF490 518 0" quirk
    position = 1
    if not rest:
        if len(lines) < 2:
            raise _error(path, number + 1, "missing the 'num_vertices num_faces num_edges' line")
        number, rest = lines[1]
        position = 2
    counts = _numbers(path, number, rest, int, 2)
    num_vertices, num_faces = counts[0], counts[1]
    if num_vertices < 0 or num_faces < 0:
        raise _error(path, number, f"counts must be >= 0, found {counts[:2]}")
    body = lines[position:]
    if len(body) < num_vertices + num_faces:
        last = lines[-1][0] + 1
        raise _error(
            path,
            last,
            f"expected {num_vertices} vertices and {num_faces} faces, the file ends early",
        )
    vertices = np.array(
        [_numbers(path, n, text, float, 3)[:3] for n, text in body[:num_vertices]], np.float32
    ).reshape(-1, 3)
    _check_vertices(path, vertices, number)
    triangles = []
    for n, text in body[num_vertices : num_vertices + num_faces]:
        values = _numbers(path, n, text, int, 1)
        k = values[0]
        if len(values) < k + 1:
            raise _error(path, n, f"the face lists {k} vertices but gives {len(values) - 1}")
        triangles += _fan(path, n, values[1 : k + 1], num_vertices)
    return vertices, np.array(triangles, np.int32).reshape(-1, 3)


def read_xyz(path):
    """Reads a point file: one point per line, `x y z` then optional extra columns.

    Args:
        path: str or path-like. Whitespace- or comma-separated `.xyz`/`.pts`/`.txt`.

    Returns:
        float32 `[N, 3]`.

    Example:

    ```python
    import tempfile, os
    from keras_dlss.datasets import read_xyz

    path = os.path.join(tempfile.mkdtemp(), "p.xyz")
    with open(path, "w") as f:
        f.write("0 0 0\\n1, 2, 3, 0.5\\n")
    assert read_xyz(path).tolist() == [[0, 0, 0], [1, 2, 3]]
    ```
    """
    lines = _lines(path)
    points = np.array(
        [_numbers(path, n, text.replace(",", " "), float, 3)[:3] for n, text in lines], np.float32
    ).reshape(-1, 3)
    _check_vertices(path, points, 1)
    return points


def read_ply(path):
    """Reads an ASCII PLY file's vertices (`x`, `y`, `z` properties) and faces.

    Args:
        path: str or path-like. `format ascii 1.0` PLY; binary PLY is refused.

    Returns:
        `(vertices, faces)`: float32 `[V, 3]` and int32 `[F, 3]` (fanned;
        `[0, 3]` when the file has no faces).

    Example:

    ```python
    import tempfile, os
    from keras_dlss.datasets import read_ply

    path = os.path.join(tempfile.mkdtemp(), "p.ply")
    with open(path, "w") as f:
        f.write("ply\\nformat ascii 1.0\\nelement vertex 2\\nproperty float x\\n"
                "property float y\\nproperty float z\\nend_header\\n0 0 0\\n1 1 1\\n")
    vertices, faces = read_ply(path)
    assert vertices.shape == (2, 3) and faces.shape == (0, 3)
    ```
    """
    lines = _lines(path)
    if not lines or lines[0][1] != "ply":
        raise _error(path, lines[0][0] if lines else 1, "the first line must be 'ply'")
    elements, position = [], 1
    while position < len(lines) and lines[position][1] != "end_header":
        n, text = lines[position]
        words = text.split()
        if words[0] == "format" and words[1:2] != ["ascii"]:
            raise _error(path, n, f"only ASCII PLY is supported, found {text!r}")
        if words[0] == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise _error(path, n, f"expected 'element NAME COUNT', found {text!r}")
            elements.append((words[1], int(words[2]), []))
        elif words[0] == "property":
            if not elements:
                raise _error(path, n, "a property before any element")
            elements[-1][2].append(words[-1])
        position += 1
    if position == len(lines):
        raise _error(path, lines[-1][0] + 1, "missing 'end_header'")
    body, header_line = lines[position + 1 :], lines[position][0]
    vertices, triangles, num_vertices = None, [], 0
    for name, count, properties in elements:
        rows, body = body[:count], body[count:]
        if len(rows) < count:
            raise _error(
                path, lines[-1][0] + 1, f"expected {count} {name} rows, the file ends early"
            )
        if name == "vertex":
            if not {"x", "y", "z"} <= set(properties):
                raise _error(path, header_line, f"the vertex element lacks x, y, z: {properties}")
            cols = [properties.index(c) for c in "xyz"]
            table = [_numbers(path, n, t, float, len(properties)) for n, t in rows]
            vertices = np.array(table, np.float32).reshape(-1, len(properties))[:, cols]
            num_vertices = len(vertices)
        elif name == "face":
            for n, text in rows:
                values = _numbers(path, n, text, int, 1)
                if len(values) < values[0] + 1:
                    raise _error(
                        path, n, f"the face lists {values[0]} vertices but gives {len(values) - 1}"
                    )
                triangles += _fan(path, n, values[1 : values[0] + 1], num_vertices)
    if vertices is None:
        raise _error(path, header_line, "no 'element vertex' in the header")
    _check_vertices(path, vertices, header_line)
    return vertices, np.array(triangles, np.int32).reshape(-1, 3)


def sample_surface(vertices, faces, num_points, seed=0):
    """Area-uniform points on a triangle mesh.

    Args:
        vertices: float `[V, 3]`.
        faces: int `[F, 3]`, F >= 1, with at least one non-degenerate triangle.
        num_points: int >= 1.
        seed: int.

    Returns:
        float32 `[num_points, 3]`.
    """
    vertices = np.asarray(vertices, np.float64)
    faces = np.asarray(faces)
    num_points = check_positive_int("num_points", num_points)
    if faces.ndim != 2 or faces.shape[1] != 3 or not len(faces):
        raise ValueError(
            f"Argument `faces` must have shape [F >= 1, 3]. Received: faces.shape={faces.shape}"
        )
    triangles = vertices[faces][None]
    if not np.any(
        np.linalg.norm(
            np.cross(
                triangles[..., 1, :] - triangles[..., 0, :],
                triangles[..., 2, :] - triangles[..., 0, :],
            ),
            axis=-1,
        )
        > 0
    ):
        raise ValueError(
            "Argument `faces` must hold a triangle of non-zero area. Received: only degenerate faces"
        )
    rng = np.random.default_rng(seed)
    return surf.sample_triangles(rng, triangles, num_points)[0].astype(np.float32)


def load_point_cloud(path, num_points=1024, seed=0):
    """Reads `.off`/`.ply` (surface-sampled when it has faces) or `.xyz`/`.pts`/`.txt` points.

    The cloud is resampled to `num_points` (with replacement when the file has
    fewer points) and normalized into the unit ball, as `point_clouds` is.

    Args:
        path: str or path-like.
        num_points: int >= 1.
        seed: int. Seed of the sampling.

    Returns:
        float32 `[num_points, 3]`.
    """
    num_points = check_positive_int("num_points", num_points)
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in EXTENSIONS:
        raise ValueError(
            f"Argument `path` must end in one of {EXTENSIONS}. Received: path={str(path)!r}"
        )
    faces = np.zeros((0, 3), np.int32)
    if ext == ".off":
        points, faces = read_off(path)
    elif ext == ".ply":
        points, faces = read_ply(path)
    else:
        points = read_xyz(path)
    if len(faces):
        cloud = sample_surface(points, faces, num_points, seed)
    else:
        rng = np.random.default_rng(seed)
        cloud = points[rng.choice(len(points), num_points, replace=len(points) < num_points)]
    return surf.normalize_to_unit_sphere(cloud.astype(np.float64)).astype(np.float32)


def point_cloud_folder(root, num_points=1024, seed=0):
    """Reads a class-per-folder tree of 3D files: `root/CLASS/**/*.off` (or .ply/.xyz).

    Args:
        root: str or path-like. Its sub-folders are the classes (sorted).
        num_points: int >= 1. Points per cloud.
        seed: int.

    Returns:
        `(points, labels, class_names)`: float32 `[n, num_points, 3]`, int32
        `[n]`, list of str.
    """
    root = str(root)
    if not os.path.isdir(root):
        raise ValueError(
            f"Argument `root` must be a folder of class folders. Received: root={root!r}"
        )
    classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
    clouds, labels = [], []
    for label, name in enumerate(classes):
        for folder, _, files in sorted(os.walk(os.path.join(root, name))):
            for file in sorted(files):
                if file.lower().endswith(EXTENSIONS):
                    path = os.path.join(folder, file)
                    clouds.append(load_point_cloud(path, num_points, seed + len(clouds)))
                    labels.append(label)
    if len(set(labels)) < 2:
        raise ValueError(
            f"Argument `root` must hold >= 2 class folders with {EXTENSIONS} files. "
            f"Received: root={root!r} with classes {classes}"
        )
    return np.stack(clouds), np.array(labels, np.int32), classes
