"""MultiTaskModel and MultiTaskDataset, checked by effect and against hand-written references."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from scipy import stats

from keras_dlss.training import MultiTaskDataset, MultiTaskModel, task_probabilities

RNG = np.random.default_rng(0)
X = RNG.normal(size=(16, 4)).astype("float32")
Y = {"value": X[:, :1] * 2.0, "kind": (X[:, 1] > 0).astype("int32")}


def make_model(loss_weights=None, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    encoder = keras.Model(inputs, keras.layers.Dense(5, activation="tanh", name="shared")(inputs))
    return MultiTaskModel(
        encoder,
        heads={"value": keras.layers.Dense(1), "kind": keras.layers.Dense(2)},
        losses={
            "value": "mse",
            "kind": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        },
        loss_weights=loss_weights,
        metrics={"kind": ["sparse_categorical_accuracy"]},
    )


def weights_of(layer):
    return [np.array(w) for w in layer.get_weights()]


def reference_step(model, x, targets, weights, lr):
    """One SGD step on `sum_t w_t L_t`, differentiated by a plain GradientTape."""
    import tensorflow as tf

    mse = keras.losses.MeanSquaredError()
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        out = model(x)
        loss = 0.0
        if "value" in targets:
            loss += weights["value"] * mse(targets["value"], out["value"])
        if "kind" in targets:
            loss += weights["kind"] * ce(targets["kind"], out["kind"])
    grads = tape.gradient(
        loss, [v.value for v in variables], unconnected_gradients=tf.UnconnectedGradients.ZERO
    )
    return [np.array(v) - lr * np.array(g) for v, g in zip(variables, grads)]


@pytest.mark.parametrize("jit_compile", [False, True])
def test_summed_loss_step_equals_hand_written_combined_loss(jit_compile):
    weights = {"value": 1.0, "kind": 0.3}
    model = make_model(weights)
    expected = reference_step(model, X, Y, weights, lr=0.1)
    model.compile(optimizer=keras.optimizers.SGD(0.1), jit_compile=jit_compile)
    model.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(model.trainable_variables, expected):
        np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-6)


def test_per_task_batch_with_zero_rows_contributes_nothing():
    model = make_model()
    expected = reference_step(model, X, {"value": Y["value"]}, {"value": 1.0}, lr=0.1)
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    batch = {"value": (X, Y["value"]), "kind": (X[:0], Y["kind"][:0])}
    logs = model.train_on_batch(batch, return_dict=True)
    for got, want in zip(model.trainable_variables, expected):
        np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-6)
    assert logs["kind_loss"] == 0.0 and np.isfinite(logs["value_loss"])


def test_zero_loss_weight_freezes_its_head_but_not_the_encoder():
    model = make_model({"value": 1.0, "kind": 0.0})
    head, shared = weights_of(model.heads["kind"]), weights_of(model.encoder)
    model.compile(optimizer=keras.optimizers.AdamW(0.05, weight_decay=0.1))
    history = model.fit(X, Y, batch_size=4, epochs=2, verbose=0)
    for before, after in zip(head, weights_of(model.heads["kind"])):
        np.testing.assert_array_equal(before, after)  # even weight decay leaves it alone
    assert max(np.abs(b - a).max() for b, a in zip(shared, weights_of(model.encoder))) > 1e-3
    assert {"loss", "value_loss", "kind_loss", "kind_sparse_categorical_accuracy"} <= set(
        history.history
    )


@pytest.mark.parametrize(
    "sampling, temperature, expected",
    [
        ("proportional", None, [0.75, 0.25]),
        ("uniform", None, [0.5, 0.5]),
        ("temperature", 2.0, [np.sqrt(3) / (np.sqrt(3) + 1), 1 / (np.sqrt(3) + 1)]),
    ],
)
def test_task_frequencies_follow_the_sampling_rule(sampling, temperature, expected):
    sources = {"big": (np.zeros((60, 1)), np.zeros(60)), "small": (np.zeros((20, 1)), np.zeros(20))}
    data = MultiTaskDataset(
        sources, batch_size=2, sampling=sampling, temperature=temperature, steps_per_epoch=4000
    )
    np.testing.assert_allclose(list(data.probabilities.values()), expected, rtol=1e-12)
    counts = np.array(list(data.task_counts().values()))
    assert stats.chisquare(counts, 4000 * np.array(expected)).pvalue > 1e-3
    # Each step yields the drawn task's rows and 0 rows for the other.
    drawn = data.tasks[int(data.schedule[0])]
    rows = {t: len(batch[0]) for t, batch in data[0].items()}
    assert rows[drawn] == 2 and sum(rows.values()) == 2


def test_sampling_is_seeded_and_redrawn_each_epoch():
    sources = {"a": (np.zeros((8, 1)), np.zeros(8)), "b": (np.zeros((8, 1)), np.zeros(8))}
    first = MultiTaskDataset(sources, batch_size=1, sampling="uniform", seed=3)
    second = MultiTaskDataset(sources, batch_size=1, sampling="uniform", seed=3)
    np.testing.assert_array_equal(first.schedule, second.schedule)
    epoch0 = first.schedule.copy()
    first.on_epoch_end()
    assert not np.array_equal(epoch0, first.schedule)
    joint = MultiTaskDataset(sources, batch_size=4, sampling=None)
    assert len(joint) == 2 and all(len(b[0]) == 4 for b in joint[0].values())


def test_fit_on_sampled_batches_reports_per_task_losses():
    model = make_model()
    model.compile(optimizer="adam", jit_compile=True)
    data = MultiTaskDataset(
        {"value": (X, Y["value"]), "kind": (X[:8], Y["kind"][:8])}, batch_size=4, seed=0
    )
    history = model.fit(data, epochs=2, verbose=0)
    assert all(np.isfinite(v).all() for v in history.history.values())
    assert {"value_loss", "kind_loss", "kind_sparse_categorical_accuracy"} <= set(history.history)


def test_save_load_and_task_model_export(tmp_path):
    model = make_model({"value": 1.0, "kind": 0.5})
    model.compile(optimizer="adam")
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "multi_task.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.loss_weights == {"value": 1.0, "kind": 0.5}
    before, after = model.predict(X, verbose=0), loaded.predict(X, verbose=0)
    for task in ("value", "kind"):
        np.testing.assert_allclose(before[task], after[task], atol=1e-6)
    config = model.get_config()
    assert MultiTaskModel.from_config(config).get_config()["loss_weights"] == config["loss_weights"]
    task_model = loaded.task_model("kind")
    np.testing.assert_allclose(task_model.predict(X, verbose=0), before["kind"], atol=1e-6)
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        task_model.export(str(tmp_path / "kind"), verbose=False)
        served = tf.saved_model.load(str(tmp_path / "kind"))
        np.testing.assert_allclose(served.serve(X).numpy(), before["kind"], atol=1e-5)


def test_bad_arguments_raise_value_errors():
    model = make_model()
    with pytest.raises(ValueError, match=r"`task`.*Received: task='pos'"):
        model.task_model("pos")
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match=r"`data`.*Received: data='pos'"):
        model.train_on_batch({"pos": (X, Y["kind"])})
    with pytest.raises(ValueError, match=r"`y`.*Received: y='pos'"):
        model.train_on_batch(X, {"pos": Y["kind"]})
    encoder = model.encoder
    heads = {"a": keras.layers.Dense(1), "b": keras.layers.Dense(1)}
    losses = {"a": "mse", "b": "mse"}
    cases = [
        ({"loss_weights": {"a": 1.0}}, r"`loss_weights`.*missing \['b'\].*Received"),
        ({"loss_weights": {"a": 1.0, "b": -1.0}}, r"`loss_weights\['b'\]`.*Received.*-1.0"),
        ({"losses": {"a": "mse", "c": "mse"}}, r"`losses`.*unknown \['c'\].*Received"),
        ({"heads": []}, r"`heads`.*Received"),
        ({"encoder": keras.layers.Dense(2)}, r"`encoder`.*Received"),
    ]
    for change, message in cases:
        kwargs = {"encoder": encoder, "heads": heads, "losses": losses, **change}
        with pytest.raises(ValueError, match=message):
            MultiTaskModel(**kwargs)
    sources = {"a": (X, Y["value"])}
    with pytest.raises(ValueError, match=r"`sampling`.*Received: sampling='round-robin'"):
        MultiTaskDataset(sources, batch_size=4, sampling="round-robin")
    with pytest.raises(ValueError, match=r"`temperature`.*Received: temperature=None"):
        MultiTaskDataset(sources, batch_size=4, sampling="temperature")
    with pytest.raises(ValueError, match=r"`batch_size`.*Received: batch_size=None"):
        MultiTaskDataset(sources)
    with pytest.raises(ValueError, match=r"`sizes\['a'\]`.*Received"):
        task_probabilities({"a": 0, "b": 3})


def test_trains_on_jax_in_a_subprocess():
    code = textwrap.dedent(
        """
        import numpy as np, keras
        from keras_dlss.training import MultiTaskDataset, MultiTaskModel
        x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
        inputs = keras.Input((4,))
        encoder = keras.Model(inputs, keras.layers.Dense(5)(inputs))
        model = MultiTaskModel(encoder, {"a": keras.layers.Dense(1), "b": keras.layers.Dense(1)},
                               {"a": "mse", "b": "mse"}, loss_weights={"a": 1.0, "b": 0.0})
        model.compile(optimizer="adam", jit_compile=True)
        frozen = model.heads["b"].get_weights()
        data = MultiTaskDataset({"a": (x, x[:, :1]), "b": (x, x[:, 1:2])}, batch_size=4)
        history = model.fit(data, epochs=2, verbose=0)
        assert all(np.isfinite(v).all() for v in history.history.values())
        assert all((a == b).all() for a, b in zip(frozen, model.heads["b"].get_weights()))
        print("ok", sorted(history.history))
        """
    )
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ok ['a_loss', 'b_loss', 'loss']" in done.stdout
