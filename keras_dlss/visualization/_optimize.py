"""Gradient steps over an input image as one compiled, bounded loop (internal).

Every method of `keras_dlss.visualization` is the same program: a fixed
number of optimizer steps on an image (or on the parameters it is made from),
each taking the gradient of an objective through the user's model. We write
the whole loop as one `ops.fori_loop` whose body calls `keras_dlss.autodiff.vjp`
(the loss and its gradient in one pass), and compile that loop once: with
`tf.function(jit_compile=...)` on TensorFlow and `jax.jit` on JAX (XLA both),
while PyTorch runs it eagerly. The gradient is taken inside the loop body, never
through the loop, so the XLA while-loop gradient pitfall (PITFALLS.md) does not
apply, and the trip count is a Python int known when compiling.

Adam is written out here rather than taken from `keras.optimizers`: a Keras
optimizer keeps its moments in `Variable`s that it creates on first use, which
cannot happen inside a traced loop on JAX; a pure update over the loop carry
compiles the same way on every backend.

Randomness (jitter offsets) is drawn with NumPy from the user's seed before
compiling and read inside the loop by step index, so the same seed gives the
same image eagerly, in graph mode and under XLA.
"""

import keras
import numpy as np
from keras import ops, tree

from keras_dlss.autodiff import vjp


def compile_function(fn, jit_compile):
    """`fn` as one graph: XLA when `jit_compile` (TensorFlow, JAX); eager on PyTorch."""
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=bool(jit_compile), autograph=False)
    if backend == "jax" and jit_compile:
        import jax

        return jax.jit(fn)
    return fn


def adam_minimize(loss_fn, params, steps, learning_rate, project=None, jit_compile=True):
    """Minimizes `loss_fn(params, step)` with `steps` Adam steps in one compiled loop.

    Args:
        loss_fn: `(params, step) -> scalar`; `params` is a nest of float tensors.
        params: the starting nest (NumPy arrays or tensors).
        steps: int >= 1, the trip count.
        learning_rate: float.
        project: optional `(params, step) -> params` applied after each update
            (clipping, decay, blur: the non-gradient transforms).
        jit_compile: bool.

    Returns:
        `(params, losses)`: the final nest as NumPy arrays and the `[steps]` loss
        value before each update.
    """
    beta_1, beta_2, epsilon = 0.9, 0.999, 1e-8
    params = tree.map_structure(lambda p: ops.convert_to_tensor(p, "float32"), params)

    def body(step, carry):
        p, m, v, losses = carry
        loss, pullback = vjp(lambda q: loss_fn(q, step), p)
        (g,) = pullback(ops.ones_like(loss))
        # TF loses static batch sizes in some gradients (slice); the loop carry must keep them.
        g = tree.map_structure(lambda g_, p_: ops.reshape(g_, tuple(p_.shape)), g, p)
        t = ops.cast(step + 1, "float32")
        m = tree.map_structure(lambda m_, g_: beta_1 * m_ + (1 - beta_1) * g_, m, g)
        v = tree.map_structure(lambda v_, g_: beta_2 * v_ + (1 - beta_2) * g_ * g_, v, g)
        scale = learning_rate * ops.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        p = tree.map_structure(
            lambda p_, m_, v_: p_ - scale * m_ / (ops.sqrt(v_) + epsilon), p, m, v
        )
        if project is not None:
            p = project(p, step)
        losses = ops.slice_update(losses, [step], ops.reshape(ops.cast(loss, "float32"), (1,)))
        return p, m, v, losses

    def run(p):
        zeros = tree.map_structure(ops.zeros_like, p)
        init = (p, zeros, tree.map_structure(ops.zeros_like, p), ops.zeros((steps,)))
        p, _, _, losses = ops.fori_loop(0, steps, body, init)
        return p, losses

    p, losses = compile_function(run, jit_compile)(params)
    return tree.map_structure(ops.convert_to_numpy, p), ops.convert_to_numpy(losses)


def jitter_offsets(steps, amount, seed):
    """`[steps, 2]` int32 random offsets in `[0, 2 * amount]`, from a NumPy seed."""
    rng = np.random.default_rng(seed)
    return ops.convert_to_tensor(rng.integers(0, 2 * amount + 1, size=(steps, 2)), "int32")


def jitter(images, offsets, step, amount):
    """Shifts `images` by `offsets[step] - amount` pixels (reflect-padded), as Olah et al. do."""
    if amount == 0:
        return images
    shape = tuple(images.shape)
    pad = [[0, 0], [amount, amount], [amount, amount], [0, 0]]
    padded = ops.pad(images, pad, mode="reflect")
    shift = ops.take(offsets, step, axis=0)
    zero = ops.zeros((1,), "int32")
    start = ops.concatenate([zero, shift, zero])
    return ops.slice(padded, start, shape)


def gaussian_blur(images, sigma=1.0):
    """3x3 Gaussian blur of `[b, h, w, c]` images, channel by channel, reflect-padded."""
    taps = np.exp(-(np.arange(-1, 2) ** 2) / (2 * sigma**2))
    kernel = np.outer(taps, taps) / np.outer(taps, taps).sum()
    channels = images.shape[-1]
    kernel = np.tile(kernel[:, :, None, None], (1, 1, channels, 1)).astype("float32")
    padded = ops.pad(images, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="reflect")
    return ops.depthwise_conv(padded, ops.cast(kernel, images.dtype), padding="valid")
