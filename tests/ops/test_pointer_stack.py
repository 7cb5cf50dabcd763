"""The pointer stack against a Python list model (hypothesis), under XLA, and bad input."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_dlss.ops import stack_pop, stack_push, stack_top

B, CAPACITY = 3, 4
_np = keras.ops.convert_to_numpy

# Each step: an action per row (0 = nothing, 1 = push, 2 = pop) and the value pushed.
steps = st.lists(
    st.tuples(
        st.lists(st.integers(0, 2), min_size=B, max_size=B),
        st.lists(st.floats(-5, 5, width=32, allow_subnormal=False), min_size=B, max_size=B),
    ),
    max_size=12,
)


def _step(memory, size, actions, values):
    actions = keras.ops.convert_to_tensor(actions)
    values = keras.ops.expand_dims(keras.ops.convert_to_tensor(values, "float32"), -1)
    memory, size = stack_push(memory, size, values, keras.ops.equal(actions, 1))
    return memory, stack_pop(size, keras.ops.equal(actions, 2))


@settings(max_examples=30, deadline=None)
@given(steps)
def test_matches_python_lists(sequence):
    memory, size = np.zeros((B, CAPACITY, 1), "float32"), np.zeros(B, "int32")
    lists = [[] for _ in range(B)]
    for actions, values in sequence:
        memory, size = _step(memory, size, actions, values)
        for row, (action, value) in enumerate(zip(actions, values)):
            if action == 1 and len(lists[row]) < CAPACITY:
                lists[row].append(np.float32(value))
            elif action == 2 and lists[row]:
                lists[row].pop()
        np.testing.assert_array_equal(_np(size), [len(stack) for stack in lists])
        for depth in range(2):
            expected = [stack[-1 - depth] if len(stack) > depth else 0.0 for stack in lists]
            np.testing.assert_array_equal(_np(stack_top(memory, size, depth))[:, 0], expected)


def test_same_under_xla_as_eager():
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 3, size=(10, B))
    values = rng.normal(size=(10, B)).astype("float32")

    def run(actions, values):
        memory, size = tf.zeros((B, CAPACITY, 1)), tf.zeros(B, "int32")
        for t in range(10):
            memory, size = _step(memory, size, actions[t], values[t])
        return stack_top(memory, size), size

    eager = run(actions, values)
    compiled = tf.function(run, jit_compile=True)(tf.constant(actions), tf.constant(values))
    for a, b in zip(eager, compiled):
        np.testing.assert_array_equal(_np(a), _np(b))


def test_bad_input():
    memory, size = np.zeros((2, 3, 4), "float32"), np.zeros(2, "int32")
    with pytest.raises(ValueError, match="`values`.*Received"):
        stack_push(memory, size, np.zeros((2, 5), "float32"), np.ones(2, bool))
    with pytest.raises(ValueError, match="`size`.*Received"):
        stack_top(memory, np.zeros(2, "float32"))
    with pytest.raises(ValueError, match="`where`.*Received"):
        stack_pop(size, np.ones(3, bool))
