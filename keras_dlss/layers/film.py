"""FiLM: feature-wise linear modulation (Perez et al. 2018, Eq. 1-2).

    FiLM(F | γ, β) = γ ⊙ F + β,

one scale and one shift per feature map, predicted from a conditioning input (in
visual question answering, the question), broadcast over every spatial position.
The layer takes γ and β as inputs rather than predicting them, so the generator
(a Dense on a question encoding, an RNN, anything) stays the user's choice and one
generator can feed several FiLM-ed blocks, as in the paper. γ = 1, β = 0 is the
identity (tested); the paper predicts Δγ and adds 1, which `FiLM(delta_gamma=True)`
does.
"""

import keras
from keras import ops

from keras_dlss import _validation as v


@keras.saving.register_keras_serializable(package="keras_dlss")
class FiLM(keras.layers.Layer):
    """Feature-wise affine conditioning γ ⊙ features + β over the last axis.

    Args:
        delta_gamma: bool. Interpret the scale input as Δγ and use 1 + Δγ (the
            paper's parametrization: a zero-initialized generator starts at the
            identity). Defaults to `False`.

    Call arguments:
        inputs: a list `[features, gamma, beta]`: features `[batch, ..., C]` (e.g.
            `[batch, H, W, C]` feature maps), gamma and beta `[batch, C]`.

    Returns:
        A tensor shaped like `features`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.layers import FiLM

    maps = np.random.rand(2, 4, 4, 3).astype("float32")
    gamma, beta = np.ones((2, 3), "float32"), np.zeros((2, 3), "float32")
    same = FiLM()([maps, gamma, beta])          # the identity
    ```

    References:
        Perez, Strub, de Vries, Dumoulin & Courville 2018, "FiLM: Visual Reasoning
        with a General Conditioning Layer" (AAAI), https://arxiv.org/abs/1709.07871
    """

    def __init__(self, delta_gamma=False, **kwargs):
        super().__init__(**kwargs)
        self.delta_gamma = bool(delta_gamma)

    def build(self, input_shape):
        _check_shapes(input_shape)

    def call(self, inputs):
        if not (isinstance(inputs, (list, tuple)) and len(inputs) == 3):
            raise ValueError(
                "Argument `inputs` must be a list [features, gamma, beta]. "
                f"Received: inputs={type(inputs).__name__}"
            )
        features, gamma, beta = (ops.convert_to_tensor(t) for t in inputs)
        _check_shapes([features.shape, gamma.shape, beta.shape])
        if self.delta_gamma:
            gamma = gamma + 1.0
        expand = (slice(None),) + (None,) * (len(features.shape) - 2)
        return (
            ops.cast(gamma, features.dtype)[expand] * features
            + ops.cast(beta, features.dtype)[expand]
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        return {**super().get_config(), "delta_gamma": self.delta_gamma}


def _check_shapes(shapes):
    features, gamma, beta = (tuple(s) for s in shapes)
    if len(features) < 2:
        raise ValueError(
            f"Argument `features` must have rank >= 2. Received: features.shape={v.shape_str(features)}"
        )
    for name, shape in (("gamma", gamma), ("beta", beta)):
        channels, given = v.static_dim(features[-1]), v.static_dim(shape[-1]) if shape else None
        if len(shape) != 2 or (channels is not None and given is not None and channels != given):
            raise ValueError(
                f"Argument `{name}` must have shape [batch, {channels}] (one value per feature "
                f"channel). Received: {name}.shape={v.shape_str(shape)}"
            )
