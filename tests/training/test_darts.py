"""DARTSSearch: the second-order step against a finite-difference reference, and the data
routing of the bilevel step checked by effect."""

import json

import keras
import numpy as np
import pytest

from keras_dlss.applications import DARTSNetwork, derive_genotype
from keras_dlss.applications.darts_genotype import check_genotype
from keras_dlss.layers import MixedOperation
from keras_dlss.training import DARTSSearch

F64 = "float64"


def _tiny_network(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((4,), dtype=F64),
            MixedOperation(
                [
                    keras.layers.Dense(3, dtype=F64),
                    keras.layers.Dense(3, activation="tanh", dtype=F64),
                    keras.layers.Dense(3, activation="sigmoid", dtype=F64),
                ],
                alpha_initializer=keras.initializers.RandomNormal(stddev=0.5),
                dtype=F64,
            ),
            keras.layers.Dense(2, activation="softmax", dtype=F64),
        ]
    )


def _data(seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((6, 4)), rng.integers(0, 2, 6)


def _search(order, seed=0, lr=0.1):
    search = DARTSSearch(_tiny_network(seed), order=order, unrolled_learning_rate=0.3)
    search.compile(
        optimizer=keras.optimizers.SGD(lr),
        architecture_optimizer=keras.optimizers.SGD(lr),
        loss=keras.losses.SparseCategoricalCrossentropy(dtype=F64),
        run_eagerly=True,
    )
    return search


@pytest.fixture(scope="module")
def tiny():
    return _search(2)


def _reference_unrolled_gradient(search, train, val, xi, h=1e-5):
    """d/d alpha of L_val(w - xi grad_w L_train(w, alpha), alpha), by central differences."""
    alpha = search.architecture_variables[0]
    net = search.network_variables
    w0 = [np.asarray(v) for v in net]
    a0 = np.asarray(alpha)
    loss = keras.losses.SparseCategoricalCrossentropy(dtype=F64)

    def objective(a):
        alpha.assign(a)
        _, _, grads = search.compute_gradients(search._loss_fn(*train), net)
        for v, w, g in zip(net, w0, grads):
            v.assign(w - xi * np.asarray(g))
        value = float(loss(val[1], search(val[0])))
        for v, w in zip(net, w0):
            v.assign(w)
        return value

    grad = np.zeros_like(a0)
    for i in range(a0.size):
        e = np.zeros_like(a0)
        e[i] = h
        grad[i] = (objective(a0 + e) - objective(a0 - e)) / (2 * h)
    alpha.assign(a0)
    return grad


def test_second_order_gradient_matches_finite_difference_reference(tiny):
    train, val = _data(1), _data(2)
    before = [np.asarray(v).copy() for v in tiny.network_variables]
    _, (grad,) = tiny.architecture_gradients(train, val)
    after = [np.asarray(v) for v in tiny.network_variables]
    for b, a in zip(before, after):  # the virtual step is undone
        np.testing.assert_array_equal(a, b)
    reference = _reference_unrolled_gradient(tiny, train, val, xi=0.3)
    np.testing.assert_allclose(np.asarray(grad), reference, rtol=2e-3, atol=1e-7)
    # ... and differs from the first-order gradient: the Hessian term matters here.
    tiny.order = 1
    _, (first) = tiny.architecture_gradients(train, val)
    tiny.order = 2
    assert np.abs(np.asarray(first[0]) - reference).max() > 1e-4


def _one_step(order, train, val):
    search = _search(order, seed=0, lr=1.0)
    w0 = [np.asarray(v).copy() for v in search.network_variables]
    a0 = np.asarray(search.architecture_variables[0]).copy()
    search.train_on_batch(x=(train[0], val[0]), y=(train[1], val[1]))
    dw = [np.asarray(v) - w for v, w in zip(search.network_variables, w0)]
    return dw, np.asarray(search.architecture_variables[0]) - a0


@pytest.mark.parametrize("order", [1, 2])
def test_weights_never_learn_from_validation_data(order):
    train = _data(1)
    dw_a, da_a = _one_step(order, train, _data(2))
    dw_b, da_b = _one_step(order, train, _data(3))  # only the validation part changes
    for a, b in zip(dw_a, dw_b):
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert np.abs(dw_a[0]).max() > 0 and np.abs(da_a - da_b).max() > 1e-6


def test_first_order_architecture_never_learns_from_training_data():
    val = _data(2)
    dw_a, da_a = _one_step(1, _data(1), val)
    dw_b, da_b = _one_step(1, _data(4), val)  # only the training part changes
    np.testing.assert_allclose(da_a, da_b, atol=1e-12)
    assert np.abs(da_a).max() > 0 and np.abs(dw_a[0] - dw_b[0]).max() > 1e-6


def test_genotype_from_hand_set_alphas():
    net = DARTSNetwork(num_classes=2, input_shape=(8, 8, 3), channels=4, num_cells=3, steps=2)
    normal = np.zeros((5, 8))
    normal[:, 0] = 10.0  # "zero" dominates every edge, yet is never chosen
    normal[0, 4], normal[1, 6] = 3.0, 3.5  # node 0: dil_conv_3x3 <- 1, then sep_conv_3x3 <- 0
    normal[2, 7] = 1.0  # node 1: weak dil_conv_5x5 <- input 0 ...
    normal[4, 3] = 2.0  # ... strongest: skip_connect <- node 0
    normal[3, 1] = 1.5  # second: max_pool_3x3 <- input 1
    reduce = np.zeros((5, 8))
    reduce[0, 2] = reduce[1, 2] = reduce[3, 5] = reduce[4, 5] = 1.0
    net.alphas_normal.assign(normal)
    net.alphas_reduce.assign(reduce)
    genotype = net.derive_genotype()
    assert genotype["normal"] == [
        ["dil_conv_3x3", 1],
        ["sep_conv_3x3", 0],
        ["skip_connect", 2],
        ["max_pool_3x3", 1],
    ]
    assert genotype["reduce"] == [
        ["avg_pool_3x3", 0],
        ["avg_pool_3x3", 1],
        ["sep_conv_5x5", 1],
        ["sep_conv_5x5", 2],
    ]
    assert genotype["normal_concat"] == genotype["reduce_concat"] == [2, 3]
    assert genotype == derive_genotype(normal, reduce)
    # The discrete network has exactly the chosen operations, and survives a .keras round trip.
    child = DARTSNetwork.from_genotype(
        genotype, num_classes=2, input_shape=(8, 8, 3), channels=4, num_cells=3
    )
    assert child.architecture_variables == [] and child.cells[0].genotype == genotype["normal"]
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    config = child.get_config()
    clone = DARTSNetwork.from_config(config)
    clone.set_weights(child.get_weights())
    np.testing.assert_allclose(np.asarray(clone(x)), np.asarray(child(x)), atol=1e-6)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="`order`.*Received: order=3"):
        DARTSSearch(_tiny_network(), order=3)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="`model`.*Received"):
        DARTSSearch(plain)
    with pytest.raises(ValueError, match="`unrolled_learning_rate`.*Received"):
        DARTSSearch(_tiny_network(), unrolled_learning_rate=-1.0)
    search = _search(1)
    x, y = _data(1)
    with pytest.raises(ValueError, match="`data`.*Received"):
        search.train_on_batch(x, y)
    with pytest.raises(ValueError, match="`alphas_normal`.*Received"):
        derive_genotype(np.zeros((4, 8)), np.zeros((5, 8)))
    with pytest.raises(ValueError, match="`genotype`.*Received"):
        check_genotype({"normal": [["zero", 0], ["sep_conv_3x3", 1]], "reduce": []})
    with pytest.raises(ValueError, match="`input_shape`.*Received"):
        DARTSNetwork(input_shape=(32, 32))


