"""Generated point clouds, their voxel and view renderings, and the 3D file readers."""

import numpy as np
import pytest

from keras_dlss.datasets import (
    COMPOSITE_NAMES,
    PART_NAMES,
    PRIMITIVE_NAMES,
    load_point_cloud,
    point_cloud_folder,
    point_clouds,
    read_off,
    read_ply,
    read_xyz,
    render_depth_views,
    sample_surface,
    shade_views,
    voxelize,
)
from keras_dlss.datasets import _surface_sampling as surf


def test_shapes_dtypes_balance_and_unit_ball():
    x, y = point_clouds(25, num_points=50, seed=1)
    assert x.shape == (25, 50, 3) and x.dtype == np.float32
    assert y.shape == (25,) and y.dtype == np.int32
    assert sorted(np.bincount(y, minlength=10)) == [2] * 5 + [3] * 5
    np.testing.assert_allclose(np.linalg.norm(x, axis=-1).max(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(x.mean(1), 0.0, atol=1e-5)


def test_deterministic_and_seed_dependent():
    a = point_clouds(20, num_points=32, rotation="so3", noise=0.02, seed=3)
    b = point_clouds(20, num_points=32, rotation="so3", noise=0.02, seed=3)
    c = point_clouds(20, num_points=32, rotation="so3", noise=0.02, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[0], c[0])


def test_rotation_is_a_rigid_motion_of_the_same_clouds():
    # Rotations are drawn after the shapes: same seed, same shapes, only rotated.
    x, _ = point_clouds(10, num_points=40, seed=2)
    for rotation in ("z", "so3"):
        r, _ = point_clouds(10, num_points=40, seed=2, rotation=rotation)
        np.testing.assert_allclose(
            np.linalg.norm(r, axis=-1), np.linalg.norm(x, axis=-1), atol=1e-5
        )
        assert not np.allclose(r, x, atol=1e-3)
    np.testing.assert_allclose(
        point_clouds(10, num_points=40, seed=2, rotation="z")[0][..., 2], x[..., 2], atol=1e-5
    )


def test_so3_rotations_are_proper_and_uniform():
    rng = np.random.default_rng(0)
    rot = surf.random_rotations(rng, 4000, "so3")
    np.testing.assert_allclose(
        rot @ rot.transpose(0, 2, 1), np.broadcast_to(np.eye(3), rot.shape), atol=1e-9
    )
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)
    # Haar measure: the image of a fixed axis is uniform on the sphere (mean ~0, E[z^2] = 1/3).
    axis = rot[:, :, 2]
    assert np.abs(axis.mean(0)).max() < 0.05
    assert abs((axis[:, 2] ** 2).mean() - 1 / 3) < 0.02


def test_noise_has_the_requested_scale():
    clean, _ = point_clouds(8, num_points=500, seed=5)
    noisy, _ = point_clouds(8, num_points=500, seed=5, noise=0.05)
    assert abs(np.std(noisy - clean) - 0.05) < 0.005


def test_primitives_lie_on_their_surfaces():
    rng = np.random.default_rng(0)
    cyl = surf.cylinder(rng, 3, 2000, 0.5, 1.0)
    rho = np.linalg.norm(cyl[..., :2], axis=-1)
    on_side, on_cap = np.isclose(rho, 0.5), np.isclose(np.abs(cyl[..., 2]), 1.0)
    assert np.all(on_side | on_cap)
    # Area-uniform: side 2πrh·2 = 2π vs caps 2πr² = π/2 -> 80% of the points on the side.
    assert abs(on_side.mean() - 0.8) < 0.03
    cube = surf.box(rng, 2, 3000, np.ones((2, 3)))
    assert np.all(np.isclose(np.abs(cube), 1.0).any(-1))
    faces = np.argmax(np.abs(cube), -1) * 2 + (
        cube[np.arange(2)[:, None], np.arange(3000), np.argmax(np.abs(cube), -1)] > 0
    )
    assert np.bincount(faces.ravel(), minlength=6).min() > 6000 / 6 * 0.85
    plane = surf.plane(rng, 1, 100, 1.0, 0.5)
    assert np.all(plane[..., 2] == 0) and np.abs(plane[..., 1]).max() <= 0.5


def test_classes_subset_and_labels():
    x, y = point_clouds(6, num_points=16, classes=["torus", "plane"])
    assert set(y.tolist()) == {0, 1}
    # A plane is flat: one principal axis has no variance (before noise and rotation).
    flat = x[y == 1]
    assert np.all(np.linalg.svd(flat - flat.mean(1, keepdims=True), compute_uv=False)[:, -1] < 1e-5)


def test_segmentation_parts():
    x, y = point_clouds(8, num_points=100, task="segment", seed=0)
    assert x.shape == (8, 100, 3) and y.shape == (8, 100) and y.dtype == np.int32
    assert len(COMPOSITE_NAMES) == 4 and len(PART_NAMES) == 10
    assert set(np.unique(y)) == set(range(len(PART_NAMES)))
    tables = y[(y == PART_NAMES.index("table_top")).any(1)]
    assert set(np.unique(tables)) == {0, 1}
    assert ((tables == 0).sum(1) == 60).all()  # 60% of the points on the top
    # Points are shuffled: labels are not sorted within a cloud.
    assert not np.all(np.diff(tables, axis=1) >= 0)


BAD_ARGUMENTS = [
    ({"n": 0}, "n"),
    ({"n": 4, "num_points": 0}, "num_points"),
    ({"n": 4, "rotation": "x"}, "rotation"),
    ({"n": 4, "noise": -1.0}, "noise"),
    ({"n": 4, "classes": ["sphere", "banana"]}, "classes"),
    ({"n": 4, "classes": ["sphere"], "task": "segment"}, "classes"),
    ({"n": 4, "task": "detect"}, "task"),
]


def test_bad_arguments():
    for kwargs, arg in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=f"`{arg}`.*Received"):
            point_clouds(**kwargs)


