"""Every guide's Python code blocks run as written (issue #19 item 3), unless marked a fragment.

A page's ```python blocks run in order in one namespace (a later block may use an
earlier block's names, as a reader would). A block that shows a call inside the
reader's own code (their `model`, their data) or a run too long for CI is a
fragment: the line before its fence says so, with the reason, as

    <!-- fragment: uses the reader's own model -->

so a renamed argument or a changed return value in any other block breaks this
test instead of a reader's first try. The line for "too long": a block that
needs more than about 8 CPU-seconds (typically training an application under
XLA; the application's own tests cover it) is a fragment that says so, or is
made smaller when a smaller run still shows the point.

Cost: importing TensorFlow and Keras once per page would cost more than most
pages' blocks, so ONE subprocess (this file run as a script) runs every page,
each in a fresh namespace, a fresh temporary working directory and after
`keras.backend.clear_session()`, and streams one JSON line per page. Under
pytest-xdist the first worker to ask starts it and every worker reads the same
results file, so the pages run once per session whatever the number of workers.
Pages with no runnable block must be listed in `NO_RUNNABLE_BLOCK` with why.
"""

import contextlib
import glob
import io
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = re.compile(r"<!--\s*fragment:(.*?)-->")
FENCE = re.compile(r"^```python\s*$")
PAGES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "docs", "*.md")))
NO_RUNNABLE_BLOCK = {
    "index.md": "its one example is the first block of crf.md, which runs there",
    "performance-gpu.md": "a results table written by benchmarks/gpu_suite.sh; its commands are bash",
    "scaling.md": "both examples need a cluster or the JAX backend and the reader's own model",
}
BLOCK_TIMEOUT_S = 600  # a hang guard only: a 10 s block took 220 s at load 35 here
RUN_TIMEOUT_S = 1800


def guide_blocks(path):
    """`[(line, code, fragment_reason or None)]` for each ```python block of a page."""
    lines = open(path, encoding="utf-8").read().splitlines()
    blocks, i = [], 0
    while i < len(lines):
        if FENCE.match(lines[i].strip()):
            start = i + 1
            before = next((t for t in reversed(lines[:i]) if t.strip()), "")
            match = MARKER.search(before)
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                i += 1
            reason = match.group(1).strip() if match else None
            blocks.append((start + 1, "\n".join(lines[start:i]), reason))
        i += 1
    return blocks


class _BlockTimeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _BlockTimeout(f"block ran over {BLOCK_TIMEOUT_S} s")


def run_page(path):
    """Runs one page's runnable blocks; returns its result as a JSON-able dict."""
    if "keras" in sys.modules:  # a page that needs Keras imports it; the broken-page test does not
        keras = sys.modules["keras"]
        keras.backend.clear_session()
        keras.config.set_floatx("float32")
        keras.config.set_dtype_policy("float32")
        keras.utils.set_random_seed(0)
    name = os.path.basename(path)
    result = {"page": name, "status": "ok", "blocks": [], "fragments": []}
    namespace = {"__name__": "__guide__"}
    output = io.StringIO()
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="guide-") as cwd:
        os.chdir(cwd)
        try:
            for line, code, why in guide_blocks(path):
                if why is not None:
                    result["fragments"].append([line, why])
                    continue
                start, cpu = time.perf_counter(), time.process_time()
                signal.alarm(BLOCK_TIMEOUT_S)
                try:
                    with contextlib.redirect_stdout(output):
                        exec(compile(code, f"docs/{name}:{line}", "exec"), namespace)
                except BaseException:  # SystemExit too: a block must not end the run
                    result.update(status="failed", line=line, traceback=traceback.format_exc())
                finally:
                    signal.alarm(0)
                    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                    result["blocks"].append([line, round(wall, 2), round(cpu, 2)])
                if result["status"] != "ok":
                    break
        finally:
            os.chdir(here)
            if "matplotlib.pyplot" in sys.modules:
                sys.modules["matplotlib.pyplot"].close("all")
    if not result["blocks"]:
        result["status"] = "no runnable block"
    # Wall time is noisy on a shared machine; CPU seconds (all threads) are the cost measure.
    result["seconds"] = round(sum(block[1] for block in result["blocks"]), 2)
    result["cpu_seconds"] = round(sum(block[2] for block in result["blocks"]), 2)
    result["output_tail"] = output.getvalue()[-2000:]
    return result


def main(argv):
    """`python test_docs_guides.py RESULTS.jsonl PAGE.md...`: one JSON line per page."""
    signal.signal(signal.SIGALRM, _on_alarm)
    with open(argv[0], "a") as out:
        for path in argv[1:]:
            out.write(json.dumps(run_page(path)) + "\n")
            out.flush()
        out.write(json.dumps({"page": None, "done": True}) + "\n")


