"""Semantic parsing to executable programs with grammar-constrained decoding.

`SemanticParser` is the attention `Seq2SeqTranslator` (BiLSTM encoder,
attention LSTM decoder) whose target language has a grammar: besides the plain
greedy and beam decoders it inherits, it decodes under an LL(1) grammar mask
(`keras_dlss.decoding.Grammar`), so every output is a program the grammar
derives. Plain seq2seq "does not exploit structure" and can emit malformed
programs; syntax-constrained decoding (Yin & Neubig 2017,
https://arxiv.org/abs/1704.01696) cannot.

The CLI task (`keras-dlss train semantic-parser`) lives in
`semantic_parser_task.py`.
"""

import weakref

import keras
from keras import ops

from keras_dlss import decoding
from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.applications.base import compiled
from keras_dlss.applications.seq2seq import Seq2SeqTranslator

_DECODERS = weakref.WeakKeyDictionary()


@keras.saving.register_keras_serializable(package="keras_dlss")
class SemanticParser(Seq2SeqTranslator):
    """Seq2seq semantic parser with plain and grammar-constrained decoding.

    Args:
        grammar: a `keras_dlss.decoding.Grammar` over the target vocabulary
            (token `i` of `grammar.vocabulary` is target id `i`), or its
            `get_config()` dict. Its vocabulary size must equal
            `target_vocab_size` and `end_id` must not be a terminal.
        **kwargs: `Seq2SeqTranslator` arguments (`source_vocab_size`,
            `target_vocab_size`, `units`, `max_output_length`, ...).

    Example:

    ```python
    import keras
    import numpy as np
    from keras_dlss.applications import SemanticParser
    from keras_dlss.decoding import Grammar

    vocab = ["<pad>", "<start>", "<end>", "(", ")", "x", "+"]
    grammar = Grammar({"e": ["t r"], "r": ["", "+ t r"], "t": ["x", "( e )"]}, "e", vocab)
    model = SemanticParser(grammar, source_vocab_size=10, target_vocab_size=7, units=8,
                           max_output_length=6)
    source = np.random.randint(1, 10, size=(2, 5))
    sequences, scores = model.constrained_greedy_search(source)  # grammatical
    ```

    References:
        - [Yin & Neubig, 2017](https://arxiv.org/abs/1704.01696)
        - [Dong & Lapata, 2016](https://arxiv.org/abs/1601.01280)
    """

    def __init__(self, grammar, **kwargs):
        if isinstance(grammar, dict):
            grammar = decoding.Grammar.from_config(grammar)
        if not isinstance(grammar, decoding.Grammar):
            raise ValueError(
                "Argument `grammar` must be a `keras_dlss.decoding.Grammar` or its config. "
                f"Received: grammar={grammar!r}"
            )
        super().__init__(**kwargs)
        if len(grammar.vocabulary) != self.target_vocab_size:
            raise ValueError(
                f"Argument `grammar` must have one token per target id "
                f"({self.target_vocab_size}). Received: a vocabulary of "
                f"{len(grammar.vocabulary)} tokens"
            )
        grammar.constraint(1, self.end_id, self.max_output_length)  # checks end_id
        self.grammar = grammar

    def _constrained_decoder(self, beam_width, length_penalty):
        cache = _DECODERS.setdefault(self, {})
        jit = getattr(self, "jit_compile", False) is True
        key = (beam_width, length_penalty, jit)
        if key not in cache:

            def run(source):
                state = self.initial_decoder_state(source)
                # As in Seq2SeqTranslator: memory, keys and mask are closed over.
                n = len(state) - 3
                constants = [ops.repeat(c, beam_width or 1, axis=0) for c in state[n:]]

                def step(tokens, small_state):
                    log_probs, new_state = self.step(tokens, list(small_state) + constants)
                    return log_probs, new_state[:n]

                allowed, constraint_state = self.grammar.constraint(
                    ops.shape(source)[0], self.end_id, self.max_output_length
                )
                args = (step, state[:n], self.start_id, self.end_id)
                if beam_width is None:
                    return decoding.greedy_decode(
                        *args, self.max_output_length, allowed, constraint_state
                    )
                return decoding.beam_search(
                    *args,
                    beam_width,
                    self.max_output_length,
                    length_penalty,
                    allowed,
                    constraint_state,
                )

            cache[key] = compiled(run, jit_compile=jit)
        return cache[key]

    def constrained_greedy_search(self, source):
        """Grammar-constrained greedy decoding: `(sequences [B, L], scores [B])`."""
        return self._constrained_decoder(None, 0.0)(ops.convert_to_tensor(source, "int32"))

    def constrained_beam_search(self, source, beam_width=4, length_penalty=0.0):
        """Grammar-constrained beam search: `(sequences [B, beam, L], scores [B, beam])`.

        Hypotheses scored `-inf` (fewer grammatical sequences than beams) may
        hold disallowed tokens; every finite-score hypothesis is grammatical.
        """
        beam_width = check_positive_int("beam_width", beam_width)
        length_penalty = float(check_range("length_penalty", length_penalty, 0.0))
        run = self._constrained_decoder(beam_width, length_penalty)
        return run(ops.convert_to_tensor(source, "int32"))

    def get_config(self):
        return {**super().get_config(), "grammar": self.grammar.get_config()}
