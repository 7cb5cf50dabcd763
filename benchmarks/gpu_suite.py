"""GPU benchmark suite (issue #19 item 6): keras-dlss on the JAX backend vs PyTorch peers.

Run by `benchmarks/gpu_suite.sh` on a CUDA machine that has JAX and PyTorch but no
TensorFlow (our library code is `keras.ops` only, so it runs there unchanged); on a
machine without a GPU it runs the same workloads at smoke sizes and says so in the
table. Each PyTorch peer runs in its own process (`gpu_suite_torch.py`).

Workloads, each timed after compilation (median of repeats, device synchronized):
- CRF negative log-likelihood + gradient, our sequential vs O(log T) parallel
  algorithm, vs pytorch-crf: the criterion the CPU could not settle (the parallel
  tree's extra matmuls only pay off with a wide device);
- beam search (beam 4) over an LSTM decoder, one XLA program;
- relative-attention logits at L = 2048 and 4096, our skewing (O(L·D) memory) vs the
  naive gathered table (O(L²·D)): time and XLA's peak temporary memory;
- ResNet-20 (CIFAR) and a Transformer encoder LM: training throughput in float32 and
  bfloat16 (`mixed_bfloat16`), vs the same networks written in PyTorch (autocast).

Writes one Markdown table (`--out`, default `docs/performance-gpu.md`).

    bash benchmarks/gpu_suite.sh               # on the GPU machine
    KERAS_BACKEND=jax python benchmarks/gpu_suite.py --smoke --out /tmp/perf.md   # CPU
"""

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # keras_dlss from this checkout if not installed

FULL = {
    "crf": [(32, 256, 20), (8, 1024, 50), (4, 4096, 20)],
    "beam": dict(batch=64, beam=4, length=64, vocab=512, hidden=512),
    "relative": [2048, 4096],
    "resnet": dict(batch=256, steps=20),
    "transformer": dict(batch=32, length=512, width=512, heads=8, layers=4, vocab=8192, steps=20),
    "repeats": 10,
}
SMOKE = {
    "crf": [(4, 16, 5)],
    "beam": dict(batch=2, beam=2, length=6, vocab=16, hidden=8),
    "relative": [64],
    "resnet": dict(batch=8, steps=2),
    "transformer": dict(batch=2, length=16, width=32, heads=2, layers=1, vocab=64, steps=2),
    "repeats": 2,
}


def _median_ms(fn, repeats):
    import jax

    jax.block_until_ready(fn())  # compile
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _crf_ms(emissions, tags, weights, algorithm, repeats):
    import jax

    from keras_dlss.ops import crf_log_likelihood

    def loss(e, trans, start, end):
        ll = crf_log_likelihood(e, tags, trans, None, start, end, algorithm=algorithm)
        return -jax.numpy.sum(ll)

    step = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2, 3)))
    return _median_ms(lambda: step(emissions, *weights), repeats)


def crf_rows(shapes, repeats):
    import jax
    import numpy as np

    rows = []
    for b, t, k in shapes:
        rng = np.random.default_rng(0)
        emissions = jax.numpy.asarray(rng.normal(size=(b, t, k)).astype("float32"))
        tags = jax.numpy.asarray(rng.integers(0, k, size=(b, t)).astype("int32"))
        weights = [
            jax.numpy.asarray(rng.normal(size=s).astype("float32") * 0.1)
            for s in ((k, k), (k,), (k,))
        ]
        for algorithm in ("sequential", "parallel"):
            ms = _crf_ms(emissions, tags, weights, algorithm, repeats)
            rows.append(("CRF NLL + grad", f"B={b} T={t} K={k}, {algorithm}", ms, "ms"))
    return rows


