"""The `Task` recipe behind `keras-dlss train|tune|predict|generate NAME`.

An application module defines a model builder (e.g. `MLPClassifier`) for use
by import, plus a `Task` subclass that tells the CLI how to load its default
data, build and compile the model, evaluate it and (optionally) predict or
generate. The CLI owns everything generic: early stopping, progress bars,
writing `model.keras`, `saved_model/`, `metrics.json`, `history.png`.
"""

import dataclasses
from typing import Any


@dataclasses.dataclass
class TaskData:
    """Splits of a task's data.

    Attributes:
        train: `(x, y)` for `model.fit`; `x` may be an array, list or dict.
        validation: `(x, y)` used for early stopping, or None.
        test: `(x, y)` held out for the reported metrics.
        info: JSON-serializable metadata (vocabularies, class names) saved
            beside the model as `metadata.json` and given to `predict`.
    """

    train: tuple
    validation: tuple | None
    test: tuple
    info: dict = dataclasses.field(default_factory=dict)


class Task:
    """Base class of a CLI application recipe; subclasses override the hooks."""

    name: str = ""
    summary: str = ""
    default_data: str = ""
    # Where the embedded default data comes from and its license ("generated" when synthetic):
    # `keras-dlss list` prints it, and real data ships its LICENSE beside it.
    data_license: str = "generated"
    default_epochs: int = 10
    default_batch_size: int = 32
    monitor: str = "val_loss"
    patience: int = 5

    def load_data(self, path: str | None = None, seed: int = 0) -> TaskData:
        """Loads `path` (user data) or the embedded default when None."""
        raise NotImplementedError

    def build_model(self, data: TaskData, *, jit_compile: bool = True, seed: int = 0, **hparams):
        """Returns a compiled `keras.Model` for `data`."""
        raise NotImplementedError

    def fit(self, model, data: TaskData, *, epochs, batch_size, callbacks, verbose=1):
        x, y = data.train
        return model.fit(
            x,
            y,
            validation_data=data.validation,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=callbacks,
            verbose=verbose,
        )

    def evaluate(self, model, data: TaskData) -> dict[str, float]:
        x, y = data.test
        values = model.evaluate(x, y, verbose=0, return_dict=True)
        return {f"test_{k}": float(v) for k, v in values.items()}

    def sample_inputs(self, data: TaskData, n: int = 8) -> Any:
        """A small batch of model inputs, used to check exported artifacts."""
        x = data.test[0]
        if isinstance(x, dict):
            return {k: v[:n] for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [v[:n] for v in x]
        return x[:n]

    def save_artifacts(self, model, data: TaskData, out_dir: str) -> list[str]:
        """Writes task-specific files (plots, samples); returns their paths."""
        return []

    def tensorboard_images(self, model, data: TaskData) -> dict:
        """Pictures for `train --tensorboard`: name -> [N, H, W(, C)] array, or `{}`.

        Called at the end of every epoch; keep it to a few small images.
        """
        return {}

    def search_space(self, hp) -> dict:
        """Maps a keras-tuner `HyperParameters` to `build_model` kwargs."""
        raise NotImplementedError(f"Application {self.name!r} does not support tuning.")

    def predict(self, model, inputs: list[str], metadata: dict) -> list[str]:
        raise NotImplementedError(f"Application {self.name!r} does not support `predict`.")

    def generate(self, model, metadata: dict, out: str, **options) -> list[str]:
        raise NotImplementedError(f"Application {self.name!r} does not support `generate`.")


def compiled(fn, jit_compile):
    """`fn` as one compiled graph on TensorFlow (XLA when asked); as-is elsewhere.

    Decoding loops run step by step in eager mode; one `tf.function` makes them
    a single program (and an XLA one with `jit_compile=True`).
    """
    import keras  # here: this module stays light for `keras-dlss list`

    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=jit_compile, reduce_retracing=True)
    return fn
