"""Generated algorithmic tasks: NTM copy and associative recall; pointer-network sorting
and planar convex hulls.

Copy and associative recall follow Graves et al. (2014, Sec. 4.1-4.3); sorting and convex
hull follow Vinyals et al. (2015, Sec. 4), with the hull computed by Andrew's monotone
chain (`convex_hull_indices`, an independent numpy reference). All data is generated.
"""

import numpy as np


def _check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"Argument `{name}` must be an integer >= {minimum}. Received: {name}={value!r}"
        )
    return int(value)


def _check_lengths(min_length, max_length, minimum=1):
    _check_count("min_length", min_length, minimum)
    _check_count("max_length", max_length, minimum)
    if min_length > max_length:
        raise ValueError(
            "Argument `max_length` must be >= min_length. "
            f"Received: min_length={min_length}, max_length={max_length}"
        )


def copy_task(num_examples, min_length=1, max_length=20, bits=8, seed=0):
    """The NTM copy task: read random bit vectors and a delimiter, then write them back.

    Args:
        num_examples: int. Number of sequences.
        min_length: int. Shortest sequence. Defaults to `1`.
        max_length: int. Longest sequence (every example is padded to `2 * max_length + 1`
            steps). Defaults to `20`.
        bits: int. Bits per vector. Defaults to `8`.
        seed: int. Defaults to `0`.

    Returns:
        `(inputs, targets, weights)`: `inputs` `[N, 2L + 1, bits + 1]` float32 (the last
        channel is the delimiter flag), `targets` `[N, 2L + 1, bits]` (the sequence,
        placed in the answer phase) and `weights` `[N, 2L + 1]` (1 on the answer steps,
        for `sample_weight`).

    Example:

    ```python
    from keras_dlss.datasets import copy_task

    x, y, w = copy_task(4, max_length=5)
    print(x.shape, y.shape, w.sum(-1))
    ```

    References:
        Graves et al. 2014, https://arxiv.org/abs/1410.5401.
    """
    _check_count("num_examples", num_examples)
    _check_count("bits", bits)
    _check_lengths(min_length, max_length)
    rng = np.random.default_rng(seed)
    steps = 2 * max_length + 1
    inputs = np.zeros((num_examples, steps, bits + 1), "float32")
    targets = np.zeros((num_examples, steps, bits), "float32")
    weights = np.zeros((num_examples, steps), "float32")
    for i in range(num_examples):
        length = int(rng.integers(min_length, max_length + 1))
        sequence = rng.integers(0, 2, size=(length, bits)).astype("float32")
        inputs[i, :length, :bits] = sequence
        inputs[i, length, bits] = 1.0
        targets[i, length + 1 : 2 * length + 1] = sequence
        weights[i, length + 1 : 2 * length + 1] = 1.0
    return inputs, targets, weights


def associative_recall(num_examples, min_items=2, max_items=6, item_length=3, bits=6, seed=0):
    """The NTM associative-recall task: after a list of items, a query item asks for the next.

    Each item is `item_length` random bit vectors, preceded by a delimiter step (channel
    `bits`); the query is preceded by a second delimiter (channel `bits + 1`). The target,
    in the steps after the query, is the item that followed the query in the list.

    Returns:
        `(inputs, targets, weights)` as in `copy_task`, with `inputs` of `bits + 2` channels.

    Example:

    ```python
    from keras_dlss.datasets import associative_recall

    x, y, w = associative_recall(2, max_items=3)
    print(x.shape, y.shape)
    ```
    """
    _check_count("num_examples", num_examples)
    _check_count("item_length", item_length)
    _check_count("bits", bits)
    _check_count("min_items", min_items, 2)
    _check_count("max_items", max_items, 2)
    if min_items > max_items:
        raise ValueError(
            f"Argument `max_items` must be >= min_items. Received: max_items={max_items}"
        )
    rng = np.random.default_rng(seed)
    block = item_length + 1
    steps = (max_items + 1) * block + item_length
    inputs = np.zeros((num_examples, steps, bits + 2), "float32")
    targets = np.zeros((num_examples, steps, bits), "float32")
    weights = np.zeros((num_examples, steps), "float32")
    for i in range(num_examples):
        count = int(rng.integers(min_items, max_items + 1))
        items = rng.integers(0, 2, size=(count, item_length, bits)).astype("float32")
        for k in range(count):
            inputs[i, k * block, bits] = 1.0
            inputs[i, k * block + 1 : (k + 1) * block, :bits] = items[k]
        query = int(rng.integers(0, count - 1))
        start = count * block
        inputs[i, start, bits + 1] = 1.0
        inputs[i, start + 1 : start + block, :bits] = items[query]
        answer = slice(start + block, start + block + item_length)
        targets[i, answer] = items[query + 1]
        weights[i, answer] = 1.0
    return inputs, targets, weights


