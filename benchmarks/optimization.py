"""Side-by-side optimization benchmarks on small problems (issue 7).

Prints one table per comparison:

1. PBT vs random search: best validation loss for the same number of trials
   and training epochs (digits MLP, learning rate and width searched).
2. SAM vs its base optimizer: test accuracy and final epsilon-sharpness.
3. ES vs SGD: training loss per number of loss evaluations (linear regression).
4. K-FAC vs Adam: reconstruction loss per wall-clock second (MLP auto-encoder).
5. Growing batch (constant LR) vs decaying LR (fixed batch): test accuracy and
   number of parameter updates.

Run: `.venv/bin/python benchmarks/optimization.py` (about 3-5 minutes on 2 CPU cores).
"""

import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_dlss.callbacks import BatchSizeScheduler, ScheduledBatchDataset  # noqa: E402
from keras_dlss.metrics import sharpness  # noqa: E402
from keras_dlss.optimizers import KFAC, SAM, KFACModel, SAMModel  # noqa: E402
from keras_dlss.training import EvolutionStrategiesModel  # noqa: E402
from keras_dlss.tuners import get_tuner  # noqa: E402


def table(title, header, rows):
    print(f"\n## {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |")
    sys.stdout.flush()


def digits(seed=0):
    d = load_digits()
    x = (d.data / 16.0).astype("float32")
    y = d.target.astype("int32")
    idx = np.random.default_rng(seed).permutation(len(x))
    x, y = x[idx], y[idx]
    return (x[:1000], y[:1000]), (x[1000:1400], y[1000:1400]), (x[1400:], y[1400:])


def mlp(units=64, seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(units, "relu"), keras.layers.Dense(10, "softmax")]
    )


def pbt_vs_random(train, val):
    def build(hp):
        model = mlp(hp.Int("units", 8, 64, step=8))
        lr = hp.Float("lr", 1e-4, 1.0, sampling="log")
        model.compile(keras.optimizers.SGD(lr, momentum=0.9), "sparse_categorical_crossentropy")
        return model

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, trials, epochs, kwargs in (
            ("random search", 6, 4, {}),
            ("PBT (6 x 4 rounds)", 24, 1, {"population_size": 6, "rounds": 4}),
        ):
            start = time.time()
            tuner = get_tuner(
                "random" if name.startswith("random") else "pbt",
                build,
                objective="val_loss",
                max_trials=trials,
                directory=tmp,
                project_name=name.split()[0],
                seed=3,
                **kwargs,
            )
            tuner.search(*train, validation_data=val, epochs=epochs, batch_size=64, verbose=0)
            best = tuner.oracle.get_best_trials(1)[0]
            rows.append(
                (name, len(tuner.oracle.trials), 6 * 4, best.score, f"{time.time() - start:.0f}")
            )
            if name.startswith("PBT"):
                lrs = [f"{s['values']['lr']:.3g}" for s in tuner.get_schedule()]
                print("PBT winner's lr per round:", " -> ".join(lrs))
    table(
        "PBT vs random search (digits MLP, same total epochs)",
        ["method", "trials", "total epochs", "best val loss", "wall s"],
        rows,
    )


def sam_vs_base(train, test):
    rows = []
    for name in ("Adam", "SAM(Adam, rho=0.05)"):
        inner = mlp(128, seed=1)
        model = inner if name == "Adam" else SAMModel(inner)
        opt = keras.optimizers.Adam(1e-2)
        model.compile(
            optimizer=opt if name == "Adam" else SAM(opt, rho=0.05),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=True,
        )
        model.fit(*train, epochs=30, batch_size=64, verbose=0)
        acc = model.evaluate(*test, verbose=0)[1]
        inner.compile(loss="sparse_categorical_crossentropy")
        sharp = sharpness(inner, *train, epsilon=5e-3, steps=20)
        rows.append((name, 30, acc, sharp))
    table(
        "SAM vs base optimizer (digits MLP, 30 epochs)",
        ["optimizer", "epochs", "test acc", "eps-sharpness %"],
        rows,
    )


