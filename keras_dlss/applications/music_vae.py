"""MusicVAE (Roberts et al. 2018): a recurrent VAE over 2-bar melodies, flat or hierarchical.

The encoder reads the melody (130 classes per 16th note, see
`music_vae_data.py`) with a bidirectional LSTM whose final states give the
mean and log-variance of z. Two decoders:

* `decoder="flat"`: one LSTM over all steps, its state initialised from
  `tanh(Dense(z))` and z concatenated to every input (the paper's baseline);
* `decoder="hierarchical"`: a *conductor* LSTM, initialised from z, emits one
  embedding per bar; each bar is decoded by a bottom-level LSTM initialised
  from its embedding, which is also concatenated to every input. Bars are
  decoded independently (each starts from START), so the bottom decoder
  cannot ignore z by leaning on its own long history: the paper's remedy for
  posterior collapse on long sequences (Section 3.2).

Training is teacher forced on the negative ELBO with `kl_weight` (β) and free
bits, written once in `models._latent.GaussianLatentModel` (the base of
`models.VAE`); sampling and reconstruction run `keras_dlss.decoding`'s greedy
and ancestral samplers over `step`, in one loop that compiles with XLA.

Design: bars decode in parallel in training (the `[B, bars, steps]` tokens
become `[B * bars, steps]` rows), while `step` carries the bar index in its
state and resets the bottom LSTM at each bar line with `ops.where`, so
decoding keeps static shapes. `call` is the teacher-forced reconstruction at
the posterior mean (the logits a SavedModel or ONNX export serves).

References:
    - Roberts, Engel, Raffel, Hawthorne & Eck, "A Hierarchical Latent Vector
      Model for Learning Long-Term Structure in Music", ICML 2018.
      https://arxiv.org/abs/1803.05428
"""

import math
import weakref

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range, shape_str
from keras_dlss.applications.base import compiled
from keras_dlss.applications.music_vae_data import NUM_CLASSES, START
from keras_dlss.models._latent import GaussianLatentModel, split_gaussian

__all__ = ["MusicVAE", "reconstruction_accuracy"]

DECODERS = ("flat", "hierarchical")
_NEG_INF = -1e9
_DECODERS = weakref.WeakKeyDictionary()  # model -> {(temperature, seed, jit): compiled loop}
FREE_BITS_NATS = 48 * math.log(2.0)  # 48 bits


