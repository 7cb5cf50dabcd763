#!/usr/bin/env bash
# Wheels the GPU machine lacks, for benchmarks/gpu_suite.sh: keras-dlss (built from this
# checkout), keras, and keras' dependencies missing from that image (namex, optree), plus
# pytorch-crf for the CRF peer. Python 3.12 / manylinux x86-64, as on the device image.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx "/.whl/" .git/info/exclude 2>/dev/null || echo "/.whl/" >> .git/info/exclude
rm -rf .whl && mkdir -p .whl
python=${PYTHON:-.venv/bin/python}
"$python" -m build --wheel --no-isolation --outdir .whl . >/dev/null
keras_version=$("$python" -c "import keras; print(keras.__version__)")
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
"$python" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d .whl "keras==$keras_version" namex optree pytorch-crf
ls -la .whl
du -sh .whl
