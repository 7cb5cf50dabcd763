"""Digit completion with a conditional VAE: the bottom half of a digit from its top half.

The curriculum's structured-prediction example (Generative Models II): the top
half of a handwritten digit does not determine its bottom half (a top loop
can close into a 9 or open into a 7 or a 4 (or end as a 0). A regressor trained
with squared error predicts the average of the possible bottoms, a blur;
`models.ConditionalVAE` samples one of them. `keras-dlss train cvae` trains it
on scikit-learn's 8x8 digits; `keras-dlss generate cvae` writes a PNG grid of
completions (first column: the real digit; then samples: the real top half
above a sampled bottom half). `benchmarks/cvae_completion.py` measures the
diversity and a classifier's agreement against the deterministic regressor.

References:
    - Sohn, Lee & Yan, "Learning Structured Output Representation using Deep
      Conditional Generative Models", NeurIPS 2015.
"""

import os

import keras
import numpy as np

from keras_dlss._validation import check_positive_int
from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.image_grid import save_image_grid
from keras_dlss.models.vae import ConditionalVAE

__all__ = ["CVAETask", "build_completion_cvae", "join_halves", "split_halves"]


def split_halves(images):
    """`(top, bottom)` flattened halves of square images `[N, H, W(, 1)]`: each `[N, H/2 * W]`."""
    images = np.asarray(images, "float32")
    if images.ndim == 4:
        images = images[..., 0]
    if images.ndim != 3 or images.shape[1] % 2:
        raise ValueError(
            "Argument `images` must have shape [N, H, W] or [N, H, W, 1] with an even H. "
            f"Received: images.shape={images.shape}"
        )
    half = images.shape[1] // 2
    n = len(images)
    return images[:, :half].reshape(n, -1), images[:, half:].reshape(n, -1)


def join_halves(top, bottom, width):
    """Images `[N, H, W, 1]` from flattened halves (the inverse of `split_halves`)."""
    top, bottom = np.asarray(top), np.asarray(bottom)
    n = len(top)
    return np.concatenate([top.reshape(n, -1, width), bottom.reshape(n, -1, width)], 1)[..., None]


def build_completion_cvae(input_dim, output_dim, latent_dim=8, units=128, seed=None, **kwargs):
    """A `ConditionalVAE` with two-layer MLPs for the recognition, prior and decoder networks.

    Args:
        input_dim: int. Size of the condition x (the flattened top half).
        output_dim: int. Size of the target y (the flattened bottom half).
        latent_dim: int. Defaults to `8`.
        units: int. Hidden units per layer. Defaults to `128`.
        seed: int or None.
        **kwargs: `ConditionalVAE` arguments (`kl_warmup_steps`, ...).

    Returns:
        An uncompiled `ConditionalVAE` (Bernoulli likelihood over the pixels).
    """
    input_dim = check_positive_int("input_dim", input_dim)
    output_dim = check_positive_int("output_dim", output_dim)
    x = keras.Input((input_dim,), name="top")
    y = keras.Input((output_dim,), name="bottom")
    z = keras.Input((latent_dim,), name="z")

    def mlp(inputs, out, name):
        h = keras.layers.Concatenate()(inputs) if isinstance(inputs, list) else inputs
        for i in range(2):
            h = keras.layers.Dense(units, activation="relu", name=f"{name}_dense_{i}")(h)
        return keras.layers.Dense(out, name=f"{name}_out")(h)

    recognition = keras.Model([x, y], mlp([x, y], 2 * latent_dim, "q"), name="recognition")
    prior = keras.Model(x, mlp(x, 2 * latent_dim, "p"), name="prior")
    decoder = keras.Model([x, z], mlp([x, z], output_dim, "d"), name="decoder")
    return ConditionalVAE(recognition, prior, decoder, latent_dim=latent_dim, seed=seed, **kwargs)


def load_completion_data(path=None, seed=0):
    """scikit-learn's 8x8 digits (or an `.npz` with `x` images) as (top half, bottom half) splits."""
    if path is None:
        from keras_dlss.datasets import digits

        images, _ = digits(8)
        source = "scikit-learn digits (8x8, 1,797 images)"
    else:
        try:
            with np.load(path) as f:
                images = f["x"].astype("float32")
        except (OSError, KeyError, ValueError) as e:
            raise ValueError(
                f"Argument `data` must be an .npz with images 'x' in [0, 1]. Received: data={path!r} ({e})"
            ) from None
        source = str(path)
    top, bottom = split_halves(images)
    order = np.random.default_rng(seed).permutation(len(top))
    n_test, n_val = len(top) // 5, len(top) // 10
    parts = np.split(order, [n_test, n_test + n_val])
    test, val, train = ((top[p], bottom[p]) for p in parts)
    info = {
        "source": source,
        "width": int(images.shape[2]),
        "input_dim": int(top.shape[1]),
        "output_dim": int(bottom.shape[1]),
        # Eight test digits, so that `generate` shows completions of the same held-out tops.
        "preview_top": np.round(top[parts[0][:8]], 4).tolist(),
        "preview_bottom": np.round(bottom[parts[0][:8]], 4).tolist(),
    }
    return TaskData(train, val, test, info)


def completion_grid(model, top, bottom, width, path, num_samples=7, seed=0):
    """PNG grid: per row, the real digit then `num_samples` completions of its top half."""
    samples = np.asarray(keras.ops.convert_to_numpy(model.sample(top, num_samples, seed=seed)))
    rows = [join_halves(top, bottom, width)]
    rows += [join_halves(top, samples[i], width) for i in range(num_samples)]
    images = np.stack(rows, axis=1).reshape(-1, *rows[0].shape[1:])
    return save_image_grid(images, path, nrow=num_samples + 1, scale=4)


class CVAETask(Task):
    name = "cvae"
    summary = "ConditionalVAE completing the bottom half of a digit from its top half"
    default_data = "scikit-learn's bundled 8x8 digits (1,797 images; no download)"
    data_license = "CC BY 4.0 (UCI Optical Recognition of Handwritten Digits)"
    default_epochs = 60
    default_batch_size = 32
    monitor = "val_loss"
    patience = 10

    def load_data(self, path=None, seed=0):
        return load_completion_data(path, seed)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        hparams = {"latent_dim": 8, "units": 128, "kl_warmup_steps": 500, **hparams}
        model = build_completion_cvae(
            data.info["input_dim"], data.info["output_dim"], seed=seed, **hparams
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
        return model

    def evaluate(self, model, data):
        metrics = super().evaluate(model, data)
        x, y = data.test
        log_likelihood = model.importance_weighted_log_likelihood(x, y, num_samples=8)
        metrics["test_iw_log_likelihood"] = float(np.mean(log_likelihood))
        return metrics

    def generate(self, model, metadata, out, seed=0, **options):
        """Writes a PNG grid of digit completions to `out`."""
        top = np.asarray(metadata["preview_top"], "float32")
        bottom = np.asarray(metadata["preview_bottom"], "float32")
        return [completion_grid(model, top, bottom, metadata["width"], out, seed=seed)]

    def save_artifacts(self, model, data, out_dir):
        top, bottom = data.test[0][:8], data.test[1][:8]
        path = os.path.join(out_dir, "completions.png")
        return [completion_grid(model, top, bottom, data.info["width"], path)]
