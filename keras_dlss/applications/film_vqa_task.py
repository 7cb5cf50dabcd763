"""`keras-dlss train film-vqa`: Sort-of-CLEVR question answering, FiLM or a baseline fusion.

The data are generated (`datasets.sort_of_clevr`): 32×32 images of six coloured squares
and circles, 10 questions per image, split by image (80 / 10 / 10 %) so no test image
is seen in training. `--fusion` picks the arm (`film`, `concat`, `relation`,
`bilinear-full`, `bilinear-low_rank`, `bilinear-compact`); the test metrics report
relational and non-relational accuracy separately, the paper's two columns.
"""

import numpy as np

from keras_dlss.applications.base import Task, TaskData

FUSION_CHOICES = (
    "film",
    "concat",
    "relation",
    "bilinear-full",
    "bilinear-low_rank",
    "bilinear-compact",
)


def sort_of_clevr_splits(num_images=1000, seed=0, image_size=32):
    """Sort-of-CLEVR as a `TaskData`: x = [images, questions], y = answer ids, split by image."""
    from keras_dlss.datasets.sort_of_clevr import ANSWERS, sort_of_clevr

    data = sort_of_clevr(num_images=num_images, image_size=image_size, seed=seed)
    n_test = n_val = max(1, num_images // 10)
    which = np.random.default_rng(seed + 1).permutation(num_images)
    test_images, val_images = which[:n_test], which[n_test : n_test + n_val]
    split = {
        "test": np.isin(data.image_index, test_images),
        "validation": np.isin(data.image_index, val_images),
    }
    split["train"] = ~(split["test"] | split["validation"])
    xy = {}
    for name, rows in split.items():
        part = data.subset(rows)
        order = np.random.default_rng(seed + 2).permutation(len(part.answers))
        part = part.subset(order)  # so `--limit` keeps both question kinds
        xy[name] = ([part.images, part.questions], part.answers)
    info = {
        "source": f"generated Sort-of-CLEVR ({num_images} images of {image_size}x{image_size})",
        "answers": list(ANSWERS),
        "image_size": image_size,
        "question_dim": int(data.questions.shape[1]),
    }
    return TaskData(xy["train"], xy["validation"], xy["test"], info)


def accuracy_by_kind(model, x, y, batch_size=256):
    """Overall, relational and non-relational accuracy of `model` on `([images, questions], y)`."""
    predicted = np.argmax(model.predict(x, batch_size=batch_size, verbose=0), axis=-1)
    correct = predicted == np.asarray(y)
    relational = np.asarray(x[1])[:, 7] > 0.5  # the kind one-hot: index 7 is "relational"
    result = {"accuracy": float(correct.mean())}
    for name, rows in (("relational", relational), ("non_relational", ~relational)):
        result[f"{name}_accuracy"] = float(correct[rows].mean()) if rows.any() else float("nan")
    return result


class FiLMVQATask(Task):
    name = "film-vqa"
    summary = "Sort-of-CLEVR VQA: FiLM vs concatenation, relation network, bilinear pooling"
    default_data = "generated Sort-of-CLEVR (Santoro et al. 2017 layout; 1,000 images)"
    data_license = "generated"
    default_epochs = 20
    default_batch_size = 64
    monitor = "val_loss"
    patience = 5
    data_options = ("num_images",)
    options = {
        "fusion": {"choices": list(FUSION_CHOICES), "help": "how image and question meet"},
        "filters": {"type": int, "help": "channels of the CNN stem and FiLM-ed blocks (32)"},
        "blocks": {"type": int, "help": "FiLM-ed residual blocks (2)"},
        "hidden": {"type": int, "help": "width of the MLPs (64)"},
        "sketch-dim": {"type": int, "dest": "sketch_dim", "help": "compact bilinear size (512)"},
        "images": {"type": int, "dest": "num_images", "help": "generated images (1000)"},
    }

    def load_data(self, path=None, seed=0, num_images=1000):
        if path is not None:
            raise ValueError(
                "Argument `data` is not supported by film-vqa: the Sort-of-CLEVR data are "
                f"generated. Received: data={path!r}"
            )
        return sort_of_clevr_splits(num_images=num_images, seed=seed)

    def build_model(self, data, *, jit_compile=True, seed=0, **hparams):
        from keras_dlss.applications.film_vqa import FiLMQuestionAnswering

        model = FiLMQuestionAnswering(
            image_size=data.info["image_size"],
            question_dim=data.info["question_dim"],
            num_answers=len(data.info["answers"]),
            seed=seed,
            **hparams,
        )
        model.compile(jit_compile=jit_compile)
        return model

    def evaluate(self, model, data):
        x, y = data.test
        values = model.evaluate(x, y, verbose=0, return_dict=True)
        result = {f"test_{k}": float(v) for k, v in values.items()}
        kinds = accuracy_by_kind(model, x, y)
        result["test_relational_accuracy"] = kinds["relational_accuracy"]
        result["test_non_relational_accuracy"] = kinds["non_relational_accuracy"]
        return result
