"""The backend matrix (issue #20 item 3): every registered application on every backend.

Each cell runs, in a worker process with `KERAS_BACKEND` set (`tests/_cli_worker.py`:
one per backend serves several cells, each from a cleared Keras session, to save
the 6-10 CPU s an interpreter spends importing the backend), what a newcomer
runs: `keras-dlss train APP --epochs 1` on a few batches (`--limit`), asking
for both exports, then `keras-dlss predict` or `keras-dlss generate` on the
trained model. The cell checks the artifacts, `metrics.json` (a finite train
loss, test metrics, steps per second, an entry per export: parity, or the
reason it is unavailable), the exit status (1 exactly when an export asked for
failed) and the command's output.

Every cell that is expected not to work is in `SKIPS`, the one place, with
its reason. An expected failure still runs and must still fail: a skip that
no longer applies fails the cell, so the list cannot go stale.

The matrix (with steps per second per cell) is printed and written to
`backend_matrix.md` in pytest's temporary root (or `$KERAS_DLSS_MATRIX`);
`--no-xla` is used where compilation would dominate a four-step run (see
`FLAGS`), so steps per second compare the backends' ordinary execution.
"""

import contextlib
import glob
import importlib.util
import json
import math
import os
import select
import subprocess
import sys
import time

import pytest

from keras_dlss.applications.base import Task
from keras_dlss.applications.registry import get_task, task_names

BACKENDS = ("tensorflow", "jax", "torch")
FORMATS = ("tf_saved_model", "onnx")

# Tiny runs: 4 training steps of 16 examples, 64-example validation and test splits.
TRAIN = ["--epochs", "1", "--limit", "64", "--batch-size", "16", "--export", ",".join(FORMATS)]
FLAGS = {
    # XLA compilation of the LSTM/CRF graphs takes 10-30 s, far more than 4 steps:
    # each application's XLA path is tested in its own module.
    "tensorflow": ["--no-xla"],
    # JAX always runs jitted (jit_compile=False would be op-by-op eager, unrepresentative).
    "jax": [],
    # jit_compile=True means torch.compile on torch: minutes of compilation per model.
    "torch": ["--no-xla"],
}
# Application options (`Task.options`) that keep a cell small; the full-size default is tested
# in the application's own module.
APP_OPTIONS = {
    "memn2n": ["--embedding-dim", "8", "--hops", "2"],
    "bidaf": [*("--units", "8", "--embedding-dim", "16", "--modeling-layers", "1")]
    + ["--max-context-length", "24"],
    "film-vqa": ["--filters", "8", "--hidden", "16", "--blocks", "1", "--images", "20"],
    "ntm": ["--units", "8", "--memory-size", "8", "--memory-width", "4"],
    "pointer": ["--units", "8"],
    "text-classifier": ["--kind", "cbow", "--embedding-dim", "16"],
    "resnet": ["--depth", "8", "--width", "8"],
    "music-vae": ["--units", "16", "--latent-dim", "8", "--conductor-units", "16"],
    "language-model": ["--units", "32"],
    "parser": ["--lstm-units", "16", "--lstm-layers", "1"],
    "semantic-parser": ["--units", "16", "--embedding-dim", "8"],
}
INPUTS = {
    "memn2n": ["Mary moved to the kitchen. John went to the garden. Where is Mary?"],
    "bidaf": ["Alice was born in Paris in 1950. Alice works as a nurse. | Where was Alice born?"],
    "mlp": [" ".join(["0.5"] * 64)],
    "tagger": ["The cat sat on the mat .", "She ca n't go"],
    "parser": ["The cat sat on the mat .", "She ca n't go"],
    "pointer": ["0.5 0.1 0.9 0.3"],
    "seq2seq": ["3rd of march 1987", "june 5, 2001"],
    "semantic-parser": ["how many employees in sales", "list the names of employees aged over 40"],
    "text-classifier": ["a charming , funny film .", "the plot is not good"],
}