_BACKEND_SCRIPT = """
import json, keras, numpy as np
from keras_dlss.layers import MixedOperation
from keras_dlss.training import DARTSSearch
out = {}
for order in (1, 2):
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((4,)), MixedOperation(
        [keras.layers.Dense(3), keras.layers.Dense(3, activation="tanh")],
        alpha_initializer="zeros"), keras.layers.Dense(2, activation="softmax")])
    rng = np.random.default_rng(0)
    net.set_weights([0.5 * rng.standard_normal(w.shape).astype("float32")
                     for w in net.get_weights()])
    search = DARTSSearch(net, order=order, unrolled_learning_rate=0.3)
    search.compile(optimizer=keras.optimizers.SGD(0.1),
                   architecture_optimizer=keras.optimizers.SGD(0.1),
                   loss="sparse_categorical_crossentropy",
                   jit_compile=keras.config.backend() != "torch")
    x, y = rng.standard_normal((16, 4)).astype("float32"), rng.integers(0, 2, 16)
    search.fit(x=(x[:8], x[8:]), y=(y[:8], y[8:]), batch_size=8, epochs=2, verbose=0)
    out[order] = [np.asarray(search.architecture_variables[0]).tolist(),
                  net.get_weights()[-1].tolist()]
print("RESULT" + json.dumps(out))
"""


def _run_backend(backend):
    import os
    import subprocess
    import sys

    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", _BACKEND_SCRIPT], env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    line = [s for s in done.stdout.splitlines() if s.startswith("RESULT")]
    assert line, done.stderr[-2000:]
    return json.loads(line[0][len("RESULT") :])


def test_same_search_on_jax_and_torch_as_on_tensorflow():
    import io
    from contextlib import redirect_stdout

    printed = io.StringIO()
    with redirect_stdout(printed):  # the tests' own backend, in process
        exec(_BACKEND_SCRIPT, {})
    reference = json.loads(printed.getvalue().split("RESULT")[-1])
    for backend in ("jax", "torch"):
        result = _run_backend(backend)
        for order in ("1", "2"):
            for got, want in zip(result[order], reference[order]):
                np.testing.assert_allclose(got, want, atol=2e-5, err_msg=f"{backend} {order}")
