"""Neural Turing machine addressing (Graves et al. 2014, Sec. 3.3): pure functions.

Each head's weighting goes through four stages, one function each, composed by
`ntm_address`:

1. content addressing (Eq. 5-6): `w^c_i = softmax_i(beta * cos(k, M_i))`;
2. interpolation (Eq. 7): `w^g = g w^c + (1 - g) w_{t-1}`;
3. convolutional shift (Eq. 8): `w~_i = sum_j w^g_j s_{(i - j) mod N}`, a circular
   convolution with a distribution over the offsets `-r..r`;
4. sharpening (Eq. 9): `w_i = w~_i^gamma / sum_j w~_j^gamma`, `gamma >= 1`.

Under mixed precision `ntm_address` computes in float32 (cosines of a near-zero memory
and `w^gamma` underflow in float16) and returns the input dtype.

The shift is written as `2r + 1` static `ops.roll`s (r is small: 1 in the paper's copy
task), which XLA and ONNX handle without gathers.
"""

import keras
from keras import ops

from keras_dlss._validation import check_rank, static_dim

_EPSILON = 1e-8


def _column(x):
    """`[batch]` -> `[batch, 1]` (expand_dims, not reshape(-1, 1): TF's vectorized Jacobians
    mis-batch the reshape)."""
    return ops.expand_dims(x, -1) if len(x.shape) == 1 else x


def content_addressing(memory, key, strength):
    """Content weighting `softmax(strength * cosine(key, memory rows))` (Eq. 5-6).

    Args:
        memory: `[batch, N, M]` memory matrix.
        key: `[batch, M]` key vector.
        strength: `[batch]` or `[batch, 1]` key strength beta >= 0.

    Returns:
        `[batch, N]` weighting over memory locations.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import content_addressing

    memory = np.eye(4, 3)[None].astype("float32")
    key = np.array([[1.0, 0, 0]], "float32")
    print(content_addressing(memory, key, np.array([50.0], "float32")))
    ```

    References:
        Graves et al. 2014, https://arxiv.org/abs/1410.5401.
    """
    check_rank("memory", memory, 3)
    check_rank("key", key, 2)
    dot = ops.sum(memory * key[:, None, :], axis=-1)
    squared = ops.sum(ops.square(memory), -1) * ops.sum(ops.square(key), -1)[:, None]
    # The floor keeps sqrt's gradient finite when a row is erased to exactly zero (else NaN).
    norms = ops.sqrt(ops.maximum(squared, _EPSILON**2))
    similarity = dot / (norms + _EPSILON)
    return ops.softmax(_column(strength) * similarity, axis=-1)


def interpolate(content_weights, previous_weights, gate):
    """`gate * content_weights + (1 - gate) * previous_weights` (Eq. 7); gate `[batch]`."""
    gate = _column(gate)
    return gate * content_weights + (1.0 - gate) * previous_weights


def circular_shift(weights, shift):
    """Circular convolution of `weights` `[batch, N]` with `shift` `[batch, 2r + 1]` (Eq. 8).

    `shift[:, k]` is the probability of moving the focus by `k - r` locations: a one-hot
    on offset +1 moves every weight one location forward, wrapping around.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import circular_shift

    w = np.array([[0.0, 0.0, 0.0, 1.0]], "float32")
    print(circular_shift(w, np.array([[0.0, 0.0, 1.0]], "float32")))   # [[1, 0, 0, 0]]
    ```
    """
    check_rank("weights", weights, 2)
    check_rank("shift", shift, 2)
    width = static_dim(shift.shape[-1])
    if width is None or width % 2 != 1:
        raise ValueError(
            "Argument `shift` must have an odd static last axis (offsets -r..r). "
            f"Received: shift.shape={tuple(shift.shape)}"
        )
    radius = width // 2
    # axis=1, not -1: TF's vectorized Jacobians (pfor) roll the wrong axis for a negative one.
    out = 0.0
    for k in range(width):
        out = out + shift[:, k : k + 1] * ops.roll(weights, k - radius, axis=1)
    return out


def sharpen(weights, gamma):
    """`weights^gamma / sum(weights^gamma)` (Eq. 9); gamma `[batch]`, >= 1."""
    # Dividing by the largest weight first changes nothing mathematically but keeps the
    # largest power at 1: a flat weighting (1/128) to the power 20 underflows float32 to 0,
    # and 0 / 0 is NaN (a full-size copy run went NaN before this).
    weights = weights + _EPSILON
    weights = weights / ops.max(weights, axis=-1, keepdims=True)
    powered = ops.power(weights, _column(gamma))
    return powered / ops.sum(powered, axis=-1, keepdims=True)


def ntm_address(memory, previous_weights, key, strength, gate, shift, gamma):
    """One head's weighting: content, interpolation, shift and sharpening (Sec. 3.3).

    Args:
        memory: `[batch, N, M]`.
        previous_weights: `[batch, N]`, the head's weighting at the previous step.
        key: `[batch, M]`. strength: `[batch]` (beta >= 0). gate: `[batch]` in [0, 1].
        shift: `[batch, 2r + 1]` distribution over offsets. gamma: `[batch]` >= 1.

    Returns:
        `[batch, N]` weighting.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops import ntm_address

    memory = np.random.rand(1, 6, 3).astype("float32")
    previous = np.eye(6)[None, 0].astype("float32")
    one, zero = np.ones(1, "float32"), np.zeros(1, "float32")
    shift = np.array([[0.0, 0.0, 1.0]], "float32")
    w = ntm_address(memory, previous, memory[:, 2], one, zero, shift, one)
    print(w)    # gate 0: the previous focus, shifted by +1 -> location 1
    ```
    """
    dtype = keras.backend.standardize_dtype(previous_weights.dtype)
    work = "float32" if dtype in ("float16", "bfloat16") else dtype
    memory, previous_weights, key, strength, gate, shift, gamma = (
        ops.cast(x, work) for x in (memory, previous_weights, key, strength, gate, shift, gamma)
    )
    content = content_addressing(memory, key, strength)
    weights = sharpen(circular_shift(interpolate(content, previous_weights, gate), shift), gamma)
    return ops.cast(weights, dtype)
