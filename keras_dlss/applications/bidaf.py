"""BiDAF span-selection reader (Seo et al. 2017): the model, built from `BiDAFAttention`.

Word embedding -> a shared contextual BiLSTM over context and question (Sec. 2.3) ->
`BiDAFAttention` (Sec. 2.4) -> modelling BiLSTMs (Sec. 2.5) -> start logits from `[G; M]` and
end logits from `[G; M2]`, `M2` one more BiLSTM over `M` (Sec. 2.6). The character CNN and the
highway network of the paper are left out: on the generated set (closed vocabulary) and at the
sizes a CPU trains they add time, not accuracy; word embeddings carry the whole input.

The model outputs one `[batch, 2, T]` tensor of start (row 0) and end (row 1) logits, padding
set to -1e9, so the loss is plain sparse categorical cross-entropy against `[batch, 2]`
`(start, end)` word indices (the paper's sum of the two negative log-likelihoods, halved), and
the exported artifacts have one output. `keras_dlss.decoding.best_span` turns the logits into
the answer span.
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.applications.preset_compile import PresetCompile
from keras_dlss.layers.bidaf_attention import BiDAFAttention

_NEG = -1e9


@keras.saving.register_keras_serializable(package="keras_dlss")
class SpanLogits(keras.layers.Layer):
    """`[start [B, T, 1], end [B, T, 1]]` -> `[B, 2, T]` logits, context padding at -1e9."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        logits = ops.stack([inputs[0][..., 0], inputs[1][..., 0]], axis=1)
        logits = ops.cast(logits, "float32")  # -1e9 overflows float16
        context_mask = None if mask is None else mask[0]
        if context_mask is None:
            return logits
        keep = ops.expand_dims(ops.cast(context_mask, "bool"), 1)
        return ops.where(keep, logits, ops.full_like(logits, _NEG))

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], 2, input_shape[0][1])


@keras.saving.register_keras_serializable(package="keras_dlss")
class BiDAF(PresetCompile, keras.Model):
    """Bidirectional attention flow reader: start and end logits over the context words.

    Inputs are a dict `{"context": [batch, T], "question": [batch, J]}` of word ids (0 is
    padding; any lengths); the output is `[batch, 2, T]` float32 start/end logits.
    `compile()` with no arguments uses Adam, sparse categorical cross-entropy against
    `[batch, 2]` `(start, end)` targets, per-pointer accuracy and XLA.

    Args:
        vocabulary_size: int. Words, padding (0) included.
        embedding_dim: int. Word embedding size. Defaults to `50`.
        units: int. LSTM units per direction (the paper's `d`). Defaults to `32`.
        modeling_layers: int. Modelling BiLSTM layers (the paper uses 2). Defaults to `2`.
        dropout: float in [0, 1). Dropout before each LSTM (the paper's 0.2). Defaults to `0.2`.
        learning_rate: float. Preset Adam learning rate. Defaults to `0.003`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.applications import BiDAF

    context = np.random.randint(1, 30, size=(2, 12))
    question = np.random.randint(1, 30, size=(2, 5))
    model = BiDAF(30, embedding_dim=8, units=4, modeling_layers=1)
    model.compile()  # then model.fit(inputs, spans): spans [batch, 2] (start, end) word indices
    print(model({"context": context, "question": question}).shape)  # (2, 2, 12)
    ```

    References:
        Seo et al. 2017, "Bidirectional Attention Flow for Machine Comprehension",
        https://arxiv.org/abs/1611.01603.
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=50,
        units=32,
        modeling_layers=2,
        dropout=0.2,
        learning_rate=0.003,
        **kwargs,
    ):
        check_positive_int("vocabulary_size", vocabulary_size, minimum=2)
        for name, value in (
            ("embedding_dim", embedding_dim),
            ("units", units),
            ("modeling_layers", modeling_layers),
        ):
            check_positive_int(name, value)
        check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False)
        context = keras.Input((None,), dtype="int32", name="context")
        question = keras.Input((None,), dtype="int32", name="question")
        embed = keras.layers.Embedding(
            vocabulary_size, embedding_dim, mask_zero=True, name="word_embedding"
        )
        drop = keras.layers.Dropout(dropout, name="embedding_dropout")

        def bilstm(name):
            return keras.layers.Bidirectional(
                keras.layers.LSTM(units, return_sequences=True), name=name
            )

        contextual = bilstm("contextual")  # shared by context and question (Sec. 2.3)
        h = contextual(drop(embed(context)))
        u = contextual(drop(embed(question)))
        g = BiDAFAttention(name="attention_flow")([h, u])
        m = g
        for i in range(modeling_layers):
            m = bilstm(f"modeling_{i + 1}")(keras.layers.Dropout(dropout)(m))
        start = keras.layers.Dense(1, name="start")(keras.layers.Concatenate()([g, m]))
        m2 = bilstm("end_lstm")(keras.layers.Dropout(dropout)(m))
        end = keras.layers.Dense(1, name="end")(keras.layers.Concatenate()([g, m2]))
        logits = SpanLogits(name="span_logits")([start, end])
        super().__init__(
            inputs={"context": context, "question": question}, outputs=logits, **kwargs
        )
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.units = units
        self.modeling_layers = modeling_layers
        self.dropout = dropout
        self.learning_rate = learning_rate

    def compile(self, optimizer="auto", loss="auto", metrics="auto", jit_compile=True, **kwargs):
        """Compiles with the preset (Adam, clipnorm 5) unless told otherwise (XLA by default)."""
        self._compile_classifier(
            optimizer,
            loss,
            metrics,
            jit_compile,
            kwargs,
            preset_optimizer=lambda: keras.optimizers.Adam(self.learning_rate, clipnorm=5.0),
            from_logits=True,
            metric_name="pointer_accuracy",
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "modeling_layers": self.modeling_layers,
            "dropout": self.dropout,
            "learning_rate": self.learning_rate,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
