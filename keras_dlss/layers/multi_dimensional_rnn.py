"""Multi-dimensional (2-D) LSTM over an image grid (Graves et al. 2007).

A 1-D RNN over the rows of an image sees each pixel's left context only; the
2-D LSTM gives every pixel `(i, j)` the whole rectangle above and left of it
through two recurrences, and scanning from all four corners gives every pixel
the whole image (Graves et al. 2007, section 3.1; Graves & Schmidhuber 2009).
The recurrence runs diagonal by diagonal (`H + W - 1` sequential steps, see
`keras_dlss.ops.multi_dimensional_lstm`), so `H` and `W` must be static.

References:
    - Graves, Fernández & Schmidhuber, "Multi-Dimensional Recurrent Neural
      Networks", ICANN 2007. https://arxiv.org/abs/0705.2011
    - Graves & Schmidhuber, "Offline Handwriting Recognition with
      Multidimensional Recurrent Neural Networks", NIPS 2009.
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, shape_str
from keras_dlss.ops.multi_dimensional_lstm import multi_dimensional_lstm

__all__ = ["MultiDimensionalRNN"]


@keras.saving.register_keras_serializable(package="keras_dlss")
class MultiDimensionalRNN(keras.layers.Layer):
    """2-D LSTM over `[B, H, W, C]`: one or four scan directions, each with its own weights.

    Args:
        units: int. Units per direction.
        directions: `1` (scan from the top-left corner) or `4` (from every
            corner; outputs concatenated in the order top-left, top-right,
            bottom-left, bottom-right). Defaults to `1`.
        return_grid: bool. Return every pixel's state `[B, H, W, directions *
            units]`, or only each direction's final cell (the corner opposite
            its start) `[B, directions * units]`. Defaults to `True`.
        kernel_initializer: Defaults to `"glorot_uniform"`.
        recurrent_initializer: Defaults to `"orthogonal"` (per neighbour).
        bias_initializer: Defaults to `"zeros"`.
        **kwargs: `keras.layers.Layer` arguments.

    Call: `inputs [B, H, W, C]` with static `H`, `W`, `C`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import MultiDimensionalRNN

    layer = MultiDimensionalRNN(4, directions=4)
    print(layer(np.random.rand(2, 5, 6, 1).astype("float32")).shape)   # (2, 5, 6, 16)
    ```

    References:
        Graves et al., ICANN 2007, https://arxiv.org/abs/0705.2011.
    """

    def __init__(
        self,
        units,
        directions=1,
        return_grid=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.directions = check_one_of("directions", directions, (1, 4))
        self.return_grid = bool(return_grid)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _check_shape(self, shape):
        if len(shape) != 4:
            raise ValueError(
                "Argument `inputs` must have rank 4 (batch, height, width, channels). "
                f"Received: inputs.shape={shape_str(shape)}"
            )
        if any(d is None for d in shape[1:]):
            raise ValueError(
                "Argument `inputs` must have static height, width and channels: the "
                f"diagonal scan is unrolled. Received: inputs.shape={shape_str(shape)}"
            )

    def build(self, input_shape):
        self._check_shape(input_shape)
        n, u, c = self.directions, self.units, input_shape[-1]
        self.kernel = self.add_weight(
            shape=(n, c, 5 * u),
            initializer=self._per_direction(self.kernel_initializer),
            name="kernel",
        )
        self.up_kernel = self.add_weight(
            shape=(n, u, 5 * u),
            initializer=self._per_direction(self.recurrent_initializer),
            name="up_kernel",
        )
        self.left_kernel = self.add_weight(
            shape=(n, u, 5 * u),
            initializer=self._per_direction(self.recurrent_initializer),
            name="left_kernel",
        )
        self.bias = self.add_weight(
            shape=(n, 5 * u), initializer=self.bias_initializer, name="bias"
        )

    @staticmethod
    def _per_direction(initializer):
        # Each direction's [in, 5U] matrix initialised like a 2-D kernel (fan-in/out, orthogonal).
        def init(shape, dtype=None):
            return ops.stack([initializer(shape[1:], dtype=dtype) for _ in range(shape[0])])

        return init

    def _flip(self, x):
        # Direction k starts from corner (k // 2: bottom, k % 2: right); x is [N, B, H, W, C].
        flipped = []
        for k in range(self.directions):
            part = x[k]
            if k // 2:
                part = ops.flip(part, axis=1)
            if k % 2:
                part = ops.flip(part, axis=2)
            flipped.append(part)
        return ops.stack(flipped)

    def call(self, inputs):
        self._check_shape(tuple(inputs.shape))
        n = self.directions
        _, h, w, c = inputs.shape
        x = self._flip(ops.stack([inputs] * n))
        proj = ops.matmul(ops.reshape(x, (n, -1, c)), self.kernel)
        proj = ops.reshape(proj, (n, -1, h, w, 5 * self.units)) + self.bias[:, None, None, None]
        out = multi_dimensional_lstm(proj, self.up_kernel, self.left_kernel)
        if not self.return_grid:
            last = out[:, :, -1, -1]  # each direction's final cell, in its own frame
            return ops.concatenate([last[k] for k in range(n)], axis=-1)
        out = self._flip(out)
        return ops.concatenate([out[k] for k in range(n)], axis=-1)

    def compute_output_shape(self, input_shape):
        width = self.directions * self.units
        if not self.return_grid:
            return (input_shape[0], width)
        return (*input_shape[:3], width)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "directions": self.directions,
            "return_grid": self.return_grid,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }
