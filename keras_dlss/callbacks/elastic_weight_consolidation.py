"""A callback that consolidates a task with elastic weight consolidation when training ends.

Kirkpatrick et al., "Overcoming catastrophic forgetting in neural networks",
PNAS 2017 (https://arxiv.org/abs/1612.00796). The penalty itself is
`keras_dlss.regularizers.ElasticWeightConsolidation`; this callback is the
"after task A" step of a task sequence: pass it to task A's `fit`, and task B's
`fit` trains with the penalty that keeps what A needed.
"""

import keras

from keras_dlss._validation import check_range
from keras_dlss.regularizers.elastic_weight_consolidation import consolidate


class ElasticWeightConsolidation(keras.callbacks.Callback):
    """Installs EWC penalties anchored at the weights reached when `fit` ends.

    Args:
        x: the task's inputs (the Fisher is estimated on them).
        y: optional int labels (empirical Fisher); None samples labels from the
            model. Defaults to `None`.
        strength: float >= 0. λ of the penalty. Defaults to `100.0`.
        outputs: `"probabilities"` or `"logits"`: what the model outputs.
            Defaults to `"probabilities"`.
        num_samples: int. Examples used for the Fisher. Defaults to `200`.
        seed: int. Defaults to `0`.

    Example:

    ```python
    import numpy as np
    import keras
    from keras_dlss.callbacks import ElasticWeightConsolidation

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x_a, y_a = np.random.rand(32, 4).astype("float32"), np.random.randint(0, 3, 32)
    model.fit(x_a, y_a, epochs=1, verbose=0,
              callbacks=[ElasticWeightConsolidation(x_a, strength=10.0, num_samples=16)])
    model.fit(x_a[::-1], y_a, epochs=1, verbose=0)   # task B, with the penalty in the loss
    ```

    References:
        Kirkpatrick et al., 2017, https://arxiv.org/abs/1612.00796
    """

    def __init__(self, x, y=None, strength=100.0, outputs="probabilities", num_samples=200, seed=0):
        super().__init__()
        self.x, self.y = x, y
        self.strength = float(check_range("strength", strength, 0.0))
        self.outputs = outputs
        self.num_samples = num_samples
        self.seed = seed
        self.regularizers = None

    def on_train_end(self, logs=None):
        self.regularizers = consolidate(
            self.model,
            self.x,
            self.y,
            strength=self.strength,
            outputs=self.outputs,
            num_samples=self.num_samples,
            seed=self.seed,
        )
