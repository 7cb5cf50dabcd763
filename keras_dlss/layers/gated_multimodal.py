"""Gated multimodal unit (Arevalo, Solorio, Montes-y-Gómez & González 2017, Eq. 1-4).

    h_m = tanh(W_m x_m)                 for each modality m,
    z_m = softmax_m(W_z [x_1; ...; x_M])  (a sigmoid z and 1 - z for two modalities),
    h = Σ_m z_m ⊙ h_m.

A learned, per-feature and per-example choice of how much each modality
contributes, where concatenation fusion lets the next layer mix them blindly. For
two modalities the softmax over {W_z1 x, 0} equals the paper's sigmoid gate; the
softmax form extends it to any number of modalities.
"""

import keras
from keras import ops

from keras_dlss import _validation as v


@keras.saving.register_keras_serializable(package="keras_dlss")
class GatedMultimodalUnit(keras.layers.Layer):
    """Fuses M modality vectors with a learned per-feature gate.

    Args:
        units: int >= 1. Size of the fused representation.
        kernel_initializer: Defaults to `"glorot_uniform"`.

    Call arguments:
        inputs: a list of M >= 2 tensors `[batch, ..., D_m]` (same leading axes).

    Returns:
        `[batch, ..., units]`. The gate of the last call's modalities is not
        returned (layers return tensors only); `gates(inputs)` computes it.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import GatedMultimodalUnit

    image, text = np.random.rand(2, 8).astype("float32"), np.random.rand(2, 5).astype("float32")
    fused = GatedMultimodalUnit(4)([image, text])     # [2, 4]
    ```

    References:
        Arevalo et al. 2017, "Gated Multimodal Units for Information Fusion"
        (ICLR workshop), https://arxiv.org/abs/1702.01992
    """

    def __init__(self, units, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = v.check_positive_int("units", units)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        if (
            not isinstance(input_shape, (list, tuple))
            or len(input_shape) < 2
            or not all(isinstance(s, (list, tuple)) for s in input_shape)
        ):
            raise ValueError(
                "Argument `inputs` must be a list of at least 2 modality tensors. "
                f"Received: inputs.shape={input_shape}"
            )
        dims = [s[-1] for s in input_shape]
        if any(d is None for d in dims):
            raise ValueError(
                f"Argument `inputs` must have known last axes. Received: inputs.shape={input_shape}"
            )
        m = len(dims)
        self.modality_kernels = [
            self.add_weight(
                name=f"kernel_{i}", shape=(d, self.units), initializer=self.kernel_initializer
            )
            for i, d in enumerate(dims)
        ]
        self.modality_biases = [
            self.add_weight(name=f"bias_{i}", shape=(self.units,), initializer="zeros")
            for i in range(m)
        ]
        self.gate_kernel = self.add_weight(
            name="gate_kernel",
            shape=(sum(dims), m * self.units),
            initializer=self.kernel_initializer,
        )
        self.gate_bias = self.add_weight(
            name="gate_bias", shape=(m * self.units,), initializer="zeros"
        )

    def gates(self, inputs):
        """The per-modality gates `[batch, ..., M, units]`, summing to 1 over M."""
        logits = (
            ops.matmul(ops.concatenate(list(inputs), axis=-1), self.gate_kernel) + self.gate_bias
        )
        logits = ops.stack(ops.split(logits, len(inputs), axis=-1), axis=-2)
        return ops.softmax(logits, axis=-2)

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != len(self.modality_kernels):
            raise ValueError(
                f"Argument `inputs` must be a list of {len(self.modality_kernels)} tensors. "
                f"Received: inputs={type(inputs).__name__}"
            )
        inputs = [ops.convert_to_tensor(x) for x in inputs]
        hidden = ops.stack(
            [
                ops.tanh(ops.matmul(x, k) + b)
                for x, k, b in zip(inputs, self.modality_kernels, self.modality_biases)
            ],
            axis=-2,
        )
        return ops.sum(self.gates(inputs) * hidden, axis=-2)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
