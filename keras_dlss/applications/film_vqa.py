"""Visual question answering by FiLM, and the fusions it is compared with (Sort-of-CLEVR).

One builder, five ways to combine a CNN's view of the image with the question:

- `"film"` (Perez et al. 2018): residual blocks whose batch-normalized feature maps are
  scaled and shifted per channel by γ, β predicted from the question (`layers.FiLM`);
  the question conditions every block, before any pooling.
- `"concat"` (Santoro et al. 2017's CNN+MLP baseline): the flattened feature maps
  concatenated with the question, then an MLP.
- `"relation"` (Santoro et al. 2017): every cell of the final feature map, with its
  coordinates, is an object; g (an MLP) scores every ordered pair of objects together
  with the question, the pair scores are summed, and f (an MLP) answers.
- `"bilinear-full"`, `"bilinear-low_rank"`, `"bilinear-compact"`: a projected image
  vector and the question fused by `layers.BilinearPooling` in each form.

All share one CNN stem (three 3×3 stride-2 convolutions with batch normalization, on
the inverted image 1 - x so the blank canvas is 0), so the arms differ only in the
fusion; coordinates are appended to the feature maps where a fusion needs positions
(FiLM, relation network), as both papers do.
"""

import keras
from keras import ops

from keras_dlss._validation import check_one_of, check_positive_int, check_range
from keras_dlss.applications.preset_compile import PresetCompile
from keras_dlss.layers import BilinearPooling, FiLM

# PyTorch's default (its momentum=0.1), which both papers' code uses. Keras's 0.99 averages
# over ~100 steps of fast-changing stem weights; the lagging moving statistics then make
# inference-mode answers on new images collapse (below the question-only floor) while the
# training-mode accuracy climbs.
_BN_MOMENTUM = 0.9

FUSIONS = ("film", "concat", "relation", "bilinear-full", "bilinear-low_rank", "bilinear-compact")


