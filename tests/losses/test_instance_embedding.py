"""Discriminative instance loss vs a NumPy loop over instances; clustering recovers instances."""

import keras
import numpy as np
import pytest

from keras_dlss.debugging import gradient_check
from keras_dlss.decoding import cluster_embeddings
from keras_dlss.losses import DiscriminativeInstanceLoss, discriminative_instance_loss
from keras_dlss.metrics import panoptic_quality


def _reference(ids, emb, dv=0.5, dd=1.5, alpha=1.0, beta=1.0, gamma=0.001):
    """De Brabandere et al. 2017, Eq. 1-4, one image, written instance by instance."""
    labels = [c for c in np.unique(ids) if c != 0]
    if not labels:
        return 0.0
    x = emb.reshape(-1, emb.shape[-1]).astype("float64")
    flat = ids.ravel()
    means = {c: x[flat == c].mean(0) for c in labels}
    l_var = np.mean(
        [
            np.mean(np.maximum(np.linalg.norm(x[flat == c] - means[c], axis=1) - dv, 0) ** 2)
            for c in labels
        ]
    )
    pairs = [(a, b) for a in labels for b in labels if a != b]
    l_dist = (
        np.mean([max(2 * dd - np.linalg.norm(means[a] - means[b]), 0) ** 2 for a, b in pairs])
        if pairs
        else 0.0
    )
    l_reg = np.mean([np.linalg.norm(means[c]) for c in labels])
    return alpha * l_var + beta * l_dist + gamma * l_reg


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 4, (3, 5, 6)).astype("int32")
    ids[2] = 0  # an image with no instance
    ids[1] = np.where(ids[1] > 1, 2, ids[1])  # one with fewer instances
    emb = rng.normal(size=(3, 5, 6, 2)).astype("float32")
    return ids, emb


def test_matches_the_reference_per_image():
    ids, emb = _batch()
    got = keras.ops.convert_to_numpy(discriminative_instance_loss(ids, emb, max_instances=5))
    want = [_reference(i, e) for i, e in zip(ids, emb)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert got[2] == 0.0


def test_loss_object_reduces_and_round_trips():
    ids, emb = _batch()
    loss = DiscriminativeInstanceLoss(max_instances=5, delta_var=0.3, gamma=0.01)
    want = np.mean([_reference(i, e, dv=0.3, gamma=0.01) for i, e in zip(ids, emb)])
    assert float(loss(ids, emb)) == pytest.approx(want, rel=1e-5)
    clone = DiscriminativeInstanceLoss.from_config(loss.get_config())
    assert float(clone(ids, emb)) == pytest.approx(want, rel=1e-5)


def test_gradient_check():
    ids, emb = _batch(1)
    # float64 finite differences w.r.t. the embeddings (ids are integers, passed through).
    gradient_check(
        lambda e: discriminative_instance_loss(ids, e, max_instances=5), (emb,), fast_mode=True
    )


def test_training_embeddings_then_clustering_recovers_the_instances():
    # Three square instances on a background; a 1×1-conv embedding of a one-hot
    # "appearance" per instance is trained with the loss, then mean shift clusters it.
    ids = np.zeros((1, 8, 8), "int32")
    ids[0, :4, :4], ids[0, 4:, :4], ids[0, 2:6, 5:] = 1, 2, 3
    features = np.eye(4, dtype="float32")[ids] + np.random.default_rng(0).normal(
        0, 0.05, (1, 8, 8, 4)
    ).astype("float32")
    model = keras.Sequential([keras.Input((8, 8, 4)), keras.layers.Conv2D(2, 1)])
    model.compile(optimizer=keras.optimizers.Adam(0.15), loss=DiscriminativeInstanceLoss(4))
    # One batch: a plain loop of train_on_batch avoids fit's per-epoch overhead.
    for _ in range(40):
        model.train_on_batch(features, ids)
    emb = model.predict(features, verbose=0)
    found = cluster_embeddings(emb, foreground=ids > 0, bandwidth=1.0)
    assert found.shape == ids.shape
    # As panoptic maps with one "thing" class: every instance is matched.
    result = panoptic_quality(1000 + ids * (ids > 0), 1000 + found * (found > 0), num_classes=2)
    assert result["pq"] > 0.9, result


def test_clustering_is_deterministic_and_respects_min_pixels():
    emb = np.zeros((4, 4, 2), "float32")
    emb[:, 2:] = 5.0
    emb[0, 0] = -9.0  # a lone pixel
    ids = cluster_embeddings(emb, bandwidth=1.0, min_pixels=2)
    assert ids[0, 0] == 0 and len(np.unique(ids)) == 3
    np.testing.assert_array_equal(ids, cluster_embeddings(emb, bandwidth=1.0, min_pixels=2))


@pytest.mark.parametrize(
    "call, argument",
    [
        (lambda: DiscriminativeInstanceLoss(1), "max_instances"),
        (lambda: DiscriminativeInstanceLoss(3, delta_var=0.0), "delta_var"),
        (
            lambda: DiscriminativeInstanceLoss(3)(
                np.zeros((1, 4, 4), "int32"), np.zeros((1, 4, 5, 2), "float32")
            ),
            "y_true",
        ),
        (lambda: cluster_embeddings(np.zeros((4, 4))), "embeddings"),
        (
            lambda: cluster_embeddings(np.zeros((4, 4, 2)), foreground=np.ones((4, 3))),
            "foreground",
        ),
    ],
)
def test_bad_inputs_raise(call, argument):
    with pytest.raises(ValueError, match=rf"`{argument}`.*Received"):
        call()
