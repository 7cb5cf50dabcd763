"""Distilling a black-box network into a neural additive model, and its shape plots.

Agarwal et al., "Neural Additive Models", NeurIPS 2021
(https://arxiv.org/abs/2004.13912) train NAMs on labels; Tan, Caruana, Hooker
and Lou, "Distill-and-Compare", AIES 2018 (https://arxiv.org/abs/1710.06169)
fit an additive model to a black box's *outputs* to read what it learned. Here
the student is a `layers.NeuralAdditiveModel` and the teacher any Keras model;
the fidelity (agreement of the two on held-out inputs) says how much of the
teacher an additive explanation captures -- a low score means the teacher
relies on feature interactions the shape plots cannot show.

Training uses `keras.distillation.Distiller` with `student_loss_weight=0`
(no labels are needed): `LogitsDistillation` (Hinton et al. 2015, softened by
`temperature`) for classifiers, `FeatureDistillation` (mean squared error on
the final outputs) for regressors. A teacher that outputs probabilities is
wrapped to output their logarithm, which softmax maps back to the same
distribution, so its logits need not be exposed.
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.layers.neural_additive import NeuralAdditiveModel


class _LogProbabilities(keras.Model):
    """`log p(x)` of a teacher with softmax outputs: logits up to a constant."""

    def __init__(self, teacher, **kwargs):
        super().__init__(**kwargs)
        self.teacher = teacher

    def call(self, x, training=False):
        p = keras.tree.flatten(self.teacher(x, training=False))[0]
        return ops.log(ops.maximum(ops.cast(p, "float32"), 1e-12))


def _teacher_outputs(teacher, x, batch_size):
    y = teacher.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(keras.tree.flatten(y)[0], np.float32)


def gam_fidelity(student, teacher, x, *, task="classification", batch_size=256):
    """How well `student` reproduces `teacher` on `x`.

    Returns:
        For `"classification"`, the fraction of inputs on which the two predict
        the same class; for `"regression"`, the R² of the student's outputs
        against the teacher's.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.interpret import gam_fidelity

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.random.rand(8, 3).astype("float32")
    assert gam_fidelity(model, model, x) == 1.0
    ```
    """
    check_one_of("task", task, ("classification", "regression"))
    t = _teacher_outputs(teacher, x, batch_size)
    s = np.asarray(student.predict(x, batch_size=batch_size, verbose=0), np.float32)
    if task == "classification":
        return float(np.mean(t.argmax(-1) == s.argmax(-1)))
    residual = np.sum((t - s) ** 2)
    total = np.sum((t - t.mean(0)) ** 2)
    return float(1.0 - residual / max(total, 1e-12))


def distill_to_gam(
    teacher,
    x,
    *,
    task="classification",
    teacher_outputs="logits",
    x_eval=None,
    hidden_units=(32, 32),
    feature_dropout=0.0,
    temperature=2.0,
    epochs=30,
    batch_size=64,
    learning_rate=0.01,
    seed=0,
    verbose=0,
):
    """Trains a neural additive model to imitate `teacher` on inputs `x`.

    Args:
        teacher: a trained `keras.Model` on `[batch, features]` inputs.
        x: float array `[N, features]`: the inputs to distill on (no labels).
        task: `"classification"` (teacher outputs per-class scores) or
            `"regression"`. Defaults to `"classification"`.
        teacher_outputs: `"logits"` or `"probabilities"` (softmax outputs) for
            classification. Defaults to `"logits"`.
        x_eval: optional held-out inputs for the fidelity score (else `x`).
        hidden_units: hidden sizes of each per-feature MLP. Defaults to `(32, 32)`.
        feature_dropout: float in [0, 1). Defaults to `0.0`.
        temperature: float > 0. Softening of `LogitsDistillation`. Defaults to `2.0`.
        epochs: int >= 1. Defaults to `30`.
        batch_size: int >= 1. Defaults to `64`.
        learning_rate: float > 0 (Adam). Defaults to `0.01`.
        seed: int. Seed of the student's weights and of the shuffling. Defaults to `0`.
        verbose: Keras `fit` verbosity. Defaults to `0`.

    Returns:
        `(student, fidelity)`: a `keras.Model` whose only layer after the input
        is the `NeuralAdditiveModel` (outputs are logits for classification),
        and `gam_fidelity(student, teacher, x_eval)`.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.interpret import distill_to_gam

    x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    student, fidelity = distill_to_gam(teacher, x, hidden_units=(4,), epochs=1)
    ```

    References:
        Agarwal et al., 2021, https://arxiv.org/abs/2004.13912
        Tan et al., 2018, https://arxiv.org/abs/1710.06169
        Hinton, Vinyals & Dean, 2015, https://arxiv.org/abs/1503.02531
    """
    check_one_of("task", task, ("classification", "regression"))
    check_one_of("teacher_outputs", teacher_outputs, ("logits", "probabilities"))
    check_range("temperature", temperature, 0.0, low_inclusive=False)
    check_range("learning_rate", learning_rate, 0.0, low_inclusive=False)
    epochs = check_positive_int("epochs", epochs)
    batch_size = check_positive_int("batch_size", batch_size)
    x = np.asarray(ops.convert_to_numpy(x), np.float32)
    if x.ndim != 2:
        raise ValueError(
            f"Argument `x` must be tabular inputs [N, features]. Received: x.shape={x.shape}"
        )
    outputs = _teacher_outputs(teacher, x[:2], batch_size)
    if outputs.ndim != 2:
        raise ValueError(
            "Argument `teacher` must output [batch, outputs] scores. "
            f"Received: teacher output shape={outputs.shape}"
        )
    keras.utils.set_random_seed(int(seed))
    student = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            NeuralAdditiveModel(
                outputs.shape[1],
                hidden_units=hidden_units,
                feature_dropout=feature_dropout,
                seed=int(seed),
            ),
        ],
        name="neural_additive_student",
    )
    source = teacher
    if task == "classification":
        if teacher_outputs == "probabilities":
            source = _LogProbabilities(teacher, name="teacher_log_probabilities")
            source(x[:1])
        # An explicit KLDivergence instance: the default "kl_divergence" string resolves
        # to the bare function, which LogitsDistillation does not recognise, so it
        # skips the softmax and takes a KL of raw logits (negative, meaningless
        # losses; Keras 3.15.1).
        loss = keras.distillation.LogitsDistillation(
            temperature=float(temperature), loss=keras.losses.KLDivergence()
        )
    else:
        loss = keras.distillation.FeatureDistillation(loss="mse")
    distiller = keras.distillation.Distiller(
        teacher=source, student=student, distillation_losses=loss, student_loss_weight=0.0
    )
    distiller.compile(keras.optimizers.Adam(float(learning_rate)), loss="mse")
    distiller.fit(x, epochs=epochs, batch_size=batch_size, verbose=verbose)
    x_eval = x if x_eval is None else np.asarray(ops.convert_to_numpy(x_eval), np.float32)
    return student, gam_fidelity(student, teacher, x_eval, task=task)


def _find_nam(model):
    if isinstance(model, NeuralAdditiveModel):
        return model
    for layer in getattr(model, "layers", []):
        if isinstance(layer, NeuralAdditiveModel):
            return layer
    raise ValueError(
        "Argument `model` must be a NeuralAdditiveModel layer or a model containing one. "
        f"Received: model={model!r}"
    )


def feature_shapes(model, x, *, points=100, output=0):
    """Each feature's shape function on a grid over the range of `x`.

    The curves are centred (their mean over `x` subtracted, as the NAM paper
    plots them), so they show each feature's effect relative to the average.

    Returns:
        `(grid, shapes)`, both `[points, features]`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import NeuralAdditiveModel
    from keras_dlss.interpret import feature_shapes

    nam = NeuralAdditiveModel(hidden_units=(4,))
    grid, shapes = feature_shapes(nam, np.random.rand(16, 3).astype("float32"), points=5)
    ```
    """
    nam = _find_nam(model)
    x = np.asarray(ops.convert_to_numpy(x), np.float32)
    points = check_positive_int("points", points, minimum=2)
    units = nam.units
    if not isinstance(output, (int, np.integer)) or not 0 <= output < units:
        raise ValueError(
            f"Argument `output` must be an output index in [0, {units}). Received: output={output!r}"
        )
    grid = np.linspace(x.min(0), x.max(0), points).astype("float32")
    on_grid = ops.convert_to_numpy(nam.feature_contributions(ops.convert_to_tensor(grid)))
    on_data = ops.convert_to_numpy(nam.feature_contributions(ops.convert_to_tensor(x)))
    shapes = on_grid[..., output] - on_data[..., output].mean(0)
    return grid, shapes


def plot_feature_shapes(model, x, path, *, feature_names=None, output=0, columns=4, points=100):
    """Writes a PNG with one panel per feature: its shape function and the data density.

    Args:
        model: a `NeuralAdditiveModel` layer, or a model containing one (e.g. the
            student of `distill_to_gam`).
        x: float array `[N, features]`: sets each grid's range and the rug of data.
        path: str. Output `.png` file.
        feature_names: optional list of names, one per feature.
        output: int. Which output unit (class) to plot. Defaults to `0`.
        columns: int. Panels per row. Defaults to `4`.
        points: int >= 2. Grid points per feature. Defaults to `100`.

    Returns:
        `path`.

    Example:

    ```python
    import os, tempfile
    import numpy as np
    from keras_dlss.layers import NeuralAdditiveModel
    from keras_dlss.interpret import plot_feature_shapes

    nam = NeuralAdditiveModel(hidden_units=(4,))
    x = np.random.rand(32, 3).astype("float32")
    nam(x)
    plot_feature_shapes(nam, x, os.path.join(tempfile.mkdtemp(), "shapes.png"))
    ```
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid, shapes = feature_shapes(model, x, points=points, output=output)
    x = np.asarray(ops.convert_to_numpy(x), np.float32)
    n = grid.shape[1]
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(n)]
    if len(names) != n:
        raise ValueError(
            f"Argument `feature_names` must hold {n} names. Received: {len(names)} names"
        )
    cols = max(1, min(int(columns), n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.2 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    low, high = shapes.min(), shapes.max()
    pad = 0.05 * (high - low + 1e-6)
    for i, ax in enumerate(axes.ravel()[:n]):
        ax.plot(grid[:, i], shapes[:, i], color="tab:blue")
        ax.plot(x[:, i], np.full(len(x), low - pad), "|", color="k", alpha=0.2, ms=6)
        ax.set_ylim(low - 2 * pad, high + pad)
        ax.set_title(names[i], fontsize=9)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
