"""CI's smoke test of the GPU benchmark suite (issue #19 item 6) on a machine without a GPU.

`benchmarks/gpu_suite.sh` must notice there is no GPU, run at smoke sizes on the JAX
backend (as on the GPU machine, which has no TensorFlow), and write a table that
says it is a CPU smoke run. The quick workloads keep this under CI's budget; the
training-throughput workloads use the same `model.fit` path that the backend
matrix already exercises on JAX.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_suite_runs_on_cpu_and_says_so(tmp_path):
    out = tmp_path / "perf.md"
    env = {**os.environ, "PYTHON": sys.executable}
    result = subprocess.run(
        [
            "bash",
            "benchmarks/gpu_suite.sh",
            str(out),
            "--workloads",
            "crf,beam,relative",
            "--skip-peers",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no GPU visible" in result.stderr
    table = out.read_text()
    assert "smoke run on CPU" in table
    for workload in ("CRF NLL + grad", "Beam search", "Relative attention logits"):
        assert f"| {workload} |" in table, table
    assert "failed:" not in table, table