def beam_rows(cfg, repeats):
    import jax
    import keras
    import numpy as np
    from keras import ops

    from keras_dlss.decoding import beam_search

    rng = np.random.default_rng(0)
    h, v = cfg["hidden"], cfg["vocab"]
    embed = ops.convert_to_tensor(rng.normal(size=(v, h)).astype("float32") * 0.1)
    kernel = ops.convert_to_tensor(rng.normal(size=(2 * h, 4 * h)).astype("float32") * 0.05)
    out = ops.convert_to_tensor(rng.normal(size=(h, v)).astype("float32") * 0.1)

    def step_fn(tokens, state):
        hidden, cell = state
        z = ops.matmul(ops.concatenate([ops.take(embed, tokens, axis=0), hidden], -1), kernel)
        i, f, g, o = ops.split(z, 4, axis=-1)
        cell = ops.sigmoid(f) * cell + ops.sigmoid(i) * ops.tanh(g)
        hidden = ops.sigmoid(o) * ops.tanh(cell)
        return ops.log_softmax(ops.matmul(hidden, out)), (hidden, cell)

    zeros = np.zeros((cfg["batch"], h), "float32")
    state = (ops.convert_to_tensor(zeros), ops.convert_to_tensor(zeros))
    run = jax.jit(lambda s: beam_search(step_fn, s, 1, 2, cfg["beam"], cfg["length"]))
    ms = _median_ms(lambda: run(state), repeats)
    label = f"batch {cfg['batch']}, beam {cfg['beam']}, {cfg['length']} steps, V={v}, LSTM {h}"
    del keras
    return [("Beam search", label, ms, "ms")]


def relative_rows(lengths, repeats, heads=8, depth=64):
    import jax
    import numpy as np
    from keras import ops

    from keras_dlss.ops import relative_position_logits

    def naive(query, embeddings):
        length = query.shape[-2]
        index = ops.arange(length)[None, :] - ops.arange(length)[:, None] + length - 1
        table = ops.take(embeddings, index, axis=0)  # [L, L, D]: what the skew avoids
        logits = ops.einsum("bhid,ijd->bhij", query, table)
        return ops.where(ops.tril(ops.ones((length, length), "bool")), logits, 0.0)

    rows = []
    for length in lengths:
        rng = np.random.default_rng(0)
        q = jax.numpy.asarray(rng.normal(size=(1, heads, length, depth)).astype("float32"))
        e = jax.numpy.asarray(rng.normal(size=(2 * length - 1, depth)).astype("float32"))
        for name, fn in (("skewing", relative_position_logits), ("naive gather", naive)):
            jitted = jax.jit(lambda q, e, fn=fn: fn(q, e))
            try:
                memory = jitted.lower(q, e).compile().memory_analysis()
                temp = getattr(memory, "temp_size_in_bytes", None)
            except Exception:  # noqa: BLE001 - memory analysis is backend-optional
                temp = None
            ms = _median_ms(functools.partial(jitted, q, e), repeats)
            extra = f", temp {temp / 2**20:.0f} MiB" if temp is not None else ""
            rows.append(
                (
                    "Relative attention logits",
                    f"L={length}, H={heads}, D={depth}, {name}{extra}",
                    ms,
                    "ms",
                )
            )
    return rows


