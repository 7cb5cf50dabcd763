"""Linear-chain CRF output layer and the model class that trains it from `fit(x, y)`.

Design (why there is a `CRFModel`): a CRF's training loss needs the gold tags,
the emissions *and* the transition weights, while `predict` and the serving
signature must return Viterbi tags. A Keras 3 layer never sees `y`, and a
functional `keras.Model` compiled without `loss=` has nothing to minimize, so
one of three things must give: return weights/emissions as outputs and ask for
a custom loss (tensorflow-addons, which forced wrappers on every user), make
the gold tags a model input (the "endpoint" pattern, which breaks `predict`),
or let the *model* hand `y` to the layer. We do the last:

* `CRF` always returns decoded tags (and optionally marginals), in every mode,
  so `predict`, `model(x)` and `model.export()` all serve tags.
* `CRFModel` is a `keras.Model` (functional or subclassed) whose step is the
  default one of `keras_dlss.models.CustomStep` (so it runs on every backend)
  and, while it traces, exposes `(y, sample_weight)` in a scope. Each `CRF` layer called inside that scope
  adds its mean negative log-likelihood with `add_loss`; Keras's default
  `compute_loss` picks it up. Users call only `compile(optimizer=...)` and
  `fit(x, y)`; no loss, no custom loop, no weights as outputs.

References:
    - Lafferty, McCallum & Pereira, "Conditional Random Fields", ICML 2001.
    - Lample et al., "Neural Architectures for Named Entity Recognition",
      NAACL 2016 (https://arxiv.org/abs/1603.01360).
"""

import contextlib
import threading

import keras
import numpy as np
from keras import ops

from keras_dlss import _validation as v
from keras_dlss.models.custom_step import CustomStep
from keras_dlss.ops import crf as crf_ops

_SCOPE = threading.local()


@contextlib.contextmanager
def crf_targets(y, sample_weight=None):
    """Makes `(y, sample_weight)` visible to the `CRF` layers called inside.

    `CRFModel` uses it around each train/test step; use it directly in a custom
    training loop: `with crf_targets(y): model(x, training=True)` then
    `sum(model.losses)` is the CRF negative log-likelihood.
    """
    previous = getattr(_SCOPE, "targets", None), getattr(_SCOPE, "masks", None)
    _SCOPE.targets, _SCOPE.masks = (y, sample_weight), {}
    try:
        yield
    finally:
        _SCOPE.targets, _SCOPE.masks = previous


def _targets_for(layer_name):
    targets = getattr(_SCOPE, "targets", None)
    if targets is None:
        return None, None
    y, sample_weight = targets
    if isinstance(y, dict):  # multi-output models: targets keyed by CRF layer name
        y = y.get(layer_name)
        if isinstance(sample_weight, dict):
            sample_weight = sample_weight.get(layer_name)
    return y, sample_weight


