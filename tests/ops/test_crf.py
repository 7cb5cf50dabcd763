"""CRF core against brute-force enumeration of all K^T tag paths."""

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_dlss.ops import (
    allowed_transitions,
    crf_decode,
    crf_log_likelihood,
    crf_log_partition,
    crf_marginals,
)
from keras_dlss.ops.crf_parallel import NEG

ALGORITHMS = ("sequential", "parallel")
BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _enumerate(e, A, start, end, length):
    """All (path, score) pairs of one sequence of `length` tokens."""
    k = e.shape[-1]
    for path in itertools.product(range(k), repeat=length):
        score = start[path[0]] + end[path[-1]]
        score += sum(e[t, path[t]] for t in range(length))
        score += sum(A[path[t - 1], path[t]] for t in range(1, length))
        yield path, score


def _brute_force(e, A, start, end, lengths):
    """log Z, best score, marginals and a path->score dict for each sequence."""
    out = []
    for b, length in enumerate(lengths):
        if length == 0:
            out.append((0.0, 0.0, np.zeros(e.shape[1:]), {}))
            continue
        scores = dict(_enumerate(e[b], A, start, end, length))
        vals = np.array(list(scores.values()))
        log_z = np.logaddexp.reduce(vals)
        marg = np.zeros(e.shape[1:])
        for path, s in scores.items():
            marg[np.arange(length), path] += np.exp(s - log_z)
        out.append((log_z, vals.max(), marg, scores))
    return out


@st.composite
def crf_problems(draw):
    b = draw(st.integers(1, 3))
    t = draw(st.integers(1, 4))
    k = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    lengths = [draw(st.integers(0, t)) for _ in range(b)]
    if draw(st.booleans()):
        lengths[0] = t  # keep at least one full-length row most of the time
    mask = np.arange(t)[None, :] < np.array(lengths)[:, None]
    use_start_end = draw(st.booleans())
    start = rng.normal(size=k) if use_start_end else np.zeros(k)
    end = rng.normal(size=k) if use_start_end else np.zeros(k)
    constraints = rng.random((k, k)) > 0.3 if draw(st.booleans()) else None
    return dict(
        emissions=rng.normal(size=(b, t, k)),
        transitions=rng.normal(size=(k, k)),
        tags=rng.integers(0, k, size=(b, t)),
        mask=mask,
        lengths=lengths,
        start=start,
        end=end,
        use_start_end=use_start_end,
        constraints=constraints,
    )


def _kwargs(p, algorithm):
    kw = dict(mask=p["mask"], constraints=p["constraints"], algorithm=algorithm)
    if p["use_start_end"]:
        kw.update(start_transitions=p["start"], end_transitions=p["end"])
    return kw


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(crf_problems(), st.sampled_from(ALGORITHMS))
def test_matches_brute_force(p, algorithm):
    A = p["transitions"]
    if p["constraints"] is not None:  # forbidden moves score NEG, as documented
        A = np.where(p["constraints"], A, NEG)
    ref = _brute_force(p["emissions"], A, p["start"], p["end"], p["lengths"])
    kw = _kwargs(p, algorithm)
    e, tr = p["emissions"], p["transitions"]

    log_z = np.asarray(crf_log_partition(e, tr, **kw))
    np.testing.assert_allclose(log_z, [r[0] for r in ref], rtol=1e-9, atol=1e-9)

    ll = np.asarray(crf_log_likelihood(e, p["tags"], tr, **kw))
    for b, (r, length) in enumerate(zip(ref, p["lengths"])):
        gold = r[3][tuple(p["tags"][b, :length])] - r[0] if length else 0.0
        np.testing.assert_allclose(ll[b], gold, rtol=1e-9, atol=1e-7)

    tags, scores = crf_decode(e, tr, **kw)
    tags, scores = np.asarray(tags), np.asarray(scores)
    assert tags.dtype == np.int32
    np.testing.assert_allclose(scores, [r[1] for r in ref], rtol=1e-9, atol=1e-9)
    for b, (r, length) in enumerate(zip(ref, p["lengths"])):
        assert np.all(tags[b, length:] == 0)
        if length:  # the decoded path attains the best score (ties allowed)
            np.testing.assert_allclose(r[3][tuple(tags[b, :length])], r[1], rtol=1e-9)

    marg = np.asarray(crf_marginals(e, tr, **kw))
    np.testing.assert_allclose(marg, np.stack([r[2] for r in ref]), atol=1e-9)


