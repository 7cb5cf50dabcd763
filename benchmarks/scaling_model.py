"""Scaling on paper and on loopback: ring all-reduce cost per application, and 1 vs 2 workers.

Part 1 (a model, no cluster needed). Data-parallel training all-reduces every
gradient once per step: P parameters x 4 bytes (float32). A ring all-reduce over
N workers sends 2 (N - 1) / N of those bytes through each link and takes
2 (N - 1) latency-bound hops:

    t_comm(N) = 2 (N - 1) / N * 4 P / bandwidth + 2 (N - 1) * latency

With the per-worker batch fixed (weak scaling) the compute time t_step stays the
single-worker step time, so, without overlap of communication and backward pass
(an upper bound on the cost; frameworks overlap part of it):

    efficiency(N) = t_step / (t_step + t_comm(N))

P is counted by building each registered application's default model;
t_step is a stated GPU-class step time per application (`--step-ms`), not a
measurement: no accelerator was available here.

Part 2 (measured): `keras-dlss train mlp` with 1 worker and with `--workers 2`
on 127.0.0.1, steps per second of each (no XLA for several CPU replicas).

    .venv/bin/python benchmarks/scaling_model.py [--apps mlp,tagger,...] [--skip-loopback]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

LINKS = {  # name: (bytes per second per link, latency per hop in seconds)
    "10 GbE": (1.25e9, 50e-6),
    "100 Gb InfiniBand": (12.5e9, 5e-6),
    "NVLink (300 GB/s)": (300e9, 2e-6),
}
WORKERS = (8, 64, 512)
COUNT = r"""
import json, sys
from keras_dlss.applications.registry import get_task
from keras_dlss.cli.train import limit_examples
task = get_task(sys.argv[1])
data = limit_examples(task.load_data(None, seed=0), 64)
model = task.build_model(data, jit_compile=False, seed=0)
print(json.dumps({"parameters": int(model.count_params())}))
"""


def count_parameters(app, timeout):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    try:
        result = subprocess.run(
            [sys.executable, "-c", COUNT, app],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
    except subprocess.TimeoutExpired:
        return None
    if result.returncode != 0:
        return None
    return json.loads(result.stdout.strip().splitlines()[-1])["parameters"]


def ring_seconds(parameters, workers, bandwidth, latency):
    return 2 * (workers - 1) / workers * 4 * parameters / bandwidth + 2 * (workers - 1) * latency


def loopback_steps_per_second(workers):
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            "-m",
            "keras_dlss",
            "train",
            "mlp",
            "--epochs",
            "3",
            "--limit",
            "1024",
            "--batch-size",
            "64",
            "--export",
            "none",
            "--no-xla",
            "--out",
            out,
        ]
        command += ["--workers", str(workers)] if workers > 1 else []
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        subprocess.run(command, check=True, capture_output=True, env=env, timeout=1200)
        return json.load(open(os.path.join(out, "metrics.json")))["steps_per_second"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--apps", default=None, help="comma-separated (default: every registered one)"
    )
    parser.add_argument(
        "--step-ms", type=float, default=100.0, help="assumed GPU step time per worker"
    )
    parser.add_argument("--timeout", type=int, default=300, help="seconds to build one application")
    parser.add_argument("--skip-loopback", action="store_true")
    args = parser.parse_args()
    from keras_dlss.applications.registry import task_names

    apps = args.apps.split(",") if args.apps else task_names()
    step = args.step_ms / 1e3
    header = "| application | parameters | MiB per all-reduce | " + " | ".join(
        f"{link}: N={n}" for link in LINKS for n in WORKERS
    )
    print(
        f"Ring all-reduce efficiency at an assumed {args.step_ms:g} ms compute step (no overlap):\n"
    )
    print(header + " |")
    print("|---" * (3 + len(LINKS) * len(WORKERS)) + "|")
    for app in apps:
        parameters = count_parameters(app, args.timeout)
        if parameters is None:
            print(
                f"| {app} | (not built within {args.timeout} s) |"
                + " |" * (1 + len(LINKS) * len(WORKERS))
            )
            continue
        cells = []
        for bandwidth, latency in LINKS.values():
            for n in WORKERS:
                cells.append(
                    f"{step / (step + ring_seconds(parameters, n, bandwidth, latency)):.0%}"
                )
        print(
            f"| {app} | {parameters:,} | {4 * parameters / 2**20:.2f} | "
            + " | ".join(cells)
            + " |",
            flush=True,
        )
    if not args.skip_loopback:
        one, two = loopback_steps_per_second(1), loopback_steps_per_second(2)
        print("\n| mlp on loopback (batch 64 per step, no XLA) | steps/s |\n|---|---|")
        print(
            f"| 1 worker | {one} |\n| 2 workers (MultiWorkerMirroredStrategy, 127.0.0.1) | {two} |"
        )


if __name__ == "__main__":
    main()
