"""Evidence for keras_dlss.visualization (issue #12): numbers and the PNGs in docs/vision.md.

1. A small CNN trained on `shapes` (plain background) for a few epochs. For
   the first eight live channels of its last convolution (no selection),
   `maximize_activation` should reach at least 10x the channel's mean
   activation over 1,000 validation images; the median ratio is checked.
2. `invert_representation` of the trained CNN's second block, from noise, on a
   validation image and on the astronaut photograph: relative feature error
   `‖Φ(x) - Φ₀‖ / ‖Φ₀‖` must be <= 0.1.
3. `style_transfer` with `random_feature_extractor` (no pretrained weights):
   the Gram-matrix loss of the result must be <= 10% of its value at the
   content image (where the optimization starts).
4. `deep_dream` of the astronaut with the trained CNN (picture only).

Run: python benchmarks/feature_visualization.py [--quick] [--images docs/images]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from keras_dlss.datasets import shapes  # noqa: E402
from keras_dlss.losses import gram_matrix_style_loss  # noqa: E402
from keras_dlss.visualization import (  # noqa: E402
    deep_dream,
    feature_extractor,
    invert_representation,
    load_image,
    maximize_activation,
    random_feature_extractor,
    save_image,
    style_transfer,
)


def train_cnn(n_train, epochs, seed=0):
    keras.utils.set_random_seed(seed)
    x, y = shapes(n_train, seed=seed, background="plain")
    x_val, y_val = shapes(1000, seed=seed + 1, background="plain")
    model = keras.Sequential(
        [
            keras.Input((None, None, 3)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.MaxPooling2D(name="pool1"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(name="pool2"),
            keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv3"),
            keras.layers.GlobalMaxPooling2D(name="gmp"),
            keras.layers.Dense(10, name="logits"),
        ]
    )
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=True,
    )
    start = time.perf_counter()
    model.fit(x, y, batch_size=32, epochs=epochs, verbose=0)
    seconds = time.perf_counter() - start
    accuracy = model.evaluate(x_val, y_val, verbose=0)[1]
    return model, x_val, accuracy, seconds


def upscale(image, factor):
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def strip(images, gap=2):
    height = max(i.shape[0] for i in images)
    parts = []
    for image in images:
        pad = np.ones((height, gap, 3), np.float32)
        parts += [
            np.pad(image, ((0, height - image.shape[0]), (0, 0), (0, 0)), constant_values=1.0),
            pad,
        ]
    return np.concatenate(parts[:-1], axis=1)


def maximize_section(model, x_val, steps, out):
    conv3 = feature_extractor(model, "conv3")
    means = ops.convert_to_numpy(conv3.predict(x_val, verbose=0)["conv3"]).mean(axis=(0, 1, 2))
    # The first eight channels that fire on the data (dead ReLU channels have mean 0): no selection.
    units = [int(u) for u in np.flatnonzero(means > 0)[:8]]
    print(
        "\n## maximize_activation: trained CNN, layer conv3, 32x32 images, Fourier parameterization"
    )
    print("| unit | mean over 1,000 validation images | maximized | ratio | seconds |")
    print("|---|---|---|---|---|")
    pictures, ratios = [], []
    for unit in units:
        start = time.perf_counter()
        image = maximize_activation(
            model,
            "conv3",
            unit,
            image_shape=(32, 32, 3),
            steps=steps,
            learning_rate=0.05,
            jitter_pixels=2,
            parameterization="fourier",
            seed=unit,
        )
        seconds = time.perf_counter() - start
        value = float(ops.convert_to_numpy(conv3(image[None])["conv3"])[..., unit].mean())
        ratios.append(value / means[unit])
        print(f"| {unit} | {means[unit]:.3f} | {value:.3f} | {ratios[-1]:.1f}x | {seconds:.1f} |")
        pictures.append(upscale(image, 3))
    save_image(strip(pictures), os.path.join(out, "maximize_activation.png"))
    print(
        f"median ratio {np.median(ratios):.1f}x; {sum(r >= 10 for r in ratios)} of {len(ratios)} >= 10x"
    )
    return float(np.median(ratios))


def inversion_section(model, x_val, steps, out):
    print("\n## invert_representation: trained CNN, layer conv2 (after one pooling), from noise")
    print("| image | relative feature error | seconds |")
    print("|---|---|---|")
    astronaut = load_image("astronaut", size=64)
    pictures, errors = [], []
    for name, image in (
        ("shapes validation image 0 (32x32)", x_val[0]),
        ("astronaut (64x64)", astronaut),
    ):
        start = time.perf_counter()
        reconstruction, error = invert_representation(
            model, "conv2", image, steps=steps, learning_rate=0.05, tv_weight=1e-3, seed=0
        )
        print(f"| {name} | {error:.4f} | {time.perf_counter() - start:.1f} |")
        errors.append(error)
        factor = 128 // image.shape[0]
        pictures += [upscale(image, factor), upscale(reconstruction, factor)]
    save_image(strip(pictures), os.path.join(out, "invert_representation.png"))
    return max(errors)


def style_section(steps, out):
    print("\n## style_transfer: random_feature_extractor(filters=(32, 64, 128)), 128x128")
    extractor = random_feature_extractor(filters=(32, 64, 128), seed=0)
    style_layers = ["block1_conv", "block2_conv", "block3_conv"]
    content = load_image("astronaut", size=128)
    style = load_image("coffee", size=128)
    start = time.perf_counter()
    result = style_transfer(
        content,
        style,
        extractor,
        ["block3_conv"],
        style_layers,
        steps=steps,
        learning_rate=0.02,
        content_weight=1.0,
        style_weight=10.0,
        tv_weight=1e-3,
    )
    seconds = time.perf_counter() - start
    features = feature_extractor(extractor, style_layers)

    def gram_loss(image):
        mine, target = features(image[None]), features(style[None])
        return sum(
            float(ops.convert_to_numpy(gram_matrix_style_loss(target[n], mine[n]))[0])
            for n in style_layers
        )

    before, after = gram_loss(content), gram_loss(result)
    print("| Gram loss at the content image | after style transfer | ratio | steps | seconds |")
    print("|---|---|---|---|---|")
    print(f"| {before:.4g} | {after:.4g} | {after / before:.3f} | {steps} | {seconds:.1f} |")
    save_image(strip([content, style, result]), os.path.join(out, "style_transfer.png"))
    return after / before


def dream_section(model, steps, out):
    astronaut = load_image("astronaut", size=128)
    start = time.perf_counter()
    dream = deep_dream(model, astronaut, ["conv2", "conv3"], octaves=3, steps=steps, step_size=0.01)
    print(
        f"\n## deep_dream: astronaut 128x128, layers conv2+conv3, 3 octaves x {steps} steps: "
        f"{time.perf_counter() - start:.1f} s"
    )
    save_image(strip([astronaut, dream]), os.path.join(out, "deep_dream.png"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer images, epochs and steps")
    parser.add_argument("--images", default="docs/images")
    args = parser.parse_args()
    os.makedirs(args.images, exist_ok=True)
    n_train, epochs, steps = (1000, 2, 32) if args.quick else (3000, 10, 256)
    print(f"backend: {keras.config.backend()}; XLA-compiled loops (jit_compile=True)")
    model, x_val, accuracy, seconds = train_cnn(n_train, epochs)
    print(
        f"CNN trained on shapes: {n_train} images x {epochs} epochs in {seconds:.0f} s, "
        f"validation accuracy {accuracy:.3f}"
    )
    ratio = maximize_section(model, x_val, steps, args.images)
    error = inversion_section(model, x_val, 2 * steps, args.images)
    gram = style_section(steps, args.images)
    dream_section(model, max(steps // 8, 5), args.images)
    print("\n## targets (issue #12)")
    print("| quantity | measured | target | met |")
    print("|---|---|---|---|")
    print(
        f"| maximized / mean activation (median of 8 units) | {ratio:.1f}x | >= 10x | {ratio >= 10} |"
    )
    print(
        f"| inversion relative feature error (worst of 2) | {error:.4f} | <= 0.1 | {error <= 0.1} |"
    )
    print(f"| Gram loss after / at content | {gram:.3f} | <= 0.10 | {gram <= 0.1} |")


if __name__ == "__main__":
    main()
