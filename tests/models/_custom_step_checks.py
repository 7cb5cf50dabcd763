"""Trains every model with a custom step under the current KERAS_BACKEND; prints JSON.

`tests/models/test_custom_step_backends.py` runs this script once per backend
in a fresh interpreter. Weights are set from NumPy (never a backend's random
initializer), so deterministic steps must give the same weights everywhere;
steps that draw random numbers (evolution strategies, scheduled sampling,
professor forcing) are compared by effect (the loss falls, the weights move).
"""

import json
import os
import re
import time

import keras
import numpy as np

from keras_dlss import layers, optimizers, training
from keras_dlss.applications.seq2seq import Seq2SeqTranslator

DOC = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "docs", "models.md")


def doc_example():
    """The GAN of docs/models.md (its first ```python fence), run as written."""
    with open(DOC) as f:
        code = re.search(r"```python\n(.*?)```", f.read(), re.S).group(1)
    namespace = {}
    exec(compile(code, DOC, "exec"), namespace)
    return namespace


# torch.compile (jit_compile=True on torch) is experimental in Keras and cannot
# retain a graph for a second backward: PyTorch runs eagerly, its Keras default.
JIT = keras.config.backend() != "torch"


def numpy_weights(model, seed):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.3, size=w.shape) for w in model.get_weights()])


def flat(model):
    return np.concatenate([np.ravel(w) for w in model.get_weights()]).tolist()


def regression(n=16, d=4, k=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x @ rng.normal(size=(d, k)) + 0.1).astype("float32")
    return x, y


def dense_stack(d=4, k=2):
    return keras.Sequential(
        [keras.Input((d,)), keras.layers.Dense(5, activation="tanh"), keras.layers.Dense(k)]
    )


def fit(model, x, y, epochs, batch_size=None):
    n = len(keras.tree.flatten(x)[0])
    batch_size = batch_size or n
    start = time.perf_counter()
    history = model.fit(
        x, y, epochs=epochs, batch_size=batch_size, verbose=0, shuffle=False
    ).history
    return history, epochs * -(-n // batch_size) / (time.perf_counter() - start)


def crf():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 5, 3)).astype("float32")
    y = rng.integers(0, 4, size=(8, 5))
    inputs = keras.Input((5, 3))
    model = layers.CRFModel(inputs, layers.CRF(4)(keras.layers.Dense(4)(inputs)))
    numpy_weights(model, 1)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=JIT)
    history, speed = fit(model, x, y, epochs=3)
    return {
        "crf_loss": history["loss"],
        "crf_weights": flat(model),
        "crf_eval": float(model.evaluate(x, y, verbose=0)),
    }, speed


def sam():
    x, y = regression()
    model = optimizers.SAMModel(dense_stack())
    numpy_weights(model, 2)
    model.compile(
        optimizer=optimizers.SAM(keras.optimizers.SGD(0.1), rho=0.1),
        loss="mse",
        metrics=["mae"],
        jit_compile=JIT,
    )
    history, speed = fit(model, x, y, epochs=3)
    return {
        "sam_loss": history["loss"],
        "sam_mae": history["mae"],
        "sam_weights": flat(model),
    }, speed


def kfac():
    x, y = regression()
    model = optimizers.KFACModel(dense_stack())
    numpy_weights(model, 3)
    model.compile(
        optimizer=optimizers.KFAC(0.05, damping=1e-2, inverse_update_freq=2),
        loss="mse",
        jit_compile=JIT,
    )
    history, speed = fit(model, x, y, epochs=3)
    sampled = optimizers.KFACModel(dense_stack(), fisher="gaussian", seed=1)
    numpy_weights(sampled, 3)
    sampled.compile(optimizer=optimizers.KFAC(0.05, damping=1e-2), loss="mse", jit_compile=JIT)
    gaussian = sampled.fit(x, y, epochs=10, batch_size=16, verbose=0).history["loss"]
    return {
        "kfac_loss": history["loss"],
        "kfac_weights": flat(model),
        "kfac_gaussian_loss": gaussian,
    }, speed