@pytest.mark.parametrize("shape", [(3, 13, 5), (2, 16, 4), (2, 1, 3), (4, 2, 6)])
def test_sequential_equals_parallel(shape):
    rng = np.random.default_rng(1)
    b, t, k = shape
    e = rng.normal(size=shape).astype("float32")
    A, start, end = rng.normal(size=(k, k)), rng.normal(size=k), rng.normal(size=k)
    mask = np.arange(t)[None] < rng.integers(0, t + 1, size=b)[:, None]
    tags = rng.integers(0, k, size=(b, t))
    results = {}
    for alg in ALGORITHMS:
        kw = dict(mask=mask, start_transitions=start, end_transitions=end, algorithm=alg)
        results[alg] = (
            crf_log_partition(e, A, **kw),
            crf_log_likelihood(e, tags, A, **kw),
            *crf_decode(e, A, **kw),
            crf_marginals(e, A, **kw),
        )
    for seq, par in zip(results["sequential"], results["parallel"]):
        np.testing.assert_allclose(np.asarray(seq), np.asarray(par), rtol=1e-5, atol=1e-5)


def test_length_zero_and_mask_effect():
    rng = np.random.default_rng(2)
    e = rng.normal(size=(2, 5, 3))
    A = rng.normal(size=(3, 3))
    mask = np.array([[1, 1, 1, 0, 0], [0, 0, 0, 0, 0]], bool)
    tags = np.array([[0, 1, 2, -1, 99], [5, 5, 5, 5, 5]])  # padded tags are ignored
    ll = np.asarray(crf_log_likelihood(e, tags, A, mask))
    assert ll[1] == 0.0
    # Changing emissions at padded positions changes nothing.
    e2 = e.copy()
    e2[0, 3:] += 100.0
    np.testing.assert_allclose(crf_log_likelihood(e2, tags, A, mask), ll)
    np.testing.assert_array_equal(crf_decode(e2, A, mask)[0], crf_decode(e, A, mask)[0])
    # ... and equals the unpadded computation.
    short = crf_log_likelihood(e[:1, :3], tags[:1, :3], A)
    np.testing.assert_allclose(ll[0], np.asarray(short)[0], rtol=1e-10)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_constrained_decode_never_forbidden(algorithm):
    allowed, allowed_start, allowed_end = allowed_transitions(BIO, "BIO", with_start_end=True)
    rng = np.random.default_rng(3)
    # Emissions that favour I- tags, which BIO forbids after O and at the start.
    e = rng.normal(size=(16, 9, len(BIO))) + np.array([0, 0, 3.0, 0, 3.0])
    mask = np.arange(9)[None] < rng.integers(1, 10, size=16)[:, None]
    unconstrained = np.asarray(crf_decode(e, np.zeros((5, 5)), mask)[0])
    tags = np.asarray(
        crf_decode(
            e,
            np.zeros((5, 5)),
            mask,
            constraints=(allowed, allowed_start, allowed_end),
            algorithm=algorithm,
        )[0]
    )
    bad = 0
    for b in range(16):
        length = mask[b].sum()
        path = tags[b, :length]
        assert allowed_start[path[0]]
        assert all(allowed[i, j] for i, j in zip(path[:-1], path[1:]))
        u = unconstrained[b, :length]
        bad += (not allowed_start[u[0]]) or any(not allowed[i, j] for i, j in zip(u[:-1], u[1:]))
    assert bad > 0  # the constraint did change some decodes


def test_marginals_are_gradient_of_log_partition():
    rng = np.random.default_rng(4)
    e = tf.constant(rng.normal(size=(2, 6, 4)))
    A = rng.normal(size=(4, 4))
    mask = np.array([[1] * 6, [1] * 3 + [0] * 3], bool)
    with tf.GradientTape() as tape:
        tape.watch(e)
        log_z = tf.reduce_sum(crf_log_partition(e, A, mask))
    grad = tape.gradient(log_z, e)
    np.testing.assert_allclose(grad, crf_marginals(e, A, mask), atol=1e-10)


def _expected_counts(e, A, start, end, lengths):
    """Brute-force gradients of sum_b log Z_b: marginals, transition, start and end counts."""
    k = e.shape[-1]
    d_e, d_a, d_s, d_t = np.zeros(e.shape), np.zeros((k, k)), np.zeros(k), np.zeros(k)
    for b, length in enumerate(lengths):
        scores = dict(_enumerate(e[b], A, start, end, length))
        log_z = np.logaddexp.reduce(list(scores.values()))
        for path, score in scores.items():
            p = np.exp(score - log_z)
            d_e[b, np.arange(length), path] += p
            for i, j in zip(path[:-1], path[1:]):
                d_a[i, j] += p
            d_s[path[0]] += p
            d_t[path[-1]] += p
    return d_e, d_a, d_s, d_t


