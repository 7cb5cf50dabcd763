"""`keras-dlss train --tensorboard DIR`: what a run writes for TensorBoard.

TensorFlow-specific by design (the event-file writer is `tf.summary`; TensorFlow
is a dependency on every backend, so this works under JAX and PyTorch too).
Scalars (every metric, train and validation, and the learning rate) and weight
histograms come from `keras.callbacks.TensorBoard`; pictures come from the
application: `Task.tensorboard_images(model, data)` returns named image
batches (attention maps, generated samples, segmentation overlays), written at
the end of every epoch so their evolution can be scrubbed through.
"""

import os

import numpy as np


def tensorboard_callbacks(keras, task, data, log_dir, histogram_freq=1):
    """The callbacks that log a run of `task` under `log_dir`."""
    return [
        keras.callbacks.TensorBoard(
            log_dir=log_dir, histogram_freq=histogram_freq, write_graph=False
        ),
        _image_logger(keras, task, data, log_dir),
    ]


def as_image_batch(images):
    """`images` as a float32 [N, H, W, C] batch in [0, 1] with C in {1, 3, 4}.

    Accepts [H, W], [N, H, W] or [N, H, W, C]; each image is min-max scaled on
    its own when its values leave [0, 1] (attention maps, logits).
    """
    x = np.asarray(images, dtype="float32")
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4):
        raise ValueError(
            "Argument `images` must be [H, W], [N, H, W] or [N, H, W, C] with C in 1, 3, 4. "
            f"Received: images.shape={np.shape(images)}"
        )
    low = x.min(axis=(1, 2, 3), keepdims=True)
    high = x.max(axis=(1, 2, 3), keepdims=True)
    outside = (low < 0.0) | (high > 1.0)
    scaled = (x - low) / np.maximum(high - low, 1e-12)
    return np.where(outside, scaled, x)


def _image_logger(keras, task, data, log_dir):
    class TensorBoardImages(keras.callbacks.Callback):
        """Writes `task.tensorboard_images(model, data)` at the end of each epoch."""

        def __init__(self):
            super().__init__()
            self._writer = None

        def on_epoch_end(self, epoch, logs=None):
            images = task.tensorboard_images(self.model, data)
            if not images:
                return
            import tensorflow as tf

            if self._writer is None:
                self._writer = tf.summary.create_file_writer(os.path.join(log_dir, "images"))
            with self._writer.as_default():
                for name, batch in images.items():
                    tf.summary.image(name, as_image_batch(batch), step=epoch, max_outputs=8)
            self._writer.flush()

        def on_train_end(self, logs=None):
            if self._writer is not None:
                self._writer.close()

    return TensorBoardImages()