def sorting_task(num_examples, length=10, seed=0):
    """Pointer-network sorting: point at the inputs in increasing order.

    Returns:
        `(values, order)`: `values` `[N, length, 1]` uniform in [0, 1), float32; `order`
        `[N, length]` int32, the input positions in increasing order of value.

    Example:

    ```python
    from keras_dlss.datasets import sorting_task

    values, order = sorting_task(2, length=5)
    print(values[0, order[0], 0])   # increasing
    ```
    """
    _check_count("num_examples", num_examples)
    _check_count("length", length, 2)
    rng = np.random.default_rng(seed)
    values = rng.random((num_examples, length, 1)).astype("float32")
    return values, np.argsort(values[..., 0], axis=-1, kind="stable").astype("int32")


def _cross(o, a, b):
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull_indices(points):
    """Andrew's monotone chain: hull vertex indices, counter-clockwise from the lowest-x point.

    Args:
        points: `[n, 2]` array of planar points.

    Returns:
        list of int: indices into `points` of the hull's vertices (collinear points dropped).
    """
    points = np.asarray(points, "float64")
    if points.ndim != 2 or points.shape[-1] != 2 or len(points) < 3:
        raise ValueError(
            f"Argument `points` must have shape [n >= 3, 2]. Received: points.shape={points.shape}"
        )
    order = sorted(range(len(points)), key=lambda i: (points[i, 0], points[i, 1]))

    def chain(indices):
        hull = []
        for i in indices:
            while len(hull) >= 2 and _cross(points[hull[-2]], points[hull[-1]], points[i]) <= 0:
                hull.pop()
            hull.append(i)
        return hull

    lower, upper = chain(order), chain(order[::-1])
    return lower[:-1] + upper[:-1]


def convex_hull_task(num_examples, length=10, seed=0):
    """Pointer-network planar convex hull (Vinyals et al. 2015, Sec. 4.2).

    Points are uniform in the unit square; the target lists the hull's vertices
    counter-clockwise starting from the lowest-x point, then an end pointer (position 0,
    the "end" slot a `PointerNetwork` prepends), then padding -1.

    Returns:
        `(points, hull)`: `points` `[N, length, 2]` float32; `hull` `[N, length + 1]` int32
        positions `1..length` into the points shifted by one (0 = end, -1 = padding).

    Example:

    ```python
    from keras_dlss.datasets import convex_hull_task

    points, hull = convex_hull_task(1, length=6)
    print(hull)
    ```
    """
    _check_count("num_examples", num_examples)
    _check_count("length", length, 3)
    rng = np.random.default_rng(seed)
    points = rng.random((num_examples, length, 2)).astype("float32")
    hull = np.full((num_examples, length + 1), -1, "int32")
    for i in range(num_examples):
        vertices = [v + 1 for v in convex_hull_indices(points[i])] + [0]
        hull[i, : len(vertices)] = vertices
    return points, hull