def _bio_problem(scale):
    """BIO-constrained scores; at scale 50, I-PER at t=1 is reachable only from a tag
    exp(-50) less likely than O at t=0, yet it is the most likely tag there."""
    rng = np.random.default_rng(11)
    e = rng.normal(size=(2, 4, 5))
    e[:, 0, 0] += scale  # O at t=0 ...
    e[:, 1, 2] += 2 * scale  # ... then I-PER, whose only allowed predecessors are B-PER, I-PER
    A, start, end = rng.normal(size=(5, 5)), rng.normal(size=5), rng.normal(size=5)
    return e, A, start, end, np.array([[1, 1, 1, 1], [1, 1, 1, 0]], bool)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("scale", [0.0, 50.0])
def test_log_partition_gradient_is_expected_counts(algorithm, scale):
    e, A, start, end, mask = _bio_problem(scale)
    allowed, allowed_start, allowed_end = allowed_transitions(BIO, "BIO", with_start_end=True)
    lengths = mask.sum(1)
    ref = _expected_counts(
        e,
        np.where(allowed, A, NEG),
        np.where(allowed_start, start, NEG),
        np.where(allowed_end, end, NEG),
        lengths,
    )
    params = [tf.constant(x) for x in (e, A, start, end)]
    with tf.GradientTape() as tape:
        tape.watch(params)
        log_z = tf.reduce_sum(
            crf_log_partition(
                params[0],
                params[1],
                mask,
                params[2],
                params[3],
                constraints=(allowed, allowed_start, allowed_end),
                algorithm=algorithm,
            )
        )
    grads = tape.gradient(log_z, params)
    for name, got, want in zip(("emissions", "transitions", "start", "end"), grads, ref):
        np.testing.assert_allclose(np.asarray(got), want, atol=1e-9, err_msg=name)


def test_transition_counts_fall_back_to_exact_form(monkeypatch):
    """The scale-50 problem needs the exact form: the factored one alone loses the I-PER mass."""
    from keras_dlss.ops import crf_forward_backward

    e, A, _, _, mask = _bio_problem(50.0)
    allowed = allowed_transitions(BIO, "BIO")

    def d_transitions():
        A_t = tf.constant(A)
        with tf.GradientTape() as tape:
            tape.watch(A_t)
            log_z = tf.reduce_sum(crf_log_partition(e, A_t, mask, constraints=allowed))
        return np.asarray(tape.gradient(log_z, A_t))

    into_i_per = d_transitions()[:, 2]  # expected moves into I-PER, mostly at t=1
    assert into_i_per.sum() > 1.9
    monkeypatch.setattr(crf_forward_backward, "_LOG_NEGLIGIBLE", np.inf)  # never fall back
    assert d_transitions()[:, 2].sum() < into_i_per.sum() - 1.9  # the t=1 moves are lost


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_xla_matches_eager(algorithm):
    rng = np.random.default_rng(5)
    e = rng.normal(size=(3, 7, 4)).astype("float32")
    A = rng.normal(size=(4, 4)).astype("float32")
    tags = rng.integers(0, 4, size=(3, 7)).astype("int32")
    mask = np.arange(7)[None] < np.array([[7], [3], [0]])

    def fn(e, tags, mask):
        kw = dict(mask=mask, algorithm=algorithm)
        # Marginals under XLA are covered by the CRF layer's conformance test.
        return (crf_log_likelihood(e, tags, A, **kw), *crf_decode(e, A, **kw))

    eager = fn(e, tags, mask)
    xla = tf.function(fn, jit_compile=True)(e, tags, mask)
    for a, b in zip(eager, xla):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)


def test_dynamic_shapes_in_graph():
    """Sequential algorithm traces with unknown batch and time (functional models)."""
    A = np.eye(3, dtype="float32")
    spec = tf.TensorSpec([None, None, 3], tf.float32)
    fn = tf.function(lambda e: crf_decode(e, A)[0], input_signature=[spec])
    e = np.random.default_rng(6).normal(size=(2, 5, 3)).astype("float32")
    np.testing.assert_array_equal(fn(e), crf_decode(e, A)[0])
    np.testing.assert_array_equal(fn(e[:, :1]), crf_decode(e[:, :1], A)[0])


def test_gradients_match_finite_differences():
    debugging = pytest.importorskip("keras_dlss.debugging")
    if not hasattr(debugging, "gradient_check"):
        pytest.skip("keras_dlss.debugging.gradient_check not available yet")
    rng = np.random.default_rng(7)
    tags = rng.integers(0, 3, size=(2, 4))
    mask = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], bool)

    def nll(emissions, transitions, start, end):
        return -crf_log_likelihood(emissions, tags, transitions, mask, start, end)

    def nll_parallel(emissions, transitions, start, end):
        return -crf_log_likelihood(
            emissions, tags, transitions, mask, start, end, algorithm="parallel"
        )

    inputs = tuple(
        keras.ops.convert_to_tensor(x, "float64")
        for x in (
            rng.normal(size=(2, 4, 3)),
            rng.normal(size=(3, 3)),
            rng.normal(size=3),
            rng.normal(size=3),
        )
    )
    debugging.gradient_check(nll, inputs)  # raises GradientCheckError on a mismatch
    debugging.gradient_check(nll_parallel, inputs, fast_mode=True)


