"""Linear-probe accuracy of a CPC encoder vs a random encoder vs a supervised one (issue #14).

Digits (8x8) are read as sequences of 8 rows. The same architecture (per-row MLP + GRU) is
(a) trained with contrastive predictive coding (no labels), (b) left at its random
initialization, (c) trained end to end with labels through a softmax head. A logistic
regression on each one's frozen last context (`training.linear_probe`) is then scored on
held-out digits; raw pixels are the baseline.

    python benchmarks/cpc_probe.py [--epochs 40]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications.digit_rows_cpc import build_row_cpc, load_digit_rows  # noqa: E402
from keras_dlss.training import linear_probe  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    data = load_digit_rows(seed=0)
    (x, y), (tx, ty) = data.train, data.test
    rows = {}

    keras.utils.set_random_seed(0)
    cpc = build_row_cpc(prediction_steps=3)
    cpc.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=True)
    start = time.perf_counter()
    history = cpc.fit(x, epochs=args.epochs, batch_size=64, verbose=0).history
    rows["CPC (no labels)"] = (cpc.representation, time.perf_counter() - start)

    keras.utils.set_random_seed(0)
    random = build_row_cpc(prediction_steps=3)
    rows["random encoder (untrained)"] = (random.representation, 0.0)

    keras.utils.set_random_seed(0)
    supervised = build_row_cpc(prediction_steps=3)
    inputs = keras.Input((8, 8))
    head = keras.layers.Dense(10)(supervised(inputs)[:, -1])
    classifier = keras.Model(inputs, head)
    classifier.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    start = time.perf_counter()
    classifier.fit(x, y, epochs=args.epochs, batch_size=64, verbose=0)
    rows["supervised (same network, labels)"] = (
        supervised.representation,
        time.perf_counter() - start,
    )
    rows["raw pixels"] = (lambda batch: keras.ops.reshape(batch, (-1, 64)), 0.0)

    print(f"train {len(x)}, test {len(tx)} digits; {args.epochs} epochs each")
    print(
        f"CPC final loss {history['loss'][-1]:.3f} (chance log 64 = {np.log(64):.3f}), "
        f"contrastive accuracy {history['accuracy'][-1]:.3f} (chance 1/64)"
    )
    print("| representation | probe train accuracy | probe test accuracy | feature dim | train s |")
    print("|---|---|---|---|---|")
    for name, (encoder, seconds) in rows.items():
        r = linear_probe(encoder, (x, y), (tx, ty), epochs=300)
        print(
            f"| {name} | {r['train_accuracy']:.3f} | {r['test_accuracy']:.3f} "
            f"| {r['feature_dim']} | {seconds:.0f} |"
        )


if __name__ == "__main__":
    main()
