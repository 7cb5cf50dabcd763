"""The mixed operation of differentiable architecture search (DARTS).

Liu, Simonyan and Yang, "DARTS: Differentiable Architecture Search", ICLR 2019
(arXiv:1806.09055), Eq. 1: an edge of the search cell applies every candidate
operation `o` to its input and returns their softmax-weighted sum,
``o_bar(x) = sum_o softmax(alpha)_o * o(x)``, which makes the discrete choice of
an operation continuous in the architecture weights `alpha`.

Why `alpha` is an ordinary trainable weight named ``alpha`` (and listed by
`architecture_weights`) rather than a non-trainable variable or a layer input:
the search optimizes `alpha` by gradient descent, so it must be differentiable
and saved with the model, yet on a *different* data split and with a different
optimizer than the network weights. A named weight group lets
`keras_dlss.training.DARTSSearch` (or any user step) split `trainable_variables`
into `alpha` and the rest by identity; passing `alpha` as an input would force
every network built of mixed operations to thread one extra tensor per edge.
"""

import keras
from keras import ops


def _as_layer(candidate, index):
    if isinstance(candidate, dict):
        candidate = keras.saving.deserialize_keras_object(candidate)
    if not isinstance(candidate, keras.layers.Layer):
        raise ValueError(
            "Argument `candidates` must be a list of Keras layers (or their serialized "
            f"configs). Received: candidates[{index}]={candidate!r}"
        )
    return candidate


def _is_zero(layer):
    # The DARTS "zero" operation (`applications.darts_operations.Zero`), by name to
    # keep this module free of the applications package.
    return type(layer).__name__ == "Zero"


@keras.saving.register_keras_serializable(package="keras_dlss")
class MixedOperation(keras.layers.Layer):
    """Softmax-weighted sum of candidate operations (DARTS, Liu et al. 2019, Eq. 1).

    Every candidate receives the same input and must return the same shape;
    their outputs are cast to the layer's compute dtype and summed with the
    weights `softmax(alpha)`. `alpha` (shape `[len(candidates)]`) is a
    trainable weight named ``"alpha"``; `architecture_weights` lists it and
    `operation_weights` the candidates' trainable weights, so that a bilevel
    search can give each group its own optimizer and data.

    Args:
        candidates: list of `keras.layers.Layer` (or their serialized configs),
            at least one. Each layer instance must belong to one mixed
            operation only.
        alpha_initializer: initializer of `alpha`. Defaults to
            `RandomNormal(stddev=1e-3)`, the paper's `1e-3 * randn`.
        shared_alpha: bool. If True the layer owns no `alpha` and every call
            must pass one (`alpha=`, shape `[len(candidates)]`): DARTS shares
            one set of architecture weights among all cells of a type, owned
            by the network (`applications.DARTSNetwork`). Defaults to `False`.
        **kwargs: standard `Layer` arguments.

    Returns:
        Called on a tensor `x` (and `alpha=` when `shared_alpha`), the
        weighted sum of `candidate(x)`.

    Example:

    ```python
    import numpy as np
    mixed = keras_dlss.layers.MixedOperation(
        [keras.layers.Dense(4), keras.layers.Dense(4, activation="relu")]
    )
    y = mixed(np.ones((2, 3), "float32"))
    assert y.shape == (2, 4)
    print(keras.ops.softmax(mixed.alpha))  # the mixing weights, close to uniform
    ```

    References:
        Liu, Simonyan & Yang, 2019. "DARTS: Differentiable Architecture
        Search". https://arxiv.org/abs/1806.09055
    """

    def __init__(self, candidates, alpha_initializer=None, shared_alpha=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(candidates, (keras.layers.Layer, dict)) or not isinstance(
            candidates, (list, tuple)
        ):
            raise ValueError(
                "Argument `candidates` must be a non-empty list of layers. "
                f"Received: candidates={candidates!r}"
            )
        if len(candidates) == 0:
            raise ValueError(
                "Argument `candidates` must be a non-empty list of layers. Received: candidates=[]"
            )
        self.candidates = [_as_layer(c, i) for i, c in enumerate(candidates)]
        if alpha_initializer is None:
            alpha_initializer = keras.initializers.RandomNormal(stddev=1e-3)
        self.alpha_initializer = keras.initializers.get(alpha_initializer)
        self.shared_alpha = bool(shared_alpha)
        self.alpha = None

    def build(self, input_shape):
        shapes = []
        for candidate in self.candidates:
            if not candidate.built:
                candidate.build(input_shape)
            try:
                shapes.append(tuple(candidate.compute_output_shape(input_shape)))
            except Exception:  # a layer without compute_output_shape: checked at call time
                shapes.append(None)
        known = [s for s in shapes if s is not None]
        if any(s[1:] != known[0][1:] for s in known):
            raise ValueError(
                "Argument `candidates` must all give the same output shape for input shape "
                f"{tuple(input_shape)}. Received: candidate output shapes {shapes}"
            )
        if not self.shared_alpha:
            self.alpha = self.add_weight(
                name="alpha",
                shape=(len(self.candidates),),
                initializer=self.alpha_initializer,
                trainable=True,
            )
        self.built = True

    @property
    def architecture_weights(self):
        """`[alpha]`: the architecture weights (empty when unbuilt or `shared_alpha`)."""
        return [] if self.alpha is None else [self.alpha]

    @property
    def operation_weights(self):
        """The candidates' trainable weights (everything trainable except `alpha`)."""
        return [w for c in self.candidates for w in c.trainable_weights]

    def mixing_weights(self, alpha=None):
        """`softmax(alpha)` (the layer's own `alpha` by default), shape `[len(candidates)]`."""
        if alpha is None:
            if self.alpha is None:
                raise ValueError(
                    f"{self.name} was created with `shared_alpha=True`: pass the architecture "
                    "weights as the `alpha` call argument. Received: alpha=None"
                )
            alpha = self.alpha
        return ops.softmax(ops.cast(alpha, self.compute_dtype))

    def call(self, inputs, alpha=None, training=None):
        if alpha is not None and tuple(alpha.shape) != (len(self.candidates),):
            raise ValueError(
                f"Argument `alpha` must have shape ({len(self.candidates)},), one weight per "
                f"candidate. Received: alpha.shape={tuple(alpha.shape)}"
            )
        weights = self.mixing_weights(alpha)
        output = None
        for i, candidate in enumerate(self.candidates):
            if _is_zero(candidate) and (output is not None or i + 1 < len(self.candidates)):
                continue  # adds exactly 0; its alpha still enters the softmax's normalizer
            term = weights[i] * ops.cast(candidate(inputs, training=training), self.compute_dtype)
            output = term if output is None else output + term
        return output

    def compute_output_shape(self, input_shape):
        return self.candidates[0].compute_output_shape(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "candidates": [keras.saving.serialize_keras_object(c) for c in self.candidates],
            "alpha_initializer": keras.initializers.serialize(self.alpha_initializer),
            "shared_alpha": self.shared_alpha,
        }
