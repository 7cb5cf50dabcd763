"""Decay schedules of the teacher-forcing probability for scheduled sampling.

Bengio, Vinyals, Jaitly & Shazeer 2015, "Scheduled Sampling for Sequence
Prediction with Recurrent Neural Networks" (https://arxiv.org/abs/1506.03099),
section 2.4: epsilon_i, the probability of feeding the true previous token at
training step (or epoch) i, decays from 1 towards 0:

- linear:          epsilon_i = max(minimum, k - c * i)
- exponential:     epsilon_i = k ** i             (k < 1)
- inverse sigmoid: epsilon_i = k / (k + exp(i / k))   (k >= 1)
"""

import keras
from keras import ops

from keras_dlss._validation import check_range


class SamplingSchedule:
    """Base class: `schedule(step) -> epsilon` (a float32 scalar tensor), serializable."""

    def __call__(self, step):
        return ops.clip(self.epsilon(ops.cast(step, "float32")), 0.0, 1.0)

    def epsilon(self, step):
        raise NotImplementedError

    def get_config(self):
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="keras_dlss")
class LinearDecay(SamplingSchedule):
    """epsilon_i = max(minimum, k - c * i) (Bengio et al. 2015, section 2.4).

    Args:
        k: float in [0, 1]. Starting probability. Defaults to `1.0`.
        c: float >= 0. Decrease per step. Defaults to `1e-3`.
        minimum: float in [0, 1]. Floor of the probability (the paper's
            epsilon, "how much we want to give the model the truth"). Defaults
            to `0.0`.

    Example:

    ```python
    from keras_dlss.schedules import LinearDecay

    schedule = LinearDecay(k=1.0, c=0.01, minimum=0.2)
    float(schedule(50))  # 0.5
    ```

    References:
        - [Bengio et al., 2015](https://arxiv.org/abs/1506.03099)
    """

    def __init__(self, k=1.0, c=1e-3, minimum=0.0):
        self.k = float(check_range("k", k, 0.0, 1.0))
        self.c = float(check_range("c", c, 0.0))
        self.minimum = float(check_range("minimum", minimum, 0.0, 1.0))

    def epsilon(self, step):
        return ops.maximum(self.minimum, self.k - self.c * step)

    def get_config(self):
        return {"k": self.k, "c": self.c, "minimum": self.minimum}


@keras.saving.register_keras_serializable(package="keras_dlss")
class ExponentialDecay(SamplingSchedule):
    """epsilon_i = k ** i (Bengio et al. 2015, section 2.4).

    Args:
        k: float in (0, 1]. Decay per step. Defaults to `0.999`.

    Example:

    ```python
    from keras_dlss.schedules import ExponentialDecay

    float(ExponentialDecay(0.99)(100))  # 0.366
    ```

    References:
        - [Bengio et al., 2015](https://arxiv.org/abs/1506.03099)
    """

    def __init__(self, k=0.999):
        self.k = float(check_range("k", k, 0.0, 1.0, low_inclusive=False))

    def epsilon(self, step):
        return ops.power(self.k, step)

    def get_config(self):
        return {"k": self.k}


@keras.saving.register_keras_serializable(package="keras_dlss")
class InverseSigmoidDecay(SamplingSchedule):
    """epsilon_i = k / (k + exp(i / k)) (Bengio et al. 2015, section 2.4).

    Stays near 1 for the first ~k·log(k) steps, then falls like a sigmoid.

    Args:
        k: float >= 1. Larger is slower. Defaults to `100.0`.

    Example:

    ```python
    from keras_dlss.schedules import InverseSigmoidDecay

    float(InverseSigmoidDecay(10.0)(0))  # 0.909
    ```

    References:
        - [Bengio et al., 2015](https://arxiv.org/abs/1506.03099)
    """

    def __init__(self, k=100.0):
        self.k = float(check_range("k", k, 1.0))

    def epsilon(self, step):
        # k / (k + exp(i/k)) = sigmoid(log k - i/k): no overflow for large i.
        return ops.sigmoid(ops.log(self.k) - step / self.k)

    def get_config(self):
        return {"k": self.k}