def es_vs_sgd():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 10)).astype("float32")
    y = (x @ rng.normal(size=(10, 1))).astype("float32")
    rows = []
    budget = 2000  # loss evaluations on the full batch
    for name, population in (
        ("SGD (1 gradient ~ 1 eval)", None),
        ("ES pop=20 (Adam on the estimate)", 20),
        ("ES pop=50 (Adam on the estimate)", 50),
    ):
        keras.utils.set_random_seed(0)
        inner = keras.Sequential([keras.Input((10,)), keras.layers.Dense(1)])
        if population is None:
            model, steps, opt = inner, budget, keras.optimizers.SGD(0.05)
        else:
            model = EvolutionStrategiesModel(inner, population_size=population, sigma=0.05, seed=0)
            steps, opt = budget // (population + 1), keras.optimizers.Adam(0.05)
        model.compile(optimizer=opt, loss="mse", jit_compile=True)
        start, done, at = time.time(), 0, []
        for fraction in (0.1, 0.5, 1.0):
            # One epoch over the full batch tiled k times = k full-batch updates
            # without Keras' per-epoch overhead.
            k = int(fraction * steps) - done
            model.fit(
                np.tile(x, (k, 1)),
                np.tile(y, (k, 1)),
                batch_size=256,
                epochs=1,
                shuffle=False,
                verbose=0,
            )
            done += k
            at.append(float(model.evaluate(x, y, batch_size=256, verbose=0)))
        rows.append((name, steps, *at, f"{time.time() - start:.1f}"))
    table(
        f"ES vs SGD (linear regression, {budget} loss evaluations)",
        ["method", "updates", "loss @10% evals", "loss @50%", "loss @100%", "wall s"],
        rows,
    )


def kfac_vs_adam():
    rng = np.random.default_rng(0)
    x = np.tanh(rng.normal(size=(1024, 4)) @ rng.normal(size=(4, 32))).astype("float32")
    rows = []
    for name in ("Adam(1e-2)", "K-FAC(0.25, damping=1e-2, gaussian Fisher)"):
        keras.utils.set_random_seed(0)
        inner = keras.Sequential(
            [
                keras.Input((32,)),
                keras.layers.Dense(16, "tanh"),
                keras.layers.Dense(4, "tanh"),
                keras.layers.Dense(16, "tanh"),
                keras.layers.Dense(32),
            ]
        )
        if name.startswith("Adam"):
            model, opt = inner, keras.optimizers.Adam(1e-2)
        else:
            model, opt = (
                KFACModel(inner, fisher="gaussian", seed=0),
                KFAC(0.25, damping=1e-2, momentum=0.9, inverse_update_freq=5),
            )
        model.compile(optimizer=opt, loss="mse", jit_compile=True)
        model.fit(x[:64], x[:64], epochs=1, batch_size=64, verbose=0)  # compile outside the clock
        marks, start = {}, time.time()
        while time.time() - start < 12.0:
            loss = model.fit(x, x, epochs=1, batch_size=64, verbose=0).history["loss"][-1]
            elapsed = time.time() - start
            for t in (3.0, 6.0, 12.0):
                if elapsed <= t:
                    marks[t] = loss
        rows.append((name, *(marks.get(t, float("nan")) for t in (3.0, 6.0, 12.0))))
    table(
        "K-FAC vs Adam (MLP auto-encoder 32-16-4-16-32, loss after wall-clock seconds)",
        ["optimizer", "loss @3 s", "loss @6 s", "loss @12 s"],
        rows,
    )


def growing_batch_vs_decay(train, test):
    rows = []
    epochs, milestones = 30, (10, 20)
    for name in ("decaying LR, batch 32", "constant LR, growing batch"):
        model = mlp(64, seed=2)
        if name.startswith("decaying"):
            steps = int(np.ceil(len(train[0]) / 32))
            lr = keras.optimizers.schedules.PiecewiseConstantDecay(
                [m * steps for m in milestones], [0.05, 0.01, 0.002]
            )
            model.compile(
                keras.optimizers.SGD(lr, momentum=0.9),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
            model.fit(*train, epochs=epochs, batch_size=32, verbose=0)
            updates = int(model.optimizer.iterations.numpy())
        else:
            data = ScheduledBatchDataset(*train, batch_size=32, seed=0)
            sched = BatchSizeScheduler(data, milestones={milestones[0]: 160, milestones[1]: 800})
            model.compile(
                keras.optimizers.SGD(0.05, momentum=0.9),
                loss="sparse_categorical_crossentropy",
                metrics=["accuracy"],
            )
            model.fit(data, epochs=epochs, callbacks=[sched], verbose=0)
            updates = sched.updates
        rows.append((name, epochs, model.evaluate(*test, verbose=0)[1], updates))
    table(
        "Growing batch vs decaying LR (digits MLP, SGD momentum 0.9, factor 5 at epochs 10 and 20)",
        ["schedule", "epochs", "test acc", "parameter updates"],
        rows,
    )


def main():
    start = time.time()
    train, val, test = digits()
    print(f"keras {keras.__version__}, backend {keras.config.backend()}")
    pbt_vs_random(train, val)
    sam_vs_base(train, test)
    es_vs_sgd()
    kfac_vs_adam()
    growing_batch_vs_decay(train, test)
    print(f"\ntotal {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
