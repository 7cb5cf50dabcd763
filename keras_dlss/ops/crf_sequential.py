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


def forward_alphas(emissions, transitions, mask, start):
    """Sequential forward algorithm; returns alphas `[B, T, K]` (carried through padding)."""
    col = ops.max(transitions, axis=0)
    exp_trans = ops.exp(transitions - col)
    alpha0 = start + emissions[:, 0]

    def step(alpha, inputs):
        emit, valid = inputs[..., :-1], inputs[..., -1] > 0
        new = par.log_matvec(alpha, exp_trans, col) + emit
        new = ops.where(valid[:, None], new, alpha)
        return new, new

    _, alphas = _scan(step, alpha0, _scan_inputs(emissions, mask, 0))
    return _time_major(alphas)


def backward_betas(emissions, transitions, mask, end):
    """Sequential backward algorithm; `beta_t[i] = log sum over suffixes after t`, `[B, T, K]`."""
    row = ops.max(transitions, axis=1)
    exp_trans_t = ops.transpose(ops.exp(transitions - row[:, None]))
    beta_last = ops.broadcast_to(end, ops.shape(emissions[:, 0]))

    def step(beta, inputs):
        emit, valid = inputs[..., :-1], inputs[..., -1] > 0
        new = par.log_matvec(beta + emit, exp_trans_t, row)
        new = ops.where(valid[:, None], new, beta)
        return new, new

    _, betas = _scan(step, beta_last, _scan_inputs(emissions, mask, 1), reverse=True)
    return _time_major(betas)


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


def log_partition(emissions, transitions, mask, start, end):
    """`log Z` per sequence (`[B]`, carried to the last valid step) with a forward-backward gradient.

    Backpropagating through the forward scan makes the framework record and
    replay every step (measured 10-50x the forward time on CPU under XLA);
    the exact gradient is cheaper in closed form: `d log Z / d e_t` are the
    marginals, `d log Z / d A` the summed pairwise marginals, from one extra
    backward scan and a few vectorized ops.
    """

    @ops.custom_gradient
    def fn(emissions, transitions, start, end):
        alphas = forward_alphas(emissions, transitions, mask, start)
        log_z = ops.logsumexp(alphas[:, -1] + end, axis=-1)

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            maskf = ops.cast(mask, emissions.dtype)
            weight = upstream * maskf[:, 0]  # empty sequences contribute nothing
            betas = backward_betas(emissions, transitions, mask, end)
            shift = log_z[:, None, None]
            post = ops.exp(alphas + betas - shift) * maskf[..., None]
            d_emissions = post * weight[:, None, None]
            pair = ops.exp(
                ops.expand_dims(alphas[:, :-1], -1)
                + transitions
                + ops.expand_dims(emissions[:, 1:] + betas[:, 1:], -2)
                - shift[..., None]
            )
            pair = pair * (maskf[:, 1:] * weight[:, None])[..., None, None]
            d_transitions = ops.sum(pair, axis=(0, 1))
            d_start = ops.sum(post[:, 0] * weight[:, None], axis=0)
            next_valid = ops.concatenate([maskf[:, 1:], ops.zeros_like(maskf[:, :1])], axis=1)
            last = post * (maskf - next_valid)[..., None]
            d_end = ops.sum(ops.sum(last, axis=1) * weight[:, None], axis=0)
            return d_emissions, d_transitions, d_start, d_end

        return log_z, grad

    return fn(emissions, transitions, start, end)
