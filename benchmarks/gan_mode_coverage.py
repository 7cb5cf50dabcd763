"""Mode coverage of `models.GAN` on the 8-Gaussians ring and the 25-Gaussians grid.

The toy problems of Metz et al. 2017 (unrolled GANs) and Srivastava et al. 2017
(VEEGAN): a mixture of 8 Gaussians (std 0.05; Metz et al. use 0.02, which
needs far more steps than a shared 2-core CPU allows) on a circle of radius 2, and of
25 (std 0.05) on the grid {-4, -2, 0, 2, 4}². A mode is recovered when at
least `min(20, 2500 / modes / 4)` of 2,500 samples lie within 3 standard
deviations of its centre; a sample is high quality when it
lies within 3 standard deviations of some centre (VEEGAN's protocol).

Arms: the non-saturating loss (the default), hinge, and WGAN-GP, each with
and without an EMA generator (decay 0.999). Both players are 3-layer MLPs
(128 ReLU units), Adam(`--lr`, β=(0.5, 0.9)), batch 256, jit_compile=True.

Run: python benchmarks/gan_mode_coverage.py [--steps 3000] [--problems ring,grid]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.models import GAN  # noqa: E402

PROBLEMS = {
    "ring": (np.array([[2 * np.cos(a), 2 * np.sin(a)] for a in np.arange(8) * np.pi / 4]), 0.05),
    "grid": (np.array([[x, y] for x in range(-4, 5, 2) for y in range(-4, 5, 2)], float), 0.05),
}
ARMS = [
    ("non_saturating", None),
    ("non_saturating", 0.999),
    ("hinge", None),
    ("hinge", 0.999),
    ("wasserstein_gp", None),
    ("wasserstein_gp", 0.999),
]


def sample_mixture(centres, std, n, rng):
    return (centres[rng.integers(0, len(centres), n)] + rng.normal(0, std, (n, 2))).astype(
        "float32"
    )


def mlp(input_dim, output_dim, width=128):
    return keras.Sequential(
        [
            keras.Input((input_dim,)),
            keras.layers.Dense(width, "relu"),
            keras.layers.Dense(width, "relu"),
            keras.layers.Dense(width, "relu"),
            keras.layers.Dense(output_dim),
        ]
    )


def evaluate(samples, centres, std):
    distances = np.linalg.norm(samples[:, None, :] - centres[None], axis=-1)
    nearest, close = distances.argmin(1), distances.min(1) < 3 * std
    counts = np.bincount(nearest[close], minlength=len(centres))
    threshold = min(20, len(samples) // len(centres) // 4)
    return int(np.sum(counts >= threshold)), float(close.mean())


def run(problem, loss, ema, steps, seed=0, lr=1e-3):
    centres, std = PROBLEMS[problem]
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    data = sample_mixture(centres, std, steps * 256, rng)
    gan = GAN(mlp(16, 2), mlp(2, 1), loss=loss, ema_decay=ema, seed=seed)
    gan.compile(
        generator_optimizer=keras.optimizers.Adam(lr, beta_1=0.5, beta_2=0.9),
        discriminator_optimizer=keras.optimizers.Adam(lr, beta_1=0.5, beta_2=0.9),
        jit_compile=True,
    )
    start = time.perf_counter()
    gan.fit(data, epochs=1, batch_size=256, verbose=0)
    seconds = time.perf_counter() - start
    modes, quality = evaluate(gan.sample(2500, seed=seed + 1), centres, std)
    return modes, quality, seconds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--problems", default="ring,grid")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    print(
        f"{args.steps} generator steps, batch 256, Adam lr {args.lr}, {args.seeds} seed(s); backend {keras.config.backend()}"
    )
    print("| problem | loss | EMA | modes recovered | high-quality fraction | train s |")
    print("|---|---|---|---|---|---|")
    for problem in args.problems.split(","):
        total = len(PROBLEMS[problem][0])
        for loss, ema in ARMS:
            results = [
                run(problem, loss, ema, args.steps, seed, args.lr) for seed in range(args.seeds)
            ]
            modes = "/".join(str(r[0]) for r in results)
            quality = np.mean([r[1] for r in results])
            seconds = np.mean([r[2] for r in results])
            print(
                f"| {problem} | {loss} | {ema or 'no'} | {modes} of {total} | {quality:.2f} | "
                f"{seconds:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
