"""2-D (multi-dimensional) LSTM recurrence over a grid (Graves et al. 2007).

Cell `(i, j)` reads its input and the states of its upper `(i-1, j)` and left
`(i, j-1)` neighbours, with one forget gate per neighbour:

    s = x[i, j] W + h[i-1, j] U_up + h[i, j-1] U_left + b
    c[i, j] = sig(s_i) * tanh(s_g) + sig(s_fu) * c[i-1, j] + sig(s_fl) * c[i, j-1]
    h[i, j] = sig(s_o) * tanh(c[i, j])

Every cell on an anti-diagonal `i + j = d` depends only on diagonal `d - 1`,
so the grid is skewed (row `i` shifted right by `i`, by a pad and a reshape)
and scanned over its `H + W - 1` diagonals, all cells of one diagonal in one
matmul: a static Python loop of `H + W - 1` steps instead of `H * W`, which
XLA compiles as straight-line code. Directions (scanning from other corners)
are a leading axis with their own weights, run in the same loop.

References:
    - Graves, Fernández & Schmidhuber, "Multi-Dimensional Recurrent Neural
      Networks", ICANN 2007. https://arxiv.org/abs/0705.2011
    - Graves & Schmidhuber, "Offline Handwriting Recognition with
      Multidimensional Recurrent Neural Networks", NIPS 2009.
"""

import numpy as np
from keras import ops

__all__ = ["multi_dimensional_lstm", "skew_grid", "unskew_grid"]


def skew_grid(x):
    """`[..., H, W, C]` -> `[..., H, H + W - 1, C]` with row `i` shifted right by `i`."""
    *lead, h, w, c = x.shape
    lead = [-1 if d is None else d for d in lead]
    x = ops.pad(x, [[0, 0]] * (len(x.shape) - 2) + [[0, h], [0, 0]])
    x = ops.reshape(x, (*lead, h * (w + h), c))[..., : h * (w + h - 1), :]
    return ops.reshape(x, (*lead, h, w + h - 1, c))


def unskew_grid(x, width):
    """Inverse of `skew_grid`: `[..., H, H + W - 1, C]` -> `[..., H, W, C]`."""
    *lead, h, d, c = x.shape
    lead = [-1 if n is None else n for n in lead]
    x = ops.reshape(x, (*lead, h * d, c))
    x = ops.pad(x, [[0, 0]] * (len(x.shape) - 2) + [[0, h], [0, 0]])
    return ops.reshape(x, (*lead, h, d + 1, c))[..., :width, :]


def multi_dimensional_lstm(projected, up_kernel, left_kernel):
    """Runs the 2-D LSTM recurrence over a projected grid, diagonal by diagonal.

    Args:
        projected: `[N, B, H, W, 5U]`: `x W + b` for `N` directions, gate
            columns ordered `i, f_up, f_left, o, g`. `H`, `W` must be static.
        up_kernel: `[N, U, 5U]` recurrent kernel from the upper neighbour.
        left_kernel: `[N, U, 5U]` recurrent kernel from the left neighbour.

    Returns:
        `[N, B, H, W, U]` hidden states (row 0 and column 0 see zero neighbours).

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops.multi_dimensional_lstm import multi_dimensional_lstm

    proj = np.random.rand(1, 2, 3, 4, 10).astype("float32")
    kernel = np.zeros((1, 2, 10), "float32")
    print(multi_dimensional_lstm(proj, kernel, kernel).shape)   # (1, 2, 3, 4, 2)
    ```

    References:
        Graves et al., ICANN 2007, https://arxiv.org/abs/0705.2011.
    """
    projected = ops.convert_to_tensor(projected)
    n, _, h, w, _ = projected.shape
    u = up_kernel.shape[-1] // 5
    skewed = skew_grid(projected)  # [N, B, H, D, 5U]
    steps = h + w - 1
    rows = np.arange(h)
    dtype = projected.dtype
    h_prev = ops.zeros_like(skewed[:, :, :, 0, :u])
    c_prev = h_prev
    outputs = []
    for d in range(steps):
        valid = ((d - rows >= 0) & (d - rows < w)).astype("float32")
        valid = ops.cast(ops.convert_to_tensor(valid.reshape(1, 1, h, 1)), dtype)
        # Row i's upper neighbour is row i-1 one diagonal earlier; row 0 has none.
        h_up = ops.pad(h_prev[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])
        c_up = ops.pad(c_prev[:, :, :-1], [[0, 0], [0, 0], [1, 0], [0, 0]])
        s = skewed[:, :, :, d] + _batched_matmul(h_up, up_kernel)
        s = s + _batched_matmul(h_prev, left_kernel)
        i = ops.sigmoid(s[..., :u])
        f_up = ops.sigmoid(s[..., u : 2 * u])
        f_left = ops.sigmoid(s[..., 2 * u : 3 * u])
        o = ops.sigmoid(s[..., 3 * u : 4 * u])
        g = ops.tanh(s[..., 4 * u :])
        # Cells off the grid stay zero: they are the zero neighbours of row starts.
        c_prev = valid * (i * g + f_up * c_up + f_left * c_prev)
        h_prev = valid * (o * ops.tanh(c_prev))
        outputs.append(h_prev)
    return unskew_grid(ops.stack(outputs, axis=3), w)


def _batched_matmul(x, kernel):
    """`[N, B, H, U] @ [N, U, K]` -> `[N, B, H, K]` (one matmul per direction)."""
    n, _, h, u = x.shape
    flat = ops.reshape(x, (n, -1, u))
    return ops.reshape(ops.matmul(flat, kernel), (n, -1, h, kernel.shape[-1]))
