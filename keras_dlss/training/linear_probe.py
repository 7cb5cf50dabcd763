"""Linear-probe evaluation of a representation (van den Oord et al. 2018, Sec. 3).

A self-supervised encoder is judged by how linearly separable its features
make the labels: freeze it, fit a multinomial logistic regression on its
features of the training set, report accuracy on held-out data. The probe
is a single softmax `Dense` layer trained full-batch with Adam on
standardized features, so it runs on every backend and needs no
scikit-learn; the encoder never receives a gradient.

References:
    - van den Oord, Li & Vinyals, "Representation Learning with Contrastive
      Predictive Coding", 2018. https://arxiv.org/abs/1807.03748
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_positive_int, check_range

__all__ = ["linear_probe"]


def _features(encoder, x, batch_size):
    out = []
    for start in range(0, len(x), batch_size):
        f = encoder(ops.convert_to_tensor(x[start : start + batch_size]))
        out.append(
            np.asarray(ops.convert_to_numpy(f), "float32").reshape(
                min(batch_size, len(x) - start), -1
            )
        )
    return np.concatenate(out)


def _check_split(name, split):
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        raise ValueError(
            f"Argument `{name}` must be a pair (x, labels). Received: {name}={split!r}"
        )
    x, y = np.asarray(split[0]), np.asarray(split[1]).reshape(-1)
    if len(x) == 0 or len(x) != len(y):
        raise ValueError(
            f"Argument `{name}` must hold as many labels as examples, at least one. "
            f"Received: {name} with x.shape={x.shape}, labels.shape={y.shape}"
        )
    return x, y.astype("int32")


def linear_probe(
    encoder,
    data,
    test_data=None,
    epochs=300,
    learning_rate=0.01,
    l2=1e-4,
    batch_size=256,
    seed=0,
):
    """Accuracy of a logistic regression on a frozen encoder's features.

    Args:
        encoder: callable `x -> features [N, ...]` (a keras model or layer, a
            model's method such as `cpc.representation`); features are
            flattened per example.
        data: `(x, labels)` to fit the probe on.
        test_data: optional `(x, labels)` to report held-out accuracy on.
        epochs: int. Full-batch Adam steps. Defaults to `300`.
        learning_rate: float > 0. Defaults to `0.01`.
        l2: float >= 0. L2 penalty on the probe's weights. Defaults to `1e-4`.
        batch_size: int. Batch size of the feature extraction. Defaults to `256`.
        seed: int. Initialization seed of the probe.

    Returns:
        dict with `train_accuracy` (and `test_accuracy` with `test_data`),
        `feature_dim` and `num_classes`.

    Example:

    ```python
    x = np.random.normal(size=(64, 5)).astype("float32")
    labels = (x[:, 0] > 0).astype("int32")
    result = linear_probe(keras.layers.Identity(), (x, labels), epochs=50)
    ```
    """
    if not callable(encoder):
        raise ValueError(f"Argument `encoder` must be callable. Received: encoder={encoder!r}")
    x, y = _check_split("data", data)
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    check_range("learning_rate", learning_rate, 0.0, None, low_inclusive=False)
    check_range("l2", l2, 0.0)
    features = _features(encoder, x, batch_size)
    mean, std = features.mean(0), features.std(0) + 1e-6
    num_classes = int(y.max()) + 1
    keras.utils.set_random_seed(seed)
    probe = keras.Sequential(
        [
            keras.Input((features.shape[1],)),
            keras.layers.Dense(
                num_classes, kernel_regularizer=keras.regularizers.L2(l2) if l2 else None
            ),
        ]
    )
    probe.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    standardized = (features - mean) / std
    probe.fit(standardized, y, epochs=epochs, batch_size=len(y), verbose=0)

    def accuracy(feats, labels):
        logits = probe.predict((feats - mean) / std, batch_size=1024, verbose=0)
        return float(np.mean(np.argmax(logits, -1) == labels))

    result = {
        "train_accuracy": accuracy(features, y),
        "feature_dim": int(features.shape[1]),
        "num_classes": num_classes,
    }
    if test_data is not None:
        tx, ty = _check_split("test_data", test_data)
        result["test_accuracy"] = accuracy(_features(encoder, tx, batch_size), ty)
    return result
