"""Other views of a point cloud: occupancy grids and rendered depth images.

`voxelize` turns clouds into the binary occupancy grids VoxNet (Maturana &
Scherer 2015) convolves in 3D. `render_depth_views` renders the 12 views of
Su et al.'s multi-view CNN (2015): virtual cameras every 30 degrees around the
vertical axis, 30 degrees above the horizon, each an orthographic z-buffer
over the points. `shade_views` turns depth images into Lambertian-shaded ones
(normals from the depth gradient), the second stream of a late-fusion model.

All three are vectorized over every cloud, view and point: the z-buffer is one
`np.minimum.at` over flat pixel indices, not a loop over points.
"""

import numpy as np

from keras_dlss._validation import check_positive_int, check_range, shape_str

__all__ = ["render_depth_views", "shade_views", "voxelize"]


def _check_points(points):
    points = np.asarray(points, np.float32)
    if points.ndim not in (2, 3) or points.shape[-1] != 3:
        raise ValueError(
            "Argument `points` must have shape [num_points, 3] or [batch, num_points, 3]. "
            f"Received: points.shape={shape_str(points.shape)}"
        )
    if points.shape[-2] == 0:
        raise ValueError(
            f"Argument `points` must hold at least one point (an empty point cloud). "
            f"Received: points.shape={shape_str(points.shape)}"
        )
    if not np.all(np.isfinite(points)):
        raise ValueError("Argument `points` must be finite. Received: points containing NaN or inf")
    return points


def voxelize(points, grid=32, bounds=1.0):
    """Binary occupancy grids of point clouds.

    Args:
        points: float array `[num_points, 3]` or `[batch, num_points, 3]`.
        grid: int. Cells per side, >= 2. Defaults to `32` (VoxNet's grid).
        bounds: float > 0. The grid spans `[-bounds, bounds]` on each axis;
            points outside are clipped to the border cells. Defaults to `1.0`
            (the unit ball of `point_clouds`).

    Returns:
        float32 `[grid, grid, grid, 1]` (or `[batch, grid, grid, grid, 1]`):
        1 where a cell holds at least one point, else 0, indexed `[x, y, z]`.

    Example:

    ```python
    from keras_dlss.datasets import point_clouds, voxelize

    x, _ = point_clouds(4, num_points=256)
    v = voxelize(x, grid=16)
    assert v.shape == (4, 16, 16, 16, 1) and set(v.ravel()) <= {0.0, 1.0}
    ```

    References:
        Maturana & Scherer 2015, "VoxNet", IROS,
        https://doi.org/10.1109/IROS.2015.7353481.
    """
    points = _check_points(points)
    grid = check_positive_int("grid", grid, minimum=2)
    check_range("bounds", bounds, 0.0, None, low_inclusive=False)
    single = points.ndim == 2
    batch = points[None] if single else points
    cells = np.floor((batch + bounds) / (2 * bounds) * grid).astype(np.int64)
    cells = np.clip(cells, 0, grid - 1)
    flat = (cells[..., 0] * grid + cells[..., 1]) * grid + cells[..., 2]
    out = np.zeros((len(batch), grid**3), np.float32)
    out[np.arange(len(batch))[:, None], flat] = 1.0
    out = out.reshape(len(batch), grid, grid, grid, 1)
    return out[0] if single else out


def _camera_rotations(views, elevation):
    """`[views, 3, 3]` world-to-camera rotations; the camera looks along -z of its frame."""
    out = []
    for azimuth in 2 * np.pi * np.arange(views) / views:
        ca, sa = np.cos(azimuth), np.sin(azimuth)
        ce, se = np.cos(elevation), np.sin(elevation)
        spin = np.array([[ca, sa, 0.0], [-sa, ca, 0.0], [0.0, 0.0, 1.0]])
        # Turn the horizontal viewing direction into the camera's depth axis, then tilt it.
        to_camera = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
        tilt = np.array([[1.0, 0.0, 0.0], [0.0, ce, -se], [0.0, se, ce]])
        out.append(tilt @ to_camera @ spin)
    return np.stack(out)


