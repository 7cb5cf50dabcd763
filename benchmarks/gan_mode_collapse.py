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
  are the reference; printed again with the classifier's features in place of
  the pixels (threshold: the same percentile of held-out feature distances),
  where quality and diversity are less entangled;
* FID under the project's digits classifier (a small CNN trained here on the
  training split; its penultimate layer is the feature map), against the
  real *training* digits (the distribution the models were fit to). Every
  row is scored on sets of the same size as the held-out split (180 images;
  FID is biased upwards at small n, so sizes must match), the mean of 10
  random subsets of the 4,000 samples; the held-out real digits, which no
  model saw, are the floor: a generator of the true distribution would score
  about that, and one below it is copying its training set;
* modes: `metrics.mode_coverage` of the classifier's labels (10 = all digits).

A conditional GAN (projection discriminator, widest setting) and a
label-conditional VAE (`models.ConditionalVAE`: MLP recognition, prior and
decoder, condition = one-hot digit, Bernoulli decoder means as the samples,
same epochs and batch size) are added as rows. Writes
`docs/images/gan_mode_collapse.png` (support vs discriminator size, in pixels
and in features) and sample grids (`dcgan_samples_d{width}.png`;
`cgan_samples.png`, `cvae_samples.png`, one digit per column).

Run: python benchmarks/gan_mode_collapse.py [--epochs 40] [--widths 4,8,16,32] [--images '']
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications import DCGAN, save_image_grid  # noqa: E402
from keras_dlss.applications.digit_completion import build_completion_cvae  # noqa: E402
from keras_dlss.applications.gan_tasks import DCGANTask  # noqa: E402
from keras_dlss.metrics import (  # noqa: E402
    birthday_paradox_support,
    feature_statistics,
    frechet_distance,
    mode_coverage,
)

SAMPLES, BATCH_S, FID_DRAWS = 4000, 50, 10
FEATURE_SUPPORT = []  # (row name, birthday result in the classifier's feature space)


def classifier(x, y):
    keras.utils.set_random_seed(0)  # FID values compare across runs only under one classifier
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


def train_cvae(data, epochs):
    """Label-conditional VAE: x = one-hot digit, y = the 256 pixels in [0, 1]."""
    keras.utils.set_random_seed(0)
    cvae = build_completion_cvae(10, 256, latent_dim=16, units=256, kl_warmup_steps=500, seed=0)
    cvae.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=True)
    x, y = data.train
    start = time.perf_counter()
    cvae.fit(
        np.eye(10, dtype="float32")[y],
        (x.reshape(len(x), -1) + 1) / 2,
        epochs=epochs,
        batch_size=64,
        verbose=0,
    )
    seconds = time.perf_counter() - start
    return cvae, cvae.count_params(), seconds


def cvae_samples(cvae, labels, seed):
    means = np.asarray(cvae.sample(np.eye(10, dtype="float32")[labels], 1, seed=seed))[0]
    return means.reshape(-1, 16, 16, 1) * 2 - 1  # the GANs' [-1, 1] range


def matched_fid(reference_stats, feats, n, seed=0):
    """Mean and sd of FID over `FID_DRAWS` random subsets of `n` samples (n <= len(samples))."""
    rng = np.random.default_rng(seed)
    draws = [
        frechet_distance(
            *reference_stats,
            *feature_statistics(feats[rng.choice(len(feats), n, replace=False)]),
        )
        for _ in range(FID_DRAWS if n < len(feats) else 1)
    ]
    return float(np.mean(draws)), float(np.std(draws))


def row(name, samples, reference_stats, n, clf, features, thresholds):
    pixel_threshold, feature_threshold = thresholds
    support = birthday_paradox_support(samples, pixel_threshold, batch_size=BATCH_S)
    coverage = mode_coverage(clf.predict(samples, verbose=0, batch_size=512), 10)
    feats = features.predict(samples, verbose=0, batch_size=512)
    distance = matched_fid(reference_stats, feats, n)
    FEATURE_SUPPORT.append(
        (name, birthday_paradox_support(feats, feature_threshold, batch_size=BATCH_S))
    )
    return name, support, coverage, distance


