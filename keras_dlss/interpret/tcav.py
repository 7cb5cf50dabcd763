"""Testing with concept activation vectors (TCAV; Kim et al., ICML 2018).

A concept activation vector (CAV) is the normal of a linear classifier that
separates a layer's activations for examples of a concept (striped images)
from those for random examples (Section 3.2). The conceptual sensitivity of a
class `k` at an input is the directional derivative of the class logit along
the CAV, `S = ∇h_k(f_l(x)) · v_C` (Eq. 1), and the TCAV score is the fraction of
a class's inputs with `S > 0` (Eq. 2).

One CAV can separate noise by chance, so the paper (Section 3.5) trains CAVs
against many random sets, does the same for random-vs-random "concepts", and
keeps a concept only when a two-sided t-test rejects equal mean scores, with a
Bonferroni correction over the concepts tested; `tcav` does exactly that.

The linear classifier here is a ridge classifier (least squares on ±1 labels,
solved in closed form, in the dual when activations outnumber examples):
deterministic, fast, and as linear as the paper's SGD logistic regression.

References:
    Kim et al., 2018. "Interpretability Beyond Feature Attribution: Quantitative
    Testing with Concept Activation Vectors (TCAV)". https://arxiv.org/abs/1711.11279
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_range
from keras_dlss.interpret import _core


def _ridge_direction(pos, neg, l2):
    """Unit normal of the ridge classifier separating `pos` (+1) from `neg` (-1)."""
    a = np.concatenate([pos, neg]).astype(np.float64)
    t = np.concatenate([np.ones(len(pos)), -np.ones(len(neg))])
    a = a - a.mean(axis=0)
    t = t - t.mean()
    n, d = a.shape
    if d > n:
        w = a.T @ np.linalg.solve(a @ a.T + l2 * np.eye(n), t)
    else:
        w = np.linalg.solve(a.T @ a + l2 * np.eye(d), a.T @ t)
    return w / max(np.linalg.norm(w), 1e-12)


@keras.saving.register_keras_serializable(package="keras_dlss")
class ConceptActivationVector:
    """A concept's direction in one layer's activation space (Kim et al. 2018).

    Args:
        vector: float array, the unit CAV over the flattened activations.
        layer_name: str. The layer whose activations it lives in.
        accuracy: float or None. Training accuracy of the linear classifier.

    Example:

    ```python
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="h"),
                              keras.layers.Dense(2)])
    cav = keras_dlss.interpret.ConceptActivationVector.fit(
        model, "h", np.random.rand(8, 3) + 1.0, np.random.rand(8, 3))
    score = keras_dlss.interpret.tcav_score(model, np.random.rand(5, 3), 0, cav)
    ```

    References:
        Kim et al., 2018. https://arxiv.org/abs/1711.11279
    """

    def __init__(self, vector, layer_name, accuracy=None):
        self.vector = np.asarray(vector, np.float32).reshape(-1)
        self.layer_name = layer_name
        self.accuracy = accuracy

    @classmethod
    def fit(cls, model, layer_name, concept_examples, random_examples, *, l2=1e-2):
        """Trains the CAV from concept inputs vs random inputs (both `[N, ...]` arrays)."""
        check_range("l2", l2, 0.0, low_inclusive=False)
        features, _ = _core.split_at(model, layer_name, _core.layer_names(model))
        pos = _activations(features, concept_examples, "concept_examples")
        neg = _activations(features, random_examples, "random_examples")
        w = _ridge_direction(pos, neg, l2)
        centre = np.concatenate([pos, neg]).mean(axis=0)
        hits = np.concatenate([(pos - centre) @ w > 0, (neg - centre) @ w <= 0])
        return cls(w, layer_name, float(hits.mean()))

    def get_config(self):
        return {
            "vector": self.vector.tolist(),
            "layer_name": self.layer_name,
            "accuracy": self.accuracy,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _activations(features, x, name):
    x = np.asarray(x, np.float32)
    if x.ndim < 2 or len(x) < 1:
        raise ValueError(
            f"Argument `{name}` must be a non-empty batch `[N, ...]`. Received: {name}.shape={x.shape}"
        )
    a = ops.convert_to_numpy(features(x, training=False))
    return np.asarray(a, np.float64).reshape(len(x), -1)


def conceptual_sensitivity(model, x, target, cav, *, jit_compile=True):
    """Directional derivatives `∇h_k(f_l(x)) · v_C` per example (Kim et al. Eq. 1).

    Args:
        model: a functional or `Sequential` `keras.Model`.
        x: float array `[B, ...]`.
        target: class index, one index per example, or a callable on outputs.
        cav: a `ConceptActivationVector` of one of the model's layers.
        jit_compile: bool. Defaults to `True`.

    Returns:
        Float array `[B]`.

    Example:

    ```python
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="h"),
                              keras.layers.Dense(1)])
    cav = keras_dlss.interpret.ConceptActivationVector([0.0, 1.0], "h")
    keras_dlss.interpret.conceptual_sensitivity(model, np.ones((3, 2), "float32"), 0, cav)
    ```

    References:
        Kim et al., 2018. https://arxiv.org/abs/1711.11279
    """
    features, head = _core.split_at(model, cav.layer_name, _core.layer_names(model))
    x = _core.as_float("x", x)
    tgt = _core.head_target(_core.Target(model, x, target), head)
    vector = ops.convert_to_tensor(cav.vector, x.dtype)

    def program(x, onehot, vector):
        a = features(x, training=False)
        g = _core.input_gradient(tgt.scalar_fn(onehot), a)
        return ops.sum(ops.reshape(g, (x.shape[0], -1)) * vector[None], axis=-1)

    key = ("tcav", cav.layer_name, tgt.key)
    run = _core.compiled(model, key, program, jit_compile)
    return np.asarray(ops.convert_to_numpy(run(x, tgt.args(), vector)))


def tcav_score(model, x, target, cav, *, jit_compile=True):
    """TCAV score: the fraction of `x` whose class output grows along the CAV (Eq. 2).

    Args:
        model: a functional or `Sequential` `keras.Model`.
        x: float array `[B, ...]`: inputs of the class being explained.
        target: class index, one index per example, or a callable on outputs.
        cav: a `ConceptActivationVector`.
        jit_compile: bool. Defaults to `True`.

    Returns:
        A Python float in [0, 1].

    Example:

    ```python
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="h"),
                              keras.layers.Dense(1)])
    cav = keras_dlss.interpret.ConceptActivationVector([1.0, 0.0], "h")
    keras_dlss.interpret.tcav_score(model, np.ones((3, 2), "float32"), 0, cav)
    ```

    References:
        Kim et al., 2018. https://arxiv.org/abs/1711.11279
    """
    return float(
        np.mean(conceptual_sensitivity(model, x, target, cav, jit_compile=jit_compile) > 0)
    )


def tcav(model, x, target, layer_name, concepts, random_sets, *, alpha=0.05, l2=1e-2):
    """TCAV with its statistical test over random concepts (Kim et al. Section 3.5).

    For each concept, one CAV per random set (concept vs that set) gives a
    distribution of TCAV scores; random-vs-random CAVs (the first random set
    against each other one) give the null distribution. A two-sided Welch
    t-test compares the two; p-values are Bonferroni-corrected over the
    concepts tested.

    Args:
        model: a functional or `Sequential` `keras.Model`.
        x: float array `[B, ...]`: inputs of the explained class.
        target: class index, one index per example, or a callable on outputs.
        layer_name: str. The layer whose activations hold the CAVs.
        concepts: dict `name -> [N, ...]` concept examples.
        random_sets: list of at least 3 `[N, ...]` arrays of random examples.
        alpha: float in (0, 1). Significance level after correction.
            Defaults to `0.05`.
        l2: float > 0. Ridge penalty of the linear classifiers. Defaults to `1e-2`.

    Returns:
        Dict `name -> {"scores", "mean", "std", "p_value", "significant"}`, plus
        `"_random"` with the null scores.

    Example:

    ```python
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="h"),
                              keras.layers.Dense(2)])
    rng = np.random.default_rng(0)
    result = keras_dlss.interpret.tcav(
        model, rng.random((6, 3)), 0, "h", {"big": rng.random((8, 3)) + 2.0},
        [rng.random((8, 3)) for _ in range(4)])
    ```

    References:
        Kim et al., 2018. https://arxiv.org/abs/1711.11279
    """
    from scipy import stats

    check_range("alpha", alpha, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    if len(random_sets) < 3:
        raise ValueError(
            "Argument `random_sets` must hold at least 3 random sets (a null distribution "
            f"needs several random CAVs). Received: {len(random_sets)} set(s)"
        )
    if not concepts:
        raise ValueError(
            f"Argument `concepts` must name at least one concept. Received: {concepts!r}"
        )

    def score(positive, negative):
        cav = ConceptActivationVector.fit(model, layer_name, positive, negative, l2=l2)
        return tcav_score(model, x, target, cav)

    null = np.array([score(random_sets[0], r) for r in random_sets[1:]])
    results = {"_random": {"scores": null, "mean": float(null.mean()), "std": float(null.std())}}
    for name, examples in concepts.items():
        scores = np.array([score(examples, r) for r in random_sets])
        if np.ptp(scores) == 0 and np.ptp(null) == 0:
            p = 1.0 if scores[0] == null[0] else 0.0
        else:
            p = float(stats.ttest_ind(scores, null, equal_var=False).pvalue)
        p = min(1.0, p * len(concepts))
        results[name] = {
            "scores": scores,
            "mean": float(scores.mean()),
            "std": float(scores.std()),
            "p_value": p,
            "significant": bool(p < alpha),
        }
    return results
