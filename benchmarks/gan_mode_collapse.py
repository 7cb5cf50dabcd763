"""Mode collapse vs discriminator size on a digits DCGAN: birthday-paradox support, FID, modes.

Arora, Ge, Liang, Ma & Zhang (ICML 2017) show that a discriminator with `p`
parameters cannot tell the data from a generator whose support is only about
`p log p`; Arora & Zhang (2017) measure support with the birthday-paradox test.
Here the 16x16 digits DCGAN of `keras-dlss train dcgan` is trained with
discriminators of growing width (first-layer filters; the generator is fixed)
and, for each, 4,000 samples are tested:

* support: `metrics.birthday_paradox_support` in pixel space with batches of
  50; the duplicate threshold is the 0.1st percentile of distances between
  distinct held-out real digits (two samples closer than almost any two real
  digits are "the same image"); the real training digits under the same test
  are the reference;
* FID under the project's digits classifier (a small CNN trained here on the
  training split; its penultimate layer is the feature map), against the
  held-out real digits, with the real training images as the floor;
* modes: `metrics.mode_coverage` of the classifier's labels (10 = all digits).

A conditional GAN (projection discriminator, widest setting) is added as a
row. Writes `docs/images/gan_mode_collapse.png` (support vs width) and sample
grids (`dcgan_samples_d{width}.png`, `cgan_samples.png`, one digit per column).

Run: python benchmarks/gan_mode_collapse.py [--epochs 40] [--widths 4,8,16,32]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications import DCGAN, save_image_grid  # noqa: E402
from keras_dlss.applications.gan_tasks import DCGANTask  # noqa: E402
from keras_dlss.metrics import birthday_paradox_support, fid, mode_coverage  # noqa: E402

SAMPLES, BATCH_S = 4000, 50


def classifier(x, y):
    model = keras.Sequential(
        [
            keras.Input(x.shape[1:]),
            keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu", name="features"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=True,
    )
    model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    return model, keras.Model(model.inputs, model.get_layer("features").output)


def threshold_from_real(x, percentile):
    flat = x.reshape(len(x), -1)
    d = np.linalg.norm(flat[:, None] - flat[None], axis=-1)
    return float(np.percentile(d[np.triu_indices(len(x), 1)], percentile))


def train(data, width, epochs, conditional=False):
    keras.utils.set_random_seed(0)
    gan = DCGAN(
        image_size=16,
        latent_dim=32,
        base_filters=32,
        discriminator_filters=width,
        num_classes=10 if conditional else None,
        ema_decay=0.999,
        seed=0,
    )
    gan.compile(
        generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
        jit_compile=True,
    )
    x, y = data.train
    start = time.perf_counter()
    gan.fit(x, y if conditional else None, epochs=epochs, batch_size=64, verbose=0)
    seconds = time.perf_counter() - start
    d_params = gan.discriminator.count_params()
    samples = gan.sample(SAMPLES, seed=1)
    return samples, d_params, seconds, gan


def row(name, samples, real_test, clf, features, threshold):
    support = birthday_paradox_support(samples, threshold, batch_size=BATCH_S)
    coverage = mode_coverage(clf.predict(samples, verbose=0, batch_size=512), 10)
    distance = fid(real_test, samples, features)
    return name, support, coverage, distance


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--widths", default="4,8,16,32")
    parser.add_argument("--percentile", type=float, default=0.1)
    parser.add_argument("--images", default="docs/images", help="sample grids ('' for none)")
    parser.add_argument("--plot", default="docs/images/gan_mode_collapse.png")
    args = parser.parse_args()
    data = DCGANTask().load_data(seed=0)
    (x_train, y_train), (x_test, _) = data.train, data.test
    clf, features = classifier(x_train, y_train)
    threshold = threshold_from_real(x_test, args.percentile)
    print(
        f"digits 16x16 in [-1, 1]: {len(x_train)} train / {len(x_test)} held out; "
        f"{args.epochs} epochs (batch 64); duplicate threshold {threshold:.2f} (L2, pixels); "
        f"backend {keras.config.backend()}"
    )
    print(
        "| model | D width | D params | support estimate (s=50) | collision p | FID | modes | KL | train s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    _, floor_support, floor_cov, floor_fid = row("real", x_train, x_test, clf, features, threshold)
    print(
        f"| real training digits (floor) | - | - | {floor_support['support']:.0f} | "
        f"{floor_support['collision_probability']:.2f} | {floor_fid:.2f} | {floor_cov['modes']} | "
        f"{floor_cov['kl_from_uniform']:.3f} | - |"
    )
    widths, supports = [], []
    for width in [int(w) for w in args.widths.split(",")]:
        samples, d_params, seconds, gan = train(data, width, args.epochs)
        if args.images:
            save_image_grid(
                samples[:64], f"{args.images}/dcgan_samples_d{width}.png", nrow=8, scale=2
            )
        _, support, cov, distance = row("dcgan", samples, x_test, clf, features, threshold)
        widths.append(d_params)
        supports.append(support["support"])
        print(
            f"| DCGAN | {width} | {d_params} | {support['support']:.0f} | "
            f"{support['collision_probability']:.2f} | {distance:.2f} | {cov['modes']} | "
            f"{cov['kl_from_uniform']:.3f} | {seconds:.0f} |",
            flush=True,
        )
    width = max(int(w) for w in args.widths.split(","))
    samples, d_params, seconds, cgan = train(data, width, args.epochs, conditional=True)
    if args.images:
        grid = cgan.sample(80, labels=np.tile(np.arange(10), 8), seed=2)
        save_image_grid(grid, f"{args.images}/cgan_samples.png", nrow=10, scale=2)
    _, support, cov, distance = row("cgan", samples, x_test, clf, features, threshold)
    print(
        f"| cGAN (projection) | {width} | {d_params} | {support['support']:.0f} | "
        f"{support['collision_probability']:.2f} | {distance:.2f} | {cov['modes']} | "
        f"{cov['kl_from_uniform']:.3f} | {seconds:.0f} |"
    )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        finite = [s if np.isfinite(s) else np.nan for s in supports]
        ax.loglog(widths, finite, "o-", label="DCGAN samples")
        ax.axhline(floor_support["support"], ls="--", c="grey", label="real digits")
        ax.set_xlabel("discriminator parameters")
        ax.set_ylabel("birthday-paradox support")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=80)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
