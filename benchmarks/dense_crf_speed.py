"""Dense CRF message passing: exact O(N²) vs fast (separable spatial + bilateral grid).

For each image size: max |ΔQ| between the two paths after 5 mean-field
iterations on the same unaries (a shapes image, noisy logits from its mask),
median time per iteration (XLA-compiled, TensorFlow), and the memory of the
dominant buffers (the exact path's N×N kernel matrices; the fast path's grid).
The exact path is skipped where its N×N matrices exceed `--max-exact-gib`
(256×256: 65,536² float32 = 16 GiB per matrix). `pydensecrf` (the C++
permutohedral-lattice implementation) is tried in its own process.

    python benchmarks/dense_crf_speed.py --sizes 64 128 256
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.datasets import shapes  # noqa: E402
from keras_dlss.ops import (
    bilateral_grid,  # noqa: E402
    dense_crf_mean_field,  # noqa: E402
)

SETTINGS = {
    "spatial_weight": 1.0,
    "spatial_sigma": 1.0,
    "bilateral_weight": 1.0,
    "bilateral_color_sigma": 0.1,
}


def inputs(size, labels=5, seed=0):
    x, mask = shapes(1, image_size=size, num_classes=labels - 1, task="segment", seed=seed)
    rng = np.random.default_rng(seed)
    logits = 2.0 * np.eye(labels, dtype="float32")[mask] + rng.normal(
        0, 1.0, mask.shape + (labels,)
    )
    return logits.astype("float32"), x


def timed(fn, repeats):
    fn()  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        keras.ops.convert_to_numpy(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def compiled(method, logits, image, iterations, bil_sigma):
    import tensorflow as tf

    fn = tf.function(
        lambda u, im: dense_crf_mean_field(
            u,
            im,
            iterations=iterations,
            method=method,
            bilateral_spatial_sigma=bil_sigma,
            **SETTINGS,
        ),
        jit_compile=True,
    )
    return lambda: fn(logits, image)


def pydensecrf_row(logits, image, bil_sigma):
    """pydensecrf in its own process, if it is installed; else why not."""
    code = r"""
import json, sys, time, numpy as np
try:
    import pydensecrf.densecrf as dcrf
except Exception as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}"})); sys.exit()
d = np.load(sys.argv[1]); u, im = d["u"], d["im"]
h, w, l = u.shape
crf = dcrf.DenseCRF2D(w, h, l)
crf.setUnaryEnergy(np.ascontiguousarray((-u).reshape(-1, l).T))
crf.addPairwiseGaussian(sxy=1.0, compat=1.0)
crf.addPairwiseBilateral(sxy=float(sys.argv[2]), srgb=25.5, rgbim=np.ascontiguousarray((im * 255).astype(np.uint8)), compat=1.0)
start = time.perf_counter(); q = np.array(crf.inference(5)).T.reshape(h, w, l)
print(json.dumps({"seconds_per_iteration": (time.perf_counter() - start) / 5, "q": q.tolist()}))
"""
    path = "/tmp/_dense_crf_inputs.npz"
    np.savez(path, u=logits[0], im=image[0])
    out = subprocess.run(
        [sys.executable, "-c", code, path, str(bil_sigma)], capture_output=True, text=True
    )
    try:
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "no output"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-exact-gib", type=float, default=2.0)
    args = parser.parse_args()
    print(
        f"backend={keras.config.backend()}, XLA, float32, {args.iterations} iterations, "
        "5 labels; shared, loaded 2-core CPU machine"
    )
    print(
        "| size | exact s/iter | fast s/iter | speed-up | max abs dQ | exact N² buffers | fast grid | pydensecrf s/iter | max abs dQ vs pydensecrf |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        logits, image = inputs(size)
        bil_sigma = size / 8.0
        grid = bilateral_grid.default_grid_shape(image.shape, bil_sigma, 0.1)
        cells = grid[0] * grid[1] * grid[2] ** 3
        n = size * size
        exact_gib = 2 * n * n * 4 / 2**30  # spatial and bilateral N×N float32 matrices
        fast = compiled("fast", logits, image, args.iterations, bil_sigma)
        t_fast = timed(fast, args.repeats) / args.iterations
        q_fast = keras.ops.convert_to_numpy(keras.ops.softmax(fast()))
        if exact_gib <= args.max_exact_gib:
            exact = compiled("exact", logits, image, args.iterations, bil_sigma)
            t_exact = timed(exact, args.repeats) / args.iterations
            q_exact = keras.ops.convert_to_numpy(keras.ops.softmax(exact()))
            d_q = f"{np.abs(q_exact - q_fast).max():.3f}"
            exact_cell = f"{t_exact:.4f}"
            speedup = f"{t_exact / t_fast:.1f}x"
        else:
            exact_cell, d_q, speedup = "infeasible", "-", "-"
        peer = pydensecrf_row(logits, image, bil_sigma)
        if "error" in peer:
            peer_t, peer_d = f"unavailable ({peer['error'][:60]})", "-"
        else:
            peer_t = f"{peer['seconds_per_iteration']:.4f}"
            peer_d = f"{np.abs(np.array(peer['q']) - q_fast[0]).max():.3f}"
        print(
            f"| {size}×{size} | {exact_cell} | {t_fast:.4f} | {speedup} | {d_q} | "
            f"{exact_gib:.2f} GiB | {grid} = {cells:,} cells × 5 labels "
            f"({cells * 5 * 4 / 2**20:.0f} MiB) | {peer_t} | {peer_d} |"
        )
    print("(bilateral θα = size/8 px, θβ = 0.1; grid from default_grid_shape)")


if __name__ == "__main__":
    main()
