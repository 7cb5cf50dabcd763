"""`keras-dlss train parser --kind stack-lstm`: the pieces `ParserTask` needs for a stack LSTM.

The task's data are encoded trees (`parser_task.encode_trees`); a stack-LSTM
parser trains on their static-oracle transition sequences instead, so this
module turns heads into transitions, drops the non-projective training trees
the transition system cannot build (31 of EWT dev's 2,001: filtered, not
lifted), and batches by length like the biaffine parser.
"""

import keras

from keras_dlss.applications.parser_task import LengthBuckets
from keras_dlss.applications.stack_lstm_parser import StackLSTMParser
from keras_dlss.applications.transition_systems import transition_targets


def oracle_data(xy, system):
    """`(x, y)` of encoded trees -> teacher-forcing `(x, y)` of the projective ones."""
    x, y = xy
    actions, relations, keep = transition_targets(y["heads"], y["labels"], system)
    x = {"words": x["words"][keep], "actions": actions[keep], "relations": relations[keep]}
    return x, {"actions": x["actions"], "relations": x["relations"]}


class TransitionBuckets(LengthBuckets):
    """`LengthBuckets` whose transition arrays are cut to `2 * (width - 1)` steps."""

    def __getitem__(self, i):
        idx, width = self.batches[i]
        steps = 2 * (width - 1)
        x = {k: a[idx, : steps if k != "words" else width] for k, a in self.x.items()}
        return x, {k: x[k] for k in self.y}


def build_stack_lstm(info, learning_rate, jit_compile, system="arc-standard", **hparams):
    """A compiled `StackLSTMParser` for the task's vocabularies.

    Training runs as a plain graph even when `jit_compile` is set: the batch's
    width is unknown while Keras traces `fit`, so TensorFlow's while loop has no
    static trip count, which XLA needs to differentiate it (PITFALLS). `parse`
    always compiles the whole decoding loop with XLA.
    """
    del jit_compile
    info["system"] = system
    hparams.pop("lstm_layers", None)  # a biaffine option: the stack LSTM has one layer each
    model = StackLSTMParser(
        len(info["words"]["tokens"]), len(info["deprels"]), system=system, **hparams
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate, beta_2=0.9, clipnorm=5.0),
        jit_compile=False,
    )
    return model


def fit_stack_lstm(model, data, epochs, batch_size, callbacks, verbose):
    x, y = oracle_data(data.train, model.system)
    validation = oracle_data(data.validation, model.system) if data.validation else None
    return model.fit(
        TransitionBuckets(x, y, batch_size),
        validation_data=validation,
        epochs=epochs,
        callbacks=callbacks,
        verbose=verbose,
    )
