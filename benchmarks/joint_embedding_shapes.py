"""Joint image-caption embedding on captioned shapes: sum of hinges vs hardest negative.

`applications.JointEmbedding` (3-stage CNN, bag-of-words or GRU caption encoder,
unit-norm 64-d space, Adam 2e-3, XLA on TensorFlow) is trained on generated
captioned shapes (`datasets.shape_captions`, one random caption of five per image
per epoch) with each ranking loss, then evaluated on held-out images with all
their captions, the COCO 1K protocol: image-to-text ranks all 5 x N captions (an
image's best caption counts), text-to-image ranks the N images for every caption.
Rows, printed as each finishes:

- chance: a uniformly random similarity matrix (one draw);
- attribute oracle: the number of attributes two items share, ties broken at
  random: the best any model can do, because images with identical attributes
  cannot be told apart from their captions;
- each loss: the trained model; "warmup" trains with the sum of hinges for
  `--warmup` epochs, then with the hardest negative.

    .venv/bin/python benchmarks/joint_embedding_shapes.py [--train 4000] [--test 1000]
        [--epochs 10] [--encoder bow] [--losses sum,hardest,warmup] [--png docs/images/x.png]
"""

import argparse
import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_dlss.applications import JointEmbedding  # noqa: E402
from keras_dlss.datasets import shape_caption_vocabulary, shape_captions  # noqa: E402
from keras_dlss.metrics import median_rank, recall_at_k  # noqa: E402

KS = (1, 5, 10)


def scores(similarity, caption_image):
    """R@1/5/10 and median rank of both directions from an [images, captions] matrix."""
    row = []
    for sim, groups in (
        (similarity, {"candidate_groups": caption_image}),
        (similarity.T, {"query_groups": caption_image}),
    ):
        row += [float(r) for r in keras.ops.convert_to_numpy(recall_at_k(sim, KS, **groups))]
        row.append(float(median_rank(sim, **groups)))
    return row


def oracle_similarity(test, rng):
    attrs = np.stack([test.kind, test.colour, test.size, test.position, test.filled], 1)
    per_caption = np.repeat(attrs, test.tokens.shape[1], axis=0)
    shared = (attrs[:, None, :] == per_caption[None, :, :]).sum(-1).astype("float32")
    return shared + 1e-3 * rng.random(shared.shape, dtype=np.float32)


def print_row(name, row, extra="- | -"):
    cells = " | ".join(f"{v:.3f}" if i % 4 != 3 else f"{v:g}" for i, v in enumerate(row))
    print(f"| {name} | {cells} | {extra} |", flush=True)


def save_examples(path, model, test, count=4):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tokens, owner = test.all_captions()
    flat = [c for row in test.captions for c in row]
    best, _ = model.retrieve(test.images[:count], tokens, k=3)
    fig, axes = plt.subplots(count, 2, figsize=(7.5, 1.3 * count), width_ratios=(1, 5))
    for i in range(count):
        axes[i, 0].imshow(test.images[i], interpolation="nearest")
        lines = [("+ " if owner[j] == i else "- ") + flat[j] for j in best[i]]
        axes[i, 1].text(0, 0.5, "\n".join(lines), va="center", fontsize=9, family="monospace")
        for ax in axes[i]:
            ax.axis("off")
    fig.suptitle("image query -> top-3 captions of 5,000 (+ = a caption of this image)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--encoder", default="bow", choices=("bow", "gru"))
    parser.add_argument("--losses", default="sum,hardest,warmup")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--png", default=None)
    args = parser.parse_args()

    train = shape_captions(args.train, seed=0)
    test = shape_captions(args.test, seed=1)
    tokens, caption_image = test.all_captions()
    vocabulary_size = len(shape_caption_vocabulary().tokens)
    print(
        f"captioned shapes: {args.train} train images, {args.test} test images x 5 captions; "
        f"{args.encoder} caption encoder, {args.epochs} epochs, batch {args.batch_size}; "
        f"load average {tuple(round(v, 1) for v in os.getloadavg())}",
        flush=True,
    )
    heads = " | ".join(f"{d} R@{k}" for d in ("i2t", "t2i") for k in KS + ("medr",))
    print(f"| loss | {heads.replace('R@medr', 'med r')} | train s | s/epoch |")
    print("|---" * 11 + "|")
    rng = np.random.default_rng(0)
    chance = rng.random((args.test, len(tokens)), dtype=np.float32)
    print_row("chance (random scores)", scores(chance, caption_image))
    oracle = oracle_similarity(test, rng)
    print_row("attribute oracle (random tie-breaks)", scores(oracle, caption_image))
    for loss in args.losses.split(","):
        keras.utils.set_random_seed(0)
        model = JointEmbedding(
            vocabulary_size, text_encoder=args.encoder, hardest_negative=loss == "hardest"
        )
        model.compile(keras.optimizers.Adam(2e-3), jit_compile=True)
        start = time.perf_counter()
        for epoch in range(args.epochs):
            if loss == "warmup" and epoch == args.warmup:
                # The loss is read when the step is traced: retrace with the new one.
                model.hardest_negative = True
                model.make_train_function(force=True)
            images, captions = train.pairs(seed=epoch)
            model.fit([images, captions], batch_size=args.batch_size, epochs=1, verbose=0)
        seconds = time.perf_counter() - start
        similarity = model.encode_images(test.images) @ model.encode_texts(tokens).T
        name = {
            "sum": "sum of hinges (VSE)",
            "hardest": "hardest negative (VSE++)",
            "warmup": f"sum for {args.warmup} epochs, then hardest",
        }[loss]
        print_row(
            name, scores(similarity, caption_image), f"{seconds:.0f} | {seconds / args.epochs:.1f}"
        )
        if args.png and loss == "sum":
            save_examples(args.png, model, test)


if __name__ == "__main__":
    main()
