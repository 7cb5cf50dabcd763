"""Grad-CAM (Selvaraju et al., ICCV 2017).

For a convolutional layer with activations `A_k` (channel `k`), the class
score's gradient averaged over the layer's spatial positions weights each
channel (the paper's Eq. 1), and

    L = ReLU(Σ_k α_k A_k),   α_k = mean_{spatial} ∂y / ∂A_k        (Eq. 2)

is the coarse localization map, optionally resized to the input's height and
width. The model is split at the named layer into `inputs -> A` and `A ->
outputs` (two functional models sharing the original layers and weights), so
the gradient is an ordinary input gradient of the second part on every backend.
That split exists only when the layer's output alone determines the model's
output; a skip connection that jumps over the layer has no such split, and the
error says so (pick the last layer of the block instead).

References:
    Selvaraju et al., 2017. "Grad-CAM: Visual Explanations from Deep Networks
    via Gradient-based Localization". https://arxiv.org/abs/1610.02391
"""

from keras import ops

from keras_dlss.interpret import _core


def spatial_layer_names(model):
    """Names of the model's layers whose output has spatial axes (rank >= 3)."""
    return _core.layer_names(model, min_rank=3)


def grad_cam(model, x, target, layer_name, *, resize=True, relu=True, jit_compile=True):
    """Grad-CAM maps of the explained output at a convolutional layer.

    Args:
        model: a functional or `Sequential` `keras.Model` (channels-last).
        x: float array `[B, H, W, C]` (or `[B, T, C]` for 1-D convolutions).
        target: class index, one index per example, or a callable on outputs.
        layer_name: str. Name of the layer whose activations are weighted.
        resize: bool. Bilinearly resize 2-D maps to the input's height and
            width. Defaults to `True`.
        relu: bool. Keep positive evidence only (the paper's ReLU).
            Defaults to `True`.
        jit_compile: bool. Defaults to `True`.

    Returns:
        Maps `[B, h, w]` (the layer's spatial size, or the input's with `resize`).

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="conv"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    cam = keras_dlss.interpret.grad_cam(model, np.ones((1, 8, 8, 1), "float32"), 0, "conv")
    ```

    References:
        Selvaraju et al., 2017. https://arxiv.org/abs/1610.02391
    """
    features, head = _core.split_at(model, layer_name, spatial_layer_names(model))
    x = _core.as_float("x", x)
    tgt = _core.Target(model, x, target)
    tgt_head = _core.head_target(tgt, head)

    def program(x, onehot):
        a = features(x, training=False)
        g = _core.input_gradient(tgt_head.scalar_fn(onehot), a)
        axes = tuple(range(1, len(a.shape) - 1))
        alpha = ops.mean(g, axis=axes, keepdims=True)
        cam = ops.sum(alpha * a, axis=-1)
        if relu:
            cam = ops.relu(cam)
        if resize and len(cam.shape) == 3:
            cam = ops.image.resize(cam[..., None], tuple(x.shape[1:3]), "bilinear")[..., 0]
        return cam

    key = ("grad_cam", layer_name, resize, relu, tgt.key)
    return _core.compiled(model, key, program, jit_compile)(x, tgt.args())
