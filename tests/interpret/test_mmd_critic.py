import itertools

import numpy as np
import pytest

from keras_dlss.interpret import mmd_critic


def _mmd2(x, idx, gamma):
    """Biased MMD² between all of x and x[idx], straight from the definition."""
    k = lambda a, b: np.exp(-gamma * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))  # noqa: E731
    z = x[list(idx)]
    return k(x, x).mean() - 2 * k(x, z).mean() + k(z, z).mean()


X = np.random.default_rng(0).normal(size=(9, 3))


@pytest.mark.parametrize("m", [1, 2, 3])
def test_each_greedy_step_minimizes_mmd_by_brute_force(m):
    result = mmd_critic(X, m, gamma=0.3)
    chosen = list(result["prototypes"])
    for step in range(m):
        prefix = chosen[:step]
        candidates = [j for j in range(len(X)) if j not in prefix]
        best = min(candidates, key=lambda j: _mmd2(X, prefix + [j], 0.3))
        assert chosen[step] == best


def test_greedy_close_to_optimal_subset():
    result = mmd_critic(X, 3, gamma=0.3)
    optimum = min(_mmd2(X, s, 0.3) for s in itertools.combinations(range(len(X)), 3))
    assert _mmd2(X, result["prototypes"], 0.3) <= optimum + 0.05


def test_witness_and_unregularized_criticisms():
    result = mmd_critic(X, 2, 3, gamma=0.3, regularizer=None)
    p = result["prototypes"]
    k = np.exp(-0.3 * ((X[:, None] - X[None]) ** 2).sum(-1))
    w = k.mean(1) - k[:, p].mean(1)
    np.testing.assert_allclose(result["witness"], w, atol=1e-12)
    order = [i for i in np.argsort(-np.abs(w)) if i not in p][:3]
    assert list(result["criticisms"]) == order


def test_logdet_criticisms_follow_the_regularized_objective_and_are_more_diverse():
    x = np.random.default_rng(1).normal(size=(30, 2))
    k = np.exp(-0.5 * ((x[:, None] - x[None]) ** 2).sum(-1))
    result = mmd_critic(x, 3, 3, gamma=0.5)
    p, c = list(result["prototypes"]), list(result["criticisms"])
    w = np.abs(result["witness"])
    for step in range(3):
        prefix = c[:step]
        others = [j for j in range(30) if j not in p + prefix]

        def objective(j, prefix=prefix):
            idx = prefix + [j]
            return w[j] + np.linalg.slogdet(k[np.ix_(idx, idx)])[1]

        assert c[step] == max(others, key=objective)
    plain = list(mmd_critic(x, 3, 3, gamma=0.5, regularizer=None)["criticisms"])
    det = lambda idx: np.linalg.det(k[np.ix_(idx, idx)])  # noqa: E731
    assert det(c) >= det(plain)


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"num_prototypes": 0}, "num_prototypes"),
        ({"num_prototypes": 10}, "num_prototypes"),
        ({"num_prototypes": 5, "num_criticisms": 5}, "num_criticisms"),
        ({"num_prototypes": 2, "gamma": -1.0}, "gamma"),
        ({"num_prototypes": 2, "regularizer": "l2"}, "regularizer"),
    ],
)
def test_bad_arguments(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received"):
        mmd_critic(X, **kwargs)
    with pytest.raises(ValueError, match="`x`.*Received"):
        mmd_critic(np.ones(3), 1)
