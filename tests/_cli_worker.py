"""A long-lived process that runs keras-dlss CLI commands for `tests/test_backend_matrix.py`.

Importing TensorFlow/JAX/torch and keras-dlss costs 4-8 s of CPU per process, more than a
four-step training run: the matrix sends each cell to one of these per backend instead of
starting a fresh interpreter per cell. Each request is one JSON line on stdin:
`{"id", "cwd", "report", "commands"}`. The commands run one after another through
`keras_dlss.cli.main`, as the console script runs them, from a cleared Keras session; each
one's exit status, output and traceback go to `report` as JSON, then `DONE <id>` is
printed on its own line (other output on stdout is ignored by the reader).
"""

import contextlib
import io
import json
import os
import sys
import traceback

import keras

from keras_dlss.cli import main

_CWD = os.getcwd()


def _fresh_state():
    # What one cell may leave behind that another would inherit: names, the dtype policy,
    # floatx, the random seed (each `train` sets its own) and the working directory.
    keras.backend.clear_session(free_memory=True)
    keras.config.set_dtype_policy("float32")
    keras.config.set_floatx("float32")
    os.chdir(_CWD)


def run_commands(commands, cwd):
    _fresh_state()
    os.chdir(cwd)
    results = []
    for argv in commands:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(argv)
            except SystemExit as e:
                rc = e.code
            except Exception:
                rc, _ = 1, traceback.print_exc()
        results.append({"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()})
        if rc not in (0, 1) or not results[-1]["stdout"]:
            break
    return results


def serve():
    for line in sys.stdin:
        request = json.loads(line)
        results = run_commands(request["commands"], request["cwd"])
        with open(request["report"], "w") as f:
            json.dump(results, f)
        print(f"DONE {request['id']}", flush=True)


if __name__ == "__main__":
    serve()
