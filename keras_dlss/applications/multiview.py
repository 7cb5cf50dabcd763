"""Multi-view CNNs and two-stream late fusion on rendered views.

Su, Maji, Kalogerakis and Learned-Miller, "Multi-view Convolutional Neural
Networks for 3D Shape Recognition", ICCV 2015 (arXiv:1505.00880), Fig. 1: one
CNN, with shared weights, sees each rendered view; an element-wise max across
views ("view pooling") merges them into one shape descriptor, and a second
network classifies it. Pair it with `keras_dlss.datasets.render_depth_views`.

Why the views are sliced in the graph rather than folded into the batch: a
reshape from `[B, V, H, W, C]` to `[B·V, H, W, C]` needs a dynamic batch times
a static view count, which SavedModel signatures and `TimeDistributed` mishandle
(see PITFALLS.md); slicing each view and calling the shared CNN on it keeps
every shape static, exports to SavedModel and ONNX, and is what the paper draws.

`LateFusion3D` is the curriculum's late fusion over depth and image: two
multi-view streams, one on depth views and one on shaded (image-like) views,
each trained to classify, whose class probabilities are averaged at the end
(Gupta et al. 2014 fuse RGB and depth CNNs this way for RGB-D detection).
"""

import keras

from keras_dlss import _validation as v
from keras_dlss.applications._point_blocks import check_common, classifier_head, scaled
from keras_dlss.layers.edge_conv import point_normalization


def _view_cnn(image_size, channels, filters, normalization, name):
    """The CNN every view goes through (weights shared across views)."""
    inputs = keras.Input((image_size, image_size, channels), name=f"{name}_view")
    x = inputs
    for i, f in enumerate(filters):
        x = keras.layers.Conv2D(
            f, 3, padding="same", use_bias=normalization == "none", name=f"conv{i}"
        )(x)
        x = point_normalization(normalization, name=f"norm{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    return keras.Model(inputs, x, name=name)


def _stream(inputs, views, image_size, channels, filters, normalization, name):
    cnn = _view_cnn(image_size, channels, filters, normalization, f"{name}_cnn")
    features = [cnn(inputs[:, i]) for i in range(views)]
    if views == 1:
        return features[0]
    return keras.layers.Maximum(name=f"{name}_view_pooling")(features)


def _check(num_classes, views, image_size, channels, width, dropout, normalization):
    num_classes = check_common(num_classes, width, dropout, normalization)
    views = v.check_positive_int("views", views)
    image_size = v.check_positive_int("image_size", image_size, minimum=8)
    channels = v.check_positive_int("channels", channels)
    filters = [scaled(f, width) for f in (32, 64, 128)]
    return num_classes, views, image_size, channels, filters


def MultiViewCNN(
    num_classes,
    views=12,
    image_size=32,
    channels=1,
    width=1.0,
    dropout=0.5,
    normalization="batch",
    name="mvcnn",
):
    """Multi-view CNN with view pooling (Su et al. 2015).

    Args:
        num_classes: int >= 2.
        views: int >= 1. Views per object. Defaults to `12`.
        image_size: int >= 8. Height and width of each view. Defaults to `32`.
        channels: int >= 1. Channels per view (1 for depth). Defaults to `1`.
        width: float > 0. Multiplies the CNN's filters (32, 64, 128) and the
            classifier's width (256).
        dropout: float in [0, 1). Dropout of the classifier. Defaults to `0.5`.
        normalization: str. `"batch"`, `"layer"` or `"none"`.
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from `views [B, views, image_size,
        image_size, channels]` to class probabilities `[B, num_classes]`.

    Example:

    ```python
    from keras_dlss.applications import MultiViewCNN
    from keras_dlss.datasets import point_clouds, render_depth_views

    x, y = point_clouds(4, num_points=256)
    images = render_depth_views(x, views=3, image_size=16)
    model = MultiViewCNN(10, views=3, image_size=16, width=0.25)
    assert model(images).shape == (4, 10)
    ```

    References:
        Su et al. 2015, https://arxiv.org/abs/1505.00880
    """
    num_classes, views, image_size, channels, filters = _check(
        num_classes, views, image_size, channels, width, dropout, normalization
    )
    inputs = keras.Input((views, image_size, image_size, channels), name="views")
    x = _stream(inputs, views, image_size, channels, filters, normalization, "shared")
    outputs = classifier_head(x, num_classes, [scaled(256, width)], normalization, dropout, "head")
    return keras.Model(inputs, outputs, name=name)


def LateFusion3D(
    num_classes,
    views=12,
    image_size=32,
    width=1.0,
    dropout=0.5,
    normalization="batch",
    name="late_fusion_3d",
):
    """Two multi-view streams, depth and shaded image, fused at the class scores.

    Args:
        num_classes: int >= 2.
        views: int >= 1. Views per object in each stream. Defaults to `12`.
        image_size: int >= 8. Defaults to `32`.
        width: float > 0. Width multiplier of both streams.
        dropout: float in [0, 1). Dropout of each stream's classifier.
        normalization: str. `"batch"`, `"layer"` or `"none"`.
        name: str. The model's name.

    Returns:
        A functional `keras.Model` from `{"depth": [B, views, S, S, 1],
        "image": [B, views, S, S, 1]}` to the mean of the two streams' class
        probabilities `[B, num_classes]`.

    Example:

    ```python
    from keras_dlss.applications import LateFusion3D
    from keras_dlss.datasets import point_clouds, render_depth_views, shade_views

    x, y = point_clouds(4, num_points=256)
    depth = render_depth_views(x, views=2, image_size=16)
    model = LateFusion3D(10, views=2, image_size=16, width=0.25)
    probs = model({"depth": depth, "image": shade_views(depth)})
    assert probs.shape == (4, 10)
    ```

    References:
        Su et al. 2015, https://arxiv.org/abs/1505.00880; Gupta et al. 2014,
        "Learning Rich Features from RGB-D Images for Object Detection and
        Segmentation", https://arxiv.org/abs/1407.5736.
    """
    num_classes, views, image_size, _, filters = _check(
        num_classes, views, image_size, 1, width, dropout, normalization
    )
    inputs = {
        key: keras.Input((views, image_size, image_size, 1), name=key) for key in ("depth", "image")
    }
    scores = []
    for key, tensor in inputs.items():
        x = _stream(tensor, views, image_size, 1, filters, normalization, key)
        head = classifier_head(
            x,
            num_classes,
            [scaled(256, width)],
            normalization,
            dropout,
            f"{key}_head",
            output=f"{key}_probabilities",
        )
        scores.append(head)
    outputs = keras.layers.Average(name="late_fusion")(scores)
    return keras.Model(inputs, outputs, name=name)
