"""Float64 copies of Keras layers and models for finite-difference checks (internal).

A layer is serialized, every floating dtype policy in its (nested) config is
rewritten to ``"float64"``, the copy is deserialized, built, and given the
original weights. Integer input layers keep their dtype.
"""

import keras
from keras import tree

_FLOAT_NAMES = ("float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16")


def _is_float_policy(value):
    if isinstance(value, str):
        return value in _FLOAT_NAMES
    if isinstance(value, dict) and "Policy" in str(value.get("class_name", "")):
        return _is_float_policy(value.get("config", {}).get("name"))
    return False


def _rewrite_dtypes(config):
    if isinstance(config, dict):
        return {
            k: ("float64" if k == "dtype" and _is_float_policy(v) else _rewrite_dtypes(v))
            for k, v in config.items()
        }
    if isinstance(config, (list, tuple)):
        return type(config)(_rewrite_dtypes(v) for v in config)
    return config


def float64_copy(layer, args, kwargs):
    """Returns a float64 copy of the built `layer` holding its weights.

    Args:
        layer: a built Keras `Layer` or `Model`.
        args, kwargs: float64 call arguments, used to build the copy if
            deserialization leaves it unbuilt.

    Raises:
        ValueError: when the layer cannot be re-created from its config, or the
            copy's weights do not line up with the original's.
    """
    name = type(layer).__name__
    try:
        config = _rewrite_dtypes(keras.saving.serialize_keras_object(layer))
        copy = keras.saving.deserialize_keras_object(config)
    except Exception as e:
        raise ValueError(
            f"gradient_check could not copy the {name} layer to float64 through "
            f"get_config/from_config ({type(e).__name__}: {e}). Make the layer "
            "serializable, or pass a callable that computes in float64."
        ) from e
    if not copy.built or len(copy.weights) != len(layer.weights):
        copy(*args, **kwargs)
    src = layer.weights
    if len(copy.weights) != len(src) or any(
        tuple(a.shape) != tuple(b.shape) for a, b in zip(copy.weights, src)
    ):
        raise ValueError(
            f"gradient_check could not copy the {name} layer to float64: the copy has "
            f"weights {[tuple(w.shape) for w in copy.weights]} but the layer has "
            f"{[tuple(w.shape) for w in src]}. Create weights in a deterministic order in "
            "`build`, or pass a callable that computes in float64."
        )
    copy.set_weights([keras.ops.convert_to_numpy(w.value) for w in src])
    return copy


def is_float64(layer):
    """True when `layer` (and its sublayers, for models) computes and stores in float64."""
    layers = [layer]
    while layers:
        current = layers.pop()
        # A functional model's own policy computes nothing: only its layers count.
        container = type(current).__name__ in ("Functional", "Sequential")
        if not container and keras.backend.standardize_dtype(current.compute_dtype) != "float64":
            return False
        layers += list(getattr(current, "layers", []))
    return all(
        keras.backend.standardize_dtype(w.dtype) == "float64"
        for w in layer.weights
        if is_floating(w)
    )


def is_floating(x):
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return False
    try:
        return "float" in keras.backend.standardize_dtype(dtype)
    except ValueError:
        return False


def cast_floats(nest, dtype="float64"):
    """Casts floating tensors/arrays in `nest` to `dtype`; leaves the rest."""
    return tree.map_structure(lambda x: keras.ops.cast(x, dtype) if is_floating(x) else x, nest)
