"""Multilayer perceptron classifier (DLSS 2018, "Neural networks I").

A configurable feed-forward classifier for studying the curriculum's first
lecture: depth and width, saturating vs rectifying activations, initialization,
dropout (Srivastava et al., 2014), batch / group / layer normalization
(Ioffe & Szegedy, 2015; Wu & He, 2018; Ba et al., 2016) and the classic
optimizers with learning-rate decay. Everything is Keras core, composed.
"""

import keras
import numpy as np

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.preset_compile import PresetCompile

ACTIVATIONS = ("sigmoid", "tanh", "relu")
NORMALIZATIONS = ("none", "batch", "group", "layer")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
DECAYS = ("none", "exponential", "inverse_time", "cosine")


def make_optimizer(name, learning_rate=1e-3, decay="none", decay_steps=1000, decay_rate=0.5):
    """Builds a Keras optimizer from a preset name and a learning-rate decay.

    Args:
        name: str. One of "sgd", "momentum" (SGD, momentum 0.9), "nesterov",
            "adagrad", "rmsprop", "adam".
        learning_rate: float. Initial learning rate, > 0.
        decay: str. "none", "exponential", "inverse_time" or "cosine".
        decay_steps: int. Steps over which the decay applies.
        decay_rate: float. Rate of the exponential / inverse-time decays.

    Returns:
        A `keras.optimizers.Optimizer`.
    """
    check_one_of("optimizer", name, OPTIMIZERS)
    check_one_of("decay", decay, DECAYS)
    check_range("learning_rate", learning_rate, 0.0, None, low_inclusive=False)
    decay_steps = check_positive_int("decay_steps", decay_steps)
    schedules = keras.optimizers.schedules
    lr = {
        "none": lambda: learning_rate,
        "exponential": lambda: schedules.ExponentialDecay(learning_rate, decay_steps, decay_rate),
        "inverse_time": lambda: schedules.InverseTimeDecay(learning_rate, decay_steps, decay_rate),
        "cosine": lambda: schedules.CosineDecay(learning_rate, decay_steps),
    }[decay]()
    factories = {
        "sgd": lambda: keras.optimizers.SGD(lr),
        "momentum": lambda: keras.optimizers.SGD(lr, momentum=0.9),
        "nesterov": lambda: keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: keras.optimizers.Adagrad(lr),
        "rmsprop": lambda: keras.optimizers.RMSprop(lr),
        "adam": lambda: keras.optimizers.Adam(lr),
    }
    return factories[name]()


def _normalization(kind, width, name):
    if kind == "batch":
        return keras.layers.BatchNormalization(name=name)
    if kind == "group":
        groups = next(g for g in (8, 4, 2, 1) if width % g == 0)
        return keras.layers.GroupNormalization(groups=groups, name=name)
    if kind == "layer":
        return keras.layers.LayerNormalization(name=name)
    return None


