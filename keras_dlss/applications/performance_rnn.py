"""Performance RNN: an LSTM language model over performance events, and its CLI
recipe (`keras-dlss train performance-rnn`).

Generation runs through `generate_performance` (`music_generation.py`), carrying
the LSTM states from step to step.

References:
    - Simon & Oore, "Performance RNN: Generating Music with Expressive Timing
      and Dynamics", Magenta 2017; Oore et al., "This Time with Feeling", 2018.
      https://arxiv.org/abs/1808.03715
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.applications.music_generation import MusicTask, override_tokens, primer_state
from keras_dlss.datasets import music

__all__ = ["PerformanceRNN", "PerformanceRNNTask"]


@keras.saving.register_keras_serializable(package="keras_dlss")
class PerformanceRNN(keras.Model):
    """LSTM language model over performance events (Performance RNN).

    Token embedding, `num_layers` stacked `keras.layers.LSTM`s with dropout,
    and a float32 vocabulary projection (logits).

    Args:
        vocabulary_size: int. Defaults to 390 (388 events + START + END).
        embedding_dim: int. Defaults to `64`.
        units: int. LSTM units per layer. Defaults to `256`.
        num_layers: int. Defaults to `2`.
        dropout: float. Dropout between layers. Defaults to `0.1`.
        **kwargs: `keras.Model` arguments.

    Call: int tokens `[B, T]` -> float32 logits `[B, T, vocabulary_size]`.

    Example:

    ```python
    model = PerformanceRNN(units=128)
    events = generate_performance(model, length=64, temperature=0.9, seed=0)
    ```

    References:
        Simon & Oore, 2017; Oore et al., 2018, https://arxiv.org/abs/1808.03715.
    """

    def __init__(
        self,
        vocabulary_size=music.VOCABULARY_SIZE,
        embedding_dim=64,
        units=256,
        num_layers=2,
        dropout=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size, minimum=2)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.dropout = float(check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False))
        self.embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, name="token_embedding"
        )
        self.lstms = [
            keras.layers.LSTM(units, return_sequences=True, return_state=True, name=f"lstm_{i}")
            for i in range(num_layers)
        ]
        self.dropout_layer = keras.layers.Dropout(dropout, name="dropout")
        self.head = keras.layers.Dense(vocabulary_size, dtype="float32", name="logits")

    @property
    def input_dtype(self):
        # Token ids: export signatures and input conversion use int32, not floats.
        return "int32"

    def _build_layers(self):
        """Builds sublayers for decoding without calling the model (keeps its export shape)."""
        if self.head.built:
            return
        self.embedding.build((None, None))
        width = self.embedding_dim
        for lstm in self.lstms:
            lstm.build((None, None, width))
            width = self.units
        self.head.build((None, None, self.units))

    def _run(self, x, states, training=None):
        new_states = []
        for lstm, state in zip(self.lstms, states):
            x, h, c = lstm(x, initial_state=state, training=training)
            x = self.dropout_layer(x, training=training)
            new_states.append((h, c))
        return x, new_states

    def call(self, tokens, training=None):
        x, _ = self._run(self.embedding(tokens), [None] * self.num_layers, training)
        return self.head(x)

    def initial_decoding_state(self, batch_size, max_length=None, primer=None):
        """State for `step`: LSTM states after the primer (zeros without one)."""
        self._build_layers()
        prefill, override = primer_state(primer, batch_size)
        zeros = ops.zeros((batch_size, self.units), self.compute_dtype)
        states = [[zeros, zeros] for _ in self.lstms]
        if prefill is not None:
            _, states = self._run(self.embedding(prefill), states)
        return {
            "h": tuple(s[0] for s in states),
            "c": tuple(s[1] for s in states),
            "override": ops.convert_to_tensor(override),
        }

    def step(self, tokens, state):
        """Decoding step `([N] tokens, state) -> ([N, V] log-probs, state)`."""
        tokens, override = override_tokens(tokens, state)
        states = [[h, c] for h, c in zip(state["h"], state["c"])]
        x, states = self._run(self.embedding(tokens[:, None]), states)
        logits = self.head(x)[:, 0]
        new_state = {
            "h": tuple(s[0] for s in states),
            "c": tuple(s[1] for s in states),
            "override": override,
        }
        return ops.log_softmax(logits, axis=-1), new_state

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "num_layers": self.num_layers,
            "dropout": self.dropout,
        }


class PerformanceRNNTask(MusicTask):
    name = "performance-rnn"
    summary = "PerformanceRNN (LSTM over performance events)"
    default_epochs = 5
    default_batch_size = 16
    learning_rate = 3e-3

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        keras.utils.set_random_seed(seed)
        hparams = {"units": 192, "num_layers": 1, **hparams}
        return self._compile(PerformanceRNN(**hparams), jit_compile)

    def search_space(self, hp):
        return {
            "units": hp.Choice("units", [128, 192, 256]),
            "num_layers": hp.Int("num_layers", 1, 2),
            "dropout": hp.Float("dropout", 0.0, 0.3, step=0.1),
        }
