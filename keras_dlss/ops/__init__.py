"""keras_dlss.ops: public exports (each listed in `__all__`)."""

from keras_dlss.ops.crf import crf_decode, crf_log_likelihood, crf_log_partition, crf_marginals
from keras_dlss.ops.crf_constraints import allowed_transitions
from keras_dlss.ops.dense_crf import dense_crf_mean_field
from keras_dlss.ops.fixed_point import implicit_fixed_point, solve_fixed_point
from keras_dlss.ops.gaussian import (
    gaussian_kl_divergence,
    gaussian_log_likelihood,
    gaussian_sample,
)
from keras_dlss.ops.gradient_penalty import r1_penalty, wgan_gradient_penalty
from keras_dlss.ops.point_cloud_graph import gather_neighbors, knn_indices
from keras_dlss.ops.relative_attention import relative_position_logits

__all__ = [
    "gaussian_kl_divergence",
    "gaussian_log_likelihood",
    "gaussian_sample",
    "allowed_transitions",
    "crf_decode",
    "crf_log_likelihood",
    "crf_log_partition",
    "crf_marginals",
    "relative_position_logits",
    "implicit_fixed_point",
    "solve_fixed_point",
    "dense_crf_mean_field",
    "gather_neighbors",
    "knn_indices",
    "r1_penalty",
    "wgan_gradient_penalty",
]
