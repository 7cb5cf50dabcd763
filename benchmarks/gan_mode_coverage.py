"""Mode coverage of `models.GAN` on the 8-Gaussians ring and the 25-Gaussians grid.

The toy problems of Metz et al. 2017 (unrolled GANs) and Srivastava et al. 2017
(VEEGAN): a mixture of 8 Gaussians (std 0.05; Metz et al. use 0.02, which
needs far more steps than a shared 2-core CPU allows) on a circle of radius 2, and of
25 (std 0.05) on the grid {-4, -2, 0, 2, 4}². A mode is recovered when at
least `min(20, 2500 / modes / 4)` of 2,500 samples lie within 3 standard
deviations of its centre; a sample is high quality when it
lies within 3 standard deviations of some centre (VEEGAN's protocol).

Arms (each a whole recipe: loss, penalty, discriminator steps, EMA, Adam):
the non-saturating loss with and without EMA and with R1 (Mescheder et al.
2018, gamma 1, EMA 0.999: the recommended recipe); hinge with and without
EMA; WGAN-GP as Gulrajani et al. 2017 train it: 5 critic steps per
generator step, penalty 10, Adam(1e-4, β=(0, 0.9)). The other arms use
Adam(`--lr`, β=(0.5, 0.9)) for both players. Two control arms: R1 at the
constructor's default weight γ = 10 (is γ = 1 a tuned choice?), and WGAN-GP
with 5 critic steps but the other arms' Adam (what this step budget gives it;
the paper's learning rate needs far more steps). Both players are 3-layer MLPs
(128 ReLU units), batch 256, jit_compile=True.

Run: python benchmarks/gan_mode_coverage.py [--steps 2000] [--problems ring,grid] [--seeds 3]
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
_WGAN_GP = {"loss": "wasserstein_gp", "discriminator_steps": 5, "lr": 1e-4, "beta_1": 0.0}
ARMS = {
    "non_saturating": {"loss": "non_saturating"},
    "non_saturating+ema": {"loss": "non_saturating", "ema_decay": 0.999},
    "non_saturating+r1+ema": {
        "loss": "non_saturating",
        "gradient_penalty": "r1",
        "penalty_weight": 1.0,
        "ema_decay": 0.999,
    },
    "hinge": {"loss": "hinge"},
    "hinge+ema": {"loss": "hinge", "ema_decay": 0.999},
    "wgan_gp (n_critic 5)": _WGAN_GP,
    "wgan_gp (n_critic 5)+ema": {**_WGAN_GP, "ema_decay": 0.999},
    # R1 at the constructor's default weight (10): is gamma = 1 a tuned choice?
    "non_saturating+r1(gamma 10)+ema": {
        "loss": "non_saturating",
        "gradient_penalty": "r1",
        "ema_decay": 0.999,
    },
    # WGAN-GP with the other arms' Adam(1e-3, beta=(0.5, 0.9)): what 2,000 steps give it.
    "wgan_gp (n_critic 5; other arms' Adam)": {
        "loss": "wasserstein_gp",
        "discriminator_steps": 5,
    },
}


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


def run(problem, recipe, steps, seed=0, lr=1e-3):
    centres, std = PROBLEMS[problem]
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(seed)
    data = sample_mixture(centres, std, steps * 256, rng)
    recipe = dict(recipe)
    lr, beta_1 = recipe.pop("lr", lr), recipe.pop("beta_1", 0.5)
    gan = GAN(mlp(16, 2), mlp(2, 1), seed=seed, **recipe)
    gan.compile(
        generator_optimizer=keras.optimizers.Adam(lr, beta_1=beta_1, beta_2=0.9),
        discriminator_optimizer=keras.optimizers.Adam(lr, beta_1=beta_1, beta_2=0.9),
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
    parser.add_argument("--arms", default=",".join(ARMS), help="comma-separated arm names")
    args = parser.parse_args()
    print(
        f"{args.steps} generator steps, batch 256, Adam lr {args.lr}, {args.seeds} seed(s); backend {keras.config.backend()}"
    )
    print("| problem | recipe | modes recovered (per seed) | high-quality fraction | train s |")
    print("|---|---|---|---|---|")
    for problem in args.problems.split(","):
        total = len(PROBLEMS[problem][0])
        for arm in args.arms.split(","):
            results = [
                run(problem, ARMS[arm], args.steps, seed, args.lr) for seed in range(args.seeds)
            ]
            modes = "/".join(str(r[0]) for r in results)
            quality = np.mean([r[1] for r in results])
            seconds = np.mean([r[2] for r in results])
            print(
                f"| {problem} | {arm} | {modes} of {total} | {quality:.2f} | {seconds:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