def fid_cell(distance):
    mean, sd = distance
    return f"{mean:.2f} ± {sd:.2f}" if sd else f"{mean:.2f}"


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
    feature_threshold = threshold_from_real(
        features.predict(x_test, verbose=0, batch_size=512), args.percentile
    )
    reference = feature_statistics(features.predict(x_train, verbose=0, batch_size=512))
    n = len(x_test)
    print(
        f"digits 16x16 in [-1, 1]: {len(x_train)} train / {n} held out; "
        f"{args.epochs} epochs (batch 64); duplicate threshold {threshold:.2f} (L2, pixels); "
        f"FID vs the training digits on {n}-image sets (mean ± sd of {FID_DRAWS} draws); "
        f"backend {keras.config.backend()}"
    )
    print(
        "| model | D width | D params | support estimate (s=50) | collision p | FID | modes | KL | train s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")

    def emit(name, width, params, result, seconds, support_cells=None):
        _, support, cov, distance = result
        # At p = 1 the estimate is only an upper bound (every batch held a duplicate).
        bound = "≤ " if support["collision_probability"] == 1.0 else ""
        support_cells = support_cells or (
            f"{bound}{support['support']:.0f} | {support['collision_probability']:.2f}"
        )
        print(
            f"| {name} | {width} | {params} | {support_cells} | {fid_cell(distance)} | {cov['modes']} | "
            f"{cov['kl_from_uniform']:.3f} | {seconds} |",
            flush=True,
        )

    args_row = (reference, n, clf, features, (threshold, feature_threshold))
    real_row = row("real training digits", x_train, *args_row)
    floor_support = real_row[1]
    emit("real training digits (reference)", "-", "-", real_row, "-")
    # 180 images are only 3 birthday batches of 50: too few for a support estimate.
    held_out = row("held-out real digits", x_test, *args_row)
    emit("held-out real digits (floor)", "-", "-", held_out, "-", "- | -")
    widths, supports = [], []
    for width in [int(w) for w in args.widths.split(",")]:
        samples, d_params, seconds, gan = train(data, width, args.epochs)
        if args.images:
            save_image_grid(
                samples[:64], f"{args.images}/dcgan_samples_d{width}.png", nrow=8, scale=2
            )
        result = row(f"DCGAN, D width {width}", samples, *args_row)
        widths.append(d_params)
        supports.append(result[1]["support"])
        emit("DCGAN", width, d_params, result, f"{seconds:.0f}")
    width = max(int(w) for w in args.widths.split(","))
    samples, d_params, seconds, cgan = train(data, width, args.epochs, conditional=True)
    if args.images:
        grid = cgan.sample(80, labels=np.tile(np.arange(10), 8), seed=2)
        save_image_grid(grid, f"{args.images}/cgan_samples.png", nrow=10, scale=2)
    emit(
        "cGAN (projection)",
        width,
        d_params,
        row("cGAN (projection)", samples, *args_row),
        f"{seconds:.0f}",
    )
    cvae, params, seconds = train_cvae(data, args.epochs)
    labels = np.random.default_rng(1).integers(0, 10, SAMPLES)
    samples = cvae_samples(cvae, labels, seed=1)
    if args.images:
        grid = cvae_samples(cvae, np.tile(np.arange(10), 8), seed=2)
        save_image_grid(grid, f"{args.images}/cvae_samples.png", nrow=10, scale=2)
    result = row("conditional VAE", samples, *args_row)
    emit("conditional VAE (MLP, decoder means)", "-", f"{params} (all)", result, f"{seconds:.0f}")
    print(
        f"\nbirthday-paradox support in the classifier's 64-d feature space (s=50; threshold "
        f"{feature_threshold:.2f}, the {args.percentile} percentile of held-out pairs):"
    )
    print("| samples | support estimate | collision p | pair-count estimate |")
    print("|---|---|---|---|")
    for name, result in FEATURE_SUPPORT:
        bound = "≤ " if result["collision_probability"] == 1.0 else ""
        print(
            f"| {name} | {bound}{result['support']:.0f} | "
            f"{result['collision_probability']:.2f} | {result['support_pairs']:.0f} |"
        )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(4.5, 3.2))

        def finite(values):
            return [v if np.isfinite(v) else np.nan for v in values]

        feature = dict(FEATURE_SUPPORT)
        feature_dcgan = [r["support"] for name, r in FEATURE_SUPPORT if name.startswith("DCGAN")]
        ax.loglog(widths, finite(supports), "o-", c="C0", label="DCGAN, pixels")
        ax.loglog(widths, finite(feature_dcgan), "s-", c="C1", label="DCGAN, features")
        ax.axhline(floor_support["support"], ls="--", c="C0", label="real digits, pixels")
        ax.axhline(
            feature["real training digits"]["support"], ls=":", c="C1", label="real, features"
        )
        ax.set_xlabel("discriminator parameters")
        ax.set_ylabel("birthday-paradox support")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=80)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
