"""Diagonal Gaussian densities, KL divergences and reparameterized samples in `keras.ops`.

The variational models (`models.VAE`, `models.ConditionalVAE`,
`applications.MusicVAE`) need three things from a distribution library: the
log density of a diagonal Gaussian, the closed-form KL divergence between two
of them, and a sample that is a differentiable function of the parameters
(the reparameterization trick, Kingma & Welling 2014, Sec. 2.4). They are
written here in `keras.ops`, so the models run on TensorFlow, JAX and PyTorch;
tensorflow-probability would add a TensorFlow-only dependency for ten lines
of arithmetic. Every density is parameterized by the log-variance, which is
what an unconstrained network output can represent without a softplus.

References:
    - Kingma & Welling, "Auto-Encoding Variational Bayes", 2014.
      https://arxiv.org/abs/1312.6114
"""

import math

import keras
from keras import ops

from keras_dlss._validation import check_min_rank, shape_str, shapes_compatible

__all__ = ["gaussian_kl_divergence", "gaussian_log_likelihood", "gaussian_sample"]

_LOG_2PI = math.log(2.0 * math.pi)


def _check_like(name, x, ref_name, ref):
    if x is not None and not shapes_compatible(x.shape, ref.shape):
        raise ValueError(
            f"Argument `{name}` must have the shape of `{ref_name}` {shape_str(ref.shape)}. "
            f"Received: {name}.shape={shape_str(x.shape)}"
        )


def _tensors(*xs):
    return [None if x is None else ops.convert_to_tensor(x) for x in xs]


def gaussian_log_likelihood(x, mean, log_variance):
    """Log density of `x` under a diagonal Gaussian, summed over the last axis.

    Args:
        x: float tensor `[..., D]`.
        mean: float tensor `[..., D]`.
        log_variance: float tensor `[..., D]` (log of the per-dimension variance).

    Returns:
        Tensor `[...]`: `sum_d log N(x_d; mean_d, exp(log_variance_d))`.

    Example:

    ```python
    x = np.zeros((2, 3), "float32")
    log_p = gaussian_log_likelihood(x, x, np.zeros((2, 3), "float32"))
    # -3/2 log(2 pi) per row
    ```
    """
    x, mean, log_variance = _tensors(x, mean, log_variance)
    check_min_rank("x", x, 1)
    _check_like("mean", mean, "x", x)
    _check_like("log_variance", log_variance, "x", x)
    squared = ops.square(x - mean) * ops.exp(-log_variance)
    return -0.5 * ops.sum(squared + log_variance + _LOG_2PI, axis=-1)


def gaussian_kl_divergence(mean, log_variance, prior_mean=None, prior_log_variance=None):
    """Closed-form `KL(N(mean, var) || N(prior_mean, prior_var))`, summed over the last axis.

    Args:
        mean: float tensor `[..., D]`, mean of q.
        log_variance: float tensor `[..., D]`, log-variance of q.
        prior_mean: float tensor `[..., D]` or None for zeros (a standard
            normal prior).
        prior_log_variance: float tensor `[..., D]` or None for zeros.

    Returns:
        Tensor `[...]` of KL divergences (nats).

    Example:

    ```python
    mean = np.ones((2, 4), "float32")
    kl = gaussian_kl_divergence(mean, np.zeros((2, 4), "float32"))  # 0.5 * 4 per row
    ```
    """
    mean, log_variance, prior_mean, prior_log_variance = _tensors(
        mean, log_variance, prior_mean, prior_log_variance
    )
    check_min_rank("mean", mean, 1)
    _check_like("log_variance", log_variance, "mean", mean)
    _check_like("prior_mean", prior_mean, "mean", mean)
    _check_like("prior_log_variance", prior_log_variance, "mean", mean)
    if prior_mean is None:
        prior_mean = ops.zeros_like(mean)
    if prior_log_variance is None:
        prior_log_variance = ops.zeros_like(log_variance)
    # KL = 1/2 [log(var_p / var_q) + (var_q + (mu_q - mu_p)^2) / var_p - 1], per dimension.
    ratio = ops.exp(log_variance - prior_log_variance)
    mahalanobis = ops.square(mean - prior_mean) * ops.exp(-prior_log_variance)
    return 0.5 * ops.sum(ratio + mahalanobis - 1.0 - log_variance + prior_log_variance, axis=-1)


def gaussian_sample(mean, log_variance, seed=None, noise=None):
    """A reparameterized sample `mean + exp(log_variance / 2) * noise`, noise ~ N(0, I).

    The sample is a differentiable function of `mean` and `log_variance`
    (Kingma & Welling 2014, Eq. 10), so gradients reach the encoder.

    Args:
        mean: float tensor `[..., D]`.
        log_variance: float tensor `[..., D]`.
        seed: int, `keras.random.SeedGenerator` or None, for the noise.
        noise: optional float tensor `[..., D]` used instead of fresh noise
            (fixed noise makes a sample reproducible, e.g. to compare an
            exported model with Keras).

    Returns:
        Tensor shaped like `mean`.

    Example:

    ```python
    z = gaussian_sample(np.zeros((2, 3), "float32"), np.zeros((2, 3), "float32"), seed=0)
    ```
    """
    mean, log_variance, noise = _tensors(mean, log_variance, noise)
    check_min_rank("mean", mean, 1)
    _check_like("log_variance", log_variance, "mean", mean)
    _check_like("noise", noise, "mean", mean)
    if noise is None:
        noise = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=seed)
    return mean + ops.exp(0.5 * log_variance) * ops.cast(noise, mean.dtype)
