"""Stochastic weight averaging (SWA) callback.

From epoch `start_epoch` on, the trainable weights at the end of every
`frequency`-th epoch are averaged (an exact running mean, kept in float64):

    w_swa <- (n * w_swa + w) / (n + 1)

and at the end of training the model's weights are replaced by the average.
Batch normalization: the averaged weights need their own activation
statistics, so when `batch_norm_data` is given the moving means/variances of
every `BatchNormalization` layer are recomputed on it after the swap (an exact
average over its batches, like `torch.optim.swa_utils.update_bn`). Without it
the statistics of the last epoch are kept, which can hurt models with BN.

References:
    Izmailov et al., 2018. "Averaging Weights Leads to Wider Optima and Better
    Generalization". https://arxiv.org/abs/1803.05407
"""

import keras
import numpy as np

from keras_dlss._validation import check_positive_int


def _walk(layer):
    for sub in getattr(layer, "layers", []):
        yield sub
        yield from _walk(sub)


def update_batch_norm(model, x, batch_size=32):
    """Recomputes every BatchNormalization layer's moving statistics on `x`.

    Each layer's moving mean and variance become the average of the batch
    statistics over the batches of `x` (momentum is set to 0 for the passes and
    restored afterwards).

    Args:
        model: a built `keras.Model`.
        x: input array (or list of arrays) to run through the model.
        batch_size: int >= 1. Defaults to `32`.

    Returns:
        The number of BatchNormalization layers updated.
    """
    check_positive_int("batch_size", batch_size)
    layers = [layer for layer in _walk(model) if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        return 0
    momenta = [layer.momentum for layer in layers]
    sums = [
        [np.zeros(layer.moving_mean.shape), np.zeros(layer.moving_variance.shape)]
        for layer in layers
    ]
    arrays = x if isinstance(x, (list, tuple)) else [x]
    n = len(arrays[0])
    batches = 0
    try:
        for layer in layers:
            layer.momentum = 0.0
        for start in range(0, n, batch_size):
            chunk = [a[start : start + batch_size] for a in arrays]
            model(chunk if isinstance(x, (list, tuple)) else chunk[0], training=True)
            for layer, acc in zip(layers, sums):
                acc[0] += layer.moving_mean.numpy()
                acc[1] += layer.moving_variance.numpy()
            batches += 1
    finally:
        for layer, m in zip(layers, momenta):
            layer.momentum = m
    for layer, acc in zip(layers, sums):
        layer.moving_mean.assign(acc[0] / batches)
        layer.moving_variance.assign(acc[1] / batches)
    return len(layers)


@keras.saving.register_keras_serializable(package="keras_dlss")
class StochasticWeightAveraging(keras.callbacks.Callback):
    """Averages the weights seen from `start_epoch` on and swaps them in at the end.

    Args:
        start_epoch: int >= 0. First (0-based) epoch whose end-of-epoch weights
            enter the average.
        frequency: int >= 1. Average every `frequency` epochs. Defaults to `1`.
        swap_at_end: bool. Replace the model's weights by the average in
            `on_train_end`. Defaults to `True`.
        batch_norm_data: optional input array used to recompute batch
            normalization statistics after the swap.
        batch_size: int. Batch size for the batch-norm pass. Defaults to `32`.

    Attributes:
        num_averaged: number of snapshots in the average.
        averaged_weights: list of float64 arrays (the running average).

    Example:

    ```python
    swa = keras_dlss.callbacks.StochasticWeightAveraging(start_epoch=5)
    model.fit(x, y, epochs=10, callbacks=[swa])  # model now holds the average
    ```

    References:
        Izmailov et al., 2018. https://arxiv.org/abs/1803.05407
    """

    def __init__(
        self, start_epoch, frequency=1, swap_at_end=True, batch_norm_data=None, batch_size=32
    ):
        super().__init__()
        check_positive_int("start_epoch", start_epoch, minimum=0)
        check_positive_int("frequency", frequency)
        check_positive_int("batch_size", batch_size)
        self.start_epoch = int(start_epoch)
        self.frequency = int(frequency)
        self.swap_at_end = bool(swap_at_end)
        self.batch_norm_data = batch_norm_data
        self.batch_size = int(batch_size)
        self.num_averaged = 0
        self.averaged_weights = None

    def on_train_begin(self, logs=None):
        self.num_averaged = 0
        self.averaged_weights = None

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_epoch or (epoch - self.start_epoch) % self.frequency:
            return
        current = [np.asarray(v.numpy(), dtype=np.float64) for v in self.model.trainable_variables]
        if self.averaged_weights is None:
            self.averaged_weights = current
        else:
            n = self.num_averaged
            self.averaged_weights = [
                (n * a + w) / (n + 1) for a, w in zip(self.averaged_weights, current)
            ]
        self.num_averaged += 1

    def swap_weights(self):
        """Assigns the averaged weights to the model (no-op before any snapshot)."""
        if self.averaged_weights is None:
            return
        for v, a in zip(self.model.trainable_variables, self.averaged_weights):
            v.assign(a.astype(v.dtype))
        if self.batch_norm_data is not None:
            update_batch_norm(self.model, self.batch_norm_data, self.batch_size)

    def on_train_end(self, logs=None):
        if self.swap_at_end:
            self.swap_weights()

    def get_config(self):
        return {
            "start_epoch": self.start_epoch,
            "frequency": self.frequency,
            "swap_at_end": self.swap_at_end,
            "batch_size": self.batch_size,
        }
