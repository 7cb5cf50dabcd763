"""The compiled loss of a model as a function of its weights (internal).

Shared by the `GradientCheck` callback (on a float64 copy), `overfit_batch` and
`TrainingDiagnostics` (per-layer gradient norms).
"""

import contextlib

import keras
from keras import ops, tree

from keras_dlss.autodiff.core import vjp
from keras_dlss.debugging._float64 import _rewrite_dtypes, cast_floats, float64_copy


@contextlib.contextmanager
def floatx(dtype):
    previous = keras.config.floatx()
    keras.config.set_floatx(dtype)
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


def require_compiled(model, who):
    if not isinstance(model, keras.Model) or getattr(model, "optimizer", None) is None:
        raise ValueError(
            f"{who} needs a compiled Keras model (call `model.compile(optimizer, loss)` first). "
            f"Received: {type(model).__name__}"
        )


def _loss_copy(loss):
    if isinstance(loss, keras.losses.Loss):
        return keras.losses.deserialize(_rewrite_dtypes(keras.losses.serialize(loss)))
    return loss


def float64_loss_function(model, x, y, sample_weight=None):
    """Returns `(loss_fn, copy)`: `loss_fn()` is the compiled loss of a float64 copy."""
    x64, y64, sw64 = (
        cast_floats(tree.map_structure(ops.convert_to_tensor, a)) if a is not None else None
        for a in (x, y, sample_weight)
    )

    def loss_fn():
        y_pred = copy(x64, training=False)
        loss = copy.compute_loss(x=x64, y=y64, y_pred=y_pred, sample_weight=sw64, training=False)
        return ops.cast(loss, "float64")

    with floatx("float64"):  # losses built now compute in float64
        copy = float64_copy(model, (x64,), {"training": False})
        copy.compile(loss=tree.map_structure(_loss_copy, model.loss))
        loss_fn()  # builds the compiled loss outside any StatelessScope
    return loss_fn, copy


def loss_and_gradients(model, x, y, sample_weight=None, training=True):
    """The compiled loss on (x, y) and its gradient for each trainable variable."""
    variables = model.trainable_variables

    def loss_of(*values):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            y_pred = model(x, training=training)
            return model.compute_loss(
                x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
            )

    loss, vjp_fn = vjp(loss_of, *[ops.convert_to_tensor(v.value) for v in variables])
    return loss, list(vjp_fn(ops.ones_like(loss)))
