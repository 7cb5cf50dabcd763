"""The Fréchet distance between feature statistics of two sample sets (FID).

Heusel et al. 2017 fit a Gaussian to a feature extractor's activations on
real and on generated samples and report the Fréchet (2-Wasserstein) distance
between the two Gaussians:

    d² = ||μ₁ - μ₂||² + tr(Σ₁ + Σ₂ - 2 (Σ₁ Σ₂)^{1/2}).

With Inception-v3 pool features it is "the" FID; here the feature model is
whatever classifier fits the data (the project's digits classifier in the
benchmarks), so numbers compare models under one feature model only.

The matrix square root is where implementations go wrong: `scipy.linalg.sqrtm`
of the non-symmetric product `Σ₁Σ₂` returns complex values and can fail for
near-singular covariances (the reference implementation adds `εI` on failure).
Only its trace is needed, and `tr (Σ₁Σ₂)^{1/2} = tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}`,
a symmetric positive semi-definite matrix: two symmetric eigendecompositions,
negative round-off eigenvalues clipped to zero, no complex arithmetic.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int

__all__ = ["FrechetDistance", "feature_statistics", "fid", "frechet_distance"]


def _as_statistics(mu, sigma, suffix):
    mu = np.asarray(mu, np.float64)
    sigma = np.asarray(sigma, np.float64)
    if mu.ndim != 1:
        raise ValueError(
            f"Argument `mu{suffix}` must be a vector. Received: mu{suffix}.shape={mu.shape}"
        )
    if sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"Argument `sigma{suffix}` must be a ({mu.shape[0]}, {mu.shape[0]}) covariance "
            f"matching `mu{suffix}`. Received: sigma{suffix}.shape={sigma.shape}"
        )
    return mu, sigma


def _psd_sqrt(matrix):
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2.0)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1, sigma1, mu2, sigma2):
    """Squared Fréchet distance between `N(mu1, sigma1)` and `N(mu2, sigma2)`.

    Args:
        mu1: array `[d]`, mean of the first set's features.
        sigma1: array `[d, d]`, its covariance.
        mu2: array `[d]`.
        sigma2: array `[d, d]`.

    Returns:
        A Python float, `||mu1 - mu2||² + tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^{1/2})`
        (computed in float64, clipped at 0 against round-off).

    Example:

    ```python
    # Two 1-D Gaussians: (0 - 3)^2 + (2 - 1)^2 = 10 in squared standard deviations.
    d = frechet_distance(np.zeros(1), np.eye(1) * 4.0, np.full(1, 3.0), np.eye(1))
    assert abs(d - 10.0) < 1e-9
    ```

    References:
        Heusel et al., "GANs trained by a two time-scale update rule converge
        to a local Nash equilibrium", NeurIPS 2017, https://arxiv.org/abs/1706.08500;
        Dowson & Landau, "The Fréchet distance between multivariate normal
        distributions", J. Multivariate Analysis 1982.
    """
    mu1, sigma1 = _as_statistics(mu1, sigma1, "1")
    mu2, sigma2 = _as_statistics(mu2, sigma2, "2")
    if mu1.shape != mu2.shape:
        raise ValueError(
            f"Argument `mu2` must have the dimension of `mu1` ({mu1.shape[0]}). "
            f"Received: mu2.shape={mu2.shape}"
        )
    root1 = _psd_sqrt(sigma1)
    inner = root1 @ sigma2 @ root1
    eigenvalues = np.linalg.eigvalsh((inner + inner.T) / 2.0)
    trace_sqrt = np.sum(np.sqrt(np.clip(eigenvalues, 0.0, None)))
    value = np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt
    return float(max(value, 0.0))


def feature_statistics(features):
    """Mean and covariance (unbiased, float64) of a `[n, d]` feature matrix.

    Args:
        features: array `[n, d]` with `n >= 2`.

    Returns:
        `(mu [d], sigma [d, d])`.

    Example:

    ```python
    mu, sigma = feature_statistics(np.random.rand(50, 3))
    assert mu.shape == (3,) and sigma.shape == (3, 3)
    ```
    """
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(
            "Argument `features` must be a [n, d] matrix with n >= 2. "
            f"Received: features.shape={features.shape}"
        )
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(
        features.shape[1], features.shape[1]
    )


def _features(feature_model, x, batch_size, name):
    x = np.asarray(x)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(
            f"Argument `{name}` must hold at least 2 examples. Received: {name}.shape={x.shape}"
        )
    if feature_model is None:
        out = x
    elif isinstance(feature_model, keras.Model):
        out = feature_model.predict(x, batch_size=batch_size, verbose=0)
    else:
        out = ops.convert_to_numpy(feature_model(x))
    out = np.asarray(out)
    return out.reshape(out.shape[0], -1)


def fid(real, fake, feature_model=None, batch_size=256):
    """Fréchet distance between features of real and generated samples (FID).

    Args:
        real: array `[n, ...]` of real examples (n >= 2).
        fake: array `[m, ...]` of generated examples, preprocessed like `real`.
        feature_model: a `keras.Model` (run with `predict`), any callable
            `x -> features`, or None to use the flattened inputs. Pass a
            classifier's penultimate layer, e.g. `keras.Model(clf.input,
            clf.layers[-2].output)`.
        batch_size: int. Defaults to `256`.

    Returns:
        A Python float.

    Example:

    ```python
    rng = np.random.default_rng(0)
    same = fid(rng.normal(size=(500, 4)), rng.normal(size=(500, 4)))
    shifted = fid(rng.normal(size=(500, 4)), rng.normal(size=(500, 4)) + 1.0)
    assert same < 0.2 < shifted
    ```
    """
    batch_size = check_positive_int("batch_size", batch_size)
    real_stats = feature_statistics(_features(feature_model, real, batch_size, "real"))
    fake_stats = feature_statistics(_features(feature_model, fake, batch_size, "fake"))
    return frechet_distance(*real_stats, *fake_stats)


@keras.saving.register_keras_serializable(package="keras_dlss")
class FrechetDistance(keras.metrics.Metric):
    """Streaming Fréchet distance between two sets of feature vectors.

    `update_state(real_features, fake_features)` accumulates each set's sum
    and sum of outer products (float32 variables, so it runs inside compiled
    steps on every backend); `result()` forms the means and covariances and
    evaluates `frechet_distance` with `keras.ops` (the same symmetric
    square-root route). For large feature counts prefer `fid`, which works in
    float64.

    Args:
        dim: int, feature dimension.
        name: str. Defaults to `"frechet_distance"`.
        **kwargs: passed to `keras.metrics.Metric`.

    Example:

    ```python
    metric = FrechetDistance(dim=2)
    rng = np.random.default_rng(0)
    metric.update_state(rng.normal(size=(256, 2)), rng.normal(size=(256, 2)) + 2.0)
    assert 7.0 < float(metric.result()) < 9.0   # ||(2, 2)||^2 = 8
    ```
    """

    def __init__(self, dim, name="frechet_distance", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dim = check_positive_int("dim", dim)
        self._stats = {}
        for which in ("real", "fake"):
            self._stats[which] = (
                self.add_variable((), initializer="zeros", name=f"{which}_count"),
                self.add_variable((dim,), initializer="zeros", name=f"{which}_sum"),
                self.add_variable((dim, dim), initializer="zeros", name=f"{which}_outer"),
            )

    def _check(self, name, x):
        x = ops.convert_to_tensor(x, "float32")
        if len(x.shape) != 2 or (x.shape[-1] is not None and x.shape[-1] != self.dim):
            raise ValueError(
                f"Argument `{name}` must have shape (batch, {self.dim}) (`dim`). "
                f"Received: {name}.shape={tuple(x.shape)}"
            )
        return x

    def update_state(self, real_features, fake_features, sample_weight=None):
        for which, x in (("real", real_features), ("fake", fake_features)):
            x = self._check(f"{which}_features", x)
            count, total, outer = self._stats[which]
            count.assign_add(ops.cast(ops.shape(x)[0], "float32"))
            total.assign_add(ops.sum(x, axis=0))
            outer.assign_add(ops.matmul(ops.transpose(x), x))

    def _moments(self, which):
        count, total, outer = self._stats[which]
        n = ops.maximum(count, 2.0)
        mu = total / n
        sigma = (outer - n * ops.outer(mu, mu)) / (n - 1.0)
        return mu, sigma

    def result(self):
        (mu1, sigma1), (mu2, sigma2) = self._moments("real"), self._moments("fake")
        values, vectors = ops.eigh((sigma1 + ops.transpose(sigma1)) / 2.0)
        root1 = ops.matmul(vectors * ops.sqrt(ops.relu(values)), ops.transpose(vectors))
        inner = ops.matmul(ops.matmul(root1, sigma2), root1)
        eigenvalues, _ = ops.eigh((inner + ops.transpose(inner)) / 2.0)
        trace_sqrt = ops.sum(ops.sqrt(ops.relu(eigenvalues)))
        value = (
            ops.sum(ops.square(mu1 - mu2))
            + ops.trace(sigma1)
            + ops.trace(sigma2)
            - 2.0 * trace_sqrt
        )
        return ops.relu(value)

    def reset_state(self):
        for variables in self._stats.values():
            for v in variables:
                v.assign(ops.zeros(v.shape, v.dtype))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim}
