"""Malformed call arguments raise a ValueError naming the argument (issue #11, item 3).

Every public layer, op, decoder and tensor metric is fed wrong ranks,
mismatched batch or time sizes, wrong dtypes (float ids, int emissions) and
masks of the wrong shape; each must raise a `ValueError` whose message names
the argument in backticks and quotes what it received, before any backend
kernel runs. The checks are static (shapes and dtypes), so the second half of
this file shows they cost nothing where it matters: symbolic `None`
dimensions, `tf.function` input signatures, `jit_compile=True` and mixed
precision all still work.

Cases are `(public_name, argument_name, thunk)`. The CRF, decoding and metric
cases are below; every other topic keeps its cases beside its tests in a
`tests/**/malformed_cases_<topic>.py` module (a `CASES` list, and an optional
`EXEMPT` dict naming public names with no tensor argument and why), collected
here by path. The coverage test fails when a public name of `layers`, `ops`,
`decoding` or `metrics` has no case and no stated exemption.
"""

import importlib.util
import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st
from keras import ops

from keras_dlss import decoding, layers, metrics
from keras_dlss import ops as dlss_ops
from keras_dlss.decoding import beam_search, greedy_decode, sample, scheduled_sampling_unroll
from keras_dlss.layers import (
    CRF,
    CRFModel,
    FixedPointLayer,
    WeightStandardizedConv2D,
    crf_targets,
    normalization,
)
from keras_dlss.metrics import TokenAccuracy, get_entities, span_f1, token_accuracy
from keras_dlss.ops import (
    allowed_transitions,
    crf_decode,
    crf_log_likelihood,
    crf_log_partition,
    crf_marginals,
    implicit_fixed_point,
    solve_fixed_point,
)

B, T, K, V = 2, 3, 4, 5

# Public names in scope that take no tensor argument a user could malform.
EXEMPT = {
    "sharpness": "takes a model and a dataset; it is not a sequence-labeling metric (metrics/sharpness.py)",
}

# Each topic owns its cases in `tests/**/malformed_cases_<topic>.py` (a module-level
# `CASES` list, and optionally an `EXEMPT` dict of names with the reason).
_TESTS = pathlib.Path(__file__).parent


