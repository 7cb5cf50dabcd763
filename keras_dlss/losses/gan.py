"""The adversarial losses of GANs, for the discriminator and the generator.

Each loss is a pair of functions of the discriminator's raw outputs (logits,
or critic scores for the Wasserstein loss), `d = D(x)` on real data and
`f = D(G(z))` on generated data, averaged over the batch:

| `kind` | discriminator loss | generator loss | reference |
|---|---|---|---|
| `"minimax"` | `softplus(-d) + softplus(f)` | `-softplus(f)` = `E log(1 - D(G(z)))` | Goodfellow et al. 2014, eq. 1 |
| `"non_saturating"` | `softplus(-d) + softplus(f)` | `softplus(-f)` = `-E log D(G(z))` | Goodfellow et al. 2014, sec. 3 |
| `"hinge"` | `relu(1 - d) + relu(1 + f)` | `-f` | Lim & Ye 2017; Miyato et al. 2018 |
| `"least_squares"` | `((d - 1)² + f²) / 2` | `(f - 1)² / 2` | Mao et al. 2017 (a-b-c = 0-1-1) |
| `"wasserstein"` | `f - d` | `-f` | Arjovsky et al. 2017 (add a gradient penalty: `ops.gradient_penalty`) |

`softplus(-d) = -log sigmoid(d)` is evaluated from logits, which is exact for
any `d` where `log(sigmoid(d))` underflows. The Loss classes wrap the same
functions for use in ordinary Keras code: `DiscriminatorLoss(kind)` takes
`y_true` = 1 for real and 0 for generated examples (so over a batch holding both
it is half the sum above when the halves are equal); `GeneratorLoss(kind)`
ignores `y_true`.
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of

__all__ = [
    "GAN_LOSSES",
    "DiscriminatorLoss",
    "GeneratorLoss",
    "discriminator_loss",
    "generator_loss",
]

GAN_LOSSES = ("minimax", "non_saturating", "hinge", "least_squares", "wasserstein")


def _real_term(kind, d):
    if kind in ("minimax", "non_saturating"):
        return ops.softplus(-d)
    if kind == "hinge":
        return ops.relu(1.0 - d)
    if kind == "least_squares":
        return 0.5 * ops.square(d - 1.0)
    return -d


def _fake_term(kind, f):
    if kind in ("minimax", "non_saturating"):
        return ops.softplus(f)
    if kind == "hinge":
        return ops.relu(1.0 + f)
    if kind == "least_squares":
        return 0.5 * ops.square(f)
    return f


def _generator_term(kind, f):
    if kind == "minimax":
        return -ops.softplus(f)
    if kind == "non_saturating":
        return ops.softplus(-f)
    if kind == "least_squares":
        return 0.5 * ops.square(f - 1.0)
    return -f


def _float(name, x):
    x = ops.convert_to_tensor(x)
    if "float" not in keras.backend.standardize_dtype(x.dtype):
        x = ops.cast(x, "float32")
    return x


def discriminator_loss(real_logits, fake_logits, kind="non_saturating"):
    """The discriminator's (critic's) loss on a batch of real and one of generated outputs.

    Args:
        real_logits: tensor `[batch, ...]`, discriminator outputs on real data.
        fake_logits: tensor `[batch', ...]`, outputs on generated data.
        kind: str, one of `GAN_LOSSES`. Defaults to `"non_saturating"`.

    Returns:
        A scalar: the mean real term plus the mean generated term (table in
        the module docstring).

    Example:

    ```python
    loss = discriminator_loss(np.array([[3.0]]), np.array([[-3.0]]), kind="hinge")
    assert float(loss) == 0.0  # both outside the margin
    ```

    References:
        Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661; Lim & Ye 2017,
        https://arxiv.org/abs/1705.02894; Mao et al. 2017,
        https://arxiv.org/abs/1611.04076; Arjovsky et al. 2017,
        https://arxiv.org/abs/1701.07875.
    """
    check_one_of("kind", kind, GAN_LOSSES)
    real_logits, fake_logits = (
        _float("real_logits", real_logits),
        _float("fake_logits", fake_logits),
    )
    return ops.mean(_real_term(kind, real_logits)) + ops.mean(_fake_term(kind, fake_logits))


def generator_loss(fake_logits, kind="non_saturating"):
    """The generator's loss on discriminator outputs for generated data.

    Args:
        fake_logits: tensor `[batch, ...]`, `D(G(z))`.
        kind: str, one of `GAN_LOSSES`. Defaults to `"non_saturating"`.

    Returns:
        A scalar (table in the module docstring).

    Example:

    ```python
    loss = generator_loss(np.zeros((4, 1)), kind="non_saturating")
    assert abs(float(loss) - np.log(2.0)) < 1e-6
    ```

    References:
        Goodfellow et al. 2014, https://arxiv.org/abs/1406.2661.
    """
    check_one_of("kind", kind, GAN_LOSSES)
    return ops.mean(_generator_term(kind, _float("fake_logits", fake_logits)))


@keras.saving.register_keras_serializable(package="keras_dlss")
class DiscriminatorLoss(keras.losses.Loss):
    """The discriminator's GAN loss as a Keras `Loss`: `y_true` 1 for real, 0 for generated.

    Per example the loss is the real term where `y_true` is 1 and the
    generated term where it is 0 (module docstring), so `fit` on a labelled
    batch of real and generated examples trains a discriminator.

    Args:
        kind: str, one of `GAN_LOSSES`. Defaults to `"non_saturating"`.
        **kwargs: `name`, `reduction`, `dtype`, as for `keras.losses.Loss`.

    Example:

    ```python
    loss = DiscriminatorLoss("least_squares")
    value = loss(np.array([[1.0], [0.0]]), np.array([[1.0], [0.0]]))
    assert float(value) == 0.0
    ```
    """

    def __init__(self, kind="non_saturating", name="discriminator_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.kind = check_one_of("kind", kind, GAN_LOSSES)

    def call(self, y_true, y_pred):
        y_pred = _float("y_pred", y_pred)
        y_true = ops.cast(ops.reshape(y_true, ops.shape(y_pred)), y_pred.dtype)
        per_example = y_true * _real_term(self.kind, y_pred) + (1.0 - y_true) * _fake_term(
            self.kind, y_pred
        )
        return ops.mean(per_example, axis=-1)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}


@keras.saving.register_keras_serializable(package="keras_dlss")
class GeneratorLoss(keras.losses.Loss):
    """The generator's GAN loss as a Keras `Loss` on `D(G(z))`; `y_true` is ignored.

    Args:
        kind: str, one of `GAN_LOSSES`. Defaults to `"non_saturating"`.
        **kwargs: `name`, `reduction`, `dtype`, as for `keras.losses.Loss`.

    Example:

    ```python
    loss = GeneratorLoss("hinge")
    assert float(loss(np.ones((2, 1)), np.array([[1.0], [3.0]]))) == -2.0
    ```
    """

    def __init__(self, kind="non_saturating", name="generator_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.kind = check_one_of("kind", kind, GAN_LOSSES)

    def call(self, y_true, y_pred):
        return ops.mean(_generator_term(self.kind, _float("y_pred", y_pred)), axis=-1)

    def get_config(self):
        return {**super().get_config(), "kind": self.kind}
