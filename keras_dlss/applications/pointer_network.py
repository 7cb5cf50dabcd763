"""Pointer network: an LSTM encoder-decoder whose outputs are positions in its input.

Vinyals, Fortunato & Jaitly 2015 (https://arxiv.org/abs/1506.03134). The encoder reads the
input points; at every step the decoder is fed the point it pointed at before and
`PointerAttention` turns its state into a distribution over the input positions, so the
same weights serve inputs of any length (trained on 5-10 points, run on 50).

Slot 0 of the output dictionary is a learned "end" entry (its decoder input doubles as the
"go" symbol); slot `k >= 1` is input point `k - 1`. This is the target convention of
`keras_dlss.datasets.convex_hull_task` (-1 pads targets). With `mask_pointed=True` the
positions already pointed at are masked (sorting, hulls), in training by a cumulative one-hot
of the teacher-forced inputs and in decoding by a state carried through
`keras_dlss.decoding`'s greedy and beam search. `permutation=True` also masks the end slot
until every point has been pointed at: without it, beam search (which sums log-probabilities)
favours hypotheses that stop early, and every output is a complete permutation only with it.

The training graph is teacher-forced and loop-free apart from the two LSTMs, so `model.fit`
uses Keras's own step and the model exports to SavedModel and ONNX. Every model input is
float32 (the pointers are cast inside): a subclassed model's export signature has one dtype.
"""

import weakref

import keras
from keras import ops

from keras_dlss import decoding
from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.applications.base import compiled
from keras_dlss.layers.pointer_attention import PointerAttention

_DECODERS = weakref.WeakKeyDictionary()


