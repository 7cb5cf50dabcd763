"""Issue #19 item 2: ops tests and layers' conformance tests on JAX and PyTorch.

The rest of the suite runs on TensorFlow. Here each backend runs ONE inner `pytest` in a
fresh process with `KERAS_BACKEND` set (Keras fixes its backend at import) over `NODES`.
The conformance harness skips its TensorFlow-only checks there (SavedModel export, and
float64 gradients, which Keras 3.15 demotes to float32 on JAX and torch: keras#23223),
with the reason in its report, and runs the rest (config round trip, `.keras` save/load,
eager / jit parity, a jit-compiled fit step, mixed precision, masks).

`NODES[backend]` is chosen to fit CI's budget (the CPU it costs is paid by the backend
matrix's worker pool). Every conformance test (a test in `tests/layers` calling
`run_layer_test`, found by reading the sources) and every `tests/ops` module must be in
`EVERY_BACKEND` (run on each backend, less `PENDING`: not yet run on that backend, with why):
`test_every_test_is_placed` fails on a new one, so none is forgotten.

Every test expected to fail on a backend is in `EXPECTED`, the one place, with its reason.
It is a strict xfail in the inner run: one that passes fails this test, so the list cannot
go stale, and a pattern that matches no test fails it too. The outcome table (per test:
passed / xfailed / skipped, with seconds) is printed and written to
`other_backends_<backend>.md` in pytest's temporary root.
"""

import ast
import fnmatch
import glob
import importlib.util
import json
import os
import resource
import subprocess
import sys

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
BACKENDS = ("jax", "torch")

_DEMOTION = (
    "Keras 3.15 demotes float64 to float32 on {backend} (keras-team/keras#23223): the test "
    "compares at float64 tolerances (or finite differences need float64); passes on TensorFlow"
)
_TF_TEST = (
    "TensorFlow test code: the test differentiates with tf.GradientTape or traces the op in "
    "tf.function / a symbolic tf.Tensor, which {backend} cannot take; the op itself is covered "
    "by the file's other tests here"
)
_HARNESS_SKIP = (
    "the test asserts that a TensorFlow-only harness check passed (SavedModel export, or "
    "float64 gradients: keras#23223); on {backend} the harness skips it, saying why"
)
_SYNC_BN = (
    "Keras: BatchNormalization(synchronized=True) is TensorFlow-only (ValueError on {backend})"
)
_CRF_JAX_COST = (
    "cost: its hypothesis tests re-jit the CRF for every drawn shape (~25 min under load here, "
    "the largest item by far); the CRF ops on JAX are compared with TensorFlow's numbers in "
    "tests/test_backends.py and trained in tests/test_backend_matrix.py (tagger)"
)


def _calls_harness(node):
    names = (getattr(n, "id", getattr(n, "attr", None)) for n in ast.walk(node))
    return "run_layer_test" in names


def _conformance_nodes():
    nodes = []
    for path in sorted(glob.glob(os.path.join(TESTS, "layers", "**", "test_*.py"), recursive=True)):
        with open(path) as f:
            tree = ast.parse(f.read())
        helpers = {
            n.name for n in tree.body if isinstance(n, ast.FunctionDef) and _calls_harness(n)
        }
        rel = os.path.relpath(path, ROOT)
        for n in tree.body:
            if not (isinstance(n, ast.FunctionDef) and n.name.startswith("test")):
                continue
            names = {getattr(c.func, "id", None) for c in ast.walk(n) if isinstance(c, ast.Call)}
            if _calls_harness(n) or names & helpers - {n.name}:
                nodes.append(f"{rel}::{n.name}")
    return nodes


def _ops_nodes():
    return sorted(
        os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(TESTS, "ops", "test_*.py"))
    )


