"""A joint image-caption embedding for cross-modal retrieval (Kiros et al. 2014; VSE++).

Two encoders map images and captions into one space: a small CNN for images and a
GRU (or a bag of words) over word embeddings for captions, each followed by a
linear projection onto the unit sphere, so the dot product of two embeddings is
their cosine similarity. Training pulls each (image, caption) pair of a batch a
margin above the batch's other pairings in both directions with
`losses.contrastive_ranking_loss`: the sum of hinges over every negative (VSE,
Kiros et al. 2014) or only the hardest negative (VSE++, Faghri et al. 2018).

The model is a `keras.Model` whose `fit(x=[images, tokens])` needs no targets and
no `loss=`: the loss is a function of the two outputs only, so `compute_loss` is
overridden (Keras's backend-neutral route for label-free losses; a custom
`train_step` would add nothing). A batch's other pairs are its negatives, so a
batch must hold each image at most once (`ShapeCaptions.pairs` gives one caption
per image). `encode_images`, `encode_texts` and `retrieve` are the inference side.

References:
    Kiros, Salakhutdinov & Zemel 2014, "Unifying Visual-Semantic Embeddings with
    Multimodal Neural Language Models", https://arxiv.org/abs/1411.2539;
    Faghri, Fleet, Kiros & Fidler 2018, "VSE++: Improving Visual-Semantic Embeddings
    with Hard Negatives", https://arxiv.org/abs/1707.05612
"""

import keras
import numpy as np
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.losses.contrastive_ranking import contrastive_ranking_loss
from keras_dlss.metrics.retrieval import median_rank, recall_at_k

TEXT_ENCODERS = ("gru", "bow")


