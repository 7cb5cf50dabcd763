"""Adversarial training (Madry et al., ICLR 2018): minimize the loss at PGD examples.

The saddle-point problem min_θ E[max_{δ ∈ S} L(θ, x + δ, y)] (the paper's
Eq. 2.1) is trained by taking, for each batch, the inner maximum with PGD from
a random start and then an ordinary gradient step at those examples
(Danskin's theorem, Section 2). The step is written once on
`keras_dlss.models.CustomStep` primitives (a wrapper over the user's model, like
`SAMModel`), so it runs on TensorFlow, JAX and PyTorch and compiles with
`jit_compile=True`; the PGD loop is traced into the same training program and
its random starts come from the model's `SeedGenerator`, which the JAX state
carries. `clean_weight` mixes in the clean loss (Goodfellow et al. 2015's
α-weighted objective); the default `0.0` is Madry et al.'s.

Logged metrics during `fit` are measured on the adversarial batch (robust
training accuracy); `evaluate` measures clean data, as the model is called
normally outside training.
"""

import keras
from keras import ops

from keras_dlss._validation import check_positive_int, check_range
from keras_dlss.adversarial import _common
from keras_dlss.adversarial.pgd import pgd_examples
from keras_dlss.models import _backends
from keras_dlss.models.wrapper import WrapperModel


@keras.saving.register_keras_serializable(package="keras_dlss")
class AdversarialTrainingModel(WrapperModel):
    """Trains the wrapped classifier on PGD adversarial examples (Madry et al. 2018).

    Args:
        model: a classifier `keras.Model` taking float inputs and sparse labels.
        eps: float >= 0. Radius of the ball the adversary searches.
        step_size: float or None. PGD step; None is `2.5 * eps / steps`.
        steps: int >= 1. PGD steps per batch. Defaults to `7`.
        norm: `"inf"` or `2`. Defaults to `"inf"`.
        random_start: bool. Defaults to `True`.
        clip_min: float or None. Lower end of the valid range. Defaults to `0.0`.
        clip_max: float or None. Upper end. Defaults to `1.0`.
        from_logits: bool. Whether `model` returns logits (for the adversary's
            cross-entropy). Defaults to `False` (softmax outputs).
        clean_weight: float in [0, 1]. Weight of the clean loss. Defaults to `0.0`.
        seed: int or None. Seed of the random starts.
        **kwargs: passed to `keras.Model`.

    Example:

    ```python
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model = keras_dlss.adversarial.AdversarialTrainingModel(net, eps=0.1, steps=2, seed=0)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=True)
    x = np.random.rand(16, 4).astype("float32")
    model.fit(x, np.arange(16) % 3, epochs=1, batch_size=8, verbose=0)
    ```

    References:
        Madry et al., 2018. https://arxiv.org/abs/1706.06083
    """

    def __init__(
        self,
        model,
        eps=0.1,
        step_size=None,
        steps=7,
        norm="inf",
        random_start=True,
        clip_min=0.0,
        clip_max=1.0,
        from_logits=False,
        clean_weight=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(model, **kwargs)
        self.eps = _common.check_eps("eps", eps)
        self.steps = check_positive_int("steps", steps)
        self.step_size = (
            2.5 * self.eps / self.steps
            if step_size is None
            else _common.check_eps("step_size", step_size)
        )
        self.norm = _common.check_norm(norm)
        self.random_start = bool(random_start)
        self.clip_min, self.clip_max = clip_min, clip_max
        self._clip = _common.check_clip(clip_min, clip_max)
        self.from_logits = bool(from_logits)
        self.clean_weight = float(check_range("clean_weight", clean_weight, 0.0, 1.0))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def adversarial_examples(self, x, y):
        """PGD examples for the batch `(x, y)` at the current weights (traceable)."""
        x = ops.convert_to_tensor(x)
        y = ops.cast(ops.reshape(y, (-1,)), "int32")
        shape = ops.shape(x)  # the batch axis is unknown while `fit` traces the step
        if self.random_start:
            start = _backends.replica_random(  # each replica its share of one draw
                lambda n: _common.random_start(
                    (n, *shape[1:]), self.eps, self.norm, self.seed_generator, x.dtype
                ),
                shape[0],
            )
        else:
            start = ops.zeros(shape, x.dtype)
        loss = _common.loss_fn(self, self.from_logits)
        x_adv = pgd_examples(
            loss, x, y, start[None], self.eps, self.step_size, self.steps, self.norm, self._clip
        )
        return ops.stop_gradient(x_adv)

    def custom_train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        x_adv = self.adversarial_examples(x, y)

        def loss_fn():
            y_pred = self(x_adv, training=True)
            loss = self.compute_loss(x=x_adv, y=y, y_pred=y_pred, sample_weight=sample_weight)
            if self.clean_weight > 0.0:
                clean = self.compute_loss(
                    x=x, y=y, y_pred=self(x, training=True), sample_weight=sample_weight
                )
                loss = (1.0 - self.clean_weight) * loss + self.clean_weight * clean
            return loss, y_pred

        loss, y_pred, grads = self.compute_gradients(loss_fn, lambda: self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        loss = self.unscale_loss_for_distribution(loss)
        return self.step_logs(loss, x_adv, y, y_pred, sample_weight)

    def get_config(self):
        return {
            **super().get_config(),
            "eps": self.eps,
            "step_size": self.step_size,
            "steps": self.steps,
            "norm": self.norm,
            "random_start": self.random_start,
            "clip_min": self.clip_min,
            "clip_max": self.clip_max,
            "from_logits": self.from_logits,
            "clean_weight": self.clean_weight,
            "seed": self.seed,
        }
