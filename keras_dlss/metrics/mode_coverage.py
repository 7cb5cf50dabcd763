"""Classifier-based mode coverage of a generator: how many classes it produces, and how evenly.

A classifier trained on the real data labels each generated sample; a
generator that has collapsed onto a few modes produces a few classes, and its
class histogram is far from the data's (uniform for digits). The number of
classes generated and the KL divergence of the histogram from uniform are the
"modes" and "KL" columns of Srivastava et al. 2017 (VEEGAN) and Metz et al.
2017 (unrolled GANs) on stacked MNIST.
"""

import numpy as np

from keras_dlss._validation import check_positive_int

__all__ = ["mode_coverage"]


def mode_coverage(labels_or_probs, num_classes, min_count=1):
    """Number of classes generated and the KL divergence of their histogram from uniform.

    Args:
        labels_or_probs: int array `[n]` of predicted classes, or float array
            `[n, num_classes]` of class probabilities (argmax is taken).
        num_classes: int, number of classes (modes) of the data.
        min_count: int. A class counts as covered when at least this many
            samples fall in it. Defaults to `1`.

    Returns:
        A dict: `modes` (int, classes covered), `kl_from_uniform` (float,
        `KL(histogram || uniform)` in nats, 0 for a perfectly even generator,
        `log(num_classes)` for one that produces a single class) and
        `histogram` (float array `[num_classes]`, fractions).

    Example:

    ```python
    result = mode_coverage(np.array([0, 0, 1, 1]), num_classes=4)
    assert result["modes"] == 2 and abs(result["kl_from_uniform"] - np.log(2)) < 1e-9
    ```

    References:
        Srivastava et al., "VEEGAN: Reducing mode collapse in GANs using
        implicit variational learning", NeurIPS 2017, https://arxiv.org/abs/1705.07761.
    """
    num_classes = check_positive_int("num_classes", num_classes)
    min_count = check_positive_int("min_count", min_count)
    values = np.asarray(labels_or_probs)
    if values.ndim == 2:
        if values.shape[1] != num_classes:
            raise ValueError(
                f"Argument `labels_or_probs` must have {num_classes} columns (`num_classes`). "
                f"Received: labels_or_probs.shape={values.shape}"
            )
        values = values.argmax(axis=1)
    elif values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(
            "Argument `labels_or_probs` must be int labels [n] or probabilities [n, classes]. "
            f"Received: labels_or_probs.shape={values.shape}, dtype={values.dtype}"
        )
    if values.size == 0:
        raise ValueError(
            "Argument `labels_or_probs` must hold at least one sample. "
            f"Received: labels_or_probs.shape={np.shape(labels_or_probs)}"
        )
    if values.min() < 0 or values.max() >= num_classes:
        raise ValueError(
            f"Argument `labels_or_probs` must hold labels in [0, {num_classes}). "
            f"Received: labels_or_probs containing {values.min() if values.min() < 0 else values.max()}"
        )
    counts = np.bincount(values, minlength=num_classes)
    histogram = counts / counts.sum()
    nonzero = histogram > 0
    kl = float(np.sum(histogram[nonzero] * np.log(histogram[nonzero] * num_classes)))
    return {
        "modes": int(np.sum(counts >= min_count)),
        "kl_from_uniform": kl,
        "histogram": histogram,
    }
