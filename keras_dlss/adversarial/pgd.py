"""Projected gradient descent on the loss (Madry et al., ICLR 2018).

The paper's inner maximization, max_{δ ∈ S} L(θ, x + δ, y), solved by projected
steepest ascent (its Eq. 2): sign steps in the L∞ ball, normalized-gradient
steps in the L2 ball, each followed by the projection onto the ball and a clip
to the valid input range. A uniform random start inside the ball and several
restarts (keeping, per example, the restart with the highest loss) are the
paper's Section 3 recipe. The steps are an `ops.fori_loop` inside one compiled
program; the restarts are a static loop in the same program.

`pgd_examples` is the traceable core, called by `AdversarialTrainingModel`
inside its compiled training step.

References:
    Madry et al., 2018. "Towards Deep Learning Models Resistant to Adversarial
    Attacks". https://arxiv.org/abs/1706.06083
"""

from keras import ops

from keras_dlss._validation import check_positive_int
from keras_dlss.adversarial import _common
from keras_dlss.interpret import _core


def pgd_examples(loss, x, y, starts, eps, step_size, steps, norm, clip, sign=1.0):
    """Traceable PGD: `starts` is `[R, B, ...]` (one start per restart); returns `[B, ...]`."""
    best, best_loss = x, None
    for r in range(starts.shape[0]):
        x_adv = x + starts[r]
        if clip is not None:
            x_adv = ops.clip(x_adv, clip[0], clip[1])

        def body(i, x_adv):
            return _common.ascent_step(loss, x, x_adv, y, eps, step_size, norm, clip, sign)

        x_adv = ops.fori_loop(0, steps, body, x_adv)
        if starts.shape[0] == 1:
            return x_adv
        value = loss(x_adv, y) * sign
        if best_loss is None:
            best, best_loss = x_adv, value
            continue
        better = ops.reshape(value > best_loss, (-1,) + (1,) * (len(x.shape) - 1))
        best = ops.where(better, x_adv, best)
        best_loss = ops.maximum(value, best_loss)
    return best


def pgd(
    model,
    x,
    y,
    eps,
    *,
    step_size=None,
    steps=10,
    norm="inf",
    random_start=True,
    restarts=1,
    clip_min=0.0,
    clip_max=1.0,
    targeted=False,
    from_logits=None,
    seed=0,
    jit_compile=True,
):
    """Projected gradient descent adversarial examples (L∞ or L2).

    Args:
        model: a classifier `keras.Model` (logits or probabilities).
        x: float array `[B, ...]`, clean inputs in `[clip_min, clip_max]`.
        y: int array `[B]`: true labels (or target labels with `targeted`).
        eps: float >= 0. Radius of the ball.
        step_size: float >= 0 or None. Ascent step; None is `2.5 * eps / steps`
            (Madry et al.). Defaults to `None`.
        steps: int >= 1. Ascent steps. Defaults to `10`.
        norm: `"inf"` or `2`. Defaults to `"inf"`.
        random_start: bool. Start uniformly inside the ball. Defaults to `True`.
        restarts: int >= 1. Random restarts; the strongest per example is kept.
            Defaults to `1`.
        clip_min: float or None. Lower end of the valid range. Defaults to `0.0`.
        clip_max: float or None. Upper end. Defaults to `1.0`.
        targeted: bool. Move toward `y`. Defaults to `False`.
        from_logits: bool or None. None infers it from one forward pass.
        seed: int. Seed of the random starts. Defaults to `0`.
        jit_compile: bool. Defaults to `True`.

    Returns:
        Adversarial examples shaped like `x`, within `eps` of `x` and in range.

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    x = np.full((2, 4), 0.5, "float32")
    x_adv = keras_dlss.adversarial.pgd(model, x, np.array([0, 2]), 0.1, steps=3)
    ```

    References:
        Madry et al., 2018. https://arxiv.org/abs/1706.06083
    """
    eps = _common.check_eps("eps", eps)
    steps = check_positive_int("steps", steps)
    restarts = check_positive_int("restarts", restarts)
    norm = _common.check_norm(norm)
    step_size = (
        2.5 * eps / steps if step_size is None else _common.check_eps("step_size", step_size)
    )
    x, y, clip, logits = _common.attack_inputs(model, x, y, clip_min, clip_max, from_logits)
    loss = _common.loss_fn(model, logits)
    sign = -1.0 if targeted else 1.0
    shape = tuple(x.shape)
    if random_start:
        starts = ops.stack(
            [_common.random_start(shape, eps, norm, seed + r, x.dtype) for r in range(restarts)]
        )
    else:
        starts = ops.zeros((restarts,) + shape, x.dtype)

    def program(x, y, starts, eps, step_size):
        return pgd_examples(loss, x, y, starts, eps, step_size, steps, norm, clip, sign)

    key = ("pgd", steps, norm, restarts, clip, sign, logits)
    run = _core.compiled(model, key, program, jit_compile)
    return run(
        x, y, starts, ops.convert_to_tensor(eps, x.dtype), ops.convert_to_tensor(step_size, x.dtype)
    )