@keras.saving.register_keras_serializable(package="keras_dlss")
class MLPClassifier(PresetCompile, keras.Model):
    """A multilayer perceptron classifier with the curriculum's knobs.

    Each hidden block is Dense → normalization → activation → Dropout; the head
    is a Dense softmax. `compile()` with no arguments uses the optimizer preset,
    sparse categorical cross-entropy, accuracy, and `jit_compile=True` (Keras'
    `"auto"` means no XLA on CPU).

    Args:
        input_dim: int. Number of input features.
        num_classes: int. Number of classes, >= 2.
        depth: int. Number of hidden layers, >= 0. Defaults to `2`.
        width: int. Units per hidden layer. Defaults to `128`.
        activation: str. "sigmoid", "tanh" or "relu". Defaults to `"relu"`.
        initializer: str. Any Keras initializer name for the kernels.
            Defaults to `"glorot_uniform"`.
        dropout: float in [0, 1). Dropout rate after each hidden layer.
        normalization: str. "none", "batch", "group" or "layer".
        optimizer: str. Preset used by `compile()`: "sgd", "momentum",
            "nesterov", "adagrad", "rmsprop" or "adam". Defaults to `"adam"`.
        learning_rate: float. Defaults to `1e-3`.
        decay: str. Learning-rate decay: "none", "exponential",
            "inverse_time" or "cosine". Defaults to `"none"`.
        decay_steps: int. Defaults to `1000`.
        decay_rate: float. Defaults to `0.5`.

    Returns:
        A `keras.Model` mapping `[batch, input_dim]` floats to class
        probabilities `[batch, num_classes]`.

    Example:

    ```python
    from sklearn.datasets import load_digits
    from keras_dlss.applications import MLPClassifier

    x, y = load_digits(return_X_y=True)
    model = MLPClassifier(input_dim=64, num_classes=10, normalization="batch")
    model.compile()
    model.fit(x / 16.0, y, epochs=20, validation_split=0.1)
    ```

    References:
        Srivastava et al. 2014, "Dropout" (JMLR); Ioffe & Szegedy 2015,
        https://arxiv.org/abs/1502.03167; Wu & He 2018,
        https://arxiv.org/abs/1803.08494; Ba et al. 2016,
        https://arxiv.org/abs/1607.06450.
    """

    def __init__(
        self,
        input_dim,
        num_classes,
        depth=2,
        width=128,
        activation="relu",
        initializer="glorot_uniform",
        dropout=0.0,
        normalization="none",
        optimizer="adam",
        learning_rate=1e-3,
        decay="none",
        decay_steps=1000,
        decay_rate=0.5,
        **kwargs,
    ):
        input_dim = check_positive_int("input_dim", input_dim)
        num_classes = check_positive_int("num_classes", num_classes, minimum=2)
        depth = check_positive_int("depth", depth, minimum=0)
        width = check_positive_int("width", width)
        check_one_of("activation", activation, ACTIVATIONS)
        check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
        check_one_of("normalization", normalization, NORMALIZATIONS)
        check_one_of("optimizer", optimizer, OPTIMIZERS)
        check_one_of("decay", decay, DECAYS)
        check_range("learning_rate", learning_rate, 0.0, None, low_inclusive=False)
        try:
            keras.initializers.get(initializer)
        except ValueError:
            raise ValueError(
                f"Argument `initializer` must name a Keras initializer. Received: initializer={initializer!r}"
            ) from None

        inputs = keras.Input(shape=(input_dim,), name="features")
        x = inputs
        for i in range(depth):
            x = keras.layers.Dense(width, kernel_initializer=initializer, name=f"dense_{i}")(x)
            norm = _normalization(normalization, width, f"norm_{i}")
            if norm is not None:
                x = norm(x)
            x = keras.layers.Activation(activation, name=f"{activation}_{i}")(x)
            if dropout > 0:
                x = keras.layers.Dropout(dropout, name=f"dropout_{i}")(x)
        outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        self.input_dim = input_dim
        self.num_classes = num_classes
        self.depth = depth
        self.width = width
        self.activation = activation
        self.initializer = initializer
        self.dropout = dropout
        self.normalization = normalization
        self.optimizer_preset = optimizer
        self.learning_rate = learning_rate
        self.decay = decay
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate

    def compile(self, optimizer="auto", loss="auto", metrics="auto", jit_compile=True, **kwargs):
        """Compiles with the preset optimizer unless told otherwise (XLA on by default)."""
        self._compile_classifier(
            optimizer,
            loss,
            metrics,
            jit_compile,
            kwargs,
            preset_optimizer=lambda: make_optimizer(
                self.optimizer_preset,
                self.learning_rate,
                self.decay,
                self.decay_steps,
                self.decay_rate,
            ),
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "input_dim": self.input_dim,
            "num_classes": self.num_classes,
            "depth": self.depth,
            "width": self.width,
            "activation": self.activation,
            "initializer": self.initializer,
            "dropout": self.dropout,
            "normalization": self.normalization,
            "optimizer": self.optimizer_preset,
            "learning_rate": self.learning_rate,
            "decay": self.decay,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def load_features(path=None, seed=0, test_fraction=0.2, validation_fraction=0.1):
    """Loads `(x, y)` features and splits them into train / validation / test.

    Args:
        path: None for scikit-learn's bundled 8×8 digits (1,797 images, no
            download), or a `.npz` file with arrays `x` and `y`, or a `.csv`
            file of numeric features whose last column is the integer label.
        seed: int. Seed of the shuffled split.

    Returns:
        A `TaskData`.
    """
    if path is None:
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        x = x / 16.0
        source = "scikit-learn digits (8x8, 1,797 images)"
    else:
        x, y = _read_features(path)
        source = str(path)
    x = np.asarray(x, "float32")
    y = np.asarray(y)
    if x.ndim != 2 or len(x) != len(y) or len(x) < 10:
        raise ValueError(
            f"Argument `data` must hold >= 10 rows of 2-D features x and labels y. Received: x.shape={x.shape}, y.shape={y.shape} from {source}"
        )
    classes, y = np.unique(y, return_inverse=True)
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order].astype("int32")
    n_test = max(1, int(len(x) * test_fraction))
    n_val = max(1, int((len(x) - n_test) * validation_fraction))
    test, val, train = slice(0, n_test), slice(n_test, n_test + n_val), slice(n_test + n_val, None)
    info = {"source": source, "classes": [c.item() for c in classes], "input_dim": int(x.shape[1])}
    return TaskData((x[train], y[train]), (x[val], y[val]), (x[test], y[test]), info)