_TORCH_XLA = (
    "SavedModel from torch needs torch_xla (Keras lowers torch to StableHLO), not a dependency"
)
_JAX2ONNX = "ONNX from JAX needs jax2onnx (pulls flax and orbax), not a dependency"
_TRACED_LOOP = (
    "torch.onnx's TorchScript tracer unrolls the LSTM's time loop at the traced length "
    "(Keras traces unknown dims as 1): the artifact rejects other lengths"
)
_TORCH_GATHER = (
    "torch.onnx (TorchScript) fails on a Gather over symbolic shapes (SymbolicValueError)"
)
# (application or "*", backend, column) -> why that column is expected to fail there.
# Columns: "train" (the whole cell), "tf_saved_model", "onnx".
SKIPS = {
    ("*", "torch", "tf_saved_model"): _TORCH_XLA,
    ("*", "jax", "onnx"): _JAX2ONNX,
    ("tagger", "torch", "onnx"): _TRACED_LOOP,
    ("ntm", "torch", "onnx"): _TRACED_LOOP,
    ("bidaf", "torch", "onnx"): _TRACED_LOOP,
    ("parser", "torch", "onnx"): _TRACED_LOOP,
    ("music-transformer", "torch", "onnx"): _TORCH_GATHER,
    ("fcn", "jax", "tf_saved_model"): (
        "jax2tf's symbolic shapes cannot prove FCN's skip sizes equal (2*floor(h/32) vs "
        "floor(h/16) for a symbolic h): the skip Add fails to broadcast"
    ),
    ("gat", "torch", "onnx"): (
        "torch.onnx traces unknown dims as 1 (Keras): the traced graph has one node, and the "
        "sample edge list (ids up to 33) fails GraphAttention's node-id range check"
    ),
    ("fcn", "torch", "onnx"): (
        "torch.onnx traces unknown dims as 1 (Keras): a 1x1 image is rejected by FCN's "
        "stride check (sizes must be multiples of 32; five 2x2 pools)"
    ),
    ("voxnet", "torch", "onnx"): (
        "torch.onnx (TorchScript) cannot export Conv3D's channels-last kernel transpose "
        "(SymbolicValueError: onnx memory_format support is not implemented)"
    ),
}

ROWS_DIR = "backend_matrix_rows"
# `predict` prints one multi-line block per input (CoNLL-U sentences), not one line.
BLOCK_OUTPUT = {"parser"}
# What `generate` writes, where it is not MIDI.
GENERATED = {"cvae": "generated.png", "cyclegan": "generated.png"}
GENERATED["language-model"] = "generated.txt"


def _expected_failure(app, backend, column):
    return SKIPS.get((app, backend, column)) or SKIPS.get(("*", backend, column))


def _command(app):
    """`predict` with sample inputs, or `generate` for generative applications, or None."""
    if app in INPUTS:
        return "predict"
    if type(get_task(app)).generate is not Task.generate:
        return "generate"
    return None


WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_cli_worker.py")
# A worker serves this many cells, then a fresh one starts: bounds the memory one process
# accumulates (compiled graphs, exported models) at one extra import per that many cells.
CELLS_PER_WORKER = 10


class _Pool:
    """One live `_cli_worker.py` process at a time, for the backend of the current cell.

    The cells are ordered backend by backend, so an xdist worker switches backend (and
    pays one import) about three times; each cell still gets a cleared Keras session and
    its own output folder. A worker that dies or hangs fails only its cell.
    """

    def __init__(self, log_dir):
        self.log_dir, self.proc, self.backend, self.served, self.count = log_dir, None, None, 0, 0

    def _start(self, backend):
        self.close()
        env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
        env.update(KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        self.count += 1
        self.stderr = self.log_dir / f"worker-{backend}-{self.count}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-u", WORKER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(stderr := self.stderr.open("w")),
            text=True,
            bufsize=1,
            env=env,
        )
        self.proc.stderr_file = stderr
        self.backend, self.served = backend, 0

    def run(self, backend, commands, cwd, timeout=900):
        if self.proc is None or self.backend != backend or self.served >= CELLS_PER_WORKER:
            self._start(backend)
        self.served += 1
        report = cwd / "commands.json"
        request = {"id": str(cwd), "cwd": str(cwd), "report": str(report), "commands": commands}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        deadline, done, received = time.monotonic() + timeout, f"DONE {request['id']}\n", ""
        # Raw reads (no line buffering to hide data from select); stray output is skipped.
        while done not in received:
            ready, _, _ = select.select([self.proc.stdout], [], [], 5)
            chunk = os.read(self.proc.stdout.fileno(), 65536) if ready else None
            if chunk == b"" or time.monotonic() > deadline:
                # The worker died (EOF) or hung: this cell fails, the next starts a new one.
                self.proc.kill()
                self.close()
                tail = self.stderr.read_text()[-3000:]
                raise AssertionError(f"{backend} worker died or timed out:\n{tail}")
            received = (received + (chunk or b"").decode(errors="replace"))[-4096:]
        return [
            subprocess.CompletedProcess(argv, r["rc"], r["stdout"], r["stderr"])
            for argv, r in zip(commands, json.loads(report.read_text()))
        ]

    def close(self):
        if self.proc is not None:
            with contextlib.suppress(OSError):  # a dead worker's stdin is a broken pipe
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stderr_file.close()
            self.proc = None


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    workers = _Pool(tmp_path_factory.mktemp("cli_workers"))
    yield workers
    workers.close()


@pytest.fixture(scope="module")
def rows_dir(tmp_path_factory):
    # The parent of pytest's base temp is shared by xdist workers: each cell writes its
    # row there, and every worker rewrites the table from all rows when it finishes.
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    path = root / ROWS_DIR
    path.mkdir(exist_ok=True)
    yield path
    table = _table(path)
    out = os.environ.get("KERAS_DLSS_MATRIX") or str(root / "backend_matrix.md")
    with open(out, "w") as f:
        f.write(table)
    print(f"\n{table}\n(written to {out})")


