"""Unpaired digit domains, CycleGAN translation between them, and domain adaptation.

Domain A: scikit-learn's digits at 16x16. Domain B: *other* digits (no image
appears in both, so no pair exists) drawn with a thicker pen and inverted,
white strokes turned black on white. A classifier trained on A fails on B;
the curriculum's domain-adaptation recipe (Generative Models II) translates B
into A with a CycleGAN trained without pairs or labels of B, and classifies
the translations. `keras-dlss train cyclegan` trains it and reports the
A-classifier's accuracy on B raw and translated; `keras-dlss generate
cyclegan` writes a PNG grid (rows: B, F(B) in A's style, G(F(B)) back in B).

References:
    - Zhu, Park, Isola & Efros, "Unpaired Image-to-Image Translation using
      Cycle-Consistent Adversarial Networks", ICCV 2017.
      https://arxiv.org/abs/1703.10593
    - Hoffman et al., "CyCADA: Cycle-Consistent Adversarial Domain
      Adaptation", ICML 2018. https://arxiv.org/abs/1711.03213
"""

import keras
import numpy as np

from keras_dlss._validation import check_positive_int
from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.image_grid import save_image_grid
from keras_dlss.models.cycle_gan import CycleGAN

__all__ = [
    "CycleGANTask",
    "build_digit_cycle_gan",
    "domain_b",
    "load_digit_domains",
    "train_domain_classifier",
]


def domain_b(images):
    """The B style of images `[N, H, W, 1]` in [0, 1]: strokes thickened (3x3 max), inverted."""
    images = np.asarray(images, "float32")
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    h, w = images.shape[1:3]
    thick = np.max([padded[:, i : i + h, j : j + w] for i in range(3) for j in range(3)], axis=0)
    return 1.0 - thick


def load_digit_domains(image_size=16, seed=0):
    """Unpaired splits: train/validation/test `(images_a, images_b)`, labels in `info`.

    The digits are shuffled and halved: the first half is domain A, the
    second becomes domain B, so no image has a counterpart in the other
    domain. Labels are kept for evaluation only, in `info["labels"]`.
    """
    from keras_dlss.datasets import digits

    image_size = check_positive_int("image_size", image_size)
    images, labels = digits(image_size)
    order = np.random.default_rng(seed).permutation(len(images))
    half = len(order) // 2
    a_idx, b_idx = order[:half], order[half : 2 * half]
    a, b = images[a_idx], domain_b(images[b_idx])
    la, lb = labels[a_idx], labels[b_idx]
    n_test, n_val = half // 5, half // 10
    cut = [n_test, n_test + n_val]
    (ta, va, tra), (tb, vb, trb) = np.split(a, cut), np.split(b, cut)
    (tla, _, trla), (tlb, _, _) = np.split(la, cut), np.split(lb, cut)
    info = {
        "source": f"scikit-learn digits at {image_size}x{image_size}, halved into domains A and B",
        "image_size": int(image_size),
        "preview_b": np.round(tb[:8, ..., 0], 3).tolist(),
        # Evaluation only (the A-classifier and its accuracy on B); CycleGAN never sees them.
        "labels": {"train_a": trla.tolist(), "test_a": tla.tolist(), "test_b": tlb.tolist()},
    }
    return TaskData((tra, trb), (va, vb), (ta, tb), info)


def _generator(shape, name, units=32, residual=False):
    inputs = keras.Input(shape)
    h = keras.layers.Conv2D(units, 3, padding="same", activation="relu")(inputs)
    h = keras.layers.Conv2D(units, 3, padding="same", activation="relu")(h)
    h = keras.layers.Conv2D(shape[-1], 3, padding="same")(h)
    if residual:
        # Starts near the identity. Not the default: between domains that differ by an
        # inversion, a generator pinned near the identity found "change little, stay
        # invertible" (cycle error 0.02) and never translated (benchmarks/cyclegan_adaptation.py).
        h = keras.layers.Add()([h, (inputs - 0.5) * 4.0])
    return keras.Model(inputs, keras.layers.Activation("sigmoid")(h), name=name)


def _discriminator(shape, name, units=32):
    inputs = keras.Input(shape)
    h = keras.layers.Conv2D(units, 4, strides=2, padding="same")(inputs)
    h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Conv2D(2 * units, 4, strides=2, padding="same")(h)
    h = keras.layers.LeakyReLU(0.2)(h)
    return keras.Model(inputs, keras.layers.Conv2D(1, 3, padding="same")(h), name=name)


