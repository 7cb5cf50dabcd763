"""The birthday-paradox test of a generator's support size (Arora & Zhang 2017).

If a distribution is uniform over `N` items, a batch of `s` draws contains a
duplicate with probability `1 - prod_{i<s}(1 - i/N) ≈ 1 - exp(-s(s-1)/(2N))`,
about 1/2 at `s ≈ sqrt(2 ln 2 · N)`. Turned around: if batches of `s`
generated samples contain a near-duplicate (distance below a threshold) about
half the time, the generator's support is about `s²` — small support is the
signature of the mode collapse that Arora et al. 2017 prove a discriminator of
size `p` cannot detect once the generator's support exceeds about `p log p`.

`birthday_paradox_support` runs the test on `num_batches` disjoint batches of
`batch_size` samples and inverts the collision probability under the uniform
model, `N ≈ s(s-1) / (-2 ln(1 - p))`. It also returns the pair-count estimate
`N ≈ (pairs examined) / (colliding pairs)` over the same batches, which uses
every pair rather than one bit per batch. For a non-uniform distribution both
estimate an "effective" support (they are exact for uniform ones); the paper
checks flagged duplicates by eye, which `duplicates` makes possible.
"""

import numpy as np

from keras_dlss._validation import check_positive_int, check_range

__all__ = ["birthday_paradox_support"]

_DISTANCES = ("euclidean", "cosine")


def _pairwise(batch, distance):
    if callable(distance):
        return np.asarray(distance(batch, batch), np.float64)
    if distance == "cosine":
        unit = batch / np.maximum(np.linalg.norm(batch, axis=1, keepdims=True), 1e-12)
        return 1.0 - unit @ unit.T
    squared = np.sum(batch**2, axis=1)
    return np.sqrt(np.maximum(squared[:, None] + squared[None, :] - 2.0 * batch @ batch.T, 0.0))


def birthday_paradox_support(samples, threshold, batch_size=None, distance="euclidean", seed=0):
    """Estimates the support size of the distribution behind `samples`.

    Args:
        samples: array `[n, ...]` of generated samples (flattened per sample).
        threshold: float > 0. Two samples closer than this are duplicates.
        batch_size: int or None. `s`, samples per batch; None uses
            `min(n, 2 sqrt(n))`-sized batches (several batches per run).
            Defaults to `None`.
        distance: `"euclidean"`, `"cosine"`, or a callable `(a, b) -> [len(a), len(b)]`
            distance matrix (e.g. a feature-space distance). Defaults to `"euclidean"`.
        seed: int, shuffles `samples` before batching. Defaults to `0`.

    Returns:
        A dict: `support` (float, `s(s-1)/(-2 ln(1-p))`; inf when no batch
        collides), `support_pairs` (float, pairs examined over colliding
        pairs; inf without collisions), `collision_probability` (p, the
        fraction of batches with a duplicate), `batch_size`, `num_batches`,
        `duplicates` (list of index pairs into `samples`, the first few found).

    Example:

    ```python
    rng = np.random.default_rng(0)
    atoms = rng.normal(size=(100, 8))                      # a support of 100 points
    samples = atoms[rng.integers(0, 100, size=2000)]
    result = birthday_paradox_support(samples, threshold=1e-6, batch_size=20)
    assert 50 < result["support"] < 200
    ```

    References:
        Arora & Zhang, "Do GANs actually learn the distribution? An empirical
        study", 2017, https://arxiv.org/abs/1706.08224; Arora, Ge, Liang, Ma &
        Zhang, "Generalization and equilibrium in GANs", ICML 2017,
        https://arxiv.org/abs/1703.00573.
    """
    samples = np.asarray(samples, np.float64)
    if samples.ndim < 2 or samples.shape[0] < 2:
        raise ValueError(
            "Argument `samples` must hold at least 2 samples [n, ...]. "
            f"Received: samples.shape={samples.shape}"
        )
    check_range("threshold", threshold, 0.0, low_inclusive=False)
    if not callable(distance) and distance not in _DISTANCES:
        raise ValueError(
            f"Argument `distance` must be one of {list(_DISTANCES)} or a callable. "
            f"Received: distance={distance!r}"
        )
    n = samples.shape[0]
    if batch_size is None:
        batch_size = int(min(n, max(2, 2 * np.sqrt(n))))
    batch_size = check_positive_int("batch_size", batch_size, minimum=2)
    if batch_size > n:
        raise ValueError(
            f"Argument `batch_size` must be at most the number of samples ({n}). "
            f"Received: batch_size={batch_size}"
        )
    flat = samples.reshape(n, -1)
    order = np.random.default_rng(seed).permutation(n)
    num_batches = n // batch_size
    upper = np.triu(np.ones((batch_size, batch_size), bool), k=1)
    hits, pairs, duplicates = 0, 0, []
    for b in range(num_batches):
        index = order[b * batch_size : (b + 1) * batch_size]
        close = (_pairwise(flat[index], distance) < threshold) & upper
        found = np.argwhere(close)
        hits += bool(len(found))
        pairs += len(found)
        duplicates += [(int(index[i]), int(index[j])) for i, j in found[: 10 - len(duplicates)]]
    p = hits / num_batches
    examined = num_batches * batch_size * (batch_size - 1) / 2
    s = batch_size
    support = np.inf if hits == 0 else s * (s - 1) / (-2.0 * np.log(max(1.0 - p, 1e-12)))
    return {
        "support": float(support),
        "support_pairs": float(np.inf if pairs == 0 else examined / pairs),
        "collision_probability": float(p),
        "batch_size": int(batch_size),
        "num_batches": int(num_batches),
        "duplicates": duplicates,
    }