def _throughput(model, x, y, steps, batch):
    """Examples per second of `model.fit` over `steps` batches, after a compiling epoch."""
    model.fit(x[: 2 * batch], y[: 2 * batch], batch_size=batch, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return len(x) / (time.perf_counter() - start)


def resnet_rows(cfg, precision):
    import keras
    import numpy as np

    from keras_dlss.applications import ResNet

    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        model = ResNet(20)
        model.compile(
            keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
            keras.losses.SparseCategoricalCrossentropy(from_logits=False),
            jit_compile=True,
        )
        n = cfg["batch"] * cfg["steps"]
        rng = np.random.default_rng(0)
        x = rng.normal(size=(n, 32, 32, 3)).astype("float32")
        y = rng.integers(0, 10, size=(n,)).astype("int32")
        rate = _throughput(model, x, y, cfg["steps"], cfg["batch"])
    finally:
        keras.config.set_dtype_policy("float32")
    return [("ResNet-20 training", f"batch {cfg['batch']}, {precision}", rate, "img/s")]


def transformer_model(cfg):
    import keras

    from keras_dlss.layers import TransformerEncoderBlock

    tokens = keras.Input((cfg["length"],), dtype="int32")
    h = keras.layers.Embedding(cfg["vocab"], cfg["width"])(tokens)
    for _ in range(cfg["layers"]):
        h = TransformerEncoderBlock(
            cfg["heads"], 4 * cfg["width"], attention="absolute", activation="gelu"
        )(h)
    logits = keras.layers.Dense(cfg["vocab"], dtype="float32")(h)
    return keras.Model(tokens, logits)


def transformer_rows(cfg, precision):
    import keras
    import numpy as np

    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        model = transformer_model(cfg)
        model.compile(
            keras.optimizers.Adam(1e-4),
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=True,
        )
        n = cfg["batch"] * cfg["steps"]
        rng = np.random.default_rng(0)
        x = rng.integers(0, cfg["vocab"], size=(n, cfg["length"])).astype("int32")
        rate = _throughput(model, x, np.roll(x, -1, axis=1), cfg["steps"], cfg["batch"])
    finally:
        keras.config.set_dtype_policy("float32")
    label = (
        f"{cfg['layers']}x(d={cfg['width']}, h={cfg['heads']}), L={cfg['length']}, "
        f"batch {cfg['batch']}, {precision}"
    )
    return [("Transformer LM training", label, rate * cfg["length"], "tokens/s")]


def torch_peer(args):
    """Runs `gpu_suite_torch.py` in its own process; returns its JSON rows, or a reason."""
    command = [sys.executable, os.path.join(HERE, "gpu_suite_torch.py"), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1][:200]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CPU smoke test)")
    parser.add_argument(
        "--out", default=os.path.join(os.path.dirname(HERE), "docs", "performance-gpu.md")
    )
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument(
        "--workloads",
        default="crf,beam,relative,resnet,transformer",
        help="comma-separated subset (CI's smoke test runs the quick ones)",
    )
    args = parser.parse_args()

    import jax
    import keras

    cfg = SMOKE if args.smoke else FULL
    device = jax.devices()[0]
    on_gpu = device.platform == "gpu"
    peer_device = "cuda" if on_gpu else "cpu"
    rows, peers = [], {}
    sections = [
        ("crf", lambda: crf_rows(cfg["crf"], cfg["repeats"])),
        ("beam", lambda: beam_rows(cfg["beam"], cfg["repeats"])),
        ("relative", lambda: relative_rows(cfg["relative"], cfg["repeats"])),
        (
            "resnet",
            lambda: resnet_rows(cfg["resnet"], "float32") + resnet_rows(cfg["resnet"], "bfloat16"),
        ),
        (
            "transformer",
            lambda: (
                transformer_rows(cfg["transformer"], "float32")
                + transformer_rows(cfg["transformer"], "bfloat16")
            ),
        ),
    ]
    chosen = set(args.workloads.split(","))
    unknown = chosen - {name for name, _ in sections}
    if unknown:
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    for name, run in sections:
        if name not in chosen:
            continue
        start = time.perf_counter()
        try:
            rows += run()
        except Exception as error:  # noqa: BLE001 - one failed workload must not lose the others
            rows.append(
                (name, f"failed: {type(error).__name__}: {str(error)[:160]}", float("nan"), "")
            )
        print(f"{name}: {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    if not args.skip_peers:
        spec = json.dumps(
            {k: cfg[k] if k in chosen else [] for k in ("crf", "resnet", "transformer")}
        )
        peers = torch_peer(["--device", peer_device, "--config", spec])

    table = _markdown(rows, peers, device, on_gpu, args.smoke, keras)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(table)
    print(table)


def _peer_value(peers, workload, setting):
    for row in peers.get("rows", []):
        if row["workload"] == workload and row["setting"] == setting:
            return row["value"]
    return None


def _markdown(rows, peers, device, on_gpu, smoke, keras):
    kind = getattr(device, "device_kind", str(device))
    where = (
        f"{kind} (JAX {__import__('jax').__version__})"
        if on_gpu
        else f"CPU only ({platform.processor() or platform.machine()})"
    )
    lines = [
        "# Performance on an accelerator",
        "",
        f"Device: **{where}**. keras {keras.__version__} on the JAX backend; PyTorch peers in their own "
        f"process ({peers.get('torch', 'not run')}{', ' + peers['error'] if 'error' in peers else ''}).",
    ]
    if not on_gpu or smoke:
        lines.append("")
        lines.append(
            "**This is a smoke run"
            + (" on CPU" if not on_gpu else "")
            + " at tiny sizes: it proves the "
            "suite runs, its numbers say nothing about an accelerator.**"
        )
    lines += [
        "",
        "| workload | setting | keras-dlss (JAX) | PyTorch peer | ours / peer |",
        "|---|---|---|---|---|",
    ]
    for workload, setting, value, unit in rows:
        peer = _peer_value(peers, workload, setting)
        if peer is None or value != value:
            ratio = "—"
        elif unit == "ms":
            ratio = (
                f"{peer / value:.2f}× faster" if value <= peer else f"{value / peer:.2f}× slower"
            )
        else:
            ratio = f"{value / peer:.2f}×"
        ours = f"{value:,.2f} {unit}" if value == value else "—"
        theirs = f"{peer:,.2f} {unit}" if peer is not None else "—"
        lines.append(f"| {workload} | {setting} | {ours} | {theirs} | {ratio} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