# Run on every backend in CI (less that backend's `PENDING`): test modules of tests/ops,
# conformance test functions of tests/layers (all their parameters).
EVERY_BACKEND = [
    "tests/ops/test_coverage.py",
    "tests/ops/test_crf.py",
    "tests/ops/test_dense_crf_ops.py",
    "tests/ops/test_fixed_point_ops.py",
    "tests/ops/test_pointer_generator.py",
    "tests/ops/test_pointer_stack.py",
    "tests/ops/test_relative_attention_ops.py",
    "tests/ops/test_spanning_tree.py",
    "tests/layers/attention/test_attention_wrapper.py::test_conformance",
    "tests/layers/attention/test_bahdanau.py::test_conformance",
    "tests/layers/attention/test_luong.py::test_conformance",
    "tests/layers/test_biaffine.py::test_conformance",
    "tests/layers/test_bidaf_attention.py::test_conformance",
    "tests/layers/test_bilinear_pooling.py::test_bilinear_pooling_conformance",
    "tests/layers/test_crf.py::test_conformance_with_marginals",
    "tests/layers/test_crf.py::test_conformance_tags_only_parallel",
    "tests/layers/test_deep_rnns.py::test_stacked_conformance",
    "tests/layers/test_deep_rnns.py::test_md_rnn_conformance",
    "tests/layers/test_gated_feedback_lstm.py::test_gated_feedback_conformance",
    "tests/layers/test_dense_crf.py::test_conformance_exact_path_with_learned_compatibility",
    "tests/layers/test_edge_conv.py::test_edge_conv_conformance",
    "tests/layers/test_edge_conv.py::test_tnet_conformance_identity_start_and_loss",
    "tests/layers/test_end_to_end_memory.py::test_conformance",
    "tests/layers/test_fixed_point.py::test_conformance",
    "tests/layers/test_graph_attention.py::test_graph_attention_conformance",
    "tests/layers/test_graph_attention.py::test_graph_convolution_conformance",
    "tests/layers/test_hierarchical_multiscale_lstm.py::test_conformance",
    "tests/layers/test_mixed_operation.py::test_conformance_with_alpha_gradients",
    "tests/layers/test_monotonic_dense.py::test_conformance",
    "tests/layers/test_multimodal_fusion.py::test_film_conformance",
    "tests/layers/test_multimodal_fusion.py::test_gated_multimodal_unit_conformance",
    "tests/layers/test_multiplicative_lstm.py::test_conformance",
    "tests/layers/test_neural_additive.py::test_conformance",
    "tests/layers/test_normalization.py::test_factory_layers_pass_conformance",
    "tests/layers/test_ntm_cell.py::test_conformance",
    "tests/layers/test_pointer_attention.py::test_conformance",
    "tests/layers/test_pointer_generator.py::test_conformance",
    "tests/layers/test_relative_attention.py::test_conformance",
    "tests/layers/test_transformer.py::test_encoder_conformance",
    "tests/layers/test_transformer.py::test_decoder_conformance_relative",
    "tests/layers/test_transformer.py::test_decoder_conformance_absolute_with_memory",
    "tests/layers/test_tree_lstm.py::test_conformance",
    "tests/layers/test_weight_standardization.py::test_conformance",
]
# (nodeid pattern (fnmatch), backend) -> why that test fails there.
EXPECTED = {
    (
        "tests/layers/test_dense_crf.py::test_conformance_exact_path_with_learned_compatibility",
        "jax",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_dense_crf.py::test_conformance_exact_path_with_learned_compatibility",
        "torch",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_mixed_operation.py::test_conformance_with_alpha_gradients",
        "jax",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_mixed_operation.py::test_conformance_with_alpha_gradients",
        "torch",
    ): _HARNESS_SKIP,
    ("tests/layers/test_monotonic_dense.py::test_conformance", "jax"): _HARNESS_SKIP,
    ("tests/layers/test_monotonic_dense.py::test_conformance", "torch"): _HARNESS_SKIP,
    ("tests/layers/test_neural_additive.py::test_conformance", "jax"): _HARNESS_SKIP,
    ("tests/layers/test_neural_additive.py::test_conformance", "torch"): _HARNESS_SKIP,
    (
        "tests/layers/test_normalization.py::test_factory_layers_pass_conformance[batch-kwargs0]",
        "jax",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_normalization.py::test_factory_layers_pass_conformance[batch-kwargs0]",
        "torch",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_normalization.py::test_factory_layers_pass_conformance[batch-kwargs1]",
        "jax",
    ): _SYNC_BN,
    (
        "tests/layers/test_normalization.py::test_factory_layers_pass_conformance[batch-kwargs1]",
        "torch",
    ): _SYNC_BN,
    (
        "tests/layers/test_normalization.py::test_factory_layers_pass_conformance[group-kwargs2]",
        "jax",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_normalization.py::test_factory_layers_pass_conformance[group-kwargs2]",
        "torch",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_normalization.py::test_factory_layers_pass_conformance[instance-kwargs3]",
        "jax",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_normalization.py::test_factory_layers_pass_conformance[instance-kwargs3]",
        "torch",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_normalization.py::test_factory_layers_pass_conformance[layer-kwargs4]",
        "jax",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_normalization.py::test_factory_layers_pass_conformance[layer-kwargs4]",
        "torch",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_weight_standardization.py::test_conformance[init_kwargs0-output_shape0]",
        "jax",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_weight_standardization.py::test_conformance[init_kwargs0-output_shape0]",
        "torch",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_weight_standardization.py::test_conformance[init_kwargs1-output_shape1]",
        "jax",
    ): _HARNESS_SKIP,
    (
        "tests/layers/test_weight_standardization.py::test_conformance[init_kwargs1-output_shape1]",
        "torch",
    ): _HARNESS_SKIP,
    ("tests/ops/test_crf.py::test_dynamic_shapes_in_graph", "torch"): _TF_TEST,
    ("tests/ops/test_crf.py::test_gradients_match_finite_differences", "torch"): _DEMOTION,
    (
        "tests/ops/test_crf.py::test_log_partition_gradient_is_expected_counts[0.0-parallel]",
        "torch",
    ): _TF_TEST,
    (
        "tests/ops/test_crf.py::test_log_partition_gradient_is_expected_counts[0.0-sequential]",
        "torch",
    ): _TF_TEST,
    (
        "tests/ops/test_crf.py::test_log_partition_gradient_is_expected_counts[50.0-parallel]",
        "torch",
    ): _TF_TEST,
    (
        "tests/ops/test_crf.py::test_log_partition_gradient_is_expected_counts[50.0-sequential]",
        "torch",
    ): _TF_TEST,
    ("tests/ops/test_crf.py::test_marginals_are_gradient_of_log_partition", "torch"): _TF_TEST,
    ("tests/ops/test_crf.py::test_matches_brute_force", "torch"): _DEMOTION,
    ("tests/ops/test_crf.py::test_parallel_needs_static_length", "torch"): _TF_TEST,
    ("tests/ops/test_crf.py::test_transition_counts_fall_back_to_exact_form", "torch"): _TF_TEST,
    ("tests/ops/test_crf.py::test_xla_matches_eager[parallel]", "torch"): _TF_TEST,
    ("tests/ops/test_crf.py::test_xla_matches_eager[sequential]", "torch"): _TF_TEST,
    (
        "tests/ops/test_fixed_point_ops.py::test_anderson_converges_in_fewer_iterations",
        "torch",
    ): _DEMOTION,
    (
        "tests/ops/test_fixed_point_ops.py::test_implicit_gradient_matches_closed_form",
        "jax",
    ): _DEMOTION,
    (
        "tests/ops/test_fixed_point_ops.py::test_implicit_gradient_matches_closed_form",
        "torch",
    ): _TF_TEST,
    ("tests/ops/test_fixed_point_ops.py::test_solves_cos_fixed_point[0]", "jax"): _DEMOTION,
    ("tests/ops/test_coverage.py::test_float64_gradients", "jax"): _DEMOTION,
    ("tests/ops/test_pointer_generator.py::test_float64_gradients", "jax"): _DEMOTION,
    ("tests/ops/test_pointer_stack.py::test_same_under_xla_as_eager", "jax"): _TF_TEST,
    ("tests/ops/test_pointer_stack.py::test_same_under_xla_as_eager", "torch"): _TF_TEST,
    ("tests/ops/test_relative_attention_ops.py::test_gradient_check[False]", "jax"): _DEMOTION,
    ("tests/ops/test_relative_attention_ops.py::test_gradient_check[False]", "torch"): _DEMOTION,
    ("tests/ops/test_relative_attention_ops.py::test_gradient_check[True]", "jax"): _DEMOTION,
    ("tests/ops/test_relative_attention_ops.py::test_gradient_check[True]", "torch"): _DEMOTION,
    (
        "tests/ops/test_relative_attention_ops.py::test_matches_gather_reference[False-False]",
        "jax",
    ): _DEMOTION,
    (
        "tests/ops/test_relative_attention_ops.py::test_matches_gather_reference[False-False]",
        "torch",
    ): _DEMOTION,
    (
        "tests/ops/test_relative_attention_ops.py::test_matches_gather_reference[False-True]",
        "jax",
    ): _DEMOTION,
    (
        "tests/ops/test_relative_attention_ops.py::test_matches_gather_reference[False-True]",
        "torch",
    ): _DEMOTION,
    (
        "tests/ops/test_relative_attention_ops.py::test_matches_gather_reference[True-False]",
        "jax",
    ): _DEMOTION,
    (
        "tests/ops/test_relative_attention_ops.py::test_matches_gather_reference[True-False]",
        "torch",
    ): _DEMOTION,
    (
        "tests/ops/test_relative_attention_ops.py::test_matches_gather_reference[True-True]",
        "jax",
    ): _DEMOTION,
    (
        "tests/ops/test_relative_attention_ops.py::test_matches_gather_reference[True-True]",
        "torch",
    ): _DEMOTION,
    (
        "tests/ops/test_relative_attention_ops.py::test_no_length_squared_times_depth_intermediate[False]",
        "jax",
    ): _TF_TEST,
    (
        "tests/ops/test_relative_attention_ops.py::test_no_length_squared_times_depth_intermediate[False]",
        "torch",
    ): _TF_TEST,
    (
        "tests/ops/test_relative_attention_ops.py::test_no_length_squared_times_depth_intermediate[True]",
        "jax",
    ): _TF_TEST,
    (
        "tests/ops/test_relative_attention_ops.py::test_no_length_squared_times_depth_intermediate[True]",
        "torch",
    ): _TF_TEST,
    (
        "tests/ops/test_relative_attention_ops.py::test_rectangular_keys_match_reference",
        "jax",
    ): _DEMOTION,
    (
        "tests/ops/test_relative_attention_ops.py::test_rectangular_keys_match_reference",
        "torch",
    ): _DEMOTION,
    ("tests/ops/test_relative_attention_ops.py::test_xla_matches_eager[False]", "jax"): _TF_TEST,
    ("tests/ops/test_relative_attention_ops.py::test_xla_matches_eager[False]", "torch"): _TF_TEST,
    ("tests/ops/test_relative_attention_ops.py::test_xla_matches_eager[True]", "jax"): _TF_TEST,
    ("tests/ops/test_relative_attention_ops.py::test_xla_matches_eager[True]", "torch"): _TF_TEST,
}
# (test, backend) left out of that backend's NODES for now -> why.
PENDING = {
    ("tests/ops/test_crf.py", "jax"): _CRF_JAX_COST,
}
NODES = {backend: [n for n in EVERY_BACKEND if (n, backend) not in PENDING] for backend in BACKENDS}