@keras.saving.register_keras_serializable(package="keras_dlss")
class CoordinateChannels(keras.layers.Layer):
    """Appends two channels holding each position's row and column in [-1, 1].

    Call arguments:
        inputs: `[batch, H, W, C]` with static H and W.

    Returns:
        `[batch, H, W, C + 2]`.
    """

    def call(self, inputs):
        height, width = int(inputs.shape[1]), int(inputs.shape[2])
        rows = ops.linspace(-1.0, 1.0, height) if height > 1 else ops.zeros((1,))
        cols = ops.linspace(-1.0, 1.0, width) if width > 1 else ops.zeros((1,))
        grid = ops.stack(
            [
                ops.broadcast_to(rows[:, None], (height, width)),
                ops.broadcast_to(cols[None, :], (height, width)),
            ],
            axis=-1,
        )
        grid = ops.cast(grid, inputs.dtype)[None] + ops.zeros_like(inputs[..., :1])
        return ops.concatenate([inputs, grid], axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (input_shape[-1] + 2,)


@keras.saving.register_keras_serializable(package="keras_dlss")
class ObjectPairs(keras.layers.Layer):
    """All ordered pairs of objects, each with the question: the relation network's g input.

    Call arguments:
        inputs: a list `[objects, question]`: `[batch, N, D]` and `[batch, Q]`.

    Returns:
        `[batch, N * N, 2 D + Q]`, row i·N + j holding (o_i, o_j, q).
    """

    def call(self, inputs):
        objects, question = inputs
        n, d = int(objects.shape[1]), int(objects.shape[2])
        # Broadcast by adding zeros: no shape tensors, so every backend and exporter traces it.
        first = objects[:, :, None, :] + ops.zeros_like(objects[:, None, :, :1])
        second = objects[:, None, :, :] + ops.zeros_like(objects[:, :, None, :1])
        q = ops.cast(question, objects.dtype)[:, None, None, :] + ops.zeros_like(first[..., :1])
        pairs = ops.concatenate([first, second, q], axis=-1)
        return ops.reshape(pairs, (-1, n * n, 2 * d + int(question.shape[-1])))

    def compute_output_shape(self, input_shape):
        (b, n, d), (_, q) = input_shape
        return (b, n * n, 2 * d + q)


@keras.saving.register_keras_serializable(package="keras_dlss")
class FiLMQuestionAnswering(PresetCompile, keras.Model):
    """Answers a question about an image: FiLM-ed residual blocks, or a baseline fusion.

    `compile()` with no arguments uses Adam, sparse categorical cross-entropy,
    accuracy and `jit_compile=True`.

    Args:
        image_size: int. Side of the square RGB input images. Defaults to `32`.
        question_dim: int. Length of the question vector. Defaults to `11`
            (Sort-of-CLEVR's encoding).
        num_answers: int >= 2. Defaults to `10`.
        fusion: str. One of `FUSIONS`: `"film"` (default), `"concat"`,
            `"relation"`, `"bilinear-full"`, `"bilinear-low_rank"`, `"bilinear-compact"`.
        filters: int. Channels of the stem and of the FiLM-ed blocks. Defaults to `32`.
        blocks: int. FiLM-ed residual blocks (`"film"` only). Defaults to `2`.
        hidden: int. Width of the classifier MLP (and of g and f in the relation
            network, and of the image vector of the bilinear fusions). Defaults to `64`.
        sketch_dim: int. Output size of compact bilinear pooling; the low-rank
            form uses `sketch_dim // 4` as its rank. Defaults to `512`.
        learning_rate: float. Adam's learning rate. Defaults to `1e-3`.
        seed: int or None. Seed of the compact sketch.

    Returns:
        A `keras.Model` mapping `[images [batch, S, S, 3], questions [batch, Q]]` to
        answer probabilities `[batch, num_answers]`.

    Example:

    ```python
    from keras_dlss.applications import FiLMQuestionAnswering
    from keras_dlss.datasets import sort_of_clevr

    data = sort_of_clevr(num_images=1, seed=0)
    model = FiLMQuestionAnswering(fusion="film", filters=8, hidden=16)
    probabilities = model([data.images, data.questions])     # [10, 10]
    # model.compile(); model.fit([data.images, data.questions], data.answers, epochs=20)
    ```

    References:
        Perez, Strub, de Vries, Dumoulin & Courville 2018, "FiLM: Visual Reasoning with
        a General Conditioning Layer" (AAAI), https://arxiv.org/abs/1709.07871;
        Santoro et al. 2017, "A simple neural network module for relational
        reasoning" (NeurIPS), https://arxiv.org/abs/1706.01427
    """

    def __init__(
        self,
        image_size=32,
        question_dim=11,
        num_answers=10,
        fusion="film",
        filters=32,
        blocks=2,
        hidden=64,
        sketch_dim=512,
        learning_rate=1e-3,
        seed=None,
        **kwargs,
    ):
        check_one_of("fusion", fusion, FUSIONS)
        image_size = check_positive_int("image_size", image_size, minimum=8)
        question_dim = check_positive_int("question_dim", question_dim)
        num_answers = check_positive_int("num_answers", num_answers, minimum=2)
        filters = check_positive_int("filters", filters)
        blocks = check_positive_int("blocks", blocks)
        hidden = check_positive_int("hidden", hidden)
        sketch_dim = check_positive_int("sketch_dim", sketch_dim, minimum=4)
        check_range("learning_rate", learning_rate, 0.0, None, low_inclusive=False)
        layers = keras.layers

        image = keras.Input((image_size, image_size, 3), name="image")
        question = keras.Input((question_dim,), name="question")
        # The stem sees 1 - image: the blank (white) canvas, ~85% of the pixels, becomes 0, so
        # a convolution's response to it is its bias, which batch normalization cancels. On
        # white = 1 that response is Σw + b, which Adam moves every step by a sizeable
        # fraction of the channel's small std (~0.06 measured): the moving mean lags by
        # standard deviations and inference-mode answers on new images collapse while
        # training-mode ones improve (docs/multimodal.md, Evidence).
        maps = layers.Rescaling(-1.0, offset=1.0, name="ink")(image)
        for i in range(3):
            maps = layers.Conv2D(filters, 3, strides=2, padding="same", name=f"stem_conv_{i}")(maps)
            maps = layers.BatchNormalization(momentum=_BN_MOMENTUM, name=f"stem_bn_{i}")(maps)
            maps = layers.ReLU(name=f"stem_relu_{i}")(maps)

        if fusion == "film":
            for b in range(blocks):
                maps = CoordinateChannels(name=f"coords_{b}")(maps)
                maps = layers.Conv2D(filters, 1, activation="relu", name=f"block_{b}_in")(maps)
                residual = layers.Conv2D(filters, 3, padding="same", name=f"block_{b}_conv")(maps)
                residual = layers.BatchNormalization(
                    momentum=_BN_MOMENTUM, center=False, scale=False, name=f"block_{b}_bn"
                )(residual)
                # The paper's one linear generator for all blocks, split per block and per
                # γ / β (a split linear map is the same map; no slicing in the graph).
                gamma = layers.Dense(filters, name=f"block_{b}_delta_gamma")(question)
                beta = layers.Dense(filters, name=f"block_{b}_beta")(question)
                residual = FiLM(delta_gamma=True, name=f"block_{b}_film")([residual, gamma, beta])
                maps = layers.Add(name=f"block_{b}_add")([maps, layers.ReLU()(residual)])
            maps = CoordinateChannels(name="coords_head")(maps)
            maps = layers.Conv2D(hidden, 1, activation="relu", name="head_conv")(maps)
            features = layers.GlobalMaxPooling2D(name="head_pool")(maps)
        elif fusion == "concat":
            features = layers.Concatenate(name="fuse")([layers.Flatten()(maps), question])
            features = layers.Dense(hidden, activation="relu", name="mlp_0")(features)
        elif fusion == "relation":
            maps = CoordinateChannels(name="coords")(maps)
            side = int(maps.shape[1])
            objects = layers.Reshape((side * side, filters + 2), name="objects")(maps)
            pairs = ObjectPairs(name="pairs")([objects, question])
            for i in range(3):
                pairs = layers.Dense(hidden, activation="relu", name=f"g_{i}")(pairs)
            # Σ over pairs as in the paper; a mean is that sum scaled by 1/N², which keeps the
            # scale of f's input independent of the grid size.
            features = layers.GlobalAveragePooling1D(name="sum_over_pairs")(pairs)
            features = layers.Dense(hidden, activation="relu", name="f_0")(features)
        else:
            image_vector = layers.Dense(hidden, activation="relu", name="image_vector")(
                layers.Flatten()(maps)
            )
            mode = fusion.split("-", 1)[1]
            options = {
                "full": {},
                "low_rank": {"rank": max(1, sketch_dim // 4)},
                "compact": {"output_dim": sketch_dim, "seed": seed},
            }[mode]
            features = BilinearPooling(mode, name="bilinear_pooling", **options)(
                [image_vector, question]
            )
        features = layers.Dense(hidden, activation="relu", name="classifier_hidden")(features)
        outputs = layers.Dense(num_answers, activation="softmax", name="answer")(features)
        super().__init__(inputs=[image, question], outputs=outputs, **kwargs)

        self.image_size, self.question_dim, self.num_answers = image_size, question_dim, num_answers
        self.fusion, self.filters, self.blocks, self.hidden = fusion, filters, blocks, hidden
        self.sketch_dim, self.learning_rate, self.seed = sketch_dim, learning_rate, seed

    def compile(self, optimizer="auto", loss="auto", metrics="auto", jit_compile=True, **kwargs):
        """Compiles with Adam and cross-entropy unless told otherwise (XLA on by default)."""
        self._compile_classifier(
            optimizer,
            loss,
            metrics,
            jit_compile,
            kwargs,
            preset_optimizer=lambda: keras.optimizers.Adam(self.learning_rate),
        )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "image_size": self.image_size,
            "question_dim": self.question_dim,
            "num_answers": self.num_answers,
            "fusion": self.fusion,
            "filters": self.filters,
            "blocks": self.blocks,
            "hidden": self.hidden,
            "sketch_dim": self.sketch_dim,
            "learning_rate": self.learning_rate,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