@keras.saving.register_keras_serializable(package="keras_dlss")
class MusicVAE(GaussianLatentModel):
    """MusicVAE over fixed-length melodies with a flat or a hierarchical decoder.

    Args:
        sequence_length: int. Steps per melody (16 per bar). Defaults to `32`.
        bars: int. Bars per melody; the conductor's length. Defaults to `2`.
        decoder: `"flat"` or `"hierarchical"`. Defaults to `"hierarchical"`.
        latent_dim: int. Size of z. Defaults to `32`.
        embedding_dim: int. Event embedding size. Defaults to `32`.
        encoder_units: int. Units of each direction of the encoder LSTM.
            Defaults to `128`.
        decoder_units: int. Units of the (bottom-level) decoder LSTM.
            Defaults to `128`.
        conductor_units: int. Units of the conductor LSTM. Defaults to `64`.
        kl_weight: float. β of the KL term. Defaults to `0.2`.
        free_bits: float. KL nats per melody that are not penalized.
            Defaults to 48 bits (33.3 nats).
        kl_warmup_steps, seed: as in `models.VAE`.
        **kwargs: `keras.Model` arguments.

    Call: int events `[B, sequence_length]` -> float32 logits `[B,
    sequence_length, 130]`, teacher forced at the posterior mean.

    Example:

    ```python
    melodies = np.random.randint(0, 130, (8, 32)).astype("int32")
    vae = MusicVAE(decoder="hierarchical", latent_dim=4, encoder_units=8,
                   decoder_units=8, conductor_units=8, embedding_dim=4, seed=0)
    vae.compile(optimizer="adam")   # then vae.fit(melodies, ...) on the negative ELBO
    logits = vae(melodies)          # [8, 32, 130], teacher forced at the posterior mean
    samples = vae.sample(2, temperature=0.5, seed=0, jit_compile=None)  # [2, 32] events
    path = vae.interpolate(melodies[0], melodies[1], steps=3, jit_compile=None)  # [3, 32]
    ```

    References:
        Roberts et al., ICML 2018, https://arxiv.org/abs/1803.05428.
    """

    def __init__(
        self,
        sequence_length=32,
        bars=2,
        decoder="hierarchical",
        latent_dim=32,
        embedding_dim=32,
        encoder_units=128,
        decoder_units=128,
        conductor_units=64,
        kl_weight=0.2,
        free_bits=FREE_BITS_NATS,
        **kwargs,
    ):
        super().__init__(latent_dim, kl_weight=kl_weight, free_bits=free_bits, **kwargs)
        self.sequence_length = check_positive_int("sequence_length", sequence_length)
        self.bars = check_positive_int("bars", bars)
        if self.sequence_length % self.bars:
            raise ValueError(
                f"Argument `sequence_length` must be a multiple of `bars`={self.bars}. "
                f"Received: sequence_length={sequence_length}"
            )
        self.decoder = check_one_of("decoder", decoder, DECODERS)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.encoder_units = check_positive_int("encoder_units", encoder_units)
        self.decoder_units = check_positive_int("decoder_units", decoder_units)
        self.conductor_units = check_positive_int("conductor_units", conductor_units)
        self.embedding = keras.layers.Embedding(NUM_CLASSES + 1, embedding_dim, name="embedding")
        self.encoder = keras.layers.Bidirectional(keras.layers.LSTM(encoder_units), name="encoder")
        self.posterior_dense = keras.layers.Dense(2 * self.latent_dim, name="posterior")
        self.decoder_init = keras.layers.Dense(2 * decoder_units, "tanh", name="decoder_init")
        self.decoder_lstm = keras.layers.LSTM(
            decoder_units, return_sequences=True, return_state=True, name="decoder_lstm"
        )
        self.head = keras.layers.Dense(NUM_CLASSES, dtype="float32", name="logits")
        if self.decoder == "hierarchical":
            self.conductor_init = keras.layers.Dense(
                2 * conductor_units, "tanh", name="conductor_init"
            )
            self.conductor = keras.layers.LSTM(
                conductor_units, return_sequences=True, name="conductor"
            )
        self._build_layers()
        self.build((None, self.sequence_length))

    @property
    def input_dtype(self):
        return "int32"

    @property
    def bar_length(self):
        return self.sequence_length // self.bars

    def _build_layers(self):
        """Builds every sublayer, so the weights exist before the first step (and on reload)."""
        self.embedding.build((None, None))
        self.encoder.build((None, self.sequence_length, self.embedding_dim))
        self.posterior_dense.build((None, 2 * self.encoder_units))
        context = self.latent_dim
        if self.decoder == "hierarchical":
            self.conductor_init.build((None, self.latent_dim))
            self.conductor.build((None, self.bars, 1))
            context = self.conductor_units
        self.decoder_init.build((None, context))
        self.decoder_lstm.build((None, None, self.embedding_dim + context))
        self.head.build((None, None, self.decoder_units))

    # ---------------------------------------------------------------- the ELBO hooks

    def unpack(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return x, None

    def posterior(self, x, y, training=None):
        h = self.encoder(self.embedding(x), training=training)
        return split_gaussian(self.posterior_dense(h), self.latent_dim)

    def log_likelihood(self, x, y, z, training=None):
        logits = self.decode_logits(x, z, training=training)
        target = ops.cast(x, "int32")
        nll = ops.sparse_categorical_crossentropy(target, logits, from_logits=True)
        return -ops.sum(nll, axis=-1)

    # ---------------------------------------------------------------- teacher forcing

    def _contexts(self, z, training=None):
        """Per-row decoder context: z (flat), or each bar's conductor embedding, `[rows, C]`."""
        if self.decoder == "flat":
            return z
        h, c = ops.split(self.conductor_init(z), 2, axis=-1)
        zeros = ops.tile(ops.zeros_like(z[:, None, :1]), (1, self.bars, 1))
        bars = self.conductor(zeros, initial_state=[h, c], training=training)
        return ops.reshape(bars, (-1, self.conductor_units))

    def decode_logits(self, tokens, z, training=None):
        """Teacher-forced logits `[B, sequence_length, 130]` of `tokens` given z."""
        context = self._contexts(z, training)
        rows = self.sequence_length if self.decoder == "flat" else self.bar_length
        tokens = ops.reshape(ops.cast(tokens, "int32"), (-1, rows))
        previous = ops.concatenate([ops.zeros_like(tokens[:, :1]) + START, tokens[:, :-1]], 1)
        inputs = ops.concatenate(
            [self.embedding(previous), ops.tile(context[:, None, :], (1, rows, 1))], axis=-1
        )
        h, c = ops.split(self.decoder_init(context), 2, axis=-1)
        outputs, _, _ = self.decoder_lstm(inputs, initial_state=[h, c], training=training)
        return ops.reshape(self.head(outputs), (-1, self.sequence_length, NUM_CLASSES))

    def call(self, tokens, training=None):
        mean, _ = self.posterior(tokens, None, training=training)
        return self.decode_logits(tokens, mean, training=training)

    # ---------------------------------------------------------------- autoregressive decoding

    def initial_decoding_state(self, z):
        """State for `step`: decoder LSTM state, per-bar contexts and the step counter."""
        z = ops.convert_to_tensor(z, self.compute_dtype)
        flat = self.decoder == "flat"
        width = self.latent_dim if flat else self.conductor_units
        contexts = ops.reshape(self._contexts(z), (-1, 1 if flat else self.bars, width))
        h, c = ops.split(self.decoder_init(contexts[:, 0]), 2, axis=-1)
        return {"h": h, "c": c, "contexts": contexts, "t": ops.zeros_like(h[:, 0], "int32")}

    def step(self, tokens, state):
        """Decoding step `([N] events, state) -> ([N, 131] log-probs, state)`.

        Column 130 (START) has probability zero, so it doubles as the
        decoding loops' end id: melodies have a fixed length.
        """
        t, contexts = state["t"], state["contexts"]
        tokens = ops.cast(tokens, "int32")
        h, c = state["h"], state["c"]
        if self.decoder == "hierarchical":
            bar = ops.minimum(t // self.bar_length, self.bars - 1)
            weights = ops.one_hot(bar, self.bars, dtype=contexts.dtype)
            context = ops.sum(weights[:, :, None] * contexts, axis=1)
            # A new bar: restart the bottom LSTM from its conductor embedding, input START.
            new_bar = (t % self.bar_length) == 0
            h0, c0 = ops.split(self.decoder_init(context), 2, axis=-1)
            h = ops.where(new_bar[:, None], h0, h)
            c = ops.where(new_bar[:, None], c0, c)
            tokens = ops.where(new_bar, ops.full_like(tokens, START), tokens)
        else:
            context = contexts[:, 0]
        inputs = ops.concatenate([self.embedding(tokens), context], -1)
        # The layer's cell directly: one step needs no (nested) recurrent loop.
        outputs, (h, c) = self.decoder_lstm.cell(inputs, [h, c])
        log_probs = ops.log_softmax(self.head(outputs), axis=-1)
        log_probs = ops.concatenate([log_probs, ops.full_like(log_probs[:, :1], _NEG_INF)], -1)
        return log_probs, {"h": h, "c": c, "contexts": contexts, "t": t + 1}

    # ---------------------------------------------------------------- public API

    def _check_tokens(self, name, tokens):
        tokens = np.asarray(ops.convert_to_numpy(tokens))
        if tokens.ndim == 1:
            tokens = tokens[None]
        if tokens.ndim != 2 or tokens.shape[1] != self.sequence_length or not len(tokens):
            raise ValueError(
                f"Argument `{name}` must be melodies [batch, {self.sequence_length}]. "
                f"Received: {name}.shape={shape_str(tokens.shape)}"
            )
        if tokens.min() < 0 or tokens.max() >= NUM_CLASSES:
            raise ValueError(
                f"Argument `{name}` must hold events in [0, {NUM_CLASSES}). "
                f"Received: {name} with values in [{tokens.min()}, {tokens.max()}]"
            )
        return tokens.astype("int32")

    def encode(self, tokens):
        """`(mean, log_variance)` of q(z | melody) for int melodies `[B, sequence_length]`."""
        return self.posterior(self._check_tokens("tokens", tokens), None, training=False)

    def decode(self, z, temperature=None, seed=None, jit_compile=True):
        """Melodies `[B, sequence_length]` (int32 NumPy) decoded autoregressively from z.

        Args:
            z: latent codes `[B, latent_dim]`.
            temperature: None for greedy decoding (the most probable event at
                each step), or a float > 0 to sample (`decoding.sample`).
            seed: int or None, for sampling.
            jit_compile: True for one XLA program (TensorFlow), False for one
                graph, None to run step by step eagerly (no tracing: the
                quickest start for a few melodies). Defaults to `True`.
        """
        from keras_dlss.decoding import greedy_decode, sample
        from keras_dlss.models.vae import _check_latent

        z = _check_latent("z", z, self.latent_dim)
        if temperature is not None:
            check_range("temperature", temperature, 0.0, low_inclusive=False)

        # One compiled loop per (mode, seed): a new tf.function per call would retrace each time.
        key = (temperature, seed, jit_compile)
        cache = _DECODERS.setdefault(self, {})
        if key not in cache:

            def run(z):
                state = self.initial_decoding_state(z)
                if temperature is None:
                    return greedy_decode(self.step, state, START, START, self.sequence_length)
                return sample(
                    self.step,
                    state,
                    START,
                    START,
                    self.sequence_length,
                    temperature=temperature,
                    seed=seed,
                )

            cache[key] = run if jit_compile is None else compiled(run, jit_compile)
        sequences, _ = cache[key](ops.convert_to_tensor(z, self.compute_dtype))
        return np.asarray(ops.convert_to_numpy(sequences)).astype("int32")

    def sample(self, num_samples, temperature=1.0, seed=None, jit_compile=True):
        """`num_samples` melodies decoded from z ~ N(0, I) (sampled at `temperature`)."""
        num_samples = check_positive_int("num_samples", num_samples)
        z = keras.random.normal((num_samples, self.latent_dim), seed=seed)
        return self.decode(z, temperature=temperature, seed=seed, jit_compile=jit_compile)

    def reconstruct(self, tokens, jit_compile=True):
        """Greedy decodes of the posterior means of `tokens` (no teacher forcing)."""
        mean, _ = self.encode(tokens)
        return self.decode(mean, jit_compile=jit_compile)

    def interpolate(self, a, b, steps=5, jit_compile=True):
        """Melodies decoded greedily along the line between the posterior means of `a` and `b`.

        Args:
            a, b: int melodies `[sequence_length]`.
            steps: int >= 2. Points on the line, both ends included.
            jit_compile: bool. Defaults to `True`.

        Returns:
            int32 array `[steps, sequence_length]`; the first row reconstructs
            `a` and the last `b`.
        """
        steps = check_positive_int("steps", steps, minimum=2)
        means = ops.convert_to_numpy(
            self.encode(np.stack([self._check_tokens("a", a)[0], self._check_tokens("b", b)[0]]))[0]
        )
        alphas = np.linspace(0.0, 1.0, steps, dtype="float32")[:, None]
        z = (1.0 - alphas) * means[0] + alphas * means[1]
        return self.decode(z, jit_compile=jit_compile)

    def get_config(self):
        return {
            **super().get_config(),
            "sequence_length": self.sequence_length,
            "bars": self.bars,
            "decoder": self.decoder,
            "embedding_dim": self.embedding_dim,
            "encoder_units": self.encoder_units,
            "decoder_units": self.decoder_units,
            "conductor_units": self.conductor_units,
        }


def reconstruction_accuracy(model, tokens, batch_size=256, jit_compile=True):
    """`(teacher_forced, sampled)` event accuracy of `model` on melodies `tokens`.

    Teacher forced: the argmax of each step's logits given the true previous
    events, at the posterior mean. Sampled: greedy autoregressive decoding
    from the posterior mean, compared step by step (Roberts et al. 2018,
    Table 1 report both).
    """
    tokens = model._check_tokens("tokens", tokens)
    forced, sampled = [], []
    for start in range(0, len(tokens), batch_size):
        batch = tokens[start : start + batch_size]
        logits = ops.convert_to_numpy(model(batch, training=False))
        forced.append(np.argmax(logits, -1) == batch)
        sampled.append(model.reconstruct(batch, jit_compile=jit_compile) == batch)
    return float(np.concatenate(forced).mean()), float(np.concatenate(sampled).mean())
