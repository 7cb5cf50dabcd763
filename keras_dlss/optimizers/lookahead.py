"""Lookahead optimizer wrapper.

The inner ("fast") optimizer takes `k` steps; then the slow weights move a
fraction `alpha` of the way towards the fast weights and the fast weights are
reset to them (Zhang et al. 2019, Algorithm 1):

    phi <- phi + alpha * (theta - phi);   theta <- phi     every k steps

The slow weights start at the initial weights. The update is written per
variable (`update_step`), so Keras' own machinery runs it under
`tf.distribute` strategies and XLA; no Python branching on the step counter.

References:
    Zhang et al., 2019. "Lookahead Optimizer: k steps forward, 1 step back".
    https://arxiv.org/abs/1907.08610
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range


def lookahead_sync(fast, slow, step, sync_period, slow_step_size):
    """One Lookahead synchronisation check (pure).

    Args:
        fast: tensor. Fast weights after the inner step.
        slow: tensor. Slow weights.
        step: int tensor. 1-based count of inner steps taken so far.
        sync_period: int. `k`.
        slow_step_size: float. `alpha`.

    Returns:
        `(new_fast, new_slow)`: unchanged unless `step % sync_period == 0`.
    """
    sync = ops.equal(ops.mod(step, sync_period), 0)
    moved = slow + ops.cast(slow_step_size, slow.dtype) * (fast - slow)
    return ops.where(sync, moved, fast), ops.where(sync, moved, slow)


_FORWARDED = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm")


@keras.saving.register_keras_serializable(package="keras_dlss")
class Lookahead(keras.optimizers.Optimizer):
    """Lookahead around any Keras optimizer.

    The inner optimizer's gradient clipping and weight decay settings are taken
    over by the wrapper (they live in `Optimizer.apply`, which the wrapper
    runs), and its learning rate (or schedule) is used unchanged.

    Args:
        optimizer: the inner `keras.optimizers.Optimizer` (or identifier).
        sync_period: int >= 1. `k`, inner steps between synchronisations.
            Defaults to `5`.
        slow_step_size: float in (0, 1]. `alpha`. Defaults to `0.5`.
        name: string. Defaults to `"lookahead"`.

    Example:

    ```python
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras_dlss.optimizers.Lookahead(keras.optimizers.Adam(1e-3)), loss="mse")
    ```

    References:
        Zhang et al., 2019. https://arxiv.org/abs/1907.08610
    """

    def __init__(self, optimizer, sync_period=5, slow_step_size=0.5, name="lookahead", **kwargs):
        check_positive_int("sync_period", sync_period)
        check_range("slow_step_size", slow_step_size, 0.0, 1.0, low_inclusive=False)
        inner = keras.optimizers.get(optimizer)
        for key in _FORWARDED:
            kwargs.setdefault(key, getattr(inner, key, None))
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.inner_optimizer = inner
        self.sync_period = int(sync_period)
        self.slow_step_size = float(slow_step_size)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.inner_optimizer.build(var_list)
        self._slow = [self.add_variable_from_reference(v, name="slow") for v in var_list]

    @property
    def variables(self):
        return self._variables + self.inner_optimizer.variables

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        if "inner_optimizer" in self.__dict__:
            self.inner_optimizer.learning_rate = value

    def update_step(self, gradient, variable, learning_rate):
        slow = self._slow[self._get_variable_index(variable)]
        first = ops.equal(self.iterations, 0)
        self.assign(slow, ops.where(first, variable, slow))
        inner_lr = ops.cast(self.inner_optimizer.learning_rate, variable.dtype)
        self.inner_optimizer.update_step(gradient, variable, inner_lr)
        fast, new_slow = lookahead_sync(
            variable, slow, self.iterations + 1, self.sync_period, self.slow_step_size
        )
        self.assign(variable, fast)
        self.assign(slow, new_slow)

    def apply(self, grads, trainable_variables=None):
        result = super().apply(grads, trainable_variables)
        # update_step bypasses the inner optimizer's own `apply`, which is what
        # advances its step counter (Adam's bias correction, LR schedules).
        self.inner_optimizer.iterations.assign_add(1)
        return result

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self):
        config = super().get_config()
        for key in ("learning_rate", *_FORWARDED):
            config.pop(key, None)
        config.update(
            optimizer=keras.saving.serialize_keras_object(self.inner_optimizer),
            sync_period=self.sync_period,
            slow_step_size=self.slow_step_size,
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer"] = keras.saving.deserialize_keras_object(
            config["optimizer"], custom_objects=custom_objects
        )
        return cls(**config)