def render_depth_views(points, views=12, image_size=32, elevation=30.0, bounds=1.0):
    """Orthographic depth images of point clouds from cameras circling them.

    Camera `v` sits at azimuth `360 * v / views` degrees and `elevation`
    degrees above the horizon, looking at the origin. Each point lands on one
    pixel; a z-buffer keeps the nearest. Pixel values are `1 - depth`, scaled so
    the nearest possible point (at distance `-bounds` along the view axis) is 1
    and the farthest is 0; empty pixels are 0.

    Args:
        points: float array `[num_points, 3]` or `[batch, num_points, 3]`.
        views: int >= 1. Number of cameras. Defaults to `12` (Su et al.).
        image_size: int >= 2. Width and height of each image. Defaults to `32`.
        elevation: float. Camera elevation in degrees. Defaults to `30.0`.
        bounds: float > 0. Half the width of the square each camera sees.

    Returns:
        float32 `[views, image_size, image_size, 1]` (or with a leading batch
        axis): image rows go from top to bottom.

    Example:

    ```python
    from keras_dlss.datasets import point_clouds, render_depth_views

    x, _ = point_clouds(2, num_points=512)
    depth = render_depth_views(x, views=4, image_size=16)
    assert depth.shape == (2, 4, 16, 16, 1) and depth.max() <= 1.0
    ```

    References:
        Su et al. 2015, "Multi-view Convolutional Neural Networks for 3D Shape
        Recognition", ICCV, https://arxiv.org/abs/1505.00880.
    """
    points = _check_points(points)
    views = check_positive_int("views", views)
    image_size = check_positive_int("image_size", image_size, minimum=2)
    check_range("elevation", elevation, -90.0, 90.0)
    check_range("bounds", bounds, 0.0, None, low_inclusive=False)
    single = points.ndim == 2
    batch = points[None] if single else points
    rotations = _camera_rotations(views, np.deg2rad(elevation)).astype(np.float32)
    cam = np.einsum("vij,bnj->bvni", rotations, batch)  # [B, V, N, 3]
    col = np.floor((cam[..., 0] + bounds) / (2 * bounds) * image_size).astype(np.int64)
    row = np.floor((bounds - cam[..., 1]) / (2 * bounds) * image_size).astype(np.int64)
    inside = (col >= 0) & (col < image_size) & (row >= 0) & (row < image_size)
    b, v = np.indices(cam.shape[:2])
    image_index = (b * views + v)[..., None] * image_size**2
    flat = (image_index + row * image_size + col)[inside]
    # Depth along the camera's -z axis: larger z is nearer to the camera.
    depth = np.clip((bounds - cam[..., 2]) / (2 * bounds), 0.0, 1.0)[inside]
    zbuffer = np.full(len(batch) * views * image_size**2, np.inf, np.float32)
    np.minimum.at(zbuffer, flat, depth)
    images = np.where(np.isinf(zbuffer), 0.0, 1.0 - zbuffer).astype(np.float32)
    images = images.reshape(len(batch), views, image_size, image_size, 1)
    return images[0] if single else images


def shade_views(depth_views, light=(0.3, -0.5, 0.8)):
    """Lambertian shading of depth images, with normals from the depth gradient.

    Args:
        depth_views: float array `[..., height, width, 1]` from `render_depth_views`.
        light: 3 floats. Direction towards the light, in image coordinates
            (x right, y up, z towards the camera). Normalized here.

    Returns:
        float32 array of `depth_views`' shape: `max(0, n · l)` where a pixel
        is covered, 0 elsewhere.

    Example:

    ```python
    from keras_dlss.datasets import point_clouds, render_depth_views, shade_views

    x, _ = point_clouds(2, num_points=512)
    shaded = shade_views(render_depth_views(x, views=2, image_size=16))
    assert shaded.shape == (2, 2, 16, 16, 1)
    ```
    """
    depth = np.asarray(depth_views, np.float32)
    if depth.ndim < 3 or depth.shape[-1] != 1:
        raise ValueError(
            "Argument `depth_views` must have shape [..., height, width, 1]. "
            f"Received: depth_views.shape={shape_str(depth.shape)}"
        )
    light = np.asarray(light, np.float32)
    if light.shape != (3,) or not np.linalg.norm(light) > 0:
        raise ValueError(
            f"Argument `light` must be 3 numbers, not all zero. Received: light={light!r}"
        )
    height = depth[..., 0] * depth.shape[-2]  # pixels of height per pixel of width
    dz_dy, dz_dx = np.gradient(height, axis=(-2, -1))
    normals = np.stack([-dz_dx, dz_dy, np.ones_like(height)], axis=-1)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    shading = np.clip(normals @ (light / np.linalg.norm(light)), 0.0, 1.0)
    return np.where(depth[..., 0] > 0, shading, 0.0)[..., None].astype(np.float32)
