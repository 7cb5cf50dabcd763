"""ResNet-20 training throughput (images/s) at batch 128 on 32x32: XLA vs graph mode vs PyTorch.

Three arms in one run, each timing `steps` optimizer steps (Nesterov SGD,
cross-entropy) on one fixed batch after `warmup` steps (which trace and compile);
our two arms alternate over `rounds` rounds and report medians:

- ours, `jit_compile=True` (XLA), TensorFlow backend;
- ours, `jit_compile=False` (a plain `tf.function` graph);
- the same network written in PyTorch (`benchmarks/resnet_torch_peer.py`, CPU
  torch 2.13.0), in its own process, at its default thread count and at one thread.

Issue #12's targets: XLA >= 1.0x PyTorch and >= 1.2x our graph mode. The
parameter counts of both networks are printed to show they are the same model.

    .venv/bin/python benchmarks/resnet_throughput.py [--steps 10] [--batch-size 128]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resnet_torch_peer.py")


def ours(batch_size, steps, warmup, rounds, depth=20):
    """Images/s of XLA and of graph mode, timed in alternating rounds (medians): the load of a
    shared machine then falls on both arms alike."""
    import keras

    from keras_dlss.applications import ResNet

    rng = np.random.default_rng(0)
    x = rng.random((batch_size, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, batch_size).astype("int32")
    models = {}
    for jit_compile in (True, False):
        keras.utils.set_random_seed(0)
        models[jit_compile] = ResNet(depth)
        models[jit_compile].compile(jit_compile=jit_compile)
        for _ in range(warmup):
            models[jit_compile].train_on_batch(x, y)
    speeds = {True: [], False: []}
    for _ in range(rounds):
        for jit_compile, model in models.items():
            start = time.perf_counter()
            for _ in range(steps):
                loss = model.train_on_batch(x, y, return_dict=True)["loss"]
            speeds[jit_compile].append(batch_size * steps / (time.perf_counter() - start))
            assert np.isfinite(loss)
    trainable = sum(int(np.prod(w.shape)) for w in models[True].trainable_weights)
    return statistics.median(speeds[True]), statistics.median(speeds[False]), trainable


def peer(batch_size, steps, warmup, threads, depth=20):
    """Runs the PyTorch peer in a fresh process (TensorFlow's thread pools would slow it)."""
    out = subprocess.run(
        [sys.executable, PEER, "--batch-size", str(batch_size), "--steps", str(steps),
         "--warmup", str(warmup), "--threads", str(threads), "--depth", str(depth)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of our arms")
    args = parser.parse_args()
    common = (args.batch_size, args.steps, args.warmup)
    rows = {}
    # PyTorch first, while this process has not started TensorFlow's thread pools.
    default = peer(*common, threads=0, depth=args.depth)
    rows[f"PyTorch 2.13 eager ({default['threads']} threads)"] = default["images_per_second"]
    rows["PyTorch 2.13 eager (1 thread)"] = peer(*common, threads=1, depth=args.depth)[
        "images_per_second"
    ]
    xla, graph, params = ours(*common, rounds=args.rounds, depth=args.depth)
    rows["ours, jit_compile=True (XLA)"] = xla
    rows["ours, jit_compile=False (graph)"] = graph
    torch_params = default["parameters"]
    best_torch = max(v for k, v in rows.items() if k.startswith("PyTorch"))
    print(
        f"ResNet-{args.depth} training, batch {args.batch_size}, 32x32x3, {args.steps} timed "
        f"steps after {args.warmup} warm-up (ours: median of {args.rounds} alternating rounds); trainable parameters: ours {params:,}, "
        f"PyTorch {torch_params:,}; {os.cpu_count()} CPUs"
    )
    print("| arm | images/s | XLA speed-up over it |")
    print("|---|---|---|")
    for name, speed in rows.items():
        print(f"| {name} | {speed:.1f} | {xla / speed:.2f}x |")
    print(
        f"targets: XLA >= 1.0x PyTorch (best of its thread settings): {xla / best_torch:.2f}x "
        f"{'met' if xla >= best_torch else 'MISSED'}; XLA >= 1.2x our graph mode: "
        f"{xla / graph:.2f}x {'met' if xla >= 1.2 * graph else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
