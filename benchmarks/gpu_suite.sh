#!/usr/bin/env bash
# GPU benchmark suite (issue #19 item 6): at most ~8 minutes on one CUDA GPU.
#
# The GPU machine has JAX (CUDA) and PyTorch but no TensorFlow and no network, so keras-dlss runs
# there on the JAX backend, installed with keras and its few missing dependencies from wheels
# brought along in .whl/ (made here by `bash benchmarks/gpu_wheels.sh`, about 6 MiB). The table
# goes to docs/performance-gpu.md (or $1) with the device's name. Without a GPU the same suite
# runs at smoke sizes and says so (CI's smoke test: tests/test_gpu_suite.py).
#
#   bash benchmarks/gpu_wheels.sh                         # here, once: .whl/ (git-ignored)
#   bash benchmarks/gpu_suite.sh [OUT.md [gpu_suite.py options]]   # there (device `run`, carry .whl)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/performance-gpu.md}"
shift || true
python=${PYTHON:-python3}
if [ -d .whl ] && ! "$python" -c "import keras_dlss, keras" 2>/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/gpu_suite_site .whl/*.whl
    export PYTHONPATH=/tmp/gpu_suite_site${PYTHONPATH:+:$PYTHONPATH}
fi
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1
# JAX must not take 75% of the GPU up front: the PyTorch peer runs after it in another process.
export XLA_PYTHON_CLIENT_PREALLOCATE=false
smoke=()
if ! "$python" -c "import jax, sys; sys.exit(jax.devices()[0].platform != 'gpu')" 2>/dev/null; then
    echo "gpu_suite: no GPU visible to JAX: running the smoke sizes on CPU" >&2
    smoke=(--smoke)
fi
timeout 480 "$python" benchmarks/gpu_suite.py "${smoke[@]}" --out "$out" "$@"
