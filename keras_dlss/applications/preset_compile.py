"""`PresetCompile`: `compile()` with no arguments uses the application's preset, and a
saved model remembers that it did.

Keras saves a compiled model's optimizer, loss and metrics as configs. For an
application compiled with its preset (`model.compile()`), saving the marker
`{"auto": True}` instead keeps `.keras` files small and loadable even when the
preset holds objects without a config (schedules built from constructor
arguments), and a reload compiles exactly as the constructor arguments say.

A mixin, not a base class: Keras rewrites the bases of a `Model` subclass built as
`Cls(inputs, outputs)`, so shared behaviour must not live in a shared `Model` base
(see docs/models.md).
"""

import keras


class PresetCompile:
    """Mixin for `keras.Model` subclasses whose `compile` has an "auto" preset.

    The subclass's `compile(optimizer="auto", loss="auto", metrics="auto",
    jit_compile=..., **kwargs)` calls `self._remember_preset(...)` first.
    """

    def _remember_preset(self, optimizer, loss, metrics, kwargs):
        self._auto_compile = all(arg == "auto" for arg in (optimizer, loss, metrics)) and not kwargs

    def _compile_classifier(
        self,
        optimizer,
        loss,
        metrics,
        jit_compile,
        kwargs,
        *,
        preset_optimizer,
        from_logits=False,
        metric_name="accuracy",
    ):
        """The body of a classifier's preset `compile`: each "auto" argument becomes the
        preset, `preset_optimizer()` (called only when needed), sparse categorical
        cross-entropy and accuracy, then `keras.Model.compile`."""
        self._remember_preset(optimizer, loss, metrics, kwargs)
        if optimizer == "auto":
            optimizer = preset_optimizer()
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name=metric_name)]
        super().compile(
            optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile, **kwargs
        )

    def get_compile_config(self):
        if getattr(self, "_auto_compile", False):
            return {"auto": True, "jit_compile": self.jit_compile}
        return super().get_compile_config()

    def compile_from_config(self, config):
        if config.get("auto"):
            self.compile(jit_compile=config.get("jit_compile", True))
            if self.built:
                self.optimizer.build(self.trainable_variables)
            return
        super().compile_from_config(config)
