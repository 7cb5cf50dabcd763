"""Gradient penalties on a discriminator's input gradient: R1 and WGAN-GP.

* R1 (Mescheder, Geiger & Nowozin 2018, eq. 9): `E_real ||∇ₓ D(x)||²`,
  penalizing the discriminator's gradient on real data; the GAN adds
  `γ/2` times it to the discriminator loss.
* WGAN-GP (Gulrajani et al. 2017, eq. 3): `E_x̂ (||∇ₓ̂ D(x̂)||₂ - 1)²` at random
  interpolates `x̂ = α x_real + (1 - α) x_fake`, `α ~ U[0, 1]` per example,
  a soft 1-Lipschitz constraint on the critic; the GAN adds `λ` times it.

Both differentiate `sum_i D(x_i)` with respect to the batch of inputs, which
gives every example's own input gradient only if `D` treats examples
independently: no BatchNorm in training mode in a penalized discriminator
(Gulrajani et al. sec. 4 say the same). The input gradient is taken with
`keras_dlss.autodiff.vjp`, whose pull-back stays differentiable on every
backend, so the penalty can itself be differentiated with respect to the
discriminator's weights inside a training step (double backpropagation).
"""

import keras
from keras import ops

from keras_dlss._validation import check_min_rank, shape_str

__all__ = ["r1_penalty", "wgan_gradient_penalty"]


def _input_gradient(discriminator_fn, x):
    from keras_dlss.autodiff import vjp

    outputs, vjp_fn = vjp(discriminator_fn, x)
    (grad,) = vjp_fn(ops.ones_like(outputs))
    return ops.reshape(grad, (ops.shape(grad)[0], -1))


def _check_inputs(name, x):
    x = ops.convert_to_tensor(x)
    check_min_rank(name, x, 2)
    if "float" not in keras.backend.standardize_dtype(x.dtype):
        raise ValueError(
            f"Argument `{name}` must have a floating dtype. "
            f"Received: {name}.dtype={keras.backend.standardize_dtype(x.dtype)}"
        )
    return x


def r1_penalty(discriminator_fn, real):
    """`E ||∇ₓ D(x)||²` over a batch of real examples (Mescheder et al. 2018).

    Args:
        discriminator_fn: callable mapping a batch `[batch, ...]` to outputs
            `[batch, ...]` (logits); examples must not interact.
        real: float tensor `[batch, ...]`, at least rank 2.

    Returns:
        A scalar: the mean over the batch of each example's squared gradient norm.

    Example:

    ```python
    # D(x) = 3 * sum(x): the gradient is 3 everywhere, so ||g||^2 = 9 * 4.
    value = r1_penalty(lambda x: 3.0 * ops.sum(x, axis=1), np.ones((2, 4), "float32"))
    assert abs(float(value) - 36.0) < 1e-4
    ```

    References:
        Mescheder, Geiger & Nowozin, "Which training methods for GANs do
        actually converge?", ICML 2018, https://arxiv.org/abs/1801.04406.
    """
    real = _check_inputs("real", real)
    grad = _input_gradient(discriminator_fn, real)
    return ops.mean(ops.sum(ops.square(grad), axis=1))


def wgan_gradient_penalty(discriminator_fn, real, fake, alpha=None, seed=None):
    """`E (||∇ D(x̂)||₂ - 1)²` at interpolates of real and fake examples (Gulrajani et al. 2017).

    Args:
        discriminator_fn: callable mapping a batch to critic scores; examples
            must not interact.
        real: float tensor `[batch, ...]`.
        fake: float tensor with the same shape as `real`.
        alpha: float tensor `[batch]` of interpolation weights, or None to draw
            them from `U[0, 1]` with `seed`. Defaults to `None`.
        seed: int or `keras.random.SeedGenerator` for `alpha`. Defaults to `None`.

    Returns:
        A scalar, the mean over the batch of `(||g_i||₂ - 1)²`.

    Example:

    ```python
    # A critic with gradient norm 2 everywhere pays (2 - 1)^2 = 1.
    fn = lambda x: ops.sum(x, axis=1)   # gradient (1, 1, 1, 1), norm 2
    value = wgan_gradient_penalty(fn, np.ones((3, 4), "float32"), np.zeros((3, 4), "float32"))
    assert abs(float(value) - 1.0) < 1e-4
    ```

    References:
        Gulrajani et al., "Improved training of Wasserstein GANs", NeurIPS
        2017, https://arxiv.org/abs/1704.00028.
    """
    real, fake = _check_inputs("real", real), _check_inputs("fake", fake)
    if tuple(real.shape) != tuple(fake.shape):
        raise ValueError(
            "Argument `fake` must have the shape of `real` "
            f"({shape_str(real.shape)}). Received: fake.shape={shape_str(fake.shape)}"
        )
    batch = ops.shape(real)[0]
    broadcast = (batch,) + (1,) * (len(real.shape) - 1)
    if alpha is None:
        alpha = keras.random.uniform((batch,), dtype=real.dtype, seed=seed)
    alpha = ops.reshape(ops.cast(alpha, real.dtype), broadcast)
    mixed = alpha * real + (1.0 - alpha) * fake
    grad = _input_gradient(discriminator_fn, mixed)
    # epsilon: the norm's gradient is undefined at a zero input gradient.
    norm = ops.sqrt(ops.sum(ops.square(grad), axis=1) + 1e-12)
    return ops.mean(ops.square(norm - 1.0))