def build_digit_cycle_gan(image_size=16, units=32, residual=False, **kwargs):
    """A `CycleGAN` with small convolutional generators and PatchGAN discriminators.

    Args:
        image_size: int. Side of the square greyscale images. Defaults to `16`.
        units: int. Filters of the first layer of every network. Defaults to `32`.
        residual: bool. Generators add their (rescaled) input to their output,
            so they start near the identity (which stalls the translation of
            these digit domains, see docs/generative.md). Defaults to `False`.
        **kwargs: `CycleGAN` arguments (`cycle_weight`, `buffer_size`, `seed`).

    Returns:
        An uncompiled `CycleGAN`.
    """
    shape = (check_positive_int("image_size", image_size),) * 2 + (1,)
    return CycleGAN(
        _generator(shape, "generator_ab", units, residual),
        _generator(shape, "generator_ba", units, residual),
        _discriminator(shape, "discriminator_a", units),
        _discriminator(shape, "discriminator_b", units),
        **kwargs,
    )


def train_domain_classifier(images, labels, epochs=40, seed=0):
    """An MLP digit classifier trained on `images` (the "A-classifier"); returns the model."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input(images.shape[1:]),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    model.fit(images, labels, epochs=epochs, batch_size=64, verbose=0)
    return model


def accuracy(classifier, images, labels):
    logits = classifier.predict(images, batch_size=256, verbose=0)
    return float(np.mean(np.argmax(logits, -1) == labels))


def adaptation_report(cycle_gan, classifier, images_a, labels_a, images_b, labels_b):
    """The A-classifier's accuracy on A, on B raw and on B translated to A; cycle errors."""
    translated = keras.ops.convert_to_numpy(cycle_gan.generator_ba.predict(images_b, verbose=0))
    back_b = cycle_gan.generator_ab.predict(translated, verbose=0)
    back_a = cycle_gan.generator_ba.predict(
        cycle_gan.generator_ab.predict(images_a, verbose=0), verbose=0
    )
    return {
        "accuracy_a": accuracy(classifier, images_a, labels_a),
        "accuracy_b_raw": accuracy(classifier, images_b, labels_b),
        "accuracy_b_translated": accuracy(classifier, translated, labels_b),
        "cycle_error_a": float(np.mean(np.abs(back_a - images_a))),
        "cycle_error_b": float(np.mean(np.abs(back_b - images_b))),
    }


def translation_grid(cycle_gan, images_b, path):
    """PNG grid, one column per image: B, F(B) (translated to A), G(F(B)) (back to B)."""
    translated = cycle_gan.generator_ba.predict(images_b, verbose=0)
    back = cycle_gan.generator_ab.predict(translated, verbose=0)
    rows = np.concatenate([images_b, translated, back])
    return save_image_grid(rows, path, nrow=len(images_b), scale=3)


class CycleGANTask(Task):
    name = "cyclegan"
    summary = (
        "CycleGAN between unpaired digit domains (thick inverted <-> plain), domain adaptation"
    )
    default_data = "scikit-learn's bundled digits at 16x16, halved into two unpaired domains"
    data_license = "CC BY 4.0 (UCI Optical Recognition of Handwritten Digits)"
    default_epochs = 30
    default_batch_size = 32
    monitor = "val_loss"
    patience = 10

    def load_data(self, path=None, seed=0):
        if path is not None:
            raise ValueError(
                "Argument `data` is not supported by `cyclegan`: it trains on the embedded digit "
                f"domains. Received: data={path!r}"
            )
        return load_digit_domains(16, seed)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        keras.utils.set_random_seed(seed)
        # No identity loss: it asks F to leave A-like images unchanged, which fights the
        # inversion F must learn here (translated accuracy 0.000 with it, 0.939 without).
        hparams = {"identity_weight": 0.0, **hparams}
        model = build_digit_cycle_gan(data.info["image_size"], seed=seed, **hparams)
        model.compile(
            generator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
            discriminator_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
            jit_compile=jit_compile,
        )
        return model

    def fit(self, model, data, *, epochs, batch_size, callbacks, verbose=1):
        # Each split is one input, the pair of unpaired domains (no targets).
        return model.fit(
            data.train,
            validation_data=(data.validation,),
            epochs=epochs,
            batch_size=batch_size,
            callbacks=callbacks,
            verbose=verbose,
        )

    def evaluate(self, model, data):
        a, b = data.test
        n = len(a)
        labels = {k: np.asarray(v) for k, v in data.info.get("labels", {}).items()}
        metrics = {"test_cycle_loss": float(keras.ops.convert_to_numpy(model.cycle_loss(a, b)))}
        if labels:
            train_a = data.train[0]
            classifier = train_domain_classifier(train_a, labels["train_a"][: len(train_a)])
            report = adaptation_report(
                model, classifier, a, labels["test_a"][:n], b, labels["test_b"][:n]
            )
            metrics.update({f"test_{k}": v for k, v in report.items()})
        return metrics

    def sample_inputs(self, data, n=8):
        return data.test[0][:n]

    def generate(self, model, metadata, out, **options):
        """Writes a PNG grid of B digits, their translations to A and their cycles back to B."""
        images_b = np.asarray(metadata["preview_b"], "float32")[..., None]
        return [translation_grid(model, images_b, out)]

    def save_artifacts(self, model, data, out_dir):
        import os

        path = os.path.join(out_dir, "translations.png")
        return [translation_grid(model, data.test[1][:8], path)]
