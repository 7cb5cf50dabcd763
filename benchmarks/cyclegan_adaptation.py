"""Domain adaptation with CycleGAN on unpaired digit domains (issue #14).

Domain A: digits at 16x16; domain B: other digits, thickened and inverted. Trains a CycleGAN on
unpaired images (no labels of B), an MLP classifier on A, and prints the classifier's accuracy on
held-out A, on B as is, and on B translated to A by F, with the cycle reconstruction errors.

    python benchmarks/cyclegan_adaptation.py [--epochs 15] [--identity-weight 0.0] [--residual]
        [--picture docs/images/cyclegan_translations.png]

`--picture` writes a PNG grid of one held-out test image per digit class, rows top to bottom:
B, F(B) (translated to A), G(F(B)) (back to B), then A, G(A) (translated to B), F(G(A)).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications import save_image_grid  # noqa: E402
from keras_dlss.applications.digit_domains import (  # noqa: E402
    adaptation_report,
    build_digit_cycle_gan,
    load_digit_domains,
    train_domain_classifier,
)


def _one_per_class(images, labels):
    """The first test image of each digit class, in class order (a readable picture row)."""
    return images[[int(np.flatnonzero(labels == c)[0]) for c in np.unique(labels)]]


def save_translation_picture(model, images_a, images_b, path):
    """Rows: B, F(B), G(F(B)), A, G(A), F(G(A)); one column per image."""
    a_from_b = model.generator_ba.predict(images_b, verbose=0)
    b_from_a = model.generator_ab.predict(images_a, verbose=0)
    rows = [
        images_b,
        a_from_b,
        model.generator_ab.predict(a_from_b, verbose=0),
        images_a,
        b_from_a,
        model.generator_ba.predict(b_from_a, verbose=0),
    ]
    rows = [keras.ops.convert_to_numpy(r).reshape(images_b.shape) for r in rows]
    return save_image_grid(np.concatenate(rows), path, nrow=len(images_b), scale=3)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--identity-weight", type=float, default=0.0)
    parser.add_argument(
        "--residual", action="store_true", help="generators with an identity skip (start at F=id)"
    )
    parser.add_argument(
        "--picture", help="write a PNG grid of B->A->B and A->B->A translations to this path"
    )
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    data = load_digit_domains(16, seed=0)
    labels = {k: np.asarray(v) for k, v in data.info["labels"].items()}
    (train_a, train_b), (test_a, test_b) = data.train, data.test
    classifier = train_domain_classifier(train_a, labels["train_a"])
    model = build_digit_cycle_gan(
        16, seed=0, identity_weight=args.identity_weight, residual=args.residual
    )
    model.compile(
        generator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        discriminator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
        jit_compile=True,
    )
    before = adaptation_report(
        model, classifier, test_a, labels["test_a"], test_b, labels["test_b"]
    )
    start = time.perf_counter()
    model.fit((train_a, train_b), epochs=args.epochs, batch_size=32, verbose=0)
    seconds = time.perf_counter() - start
    after = adaptation_report(model, classifier, test_a, labels["test_a"], test_b, labels["test_b"])
    print(
        f"train: {len(train_a)} A and {len(train_b)} B images (unpaired); test: {len(test_a)} each"
    )
    print(
        f"CycleGAN epochs: {args.epochs}, identity_weight {args.identity_weight}, "
        f"{'residual' if args.residual else 'plain'} generators, "
        f"{seconds:.0f} s (jit_compile=True)"
    )
    print("| A-classifier on | accuracy |")
    print("|---|---|")
    print(f"| held-out A | {after['accuracy_a']:.3f} |")
    print(f"| B as is | {after['accuracy_b_raw']:.3f} |")
    print(f"| B translated to A by an untrained F | {before['accuracy_b_translated']:.3f} |")
    print(f"| B translated to A by the trained F | {after['accuracy_b_translated']:.3f} |")
    print(
        f"cycle reconstruction error (mean absolute, pixels in [0, 1]): "
        f"|F(G(a)) - a| = {after['cycle_error_a']:.4f}, |G(F(b)) - b| = {after['cycle_error_b']:.4f}"
    )
    if args.picture:
        path = save_translation_picture(
            model,
            _one_per_class(test_a, labels["test_a"]),
            _one_per_class(test_b, labels["test_b"]),
            args.picture,
        )
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
