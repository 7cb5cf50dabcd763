"""Neural Turing machine cell (Graves et al. 2014) for `keras.layers.RNN`.

An LSTM controller reads the input and the previous step's read vectors; a Dense layer
emits every head's parameters (key, strength, gate, shift, sharpening, and for write
heads erase and add vectors); `keras_dlss.ops.ntm_address` turns them into weightings.
Write heads update the memory first (Eq. 3-4: erase then add, one head after another),
then read heads read the updated memory (Eq. 2), so a value written at step t is readable
at step t, as in the common implementations (Collier & Beel 2018).

State (flat tensors, as Keras' `RNN` requires): controller `h`, `c`; memory `[N * M]`;
read weightings `[R * N]`; write weightings `[W * N]`; read vectors `[R * M]`. The initial
memory is a small constant and every head starts focused on location 0 (a fixed, not
learned, start: learned starts help little on copy, Collier & Beel 2018).
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.ops.ntm_addressing import ntm_address


@keras.saving.register_keras_serializable(package="keras_dlss")
class NTMCell(keras.layers.Layer):
    """A neural Turing machine step: LSTM controller, content + location addressing.

    Args:
        units: int. Controller LSTM units.
        memory_size: int. Memory locations N. Defaults to `128`.
        memory_width: int. Width M of each location. Defaults to `20`.
        read_heads: int. Defaults to `1`.
        write_heads: int. Defaults to `1`.
        shift_range: int. Largest shift r (offsets -r..r). Defaults to `1`.

    Returns (per step):
        `[batch, units + read_heads * memory_width]`: the controller output and the
        read vectors, for a Dense read-out.

    Example:

    ```python
    import keras, numpy as np
    from keras_dlss.layers import NTMCell

    rnn = keras.layers.RNN(NTMCell(16, memory_size=8, memory_width=4), return_sequences=True)
    print(rnn(np.random.rand(2, 5, 3).astype("float32")).shape)   # (2, 5, 20)
    ```

    References:
        Graves et al. 2014, "Neural Turing Machines", https://arxiv.org/abs/1410.5401;
        Collier & Beel 2018, https://arxiv.org/abs/1807.08518.
    """

    def __init__(
        self,
        units,
        memory_size=128,
        memory_width=20,
        read_heads=1,
        write_heads=1,
        shift_range=1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.memory_size = check_positive_int("memory_size", memory_size, minimum=2)
        self.memory_width = check_positive_int("memory_width", memory_width)
        self.read_heads = check_positive_int("read_heads", read_heads)
        self.write_heads = check_positive_int("write_heads", write_heads, minimum=0)
        self.shift_range = check_positive_int("shift_range", shift_range, minimum=0)
        if 2 * self.shift_range + 1 > self.memory_size:
            raise ValueError(
                "Argument `shift_range` must satisfy 2 * shift_range + 1 <= memory_size. "
                f"Received: shift_range={shift_range}, memory_size={memory_size}"
            )
        self.controller = keras.layers.LSTMCell(units, dtype=self.dtype_policy, name="controller")
        m, shifts = self.memory_width, 2 * self.shift_range + 1
        self._head_size = m + 3 + shifts  # key, strength, gate, gamma, shift
        self._num_parameters = (read_heads + write_heads) * self._head_size + write_heads * 2 * m
        self.head_parameters = keras.layers.Dense(
            self._num_parameters, dtype=self.dtype_policy, name="head_parameters"
        )

    @property
    def state_size(self):
        n, m = self.memory_size, self.memory_width
        r, w = self.read_heads, self.write_heads
        return [self.units, self.units, n * m, r * n, max(w, 1) * n, r * m]

    @property
    def output_size(self):
        return self.units + self.read_heads * self.memory_width

    def build(self, input_shape):
        features = input_shape[-1]
        self.controller.build((None, features + self.read_heads * self.memory_width))
        self.head_parameters.build((None, self.units))

    def get_initial_state(self, batch_size=None):
        n, m = self.memory_size, self.memory_width
        dtype = self.compute_dtype
        focus = ops.cast(ops.one_hot(0, n), dtype)[None, :]

        def heads(count):
            return ops.tile(focus, [1, count]) + ops.zeros((batch_size, count * n), dtype)

        return [
            ops.zeros((batch_size, self.units), dtype),
            ops.zeros((batch_size, self.units), dtype),
            ops.full((batch_size, n * m), 1e-6, dtype),
            heads(self.read_heads),
            heads(max(self.write_heads, 1)),
            ops.zeros((batch_size, self.read_heads * m), dtype),
        ]

    def _head(self, params, memory, previous):
        m, shifts = self.memory_width, 2 * self.shift_range + 1
        key = params[:, :m]
        strength = ops.softplus(params[:, m])
        gate = ops.sigmoid(params[:, m + 1])
        gamma = 1.0 + ops.softplus(params[:, m + 2])
        shift = ops.softmax(params[:, m + 3 : m + 3 + shifts], axis=-1)
        return ntm_address(memory, previous, key, strength, gate, shift, gamma)

    def call(self, inputs, states, training=None):
        h, c, memory, read_w, write_w, reads = states
        n, m, size = self.memory_size, self.memory_width, self._head_size
        batch = ops.shape(inputs)[0]
        memory = ops.reshape(memory, (batch, n, m))
        output, (h, c) = self.controller(ops.concatenate([inputs, reads], -1), [h, c])
        params = self.head_parameters(output)
        offset, new_write, new_read, new_reads = 0, [], [], []
        erase_add = params[:, (self.read_heads + self.write_heads) * size :]
        for i in range(self.write_heads):
            w = self._head(
                params[:, offset : offset + size], memory, write_w[:, i * n : (i + 1) * n]
            )
            offset += size
            erase = ops.sigmoid(erase_add[:, 2 * i * m : (2 * i + 1) * m])
            add = ops.tanh(erase_add[:, (2 * i + 1) * m : (2 * i + 2) * m])
            memory = (
                memory * (1.0 - w[:, :, None] * erase[:, None, :]) + w[:, :, None] * add[:, None, :]
            )
            new_write.append(w)
        for i in range(self.read_heads):
            w = self._head(
                params[:, offset : offset + size], memory, read_w[:, i * n : (i + 1) * n]
            )
            offset += size
            new_read.append(w)
            new_reads.append(ops.einsum("bn,bnm->bm", w, memory))
        reads = ops.concatenate(new_reads, -1)
        write_w = ops.concatenate(new_write, -1) if new_write else write_w
        states = [
            h,
            c,
            ops.reshape(memory, (batch, n * m)),
            ops.concatenate(new_read, -1),
            write_w,
            reads,
        ]
        return ops.concatenate([output, reads], -1), states

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "memory_size": self.memory_size,
            "memory_width": self.memory_width,
            "read_heads": self.read_heads,
            "write_heads": self.write_heads,
            "shift_range": self.shift_range,
        }
