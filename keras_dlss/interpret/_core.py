"""What every attribution method shares (internal): the explained scalar, input
gradients, and one compiled program per model and method.

The explained quantity is a per-example scalar `f(x)[b]`: one output unit (a
class index, the same for the batch or one per example) or any callable on the
model's outputs. Methods differentiate `sum_b f(x)[b]`, which gives every
example its own gradient because examples do not interact at inference.

Compilation is fenced here, as `keras_dlss.autodiff` fences differentiation:
`tf.function(jit_compile=True)` on TensorFlow; on JAX, `jax.jit` of a function
that receives the model's variable values as arguments and reads them through
a `keras.StatelessScope` (closing over the variables would bake today's values
into the compiled program, and a later `fit` would be silently ignored);
PyTorch runs eagerly. Programs are cached per model, keyed by the method and its
static options, so a second batch of the same shape reuses the compiled code.
"""

import weakref

import keras
import numpy as np
from keras import ops

from keras_dlss.autodiff import grad

_CACHE = weakref.WeakKeyDictionary()


def compiled(model, key, fn, jit_compile=True):
    """`fn(*tensors)` as one compiled program for `model`, cached under `key`."""
    if not jit_compile:
        return fn
    per_model = _CACHE.setdefault(model, {})
    if key in per_model:
        return per_model[key]
    backend = keras.config.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        program = tf.function(fn, jit_compile=True)
    elif backend == "jax":
        program = _jax_program(model, fn)
    else:
        program = fn
    per_model[key] = program
    return program


def _jax_program(model, fn):
    import jax

    variables = list(model.variables)

    def pure(values, *args):
        with keras.StatelessScope(state_mapping=list(zip(variables, values))):
            return fn(*args)

    jitted = jax.jit(pure)
    return lambda *args: jitted([v.value for v in variables], *args)


def as_float(name, x):
    """`x` as a float32 tensor (NumPy's float64 included: models compute in float32)."""
    x = ops.convert_to_tensor(x)
    if keras.backend.standardize_dtype(x.dtype) != "float32":
        x = ops.cast(x, "float32")
    if len(x.shape) < 2:
        raise ValueError(
            f"Argument `{name}` must be a batch with rank >= 2 (examples first). "
            f"Received: {name}.shape={tuple(x.shape)}"
        )
    return x


def first_output(outputs):
    return keras.tree.flatten(outputs)[0]


def _num_outputs(model, x):
    """The explained output's last dimension; symbolic models skip the eager forward
    pass, which otherwise costs as much as a small attribution itself."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        outputs = None
    if outputs:
        size = outputs[0].shape[-1]
        if isinstance(size, int):
            return size
    return int(first_output(model(x[:1], training=False)).shape[-1])


class Target:
    """The explained scalar of each example: a class index or a callable on outputs.

    `onehot` is a `[B, C]` tensor for index targets (an argument of the compiled
    program, so new labels do not recompile), None for callables; `key` is the
    cache key part.
    """

    def __init__(self, model, x, target):
        self.model = model
        self.callable = target if callable(target) else None
        self.onehot = None
        if self.callable is not None:
            self.key = ("callable", target)
            return
        classes = _num_outputs(model, x)
        index = np.asarray(target)
        batch = int(x.shape[0])
        if index.dtype.kind not in "iu" or index.ndim > 1:
            raise ValueError(
                "Argument `target` must be a class index, one index per example, or a "
                f"callable on the model's outputs. Received: target={target!r}"
            )
        if index.size and (index.min() < 0 or index.max() >= classes):
            raise ValueError(
                f"Argument `target` must be a class index in [0, {classes}) for this model's "
                f"{classes} outputs. Received: target={target!r}"
            )
        if index.ndim == 1 and index.shape[0] != batch:
            raise ValueError(
                f"Argument `target` must hold one index per example ({batch}). "
                f"Received: target.shape={index.shape}"
            )
        index = np.broadcast_to(index, (batch,))
        self.onehot = ops.convert_to_tensor(np.eye(classes, dtype="float32")[index], x.dtype)
        self.key = ("index",)

    def args(self):
        """The tensors passed to a compiled program (a dummy for callables)."""
        return self.onehot if self.onehot is not None else ops.zeros((1,))

    def scalar_fn(self, onehot, repeats=1):
        """`x -> [B]` explained scalars, built inside the compiled program; `x` may be
        `repeats` stacked copies of the batch (interpolation points, noisy samples)."""
        model, fn = self.model, self.callable
        if fn is not None:
            return lambda x: ops.reshape(fn(model(x, training=False)), (-1,))
        hot = onehot if repeats == 1 else ops.tile(onehot, (repeats, 1))

        def f(x):
            out = first_output(model(x, training=False))
            return ops.sum(ops.cast(out, hot.dtype) * hot, axis=-1)

        return f


def input_gradient(f, x):
    """Per-example gradient of `f` (`x -> [B]`) with respect to `x`."""
    return grad(lambda z: ops.sum(f(z)))(x)


def check_baseline(name, baseline, x):
    """`baseline` as a tensor broadcastable to `x` (a scalar, one example, or a batch)."""
    if baseline is None:
        return ops.zeros_like(x)
    b = ops.cast(ops.convert_to_tensor(baseline), x.dtype)
    shape, target = tuple(b.shape), tuple(x.shape)
    ok = len(shape) == 0 or shape == target or shape == target[1:] or shape == (1,) + target[1:]
    if not ok:
        raise ValueError(
            f"Argument `{name}` must be a scalar or have the shape of one example {target[1:]} "
            f"or of the batch {target}. Received: {name}.shape={shape}"
        )
    return ops.broadcast_to(b, target)


def layer_names(model, min_rank=2):
    """Names of the model's top-level layers whose output has rank >= `min_rank`."""
    names = []
    for layer in model.layers:
        try:
            shape = layer.output.shape
        except (AttributeError, ValueError):
            continue
        if len(shape) >= min_rank:
            names.append(layer.name)
    return names


def split_at(model, layer_name, valid):
    """`(inputs -> layer output, layer output -> outputs)`: two functional models that
    share the original layers and weights, so a gradient with respect to the layer's
    activations is an input gradient of the second on every backend."""
    if layer_name not in valid:
        raise ValueError(
            f"Argument `layer_name` must name a layer of the model; valid names: {valid}. "
            f"Received: layer_name={layer_name!r}"
        )
    layer = model.get_layer(layer_name)
    try:
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        features = keras.Model(inputs, layer.output)
        head = keras.Model(layer.output, model.outputs)
    except ValueError as e:
        raise ValueError(
            f"Argument `layer_name` names a layer that does not separate the model's inputs "
            f"from its outputs (a skip connection jumps over it: {e}); choose the last layer "
            f"of the block. Received: layer_name={layer_name!r}"
        ) from None
    return features, head


def head_target(target, head):
    """`target` re-aimed at the head model of `split_at` (same class or callable)."""
    clone = Target.__new__(Target)
    clone.__dict__.update(target.__dict__, model=head)
    return clone