def runner_env():
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.update(MPLBACKEND="Agg", PYTHONPATH=ROOT + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def start_runner(results, paths, log):
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), str(results), *paths],
        cwd=os.path.dirname(str(results)),
        env=runner_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def read_results(results):
    if not os.path.exists(results):
        return {}
    with open(results) as f:
        rows = [json.loads(line) for line in f if line.endswith("\n")]
    return {row["page"]: row for row in rows}


if __name__ == "__main__":
    main(sys.argv[1:])
else:
    import pytest

    RUNNABLE = [p for p in PAGES if p not in NO_RUNNABLE_BLOCK]

    @pytest.fixture(scope="session")
    def guide_results(tmp_path_factory):
        """`wait(page) -> result`: the shared runner's result for a page, once it is written."""
        shared = tmp_path_factory.getbasetemp()
        if os.environ.get("PYTEST_XDIST_WORKER"):  # workers' temp folders share a parent
            shared = shared.parent
        results, log_path = shared / "guides.jsonl", shared / "guides.log"
        process = None
        try:
            os.close(os.open(shared / "guides.lock", os.O_CREAT | os.O_EXCL))
            paths = [os.path.join(ROOT, "docs", p) for p in RUNNABLE]
            process = start_runner(results, paths, open(log_path, "w"))
        except FileExistsError:
            pass  # another worker started it

        def wait(page):
            deadline = time.monotonic() + RUN_TIMEOUT_S
            while time.monotonic() < deadline:
                rows = read_results(results)
                if page in rows:
                    return rows[page]
                if None in rows or (process is not None and process.poll() is not None):
                    break
                time.sleep(0.5)
            log = open(log_path).read()[-6000:] if os.path.exists(log_path) else ""
            pytest.fail(f"the guide runner wrote no result for {page}; its log:\n{log}")

        yield wait
        if process is not None:  # other workers may still be reading: let it finish
            process.wait(timeout=RUN_TIMEOUT_S)

    @pytest.mark.parametrize("page", RUNNABLE)
    def test_guide_code_blocks_run(page, guide_results):
        result = guide_results(page)
        timings = ", ".join(f"line {line}: {s} s" for line, s, _ in result["blocks"])
        assert result["status"] == "ok", (
            f"docs/{page}: the block at line {result.get('line')} failed "
            f"(blocks run: {timings})\n{result.get('traceback', '')}\n"
            f"its output:\n{result['output_tail']}"
        )

    def test_pages_without_runnable_blocks_are_listed():
        for page in PAGES:
            blocks = guide_blocks(os.path.join(ROOT, "docs", page))
            runnable = [line for line, _, why in blocks if why is None]
            assert bool(runnable) != (page in NO_RUNNABLE_BLOCK), (
                f"docs/{page}: {len(runnable)} runnable blocks; a page with none must be listed "
                "in NO_RUNNABLE_BLOCK with the reason, and only such a page"
            )

    def test_every_fragment_marker_gives_a_reason():
        for page in PAGES:
            for line, _, why in guide_blocks(os.path.join(ROOT, "docs", page)):
                assert why != "", f"docs/{page}:{line}: fragment marker without a reason"

    def test_markers_are_read(tmp_path):
        page = tmp_path / "page.md"
        page.write_text(
            "text\n<!-- fragment: needs the reader's data -->\n```python\nx = my_data\n```\n"
            "\n```python\nprint(1)\n```\n"
        )
        assert [why for _, _, why in guide_blocks(str(page))] == ["needs the reader's data", None]

    def test_a_broken_block_is_reported_with_its_line(tmp_path):
        """The runner bites: a copy of a page with a wrong argument name fails at that block."""
        page = tmp_path / "broken.md"
        page.write_text(
            "# A page\n\n```python\nimport numpy as np\nx = np.arange(3)\n```\n\n"
            "<!-- fragment: the reader's own data -->\n```python\nmy_data.fit()\n```\n\n"
            "```python\ny = np.sum(x, axes=0)  # the argument is `axis`\n```\n\n"
            "```python\nprint('never reached')\n```\n"
        )
        results = tmp_path / "results.jsonl"
        with open(tmp_path / "log", "w") as log:
            assert start_runner(results, [str(page)], log).wait(timeout=300) == 0
        result = read_results(results)["broken.md"]
        assert result["status"] == "failed" and result["line"] == 14, result
        assert "axes" in result["traceback"] and "docs/broken.md:14" in result["traceback"]
        assert [block[0] for block in result["blocks"]] == [4, 14]
        assert result["fragments"] == [[10, "the reader's own data"]]
