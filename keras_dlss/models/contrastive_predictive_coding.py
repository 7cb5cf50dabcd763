"""Contrastive predictive coding (van den Oord, Li & Vinyals 2018).

An encoder maps each step of a sequence to z_t; an autoregressive GRU
summarizes z_1..z_t into a context c_t; a linear map W_k per prediction step
k predicts z_{t+k} from c_t. Training scores each prediction against the
true z_{t+k} and against the z_{t+k} of the other sequences of the batch (the
negatives), with the InfoNCE loss (`losses.info_nce_loss`): the encoder must
keep what is predictable about the future (slow features: a digit's stroke
continuing from row to row), and may drop local noise.

Design: the encoder is an argument (any network `[B, T, F] -> [B, T, D]`:
`Dense` layers act per step, wrap convolutions in `TimeDistributed`); the
GRU and the predictors are built here from its output width. `call` returns
the contexts `[B, T, context_units]`, which is what a downstream model uses;
`representation(x)` returns the last one, the summary of the whole sequence
that `training.linear_probe` evaluates. Negatives come from the same time
step of the other sequences in the batch, the paper's choice; the batch size
is therefore the number of candidates (chance loss log B).

References:
    - van den Oord, Li & Vinyals, "Representation Learning with Contrastive
      Predictive Coding", 2018. https://arxiv.org/abs/1807.03748
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range, check_rank, static_dim
from keras_dlss.models import _backends
from keras_dlss.models.custom_step import CustomStepModel

__all__ = ["ContrastivePredictiveCoding"]


@keras.saving.register_keras_serializable(package="keras_dlss")
class ContrastivePredictiveCoding(CustomStepModel):
    """Encoder + autoregressive GRU trained to predict future encodings contrastively.

    Trains with `fit(x)` on sequences `x [B, T, F]`; logs `loss` (InfoNCE
    averaged over the prediction steps; log B at chance) and `accuracy` (how
    often the true future is the highest-scoring candidate).

    Args:
        encoder: keras network `[B, T, F] -> [B, T, D]`.
        context_units: int. GRU units. Defaults to `64`.
        prediction_steps: int. Steps ahead predicted, k = 1..K. Defaults to `2`.
        temperature: float > 0. InfoNCE temperature. Defaults to `1.0`.
        **kwargs: `keras.Model` arguments.

    Call: `x [B, T, F] -> contexts [B, T, context_units]`.

    Example:

    ```python
    x = np.random.rand(32, 8, 8).astype("float32")            # digit rows as a sequence
    encoder = keras.Sequential([keras.Input((8, 8)), keras.layers.Dense(16, "relu")])
    cpc = keras_dlss.models.ContrastivePredictiveCoding(encoder, context_units=16)
    cpc.compile(optimizer="adam")
    cpc.fit(x, epochs=1, batch_size=16, verbose=0)
    features = cpc.representation(x)                         # [32, 16]
    ```

    References:
        van den Oord, Li & Vinyals 2018, https://arxiv.org/abs/1807.03748.
    """

    def __init__(self, encoder, context_units=64, prediction_steps=2, temperature=1.0, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(encoder, keras.layers.Layer):
            raise ValueError(
                f"Argument `encoder` must be a keras.Model or keras.layers.Layer. Received: encoder={encoder!r}"
            )
        self.encoder = encoder
        self.context_units = check_positive_int("context_units", context_units)
        self.prediction_steps = check_positive_int("prediction_steps", prediction_steps)
        self.temperature = float(
            check_range("temperature", temperature, 0.0, None, low_inclusive=False)
        )
        self.context_network = keras.layers.GRU(
            self.context_units, return_sequences=True, name="context"
        )
        self.predictors = []
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.accuracy_tracker = keras.metrics.Mean(name="accuracy")
        inputs = getattr(encoder, "inputs", None) if encoder.built else None
        if inputs and len(inputs) == 1:
            self.build((None, *inputs[0].shape[1:]))

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                f"Argument `x` must be sequences [batch, time, features]. Received: x.shape={input_shape}"
            )
        steps = static_dim(input_shape[1])
        if steps is not None and steps <= self.prediction_steps:
            raise ValueError(
                f"Argument `prediction_steps` must be smaller than the sequence length {steps}. "
                f"Received: prediction_steps={self.prediction_steps}"
            )
        if not self.encoder.built:
            self.encoder.build(input_shape)
        width = self.encoder.compute_output_shape(input_shape)[-1]
        self.context_network.build((None, None, width))
        self.predictors = [
            keras.layers.Dense(width, use_bias=False, name=f"predict_{k + 1}")
            for k in range(self.prediction_steps)
        ]
        for layer in self.predictors:
            layer.build((None, None, self.context_units))
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.accuracy_tracker]

    def call(self, x, training=None):
        return self.context_network(self.encoder(x, training=training), training=training)

    def representation(self, x, training=False):
        """The last context `c_T [B, context_units]`: a summary of each whole sequence."""
        x = ops.convert_to_tensor(x)
        check_rank("x", x, 3)
        return self(x, training=training)[:, -1]

    def contrastive_terms(self, x, training=None):
        """`(loss, accuracy)`: InfoNCE and top-1 accuracy, averaged over steps k = 1..K."""
        z = self.encoder(x, training=training)
        c = self.context_network(z, training=training)
        # Under tf.distribute the candidates are the global batch, as on one device: every
        # replica's encodings, gathered (gradients flow back to their replicas).
        candidates = _backends.all_gather(z)
        batch = ops.shape(z)[0]
        own = _backends.replica_rows(ops.arange(batch * _backends.replica_count()))
        losses, accuracies = [], []
        for k, predictor in enumerate(self.predictors, start=1):
            # [time, batch, D]: every time step is a group whose candidates are the batch.
            queries = ops.transpose(predictor(c[:, :-k]), (1, 0, 2))
            keys = ops.transpose(candidates[:, k:], (1, 0, 2))
            # info_nce_logits, with as many keys as the global batch: [time, batch, global].
            logits = ops.matmul(queries, ops.swapaxes(keys, -1, -2)) / self.temperature
            log_probs = ops.log_softmax(logits, axis=-1)
            pick = ops.one_hot(own, ops.shape(logits)[-1], dtype=logits.dtype)
            positive = ops.sum(log_probs * pick, axis=-1)
            losses.append(-ops.mean(positive))
            # Correct when the positive scores at least as high as every candidate.
            best = ops.max(logits, axis=-1)
            hit = ops.sum(logits * pick, axis=-1) >= best
            accuracies.append(ops.mean(ops.cast(hit, "float32")))
        return ops.mean(ops.stack(losses)), ops.mean(ops.stack(accuracies))

    def _logs(self, loss, accuracy):
        self.loss_tracker.update_state(loss)
        self.accuracy_tracker.update_state(accuracy)
        return {m.name: m.result() for m in self.metrics}

    def custom_train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        variables = self.trainable_variables

        def loss_fn():
            loss, accuracy = self.contrastive_terms(x, training=True)
            return self.scale_loss_for_distribution(loss), (loss, accuracy)

        _, (loss, accuracy), grads = self.compute_gradients(loss_fn, variables)
        self.optimizer.apply(grads, variables)
        return self._logs(loss, accuracy)

    def custom_test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._logs(*self.contrastive_terms(x, training=False))

    def get_config(self):
        return {
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "context_units": self.context_units,
            "prediction_steps": self.prediction_steps,
            "temperature": self.temperature,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(
            config["encoder"], custom_objects=custom_objects
        )
        return cls(**config)
