"""Music Transformer: a decoder-only Transformer with relative self-attention over
performance events, and its CLI recipe (`keras-dlss train music-transformer`).

Relative attention is computed by the memory-efficient skew, so no `[L, L, D]`
tensor is built; generation runs through `generate_performance`
(`music_generation.py`) with a per-layer key/value cache.

References:
    - Huang et al., "Music Transformer", 2018. https://arxiv.org/abs/1809.04281
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.applications.music_generation import MusicTask, override_tokens, primer_state
from keras_dlss.datasets import music
from keras_dlss.layers.transformer import TransformerDecoderBlock

__all__ = ["MusicTransformer", "MusicTransformerTask"]


@keras.saving.register_keras_serializable(package="keras_dlss")
class MusicTransformer(keras.Model):
    """Decoder-only Transformer with relative self-attention over performance events.

    Token embedding (scaled by `sqrt(hidden_dim)`), `num_layers` pre-norm
    `TransformerDecoderBlock`s with `RelativeMultiHeadAttention` (no absolute
    positions: the relative term carries order), a final layer norm and a
    float32 vocabulary projection (logits).

    Args:
        vocabulary_size: int. Defaults to 390 (388 events + START + END).
        num_layers: int. Defaults to `2`.
        hidden_dim: int. Defaults to `128`.
        num_heads: int. Defaults to `4`.
        intermediate_dim: int. Feed-forward width. Defaults to `256`.
        max_relative_position: int. Clipping distance of relative attention.
            Defaults to `256`.
        dropout: float. Defaults to `0.1`.
        **kwargs: `keras.Model` arguments.

    Call: int tokens `[B, T]` -> float32 logits `[B, T, vocabulary_size]`.

    Example:

    ```python
    model = MusicTransformer(num_layers=2, hidden_dim=64)
    logits = model(np.zeros((2, 32), "int32"))  # (2, 32, 390)
    events = generate_performance(model, length=64, seed=0)
    ```

    References:
        Huang et al., 2018, https://arxiv.org/abs/1809.04281.
    """

    def __init__(
        self,
        vocabulary_size=music.VOCABULARY_SIZE,
        num_layers=2,
        hidden_dim=128,
        num_heads=4,
        intermediate_dim=256,
        max_relative_position=256,
        dropout=0.1,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size, minimum=2)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.hidden_dim = check_positive_int("hidden_dim", hidden_dim)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.intermediate_dim = check_positive_int("intermediate_dim", intermediate_dim)
        self.max_relative_position = check_positive_int(
            "max_relative_position", max_relative_position
        )
        self.dropout = float(check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False))
        self.embedding = keras.layers.Embedding(vocabulary_size, hidden_dim, name="token_embedding")
        self.embedding_dropout = keras.layers.Dropout(dropout, name="embedding_dropout")
        self.blocks = [
            TransformerDecoderBlock(
                num_heads,
                intermediate_dim,
                max_relative_position=max_relative_position,
                dropout=dropout,
                name=f"decoder_block_{i}",
            )
            for i in range(num_layers)
        ]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")
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
        for block in self.blocks:
            block.build((None, None, self.hidden_dim))
        self.final_norm.build((None, None, self.hidden_dim))
        self.head.build((None, None, self.hidden_dim))

    def _embed(self, tokens, training=None):
        x = self.embedding(tokens) * ops.cast(self.hidden_dim**0.5, self.compute_dtype)
        return self.embedding_dropout(x, training=training)

    def call(self, tokens, training=None):
        x = self._embed(tokens, training)
        for block in self.blocks:
            x = block(x, training=training)
        return self.head(self.final_norm(x))

    def initial_decoding_state(self, batch_size, max_length, primer=None):
        """State for `step`: caches of `max_length` positions, prefilled with `primer`."""
        self._build_layers()
        prefill, override = primer_state(primer, batch_size)
        caches = [block.initial_cache(batch_size, max_length) for block in self.blocks]
        index = 0
        if prefill is not None:
            x = self._embed(prefill)
            for i, block in enumerate(self.blocks):
                x, caches[i] = block(x, cache=caches[i], cache_update_index=0)
            index = prefill.shape[1]
        return {
            "caches": tuple(caches),
            "index": ops.full((batch_size,), index, "int32"),
            "override": ops.convert_to_tensor(override),
        }

    def step(self, tokens, state):
        """Decoding step `([N] tokens, state) -> ([N, V] log-probs, state)`."""
        tokens, override = override_tokens(tokens, state)
        index = state["index"][0]
        x = self._embed(tokens[:, None])
        caches = []
        for block, cache in zip(self.blocks, state["caches"]):
            x, cache = block(x, cache=cache, cache_update_index=index)
            caches.append(cache)
        logits = self.head(self.final_norm(x))[:, 0]
        new_state = {"caches": tuple(caches), "index": state["index"] + 1, "override": override}
        return ops.log_softmax(logits, axis=-1), new_state

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "max_relative_position": self.max_relative_position,
            "dropout": self.dropout,
        }


class MusicTransformerTask(MusicTask):
    name = "music-transformer"
    summary = "MusicTransformer (relative self-attention) on performance events"
    # The first epoch is mostly XLA compilation (~50 s on 2 busy cores); later ones ~5 s.
    default_epochs = 10

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        keras.utils.set_random_seed(seed)
        hparams = {
            "num_layers": 2,
            "hidden_dim": 96,
            "num_heads": 4,
            "intermediate_dim": 192,
            "max_relative_position": self.window,
            **hparams,
        }
        return self._compile(MusicTransformer(**hparams), jit_compile)

    def search_space(self, hp):
        return {
            "num_layers": hp.Int("num_layers", 1, 3),
            "hidden_dim": hp.Choice("hidden_dim", [64, 96, 128]),
            "dropout": hp.Float("dropout", 0.0, 0.3, step=0.1),
        }
