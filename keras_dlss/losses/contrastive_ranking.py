"""The bidirectional hinge ranking loss of joint image-caption embeddings (VSE, VSE++).

For a batch of N matching (image, caption) pairs with similarities s(i, j) between
image i and caption j, each true pair must score at least a margin α above the
pairs it could be confused with, in both retrieval directions (Faghri et al. 2018,
Eq. 2 and 4):

    sum of hinges:    Σ_{j≠i} [α − s(i,i) + s(i,j)]₊ + Σ_{j≠i} [α − s(i,i) + s(j,i)]₊
    hardest negative: max_{j≠i} [α − s(i,i) + s(i,j)]₊ + max_{j≠i} [α − s(i,i) + s(j,i)]₊

The other pairs of the batch are the negatives. VSE++'s point is the second form:
only the hardest negative of each direction contributes, which is what Recall@1
rewards (the sum lets many easy negatives outweigh one hard one). With `normalize`,
s is the cosine similarity, as in both papers (embeddings on the unit sphere).
"""

import keras
from keras import ops

from keras_dlss._validation import check_range, shape_str, shapes_compatible

__all__ = ["ContrastiveRankingLoss", "contrastive_ranking_loss"]


def contrastive_ranking_loss(images, captions, margin=0.2, hardest_negative=True, normalize=True):
    """Per-pair bidirectional hinge ranking loss `[N]` (VSE++ when `hardest_negative`).

    Args:
        images: float tensor `[N, D]`, image embeddings.
        captions: float tensor `[N, D]`; `captions[i]` matches `images[i]` and is a
            negative for every other image.
        margin: float >= 0. The margin α. Defaults to `0.2` (the paper's).
        hardest_negative: bool. Max over negatives (VSE++) rather than the sum of
            hinges (VSE). Defaults to `True`.
        normalize: bool. L2-normalize both embeddings (cosine similarity).
            Defaults to `True`.

    Returns:
        Tensor `[N]`: the caption-retrieval plus image-retrieval hinge of each pair.

    Example:

    ```python
    import numpy as np
    from keras_dlss.losses import contrastive_ranking_loss

    images = np.random.normal(size=(8, 4)).astype("float32")
    loss = contrastive_ranking_loss(images, images)          # perfect matches: [8] of 0.0
    ```

    References:
        Faghri, Fleet, Kiros & Fidler 2018, "VSE++: Improving Visual-Semantic
        Embeddings with Hard Negatives" (BMVC), https://arxiv.org/abs/1707.05612;
        Kiros, Salakhutdinov & Zemel 2014, https://arxiv.org/abs/1411.2539
    """
    check_range("margin", margin, 0.0, None)
    images, captions = ops.convert_to_tensor(images), ops.convert_to_tensor(captions)
    if len(images.shape) != 2:
        raise ValueError(
            f"Argument `images` must have shape [N, D]. Received: images.shape={shape_str(images.shape)}"
        )
    if not shapes_compatible(images.shape, captions.shape):
        raise ValueError(
            f"Argument `captions` must have the shape of `images` {shape_str(images.shape)}. "
            f"Received: captions.shape={shape_str(captions.shape)}"
        )
    captions = ops.cast(captions, images.dtype)
    if normalize:
        images, captions = ops.normalize(images, axis=-1), ops.normalize(captions, axis=-1)
    scores = ops.matmul(images, ops.transpose(captions))  # [image, caption]
    positives = ops.diagonal(scores)
    negatives = 1.0 - ops.eye(ops.shape(scores)[0], dtype=scores.dtype)
    # Hinges are >= 0, so zeroing the diagonal removes the positive from the max and the sum.
    caption_hinge = ops.relu(margin - positives[:, None] + scores) * negatives
    image_hinge = ops.relu(margin - positives[None, :] + scores) * negatives
    reduce = ops.max if hardest_negative else ops.sum
    return reduce(caption_hinge, axis=1) + reduce(image_hinge, axis=0)


@keras.saving.register_keras_serializable(package="keras_dlss")
class ContrastiveRankingLoss(keras.losses.Loss):
    """VSE++ ranking loss as a Keras loss: `y_true` the caption embeddings, `y_pred` the images'.

    `loss(y_true=captions, y_pred=images)` reduces (by default, the batch mean)
    `contrastive_ranking_loss(images, captions, ...)`: the rest of the batch
    supplies the negatives, so batches must not hold two copies of one pair.

    Args:
        margin: float >= 0. Defaults to `0.2`.
        hardest_negative: bool. VSE++ (max) or VSE (sum). Defaults to `True`.
        normalize: bool. Cosine similarity. Defaults to `True`.
        reduction, name, dtype: as for `keras.losses.Loss`.

    Example:

    ```python
    import numpy as np
    from keras_dlss.losses import ContrastiveRankingLoss

    captions = np.random.normal(size=(16, 8)).astype("float32")
    images = captions + 0.1 * np.random.normal(size=(16, 8)).astype("float32")
    value = ContrastiveRankingLoss(margin=0.2)(captions, images)
    ```

    References:
        Faghri et al. 2018, https://arxiv.org/abs/1707.05612
    """

    def __init__(
        self,
        margin=0.2,
        hardest_negative=True,
        normalize=True,
        reduction="sum_over_batch_size",
        name="contrastive_ranking",
        dtype=None,
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.margin = float(check_range("margin", margin, 0.0, None))
        self.hardest_negative = bool(hardest_negative)
        self.normalize = bool(normalize)

    def call(self, y_true, y_pred):
        return contrastive_ranking_loss(
            y_pred, y_true, self.margin, self.hardest_negative, self.normalize
        )

    def get_config(self):
        return {
            **super().get_config(),
            "margin": self.margin,
            "hardest_negative": self.hardest_negative,
            "normalize": self.normalize,
        }