def _topic_case_modules():
    """Every `malformed_cases_*.py` module under tests/, imported by path
    (tests run with --import-mode=importlib)."""
    modules = []
    for path in sorted(_TESTS.rglob("malformed_cases_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


_TOPIC_MODULES = _topic_case_modules()
for _module in _TOPIC_MODULES:
    EXEMPT.update(getattr(_module, "EXEMPT", {}))


def _topic_cases():
    return [case for module in _TOPIC_MODULES for case in module.CASES]


# ----------------------------------------------------------------------------- inputs


def _emissions(b=B, t=T, k=K, dtype="float32"):
    return np.random.default_rng(0).standard_normal((b, t, k)).astype(dtype)


def _tags(b=B, t=T, dtype="int32"):
    return np.zeros((b, t), dtype)


def _mask(b=B, t=T):
    return np.ones((b, t), bool)


TRANSITIONS = np.zeros((K, K), "float32")


def _markov_step(tokens, state):
    table = ops.convert_to_tensor(np.log(np.full((V, V), 1.0 / V, "float32")))
    return ops.take(table, tokens, axis=0), state


def _step_returning(log_probs_fn=None, state_fn=None):
    """A step function that breaks one part of the decoding contract."""

    def step_fn(tokens, state):
        log_probs, new_state = _markov_step(tokens, state)
        if log_probs_fn is not None:
            log_probs = log_probs_fn(log_probs)
        if state_fn is not None:
            new_state = state_fn(new_state)
        return log_probs, new_state

    return step_fn


INT_LOG_PROBS = _step_returning(log_probs_fn=lambda lp: ops.cast(lp, "int32"))
EXTRA_ROW = _step_returning(log_probs_fn=lambda lp: ops.concatenate([lp, lp[:1]], axis=0))
RANK3_LOG_PROBS = _step_returning(log_probs_fn=lambda lp: lp[:, None, :])
GROWN_STATE = _step_returning(state_fn=lambda s: ops.concatenate([s, s], axis=-1))
STATE = np.zeros((B, 1), "float32")


class _ProjectCell(keras.layers.Layer):
    """f([z, x]) = tanh(x U): its output has `units` features whatever z is."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.u = self.add_weight(shape=(input_shape[1][-1], self.units), name="u")

    def call(self, inputs):
        _, x = inputs
        return ops.tanh(ops.matmul(x, self.u))


def _crf_model_fit_with(y):
    inputs = keras.Input((T, 6))
    model = CRFModel(inputs, CRF(K)(keras.layers.Dense(K)(inputs)))
    model.compile(optimizer="sgd", run_eagerly=True)
    model.train_on_batch(np.zeros((B, T, 6), "float32"), y)


def _symbolic_crf_with_mask(mask_steps):
    emissions = keras.Input((T, K))
    mask = keras.Input((mask_steps,), dtype="bool")
    CRF(K)(emissions, mask=mask)


def _traced_log_likelihood(tags_steps):
    @tf.function
    def fn(e, y):
        return crf_log_likelihood(e, y, TRANSITIONS)

    fn.get_concrete_function(
        tf.TensorSpec([None, T, K], tf.float32), tf.TensorSpec([None, tags_steps], tf.int32)
    )


# ----------------------------------------------------------------------------- cases


def _crf_op_cases():
    cases = []
    for name, op in (
        ("crf_log_partition", crf_log_partition),
        ("crf_marginals", crf_marginals),
        ("crf_decode", crf_decode),
        ("crf_log_likelihood", None),
    ):

        def call(op=op, emissions=None, tags=None, transitions=TRANSITIONS, **kw):
            emissions = _emissions() if emissions is None else emissions
            if op is None:
                tags = _tags() if tags is None else tags
                return crf_log_likelihood(emissions, tags, transitions, **kw)
            return op(emissions, transitions, **kw)

        cases += [
            (name, "emissions", lambda c=call: c(emissions=np.zeros((B, T), "float32"))),
            (name, "emissions", lambda c=call: c(emissions=np.zeros((B, T, K, 1), "float32"))),
            (name, "emissions", lambda c=call: c(emissions=_emissions(dtype="int32"))),
            (name, "transitions", lambda c=call: c(transitions=np.zeros((K, K), "int32"))),
            (name, "transitions", lambda c=call: c(transitions=np.zeros((K + 1, K), "float32"))),
            (name, "start_transitions", lambda c=call: c(start_transitions=np.zeros(K + 1))),
            (name, "end_transitions", lambda c=call: c(end_transitions=np.zeros(K, "int32"))),
            (name, "mask", lambda c=call: c(mask=_mask(t=T + 1))),
            (name, "mask", lambda c=call: c(mask=_mask(b=B + 1))),
            (name, "mask", lambda c=call: c(mask=np.ones((B, T, 1), bool))),
        ]
    ll = crf_log_likelihood
    cases += [
        (
            "crf_log_likelihood",
            "tags",
            lambda: ll(_emissions(), _tags(dtype="float32"), TRANSITIONS),
        ),
        ("crf_log_likelihood", "tags", lambda: ll(_emissions(), _tags(t=T + 2), TRANSITIONS)),
        ("crf_log_likelihood", "tags", lambda: ll(_emissions(), _tags(b=B + 1), TRANSITIONS)),
        (
            "crf_log_likelihood",
            "tags",
            lambda: ll(_emissions(), np.zeros((B, T, 1), "int32"), TRANSITIONS),
        ),
        ("crf_log_likelihood", "tags", lambda: _traced_log_likelihood(T + 1)),
        ("allowed_transitions", "labels", lambda: allowed_transitions(["O", "X-PER"])),
        ("allowed_transitions", "labels", lambda: allowed_transitions([])),
    ]
    return cases


def _fixed_point_cases():
    z0 = np.zeros((B, 3), "float32")
    x = np.ones((B, 3), "float32")
    w = np.zeros((3, 3), "float32")

    def f(z, x, p):
        return ops.tanh(ops.matmul(z, p[0]) + x)

    return [
        ("solve_fixed_point", "z0", lambda: solve_fixed_point(ops.cos, np.zeros((B, 3), "int32"))),
        (
            "solve_fixed_point",
            "z0",
            lambda: solve_fixed_point(ops.cos, np.float32(0), anderson_memory=3),
        ),
        ("solve_fixed_point", "fn", lambda: solve_fixed_point(lambda z: z[:, :2], z0)),
        (
            "solve_fixed_point",
            "fn",
            lambda: solve_fixed_point(lambda z: ops.cast(z, "float64"), z0),
        ),
        (
            "solve_fixed_point",
            "fn",
            lambda: solve_fixed_point(lambda z: z[:, :2], z0, anderson_memory=3),
        ),
        (
            "solve_fixed_point",
            "max_iterations",
            lambda: solve_fixed_point(ops.cos, z0, max_iterations=0),
        ),
        ("solve_fixed_point", "damping", lambda: solve_fixed_point(ops.cos, z0, damping=0.0)),
        ("implicit_fixed_point", "x", lambda: implicit_fixed_point(f, x.astype("int32"), [w], z0)),
        (
            "implicit_fixed_point",
            "params[0]",
            lambda: implicit_fixed_point(f, x, [w.astype("int32")], z0),
        ),
        ("implicit_fixed_point", "z0", lambda: implicit_fixed_point(f, x, [w], z0.astype("int32"))),
        ("implicit_fixed_point", "z0", lambda: implicit_fixed_point(f, x, [w], np.float32(0))),
    ]


def _layer_cases():
    def crf_log_likelihood_method(tags, dtype="float32"):
        layer = CRF(K)
        layer.build((None, None, K))
        return layer.log_likelihood(_emissions(dtype=dtype), tags)

    def crf_with_targets(y):
        with crf_targets(y):
            CRF(K)(_emissions())

    fp, ws = FixedPointLayer, WeightStandardizedConv2D
    return [
        ("CRF", "inputs", lambda: CRF(K)(np.zeros((B, K), "float32"))),
        ("CRF", "inputs", lambda: CRF(K)(_emissions(k=K + 1))),
        ("CRF", "inputs", lambda: CRF(K)(_emissions(dtype="int32"))),
        ("CRF", "mask", lambda: CRF(K)(_emissions(), mask=_mask(t=T + 1))),
        ("CRF", "mask", lambda: CRF(K)(_emissions(), mask=_mask(b=B + 1))),
        ("CRF", "mask", lambda: CRF(K)(_emissions(), mask=np.ones((B,), bool))),
        ("CRF", "mask", lambda: _symbolic_crf_with_mask(T + 2)),
        ("CRF", "tags", lambda: crf_log_likelihood_method(_tags(dtype="float32"))),
        ("CRF", "emissions", lambda: crf_log_likelihood_method(_tags(), dtype="int32")),
        ("crf_targets", "y", lambda: crf_with_targets(_tags(t=T + 1))),
        ("crf_targets", "y", lambda: crf_with_targets(np.zeros((B,), "int32"))),
        ("crf_targets", "y", lambda: crf_with_targets(np.array([["a"] * T] * B))),
        ("CRFModel", "y", lambda: _crf_model_fit_with(_tags(t=T + 1))),
        ("FixedPointLayer", "x", lambda: fp(_ProjectCell(3))(np.zeros((B,), "float32"))),
        ("FixedPointLayer", "x", lambda: fp(_ProjectCell(3))(np.zeros((B, 3), "int32"))),
        (
            "FixedPointLayer",
            "function",
            lambda: fp(_ProjectCell(5), state_shape=(3,))(np.ones((B, 3), "float32")),
        ),
        ("WeightStandardizedConv2D", "inputs", lambda: ws(2, 3)(np.zeros((B, 6, 4), "float32"))),
        ("WeightStandardizedConv2D", "epsilon", lambda: ws(2, 3, epsilon=0.0)),
        ("normalization", "kind", lambda: normalization("batchnorm")),
        ("normalization", "groups", lambda: normalization("group", groups=3, channels=8)),
    ]


def _decoding_cases():
    cases = []
    for name, fn in (
        ("greedy_decode", lambda s, st: greedy_decode(s, st, 0, V - 1, 3)),
        ("beam_search", lambda s, st: beam_search(s, st, 0, V - 1, 2, 3)),
        ("sample", lambda s, st: sample(s, st, 0, V - 1, 3, seed=1)),
    ):
        cases += [
            (name, "initial_state", lambda f=fn: f(_markov_step, np.float32(0))),
            (name, "initial_state", lambda f=fn: f(_markov_step, (STATE, np.zeros((B + 1, 1))))),
            (name, "step_fn", lambda f=fn: f(INT_LOG_PROBS, STATE)),
            (name, "step_fn", lambda f=fn: f(EXTRA_ROW, STATE)),
            (name, "step_fn", lambda f=fn: f(RANK3_LOG_PROBS, STATE)),
            (name, "step_fn", lambda f=fn: f(GROWN_STATE, STATE)),
        ]

    def unroll(step_fn=_markov_step, state=STATE, targets=None, epsilon=0.5):
        targets = _tags() if targets is None else targets
        return scheduled_sampling_unroll(step_fn, state, targets, epsilon, start_id=0)

    name = "scheduled_sampling_unroll"
    cases += [
        (name, "targets", lambda: unroll(targets=_tags(dtype="float32"))),
        (name, "targets", lambda: unroll(targets=np.zeros((B,), "int32"))),
        (name, "targets", lambda: unroll(targets=_tags(b=B + 1))),
        (name, "targets", lambda: unroll(targets=np.zeros((B, 0), "int32"))),
        (name, "teacher_forcing_probability", lambda: unroll(epsilon=np.full((B,), 0.5))),
        (name, "initial_state", lambda: unroll(state=np.float32(0))),
        (name, "step_fn", lambda: unroll(step_fn=INT_LOG_PROBS)),
        (name, "step_fn", lambda: unroll(step_fn=EXTRA_ROW)),
        (name, "step_fn", lambda: unroll(step_fn=GROWN_STATE)),
    ]
    return cases


def _metric_cases():
    gold = [["B-PER", "I-PER", "O"]]
    scores = np.zeros((B, T, K), "float32")

    def update(y_true=None, y_pred=None, sample_weight=None):
        y_true = _tags() if y_true is None else y_true
        y_pred = _tags() if y_pred is None else y_pred
        TokenAccuracy().update_state(y_true, y_pred, sample_weight=sample_weight)

    return [
        ("span_f1", "y_true", lambda: span_f1(gold[0], gold)),
        ("span_f1", "y_pred", lambda: span_f1(gold, gold[0])),
        ("span_f1", "y_pred[0]", lambda: span_f1(gold, [[1, 2, 0]])),
        ("span_f1", "y_true", lambda: span_f1(gold + gold, gold)),
        ("token_accuracy", "y_true", lambda: token_accuracy(np.zeros(3), [[0, 0, 0]])),
        ("token_accuracy", "y_pred", lambda: token_accuracy([[0, 0, 0]], ["abc"])),
        ("get_entities", "tags", lambda: get_entities("B-PER")),
        ("get_entities", "tags", lambda: get_entities([1, 2])),
        ("TokenAccuracy", "y_pred", lambda: update(y_pred=_tags(dtype="float32"))),
        ("TokenAccuracy", "y_pred", lambda: update(y_pred=np.zeros((B,), "int32"))),
        ("TokenAccuracy", "y_true", lambda: update(y_true=_tags(t=T + 1))),
        ("TokenAccuracy", "y_true", lambda: update(y_true=_tags(b=B + 1), y_pred=scores)),
        ("TokenAccuracy", "y_true", lambda: update(y_true=np.zeros((B, T, K), "int32"))),
        ("TokenAccuracy", "sample_weight", lambda: update(sample_weight=np.ones((B, T + 1)))),
    ]


CASES = (
    _crf_op_cases() + _fixed_point_cases() + _layer_cases() + _decoding_cases() + _metric_cases()
)
ALL_CASES = CASES + _topic_cases()


def _case_id(case, counts={}):  # noqa: B006 (a counter shared across the ids)
    key = f"{case[0]}-{case[1]}"
    counts[key] = counts.get(key, 0) + 1
    return f"{key}-{counts[key]}"


@pytest.mark.parametrize(
    "public_name, argument, thunk", ALL_CASES, ids=[_case_id(c) for c in ALL_CASES]
)
def test_malformed_argument_raises_value_error_naming_it(public_name, argument, thunk):
    with pytest.raises(ValueError, match=re.escape(f"`{argument}`")) as info:
        thunk()
    assert "Received" in str(info.value), str(info.value)


# ----------------------------------------------------------------------------- coverage


def _public_names():
    names = set(layers.__all__) | set(dlss_ops.__all__) | set(decoding.__all__)
    return names | set(metrics.__all__)


def test_every_public_name_in_scope_has_a_case():
    covered = {case[0] for case in ALL_CASES}
    missing = _public_names() - set(EXEMPT) - covered
    assert not missing, f"public names with no malformed-input case: {sorted(missing)}"
    assert not set(EXEMPT) & covered, "an exempt name has cases: drop the exemption"


# ----------------------------------------------------------------------------- generated


@settings(max_examples=30, deadline=None)
@given(
    target=st.sampled_from(["emissions", "tags", "mask"]),
    axis=st.integers(0, 2),
    delta=st.integers(1, 3),
    extra_rank=st.sampled_from([-1, 1]),
)
def test_generated_shape_mismatches_name_the_argument(target, axis, delta, extra_rank):
    """A wrong rank, or a batch/time size off by `delta`, in one argument of the CRF ops.

    `emissions` is the reference the others are checked against (a size change
    there is reported on `tags`/`mask`), so it only gets wrong ranks.
    """
    shapes = {"emissions": [B, T, K], "tags": [B, T], "mask": [B, T]}
    shape = list(shapes[target])
    if target != "emissions" and axis < len(shape):
        shape[axis] += delta
    else:  # a wrong rank: one axis more or fewer
        shape = shape + [1] if extra_rank > 0 else shape[:-1]
    args = {
        "emissions": np.zeros(shapes["emissions"], "float32"),
        "tags": np.zeros(shapes["tags"], "int32"),
        "mask": np.ones(shapes["mask"], bool),
    }
    args[target] = np.ones(shape, args[target].dtype)
    with pytest.raises(ValueError, match=re.escape(f"`{target}`")) as info:
        crf_log_likelihood(args["emissions"], args["tags"], TRANSITIONS, mask=args["mask"])
    assert "Received" in str(info.value)


@settings(max_examples=20, deadline=None)
@given(
    tags_dtype=st.sampled_from(["float16", "float32", "float64", "bool"]),
    emissions_dtype=st.sampled_from(["int8", "int32", "int64", "uint8", "bool"]),
    broken=st.sampled_from(["tags", "emissions"]),
)
def test_generated_wrong_dtypes_name_the_argument(tags_dtype, emissions_dtype, broken):
    emissions = _emissions(dtype=emissions_dtype if broken == "emissions" else "float32")
    tags = _tags(dtype=tags_dtype if broken == "tags" else "int32")
    with pytest.raises(ValueError, match=re.escape(f"`{broken}`")) as info:
        crf_log_likelihood(emissions, tags, TRANSITIONS)
    assert f"{broken}.dtype=" in str(info.value)


# ----------------------------------------------------------------------------- static only


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float64"])
def test_every_float_dtype_passes(dtype):
    e = ops.cast(_emissions(), dtype)
    tags, _ = crf_decode(e, ops.cast(TRANSITIONS, dtype))
    ll = crf_log_likelihood(e, ops.cast(_tags(dtype="int64"), "int64"), TRANSITIONS, mask=_mask())
    assert tuple(tags.shape) == (B, T) and tuple(ll.shape) == (B,)


def test_symbolic_none_dims_through_the_crf_layer():
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(20, 8, mask_zero=True)(inputs)
    tags = CRF(K)(keras.layers.Dense(K)(x))
    model = CRFModel(inputs, tags)
    model.compile(optimizer="sgd", jit_compile=True)
    ids = np.random.default_rng(0).integers(1, 20, size=(B, 5))
    ids[:, 4:] = 0
    model.fit(ids, ids % K, epochs=1, verbose=0)
    assert model.predict(ids[:, :3], verbose=0).shape == (B, 3)
    assert model.predict(ids, verbose=0).shape == (B, 5)


def test_symbolic_none_dims_under_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    inputs = keras.Input((None, 6))
    emissions = keras.layers.Dense(K)(inputs)
    assert keras.backend.standardize_dtype(emissions.dtype) == "float16"
    model = CRFModel(inputs, CRF(K)(emissions))
    model.compile(optimizer="sgd")
    model.fit(np.zeros((B, T, 6), "float32"), _tags(), epochs=1, verbose=0)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_crf_ops_trace_with_none_dims(jit_compile):
    signature = [
        tf.TensorSpec([None, None, K], tf.float32),
        tf.TensorSpec([None, None], tf.int32),
        tf.TensorSpec([None, None], tf.bool),
    ]

    @tf.function(input_signature=signature, jit_compile=jit_compile)
    def fn(e, y, m):
        ll = crf_log_likelihood(e, y, TRANSITIONS, mask=m)
        tags, _ = crf_decode(e, TRANSITIONS, mask=m)
        return ll, tags, crf_marginals(e, TRANSITIONS, mask=m), crf_log_partition(e, TRANSITIONS)

    for t in (2, 5):
        ll, tags, marginals, _ = fn(_emissions(t=t), _tags(t=t), _mask(t=t))
        assert ll.shape == (B,) and tags.shape == (B, t) and marginals.shape == (B, t, K)


def test_decoders_and_metric_trace_with_none_batch():
    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32)], jit_compile=True)
    def decode(state):
        greedy, _ = greedy_decode(_markov_step, state, 0, V - 1, 3)
        beams, _ = beam_search(_markov_step, state, 0, V - 1, 2, 3)
        log_probs, _ = scheduled_sampling_unroll(
            _markov_step, state, tf.zeros([B, T], tf.int32), 0.5, 0
        )
        return greedy, beams, log_probs

    greedy, beams, log_probs = decode(STATE)
    assert greedy.shape == (B, 3) and beams.shape == (B, 2, 3) and log_probs.shape == (B, T, V)

    metric = TokenAccuracy()

    @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2)
    def update(y_true, y_pred):
        metric.update_state(y_true, y_pred, sample_weight=tf.ones_like(y_true, tf.float32))

    update(_tags(), _tags())
    assert float(metric.result()) == 1.0


def test_fixed_point_traces_with_none_batch():
    layer = FixedPointLayer(_ProjectCell(3), max_iterations=5)
    layer.build((None, 3))

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)], jit_compile=True)
    def fn(x):
        z_cos, _ = solve_fixed_point(ops.cos, x, anderson_memory=3, max_iterations=5)
        return layer(x), z_cos

    z, z_cos = fn(np.ones((B, 3), "float32"))
    assert z.shape == (B, 3) and z_cos.shape == (B, 3)