def _image_encoder(image_shape, filters, embedding_dim):
    layers = [keras.Input(image_shape)]
    for width in (filters, 2 * filters, 2 * filters):
        layers += [
            keras.layers.Conv2D(width, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(2),
        ]
    # Flatten, not global pooling: where the shape is must survive to the embedding.
    layers += [keras.layers.Flatten(), keras.layers.Dense(embedding_dim)]
    return keras.Sequential(layers + [keras.layers.UnitNormalization()], name="image_encoder")


def _text_encoder(vocabulary_size, word_dim, embedding_dim, kind):
    tokens = keras.Input((None,), dtype="int32")
    words = keras.layers.Embedding(vocabulary_size, word_dim, mask_zero=True)(tokens)
    if kind == "gru":
        summary = keras.layers.GRU(embedding_dim)(words)
    else:
        summary = keras.layers.GlobalAveragePooling1D()(words)  # mean over real words
    embedded = keras.layers.Dense(embedding_dim)(summary)
    return keras.Model(tokens, keras.layers.UnitNormalization()(embedded), name="text_encoder")


@keras.saving.register_keras_serializable(package="keras_dlss")
class JointEmbedding(keras.Model):
    """Image and caption encoders into one unit-norm space, trained by hinge ranking.

    `call([images, tokens])` returns `{"images": [B, D], "texts": [B, D]}`, both
    L2-normalized; `fit(x=[images, tokens])` (one caption per image in a batch)
    minimizes the bidirectional ranking loss. Compile with an optimizer only.

    Args:
        vocabulary_size: int. Token ids are in `[0, vocabulary_size)`, 0 padding.
        embedding_dim: int. Size D of the joint space. Defaults to `64`.
        image_shape: tuple `(H, W, C)`. Defaults to `(32, 32, 3)`.
        filters: int. Width of the first of three 3x3 conv + max-pool stages (the
            others have twice as many). Defaults to `32`.
        word_dim: int. Word embedding size. Defaults to `32`.
        text_encoder: `"gru"` (final state of a GRU of D units) or `"bow"` (mean of
            the word embeddings). Defaults to `"gru"`.
        margin: float >= 0. The ranking margin α. Defaults to `0.2`.
        hardest_negative: bool. VSE++'s hardest negative instead of the sum of
            hinges. Defaults to `False`: from random weights the max alone stays
            at the collapsed solution (loss 2α) on captioned shapes, while the sum
            learns; Faghri et al. start from a pretrained image encoder. Set the
            attribute after a warm-up and retrace (`make_train_function(force=True)`)
            to switch (docs/multimodal.md).
        **kwargs: base `Model` arguments.

    Example:

    ```python
    import keras
    from keras_dlss.applications import JointEmbedding
    from keras_dlss.datasets import shape_caption_vocabulary, shape_captions

    data = shape_captions(16, seed=0)
    images, tokens = data.pairs(seed=0)        # one caption per image
    vocabulary_size = len(shape_caption_vocabulary().tokens)
    model = JointEmbedding(vocabulary_size, embedding_dim=16, filters=4, text_encoder="bow")
    model.compile(keras.optimizers.Adam(1e-3))  # no loss: the ranking loss is built in
    # model.fit([images, tokens], batch_size=16, epochs=10)
    embedded = model([images, tokens])                   # {"images": [16, 16], "texts": [16, 16]}
    best, scores = model.retrieve(tokens[:2], images, k=3)   # top-3 images per caption
    print(best.shape, scores.shape)                          # (2, 3) (2, 3)
    ```

    References:
        Kiros et al. 2014, https://arxiv.org/abs/1411.2539;
        Faghri et al. 2018, https://arxiv.org/abs/1707.05612
    """

    def __init__(
        self,
        vocabulary_size,
        embedding_dim=64,
        image_shape=(32, 32, 3),
        filters=32,
        word_dim=32,
        text_encoder="gru",
        margin=0.2,
        hardest_negative=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocabulary_size = check_positive_int("vocabulary_size", vocabulary_size, minimum=2)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        self.image_shape = tuple(int(d) for d in image_shape)
        if len(self.image_shape) != 3 or min(self.image_shape) < 1:
            raise ValueError(
                f"Argument `image_shape` must be (H, W, C). Received: image_shape={image_shape!r}"
            )
        self.filters = check_positive_int("filters", filters)
        self.word_dim = check_positive_int("word_dim", word_dim)
        self.text_encoder_kind = check_one_of("text_encoder", text_encoder, TEXT_ENCODERS)
        self.margin = float(check_range("margin", margin, 0.0))
        self.hardest_negative = bool(hardest_negative)
        self.image_encoder = _image_encoder(self.image_shape, self.filters, self.embedding_dim)
        self.text_encoder = _text_encoder(
            self.vocabulary_size, self.word_dim, self.embedding_dim, self.text_encoder_kind
        )

    def build(self, input_shape=None):
        # Both encoders are built in __init__ from their Input layers.
        self.built = True

    def call(self, inputs, training=None):
        images, tokens = inputs
        return {
            "images": self.image_encoder(images, training=training),
            "texts": self.text_encoder(tokens, training=training),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        per_pair = contrastive_ranking_loss(
            y_pred["images"], y_pred["texts"], self.margin, self.hardest_negative, normalize=False
        )
        loss = ops.mean(per_pair)
        losses = self.losses
        return loss + ops.sum(ops.stack(losses)) if losses else loss

    def encode_images(self, images, batch_size=256):
        """Unit-norm image embeddings `[N, D]` (NumPy) of float images `[N, H, W, C]`."""
        return np.asarray(self.image_encoder.predict(images, batch_size=batch_size, verbose=0))

    def encode_texts(self, tokens, batch_size=256):
        """Unit-norm caption embeddings `[N, D]` (NumPy) of int token ids `[N, T]`."""
        tokens = np.asarray(tokens, "int32")
        return np.asarray(self.text_encoder.predict(tokens, batch_size=batch_size, verbose=0))

    def _embed(self, name, x, batch_size):
        arr = np.asarray(x)
        if arr.ndim == 4:
            return self.encode_images(arr.astype("float32"), batch_size)
        if arr.ndim == 2 and np.issubdtype(arr.dtype, np.integer):
            return self.encode_texts(arr, batch_size)
        if arr.ndim == 2 and arr.shape[1] == self.embedding_dim:  # already embedded
            return arr / np.maximum(np.linalg.norm(arr, axis=1, keepdims=True), 1e-12)
        raise ValueError(
            f"Argument `{name}` must be images [N, H, W, C], int token ids [N, T] or "
            f"embeddings [N, {self.embedding_dim}]. Received: {name}.shape={arr.shape}"
        )

    def retrieve(self, queries, candidates, k=5, batch_size=256):
        """The `k` best candidates of each query, best first (cosine similarity).

        Args:
            queries: images `[Q, H, W, C]`, int token ids `[Q, T]`, or embeddings
                `[Q, D]` (from `encode_images` / `encode_texts`).
            candidates: the same kinds, `[C, ...]`: embed a gallery once and pass the
                embeddings to search it repeatedly.
            k: int in `[1, C]`. Defaults to `5`.
            batch_size: int. Encoder batch size. Defaults to `256`.

        Returns:
            `(indices, scores)`: int `[Q, k]` candidate indices and float `[Q, k]`
            cosine similarities.
        """
        q = self._embed("queries", queries, batch_size)
        c = self._embed("candidates", candidates, batch_size)
        check_positive_int("k", k)
        check_range("k", k, 1, len(c))
        scores = q @ c.T
        best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return best, np.take_along_axis(scores, best, axis=1)

    def retrieval_scores(self, images, tokens, caption_image=None, k=(1, 5, 10), batch_size=256):
        """Recall@K and median rank of both retrieval directions, as a dict of floats.

        Args:
            images: float `[N, H, W, C]`.
            tokens: int `[M, T]` captions.
            caption_image: int `[M]`, the image of each caption. Defaults to
                `arange(N)` (one caption per image, `M = N`).
            k: tuple of ints. Defaults to `(1, 5, 10)`.
            batch_size: int. Encoder batch size. Defaults to `256`.

        Returns:
            `{"i2t_r1": ..., "i2t_medr": ..., "t2i_r1": ..., "t2i_medr": ...}`:
            image-to-text (each image ranks every caption) and text-to-image.
        """
        similarity = self.encode_images(images, batch_size) @ self.encode_texts(tokens).T
        if caption_image is None:
            caption_image = np.arange(len(similarity))
        caption_image = np.asarray(caption_image)
        out = {}
        for prefix, sim, groups in (
            ("i2t", similarity, {"candidate_groups": caption_image}),
            ("t2i", similarity.T, {"query_groups": caption_image}),
        ):
            recall = ops.convert_to_numpy(recall_at_k(sim, tuple(k), **groups))
            out.update({f"{prefix}_r{kk}": float(r) for kk, r in zip(k, recall)})
            out[f"{prefix}_medr"] = float(median_rank(sim, **groups))
        return out

    def get_config(self):
        return {
            **super().get_config(),
            "vocabulary_size": self.vocabulary_size,
            "embedding_dim": self.embedding_dim,
            "image_shape": list(self.image_shape),
            "filters": self.filters,
            "word_dim": self.word_dim,
            "text_encoder": self.text_encoder_kind,
            "margin": self.margin,
            "hardest_negative": self.hardest_negative,
        }
