"""VSE / VSE++ ranking loss against NumPy loops over every negative."""

import keras
import numpy as np
import pytest

from keras_dlss.losses import ContrastiveRankingLoss, contrastive_ranking_loss

RNG = np.random.default_rng(0)
IMAGES, CAPTIONS = RNG.normal(size=(5, 3)), RNG.normal(size=(5, 3))


def _brute_force(images, captions, margin, hardest, normalize):
    if normalize:
        images = images / np.linalg.norm(images, axis=1, keepdims=True)
        captions = captions / np.linalg.norm(captions, axis=1, keepdims=True)
    n = len(images)
    out = []
    for i in range(n):
        s_ii = images[i] @ captions[i]
        to_captions = [
            max(0.0, margin - s_ii + images[i] @ captions[j]) for j in range(n) if j != i
        ]
        to_images = [max(0.0, margin - s_ii + images[j] @ captions[i]) for j in range(n) if j != i]
        reduce = max if hardest else sum
        out.append(reduce(to_captions) + reduce(to_images))
    return np.array(out)


@pytest.mark.parametrize("hardest", [True, False])
@pytest.mark.parametrize("normalize", [True, False])
def test_against_brute_force(hardest, normalize):
    got = keras.ops.convert_to_numpy(
        contrastive_ranking_loss(
            IMAGES, CAPTIONS, 0.3, hardest_negative=hardest, normalize=normalize
        )
    )
    np.testing.assert_allclose(
        got, _brute_force(IMAGES, CAPTIONS, 0.3, hardest, normalize), atol=1e-6
    )


def test_loss_class_reduces_and_round_trips():
    loss = ContrastiveRankingLoss(margin=0.1, hardest_negative=False)
    expected = _brute_force(IMAGES, CAPTIONS, 0.1, False, True).mean()
    np.testing.assert_allclose(float(loss(CAPTIONS, IMAGES)), expected, rtol=1e-5)
    again = ContrastiveRankingLoss.from_config(loss.get_config())
    assert again.get_config() == loss.get_config()
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss))
    np.testing.assert_allclose(float(restored(CAPTIONS, IMAGES)), expected, rtol=1e-5)
    assert float(ContrastiveRankingLoss(margin=0.0)(IMAGES, IMAGES)) == 0.0


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="`captions`.*Received: captions.shape=\\(4, 3\\)"):
        contrastive_ranking_loss(IMAGES, CAPTIONS[:4])
    with pytest.raises(ValueError, match="`images`.*Received"):
        contrastive_ranking_loss(IMAGES[0], CAPTIONS[0])
    with pytest.raises(ValueError, match="`margin`.*Received"):
        ContrastiveRankingLoss(margin=-1.0)


def test_compiled_parity_and_float64_gradients():
    from keras_dlss.applications.base import compiled
    from keras_dlss.debugging import gradient_check

    fn = lambda a, b: contrastive_ranking_loss(a, b, 0.3)  # noqa: E731
    eager = keras.ops.convert_to_numpy(fn(IMAGES, CAPTIONS))
    xla = keras.ops.convert_to_numpy(compiled(fn, True)(IMAGES, CAPTIONS))
    np.testing.assert_allclose(xla, eager, atol=1e-6)
    for hardest in (True, False):
        gradient_check(
            lambda a, b, h=hardest: contrastive_ranking_loss(a, b, 0.3, hardest_negative=h),
            [IMAGES, CAPTIONS],
        )
