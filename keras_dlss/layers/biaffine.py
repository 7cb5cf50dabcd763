"""Biaffine scorer of every (dependent, head) pair (Dozat & Manning 2017).

`s[b, i, j, u] = [x_i; 1]^T W_u [y_j; 1]`: a bilinear term between the
dependent representation `x_i` and the head representation `y_j`, plus a
linear term in each (the appended 1s), one matrix `W_u` per output unit. With
one unit it is the paper's arc scorer (Eq. 2, where the term linear in the
dependent is dropped: it is constant over the candidate heads, `head_bias=False`);
with one unit per relation label it is the label classifier (Eq. 3).

The kernel starts at zero as in the paper's released code: every head is
equally likely at first, and the gradient of the bilinear form is nonzero
through the MLP features, so the zero start is not a symmetric saddle.

References:
    - Dozat & Manning, "Deep Biaffine Attention for Neural Dependency Parsing",
      ICLR 2017 (https://arxiv.org/abs/1611.01734).
"""

import keras
from keras import ops

from keras_dlss import _validation as v


@keras.saving.register_keras_serializable(package="keras_dlss")
class Biaffine(keras.layers.Layer):
    """Scores every pair of a dependent and a head sequence with `units` biaffine forms.

    Args:
        units: int. Scores per pair (1 for arcs, the number of labels for relations).
        dependent_bias: bool. Append a 1 to the dependent features, which adds
            a term linear in the head (the head's prior). Defaults to True.
        head_bias: bool. Append a 1 to the head features, which adds a term
            linear in the dependent (constant over candidate heads, so an arc
            scorer drops it). Defaults to True.
        kernel_initializer: initializer of the `[units, d_dep(+1), d_head(+1)]`
            kernel. Defaults to `"zeros"`.
        kernel_regularizer: optional regularizer of the kernel.
        **kwargs: `keras.layers.Layer` arguments.

    Call arguments:
        inputs: list `[dependents, heads]`: `[B, T, d_dep]` and `[B, S, d_head]`.

    Returns:
        `[B, T, S, units]` scores: `out[b, i, j]` scores head `j` for dependent `i`.

    Example:

    ```pycon
    >>> layer = Biaffine(3, kernel_initializer="ones")
    >>> layer([np.ones((2, 4, 5)), np.ones((2, 6, 7))]).shape
    (2, 4, 6, 3)
    ```
    """

    def __init__(
        self,
        units,
        dependent_bias=True,
        head_bias=True,
        kernel_initializer="zeros",
        kernel_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # Accepts masked features (a BiLSTM's) and drops the mask: which pairs
        # count is the caller's choice (padding heads, padding dependents).
        self.supports_masking = True
        self.units = v.check_positive_int("units", units)
        self.dependent_bias = bool(dependent_bias)
        self.head_bias = bool(head_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)

    def _check(self, input_shape):
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 2:
            raise ValueError(
                "Argument `inputs` must be a list [dependents, heads]. "
                f"Received: inputs with shape {input_shape}"
            )
        dep, head = (tuple(s) for s in input_shape)
        for name, shape in (("dependents", dep), ("heads", head)):
            if len(shape) != 3 or v.static_dim(shape[-1]) is None:
                raise ValueError(
                    f"Argument `{name}` must have shape [B, T, d] with a known d. "
                    f"Received: {name}.shape={v.shape_str(shape)}"
                )
        return dep, head

    def build(self, input_shape):
        dep, head = self._check(input_shape)
        self.kernel = self.add_weight(
            name="kernel",
            shape=(self.units, dep[-1] + self.dependent_bias, head[-1] + self.head_bias),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
        )

    @staticmethod
    def _with_ones(x):
        return ops.concatenate([x, ops.ones_like(x[..., :1])], axis=-1)

    def call(self, inputs):
        dependents, heads = inputs
        self._check([dependents.shape, heads.shape])
        if self.dependent_bias:
            dependents = self._with_ones(dependents)
        if self.head_bias:
            heads = self._with_ones(heads)
        kernel = ops.cast(self.kernel, dependents.dtype)
        # [B, T, u, e] first, so the pairwise product is one batched matmul per unit.
        projected = ops.einsum("btd,ude->btue", dependents, kernel)
        return ops.einsum("btue,bse->btsu", projected, heads)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        dep, head = self._check(input_shape)
        return (dep[0], dep[1], head[1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "dependent_bias": self.dependent_bias,
            "head_bias": self.head_bias,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
        }
