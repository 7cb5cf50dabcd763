"""The coverage mechanism inside an additive-attention decoder step (internal).

See et al. 2017 (https://arxiv.org/abs/1704.04368, eq. 11) add the coverage
vector `c_t` (the sum of the previous steps' attention, `keras_dlss.ops.
coverage_vectors`) to the Bahdanau scorer as one more feature:

    e_ti = v^T tanh(W_h h_i + W_s s_t + w_c c_ti + b_attn)

`CoverageWrapper` runs an existing `AttentionWrapper` (Bahdanau mechanism)
with that term and carries `c_t` in the recurrent state, so the teacher-forced
`keras.layers.RNN` pass, greedy search and beam search (which reorders the
state along beam ancestry) all see the same coverage.

Design: `W_h h_i` is the wrapper's precomputed `keys`, so the step adds
`w_c c_ti` to the keys it hands the wrapper and restores them afterwards;
the wrapper's own weights, names and code path stay untouched, which is what
makes `coverage=False` reproduce the model without coverage exactly. A
subclass or a modified copy of `AttentionWrapper` was rejected: either would
duplicate its ~60 lines of step logic for one added term.

State layout: the wrapper's `[*cell_states, attention, alignments, memory,
keys, mask]` with `coverage [B, S]` inserted before `attention`, so the last
three entries are still the per-sequence constants and `state[-4]` is still
the step's alignments (what `Seq2SeqTranslator`'s decoders rely on).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_dlss")
class CoverageWrapper(keras.layers.Layer):
    """RNN cell: an `AttentionWrapper` step whose Bahdanau scorer sees the coverage.

    Args:
        wrapper: the `AttentionWrapper` (with a `BahdanauAttention`) to run.
        coverage_initializer: initializer of `w_c` (`[units]` of the
            attention). Defaults to `"zeros"`, so training starts from the
            scorer without coverage.
        **kwargs: base `Layer` arguments.
    """

    def __init__(self, wrapper, coverage_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(wrapper, dict):
            wrapper = keras.saving.deserialize_keras_object(wrapper)
        self.wrapper = wrapper
        self.coverage_initializer = keras.initializers.get(coverage_initializer)

    @property
    def state_size(self):
        sizes = list(self.wrapper.state_size)
        # Coverage has the memory's length (the placeholder of `alignments`).
        return [*sizes[:-5], sizes[-4], *sizes[-5:]]

    @property
    def output_size(self):
        return self.wrapper.output_size

    def build(self, inputs_shape, states_shape=None):
        if not self.wrapper.built:
            shapes = None if states_shape is None else self.without_coverage(states_shape)
            self.wrapper.build(inputs_shape, shapes)
        self.coverage_kernel = self.add_weight(
            shape=(self.wrapper.attention.units,),
            initializer=self.coverage_initializer,
            name="coverage_kernel",
        )
        self.built = True

    @staticmethod
    def with_coverage(state, coverage):
        """The wrapper's state list -> this cell's (coverage before `attention`)."""
        state = list(state)
        return [*state[:-5], coverage, *state[-5:]]

    @staticmethod
    def without_coverage(state):
        state = list(state)
        return [*state[:-6], *state[-5:]]

    def initial_state(self, wrapper_state):
        """This cell's initial state: the wrapper's, with zero coverage."""
        alignments = wrapper_state[-4]  # zeros [B, S]
        return self.with_coverage(wrapper_state, ops.zeros_like(alignments))

    def call(self, inputs, states, training=None):
        states = list(states)
        coverage, inner = states[-6], self.without_coverage(states)
        keys, mask = inner[-2], inner[-1]
        w_c = ops.cast(self.coverage_kernel, keys.dtype)
        inner[-2] = keys + ops.cast(coverage, keys.dtype)[:, :, None] * w_c
        output, new = self.wrapper(inputs, inner, training=training)
        new = list(new)
        new[-2] = keys  # the constant keys travel on, not the step's shifted ones
        # Masked alignments are already 0; the mask keeps padding at zero coverage
        # even for a mechanism that leaks weight onto it.
        alignments = ops.cast(new[-4], coverage.dtype) * ops.cast(mask, coverage.dtype)
        return output, self.with_coverage(new, coverage + alignments)

    def get_config(self):
        return {
            **super().get_config(),
            "wrapper": keras.saving.serialize_keras_object(self.wrapper),
            "coverage_initializer": keras.initializers.serialize(self.coverage_initializer),
        }
