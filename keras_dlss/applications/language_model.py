"""RNN language model (Mikolov et al. 2010) with tied embeddings and conditioning.

`RNNLanguageModel` embeds tokens, runs `num_layers` recurrent layers (LSTM,
GRU or the multiplicative LSTM of Krause et al. 2016; or the deeper RNNs: a
stack of LSTMs with Graves' 2013 skip connections, or the hierarchical
multiscale LSTM of Chung et al. 2017) and predicts the next token. With `tie_weights=True` the output layer reuses the input embedding
matrix (Press & Wolf 2017; Inan et al. 2017): fewer parameters and lower
perplexity; when `units != embedding_dim` a linear projection to
`embedding_dim` precedes the tied output. With `conditioned=True` the model
takes `{"tokens", "condition"}` and a `tanh` projection of the condition
vector is each layer's initial state (the conditioned language models of the
curriculum: the same recurrence, a different starting point).

Evaluation: `log_likelihood` returns each sequence's log-probability; the
per-word cross-entropy and perplexity are `keras_dlss.metrics.Perplexity`
(compiled in by `compile()`), over non-padding targets. Generation runs
through `keras_dlss.decoding` (`greedy_decode`, `beam_search`, `sample`) with
`initial_decoding_state` and `step`, one token per step, the RNN states
carried between steps.

References:
    - Mikolov et al., "Recurrent neural network based language model",
      Interspeech 2010.
    - Press & Wolf, "Using the Output Embedding to Improve Language Models",
      EACL 2017. https://arxiv.org/abs/1608.05859
    - Krause et al., "Multiplicative LSTM for sequence modelling", 2016.
      https://arxiv.org/abs/1609.07959
    - Graves, "Generating Sequences With Recurrent Neural Networks", 2013
      (eqs. 11-12, skip connections). https://arxiv.org/abs/1308.0850
    - Chung, Ahn & Bengio, "Hierarchical Multiscale Recurrent Neural
      Networks", ICLR 2017. https://arxiv.org/abs/1609.01704
    - Gal & Ghahramani, "A Theoretically Grounded Application of Dropout in
      Recurrent Neural Networks", NeurIPS 2016. https://arxiv.org/abs/1512.05287
    - Merity, Keskar & Socher, "Regularizing and Optimizing LSTM Language
      Models", ICLR 2018. https://arxiv.org/abs/1708.02182
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.applications.preset_compile import PresetCompile
from keras_dlss.layers._hoisted_lstm import HoistedLSTM
from keras_dlss.layers.hierarchical_multiscale_lstm import HierarchicalMultiscaleLSTMCell
from keras_dlss.layers.multiplicative_lstm import MultiplicativeLSTMCell
from keras_dlss.metrics.perplexity import Perplexity

__all__ = ["RNNLanguageModel"]

CELLS = ("lstm", "gru", "mlstm", "stacked", "hmlstm")
# Cells whose output concatenates every layer's state: `num_layers * units` wide.
_ALL_LAYERS_OUT = ("stacked", "hmlstm")


def _recurrent_layer(cell, units, name, dtype, num_layers=1, recurrent_dropout=0.0):
    if cell in ("lstm", "stacked", "gru"):
        # HoistedLSTM: keras.layers.LSTM with a faster training step on CPU (same weights).
        layer = keras.layers.GRU if cell == "gru" else HoistedLSTM
        return layer(
            units,
            recurrent_dropout=recurrent_dropout,
            return_sequences=True,
            return_state=True,
            name=name,
            dtype=dtype,
        )
    if cell == "hmlstm":
        recurrent_cell = HierarchicalMultiscaleLSTMCell(units, num_layers=num_layers, dtype=dtype)
    else:
        recurrent_cell = MultiplicativeLSTMCell(units, dtype=dtype)
    return keras.layers.RNN(
        recurrent_cell,
        return_sequences=True,
        return_state=True,
        name=name,
        dtype=dtype,
    )


@keras.saving.register_keras_serializable(package="keras_dlss")
class RNNLanguageModel(PresetCompile, keras.Model):
    """Word- or character-level RNN language model: tokens `[B, T]` -> next-token logits.

    Args:
        vocabulary_size: int >= 2. Id 0 is padding (masked in the loss and metrics).
        level: `"word"` or `"char"`: recorded for decoding text. Defaults to `"word"`.
        cell: `"lstm"`, `"gru"`, `"mlstm"`, `"stacked"` (LSTM layers with
            Graves' skip connections, as `layers.StackedRNN(connections="skip")`:
            the embeddings feed every layer, every layer feeds the output) or
            `"hmlstm"` (one `HierarchicalMultiscaleLSTMCell` of `num_layers`
            layers; anneal `model.slope` during training). Defaults to `"lstm"`.
        embedding_dim: int. Defaults to `128`.
        units: int. Units per recurrent layer. Defaults to `256`.
        num_layers: int. Defaults to `1`. The output of `"stacked"` and
            `"hmlstm"` is all layers' states, `num_layers * units` wide.
        dropout: float in [0, 1). Dropout on embeddings and between layers.
            Defaults to `0.0`.
        embedding_dropout: float in [0, 1). Word-type dropout on the input
            embeddings (Gal & Ghahramani 2016; Merity et al. 2018): each
            training call drops whole vocabulary entries, so every occurrence
            of a dropped word in the batch is zeroed at once, and scales the
            kept ones by `1 / (1 - embedding_dropout)`. Defaults to `0.0`.
        locked_dropout: bool. `dropout` draws one mask per sequence, shared
            by all time steps (variational or "locked" dropout; Gal &
            Ghahramani 2016; Merity et al. 2018), instead of a new mask per
            step. Defaults to `False`.
        recurrent_dropout: float in [0, 1). Dropout on the recurrent state,
            one mask per sequence (Gal & Ghahramani 2016; Keras'
            `recurrent_dropout`); `"lstm"`, `"gru"` and `"stacked"` only.
            Defaults to `0.0`.
        tie_weights: bool. Share the embedding matrix with the output layer.
            Defaults to `True`.
        conditioned: bool. Take `{"tokens": [B, T], "condition": [B, C]}` and
            start each layer from `tanh(Dense(condition))` (not with
            `"hmlstm"`, whose state holds the boundaries). Defaults to `False`.
        condition_dim: int or None. Size of the condition vector (required
            when `conditioned`). Defaults to `None`.
        **kwargs: `keras.Model` arguments.

    Call: int tokens `[B, T]` (or the dict above) -> float32 logits `[B, T, V]`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.applications import RNNLanguageModel

    from keras_dlss.decoding import sample

    model = RNNLanguageModel(vocabulary_size=20, embedding_dim=8, units=8, cell="mlstm")
    model.compile()         # Adam, padding-masked cross-entropy, Perplexity, jit_compile=True
    x = np.random.randint(1, 20, (4, 6))
    print(model.log_likelihood(x[:, :-1], x[:, 1:]))   # log p of each row, in nats
    tokens, _ = sample(model.step, model.initial_decoding_state(2), start_id=2, end_id=0,
                       max_length=5, seed=0)          # [2, 5] sampled ids
    ```

    References:
        Mikolov et al., 2010; Press & Wolf, 2017, https://arxiv.org/abs/1608.05859.
    """

    def __init__(
        self,
        vocabulary_size,
        level="word",
        cell="lstm",
        embedding_dim=128,
        units=256,
        num_layers=1,
        dropout=0.0,
        recurrent_dropout=0.0,
        tie_weights=True,
        conditioned=False,
        condition_dim=None,
        embedding_dropout=0.0,
        locked_dropout=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size, minimum=2)
        self.level = check_one_of("level", level, ("word", "char"))
        self.cell = check_one_of("cell", cell, CELLS)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.dropout = float(check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False))
        self.recurrent_dropout = float(
            check_range("recurrent_dropout", recurrent_dropout, 0.0, 1.0, high_inclusive=False)
        )
        if self.recurrent_dropout and self.cell in ("mlstm", "hmlstm"):
            raise ValueError(
                f"Argument `recurrent_dropout` is not supported with cell={self.cell!r} "
                f"(lstm, gru and stacked only). Received: recurrent_dropout={recurrent_dropout}"
            )
        self.embedding_dropout = float(
            check_range("embedding_dropout", embedding_dropout, 0.0, 1.0, high_inclusive=False)
        )
        self.locked_dropout = bool(locked_dropout)
        self.tie_weights = bool(tie_weights)
        self.conditioned = bool(conditioned)
        if self.conditioned and self.cell == "hmlstm":
            raise ValueError(
                "Argument `conditioned` is not supported with cell='hmlstm' (its state carries "
                "the boundary detectors). Received: conditioned=True"
            )
        if self.conditioned:
            condition_dim = check_positive_int("condition_dim", condition_dim)
        self.condition_dim = condition_dim
        dtype = self.dtype_policy
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, name="token_embedding", dtype=dtype
        )
        if self.cell == "hmlstm":  # the cell is the whole stack
            self.rnns = [_recurrent_layer("hmlstm", units, "hmlstm", dtype, num_layers)]
        else:
            self.rnns = [
                _recurrent_layer(
                    self.cell, units, f"{self.cell}_{i}", dtype,
                    recurrent_dropout=self.recurrent_dropout,
                )
                for i in range(num_layers)
            ]  # fmt: skip
        self.dropout_layer = keras.layers.Dropout(
            dropout, noise_shape=(None, 1, None) if self.locked_dropout else None, name="dropout"
        )
        # Dropped on a [V, 1] column of ones: the layer's 0 or 1 / (1 - p) per word type.
        self.word_dropout_layer = keras.layers.Dropout(embedding_dropout, name="word_dropout")
        self.conditioners = [
            keras.layers.Dense(units, activation="tanh", name=f"condition_{i}", dtype=dtype)
            for i in range(num_layers if self.conditioned else 0)
        ]
        self.projection = None
        if self.tie_weights and self.output_width != embedding_dim:
            self.projection = keras.layers.Dense(embedding_dim, name="projection", dtype=dtype)
        self.head = None
        if not self.tie_weights:
            self.head = keras.layers.Dense(vocabulary_size, name="logits", dtype="float32")

    @property
    def input_dtype(self):
        # Token ids: export signatures and input conversion use int32, not floats.
        return "int32"

    @property
    def num_states(self):
        return 1 if self.cell == "gru" else 2

    @property
    def output_width(self):
        """Width of the recurrent output that predicts the next token."""
        return self.units * (self.num_layers if self.cell in _ALL_LAYERS_OUT else 1)

    @property
    def slope(self):
        """The HM-LSTM boundary detectors' hard-sigmoid slope variable (None for other cells)."""
        if self.cell != "hmlstm":
            return None
        self._build_layers()  # the cell creates the variable in build()
        return self.rnns[0].cell.slope

    def build(self, input_shape=None):
        self._build_layers()

    def _build_layers(self):
        # Not `build()` itself from the decoding path: Keras records build()'s arguments as the
        # export signature, and a bare `build()` would erase the recorded input shape.
        if self.built:
            return
        self.embedding.build((None, None))
        for k, rnn in enumerate(self.rnns):
            width = self.embedding_dim if k == 0 else self.units
            if k > 0 and self.cell == "stacked":
                width += self.embedding_dim
            rnn.build((None, None, width))
        for dense in self.conditioners:
            dense.build((None, self.condition_dim))
        if self.projection is not None:
            self.projection.build((None, None, self.output_width))
        if self.tie_weights:
            self.output_bias = self.add_weight(
                shape=(self.vocabulary_size,), initializer="zeros", name="output_bias"
            )
        else:
            self.head.build((None, None, self.output_width))
        self.built = True

    def _split_inputs(self, inputs):
        if isinstance(inputs, dict):
            return inputs["tokens"], inputs.get("condition")
        return inputs, None

    def _condition_states(self, condition):
        states = []
        for dense in self.conditioners:
            h = dense(condition)
            states.append([h] * self.num_states)
        return states

    def _embed(self, tokens, training=None):
        tokens = ops.cast(tokens, "int32")
        x = self.embedding(tokens)
        if training and self.embedding_dropout > 0:
            keep = self.word_dropout_layer(
                ops.ones((self.vocabulary_size, 1), self.compute_dtype), training=training
            )
            x = x * ops.take(keep, tokens, axis=0)
        return x

    def _run(self, x, states, training=None):
        x = self.dropout_layer(x, training=training)
        embedded, layer_outputs, new_states = x, [], []
        for k, (rnn, state) in enumerate(zip(self.rnns, states)):
            if k > 0 and self.cell == "stacked":  # Graves 2013: the input feeds every layer
                x = ops.concatenate([embedded, x], axis=-1)
            outputs = rnn(x, initial_state=state, training=training)
            x = self.dropout_layer(outputs[0], training=training)
            layer_outputs.append(x)
            new_states.append(list(outputs[1:]))
        if self.cell == "stacked":  # ... and every layer feeds the output
            x = ops.concatenate(layer_outputs, axis=-1)
        return x, new_states

    def _logits(self, x):
        if self.projection is not None:
            x = self.projection(x)
        if self.tie_weights:
            # A tensor, not the variable, inside the graph (XLA has no ResourceGather).
            table = ops.cast(ops.convert_to_tensor(self.embedding.embeddings), "float32")
            return ops.matmul(ops.cast(x, "float32"), ops.transpose(table)) + self.output_bias
        return self.head(x)

    def call(self, inputs, training=None):
        tokens, condition = self._split_inputs(inputs)
        if self.conditioned and condition is None:
            raise ValueError(
                "Argument `inputs` must be a dict with `tokens` and `condition` when "
                "conditioned=True. Received: inputs without a condition"
            )
        states = self._condition_states(condition) if self.conditioned else [None] * self.num_layers
        x, _ = self._run(self._embed(tokens, training), states, training)
        return self._logits(x)

    def compile(self, optimizer="auto", loss="auto", metrics="auto", jit_compile=True, **kwargs):
        """Adam(3e-3, clipnorm 1), padding-masked cross-entropy, `Perplexity`, XLA.

        Any argument given replaces its `"auto"` default; a preset-compiled
        model reloads compiled the same way (`PresetCompile`).
        """
        self._remember_preset(optimizer, loss, metrics, kwargs)
        super().compile(
            optimizer=keras.optimizers.Adam(3e-3, clipnorm=1.0)
            if optimizer == "auto"
            else optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)
            if loss == "auto"
            else loss,
            metrics=[Perplexity(from_logits=True, ignore_class=0)]
            if metrics == "auto"
            else metrics,
            jit_compile=jit_compile,
            **kwargs,
        )

    def log_likelihood(self, x, y, condition=None):
        """Log-probability (nats) of each target row `y` given the inputs `x`; padding (0) skipped.

        Args:
            x: int `[B, T]` input tokens.
            y: int `[B, T]` next tokens (0 = padding).
            condition: `[B, C]` when `conditioned`.

        Returns:
            float32 NumPy array `[B]`.
        """
        inputs = {"tokens": x, "condition": condition} if self.conditioned else x
        logits = self(inputs, training=False)
        y = ops.cast(ops.convert_to_tensor(y), "int32")
        log_probs = ops.take_along_axis(
            ops.log_softmax(logits, axis=-1), ops.expand_dims(y, -1), axis=-1
        )[..., 0]
        mask = ops.cast(ops.not_equal(y, 0), "float32")
        return ops.convert_to_numpy(ops.sum(log_probs * mask, axis=-1))

    def initial_decoding_state(self, batch_size, condition=None, primer=None):
        """State for `step`: each layer's states, from the condition and after `primer` tokens.

        Args:
            batch_size: int.
            condition: `[batch_size, C]` when `conditioned`.
            primer: optional int `[batch_size, P]` tokens run through the model
                first; the decoder is then fed the last primer token as its start.
        """
        self._build_layers()
        if self.conditioned:
            states = self._condition_states(ops.convert_to_tensor(condition, self.compute_dtype))
        elif self.cell == "hmlstm":
            states = [self.rnns[0].cell.get_initial_state(batch_size)]
        else:
            zeros = ops.zeros((batch_size, self.units), self.compute_dtype)
            states = [[zeros] * self.num_states for _ in self.rnns]
        if primer is not None and primer.shape[1] > 0:
            _, states = self._run(self.embedding(ops.cast(primer, "int32")), states)
        return tuple(tuple(s) for s in states)

    def step(self, tokens, state):
        """Decoding step `([N] tokens, state) -> ([N, V] log-probs, state)`."""
        states = [list(s) for s in state]
        x, states = self._run(self.embedding(ops.cast(tokens, "int32")[:, None]), states)
        logits = self._logits(x)[:, 0]
        return ops.log_softmax(logits, axis=-1), tuple(tuple(s) for s in states)

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "level": self.level,
            "cell": self.cell,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
            "tie_weights": self.tie_weights,
            "conditioned": self.conditioned,
            "condition_dim": self.condition_dim,
            "embedding_dropout": self.embedding_dropout,
            "locked_dropout": self.locked_dropout,
        }