@keras.saving.register_keras_serializable(package="keras_dlss")
class CRF(keras.layers.Layer):
    """Linear-chain conditional random field over per-token tag scores.

    Takes emissions `[B, T, num_tags]` (e.g. from `Dense(num_tags)`) and
    returns the Viterbi tags `[B, T]` int32 (0 at padded positions); with
    `return_marginals=True` it returns `(tags, marginals [B, T, num_tags])`.
    It owns `transitions [K, K]` (`transitions[i, j]` scores tag i -> tag j)
    and, with `use_boundary_transitions`, `start_transitions`/`end_transitions`.
    Masks (e.g. from `Embedding(mask_zero=True)`) flow in and out.

    Train it inside a `CRFModel`: `model.compile(optimizer=...)` and
    `model.fit(x, y)` with `y` the gold tags `[B, T]` minimize the mean
    negative log-likelihood (see the module docstring for why). The CRF runs
    in float32 even under mixed precision. A model ending in `CRF` exports to
    SavedModel and to ONNX (`model.export(path, format="onnx")`, both
    algorithms; tested with onnxruntime), serving the decoded tags.

    Args:
        num_tags: int. Number of tags `K`.
        constraints: optional boolean `[K, K]` allowed-transition matrix, or a
            tuple `(allowed, allowed_start, allowed_end)` from
            `keras_dlss.ops.allowed_transitions(labels, with_start_end=True)`.
            Forbidden moves are never decoded. Defaults to `None`.
        use_boundary_transitions: bool. Learn start/end scores. Defaults to `True`.
        return_marginals: bool. Also return forward-backward posteriors.
            Defaults to `False`.
        algorithm: `"sequential"` (any sequence length) or `"parallel"`
            (O(log T) depth, static length). Defaults to `"sequential"`.
        transitions_initializer: initializer of the three weights.
            Defaults to `"zeros"`.
        transitions_regularizer: optional regularizer of `transitions`.
        **kwargs: base `Layer` arguments.

    Example:

    ```python
    token_ids = np.random.randint(1, 1000, size=(64, 12))  # id 0 is padding
    token_ids[:, 9:] = 0
    gold_tags = token_ids % 5 * (token_ids > 0)

    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(1000, 32, mask_zero=True)(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(32, return_sequences=True))(x)
    tags = keras_dlss.layers.CRF(5)(keras.layers.Dense(5)(x))
    model = keras_dlss.layers.CRFModel(inputs, tags)
    model.compile(optimizer="adam", jit_compile=True)
    model.fit(token_ids, gold_tags, epochs=2, verbose=0)
    model.predict(token_ids, verbose=0)  # Viterbi tags, [64, 12] int32
    ```

    References:
        - Lafferty et al., "Conditional Random Fields", ICML 2001.
        - Lample et al., 2016 (https://arxiv.org/abs/1603.01360).
    """

    def __init__(
        self,
        num_tags,
        constraints=None,
        use_boundary_transitions=True,
        return_marginals=False,
        algorithm="sequential",
        transitions_initializer="zeros",
        transitions_regularizer=None,
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)  # weights and math stay in float32
        super().__init__(**kwargs)
        self.num_tags = v.check_positive_int("num_tags", num_tags)
        self.constraints = _normalize_constraints(constraints, self.num_tags)
        self.use_boundary_transitions = bool(use_boundary_transitions)
        self.return_marginals = bool(return_marginals)
        self.algorithm = v.check_one_of("algorithm", algorithm, crf_ops._ALGORITHMS)
        self.transitions_initializer = keras.initializers.get(transitions_initializer)
        self.transitions_regularizer = keras.regularizers.get(transitions_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3 or input_shape[-1] != self.num_tags:
            raise ValueError(
                f"Argument `inputs` of CRF must be emissions [batch, time, {self.num_tags}] "
                f"(add a Dense({self.num_tags}) before it). Received: inputs.shape={tuple(input_shape)}"
            )
        k = self.num_tags
        self.transitions = self.add_weight(
            name="transitions",
            shape=(k, k),
            initializer=self.transitions_initializer,
            regularizer=self.transitions_regularizer,
        )
        if self.use_boundary_transitions:
            self.start_transitions = self.add_weight(
                name="start_transitions", shape=(k,), initializer=self.transitions_initializer
            )
            self.end_transitions = self.add_weight(
                name="end_transitions", shape=(k,), initializer=self.transitions_initializer
            )

    def _weights(self, dtype):
        # Read the variables into tensors once: gathers from a Variable have
        # no XLA kernel (ResourceGatherNd).
        def read(w):
            return None if w is None else ops.cast(ops.convert_to_tensor(w), dtype)

        start = getattr(self, "start_transitions", None)
        end = getattr(self, "end_transitions", None)
        return read(self.transitions), read(start), read(end)

    def _check_call_args(self, inputs, mask):
        # Static shapes and dtypes only: runs while tracing (symbolic `None`
        # dims pass) and adds nothing to the compiled graph.
        v.check_rank("inputs", inputs, 3)
        v.check_dtype_kind("inputs", inputs, "floating")
        v.check_mask_shape("mask", mask, "inputs", inputs)

    def call(self, inputs, mask=None, training=None):
        self._check_call_args(inputs, mask)
        dtype = v.precise_dtype(self.compute_dtype)
        emissions = ops.cast(inputs, dtype)
        transitions, start, end = self._weights(dtype)
        kwargs = dict(
            mask=mask,
            start_transitions=start,
            end_transitions=end,
            constraints=self.constraints,
            algorithm=self.algorithm,
        )
        y, sample_weight = _targets_for(self.name)
        if getattr(_SCOPE, "masks", None) is not None:
            _SCOPE.masks[self.name] = mask  # CRFModel weighs its metrics by it
        if y is not None:
            self.add_loss(self._nll(emissions, y, transitions, sample_weight, kwargs))
        tags, _ = crf_ops.crf_decode(emissions, transitions, **kwargs)
        if self.return_marginals:
            return tags, crf_ops.crf_marginals(emissions, transitions, **kwargs)
        return tags

    def _nll(self, emissions, y, transitions, sample_weight, kwargs):
        y = ops.convert_to_tensor(y)
        if len(y.shape) == 3 and y.shape[-1] == 1:  # [B, T, 1] sparse targets
            y = ops.squeeze(y, -1)
        # `y` comes from `fit` (or `crf_targets`): name it as the user wrote it.
        # Float targets are cast, as Keras's sparse losses do; the op itself
        # (`crf_log_likelihood`) insists on integer tags.
        v.check_rank("y", y, 2)
        v.check_dtype_kind("y", y, ("integer", "floating"))
        for axis in (0, 1):
            v.check_dims_match("y", y, axis, emissions.shape[axis], f"inputs.shape[{axis}]")
        nll = -crf_ops.crf_log_likelihood(emissions, ops.cast(y, "int32"), transitions, **kwargs)
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, nll.dtype)
            if len(sample_weight.shape) == 2:  # per-token weights: one per sequence
                sample_weight = sample_weight[:, 0]
            nll = nll * sample_weight
        return ops.cast(ops.mean(nll), "float32")

    def log_likelihood(self, emissions, tags, mask=None):
        """`log p(tags | emissions)` under this layer's weights, `[B]`."""
        transitions, start, end = self._weights("float32")
        emissions = ops.convert_to_tensor(emissions)
        v.check_dtype_kind("emissions", emissions, "floating")
        return crf_ops.crf_log_likelihood(
            ops.cast(emissions, "float32"),
            tags,
            transitions,
            mask,
            start,
            end,
            constraints=self.constraints,
            algorithm=self.algorithm,
        )

    def compute_mask(self, inputs, mask=None):
        if self.return_marginals:
            return [mask, mask]
        return mask

    def compute_output_shape(self, input_shape):
        tags = tuple(input_shape[:2])
        if self.return_marginals:
            return tags, tuple(input_shape[:2]) + (self.num_tags,)
        return tags

    def compute_output_spec(self, inputs, mask=None, training=None):
        self._check_call_args(inputs, mask)
        shape = self.compute_output_shape(inputs.shape)
        tags = keras.KerasTensor(shape[0] if self.return_marginals else shape, dtype="int32")
        if self.return_marginals:
            return tags, keras.KerasTensor(shape[1], dtype="float32")
        return tags

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_tags": self.num_tags,
                "constraints": _constraints_to_config(self.constraints),
                "use_boundary_transitions": self.use_boundary_transitions,
                "return_marginals": self.return_marginals,
                "algorithm": self.algorithm,
                "transitions_initializer": keras.initializers.serialize(
                    self.transitions_initializer
                ),
                "transitions_regularizer": keras.regularizers.serialize(
                    self.transitions_regularizer
                ),
            }
        )
        return config


