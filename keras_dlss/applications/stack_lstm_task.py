"""`keras-dlss train parser --kind stack-lstm`: the pieces `ParserTask` needs for a stack LSTM.

The task's data are encoded trees (`parser_task.encode_trees`); a stack-LSTM
parser trains on their static-oracle transition sequences instead, so this
module turns heads into transitions, drops the non-projective training trees
the transition system cannot build (31 of EWT dev's 2,001: filtered, not
lifted), and batches by length like the biaffine parser. `--oracle dynamic`
(arc-hybrid only) trains with exploration instead (`stack_lstm_exploration`):
`warmup` static epochs, then every epoch replays the current model's own
explored parses with the dynamic oracle's zero-cost actions as targets.
"""

import keras

from keras_dlss import _validation as v
from keras_dlss.applications.parser_task import LengthBuckets
from keras_dlss.applications.stack_lstm_exploration import (
    DynamicOracle,
    check_system,
    dynamic_data,
    static_data,
)
from keras_dlss.applications.stack_lstm_parser import StackLSTMParser
from keras_dlss.applications.transition_systems import transition_targets


def oracle_data(xy, system):
    """`(x, y)` of encoded trees -> teacher-forcing `(x, y)` of the projective ones."""
    x, y = xy
    actions, relations, keep = transition_targets(y["heads"], y["labels"], system)
    tokens = {k: x[k][keep] for k in ("words", "upos") if k in x}
    x = {**tokens, "actions": actions[keep], "relations": relations[keep]}
    return x, {"actions": x["actions"], "relations": x["relations"]}


class TransitionBuckets(LengthBuckets):
    """`LengthBuckets` whose transition arrays are cut to `2 * (width - 1)` steps."""

    def __getitem__(self, i):
        idx, width = self.batches[i]
        steps = 2 * (width - 1)
        x = {k: a[idx, : width if k in ("words", "upos") else steps] for k, a in self.x.items()}
        return x, {k: a[idx, :steps] for k, a in self.y.items()}


def build_stack_lstm(
    info,
    learning_rate,
    jit_compile,
    system="arc-standard",
    oracle="static",
    explore_p=0.9,
    **hparams,
):
    """A compiled `StackLSTMParser` for the task's vocabularies.

    `oracle="dynamic"` (arc-hybrid only, else `ValueError`) makes `fit_stack_lstm`
    train with exploration probability `explore_p`; both are kept in `info`.

    Training runs as a plain graph even when `jit_compile` is set: the batch's
    width is unknown while Keras traces `fit`, so TensorFlow's while loop has no
    static trip count, which XLA needs to differentiate it (PITFALLS). `parse`
    always compiles the whole decoding loop with XLA.
    """
    del jit_compile
    check_system(system, oracle)
    v.check_range("explore_p", explore_p, 0.0, 1.0)
    info.update(system=system, oracle=oracle, explore_p=float(explore_p))
    hparams.pop("lstm_layers", None)  # a biaffine option: the stack LSTM has one layer each
    model = StackLSTMParser(
        len(info["words"]["tokens"]), len(info["deprels"]), system=system, **hparams
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, beta_2=0.9, clipnorm=5.0),
        jit_compile=False,
    )
    return model


def fit_stack_lstm(model, data, epochs, batch_size, callbacks, verbose, warmup=2):
    """Trains on the static oracle, or with `data.info["oracle"] == "dynamic"` with
    exploration after `warmup` static epochs (Goldberg & Nivre 2012 explore after k = 2)."""
    validation = None
    if data.info.get("oracle", "static") == "static":
        x, y = oracle_data(data.train, model.system)
        if data.validation:
            validation = oracle_data(data.validation, model.system)
        buckets = TransitionBuckets(x, y, batch_size)
    else:
        p = data.info["explore_p"]
        if warmup == 0:
            x, y = dynamic_data(model, data.train, p)
        else:
            x, y = static_data(data.train, model.system)
        if data.validation:  # validation loss: the static oracle's, every epoch alike
            validation = static_data(data.validation, model.system)
        buckets = TransitionBuckets(x, y, batch_size)
        callbacks = [DynamicOracle(buckets, data.train, p, warmup), *callbacks]
    return model.fit(
        buckets, validation_data=validation, epochs=epochs, callbacks=callbacks, verbose=verbose
    )
