"""DCGAN training speed: `models.GAN` with and without XLA vs the same networks in PyTorch.

The 16x16 digits DCGAN of `keras-dlss train dcgan` (latent 32, 32 base
filters, batch 64, non-saturating loss, Adam(2e-4, β₁=0.5) for both players,
one discriminator step then one generator step per batch), timed as steps per
second of `fit` after a warm-up (compilation excluded). The PyTorch arm
builds the same layers (Linear/BatchNorm/ConvTranspose2d generator,
Conv2d/LeakyReLU discriminator, same shapes and parameter counts) and runs the
same alternating step, in its own process (PITFALLS.md: TF's thread pools slow
torch in the same process), with torch's default thread count and with one
thread (on a loaded machine the default collapses); the faster is the peer.
CPU milliseconds per step (process time, all threads) are printed too: on a
shared machine they say how much work a step is when wall-clock rates do not,
and wall time / CPU time shows how many cores an arm keeps busy.

Run: python benchmarks/gan_speed.py [--steps 200]
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BATCH, LATENT, FILTERS, SIZE = 64, 32, 32, 16

_TORCH = r"""
import json, sys, time
import torch
from torch import nn
torch.manual_seed(0)
steps, batch, latent, f, threads = (int(a) for a in sys.argv[1:6])
if threads:
    torch.set_num_threads(threads)
G = nn.Sequential(
    nn.Linear(latent, 4 * 4 * 2 * f, bias=False), nn.Unflatten(1, (2 * f, 4, 4)),
    nn.BatchNorm2d(2 * f), nn.ReLU(),
    nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias=False), nn.BatchNorm2d(f), nn.ReLU(),
    nn.ConvTranspose2d(f, 1, 4, 2, 1), nn.Tanh())
D = nn.Sequential(
    nn.Conv2d(1, f, 4, 2, 1), nn.LeakyReLU(0.2),
    nn.Conv2d(f, 2 * f, 4, 2, 1), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 4 * 2 * f, 1))
g_opt = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.5, 0.999))
d_opt = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.999))
bce = nn.functional.binary_cross_entropy_with_logits
data = torch.rand(steps * batch, 1, 16, 16) * 2 - 1
def step(real):
    z = torch.randn(batch, latent)
    with torch.no_grad():
        fake = G(z)
    logits = D(torch.cat([real, fake]))
    d_loss = bce(logits[:batch], torch.ones(batch, 1)) + bce(logits[batch:], torch.zeros(batch, 1))
    d_opt.zero_grad(); d_loss.backward(); d_opt.step()
    out = D(G(torch.randn(batch, latent)))
    g_loss = bce(out, torch.ones(batch, 1))
    g_opt.zero_grad(); g_loss.backward(); g_opt.step()
for i in range(10):
    step(data[:batch])
start, cpu = time.perf_counter(), time.process_time()
for i in range(steps):
    step(data[i * batch:(i + 1) * batch])
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
params = sum(p.numel() for p in G.parameters()) + sum(p.numel() for p in D.parameters())
print(json.dumps({"steps_per_second": steps / seconds, "cpu_ms": 1000 * cpu / steps,
                  "params": params, "threads": torch.get_num_threads()}))
"""


def keras_arm(steps, jit_compile):
    import keras
    import numpy as np

    from keras_dlss.applications import DCGAN

    keras.utils.set_random_seed(0)
    gan = DCGAN(image_size=SIZE, latent_dim=LATENT, base_filters=FILTERS, seed=0)
    gan.compile(
        generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        jit_compile=jit_compile,
    )
    data = np.random.default_rng(0).uniform(-1, 1, (steps * BATCH, SIZE, SIZE, 1)).astype("float32")
    gan.fit(data[: 10 * BATCH], batch_size=BATCH, epochs=1, verbose=0)  # trace and compile
    start, cpu = time.perf_counter(), time.process_time()
    gan.fit(data, batch_size=BATCH, epochs=1, verbose=0)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return steps / seconds, 1000 * cpu / steps, gan.count_params()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    torch_results = {}
    for threads in (0, 1):  # 0: torch's default thread count
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                _TORCH,
                *map(str, (args.steps, BATCH, LATENT, FILTERS, threads)),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        torch_results[threads] = json.loads(out.stdout.strip().splitlines()[-1])
    torch_result = max(torch_results.values(), key=lambda r: r["steps_per_second"])
    xla, xla_cpu, params = keras_arm(args.steps, True)
    plain, plain_cpu, _ = keras_arm(args.steps, False)
    peer = torch_result["steps_per_second"]
    import keras

    print(
        f"DCGAN 16x16, batch {BATCH}, {args.steps} timed steps; Keras backend "
        f"{keras.config.backend()}; parameters Keras {params} / PyTorch {torch_result['params']}"
    )
    print("| arm | steps/s | vs PyTorch | CPU ms/step (all threads) |")
    print("|---|---|---|---|")
    print(f"| keras-dlss GAN, jit_compile=True | {xla:.1f} | {xla / peer:.2f}x | {xla_cpu:.1f} |")
    print(
        f"| keras-dlss GAN, jit_compile=False | {plain:.1f} | {plain / peer:.2f}x | "
        f"{plain_cpu:.1f} |"
    )
    for threads, result in torch_results.items():
        name = f"{result['threads']} threads (default)" if threads == 0 else "1 thread"
        speed = result["steps_per_second"]
        print(
            f"| PyTorch 2.13 eager, own process, {name} | {speed:.1f} | {speed / peer:.2f}x | "
            f"{result['cpu_ms']:.1f} |"
        )


if __name__ == "__main__":
    main()