def evolution_strategies():
    x, y = regression()
    model = training.EvolutionStrategiesModel(dense_stack(), population_size=20, sigma=0.05, seed=0)
    numpy_weights(model, 4)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", jit_compile=JIT)
    history, speed = fit(model, x, y, epochs=15)
    return {"es_loss": history["loss"]}, speed


def batch_norm():
    # Moving statistics (non-trainable updates made inside the gradient pass).
    x, y = regression()
    inner = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2),
        ]
    )
    model = optimizers.SAMModel(inner)
    numpy_weights(model, 5)
    model.compile(optimizer=optimizers.SAM(keras.optimizers.SGD(0.05)), loss="mse", jit_compile=JIT)
    fit(model, x, y, epochs=2, batch_size=8)
    bn = inner.layers[1]
    return {
        "bn_moving": np.concatenate(
            [np.ravel(bn.moving_mean.numpy()), np.ravel(bn.moving_variance.numpy())]
        ).tolist(),
        "bn_weights": flat(model),
    }


def seq2seq(regime):
    rng = np.random.default_rng(6)
    source = rng.integers(1, 12, size=(8, 6)).astype("int32")
    target = rng.integers(3, 9, size=(8, 5)).astype("int32")
    model = Seq2SeqTranslator(
        12,
        9,
        embedding_dim=8,
        units=8,
        regime=regime,
        max_output_length=5,
        discriminator_units=4,
        seed=0,
    )
    model.build({"source": (None, 6), "target": (None, 5)})
    numpy_weights(model, 7)
    # SGD, not Adam: Adam turns float-noise-sized gradients into full-size steps,
    # so backends that agree to 1e-7 would diverge visibly after a few steps.
    model.compile(
        optimizer=keras.optimizers.SGD(0.5),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=JIT,
    )
    before = flat(model)
    history, speed = fit(model, (source, target), target, epochs=8)
    out = {f"{regime}_loss": history["loss"]}
    if regime == "teacher_forcing":
        out["teacher_forcing_weights"] = flat(model)
    if regime == "professor_forcing":
        disc = [w.numpy() for w in model.discriminator.trainable_weights]
        out["pf_moved"] = float(np.abs(np.array(flat(model)) - np.array(before)).max())
        out["pf_disc_accuracy"] = history["discriminator_accuracy"]
        out["pf_disc_norm"] = float(sum(np.abs(d).sum() for d in disc))
    return out, speed


def gan():
    rng = np.random.default_rng(8)
    real = (rng.normal(size=(64, 2)) * 0.3 + 2.0).astype("float32")
    model = doc_example()["GAN"](latent_dim=3, seed=0)
    model.compile(
        generator_optimizer=keras.optimizers.Adam(0.01),
        discriminator_optimizer=keras.optimizers.Adam(0.01),
        jit_compile=JIT,
    )
    history, speed = fit(model, real, None, epochs=30, batch_size=32)
    fake = model.generator.predict(rng.normal(size=(256, 3)).astype("float32"), verbose=0)
    return {
        "gan_d_loss": history["d_loss"],
        "gan_g_loss": history["g_loss"],
        "gan_fake_mean": fake.mean(0).tolist(),
    }, speed


def main():
    results = {"backend": keras.config.backend(), "jit": JIT, "steps_per_s": {}}
    for name, check in (
        ("crf", crf),
        ("sam", sam),
        ("kfac", kfac),
        ("evolution_strategies", evolution_strategies),
        ("teacher_forcing", lambda: seq2seq("teacher_forcing")),
        ("scheduled_sampling", lambda: seq2seq("scheduled_sampling")),
        ("professor_forcing", lambda: seq2seq("professor_forcing")),
        ("gan", gan),
    ):
        out, speed = check()
        results.update(out)
        results["steps_per_s"][name] = speed
    results.update(batch_norm())
    print(json.dumps(results))


if __name__ == "__main__":
    main()
