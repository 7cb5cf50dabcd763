"""Beam search: keras_dlss.decoding.beam_search vs keras-hub's BeamSampler, same step function.

Both decoders drive the same Keras layers: a Transformer-style position-wise
step (token embedding 256 → Dense 1024 relu → Dense 256 → vocabulary 1,000
logits; the state is the token history the sampler keeps), batch 32, beam 4,
30 new tokens, the end token masked so every run takes all 30 steps. Times are
medians per batch, in graph mode and with `jit_compile=True`.

    pip install "keras-dlss[bench]"   # keras-hub
    .venv/bin/python benchmarks/beam_vs_keras_hub.py [--repeats 20]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_dlss.decoding import beam_search  # noqa: E402

VOCAB, DIM, HIDDEN = 1000, 256, 1024
BATCH, BEAM, STEPS = 32, 4, 30
START, END = 1, VOCAB - 1


def build_step_layers():
    keras.utils.set_random_seed(0)
    layers = [
        keras.layers.Embedding(VOCAB, DIM),
        keras.layers.Dense(HIDDEN, activation="relu"),
        keras.layers.Dense(DIM),
        keras.layers.Dense(VOCAB),
    ]
    x = ops.zeros((1,), "int32")
    for layer in layers:
        x = layer(x)
    return layers


def logits_for(layers, tokens):
    x = tokens
    for layer in layers:
        x = layer(x)
    # Mask the end token so both decoders always run all STEPS steps.
    return ops.where(ops.arange(VOCAB) == END, -1e9, x)


def ours(layers, jit_compile):
    def step(tokens, state):
        return ops.log_softmax(logits_for(layers, tokens), axis=-1), state

    def run():
        return beam_search(step, ops.zeros((BATCH, 1)), START, END, BEAM, STEPS)[0]

    return tf.function(run, jit_compile=jit_compile)


def keras_hub_beam(layers, jit_compile):
    from keras_hub.samplers import BeamSampler

    sampler = BeamSampler(num_beams=BEAM)
    prompt = ops.concatenate(
        [ops.full((BATCH, 1), START, "int32"), ops.zeros((BATCH, STEPS), "int32")], axis=1
    )

    def next_fn(prompt, cache, index):
        tokens = ops.take_along_axis(prompt, ops.full((ops.shape(prompt)[0], 1), index - 1), axis=1)
        return logits_for(layers, tokens[:, 0]), None, cache

    def run():
        return sampler(next=next_fn, prompt=prompt, cache=ops.zeros((BATCH, 1)), index=1)

    return tf.function(run, jit_compile=jit_compile)


def median_ms(fn, repeats):
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.asarray(fn())
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    try:
        import keras_hub  # noqa: F401
    except ImportError:
        print("keras-hub is not installed: pip install keras-hub (the `bench` extra). Skipping.")
        return
    layers = build_step_layers()
    print(f"beam {BEAM}, batch {BATCH}, {STEPS} steps, vocabulary {VOCAB}\n")
    print(f"{'mode':<10}{'keras-hub BeamSampler':>24}{'keras_dlss beam_search':>25}{'speed-up':>10}")
    for jit in (False, True):
        theirs = median_ms(keras_hub_beam(layers, jit), args.repeats)
        mine = median_ms(ours(layers, jit), args.repeats)
        mode = "XLA" if jit else "graph"
        print(f"{mode:<10}{theirs:>21.1f} ms{mine:>22.1f} ms{theirs / mine:>9.2f}x")


if __name__ == "__main__":
    main()
