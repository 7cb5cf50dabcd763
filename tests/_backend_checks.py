"""Runs public components under the current KERAS_BACKEND and prints their outputs as JSON.

`tests/test_backends.py` runs this script once per backend, in a fresh
interpreter (the backend is fixed at import), and compares each backend's
numbers with TensorFlow's. Weights are set from NumPy, never drawn from a
backend's random generator, so every backend computes the same function.
"""

import json
import os
import sys

import keras
import numpy as np
from keras import ops

from keras_dlss import autodiff, decoding, layers
from keras_dlss import ops as dlss_ops

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "layers"))
from test_fixed_point import TanhCell  # noqa: E402

RNG = np.random.default_rng(0)
BIO = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def numpy(x):
    return np.asarray(ops.convert_to_numpy(x)).tolist()


def set_numpy_weights(layer, seed):
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(scale=0.3, size=w.shape) for w in layer.get_weights()])


def crf():
    e = RNG.normal(size=(3, 6, 5)).astype("float32")
    A = RNG.normal(size=(5, 5)).astype("float32")
    tags = np.array([[0, 1, 2, 0, 3, 4], [1, 2, 2, 0, 0, 0], [0] * 6], "int32")
    mask = np.arange(6)[None] < np.array([[6], [3], [0]])
    allowed = dlss_ops.allowed_transitions(BIO, "BIO")
    out = {}
    for alg in ("sequential", "parallel"):
        kw = dict(mask=mask, constraints=allowed, algorithm=alg)
        out[f"crf_{alg}_ll"] = numpy(dlss_ops.crf_log_likelihood(e, tags, A, **kw))
        out[f"crf_{alg}_tags"] = numpy(dlss_ops.crf_decode(e, A, **kw)[0])
        out[f"crf_{alg}_marginals"] = numpy(dlss_ops.crf_marginals(e, A, **kw))
        grads = autodiff.grad(
            lambda e, A, kw=kw: ops.sum(dlss_ops.crf_log_likelihood(e, tags, A, **kw)),
            argnums=(0, 1),
        )(ops.convert_to_tensor(e), ops.convert_to_tensor(A))
        out[f"crf_{alg}_grads"] = [numpy(g) for g in grads]
    return out


def crf_training():
    x = RNG.integers(1, 30, size=(64, 8))
    x[:, 6:] = 0
    y = (x % 4) * (x > 0)
    inputs = keras.Input((None,), dtype="int32")
    h = keras.layers.Embedding(30, 16, mask_zero=True)(inputs)
    h = keras.layers.Bidirectional(keras.layers.LSTM(16, return_sequences=True))(h)
    model = layers.CRFModel(inputs, layers.CRF(4)(keras.layers.Dense(4)(h)))
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    history = model.fit(x, y, epochs=15, verbose=0).history["loss"]
    pred = np.asarray(model.predict(x, verbose=0))
    return {"crf_fit_accuracy": float(((pred == y) | (x == 0)).mean()), "crf_fit_loss": history}


def attention():
    memory = RNG.normal(size=(2, 5, 8)).astype("float32")
    query = RNG.normal(size=(2, 8)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1] * 5])
    x = RNG.normal(size=(2, 5, 8)).astype("float32")
    out = {}
    for name, layer, args in (
        ("bahdanau", layers.BahdanauAttention(8, normalize=True), (query, memory, mask)),
        ("luong", layers.LuongAttention("general"), (query, memory, mask)),
        (
            "relative_mha",
            layers.RelativeMultiHeadAttention(num_heads=2, key_dim=4, causal=True),
            (x,),
        ),
        ("encoder_block", layers.TransformerEncoderBlock(num_heads=2, intermediate_dim=16), (x,)),
        ("decoder_block", layers.TransformerDecoderBlock(num_heads=2, intermediate_dim=16), (x,)),
    ):
        layer(*args)  # build
        set_numpy_weights(layer, seed=len(out))
        out[name] = [numpy(t) for t in keras.tree.flatten(layer(*args))]
    out["relative_position_logits"] = numpy(
        dlss_ops.relative_position_logits(
            RNG.normal(size=(2, 2, 5, 4)).astype("float32"),
            RNG.normal(size=(9, 4)).astype("float32"),
        )
    )
    return out


def decoders():
    transitions = np.log(RNG.dirichlet(np.ones(6), size=6)).astype("float32")

    def step_fn(tokens, state):
        return ops.take(ops.convert_to_tensor(transitions), tokens, axis=0), state

    state = np.zeros((2, 1), "float32")
    sequences, scores = decoding.beam_search(step_fn, state, 0, 5, 3, 6, length_penalty=0.6)
    greedy = keras.tree.flatten(decoding.greedy_decode(step_fn, state, 0, 5, 6))[0]
    return {"beam": [numpy(sequences), numpy(scores)], "greedy": numpy(greedy)}


def differential_operators():
    def f(v):
        return ops.sum(ops.sin(v) * v**2)

    x = ops.convert_to_tensor(RNG.normal(size=(3,)).astype("float32"))
    return {
        "hessian": numpy(autodiff.hessian(f, x)),
        "jvp": [numpy(t) for t in autodiff.jvp(lambda v: ops.tanh(v) * v, (x,), (x,))],
    }


def fixed_point():
    x = RNG.normal(size=(4, 3)).astype("float32")
    layer = layers.FixedPointLayer(TanhCell(4), state_shape=(4,), anderson_memory=3)
    model = keras.Sequential([keras.Input((3,)), layer, keras.layers.Dense(1)])
    set_numpy_weights(model, seed=7)
    z = numpy(layer(x))
    before = [w.copy() for w in layer.get_weights()]
    model.compile(keras.optimizers.SGD(0.1), "mse")
    model.fit(x, np.ones((4, 1)), epochs=2, batch_size=4, verbose=0)
    moved = min(float(np.abs(a - b).max()) for a, b in zip(before, layer.get_weights()))
    return {"fixed_point_z": z, "fixed_point_cell_weights_moved": moved}


def main():
    results = {"backend": keras.config.backend()}
    for check in (crf, crf_training, attention, decoders, differential_operators, fixed_point):
        results.update(check())
    print(json.dumps(results))


if __name__ == "__main__":
    main()
