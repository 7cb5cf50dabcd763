"""`AttentionWrapper`: an RNN cell that attends over a memory at every step.

Puts a Bahdanau or Luong attention mechanism inside any Keras RNN cell, as
tensorflow-addons' `seq2seq.AttentionWrapper` did before it stopped importing
beside Keras 3. At step t (Luong et al. 2015, https://arxiv.org/abs/1508.04025,
sections 3 and 3.3):

    h_t, s_t = cell([x_t; a_{t-1}], s_{t-1})        # input feeding
    alpha_t  = attention.align(h_t, keys, mask)      # [B, T]
    c_t      = sum_s alpha_t[s] * memory[s]
    a_t      = tanh(W_c [h_t; c_t])                  # or c_t if no attention layer

Keras 3's `RNN` has no `constants=` argument, so the memory, its projected keys
and its mask travel in the recurrent state (they pass through the loop
unchanged, which is free in a compiled while loop). Get that state from
`initial_state(memory, memory_mask)`; it also builds the attention weights.
"""

import keras
from keras import ops

from keras_dlss._validation import (
    check_dims_match,
    check_dtype_kind,
    check_mask_shape,
    check_positive_int,
    check_rank,
)
from keras_dlss.layers.attention import _alignment

# Trailing entries of the recurrent state after the cell's own states.
_ATTENTION, _ALIGNMENTS, _MEMORY, _KEYS, _MASK = range(5)