def test_voxelize_against_a_loop():
    rng = np.random.default_rng(0)
    points = rng.uniform(-1, 1, (2, 30, 3)).astype(np.float32)
    grid = voxelize(points, grid=8)
    expected = np.zeros((2, 8, 8, 8, 1), np.float32)
    for b in range(2):
        for p in points[b]:
            i, j, k = np.clip(((p + 1) / 2 * 8).astype(int), 0, 7)
            expected[b, i, j, k, 0] = 1
    np.testing.assert_array_equal(grid, expected)
    assert voxelize(points[0], grid=8).shape == (8, 8, 8, 1)


def test_render_keeps_the_nearest_point_and_matches_a_loop():
    # Camera 0 (azimuth 0, elevation 0) looks along -x: a larger x is nearer.
    points = np.array([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0], [0.0, 0.5, 0.5]], np.float32)
    img = render_depth_views(points, views=4, image_size=8, elevation=0.0)
    assert img.shape == (4, 8, 8, 1)
    np.testing.assert_allclose(img[0, 4, 4, 0], 1 - (1 - 0.5) / 2)  # the near point, depth 0.25
    assert (img[0] > 0).sum() == 2  # the far point is hidden behind the near one
    # Against a per-point loop on random clouds with the same projection.
    rng = np.random.default_rng(1)
    cloud = rng.uniform(-1, 1, (40, 3)).astype(np.float32)
    fast = render_depth_views(cloud, views=3, image_size=6)
    from keras_dlss.datasets.point_cloud_views import _camera_rotations

    slow = np.zeros_like(fast)
    for v, rot in enumerate(_camera_rotations(3, np.deg2rad(30.0))):
        for p in cloud @ rot.T.astype(np.float32):
            col, row = int(np.floor((p[0] + 1) / 2 * 6)), int(np.floor((1 - p[1]) / 2 * 6))
            if 0 <= col < 6 and 0 <= row < 6:
                slow[v, row, col, 0] = max(slow[v, row, col, 0], 1 - np.clip((1 - p[2]) / 2, 0, 1))
    np.testing.assert_allclose(fast, slow, atol=1e-6)


def test_shade_views():
    depth = render_depth_views(point_clouds(2, num_points=400)[0], views=2, image_size=16)
    shaded = shade_views(depth)
    assert shaded.shape == depth.shape and shaded.min() >= 0 and shaded.max() <= 1
    assert np.all(shaded[depth == 0] == 0)
    with pytest.raises(ValueError, match="`depth_views`"):
        shade_views(np.zeros((4, 4)))


def test_views_reject_empty_and_malformed_clouds():
    for fn in (voxelize, render_depth_views):
        with pytest.raises(ValueError, match="`points`.*empty point cloud.*Received"):
            fn(np.zeros((2, 0, 3)))
        with pytest.raises(ValueError, match="`points`.*Received: points.shape=\\(5, 2\\)"):
            fn(np.zeros((5, 2)))
        with pytest.raises(ValueError, match="`points` must be finite"):
            fn(np.full((1, 4, 3), np.nan))


