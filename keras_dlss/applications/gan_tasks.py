"""CLI recipes `keras-dlss train dcgan|cgan` and `keras-dlss generate dcgan|cgan`.

Both train a 16x16 `DCGAN` on scikit-learn's digits (upsized bilinearly,
scaled to the generator's `[-1, 1]`), with Radford et al.'s Adam(2e-4,
β₁=0.5) for both players and an EMA generator for sampling. 90% of the images
train, 10% are held out (the real-data floor of FID in the benchmarks).
`generate` writes a PNG grid; `--condition K` asks the conditional model for
digit K only.

The CLI's early stopping is dropped: neither player's loss measures sample
quality, and restoring "the best loss" epoch would pick an arbitrary one.
"""

import numpy as np

from keras_dlss.applications.base import Task, TaskData

IMAGE_SIZE = 16
LATENT_DIM = 32


def _load_images(path, seed):
    if path is None:
        from keras_dlss.datasets import digits

        x, y = digits(image_size=IMAGE_SIZE)
        source = "scikit-learn digits, 16x16"
    else:
        if not str(path).endswith(".npz"):
            raise ValueError(
                "Argument `data` must be a .npz file with `x` [n, 16, 16, 1] in [0, 1] and "
                f"`y` int labels. Received: data={path!r}"
            )
        with np.load(path) as f:
            x, y = f["x"].astype("float32"), f["y"].astype("int32")
        source = str(path)
    if len(x) == 0:
        raise ValueError(f"Argument `data` must hold images. Received: x.shape={x.shape}")
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order] * 2.0 - 1.0, y[order]
    split = int(0.9 * len(x))
    info = {
        "source": source,
        "image_size": int(x.shape[1]),
        "latent_dim": LATENT_DIM,
        "num_classes": int(y.max()) + 1,
        "value_range": [-1.0, 1.0],
    }
    return TaskData((x[:split], y[:split]), None, (x[split:], y[split:]), info)


class DCGANTask(Task):
    name = "dcgan"
    summary = "DCGAN on 16x16 digits (generative models: GANs, EMA sampling, PNG sample grids)"
    default_data = "scikit-learn's bundled 8x8 digits upsized to 16x16 (1,797 images; no download)"
    data_license = "CC BY 4.0 (UCI Optical Recognition of Handwritten Digits)"
    default_epochs = 40
    default_batch_size = 64
    conditional = False

    def load_data(self, path=None, seed=0):
        return _load_images(path, seed)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        import keras

        from keras_dlss.applications.dcgan import DCGAN

        hparams = {"base_filters": 32, "ema_decay": 0.999, "loss": "non_saturating", **hparams}
        num_classes = data.info["num_classes"] if self.conditional else None
        model = DCGAN(
            image_size=data.info["image_size"],
            latent_dim=data.info["latent_dim"],
            num_classes=num_classes,
            seed=seed,
            **hparams,
        )
        model.compile(
            generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
            discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
            jit_compile=jit_compile,
        )
        return model

    def _xy(self, split):
        x, y = split
        return (x, y) if self.conditional else (x, None)

    def fit(self, model, data, *, epochs, batch_size, callbacks, verbose=1):
        import keras

        callbacks = [c for c in callbacks if not isinstance(c, keras.callbacks.EarlyStopping)]
        x, y = self._xy(data.train)
        return model.fit(
            x, y, epochs=epochs, batch_size=batch_size, callbacks=callbacks, verbose=verbose
        )

    def evaluate(self, model, data):
        x, y = self._xy(data.test)
        values = model.evaluate(x, y, verbose=0, return_dict=True)
        return {f"test_{k}": float(v) for k, v in values.items()}

    def sample_inputs(self, data, n=8):
        z = np.random.default_rng(0).normal(size=(n, data.info["latent_dim"])).astype("float32")
        if self.conditional:
            # float32: Keras gives a subclassed model's exported signature one dtype (its
            # `input_dtype`) for every input; `ConditionalGAN` casts labels to int32.
            return [z, (np.arange(n) % data.info["num_classes"]).astype("float32")]
        return z

    def _samples(self, model, n, seed, condition=None):
        if not self.conditional:
            if condition is not None:
                raise ValueError(
                    f"Argument `condition` is for conditional models (cgan); {self.name} is "
                    f"unconditional. Received: condition={condition!r}"
                )
            return model.sample(n, seed=seed)
        labels = None
        if condition is not None:
            labels = np.full((n,), int(condition), "int32")
        return model.sample(n, labels=labels, seed=seed)

    def save_artifacts(self, model, data, out_dir):
        import os

        from keras_dlss.applications.image_grid import save_image_grid

        path = os.path.join(out_dir, "samples.png")
        return [
            save_image_grid(
                self._samples(model, 64, seed=0), path, nrow=8, value_range=(-1.0, 1.0), scale=2
            )
        ]

    def generate(self, model, metadata, out, **options):
        from keras_dlss.applications.image_grid import save_image_grid

        n = int(options.get("length") or 64)
        samples = self._samples(model, n, options.get("seed", 0), options.get("condition"))
        nrow = 10 if self.conditional and options.get("condition") is None else None
        return [save_image_grid(samples, out, nrow=nrow, value_range=(-1.0, 1.0), scale=2)]


class ConditionalGANTask(DCGANTask):
    name = "cgan"
    summary = (
        "class-conditional DCGAN on 16x16 digits, projection discriminator "
        "(generate --condition K draws digit K)"
    )
    conditional = True

    def _samples(self, model, n, seed, condition=None):
        if condition is not None:
            num_classes = model.num_classes
            if not 0 <= int(condition) < num_classes:
                raise ValueError(
                    f"Argument `condition` must be a class in [0, {num_classes}). "
                    f"Received: condition={condition!r}"
                )
        return super()._samples(model, n, seed, condition)
