"""Sequential (O(T)-depth) forward, backward and Viterbi recursions of the linear-chain CRF.

Each recursion is a scan over time whose step is a max-shifted exp-space
matrix product (log-sum-exp semiring) or a max-plus product (Viterbi). See
`keras_dlss.ops.crf` for conventions.

References:
    - Rabiner, "A Tutorial on Hidden Markov Models and Selected Applications
      in Speech Recognition", Proc. IEEE 1989 (forward-backward, Viterbi).
"""

import keras
from keras import ops

from keras_dlss.ops import crf_parallel as par


def _time_major(x):
    return ops.moveaxis(x, 1, 0)


def _scan_inputs(emissions, mask, shift):
    """Time-major `[T, B, K+1]` scan inputs: emissions with the mask as a last column.

    Every scan runs over all T steps, with one step marked invalid (the first
    for `shift=0`, forward; the last for `shift=1`, where step t reads
    position t+1, backward): a scan over T-1 steps is empty when T=1 and TF
    cannot stack an empty list of unknown shape. One packed tensor rather
    than a tuple: Keras's TF `scan` crashes on several `xs` whose leading
    dimension is unknown (`NoneType` has no `assert_is_compatible_with`).
    """
    packed = ops.concatenate([emissions, ops.cast(mask, emissions.dtype)[..., None]], axis=-1)
    pad = ops.zeros_like(packed[:, :1])
    if shift:
        packed = ops.concatenate([packed[:, 1:], pad], axis=1)
    else:
        first = ops.concatenate([packed[:, :1, :-1], pad[..., -1:]], axis=-1)
        packed = ops.concatenate([first, packed[:, 1:]], axis=1)
    return _time_major(packed)


def _scan(step, init, xs, reverse=False):
    """`ops.scan` over the leading axis of one tensor `xs`; per-step outputs mirror the carry.

    On TensorFlow the loop is a `tf.while_loop` with `maximum_iterations` set:
    Keras's TF `scan` leaves it unset, and XLA cannot differentiate a while
    loop without a fixed trip count when the sequence length is unknown at
    trace time ("XLA compilation requires a fixed tensor list size"), which
    is the case for every functional model with `Input((None,))`.
    """
    if keras.config.backend() != "tensorflow":
        return ops.scan(step, init, xs, reverse=reverse)
    import tensorflow as tf

    # Reverse by flipping rather than reading index n-1-i: tf2onnx turns
    # TensorArray reads/writes at the loop counter into ONNX Scan inputs and
    # silently mis-orders any other index.
    if reverse:
        xs = tf.reverse(xs, axis=[0])
    n = tf.shape(xs)[0]
    flat_init = tf.nest.flatten(init)
    xs_ta = tf.TensorArray(xs.dtype, size=n, element_shape=xs.shape[1:]).unstack(xs)
    ys_tas = [tf.TensorArray(c.dtype, size=n, element_shape=c.shape) for c in flat_init]

    def body(i, carry, ys_tas):
        carry, ys = step(tf.nest.pack_sequence_as(init, carry), xs_ta.read(i))
        ys_tas = [ta.write(i, y) for ta, y in zip(ys_tas, tf.nest.flatten(ys))]
        return i + 1, tf.nest.flatten(carry), ys_tas

    _, carry, ys_tas = tf.while_loop(
        lambda i, *_: i < n, body, (tf.constant(0), flat_init, ys_tas), maximum_iterations=n
    )
    ys = []
    for ta, c in zip(ys_tas, flat_init):
        y = ta.stack()
        y = tf.reverse(y, axis=[0]) if reverse else y
        y.set_shape(xs.shape[:1].concatenate(c.shape))
        ys.append(y)
    return tf.nest.pack_sequence_as(init, carry), tf.nest.pack_sequence_as(init, ys)


def forward_backward(emissions, transitions, mask, start, end):
    """Forward and backward recursions in one scan: alphas, betas `[B, T, K]`.

    `alpha_t[j]` is the log-sum over prefixes ending in tag j at t (carried
    through padding), `beta_t[i]` the log-sum over suffixes after tag i at t.
    Step s advances alpha to s and beta to T-1-s with one batched
    `[2, B, K] x [2, K, K]` product: at small K the scan is bound by
    per-step overhead, not arithmetic, so two recursions in one loop cost
    about 0.7x of two loops (measured at (32, 64, 20) under XLA).
    """
    k = emissions.shape[-1]
    col = ops.max(transitions, axis=0)
    row = ops.max(transitions, axis=1)
    exp_mats = ops.stack(
        [ops.exp(transitions - col), ops.transpose(ops.exp(transitions - row[:, None]))]
    )
    shifts = ops.stack([col, row])[:, None, :]
    forward_in = _scan_inputs(emissions, mask, 0)
    backward_in = ops.flip(_scan_inputs(emissions, mask, 1), axis=0)
    alpha0 = start + emissions[:, 0]
    beta_last = ops.broadcast_to(end, ops.shape(alpha0))

    def step(carry, inputs):
        alpha, beta = carry
        emit_a, valid_a = inputs[..., :k], inputs[..., k : k + 1] > 0
        emit_b, valid_b = inputs[..., k + 1 : 2 * k + 1], inputs[..., -1:] > 0
        new = par.log_matvec(ops.stack([alpha, beta + emit_b]), exp_mats, shifts)
        alpha = ops.where(valid_a, new[0] + emit_a, alpha)
        beta = ops.where(valid_b, new[1], beta)
        return (alpha, beta), (alpha, beta)

    xs = ops.concatenate([forward_in, backward_in], axis=-1)
    _, (alphas, betas) = _scan(step, (alpha0, beta_last), xs)
    return _time_major(alphas), ops.flip(_time_major(betas), axis=1)


def viterbi(emissions, transitions, mask, start, end):
    k = emissions.shape[-1]
    iota = ops.arange(k, dtype="int32")
    delta0 = start + emissions[:, 0]

    # ops.scan on TF needs per-step outputs shaped like the carry, so the
    # back-pointers ride along in the carry (PITFALLS.md).
    def step(carry, inputs):
        delta, _ = carry
        emit, valid = inputs[..., :-1], inputs[..., -1] > 0
        scores = ops.expand_dims(delta, -1) + transitions  # [B, K_prev, K]
        new = ops.max(scores, axis=1) + emit
        back = par.first_argmax(scores, axis=1)
        new = ops.where(valid[:, None], new, delta)
        back = ops.where(valid[:, None], back, iota)
        return (new, back), (new, back)

    init = (delta0, ops.zeros(ops.shape(delta0), "int32") + iota)
    (last, _), (_, backs) = _scan(step, init, _scan_inputs(emissions, mask, 0))
    final = last + end
    return backtrace(backs, par.first_argmax(final)), ops.max(final, axis=-1)


def backtrace(backs, last_tag):
    """Reverse scan over time-major back-pointers `[T, B, K]` -> tags `[B, T]`.

    `backs[t][j]` is the best tag at t-1 given tag j at t; step t of the scan
    reads `backs[t+1]` (the identity for the last step, which emits `last_tag`).
    """
    ident = ops.zeros_like(backs[:1]) + ops.arange(backs.shape[-1], dtype="int32")
    backs = ops.concatenate([backs[1:], ident], axis=0)

    def step(tag, back):
        prev = ops.take_along_axis(back, tag[:, None], axis=1)[:, 0]
        return prev, prev

    _, tags = _scan(step, last_tag, backs, reverse=True)
    return _time_major(tags)