def _expected_for(backend):
    return {
        pattern: reason.format(backend=backend)
        for (pattern, b), reason in EXPECTED.items()
        if b == backend
    }


def _run_inner(backend, nodes, tmp_path):
    expected = tmp_path / "expected.json"
    expected.write_text(json.dumps(_expected_for(backend)))
    outcomes = tmp_path / "outcomes.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        KERAS_BACKEND=backend,
        TF_CPP_MIN_LOG_LEVEL="3",
        KERAS_DLSS_EXPECTED=str(expected),
        KERAS_DLSS_OUTCOMES=str(outcomes),
        PYTHONPATH=os.pathsep.join(filter(None, [TESTS, env.get("PYTHONPATH")])),
    )
    command = [sys.executable, "-m", "pytest", "-q", "-p", "_other_backends_plugin"]
    command += ["-p", "no:cacheprovider", "-p", "no:randomly", "-n", "0", *nodes]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3000
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds, not wall: comparable on a loaded machine (CI's budget is the sum).
    result.cpu_seconds = round(
        after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1
    )
    assert outcomes.is_file(), result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(outcomes.read_text()), result


def _table(backend, outcomes, cpu_seconds):
    counts = {}
    for o in outcomes.values():
        counts[o["outcome"]] = counts.get(o["outcome"], 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    lines = [f"{backend}: {summary} ({cpu_seconds} CPU s)"]
    lines += ["| test | outcome | s |", "|---|---|---|"]
    for node, o in sorted(outcomes.items()):
        why = f" ({o['detail'][:90]})" if o["outcome"] != "passed" else ""
        lines.append(f"| {node} | {o['outcome']}{why} | {o['seconds']} |")
    return "\n".join(lines)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_test_is_placed(backend):
    placed = set(NODES[backend]) | {n for n, b in PENDING if b == backend}
    missing = set(_ops_nodes() + _conformance_nodes()) - placed
    assert not missing, f"add these to EVERY_BACKEND (or PENDING, with why): {missing}"


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_ops_and_conformance_pass_on_backend(backend, tmp_path, tmp_path_factory):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed (the `test` extra installs it)")
    nodes = NODES[backend]
    outcomes, result = _run_inner(backend, nodes, tmp_path)
    table = _table(backend, outcomes, result.cpu_seconds)
    print(table)
    root = tmp_path_factory.getbasetemp()
    (root / f"other_backends_{backend}.md").write_text(table)
    assert outcomes, result.stdout[-3000:]
    failed = {n: o["detail"] for n, o in outcomes.items() if o["outcome"] == "failed"}
    assert not failed, "\n\n".join(f"{n}:\n{d}" for n, d in failed.items())
    # A stale pattern (the test was renamed or removed) must not linger in EXPECTED.
    for pattern in _expected_for(backend):
        matched = [n for n in outcomes if n == pattern or fnmatch.fnmatchcase(n, pattern)]
        assert matched, f"EXPECTED pattern {pattern!r} matches no test on {backend}"
    assert result.returncode == 0, result.stdout[-3000:]