# ----------------------------------------------------------------------------- errors


def _good():
    rng = np.random.default_rng(8)
    return rng.normal(size=(2, 3, 4)), rng.integers(0, 4, size=(2, 3)), np.zeros((4, 4))


@pytest.mark.parametrize(
    "change, pattern",
    [
        (dict(emissions=np.zeros((3, 4))), "`emissions` must have rank 3"),
        (dict(emissions=np.zeros((0, 3, 4))), "`emissions` must have a non-empty batch"),
        (dict(emissions=np.zeros((2, 0, 4))), "`emissions` must have at least one time step"),
        (dict(emissions=np.full((2, 3, 4), np.nan)), "`emissions` must be finite"),
        (dict(tags=np.zeros((2, 5), int)), "`tags` has 5 at axis 1"),
        (
            dict(tags=np.full((2, 3), 4)),
            r"`tags` must hold ids in \[0, 4\). Received: tags containing 4",
        ),
        (dict(tags=np.full((2, 3), -1)), r"`tags` must hold ids in \[0, 4\)"),
        (dict(transitions=np.zeros((4, 3))), r"`transitions` must have shape \(4, 4\)"),
        (dict(start_transitions=np.zeros(3)), r"`start_transitions` must have shape \(4,\)"),
        (
            dict(mask=np.array([[1, 0, 1], [1, 1, 1]], bool)),
            r"`mask` must be right-padded.*mask\[0\]=\[1, 0, 1\]",
        ),
        (dict(mask=np.array([[0, 1, 1], [1, 1, 1]], bool)), "`mask` must be right-padded"),
        (dict(mask=np.ones((2, 4), bool)), "`mask` has 4 at axis 1"),
        (dict(algorithm="magic"), r"`algorithm` must be one of .*Received: algorithm='magic'"),
        (dict(constraints=np.ones((3, 3), bool)), r"`constraints` must be a boolean \[4, 4\]"),
    ],
)
def test_bad_input_raises(change, pattern):
    e, tags, A = _good()
    kw = dict(emissions=e, tags=tags, transitions=A)
    kw.update(change)
    with pytest.raises(ValueError, match=pattern):
        crf_log_likelihood(**kw)


def test_parallel_needs_static_length():
    spec = tf.TensorSpec([None, None, 3], tf.float32)
    fn = tf.function(
        lambda e: crf_log_partition(e, np.zeros((3, 3), "float32"), algorithm="parallel")
    )
    with pytest.raises(ValueError, match="static sequence length"):
        fn.get_concrete_function(spec)


# ----------------------------------------------------------------------------- schemes


def test_allowed_transitions_bio():
    allowed, start, end = allowed_transitions(BIO, with_start_end=True)
    idx = {label: i for i, label in enumerate(BIO)}
    assert not allowed[idx["O"], idx["I-PER"]]
    assert not allowed[idx["B-LOC"], idx["I-PER"]]
    assert allowed[idx["B-PER"], idx["I-PER"]] and allowed[idx["I-PER"], idx["I-PER"]]
    assert allowed[idx["I-PER"], idx["B-LOC"]] and allowed[idx["I-LOC"], idx["O"]]
    np.testing.assert_array_equal(start, [True, True, False, True, False])
    assert end.all()


def test_allowed_transitions_iob1_and_bioes():
    iob1 = ["O", "I-PER", "B-PER"]
    allowed, start, _ = allowed_transitions(iob1, "IOB1", with_start_end=True)
    assert allowed[0, 1] and not allowed[0, 2] and allowed[1, 2] and allowed[2, 1]
    np.testing.assert_array_equal(start, [True, True, False])
    bioes = ["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "E-Y"]
    allowed, start, end = allowed_transitions(bioes, "BIOES", with_start_end=True)
    assert allowed[1, 2] and allowed[1, 3] and not allowed[1, 0] and not allowed[1, 6]
    assert allowed[3, 0] and allowed[3, 4] and allowed[4, 5] and not allowed[0, 2]
    np.testing.assert_array_equal(start, [True, True, False, False, True, True, False])
    np.testing.assert_array_equal(end, [True, False, False, True, True, False, True])
    np.testing.assert_array_equal(
        allowed_transitions(["O", "U-X", "L-X"], "BILOU"),
        allowed_transitions(["O", "S-X", "E-X"], "BIOES"),
    )


def test_allowed_transitions_errors():
    with pytest.raises(
        ValueError, match=r"`labels` must hold tags of the BIO scheme.*labels\[1\]='X-PER'"
    ):
        allowed_transitions(["O", "X-PER"])
    with pytest.raises(ValueError, match="`scheme` must be one of"):
        allowed_transitions(["O"], scheme="IOBX")
