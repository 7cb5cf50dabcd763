"""Attention sequence-to-sequence translator with three training regimes.

Embedding -> bidirectional LSTM encoder -> attention LSTM decoder (Bahdanau
et al. 2014, https://arxiv.org/abs/1409.0473; Luong et al. 2015,
https://arxiv.org/abs/1508.04025), trained by teacher forcing, scheduled
sampling (Bengio et al. 2015, https://arxiv.org/abs/1506.03099) or professor
forcing (Lamb et al. 2016, https://arxiv.org/abs/1610.09038), and decoded with
`keras_dlss.decoding` (greedy search or beam search, XLA-compiled).

The CLI task (`keras-dlss train seq2seq`) lives in `seq2seq_task.py`.
"""

import weakref

import keras
from keras import ops

from keras_dlss import decoding
from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.applications import professor_forcing
from keras_dlss.applications.base import compiled
from keras_dlss.layers import AttentionWrapper, BahdanauAttention, LuongAttention
from keras_dlss.models import CustomStepModel

_DECODERS = weakref.WeakKeyDictionary()
REGIMES = ("teacher_forcing", "scheduled_sampling", "professor_forcing")
ATTENTIONS = ("bahdanau", "luong")


@keras.saving.register_keras_serializable(package="keras_dlss")
class Seq2SeqTranslator(CustomStepModel):
    """Encoder-decoder with attention, three training regimes and beam search.

    Inputs are `{"source": ..., "target": ...}` (or a `(source, target)`
    pair): `[B, S]` source token ids (0 = padding) and
    `[B, T]` target ids (ending with `end_id`, padded with `end_id` or 0).
    `call` returns `[B, T, target_vocab_size]` next-token logits for the
    decoder fed `[start_id, target[:-1]]` (teacher forcing), or, when training
    with `regime="scheduled_sampling"`, its own predictions with probability
    `1 - teacher_forcing_probability` per token (a variable the
    `keras_dlss.callbacks.ScheduledSampling` callback decays). With
    `regime="professor_forcing"`, `fit` also trains a discriminator over
    teacher-forced vs free-running decoder outputs. Every regime trains on
    TensorFlow, JAX and PyTorch (a `keras_dlss.models.CustomStepModel` step).

    Args:
        source_vocab_size: int. Source vocabulary size (id 0 is padding).
        target_vocab_size: int. Target vocabulary size.
        embedding_dim: int. Embedding size of both vocabularies. Defaults to `32`.
        units: int. Decoder LSTM units; each encoder direction has `units // 2`.
            Defaults to `64`.
        attention: `"bahdanau"` or `"luong"` (general score). Defaults to
            `"bahdanau"`.
        regime: `"teacher_forcing"`, `"scheduled_sampling"` or
            `"professor_forcing"`. Defaults to `"teacher_forcing"`.
        start_id: int. Decoder start token. Defaults to `1`.
        end_id: int. End-of-sequence token. Defaults to `2`.
        max_output_length: int. Decoding length bound. Defaults to `16`.
        sampling: `"argmax"` or `"sample"`: own predictions fed by scheduled
            sampling. Defaults to `"argmax"`.
        discriminator_units: int. Professor-forcing discriminator size.
            Defaults to `32`.
        adversarial_weight: float >= 0. Weight of the professor-forcing
            generator loss. Defaults to `1.0`.
        discriminator_learning_rate: float > 0. Defaults to `1e-3`.
        dropout: float in [0, 1). Dropout on the embeddings. Defaults to `0.0`.
        seed: int or None. Seed of the scheduled-sampling coin flips.
        **kwargs: base `Model` arguments.

    Example:

    ```python
    import numpy as np
    from keras_dlss.applications.seq2seq import Seq2SeqTranslator

    model = Seq2SeqTranslator(source_vocab_size=30, target_vocab_size=13,
                              regime="scheduled_sampling", max_output_length=11)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    source = np.random.randint(1, 30, size=(4, 12))
    target = np.random.randint(3, 13, size=(4, 11))
    model.fit((source, target), target, epochs=1, verbose=0)
    sequences, scores = model.beam_search(source, beam_width=3)  # [4, 3, 11]
    ```

    References:
        - [Bahdanau et al., 2014](https://arxiv.org/abs/1409.0473)
        - [Bengio et al., 2015](https://arxiv.org/abs/1506.03099)
        - [Lamb et al., 2016](https://arxiv.org/abs/1610.09038)
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        embedding_dim=32,
        units=64,
        attention="bahdanau",
        regime="teacher_forcing",
        start_id=1,
        end_id=2,
        max_output_length=16,
        sampling="argmax",
        discriminator_units=32,
        adversarial_weight=1.0,
        discriminator_learning_rate=1e-3,
        dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.source_vocab_size = check_positive_int("source_vocab_size", source_vocab_size, 2)
        self.target_vocab_size = check_positive_int("target_vocab_size", target_vocab_size, 2)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.units = check_positive_int("units", units, 2)
        self.attention = check_one_of("attention", attention, ATTENTIONS)
        self.regime = check_one_of("regime", regime, REGIMES)
        self.start_id = check_positive_int("start_id", start_id, 0)
        self.end_id = check_positive_int("end_id", end_id, 0)
        for name, value in (("start_id", self.start_id), ("end_id", self.end_id)):
            if value >= self.target_vocab_size:
                raise ValueError(
                    f"Argument `{name}` must be < target_vocab_size ({self.target_vocab_size}). "
                    f"Received: {name}={value}"
                )
        self.max_output_length = check_positive_int("max_output_length", max_output_length)
        self.sampling = check_one_of("sampling", sampling, ("argmax", "sample"))
        self.discriminator_units = check_positive_int("discriminator_units", discriminator_units)
        self.adversarial_weight = float(check_range("adversarial_weight", adversarial_weight, 0.0))
        self.discriminator_learning_rate = float(
            check_range(
                "discriminator_learning_rate", discriminator_learning_rate, 0.0, low_inclusive=False
            )
        )
        self.dropout = float(check_range("dropout", dropout, 0.0, 1.0, high_inclusive=False))
        self.seed = seed

        half = max(1, self.units // 2)
        self.source_embedding = keras.layers.Embedding(
            self.source_vocab_size, self.embedding_dim, mask_zero=True, name="source_embedding"
        )
        self.target_embedding = keras.layers.Embedding(
            self.target_vocab_size, self.embedding_dim, name="target_embedding"
        )
        self.embedding_dropout = keras.layers.Dropout(
            self.dropout, seed=seed, name="embedding_dropout"
        )
        self.encoder = keras.layers.Bidirectional(
            keras.layers.LSTM(half, return_sequences=True, return_state=True), name="encoder"
        )
        self.bridge_h = keras.layers.Dense(self.units, activation="tanh", name="bridge_h")
        self.bridge_c = keras.layers.Dense(self.units, name="bridge_c")
        mechanism = (
            BahdanauAttention(self.units, name="bahdanau_attention")
            if self.attention == "bahdanau"
            else LuongAttention("general", name="luong_attention")
        )
        self.wrapper = AttentionWrapper(
            keras.layers.LSTMCell(self.units, name="decoder_cell"),
            mechanism,
            attention_layer_size=self.units,
            name="attention_wrapper",
        )
        self.decoder = keras.layers.RNN(self.wrapper, return_sequences=True, name="decoder")
        self.projection = keras.layers.Dense(self.target_vocab_size, name="projection")
        self.teacher_forcing_probability = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="teacher_forcing_probability"
        )
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.discriminator = None
        if self.regime == "professor_forcing":
            self.discriminator = professor_forcing.build_discriminator(self.discriminator_units)
            self.discriminator.build((None, None, self.units))
            self.discriminator_optimizer = keras.optimizers.Adam(self.discriminator_learning_rate)
            self.discriminator_optimizer.build(self.discriminator.trainable_variables)
            self.discriminator_loss_tracker = keras.metrics.Mean(name="discriminator_loss")
            self.discriminator_accuracy_tracker = keras.metrics.Mean(name="discriminator_accuracy")

    @property
    def input_dtype(self):
        # Token ids: exported serving signatures take int32, not float32.
        return "int32"

    # ------------------------------------------------------------------ pieces

    def build(self, input_shape):
        source_shape, target_shape = self._unpack(input_shape)
        source = ops.ones((1, source_shape[1] or 4), "int32")
        target = ops.ones((1, target_shape[1] or 4), "int32")
        self.teacher_forced(source, target)
        self.built = True

    def get_build_config(self):
        # Professor forcing's train step never goes through __call__, so Keras
        # may not have recorded input shapes; weights do not depend on lengths.
        return super().get_build_config() or {
            "input_shape": {"source": [None, None], "target": [None, self.max_output_length]}
        }

    def encode(self, source, training=False):
        """Encoder memory `[B, S, units]`, its mask and the decoder's initial `[h, c]`."""
        source = ops.cast(source, "int32")
        mask = ops.not_equal(source, 0)
        embedded = self.embedding_dropout(self.source_embedding(source), training=training)
        memory, fh, fc, bh, bc = self.encoder(embedded, mask=mask, training=training)
        h = self.bridge_h(ops.concatenate([fh, bh], axis=-1))
        c = self.bridge_c(ops.concatenate([fc, bc], axis=-1))
        return memory, mask, [h, c]

    def initial_decoder_state(self, source, training=False):
        """The `AttentionWrapper` state (with the encoder memory) for `source`."""
        memory, mask, cell_state = self.encode(source, training=training)
        return self.wrapper.initial_state(memory, mask, cell_state)

    def step(self, tokens, state, training=False):
        """Decoding step `(tokens [N], state) -> (log_probs [N, V], new_state)`."""
        outputs, state = self._step_with_outputs(tokens, state, training)
        return outputs[0], state

    def _step_with_outputs(self, tokens, state, training=False):
        embedded = self.embedding_dropout(self.target_embedding(tokens), training=training)
        output, new_state = self.wrapper(embedded, state, training=training)
        log_probs = ops.log_softmax(ops.cast(self.projection(output), "float32"), axis=-1)
        return (log_probs, output), new_state

    def _decoder_inputs(self, target):
        target = ops.cast(target, "int32")
        start = ops.full((ops.shape(target)[0], 1), self.start_id, "int32")
        return ops.concatenate([start, target[:, :-1]], axis=1)

    def teacher_forced(self, source, target, training=False):
        """Teacher-forced `(logits [B, T, V], decoder outputs [B, T, units])`."""
        state = self.initial_decoder_state(source, training=training)
        embedded = self.target_embedding(self._decoder_inputs(target))
        embedded = self.embedding_dropout(embedded, training=training)
        hidden = self.decoder(embedded, initial_state=state, training=training)
        return self.projection(hidden), hidden

    def _unroll(self, source, target, epsilon, sampling, training):
        state = self.initial_decoder_state(source, training=training)
        n = len(state) - 3
        constants = state[n:]  # memory, keys, mask: closed over, not stacked by the scan

        def step_fn(tokens, small_state):
            (log_probs, output), new_state = self._step_with_outputs(
                tokens, list(small_state) + constants, training
            )
            return log_probs, new_state[:n], output

        return decoding.scheduled_sampling_unroll(
            step_fn, state[:n], target, epsilon, self.start_id, sampling, seed=self.seed_generator
        )

    def scheduled_sampling(self, source, target, training=True):
        """Scheduled-sampling `(log_probs [B, T, V], decoder outputs [B, T, units])`."""
        return self._unroll(
            source, target, self.teacher_forcing_probability, self.sampling, training
        )

    def free_running(self, source, length, training=False):
        """Sampled free-running `(log_probs, decoder outputs)` for `length` steps."""
        batch = ops.shape(source)[0]
        target = ops.zeros((batch, length), "int32")
        return self._unroll(source, target, 0.0, "sample", training)

    @staticmethod
    def _unpack(inputs):
        if isinstance(inputs, dict):
            return inputs["source"], inputs["target"]
        source, target = inputs
        return source, target

    def call(self, inputs, training=False):
        source, target = self._unpack(inputs)
        if training and self.regime == "scheduled_sampling":
            return self.scheduled_sampling(source, target, training=True)[0]
        return self.teacher_forced(source, target, training=training)[0]

    def custom_train_step(self, data):
        # Teacher forcing and scheduled sampling (in `call`) use the default step.
        if self.regime != "professor_forcing":
            return super().custom_train_step(data)
        logs = professor_forcing.professor_forcing_step(self, data)
        # The step called every sublayer but not `self.__call__`: mark the model
        # built so saving does not warn (get_build_config supplies the shapes).
        self.built = True
        return logs

    def extra_optimizers(self):
        return [] if self.discriminator is None else [self.discriminator_optimizer]

    # ------------------------------------------------------------------ decoding

    def _decoder(self, kind, **options):
        # Compiled decoders are cached outside the model: an attribute would be
        # tracked by Keras/TF and break SavedModel export.
        cache = _DECODERS.setdefault(self, {})
        key = (kind, tuple(sorted(options.items())), getattr(self, "jit_compile", False) is True)
        if key not in cache:

            def run(source, *extra):
                state = self.initial_decoder_state(source)
                # Memory, keys and mask are the same for every beam of an
                # example: tile them once and close over them rather than
                # gathering them along beam ancestry every step (~30% faster).
                # `extra` (the copy model's source ids) travels the same way.
                n = len(state) - 3
                copies = options.get("beam_width", 1)
                constants = [ops.repeat(c, copies, axis=0) for c in (*state[n:], *extra)]

                def step(tokens, small_state):
                    log_probs, new_state = self.step(tokens, list(small_state) + constants)
                    return log_probs, new_state[:n]

                args = (step, state[:n], self.start_id, self.end_id)
                if kind == "greedy":
                    return decoding.greedy_decode(*args, self.max_output_length)
                return decoding.beam_search(
                    *args, options["beam_width"], self.max_output_length, options["length_penalty"]
                )

            cache[key] = compiled(run, jit_compile=key[2])
        return cache[key]

    def greedy_search(self, source):
        """Greedy decoding: `(sequences [B, max_output_length], scores [B])`."""
        return self._decoder("greedy")(ops.convert_to_tensor(source, "int32"))

    def beam_search(self, source, beam_width=4, length_penalty=0.0):
        """Beam search: `(sequences [B, beam, max_output_length], scores [B, beam])`."""
        beam_width = check_positive_int("beam_width", beam_width)
        length_penalty = float(check_range("length_penalty", length_penalty, 0.0))
        run = self._decoder("beam", beam_width=beam_width, length_penalty=length_penalty)
        return run(ops.convert_to_tensor(source, "int32"))

    def attention_weights(self, source, target):
        """Alignments `[B, T, S]` of the decoder fed `target` (e.g. for heatmaps)."""
        state = self.initial_decoder_state(source)
        inputs = self._decoder_inputs(target)
        rows = []
        for t in range(inputs.shape[1]):
            _, state = self.step(inputs[:, t], state)
            rows.append(state[len(state) - 4])  # alignments entry of the wrapper state
        return ops.stack(rows, axis=1)

    def get_config(self):
        return {
            **super().get_config(),
            "source_vocab_size": self.source_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "embedding_dim": self.embedding_dim,
            "units": self.units,
            "attention": self.attention,
            "regime": self.regime,
            "start_id": self.start_id,
            "end_id": self.end_id,
            "max_output_length": self.max_output_length,
            "sampling": self.sampling,
            "discriminator_units": self.discriminator_units,
            "adversarial_weight": self.adversarial_weight,
            "discriminator_learning_rate": self.discriminator_learning_rate,
            "dropout": self.dropout,
            "seed": self.seed,
        }