def _normalize_constraints(constraints, num_tags):
    """Constraints as NumPy bool arrays (validated once, at construction)."""
    if constraints is None:
        return None
    if (
        isinstance(constraints, (tuple, list))
        and len(constraints) == 3
        and np.ndim(constraints[0]) == 2
    ):
        parts = tuple(np.asarray(c, dtype=bool) for c in constraints)
    else:
        parts = (np.asarray(constraints, dtype=bool),)
    shapes = ((num_tags, num_tags), (num_tags,), (num_tags,))
    for part, shape in zip(parts, shapes):
        if part.shape != shape:
            raise ValueError(
                f"Argument `constraints` must be a boolean [{num_tags}, {num_tags}] matrix or a "
                f"tuple (matrix, start [{num_tags}], end [{num_tags}]). Received: a part of shape {part.shape}"
            )
    return parts if len(parts) == 3 else parts[0]


def _constraints_to_config(constraints):
    if constraints is None:
        return None
    if isinstance(constraints, tuple):
        return [c.tolist() for c in constraints]
    return constraints.tolist()


@keras.saving.register_keras_serializable(package="keras_dlss")
class CRFModel(CustomStep, keras.Model):
    """A `keras.Model` whose `CRF` layers learn from `fit(x, y)` with no `loss=`.

    Build it like any functional model (`CRFModel(inputs, outputs)`) or
    subclass it. During `fit`/`evaluate`, each `CRF` layer receives the targets
    (a `[B, T]` tag array, or a dict keyed by CRF layer name for several CRF
    heads) and adds its mean negative log-likelihood as a loss; `predict`
    returns the decoded tags. A `loss=` given to `compile` is added on top
    (it sees the decoded tags, so it is rarely useful).

    Token-level metrics belong in `weighted_metrics=`: with one CRF head,
    the model weighs them by the CRF's padding mask (times any
    `sample_weight`), so padded positions, decoded as 0 like their padded
    targets, do not count as correct. Keras gives plain `metrics=` no weights.

    Example:

    ```python
    inputs = keras.Input((None, 8))  # per-token features
    emissions = keras.layers.Dense(5)(inputs)
    model = keras_dlss.layers.CRFModel(inputs, keras_dlss.layers.CRF(5)(emissions))
    model.compile(optimizer="adam")  # no loss: the CRF's NLL is added by the model
    x, y = np.random.rand(32, 7, 8), np.random.randint(0, 5, size=(32, 7))
    model.fit(x, y, epochs=3, verbose=0)
    ```
    """

    def custom_train_step(self, data):
        # The default step (`CustomStep`), with the targets visible to the CRF layers.
        with crf_targets(*_targets(data)):
            return super().custom_train_step(data)

    def custom_test_step(self, data):
        with crf_targets(*_targets(data)):
            return super().custom_test_step(data)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Keras 3 passes no output mask to compiled metrics, and the decoded tags
        # are 0 at padding like the padded targets: padding would count as
        # correct. A single CRF head's mask becomes the sample weight, which
        # Keras gives to `weighted_metrics` (plain `metrics` never see weights).
        masks = getattr(_SCOPE, "masks", None) or {}
        if len(masks) == 1 and not isinstance(y_pred, (dict, list, tuple)):
            sample_weight = _token_weights(next(iter(masks.values())), sample_weight)
        return super().compute_metrics(x, y, y_pred, sample_weight)


def _token_weights(mask, sample_weight):
    """Per-token metric weights: the padding mask times the per-sequence or per-token weights."""
    if mask is None:
        return sample_weight
    weights = ops.cast(mask, "float32")
    if sample_weight is None:
        return weights
    sample_weight = ops.cast(sample_weight, "float32")
    if len(sample_weight.shape) == 1:
        sample_weight = sample_weight[:, None]
    return weights * sample_weight


def _targets(data):
    _, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
    return y, sample_weight