@keras.saving.register_keras_serializable(package="keras_dlss")
class PointerNetwork(keras.Model):
    """LSTM pointer network with teacher forcing and greedy / beam decoding.

    Inputs are a dict: `"inputs"` `[B, N, features]` float points; `"pointers"` `[B, T]`
    target slots (0 = end, `k` = point `k - 1`, -1 = padding), used for teacher forcing;
    optional `"mask"` `[B, N]` (1 for real points, 0 for padding). `call` returns `[B, T,
    N + 1]` pointer logits (masked slots -1e9): train with
    `SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)` (what `compile()`
    defaults to).

    Args:
        units: int. Encoder and decoder LSTM units and scoring depth. Defaults to `64`.
        mask_pointed: bool. Mask the points already pointed at. Defaults to `False`.
        permutation: bool. The output is a permutation of the (unmasked) inputs: implies
            `mask_pointed`, and the end slot is allowed only once every point has been
            pointed at. Defaults to `False`.
        **kwargs: base `Model` arguments.

    Example:

    ```python
    import numpy as np
    from keras_dlss.applications import PointerNetwork

    points = np.random.rand(8, 4, 1).astype("float32")
    order = np.argsort(points[..., 0], axis=-1)
    pointers = np.concatenate([order + 1, np.zeros((8, 1), int)], 1).astype("float32")
    model = PointerNetwork(8, permutation=True)
    model.compile()
    model.fit({"inputs": points, "pointers": pointers}, pointers, epochs=1, verbose=0)
    slots, scores = model.greedy_search(points)   # [8, 5]: slot k = point k - 1, end = 0
    # model.beam_search(points, beam_width=4) -> [8, 4, 5] slots, best first
    ```

    References:
        - [Vinyals et al., 2015](https://arxiv.org/abs/1506.03134)
    """

    def __init__(self, units=64, mask_pointed=False, permutation=False, **kwargs):
        super().__init__(**kwargs)
        self.units = check_positive_int("units", units)
        self.mask_pointed = bool(mask_pointed)
        self.permutation = bool(permutation)
        self.input_projection = keras.layers.Dense(self.units, name="input_projection")
        self.encoder = keras.layers.LSTM(
            self.units, return_sequences=True, return_state=True, name="encoder"
        )
        self.decoder = keras.layers.LSTM(self.units, return_sequences=True, name="decoder")
        self.pointer = PointerAttention(self.units, output_mode="logits", name="pointer")
        # Slot 0: the decoder input "go" (and after "end"), and the memory entry "end".
        self.go = self.add_weight(shape=(self.units,), initializer="zeros", name="go")
        self.end = self.add_weight(shape=(self.units,), initializer="zeros", name="end")

    def compile(self, optimizer=None, loss=None, **kwargs):
        """Adam(1e-3, clipnorm 2) and the padding-ignoring cross-entropy unless given."""
        super().compile(
            optimizer=optimizer or keras.optimizers.Adam(1e-3, clipnorm=2.0),
            loss=loss
            or keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1),
            **kwargs,
        )

    def get_compile_config(self):
        return super().get_compile_config()

    def compile_from_config(self, config):
        # `compile` is overridden (for its defaults), so Keras leaves re-compiling to us.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def build(self, input_shape):
        shape = input_shape["inputs"]
        steps = input_shape["pointers"][1] or 4
        # The pointer is used through process_memory/score, never __call__: build it here.
        self.pointer.build((None, self.units), (None, None, self.units))
        self.teacher_forced(ops.zeros((1, shape[1] or 4, shape[-1])), ops.zeros((1, steps)), None)
        self.built = True

    # ------------------------------------------------------------------ pieces

    def encode(self, inputs, mask=None):
        """`(table [B, N+1, u], keys [B, N+1, u], slot mask [B, N+1], [h, c])`.

        `table` holds the decoder input of each slot (go, then the embedded points); `keys`
        the pointer keys of the memory (end, then the encoder outputs).
        """
        inputs = ops.convert_to_tensor(inputs, self.compute_dtype)
        _validate_inputs(inputs, mask)
        batch = ops.shape(inputs)[0]
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], "bool")
        mask = ops.cast(mask, "bool")
        embedded = self.input_projection(inputs)
        outputs, h, c = self.encoder(embedded, mask=mask)

        def prepend(vector, sequence):
            first = ops.broadcast_to(ops.cast(vector, sequence.dtype), (batch, 1, self.units))
            return ops.concatenate([first, sequence], axis=1)

        slots = ops.concatenate([ops.ones((batch, 1), "bool"), mask], axis=1)
        keys = self.pointer.process_memory(prepend(self.end, outputs))
        return prepend(self.go, embedded), keys, slots, [h, c]

    def teacher_forced(self, inputs, pointers, mask=None):
        """Pointer logits `[B, T, N + 1]` of the decoder fed the target slots."""
        table, keys, slots, state = self.encode(inputs, mask)
        pointers = ops.cast(pointers, "int32")
        previous = ops.concatenate([ops.zeros_like(pointers[:, :1]), pointers[:, :-1]], axis=1)
        fed = ops.one_hot(ops.maximum(previous, 0), ops.shape(table)[1], dtype=table.dtype)
        hidden = self.decoder(ops.einsum("btn,bnu->btu", fed, table), initial_state=state)
        allowed = self._allowed(slots[:, None, :], ops.cumsum(fed, axis=1))
        return self.pointer.score(hidden, keys, allowed)

    def call(self, inputs):
        return self.teacher_forced(inputs["inputs"], inputs["pointers"], inputs.get("mask"))

    def _allowed(self, slots, counts):
        """Slots that may be pointed at, given how often each slot was fed (`counts`)."""
        if not (self.mask_pointed or self.permutation):
            return slots
        # The end slot 0 is never "pointed": it ends every output.
        pointed = ops.greater(counts, 0.5)
        pointed = ops.concatenate([ops.zeros_like(pointed[..., :1]), pointed[..., 1:]], -1)
        allowed = ops.logical_and(slots, ops.logical_not(pointed))
        if self.permutation:
            done = ops.logical_not(ops.any(allowed[..., 1:], axis=-1, keepdims=True))
            allowed = ops.concatenate([done, allowed[..., 1:]], axis=-1)
        return allowed

    # ------------------------------------------------------------------ decoding

    def _decoder(self, kind, steps, jit, **options):
        # Cached outside the model: a tracked attribute would break SavedModel export.
        cache = _DECODERS.setdefault(self, {})
        key = (kind, steps, jit, tuple(sorted(options.items())))
        if key not in cache:

            def run(inputs, mask):
                table, keys, slots, (h, c) = self.encode(inputs, mask)
                state = (h, c, ops.zeros(ops.shape(slots), table.dtype))  # pointed counts
                # Per-example constants, tiled once per beam and closed over.
                copies = options.get("beam_width", 1)
                table, keys, slots = (ops.repeat(t, copies, axis=0) for t in (table, keys, slots))

                def step(tokens, state):
                    h, c, pointed = state
                    fed = ops.one_hot(tokens, ops.shape(table)[1], dtype=table.dtype)
                    x = ops.einsum("bn,bnu->bu", fed, table)
                    out, (h, c) = self.decoder.cell(x, [h, c])
                    pointed = pointed + fed
                    allowed = self._allowed(slots, pointed)
                    logits = ops.cast(self.pointer.score(out, keys, allowed), "float32")
                    return ops.log_softmax(logits, axis=-1), (h, c, pointed)

                if kind == "greedy":
                    return decoding.greedy_decode(step, state, 0, 0, steps)
                return decoding.beam_search(
                    step, state, 0, 0, options["beam_width"], steps, options["length_penalty"]
                )

            cache[key] = compiled(run, jit_compile=jit)
        return cache[key]

    def _run(self, kind, inputs, mask, **options):
        inputs = ops.convert_to_tensor(inputs, "float32")
        _validate_inputs(inputs, mask)
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], "bool")
        mask = ops.cast(ops.convert_to_tensor(mask), "bool")
        jit = getattr(self, "jit_compile", False) is True
        return self._decoder(kind, int(inputs.shape[1]) + 1, jit, **options)(inputs, mask)

    def greedy_search(self, inputs, mask=None):
        """Greedy pointers: `(slots [B, N + 1], scores [B])`; slot 0 = end, `k` = point `k-1`."""
        return self._run("greedy", inputs, mask)

    def beam_search(self, inputs, mask=None, beam_width=4, length_penalty=0.0):
        """Beam search: `(slots [B, beam, N + 1], scores [B, beam])`, best beam first."""
        beam_width = check_positive_int("beam_width", beam_width)
        length_penalty = float(check_range("length_penalty", length_penalty, 0.0))
        return self._run("beam", inputs, mask, beam_width=beam_width, length_penalty=length_penalty)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "mask_pointed": self.mask_pointed,
            "permutation": self.permutation,
        }


def _validate_inputs(inputs, mask):
    if len(inputs.shape) != 3:
        raise ValueError(
            "Argument `inputs` must have rank 3 ([batch, points, features]). "
            f"Received: inputs.shape={tuple(inputs.shape)}"
        )
    if mask is not None and tuple(mask.shape)[1:] != tuple(inputs.shape)[1:2]:
        if None not in (mask.shape[1], inputs.shape[1]):
            raise ValueError(
                "Argument `mask` must have shape [batch, points] (the first two axes of "
                f"`inputs`, {tuple(inputs.shape)}). Received: mask.shape={tuple(mask.shape)}"
            )
