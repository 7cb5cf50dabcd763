"""`PointerGeneratorTranslator`: the attention seq2seq model that can copy source words.

`Seq2SeqTranslator` with a pointer-generator output (See et al. 2017,
https://arxiv.org/abs/1704.04368; Gulcehre et al. 2016,
https://arxiv.org/abs/1603.08148): each step mixes the closed-vocabulary
softmax with the attention over the source, on a vocabulary extended by each
example's source OOV words, so names and numbers never seen in training can
be produced. Greedy and beam search are the landed `keras_dlss.decoding` ones:
the step function maps extended ids back to `<unk>` before embedding them.

With `coverage=True` (See et al. section 2.3) the Bahdanau scorer also sees
the coverage vector (the sum of the previous steps' attention, carried in the
decoder state by `_coverage.CoverageWrapper`), and `call` adds the coverage
loss `sum_i min(a_ti, c_ti)` (`keras_dlss.ops.coverage_loss`), averaged over
the real target steps and weighted by `coverage_loss_weight`, with `add_loss`,
so `fit` minimizes NLL + lambda * coverage loss (the paper's eq. 13).
"""

import keras
from keras import ops

from keras_dlss._validation import (
    check_dtype_kind,
    check_ids_in_range,
    check_mask_shape,
    check_positive_int,
    check_range,
)
from keras_dlss.applications._coverage import CoverageWrapper
from keras_dlss.applications.seq2seq import Seq2SeqTranslator
from keras_dlss.layers.pointer_generator import PointerGenerator
from keras_dlss.ops.coverage import coverage_loss


