"""Every interpretability and adversarial method on the current backend (run as a script
by tests/interpret/test_interpret_backends.py under JAX; imported there under TensorFlow).

Weights and inputs are fixed NumPy arrays, so both runs see the same model.
"""

import json

import keras
import numpy as np

from keras_dlss import adversarial, interpret, metrics


def _models():
    rng = np.random.default_rng(0)
    mlp = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation="tanh", name="h"),
            keras.layers.Dense(3),
        ]
    )
    mlp.set_weights(
        [
            w.astype("float32")
            for w in (
                rng.normal(size=(6, 8)),
                rng.normal(size=8),
                2 * rng.normal(size=(8, 3)),
                rng.normal(size=3),
            )
        ]
    )
    cnn = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(2, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )
    cnn.set_weights(
        [
            w.astype("float32")
            for w in (
                rng.normal(size=(3, 3, 1, 2)),
                np.zeros(2),
                rng.normal(size=(32, 2)),
                np.zeros(2),
            )
        ]
    )
    return (
        mlp,
        cnn,
        rng.uniform(size=(3, 6)).astype("float32"),
        rng.uniform(size=(2, 6, 6, 1)).astype("float32"),
    )


def compute(jit_compile=True, train=True):
    """Every method's output; the in-process TensorFlow reference runs eagerly and skips `fit`."""
    jit = {"jit_compile": jit_compile}
    mlp, cnn, x, img = _models()
    y = np.array([0, 1, 2])
    ig, delta = interpret.integrated_gradients(mlp, x, 1, steps=16, **jit)
    sal = interpret.saliency(mlp, x, y, method="gradient_x_input", **jit)
    cav = interpret.ConceptActivationVector(np.eye(8)[0], "h")
    out = {
        "backend": keras.config.backend(),
        "saliency": sal,
        "smoothgrad": interpret.smoothgrad(mlp, x, 1, num_samples=2, noise_level=0.0, **jit),
        "ig": ig,
        "ig_delta": delta,
        "grad_cam": interpret.grad_cam(cnn, img, 1, "conv", **jit),
        "occlusion": interpret.occlusion(cnn, img, 0, window=(3, 3, 1), strides=(3, 3, 1), **jit),
        "feature_ablation": interpret.feature_ablation(
            mlp, x, 2, feature_mask=np.arange(6) // 2, **jit
        ),
        "deletion": interpret.deletion_insertion_curves(mlp, x, 1, sal, steps=3, **jit)["deletion"],
        "tcav": interpret.tcav_score(mlp, x, 0, cav, **jit),
        "fgsm": adversarial.fgsm(mlp, x, y, 0.1, **jit),
        "pgd": adversarial.pgd(mlp, x, y, 0.1, steps=4, random_start=False, **jit),
        "pgd_l2": adversarial.pgd(mlp, x, y, 0.3, steps=4, norm=2, random_start=False, **jit),
        "cw_l2": adversarial.carlini_wagner_l2(mlp, x, y, steps=10, binary_search_steps=2, **jit)[
            1
        ],
    }
    concept, randoms = x + 1.0, [x * k for k in (0.5, 0.7, 0.9)]
    out["cav_fit"] = interpret.ConceptActivationVector.fit(mlp, "h", concept, randoms[0]).vector
    out["tcav_test"] = interpret.tcav(mlp, x, 0, "h", {"shifted": concept}, randoms)["shifted"][
        "scores"
    ]
    out["loss_landscape"] = interpret.loss_landscape(
        mlp, x, y, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), steps=3
    )["losses"]
    out["randomization"] = interpret.model_randomization_check(mlp, "gradient", x, 0)[
        "spearman_abs"
    ]
    robust = metrics.RobustAccuracy(mlp, 0.3, attack="fgsm", jit_compile=jit_compile)
    robust.update_state(x, y)
    out["robust_accuracy"] = robust.result()
    if not train:
        return _lists(out)
    # Gaussian noise comes from the backend's generator, so only its finiteness is compared.
    out["noise_stability"] = list(metrics.noise_stability(mlp, x, ["h"], num_samples=2).values())
    net = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
    model = adversarial.AdversarialTrainingModel(net, eps=0.1, steps=2, seed=0)
    model.compile(
        "sgd", "sparse_categorical_crossentropy", jit_compile=keras.config.backend() != "torch"
    )
    out["adv_train_loss"] = model.fit(x, y, epochs=1, verbose=0).history["loss"][-1]
    return _lists(out)


def _lists(out):
    return {
        k: v if k == "backend" else np.asarray(keras.ops.convert_to_numpy(v)).tolist()
        for k, v in out.items()
    }


if __name__ == "__main__":
    print(json.dumps(compute()))
