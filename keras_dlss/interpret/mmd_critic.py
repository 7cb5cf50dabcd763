"""MMD-critic: prototypes and criticisms of a data set.

Kim, Khanna and Koyejo, "Examples are not Enough, Learn to Criticize!
Criticism for Interpretability", NIPS 2016. Prototypes are the examples whose
empirical distribution is closest to the data's in maximum mean discrepancy;
criticisms are the examples the prototypes explain worst: where the witness
function `w(x) = mean_i k(x, x_i) - mean_j k(x, z_j)` (data minus prototypes)
is largest in magnitude. The witness scales with density, so a criticism is an
under-represented *region* (a group of atypical examples), not necessarily the
single most isolated point. Used before training, per class, to see what a class
typically looks like and which of its examples are outliers.

Both selections are the paper's greedy algorithms on an RBF kernel matrix: the
prototype objective `J(S) = 2/(n|S|) Σ_{i, j∈S} k_ij - 1/|S|² Σ_{j,l∈S} k_jl`
(Eq. 4, -MMD² up to a constant) is monotone submodular under the paper's
conditions, so greedy is within (1 - 1/e) of optimal; criticisms maximize
`Σ_c |w(c)|` plus the log-determinant of their kernel matrix (Section 3.2),
which keeps them from all sitting on the same outlying cluster. This is data
analysis on a fixed set, so it runs once in NumPy (float64) rather than as a
compiled graph: the kernel matrix is the only `O(n²)` cost.
"""

import numpy as np
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range


def rbf_kernel_matrix(x, gamma):
    """`exp(-gamma ||x_i - x_j||²)` for the rows of `x` (float64)."""
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    return np.exp(-gamma * d2)


def _median_gamma(x):
    sq = np.sum(x * x, axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * x @ x.T, 0.0)
    off = d2[~np.eye(len(x), dtype=bool)]
    median = np.median(off) if off.size else 1.0
    return 1.0 / max(median, 1e-12)


def select_prototypes(kernel, num_prototypes):
    """Greedy maximization of the MMD prototype objective `J(S)` (Kim et al. Eq. 4)."""
    n = kernel.shape[0]
    column_means = kernel.mean(axis=0)  # (1/n) Σ_i k(x_i, x_j)
    chosen = []
    for _ in range(num_prototypes):
        m = len(chosen) + 1
        # J(S ∪ {j}) for every candidate j, from running sums over the chosen set.
        within = kernel[np.ix_(chosen, chosen)].sum() if chosen else 0.0
        cross = kernel[chosen].sum(axis=0) if chosen else np.zeros(n)
        fit = 2.0 / m * (column_means[chosen].sum() + column_means)
        spread = (within + 2.0 * cross + np.diag(kernel)) / m**2
        score = fit - spread
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen


def witness(kernel, prototypes):
    """The witness function at every point: data mean embedding minus prototypes'."""
    return kernel.mean(axis=1) - kernel[:, prototypes].mean(axis=1)


def select_criticisms(kernel, prototypes, num_criticisms, regularizer="logdet"):
    """Greedy maximization of `Σ_c |w(c)| (+ log det K_CC)` over non-prototypes."""
    w = np.abs(witness(kernel, prototypes))
    chosen = []
    for _ in range(num_criticisms):
        score = w.copy()
        if regularizer == "logdet":
            for j in range(len(w)):
                idx = chosen + [j]
                sign, logdet = np.linalg.slogdet(kernel[np.ix_(idx, idx)])
                score[j] += logdet if sign > 0 else -np.inf
        score[prototypes] = -np.inf
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen


def mmd_critic(x, num_prototypes, num_criticisms=0, *, gamma=None, regularizer="logdet"):
    """Prototypes and criticisms of `x` by MMD-critic (Kim et al. 2016).

    Args:
        x: array `[N, ...]` (flattened to `[N, D]`), e.g. the examples of one class
            or features from a network's layer.
        num_prototypes: int in [1, N]. Prototypes to select.
        num_criticisms: int >= 0. Criticisms to select among the other
            `N - num_prototypes` examples. Defaults to `0`.
        gamma: float > 0 or None. RBF kernel width `k = exp(-gamma ||x - y||²)`;
            None uses the median heuristic `1 / median ||x_i - x_j||²`.
            Defaults to `None`.
        regularizer: `"logdet"` (the paper's diversity term) or None (the
            largest `|witness|` values). Defaults to `"logdet"`.

    Returns:
        A dict with `prototypes` and `criticisms` (int index arrays into `x`,
        in the order they were selected), `witness` (`[N]`, the witness
        function at every example) and `gamma`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.interpret import mmd_critic

    # Two clusters of 20 and a small group of 5 the two prototypes leave out.
    x = np.concatenate([np.zeros((20, 2)), np.ones((20, 2)), np.full((5, 2), 4.0)])
    x += np.random.default_rng(0).normal(scale=0.1, size=x.shape)
    result = mmd_critic(x, num_prototypes=2, num_criticisms=1, gamma=2.0)
    assert sorted(i // 20 for i in result["prototypes"]) == [0, 1]  # one per cluster
    assert result["criticisms"][0] >= 40                             # from the small group
    ```

    References:
        Kim, Khanna & Koyejo, 2016, NIPS,
        https://papers.nips.cc/paper/6300-examples-are-not-enough-learn-to-criticize
    """
    x = np.asarray(ops.convert_to_numpy(x), np.float64)
    if x.ndim < 2 or x.shape[0] < 1:
        raise ValueError(
            f"Argument `x` must be a batch [N, ...] with N >= 1. Received: x.shape={x.shape}"
        )
    x = x.reshape(x.shape[0], -1)
    n = x.shape[0]
    num_prototypes = check_positive_int("num_prototypes", num_prototypes)
    if num_prototypes > n:
        raise ValueError(
            f"Argument `num_prototypes` must be at most the {n} examples. "
            f"Received: num_prototypes={num_prototypes}"
        )
    num_criticisms = check_positive_int("num_criticisms", num_criticisms, minimum=0)
    if num_prototypes + num_criticisms > n:
        raise ValueError(
            f"Argument `num_criticisms` must be at most {n - num_prototypes} (the examples "
            f"that are not prototypes). Received: num_criticisms={num_criticisms}"
        )
    check_one_of("regularizer", regularizer, ("logdet", None))
    if gamma is None:
        gamma = _median_gamma(x)
    gamma = float(check_range("gamma", gamma, 0.0, low_inclusive=False))
    kernel = rbf_kernel_matrix(x, gamma)
    prototypes = select_prototypes(kernel, num_prototypes)
    criticisms = select_criticisms(kernel, prototypes, num_criticisms, regularizer)
    return {
        "prototypes": np.asarray(prototypes, np.int64),
        "criticisms": np.asarray(criticisms, np.int64),
        "witness": witness(kernel, prototypes),
        "gamma": gamma,
    }