@keras.saving.register_keras_serializable(package="keras_dlss")
class PointerGeneratorTranslator(Seq2SeqTranslator):
    """Attention encoder-decoder whose output can copy source words (pointer-generator).

    Inputs are `{"source", "source_extended", "target"}` (or that triple):
    `[B, S]` encoder ids (0 = padding, OOVs as the source `<unk>`), the same
    positions' ids in the extended target vocabulary and `[B, T]` target
    extended ids, the three arrays `keras_dlss.ops.extend_vocabulary` returns.
    `call` returns `[B, T, target_vocab_size + max_oovs]` log-probabilities of
    the final distribution for the teacher-forced decoder; compile with
    `SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)` (log-probs
    are their own log-softmax), i.e. the NLL of See et al. eq. 6. Teacher forcing
    only (`regime` other than `"teacher_forcing"` raises). With `coverage=True`
    the coverage loss is added to it (see `coverage_loss_weight`).

    Decoded ids `>= target_vocab_size` are copied source words: map them back
    with `keras_dlss.ops.extended_ids_to_tokens(ids, vocabulary, oovs)`.

    Args:
        source_vocab_size: int. Encoder vocabulary size (id 0 is padding).
        target_vocab_size: int. Closed output vocabulary size V.
        max_oovs: int >= 1. Extended ids per example (`V .. V + max_oovs - 1`).
            Defaults to `8`.
        unk_id: int. Target `<unk>` id, fed back to the decoder for extended
            ids. Defaults to `3` (the layout `<pad>, <start>, <end>, <unk>`).
        coverage: bool. The coverage mechanism of See et al. section 2.3: the
            attention scorer gets `w_c * c_ti` (`c_t`, the summed attention of
            the previous steps, zero at padding), carried in the decoder state
            through training, greedy and beam search. Needs
            `attention="bahdanau"`. Defaults to `False`.
        coverage_loss_weight: float >= 0. Lambda of the coverage loss
            (`keras_dlss.ops.coverage_loss`, mean over the target steps that
            are not padding) added to the NLL when `coverage=True`. Defaults
            to `1.0` (the paper's value).
        **kwargs: the `Seq2SeqTranslator` arguments (`embedding_dim`, `units`,
            `attention`, `start_id`, `end_id`, `max_output_length`, `dropout`, ...).

    Example:

    ```python
    from keras_dlss.applications import PointerGeneratorTranslator
    from keras_dlss.ops import extend_vocabulary, extended_ids_to_tokens

    vocab = ["<pad>", "<start>", "<end>", "<unk>", "meet", "at", "call"]
    batch = extend_vocabulary([["meet", "ozil", "at", "9"]] * 4, vocab, max_oovs=4, unk_id=3,
                              target_tokens=[["call", "ozil", "9", "<end>"]] * 4)
    model = PointerGeneratorTranslator(len(vocab), len(vocab), max_oovs=4, units=16,
                                       max_output_length=4)
    log_probs = model({k: batch[k] for k in ("source", "source_extended", "target")})
    print(log_probs.shape)  # (4, 4, 11): train with model.fit (see docs/seq2seq.md)
    ids, scores = model.beam_search(batch["source"], batch["source_extended"], beam_width=2)
    print(extended_ids_to_tokens(ids[:, 0], vocab, batch["oovs"], end_id=2)[0])
    ```

    References:
        - [See et al., 2017](https://arxiv.org/abs/1704.04368)
        - [Gulcehre et al., 2016](https://arxiv.org/abs/1603.08148)
    """

    def __init__(
        self,
        source_vocab_size,
        target_vocab_size,
        max_oovs=8,
        unk_id=3,
        coverage=False,
        coverage_loss_weight=1.0,
        **kwargs,
    ):
        regime = kwargs.get("regime", "teacher_forcing")
        if regime != "teacher_forcing":
            raise ValueError(
                "Argument `regime` must be 'teacher_forcing' for PointerGeneratorTranslator "
                f"(the copy distribution needs the source ids at every step). Received: regime={regime!r}"
            )
        if coverage and kwargs.get("attention", "bahdanau") != "bahdanau":
            raise ValueError(
                "Argument `coverage` needs attention='bahdanau' (See et al.'s coverage is a "
                f"feature of the additive scorer). Received: coverage={coverage!r} with "
                f"attention={kwargs['attention']!r}"
            )
        super().__init__(source_vocab_size, target_vocab_size, **kwargs)
        self.coverage = bool(coverage)
        self.coverage_loss_weight = float(
            check_range("coverage_loss_weight", coverage_loss_weight, 0.0)
        )
        self.max_oovs = check_positive_int("max_oovs", max_oovs)
        self.unk_id = check_positive_int("unk_id", unk_id, 0)
        if self.unk_id >= self.target_vocab_size:
            raise ValueError(
                f"Argument `unk_id` must be < target_vocab_size ({self.target_vocab_size}). "
                f"Received: unk_id={unk_id}"
            )
        # The copy distribution of the teacher-forced pass needs every step's
        # alignments, which the wrapper then appends to its outputs.
        self.wrapper.return_alignments = True
        self.pointer_generator = PointerGenerator(self.max_oovs, name="pointer_generator")
        if self.coverage:
            self.coverage_cell = CoverageWrapper(self.wrapper, name="coverage")
            self.coverage_decoder = keras.layers.RNN(
                self.coverage_cell, return_sequences=True, name="coverage_decoder"
            )

    @property
    def extended_size(self):
        """`target_vocab_size + max_oovs`: the size of the output distribution."""
        return self.target_vocab_size + self.max_oovs

    # ------------------------------------------------------------------ pieces

    @staticmethod
    def _unpack(inputs):
        if isinstance(inputs, dict):
            return inputs["source"], inputs["source_extended"], inputs["target"]
        source, source_extended, target = inputs
        return source, source_extended, target

    def build(self, input_shape):
        source_shape, _, target_shape = self._unpack(input_shape)
        source = ops.ones((1, source_shape[1] or 4), "int32")
        target = ops.ones((1, target_shape[1] or 4), "int32")
        self.copy_log_probs(source, source, target)
        self.built = True

    def get_build_config(self):
        return {
            "input_shape": {
                "source": [None, None],
                "source_extended": [None, None],
                "target": [None, self.max_output_length],
            }
        }

    def _in_vocabulary(self, ids):
        """Extended ids (copied words) -> `<unk>`: the decoder embeds only the vocabulary."""
        ids = ops.cast(ids, "int32")
        return ops.where(ops.greater_equal(ids, self.target_vocab_size), self.unk_id, ids)

    def _decoder_inputs(self, target):
        return self._in_vocabulary(super()._decoder_inputs(target))

    def _final(self, outputs, alignments, embedded, state, source_extended):
        memory, mask = state[-3], state[-1]
        if len(alignments.shape) == 2:
            context = ops.squeeze(ops.matmul(alignments[:, None, :], memory), 1)
        else:
            context = ops.matmul(alignments, memory)
        return self.pointer_generator(
            self.projection(outputs),
            attention=alignments,
            context=context,
            decoder_state=outputs,
            decoder_input=embedded,
            source_ids=source_extended,
            memory_mask=mask,
        )

    def initial_decoder_state(self, source, training=False):
        """The decoder's initial state for `source` (with zero coverage if `coverage`)."""
        state = super().initial_decoder_state(source, training=training)
        return self.coverage_cell.initial_state(state) if self.coverage else state

    def _teacher_forced(self, source, source_extended, target, training):
        source_extended = self._check_extended(source, source_extended)
        state = self.initial_decoder_state(source, training=training)
        embedded = self.target_embedding(self._decoder_inputs(target))
        embedded = self.embedding_dropout(embedded, training=training)
        decoder = self.coverage_decoder if self.coverage else self.decoder
        hidden = decoder(embedded, initial_state=state, training=training)
        outputs, alignments = self.wrapper.split_alignments(hidden)
        log_probs = self._final(outputs, alignments, embedded, state, source_extended)
        return log_probs, alignments, state[-1]

    def copy_log_probs(self, source, source_extended, target, training=False):
        """Teacher-forced final-distribution log-probs `[B, T, V + max_oovs]`."""
        return self._teacher_forced(source, source_extended, target, training)[0]

    def mean_coverage_loss(self, alignments, memory_mask, target):
        """Coverage loss averaged over the target steps that are not padding (id 0)."""
        steps = ops.cast(ops.not_equal(ops.cast(target, "int32"), 0), "float32")
        per_step = ops.cast(coverage_loss(alignments, memory_mask), "float32")
        return ops.sum(per_step * steps) / ops.maximum(ops.sum(steps), 1.0)

    def call(self, inputs, training=False):
        source, source_extended, target = self._unpack(inputs)
        log_probs, alignments, mask = self._teacher_forced(
            source, source_extended, target, training
        )
        if self.coverage and self.coverage_loss_weight > 0:
            loss = self.mean_coverage_loss(alignments, mask, target)
            self.add_loss(self.coverage_loss_weight * loss)
        return log_probs

    def step(self, tokens, state, training=False):
        """Decoding step `(tokens [N], [*wrapper state, source_extended]) -> (log_probs, state)`.

        `tokens` may be extended ids (a copied word fed back); `log_probs` is
        `[N, V + max_oovs]`. With `coverage`, the wrapper state holds the
        coverage `[N, S]` before its attention vector (`initial_decoder_state`).
        """
        *wrapper_state, source_extended = state
        embedded = self.target_embedding(self._in_vocabulary(tokens))
        embedded = self.embedding_dropout(embedded, training=training)
        cell = self.coverage_cell if self.coverage else self.wrapper
        output, new_state = cell(embedded, wrapper_state, training=training)
        output = output[:, : self.units]  # drop the appended alignments
        log_probs = self._final(output, new_state[-4], embedded, new_state, source_extended)
        return log_probs, [*new_state, source_extended]

    def _check_extended(self, source, source_extended):
        source_extended = ops.convert_to_tensor(source_extended)
        check_dtype_kind("source_extended", source_extended, "integer")
        check_mask_shape(
            "source_extended", source_extended, "source", ops.convert_to_tensor(source)
        )
        check_ids_in_range("source_extended", source_extended, self.extended_size)
        return ops.cast(source_extended, "int32")

    # ------------------------------------------------------------------ decoding

    def greedy_search(self, source, source_extended):
        """Greedy decoding: `(extended ids [B, max_output_length], scores [B])`."""
        source = ops.convert_to_tensor(source, "int32")
        return self._decoder("greedy")(source, self._check_extended(source, source_extended))

    def beam_search(self, source, source_extended, beam_width=4, length_penalty=0.0):
        """Beam search: `(extended ids [B, beam, max_output_length], scores [B, beam])`."""
        beam_width = check_positive_int("beam_width", beam_width)
        length_penalty = float(check_range("length_penalty", length_penalty, 0.0))
        source = ops.convert_to_tensor(source, "int32")
        run = self._decoder("beam", beam_width=beam_width, length_penalty=length_penalty)
        return run(source, self._check_extended(source, source_extended))

    def attention_weights(self, source, target):
        """Alignments `[B, T, S]` of the decoder fed `target` (extended ids allowed)."""
        state = self.initial_decoder_state(source)
        embedded = self.target_embedding(self._decoder_inputs(target))
        decoder = self.coverage_decoder if self.coverage else self.decoder
        hidden = decoder(embedded, initial_state=state)
        return self.wrapper.split_alignments(hidden)[1]

    def get_config(self):
        return {
            **super().get_config(),
            "max_oovs": self.max_oovs,
            "unk_id": self.unk_id,
            "coverage": self.coverage,
            "coverage_loss_weight": self.coverage_loss_weight,
        }
