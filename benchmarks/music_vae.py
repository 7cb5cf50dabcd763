"""MusicVAE: flat vs hierarchical decoder, reconstruction accuracy on held-out 2-bar melodies.

Both arms train the same encoder, latent size and decoder width on the same
windows of the embedded Bach chorales (top voice, 130 classes per 16th note,
`keras-dlss train music-vae`'s data), with β and free bits as in the paper,
and report on held-out pieces (Roberts et al. 2018, Table 1):

* teacher-forced accuracy: the argmax of each step given the true previous
  events, at the posterior mean;
* sampled accuracy: greedy autoregressive decoding from the posterior mean
  (no access to the true events): how much of the melody z carries;
* the KL of q(z | x) from the prior (nats) and prior samples' share of
  NO_EVENT steps (a sanity check that samples are melodies, not silence).

Run: python benchmarks/music_vae.py [--pieces 64] [--epochs 25] [--units 128] [--lr 3e-3]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_dlss.applications.music_vae import MusicVAE, reconstruction_accuracy  # noqa: E402
from keras_dlss.applications.music_vae_data import NO_EVENT, load_melody_data  # noqa: E402


def run(decoder, data, args):
    keras.utils.set_random_seed(0)
    x_train, x_val, x_test = data.train[0], data.validation[0], data.test[0]
    model = MusicVAE(
        decoder=decoder,
        latent_dim=args.latent_dim,
        encoder_units=args.units,
        decoder_units=args.units,
        conductor_units=args.units // 2,
        seed=0,
    )
    model.compile(optimizer=keras.optimizers.Adam(args.lr), jit_compile=args.xla)
    start = time.perf_counter()
    model.fit(
        x_train,
        validation_data=(x_val,),
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(patience=5, restore_best_weights=True)],
    )
    seconds = time.perf_counter() - start
    forced, sampled = reconstruction_accuracy(model, x_test)
    logs = model.evaluate(x_test, verbose=0, return_dict=True)
    samples = model.sample(64, temperature=1.0, seed=0)
    return {
        "params": model.count_params(),
        "forced": forced,
        "sampled": sampled,
        "nll": logs["reconstruction_loss"],
        "kl": logs["kl"],
        "no_event": float(np.mean(samples == NO_EVENT)),
        "seconds": seconds,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pieces", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--units", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--transpose", action="store_true", help="train on 5 transpositions")
    parser.add_argument("--xla", action="store_true")
    args = parser.parse_args()
    shifts = (-2, -1, 0, 1, 2) if args.transpose else (0,)
    data = load_melody_data(args.pieces, transpositions=shifts)
    print(
        f"{args.pieces} chorales: {len(data.train[0])} train / {len(data.validation[0])} val / "
        f"{len(data.test[0])} test 2-bar windows; units {args.units}, latent {args.latent_dim}, "
        f"<= {args.epochs} epochs (early stopping on val loss), batch {args.batch_size}, "
        f"Adam({args.lr}), jit_compile={args.xla}, "
        f"backend {keras.config.backend()}"
    )
    real_no_event = float(np.mean(data.test[0] == NO_EVENT))
    print(f"(always predicting NO_EVENT scores {real_no_event:.3f} on the test windows)")
    print(
        "| decoder | params | teacher-forced acc | sampled acc | -log p(x given z) | KL (nats) "
        "| NO_EVENT share in prior samples | train s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for decoder in ("flat", "hierarchical"):
        r = run(decoder, data, args)
        print(
            f"| {decoder} | {r['params']:,} | {r['forced']:.3f} | {r['sampled']:.3f} | "
            f"{r['nll']:.1f} | {r['kl']:.1f} | {r['no_event']:.2f} (data {real_no_event:.2f}) | "
            f"{r['seconds']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