CUBE_OFF = """OFF
# a unit cube as 6 quads
8 6 0
0 0 0
1 0 0
1 1 0
0 1 0
0 0 1
1 0 1
1 1 1
0 1 1
4 0 3 2 1
4 4 5 6 7
4 0 1 5 4
4 2 3 7 6
4 1 2 6 5
4 0 4 7 3
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_read_off_fans_polygons_and_samples_the_surface(tmp_path):
    vertices, faces = read_off(_write(tmp_path, "cube.off", CUBE_OFF))
    assert vertices.shape == (8, 3) and faces.shape == (12, 3)
    points = sample_surface(vertices, faces, 3000, seed=0)
    assert np.all(
        np.isclose(points, 0, atol=1e-6).any(-1) | np.isclose(points, 1, atol=1e-6).any(-1)
    )
    # ModelNet's quirk: the counts on the header line.
    quirk = CUBE_OFF.replace("OFF\n# a unit cube as 6 quads\n8 6 0", "OFF8 6 0")
    np.testing.assert_array_equal(read_off(_write(tmp_path, "q.off", quirk))[1], faces)


def test_sample_surface_is_area_uniform():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [3, 0, 0], [0, 3, 0]], float)
    faces = np.array([[0, 1, 2], [0, 3, 4]])  # areas 0.5 and 4.5, the small one inside the big one
    points = sample_surface(vertices, faces, 20000, seed=1)
    inside_small = points[:, 0] + points[:, 1] <= 1
    assert abs(inside_small.mean() - 0.1 * 2) < 0.02  # 0.5 of the small + 0.5 of the big's share
    with pytest.raises(ValueError, match="`faces`"):
        sample_surface(vertices, np.zeros((0, 3), int), 10)


MALFORMED_OFF = [
    ("PLY\n3 1 0\n", 1, "first line must be 'OFF'"),
    ("OFF\n3 x 0\n", 2, "expected int"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n", 6, "ends early"),
    ("OFF\n3 1 0\n0 0 0\n1 zero 0\n0 1 0\n3 0 1 2\n", 4, "expected float"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n", 6, "out of range"),
    ("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n4 0 1 2\n", 6, "lists 4 vertices"),
    ("OFF\n3 1 0\n0 0\n1 0 0\n0 1 0\n3 0 1 2\n", 3, "expected 3 values"),
    ("OFF\n0 0 0\n", 2, "no vertices"),
]


def test_malformed_off_names_the_line(tmp_path):
    for i, (text, line, what) in enumerate(MALFORMED_OFF):
        path = _write(tmp_path, f"bad{i}.off", text)
        with pytest.raises(
            ValueError, match=f"`path` is malformed at line {line}: .*{what}.*Received"
        ):
            read_off(path)


def test_read_xyz_and_ply(tmp_path):
    np.testing.assert_array_equal(
        read_xyz(_write(tmp_path, "p.xyz", "0 0 0 1\n# comment\n1,2,3\n")), [[0, 0, 0], [1, 2, 3]]
    )
    with pytest.raises(ValueError, match="line 2"):
        read_xyz(_write(tmp_path, "bad.xyz", "0 0 0\n1 2\n"))
    ply = (
        "ply\nformat ascii 1.0\nelement vertex 4\nproperty float z\nproperty float x\n"
        "property float y\nelement face 1\nproperty list uchar int vertex_indices\nend_header\n"
        "0 0 0\n0 1 0\n0 1 1\n0 0 1\n4 0 1 2 3\n"
    )
    vertices, faces = read_ply(_write(tmp_path, "quad.ply", ply))
    np.testing.assert_array_equal(vertices[2], [1, 1, 0])  # columns reordered to x, y, z
    assert faces.tolist() == [[0, 1, 2], [0, 2, 3]]
    binary = ply.replace("ascii", "binary_little_endian")
    with pytest.raises(ValueError, match="line 2: only ASCII"):
        read_ply(_write(tmp_path, "b.ply", binary))


def test_load_point_cloud_and_folder(tmp_path):
    for cls in ("box", "dots"):
        (tmp_path / cls / "train").mkdir(parents=True)
    for i in range(2):
        _write(tmp_path / "box" / "train", f"c{i}.off", CUBE_OFF)
        _write(tmp_path / "dots", f"d{i}.xyz", "0 0 0\n1 0 0\n0 1 0\n")
    cloud = load_point_cloud(str(tmp_path / "box" / "train" / "c0.off"), num_points=64)
    assert cloud.shape == (64, 3)
    np.testing.assert_allclose(np.linalg.norm(cloud, axis=-1).max(), 1.0, atol=1e-5)
    x, y, classes = point_cloud_folder(str(tmp_path), num_points=32)
    assert x.shape == (4, 32, 3) and y.tolist() == [0, 0, 1, 1] and classes == ["box", "dots"]
    with pytest.raises(ValueError, match="`path` must end in"):
        load_point_cloud(str(tmp_path / "x.obj"))
    with pytest.raises(ValueError, match="`root`"):
        point_cloud_folder(str(tmp_path / "box"))


def test_primitive_names():
    assert len(PRIMITIVE_NAMES) == 10 and len(set(PRIMITIVE_NAMES)) == 10
