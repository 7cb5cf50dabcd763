"""Boundary checks shared by every public function (internal).

Errors follow the Keras convention: name the argument and quote the value,
``"Argument `beam_width` must be >= 1. Received: beam_width=0"``.

Data-dependent checks (ids in range, mask right-padded, NaN) can only run on
concrete values: `concrete_value` returns a NumPy array eagerly and ``None``
while tracing (``tf.function``, ``jax.jit``), so the same public function stays
XLA-compilable and still validates eager calls.
"""

import keras
import numpy as np


def precise_dtype(dtype):
    """`"float64"` for float64, `"float32"` for every other float: the dtype to compute in.

    For sums of many small terms (log-probabilities, FFT products, CRF scores)
    that float16/bfloat16 cannot hold. Takes any backend's dtype: torch's
    `torch.float64` is not equal to the string "float64".
    """
    return "float64" if keras.backend.standardize_dtype(dtype) == "float64" else "float32"


def concrete_value(x):
    """Returns `x` as a NumPy array when it has a concrete value, else None."""
    if x is None:
        return None
    if isinstance(x, (np.ndarray, np.generic, int, float, bool, list, tuple)):
        return np.asarray(x)
    if hasattr(x, "numpy"):
        try:
            return np.asarray(x.numpy())
        except Exception:  # symbolic TF tensor inside tf.function
            return None
    try:
        return np.asarray(x)
    except Exception:  # JAX tracer, Keras symbolic tensor
        return None


def static_dim(d):
    """`d` as an int, or None when it is unknown or symbolic (a jax2tf export's `b`)."""
    if isinstance(d, (int, np.integer)):
        return int(d)
    try:
        return int(d)  # TF Dimension, 0-d NumPy array
    except Exception:  # jax's InconclusiveDimensionOperation is not a TypeError
        return None


def _shape_str(shape):
    """`(2, None, 4)`, and `(3,)` for one axis, as Python prints a shape tuple."""
    dims = ["None" if static_dim(d) is None else str(static_dim(d)) for d in shape]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def check_rank(name, x, rank):
    """Raises ValueError unless `x` has rank `rank` (an int or tuple of ints)."""
    ranks = (rank,) if isinstance(rank, int) else tuple(rank)
    shape = tuple(x.shape)
    if len(shape) not in ranks:
        expected = " or ".join(str(r) for r in ranks)
        raise ValueError(
            f"Argument `{name}` must have rank {expected}. "
            f"Received: {name}.shape={_shape_str(shape)}"
        )


def check_dims_match(name, x, axis, expected, other_desc):
    """Raises ValueError when a static dim of `x` differs from `expected`."""
    dim, expected = static_dim(x.shape[axis]), static_dim(expected)
    if dim is not None and expected is not None and dim != expected:
        raise ValueError(
            f"Argument `{name}` has {dim} at axis {axis}, which does not match "
            f"{other_desc} ({expected}). Received: {name}.shape={_shape_str(x.shape)}"
        )


def check_positive_int(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"Argument `{name}` must be an integer >= {minimum}. Received: {name}={value!r}"
        )
    return int(value)