def _table(rows_dir):
    rows = {}
    for name in glob.glob(str(rows_dir / "*.json")):
        with open(name) as f:
            row = json.load(f)
        rows[row["app"], row["backend"]] = row
    header = "| application | backend | train | predict/generate | SavedModel | ONNX | steps/s | cell s |"
    lines = [header, "|" + "---|" * 8]
    for app in task_names():
        for backend in BACKENDS:
            row = rows.get((app, backend))
            if row:
                cells = [row[k] for k in ("train", "run", "tf_saved_model", "onnx")]
                speed, seconds = row.get("steps_per_second"), row.get("seconds")
                lines.append(
                    f"| {app} | {backend} | " + " | ".join(cells) + f" | {speed} | {seconds} |"
                )
    notes = sorted({f"- {reason}" for reason in SKIPS.values()})
    return "\n".join(
        lines + ["", "Expected failures (tests/test_backend_matrix.py SKIPS):", *notes]
    )


def _save_row(rows_dir, row):
    with open(rows_dir / f"{row['app']}-{row['backend']}.json", "w") as f:
        json.dump(row, f)


@pytest.mark.slow
# Backend by backend (ids stay `app-backend`), so a worker serves a run of cells.
@pytest.mark.parametrize(
    "app,backend",
    [(app, backend) for backend in BACKENDS for app in task_names()],
    ids=[f"{app}-{backend}" for backend in BACKENDS for app in task_names()],
)
def test_cell(app, backend, tmp_path, rows_dir, pool):
    if backend == "torch" and importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed (the `test` extra installs torch==2.13.0, CPU)")
    row = {"app": app, "backend": backend, "run": "-", "tf_saved_model": "-", "onnx": "-"}
    out = tmp_path / "out"
    start = time.perf_counter()
    commands = [
        ["train", app, *TRAIN, *FLAGS[backend], *APP_OPTIONS.get(app, []), "--out", str(out)]
    ]
    commands += [_use_command(app, out)] if _command(app) else []
    results = pool.run(backend, commands, tmp_path)
    train = results[0]
    expected = _expected_failure(app, backend, "train")
    if expected:
        row.update(train=f"✗ {expected}", seconds=round(time.perf_counter() - start, 1))
        _save_row(rows_dir, row)
        assert not (out / "model.keras").exists(), f"{app} trains on {backend}: remove SKIPS entry"
        assert train.returncode != 0
        pytest.xfail(expected)
    assert (out / "model.keras").is_file() and (out / "metrics.json").is_file(), train.stderr[
        -3000:
    ]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["backend"] == backend and metrics["epochs_run"] == 1
    assert math.isfinite(metrics["train_loss"]), metrics
    assert any(k.startswith("test_") for k in metrics), metrics
    assert metrics["steps_per_second"] > 0, metrics
    row.update(train="✓", steps_per_second=metrics["steps_per_second"])
    failed = _check_exports(app, backend, metrics["exports"], row)
    # Exports were asked for explicitly: a failed one exits 1, after writing everything else.
    assert train.returncode == (1 if failed else 0), train.stderr[-3000:]
    for format in failed:
        assert f"{format} export failed" in train.stderr
    assert "Traceback" not in train.stderr
    if _command(app):
        row["run"] = _check_use(app, out, results[1])
    row["seconds"] = round(time.perf_counter() - start, 1)
    _save_row(rows_dir, row)


def _check_exports(app, backend, exports, row):
    """Checks each export's entry against `SKIPS`; returns the formats that failed."""
    failed = []
    for format in FORMATS:
        entry = exports[format]
        expected = _expected_failure(app, backend, format)
        if entry["ok"]:
            assert not expected, f"{format} works for {app} on {backend}: remove the SKIPS entry"
            assert entry["max_abs_diff"] <= 1e-4, entry
            row[format] = f"✓ ({entry['max_abs_diff']:.1g})"
        else:
            failed.append(format)
            assert entry["reason"] and "\n" not in entry["reason"], entry
            assert expected, f"{format} export of {app} failed on {backend}: {entry['reason']}"
            row[format] = f"✗ {expected}"
    return failed


def _use_command(app, out):
    """`predict` on sample inputs, or `generate` a short sample, with the trained model."""
    model = str(out / "model.keras")
    if _command(app) == "predict":
        return ["predict", app, model, *INPUTS[app]]
    generated = str(out / GENERATED.get(app, "generated.mid"))
    return ["generate", app, model, "--out", generated, "--length", "16"]


def _check_use(app, out, result):
    assert result.returncode == 0, result.stderr[-3000:]
    if _command(app) == "predict":
        output = result.stdout.strip()
        # Applications whose prediction is a block (CoNLL-U) print a blank line between inputs.
        units = output.split("\n\n") if app in BLOCK_OUTPUT else output.splitlines()
        assert len(units) == len(INPUTS[app]), result.stdout
    else:
        assert (out / GENERATED.get(app, "generated.mid")).stat().st_size > 0
    return f"✓ {_command(app)}"
