"""InfoNCE, the contrastive loss of contrastive predictive coding (van den Oord et al. 2018).

Each query (a prediction of a future encoding) is scored against every key in
its group: its own positive key and the other queries' keys, which serve as
negatives drawn from the batch. The loss is the categorical cross-entropy of
identifying the positive among them (Eq. 4 of the paper), and minimizing it
maximizes a lower bound on the mutual information between the context and
the future: I(x; c) >= log N - L_N.

References:
    - van den Oord, Li & Vinyals, "Representation Learning with Contrastive
      Predictive Coding", 2018. https://arxiv.org/abs/1807.03748
"""

import keras
from keras import ops

from keras_dlss._validation import check_min_rank, check_range, shape_str, shapes_compatible

__all__ = ["InfoNCE", "info_nce_logits", "info_nce_loss"]


def _check(queries, keys, temperature):
    check_range("temperature", temperature, 0.0, None, low_inclusive=False)
    queries, keys = ops.convert_to_tensor(queries), ops.convert_to_tensor(keys)
    check_min_rank("queries", queries, 2)
    if not shapes_compatible(queries.shape, keys.shape):
        raise ValueError(
            f"Argument `keys` must have the shape of `queries` {shape_str(queries.shape)}. "
            f"Received: keys.shape={shape_str(keys.shape)}"
        )
    return queries, ops.cast(keys, queries.dtype)


def info_nce_logits(queries, keys, temperature=1.0):
    """Similarity logits `[..., N, N]`: `logits[..., i, j] = <queries_i, keys_j> / temperature`.

    Row i's positive is column i; the other columns are its negatives.
    """
    queries, keys = _check(queries, keys, temperature)
    return ops.matmul(queries, ops.swapaxes(keys, -1, -2)) / temperature


def info_nce_loss(queries, keys, temperature=1.0):
    """Per-query InfoNCE loss `[..., N]`: `-log softmax_j(<q_i, k_j> / T)[i]`.

    Args:
        queries: float tensor `[..., N, D]` (predictions; any leading axes,
            e.g. prediction step and time, are independent groups).
        keys: float tensor `[..., N, D]`: `keys[..., i, :]` is the positive
            of `queries[..., i, :]`, and the negative of every other query.
        temperature: float > 0. Divides the similarities. Defaults to `1.0`.

    Returns:
        Tensor `[..., N]` of losses in nats (log N at chance).

    Example:

    ```python
    q = np.random.normal(size=(8, 4)).astype("float32")
    loss = info_nce_loss(q, q + 0.1)   # positives similar to their queries: below log 8
    ```
    """
    logits = info_nce_logits(queries, keys, temperature)
    log_probs = ops.log_softmax(logits, axis=-1)
    return -ops.diagonal(log_probs, axis1=-2, axis2=-1)


@keras.saving.register_keras_serializable(package="keras_dlss")
class InfoNCE(keras.losses.Loss):
    """InfoNCE as a Keras loss: `y_true` holds the positive keys, `y_pred` the queries.

    `loss(y_true=keys, y_pred=queries)` is the mean (by default) of
    `info_nce_loss(queries, keys, temperature)`: each query must pick out its
    own key among the keys of the whole batch.

    Args:
        temperature: float > 0. Defaults to `1.0`.
        reduction, name, dtype: as for `keras.losses.Loss`.

    Example:

    ```python
    keys = np.random.normal(size=(16, 8)).astype("float32")
    queries = keys + 0.1 * np.random.normal(size=(16, 8)).astype("float32")
    value = keras_dlss.losses.InfoNCE(temperature=0.5)(keys, queries)
    ```

    References:
        van den Oord, Li & Vinyals 2018, https://arxiv.org/abs/1807.03748.
    """

    def __init__(
        self, temperature=1.0, reduction="sum_over_batch_size", name="info_nce", dtype=None
    ):
        super().__init__(reduction=reduction, name=name, dtype=dtype)
        self.temperature = float(
            check_range("temperature", temperature, 0.0, None, low_inclusive=False)
        )

    def call(self, y_true, y_pred):
        return info_nce_loss(y_pred, y_true, self.temperature)

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}
