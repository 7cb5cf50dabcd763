"""Attribution parity and speed: keras_dlss.interpret (TF backend, XLA) vs captum (PyTorch).

The same weights (a digits-sized MLP 64-32-10 and a CNN on 8x8x1 images: conv
3x3x4 + ReLU, flatten, dense 10) are loaded into Keras and into PyTorch; captum
runs in its own process (PITFALLS.md: TF's thread pools slow PyTorch down in
the same process). For saliency, integrated gradients (same rule and steps),
occlusion and feature ablation it prints the largest difference relative to
the attributions' scale, and the median time per batch of both.

    .venv/bin/pip install captum        # the `bench` extra
    .venv/bin/python benchmarks/captum_parity.py [--batch 32] [--repeats 10]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

IG_STEPS = 32


def weights(seed=0):
    rng = np.random.default_rng(seed)
    f = lambda *s: (rng.normal(size=s) / np.sqrt(s[0] if len(s) == 2 else 9)).astype("float32")  # noqa: E731
    return {
        "mlp": [f(64, 32), f(32) * 0.1, f(32, 10), f(10) * 0.1],
        "cnn": [f(3, 3, 1, 4), f(4) * 0.1, f(144, 10) * 0.3, f(10) * 0.1],
    }


def inputs(batch, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(batch, 64)).astype("float32")
    return {"mlp": x, "cnn": x.reshape(batch, 8, 8, 1)}, rng.integers(0, 10, size=batch)


def superpixels():
    return (np.arange(8)[:, None] // 2 * 4 + np.arange(8)[None, :] // 2).astype("int64")


def cases():
    """(name, model, our call, captum call) with matching options."""
    return [
        ("saliency", "mlp", {}, {}),
        ("saliency", "cnn", {}, {}),
        ("ig_gausslegendre", "mlp", {"method": "gausslegendre"}, {"method": "gausslegendre"}),
        ("ig_middle", "cnn", {"method": "riemann_middle"}, {"method": "riemann_middle"}),
        ("ig_left", "mlp", {"method": "riemann_left"}, {"method": "riemann_left"}),
        ("ig_trapezoid", "cnn", {"method": "riemann_trapezoid"}, {"method": "riemann_trapezoid"}),
        ("occlusion", "mlp", {"window": 4, "strides": 2}, {"window": (4,), "strides": 2}),
        (
            "occlusion",
            "cnn",
            {"window": (3, 3, 1), "strides": 1},
            {"window": (1, 3, 3), "strides": 1},
        ),
        ("feature_ablation", "mlp", {}, {}),
        ("feature_ablation", "cnn", {"superpixels": True}, {"superpixels": True}),
    ]


def median_ms(fn, repeats):
    fn()  # compile / warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


# ----------------------------------------------------------------------------- ours


def keras_models(w):
    import keras

    mlp = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
    )
    mlp.set_weights(w["mlp"])
    cnn = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10),
        ]
    )
    cnn.set_weights(w["cnn"])
    return {"mlp": mlp, "cnn": cnn}


def _our_call(interpret, name, model, x, y, opts):
    if name == "saliency":
        return lambda: interpret.saliency(model, x, y)
    if name.startswith("ig"):
        return lambda: interpret.integrated_gradients(
            model, x, y, steps=IG_STEPS, method=opts["method"]
        )[0]
    if name == "occlusion":
        return lambda: interpret.occlusion(model, x, y, opts["window"], strides=opts["strides"])
    mask = superpixels()[..., None] if opts.get("superpixels") else None
    return lambda: interpret.feature_ablation(model, x, y, feature_mask=mask)


def ours(batch, repeats):
    from keras import ops

    from keras_dlss import interpret

    models, (xs, y) = keras_models(weights()), inputs(batch)
    results = {}
    for name, arch, opts, _ in cases():
        fn = _our_call(interpret, name, models[arch], xs[arch], y, opts)
        value = np.asarray(ops.convert_to_numpy(fn()))
        results[f"{name}/{arch}"] = (value, median_ms(fn, repeats))
    return results


# ----------------------------------------------------------------------------- captum


def torch_models(w):
    import torch

    class MLP(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(64, 32), torch.nn.Linear(32, 10)

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    class CNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.dense = torch.nn.Conv2d(1, 4, 3), torch.nn.Linear(144, 10)

        def forward(self, x):  # NCHW in; flatten in Keras's HWC order
            h = torch.relu(self.conv(x)).permute(0, 2, 3, 1).reshape(x.shape[0], -1)
            return self.dense(h)

    mlp, cnn = MLP(), CNN()
    t = lambda a: torch.tensor(np.ascontiguousarray(a))  # noqa: E731
    with torch.no_grad():
        mlp.a.weight.copy_(t(w["mlp"][0].T)), mlp.a.bias.copy_(t(w["mlp"][1]))
        mlp.b.weight.copy_(t(w["mlp"][2].T)), mlp.b.bias.copy_(t(w["mlp"][3]))
        (
            cnn.conv.weight.copy_(t(w["cnn"][0].transpose(3, 2, 0, 1))),
            cnn.conv.bias.copy_(t(w["cnn"][1])),
        )
        cnn.dense.weight.copy_(t(w["cnn"][2].T)), cnn.dense.bias.copy_(t(w["cnn"][3]))
    return {"mlp": mlp.eval(), "cnn": cnn.eval()}


def _captum_call(name, model, x, target, opts):
    import torch
    from captum.attr import FeatureAblation, IntegratedGradients, Occlusion, Saliency

    if name == "saliency":
        return lambda: Saliency(model).attribute(x, target=target, abs=False)
    if name.startswith("ig"):
        return lambda: IntegratedGradients(model).attribute(
            x, target=target, n_steps=IG_STEPS, method=opts["method"]
        )
    if name == "occlusion":
        return lambda: Occlusion(model).attribute(
            x,
            sliding_window_shapes=opts["window"],
            strides=opts["strides"],
            target=target,
            perturbations_per_eval=64,
        )
    mask = torch.tensor(superpixels()[None, None]) if opts.get("superpixels") else None
    return lambda: FeatureAblation(model).attribute(
        x, target=target, feature_mask=mask, perturbations_per_eval=64
    )


def captum_peer(batch, repeats, out):
    import torch

    torch.set_num_threads(2)
    models, (xs, y) = torch_models(weights()), inputs(batch)
    target = torch.tensor(y)
    results, times = {}, {}
    for name, arch, _, opts in cases():
        model = models[arch]
        x = torch.tensor(xs[arch] if arch == "mlp" else xs[arch].transpose(0, 3, 1, 2).copy())
        fn = _captum_call(name, model, x, target, opts)
        value = fn().detach().numpy()
        if arch == "cnn":
            value = value.transpose(0, 2, 3, 1)
        results[f"{name}/{arch}"] = value
        times[f"{name}/{arch}"] = median_ms(fn, repeats)
    np.savez(out, **results)
    with open(out + ".json", "w") as f:
        json.dump(times, f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--peer", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        return captum_peer(args.batch, args.repeats, args.peer)
    out = os.path.join(tempfile.mkdtemp(), "captum.npz")
    cmd = [
        sys.executable,
        __file__,
        "--peer",
        out,
        "--batch",
        str(args.batch),
        "--repeats",
        str(args.repeats),
    ]
    subprocess.run(cmd, check=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    peer = np.load(out)
    with open(out + ".json") as f:
        peer_ms = json.load(f)
    mine = ours(args.batch, args.repeats)
    print(f"batch {args.batch}, IG steps {IG_STEPS}; medians of {args.repeats} runs")
    print(
        f"{'method/model':28} {'max rel diff':>12} {'ours ms':>9} {'captum ms':>10} {'speed-up':>9}"
    )
    for key, (value, ms) in mine.items():
        ref = peer[key]
        rel = np.abs(value - ref).max() / max(np.abs(ref).max(), 1e-12)
        print(f"{key:28} {rel:12.2e} {ms:9.2f} {peer_ms[key]:10.2f} {peer_ms[key] / ms:8.2f}x")
        if key.startswith("ig_trapezoid"):
            # captum's trapezoid weights are 1/n with halved ends: they sum to (n - 1)/n, not 1.
            scaled = value * (IG_STEPS - 1) / IG_STEPS
            rel = np.abs(scaled - ref).max() / max(np.abs(ref).max(), 1e-12)
            print(f"{'  ours x (n-1)/n':28} {rel:12.2e}")


if __name__ == "__main__":
    main()