def _read_features(path):
    path = str(path)
    try:
        if path.endswith(".npz"):
            with np.load(path) as f:
                if "x" not in f or "y" not in f:
                    raise ValueError(
                        f"Argument `data` must be an .npz with arrays 'x' and 'y'. Received: {path} with {sorted(f.files)}"
                    )
                return f["x"].reshape(len(f["x"]), -1), f["y"]
        if path.endswith(".csv"):
            table = np.loadtxt(path, delimiter=",", ndmin=2)
            return table[:, :-1], table[:, -1].astype("int64")
    except OSError as e:
        raise ValueError(
            f"Argument `data` could not be read: {e}. Received: data={path!r}"
        ) from None
    raise ValueError(f"Argument `data` must be a .npz or .csv file. Received: data={path!r}")


class MLPTask(Task):
    name = "mlp"
    summary = (
        "MLPClassifier (neural networks I: depth, activations, dropout, normalization, optimizers)"
    )
    default_data = "scikit-learn's bundled 8x8 digits (1,797 images; no download)"
    data_license = "CC BY 4.0 (UCI Optical Recognition of Handwritten Digits)"
    default_epochs = 60
    default_batch_size = 32
    monitor = "val_loss"
    patience = 10

    def load_data(self, path=None, seed=0):
        return load_features(path, seed)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        hparams = {"depth": 2, "width": 256, "normalization": "batch", "dropout": 0.1, **hparams}
        model = MLPClassifier(data.info["input_dim"], len(data.info["classes"]), **hparams)
        model.compile(jit_compile=jit_compile)
        return model

    def search_space(self, hp):
        return {
            "depth": hp.Int("depth", 1, 3),
            "width": hp.Choice("width", [64, 128, 256]),
            "activation": hp.Choice("activation", list(ACTIVATIONS)),
            "dropout": hp.Float("dropout", 0.0, 0.5, step=0.1),
            "normalization": hp.Choice("normalization", list(NORMALIZATIONS)),
            "optimizer": hp.Choice("optimizer", ["momentum", "rmsprop", "adam"]),
            "learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
        }

    def predict(self, model, inputs, metadata):
        rows = np.array(
            [[float(v) for v in text.replace(",", " ").split()] for text in inputs], "float32"
        )
        if rows.shape[-1] != metadata["input_dim"]:
            raise ValueError(
                f"Argument `inputs` must hold {metadata['input_dim']} numbers per line. Received: {rows.shape[-1]}"
            )
        probs = model.predict(rows, verbose=0)
        classes = metadata["classes"]
        return [f"{classes[int(i)]} (p={p[i]:.3f})" for p, i in zip(probs, probs.argmax(-1))]
