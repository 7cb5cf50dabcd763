"""The fast gradient sign method (Goodfellow, Shlens and Szegedy, ICLR 2015).

    x_adv = clip(x + ε sign(∇_x L(f(x), y)))

one step of steepest ascent in the L∞ ball (the paper's Eq. 3), the attack that
showed adversarial examples come from the networks' linearity.

References:
    Goodfellow et al., 2015. "Explaining and Harnessing Adversarial Examples".
    https://arxiv.org/abs/1412.6572
"""

from keras import ops

from keras_dlss.adversarial import _common
from keras_dlss.interpret import _core


def fgsm(
    model,
    x,
    y,
    eps,
    *,
    clip_min=0.0,
    clip_max=1.0,
    targeted=False,
    from_logits=None,
    jit_compile=True,
):
    """Fast gradient sign method adversarial examples.

    Args:
        model: a classifier `keras.Model` (logits or probabilities).
        x: float array `[B, ...]`, clean inputs in `[clip_min, clip_max]`.
        y: int array `[B]`: true labels (or target labels with `targeted`).
        eps: float >= 0. L∞ budget.
        clip_min: float or None. Lower end of the valid input range. Defaults to `0.0`.
        clip_max: float or None. Upper end. Defaults to `1.0`.
        targeted: bool. Move toward `y` instead of away. Defaults to `False`.
        from_logits: bool or None. None infers it from one forward pass.
        jit_compile: bool. Defaults to `True`.

    Returns:
        Adversarial examples shaped like `x`.

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    x_adv = keras_dlss.adversarial.fgsm(model, np.full((2, 4), 0.5, "float32"), np.array([0, 2]), 0.1)
    ```

    References:
        Goodfellow et al., 2015. https://arxiv.org/abs/1412.6572
    """
    eps = _common.check_eps("eps", eps)
    x, y, clip, logits = _common.attack_inputs(model, x, y, clip_min, clip_max, from_logits)
    loss = _common.loss_fn(model, logits)
    sign = -1.0 if targeted else 1.0

    def program(x, y, eps):
        return _common.ascent_step(loss, x, x, y, eps, eps, "inf", clip, sign)

    key = ("fgsm", clip, sign, logits)
    eps_t = ops.convert_to_tensor(eps, x.dtype)
    return _core.compiled(model, key, program, jit_compile)(x, y, eps_t)