@keras.saving.register_keras_serializable(package="keras_dlss")
class AttentionWrapper(keras.layers.Layer):
    """Wraps an RNN cell with attention over a memory (input feeding, alignments).

    Use it inside `keras.layers.RNN` for teacher-forced training, or call it
    step by step inside a `keras_dlss.decoding` step function. Its state is the
    list `[*cell_states, attention, alignments, memory, keys, memory_mask]`,
    created by `initial_state`.

    Args:
        cell: a Keras RNN cell (`LSTMCell`, `GRUCell`, ...).
        attention: a `BahdanauAttention` or `LuongAttention` layer. It is
            queried with the cell output `h_t`.
        attention_layer_size: int or None. If set, the attention vector is
            `tanh(W_c [h_t; c_t])` of this size (Luong eq. 5); if None it is
            the context vector `c_t`. Defaults to `None`.
        output_attention: bool. Output the attention vector (Luong) rather than
            the cell output `h_t` (Bahdanau). Defaults to `True`.
        input_feeding: bool. Concatenate the previous attention vector to the
            cell input (Luong section 3.3). Defaults to `True`.
        return_alignments: bool. Append the step's alignments `[B, T]` to the
            output, so `RNN(..., return_sequences=True)` also returns the
            alignment history; split them with `split_alignments`. Needs a
            static memory length. Defaults to `False`.
        **kwargs: base `Layer` arguments.

    Example:

    ```python
    import keras
    import numpy as np
    from keras_dlss.layers import AttentionWrapper, BahdanauAttention

    memory = np.random.rand(2, 7, 16).astype("float32")
    memory_mask = np.array([[1] * 7, [1] * 4 + [0] * 3])
    wrapper = AttentionWrapper(
        keras.layers.LSTMCell(32), BahdanauAttention(32), attention_layer_size=32,
        return_alignments=True)
    rnn = keras.layers.RNN(wrapper, return_sequences=True)
    outputs = rnn(np.random.rand(2, 5, 8).astype("float32"),
                  initial_state=wrapper.initial_state(memory, memory_mask))
    outputs, alignments = wrapper.split_alignments(outputs)  # [2, 5, 32], [2, 5, 7]
    ```

    References:
        - [Luong et al., 2015](https://arxiv.org/abs/1508.04025)
        - [Bahdanau et al., 2014](https://arxiv.org/abs/1409.0473)
    """

    def __init__(
        self,
        cell,
        attention,
        attention_layer_size=None,
        output_attention=True,
        input_feeding=True,
        return_alignments=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = keras.saving.deserialize_keras_object(cell)
        if isinstance(attention, dict):
            attention = keras.saving.deserialize_keras_object(attention)
        for name, value, attr in (("cell", cell, "state_size"), ("attention", attention, "align")):
            if not hasattr(value, attr):
                raise ValueError(
                    f"Argument `{name}` must be an RNN cell (with `state_size`) for `cell`, "
                    f"or an attention layer (with `align`) for `attention`. Received: {name}={value!r}"
                )
        self.cell = cell
        self.attention = attention
        self.attention_layer_size = (
            None
            if attention_layer_size is None
            else check_positive_int("attention_layer_size", attention_layer_size)
        )
        self.output_attention = bool(output_attention)
        self.input_feeding = bool(input_feeding)
        self.return_alignments = bool(return_alignments)
        self.attention_layer = None
        if self.attention_layer_size is not None:
            self.attention_layer = keras.layers.Dense(
                self.attention_layer_size,
                activation="tanh",
                use_bias=False,
                name="attention_layer",
                dtype=self.dtype_policy,
            )
        self._memory_shape = None  # (T, depth), known after initial_state()
        self._step_input_shape = None

    # ------------------------------------------------------------------ sizes

    @property
    def _cell_state_sizes(self):
        sizes = self.cell.state_size
        return list(sizes) if isinstance(sizes, (list, tuple)) else [sizes]

    @property
    def _cell_output_size(self):
        return getattr(self.cell, "output_size", self._cell_state_sizes[0])

    @property
    def attention_size(self):
        """Depth of the attention vector `a_t` (None until the memory is known)."""
        if self.attention_layer_size is not None:
            return self.attention_layer_size
        return None if self._memory_shape is None else self._memory_shape[1]

    @property
    def state_size(self):
        # Memory entries are [B, T, depth]: their ints here are placeholders for
        # `RNN`'s bookkeeping; `initial_state` builds the real tensors.
        length, depth = self._memory_shape or (None, None)
        return [*self._cell_state_sizes, self.attention_size, length, depth, depth, length]

    @property
    def output_size(self):
        size = self.attention_size if self.output_attention else self._cell_output_size
        if self.return_alignments:
            if self._memory_shape is None or self._memory_shape[0] is None:
                raise ValueError(
                    "AttentionWrapper(return_alignments=True) needs a memory with a static "
                    "length: call `initial_state(memory)` with a fixed-length memory first."
                )
            size += self._memory_shape[0]
        return size

    # ------------------------------------------------------------------ build

    def build_attention(self, memory_shape):
        """Builds the attention weights for a `[B, T, depth]` memory shape.

        `initial_state` calls it; call it yourself to build a layer that holds
        the wrapper (e.g. in its own `build`) before any memory is seen.
        """
        memory_shape = tuple(memory_shape)
        if len(memory_shape) != 3:
            raise ValueError(
                "Argument `memory` must have rank 3 ([batch, time, depth]). "
                f"Received: memory.shape={memory_shape}"
            )
        self._memory_shape = (memory_shape[1], memory_shape[2])
        query_shape = (memory_shape[0], self._cell_output_size)
        if not self.attention.built:
            self.attention.build(query_shape, memory_shape)
        if self.attention_layer is not None and not self.attention_layer.built:
            self.attention_layer.build((memory_shape[0], self._cell_output_size + memory_shape[2]))

    def build(self, inputs_shape, states_shape=None):
        if self._memory_shape is None and states_shape is not None:
            self.build_attention(states_shape[len(self._cell_state_sizes) + _MEMORY])
        if self._memory_shape is None:
            raise ValueError(
                "AttentionWrapper needs its memory before it runs: pass "
                "`initial_state=wrapper.initial_state(memory, memory_mask)` to the RNN "
                "(or to your first call). Received: no memory"
            )
        self._step_input_shape = tuple(inputs_shape)
        feed = self.attention_size if self.input_feeding else 0
        if not self.cell.built:
            self.cell.build((inputs_shape[0], inputs_shape[-1] + feed))
        self.built = True

    def get_build_config(self):
        if self._step_input_shape is None:
            return None
        return {
            "input_shape": list(self._step_input_shape),
            "memory_shape": [None, *self._memory_shape],
        }

    def build_from_config(self, config):
        self.build_attention(tuple(config["memory_shape"]))
        self.build(tuple(config["input_shape"]))

    # ------------------------------------------------------------------ state

    def initial_state(self, memory, memory_mask=None, cell_state=None):
        """The wrapper's initial state for `memory` ([B, T, depth]).

        Args:
            memory: `[B, T, depth]` tensor, e.g. encoder outputs.
            memory_mask: optional `[B, T]` tensor, 1 for real positions.
            cell_state: optional initial state of the wrapped cell (a tensor or
                list, e.g. the encoder's final `[h, c]`); zeros by default.

        Returns:
            The state list to pass as `initial_state` to `keras.layers.RNN`, or
            to `call` when stepping manually.
        """
        memory = ops.convert_to_tensor(memory)
        check_rank("memory", memory, 3)
        check_dtype_kind("memory", memory, "floating")
        if memory_mask is not None:
            memory_mask = ops.convert_to_tensor(memory_mask)
            check_mask_shape("memory_mask", memory_mask, "memory", memory)
        self.build_attention(memory.shape)
        dtype = self.compute_dtype
        memory = ops.cast(memory, dtype)
        batch, length = ops.shape(memory)[0], ops.shape(memory)[1]
        if memory_mask is None:
            mask = ops.ones((batch, length), dtype)
        else:
            mask = ops.cast(memory_mask, dtype)
        if cell_state is None:
            cell_state = self.cell.get_initial_state(batch_size=batch)
        cell_state = list(cell_state) if isinstance(cell_state, (list, tuple)) else [cell_state]
        if len(cell_state) != len(self._cell_state_sizes):
            raise ValueError(
                f"Argument `cell_state` must hold the cell's {len(self._cell_state_sizes)} "
                f"states. Received: {len(cell_state)} tensors"
            )
        for s in cell_state:
            s = ops.convert_to_tensor(s)
            check_rank("cell_state", s, 2)
            check_dims_match("cell_state", s, 0, memory.shape[0], "the batch size of `memory`")
        cell_state = [ops.cast(s, dtype) for s in cell_state]
        attention = ops.zeros((batch, self.attention_size), dtype)
        alignments = ops.zeros((batch, length), dtype)
        keys = self.attention.process_memory(memory)
        return [*cell_state, attention, alignments, memory, keys, mask]

    def get_initial_state(self, batch_size=None):
        raise ValueError(
            "AttentionWrapper has no memory-free initial state: pass "
            "`initial_state=wrapper.initial_state(memory, memory_mask)` to the RNN. "
            f"Received: batch_size={batch_size}"
        )

    def split_alignments(self, outputs):
        """Splits `return_alignments=True` outputs into `(outputs, alignments)`."""
        length = self._memory_shape[0]
        return outputs[..., :-length], outputs[..., -length:]

    # ------------------------------------------------------------------ step

    def _validate(self, inputs, states):
        """Trace-time checks of one step's arguments (static shapes only)."""
        n = len(self._cell_state_sizes)
        check_rank("inputs", inputs, 2)
        check_dtype_kind("inputs", inputs, "floating")
        if self._step_input_shape is not None:
            check_dims_match(
                "inputs", inputs, -1, self._step_input_shape[-1], "the features it was built with"
            )
        if len(states) != n + 5:
            raise ValueError(
                f"Argument `states` must be the {n + 5} tensors of `initial_state(memory, ...)`. "
                f"Received: {len(states)} tensors"
            )
        memory = states[n + _MEMORY]
        check_rank("states", memory, 3)
        check_dims_match("inputs", inputs, 0, memory.shape[0], "the batch size of the memory")

    def call(self, inputs, states, training=None):
        states = list(states)
        self._validate(inputs, states)
        n = len(self._cell_state_sizes)
        cell_states, extra = states[:n], states[n:]
        memory, keys, mask = extra[_MEMORY], extra[_KEYS], extra[_MASK]
        if self.input_feeding:
            inputs = ops.concatenate([inputs, ops.cast(extra[_ATTENTION], inputs.dtype)], axis=-1)
        cell_output, new_cell_states = self.cell(inputs, cell_states, training=training)
        if not isinstance(new_cell_states, (list, tuple)):
            new_cell_states = [new_cell_states]
        alignments = self.attention.align(cell_output, keys, mask)
        context = _alignment.context_vector(alignments, memory)
        if self.attention_layer is not None:
            attention = self.attention_layer(ops.concatenate([cell_output, context], axis=-1))
        else:
            attention = context
        output = attention if self.output_attention else cell_output
        if self.return_alignments:
            output = ops.concatenate([output, ops.cast(alignments, output.dtype)], axis=-1)
        return output, [*new_cell_states, attention, alignments, memory, keys, mask]

    def get_config(self):
        return {
            **super().get_config(),
            "cell": keras.saving.serialize_keras_object(self.cell),
            "attention": keras.saving.serialize_keras_object(self.attention),
            "attention_layer_size": self.attention_layer_size,
            "output_attention": self.output_attention,
            "input_feeding": self.input_feeding,
            "return_alignments": self.return_alignments,
        }
