"""Hierarchical multiscale LSTM functional core (Chung et al. 2017).

Two pieces the `HierarchicalMultiscaleLSTMCell` is built from:

- `straight_through_boundary`: the binary boundary detector. Forward, the
  step function `z = 1[hard_sigmoid(a * s) > 0.5] = 1[s > 0]`; backward, the
  gradient of the hard sigmoid `max(0, min(1, (a * s + 1) / 2))`, i.e.
  `a / 2` where `|a * s| < 1` and 0 elsewhere (the straight-through estimator
  with slope annealing, Chung et al. 2017, section 3.3).
- `hmlstm_update`: the COPY / UPDATE / FLUSH choice of eqs. (2)-(4), as a
  convex combination of the three candidate states, with the coefficients
  (0 or 1) given by the boundaries of the layer below at `t` and of the layer
  itself at `t - 1`.

References:
    - Chung, Ahn & Bengio, "Hierarchical Multiscale Recurrent Neural
      Networks", ICLR 2017. https://arxiv.org/abs/1609.01704
    - Bengio, Léonard & Courville, "Estimating or Propagating Gradients
      Through Stochastic Neurons for Conditional Computation", 2013.
      https://arxiv.org/abs/1308.3432
"""

from keras import ops

__all__ = ["hmlstm_update", "straight_through_boundary"]


def straight_through_boundary(preactivation, slope=1.0, straight_through=True):
    """Binary boundary `1[s > 0]` with the hard-sigmoid straight-through gradient.

    Args:
        preactivation: float tensor `s`, any shape.
        slope: float or scalar tensor `a > 0`: the hard sigmoid's slope; annealed
            upwards during training so the backward pass approaches the step.
        straight_through: bool. When `False` the boundary is a constant for
            autodiff (gradient 0, the true derivative almost everywhere).

    Returns:
        A tensor like `preactivation` holding 0.0 or 1.0.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops.hierarchical_multiscale import straight_through_boundary

    print(np.asarray(straight_through_boundary(np.array([-2.0, -0.1, 0.3]), 1.0)))
    # [0. 0. 1.]
    ```

    References:
        Chung et al., ICLR 2017, section 3.3, https://arxiv.org/abs/1609.01704.
    """
    s = ops.convert_to_tensor(preactivation)
    slope = ops.cast(slope, s.dtype)
    soft = ops.clip((slope * s + 1.0) / 2.0, 0.0, 1.0)
    hard = ops.cast(ops.greater(soft, 0.5), s.dtype)
    if not straight_through:
        return ops.stop_gradient(hard)
    return soft + ops.stop_gradient(hard - soft)


def hmlstm_update(c_prev, h_prev, z_prev, z_below, gates):
    """One HM-LSTM layer's COPY / UPDATE / FLUSH step (Chung et al. 2017, eqs. 2-4).

    Args:
        c_prev: `[B, U]` cell state at `t - 1`.
        h_prev: `[B, U]` hidden state at `t - 1`.
        z_prev: `[B, 1]` this layer's boundary at `t - 1` (1 = FLUSH).
        z_below: `[B, 1]` the boundary of the layer below at `t` (1 for the
            bottom layer: it reads the input every step).
        gates: `(f, i, o, g)` activated gates, each `[B, U]`.

    Returns:
        `(c, h)`: FLUSH `c = i * g` when `z_prev = 1`; else UPDATE
        `c = f * c_prev + i * g` when `z_below = 1`; else COPY `c, h = c_prev,
        h_prev`. `h = o * tanh(c)` unless copied.

    Example:

    ```python
    import numpy as np
    from keras_dlss.ops.hierarchical_multiscale import hmlstm_update

    ones, zero = np.ones((1, 2)), np.zeros((1, 1))
    c, h = hmlstm_update(ones, ones, zero, zero, (ones, ones, ones, ones))
    print(np.asarray(c))   # COPY: [[1. 1.]]
    ```

    References:
        Chung et al., ICLR 2017, eqs. 2-4, https://arxiv.org/abs/1609.01704.
    """
    c_prev, h_prev, z_prev, z_below = (
        ops.convert_to_tensor(t) for t in (c_prev, h_prev, z_prev, z_below)
    )
    f, i, o, g = (ops.convert_to_tensor(t) for t in gates)
    flush = z_prev
    update = (1.0 - z_prev) * z_below
    copy = (1.0 - z_prev) * (1.0 - z_below)
    c = flush * (i * g) + update * (f * c_prev + i * g) + copy * c_prev
    h = copy * h_prev + (1.0 - copy) * (o * ops.tanh(c))
    return c, h