def check_range(name, value, low=None, high=None, *, low_inclusive=True, high_inclusive=True):
    """Raises ValueError unless `low <= value <= high` (bounds optional/exclusive)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"Argument `{name}` must be a number. Received: {name}={value!r}"
        ) from None
    ok = not np.isnan(v)
    if ok and low is not None:
        ok = v >= low if low_inclusive else v > low
    if ok and high is not None:
        ok = v <= high if high_inclusive else v < high
    if not ok:
        lo = "(-inf" if low is None else ("[" if low_inclusive else "(") + f"{low}"
        hi = "inf)" if high is None else f"{high}" + ("]" if high_inclusive else ")")
        raise ValueError(f"Argument `{name}` must be in {lo}, {hi}. Received: {name}={value!r}")
    return value


def check_one_of(name, value, options):
    if value not in options:
        try:
            listed = sorted(options)
        except TypeError:  # mixed types, e.g. norm in ("inf", 2)
            listed = sorted(options, key=repr)
        raise ValueError(f"Argument `{name}` must be one of {listed}. Received: {name}={value!r}")
    return value


def check_ids_in_range(name, ids, upper):
    """Eager-only: every id in `ids` lies in [0, upper)."""
    arr = concrete_value(ids)
    if arr is None or arr.size == 0:
        return
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi >= upper:
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"Argument `{name}` must hold ids in [0, {upper}). Received: {name} containing {bad}"
        )


def check_finite(name, x):
    """Eager-only: `x` holds no NaN or infinity."""
    arr = concrete_value(x)
    if arr is None or not np.issubdtype(arr.dtype, np.floating):
        return
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"Argument `{name}` must be finite. Received: {name} containing NaN or inf"
        )


def check_right_padded(name, mask):
    """Eager-only: each row of a [B, T] mask is ones then zeros (no holes, no left padding)."""
    arr = concrete_value(mask)
    if arr is None or arr.size == 0:
        return
    m = arr.astype(bool)
    lengths = m.sum(axis=-1)
    expected = np.arange(m.shape[-1])[None, :] < lengths[..., None]
    if not np.array_equal(m, expected):
        row = int(np.argwhere(np.any(m != expected, axis=-1))[0][0])
        raise ValueError(
            f"Argument `{name}` must be right-padded (ones then zeros in each row). "
            f"Received: {name}[{row}]={m[row].astype(int).tolist()}"
        )


def check_nonempty_batch(name, x):
    if x.shape and x.shape[0] == 0:
        raise ValueError(
            f"Argument `{name}` must have a non-empty batch. Received: {name}.shape={_shape_str(x.shape)}"
        )


_DTYPE_KINDS = {
    "integer": ("int", "uint"),
    "floating": ("float", "bfloat"),
    "bool": ("bool",),
}


def check_dtype_kind(name, x, kinds):
    """Raises ValueError unless `x`'s dtype is of one of `kinds` ("integer", "floating", "bool").

    Checks the static dtype only, so it costs nothing in a compiled graph.
    """
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    import keras  # here: this module stays importable without a backend

    dtype = keras.backend.standardize_dtype(getattr(x, "dtype", None) or np.asarray(x).dtype)
    base = dtype.rstrip("0123456789_")
    if not any(base in _DTYPE_KINDS[k] for k in kinds):
        expected = " or ".join(kinds)
        article = "an" if expected[0] in "aeiou" else "a"
        raise ValueError(
            f"Argument `{name}` must have {article} {expected} dtype. Received: {name}.dtype={dtype}"
        )


def check_mask_shape(name, mask, ref_name, ref, num_axes=2):
    """Raises ValueError unless `mask`'s shape is `ref.shape[:num_axes]` (static dims only).

    Symbolic (None) dimensions on either side are accepted, so the check runs at
    trace time without constraining dynamic shapes.
    """
    if mask is None:
        return
    shape, expected = tuple(mask.shape), tuple(ref.shape)[:num_axes]
    if not shapes_compatible(shape, expected):
        raise ValueError(
            f"Argument `{name}` must have shape {_shape_str(expected)} (the first {num_axes} "
            f"axes of `{ref_name}`, shape {_shape_str(ref.shape)}). "
            f"Received: {name}.shape={_shape_str(shape)}"
        )


def check_min_rank(name, x, minimum):
    """Raises ValueError unless `x` has rank >= `minimum` (static rank, trace time)."""
    shape = tuple(x.shape)
    if len(shape) < minimum:
        raise ValueError(
            f"Argument `{name}` must have rank >= {minimum}. "
            f"Received: {name}.shape={_shape_str(shape)}"
        )


def shapes_compatible(a, b):
    """True when two static shapes have one rank and agree wherever both dims are known."""
    a, b = tuple(a), tuple(b)
    return len(a) == len(b) and all(
        static_dim(x) is None or static_dim(y) is None or static_dim(x) == static_dim(y)
        for x, y in zip(a, b)
    )


def shape_str(shape):
    """`(2, None, 4)`: a static shape as error messages print it."""
    return _shape_str(tuple(shape))
