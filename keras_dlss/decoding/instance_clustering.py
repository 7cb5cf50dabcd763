"""Clustering pixel embeddings into instances (post-processing, NumPy).

De Brabandere et al. (2017) train embeddings whose pixels lie within
`delta_var` of their instance mean and whose means are `2 * delta_dist` apart;
instances are then recovered by mean shift with a bandwidth of about
`delta_var`... `delta_dist`. The number of instances, and so the output's
structure, depends on the data: this runs eagerly on NumPy after the network,
like Mask R-CNN's or Panoptic-DeepLab's post-processing, not inside a graph.
"""

import numpy as np

from keras_dlss._validation import check_positive_int, check_range, shape_str

__all__ = ["cluster_embeddings"]


def _mean_shift(points, start, bandwidth, max_iterations):
    center = start
    for _ in range(max_iterations):
        near = np.sum((points - center) ** 2, axis=-1) <= bandwidth**2
        new = points[near].mean(axis=0)
        if np.allclose(new, center, atol=1e-4 * bandwidth):
            break
        center = new
    return center


def cluster_embeddings(embeddings, foreground=None, bandwidth=1.0, min_pixels=1, max_iterations=50):
    """Groups pixel embeddings into instances by seeded mean shift.

    Repeatedly takes the first unassigned foreground pixel as a seed, runs mean
    shift from it (flat kernel of radius `bandwidth`) to a mode, and assigns
    every unassigned pixel within `bandwidth` of the mode to a new instance.
    Deterministic: the same embeddings give the same ids.

    Args:
        embeddings: float [height, width, dims] or [batch, height, width, dims].
        foreground: optional bool mask of the same leading shape; background
            pixels get id 0. Defaults to all pixels.
        bandwidth: float > 0. Cluster radius in embedding units, between the
            loss's `delta_var` and `2 * delta_dist` (e.g. their mean).
            Defaults to `1.0`.
        min_pixels: int >= 1. Smaller clusters are returned as background.
        max_iterations: int >= 1. Mean-shift steps per seed.

    Returns:
        int32 ids of the leading shape: 0 background, 1..n instances (per image).

    Example:

    ```python
    import numpy as np
    from keras_dlss.decoding import cluster_embeddings

    emb = np.zeros((4, 4, 2), "float32")
    emb[:, 2:] = 3.0                       # two well-separated clusters
    ids = cluster_embeddings(emb, bandwidth=1.0)
    assert set(ids[:, :2].ravel()) == {1} and set(ids[:, 2:].ravel()) == {2}
    ```

    References:
        De Brabandere, Neven & Van Gool 2017, https://arxiv.org/abs/1708.02551.
    """
    emb = np.asarray(embeddings, dtype="float64")
    if emb.ndim not in (3, 4) or emb.size == 0:
        raise ValueError(
            "Argument `embeddings` must be a non-empty [height, width, dims] or "
            f"[batch, height, width, dims] array. Received: embeddings.shape={shape_str(emb.shape)}"
        )
    check_range("bandwidth", bandwidth, 0.0, None, low_inclusive=False)
    min_pixels = check_positive_int("min_pixels", min_pixels)
    max_iterations = check_positive_int("max_iterations", max_iterations)
    fg = np.ones(emb.shape[:-1], bool) if foreground is None else np.asarray(foreground, bool)
    if fg.shape != emb.shape[:-1]:
        raise ValueError(
            f"Argument `foreground` must have shape {shape_str(emb.shape[:-1])} (the embeddings' "
            f"leading axes). Received: foreground.shape={shape_str(fg.shape)}"
        )
    if emb.ndim == 4:
        return np.stack(
            [
                cluster_embeddings(e, f, bandwidth, min_pixels, max_iterations)
                for e, f in zip(emb, fg)
            ]
        )
    points = emb.reshape(-1, emb.shape[-1])
    unassigned = fg.reshape(-1).copy()
    ids = np.zeros(len(points), "int32")
    next_id = 1
    while unassigned.any():
        seed = int(np.flatnonzero(unassigned)[0])
        mode = _mean_shift(points[unassigned], points[seed], bandwidth, max_iterations)
        members = unassigned & (np.sum((points - mode) ** 2, axis=-1) <= bandwidth**2)
        members[seed] = True  # the seed always leaves the pool, so the loop ends
        unassigned &= ~members
        if members.sum() >= min_pixels:
            ids[members] = next_id
            next_id += 1
    return ids.reshape(emb.shape[:-1])
