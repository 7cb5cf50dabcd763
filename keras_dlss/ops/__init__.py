"""keras_dlss.ops: public exports (each listed in `__all__`)."""

from keras_dlss.ops.coverage import coverage_loss, coverage_vectors
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
from keras_dlss.ops.graph_attention import graph_attention
from keras_dlss.ops.graph_convolution import graph_convolution
from keras_dlss.ops.ntm_addressing import (
    circular_shift,
    content_addressing,
    interpolate,
    ntm_address,
    sharpen,
)
from keras_dlss.ops.point_cloud_graph import gather_neighbors, knn_indices
from keras_dlss.ops.pointer_generator import (
    extend_vocabulary,
    extended_ids_to_tokens,
    final_distribution,
)
from keras_dlss.ops.pointer_stack import stack_pop, stack_push, stack_top
from keras_dlss.ops.relative_attention import relative_position_logits
from keras_dlss.ops.segment_softmax import segment_softmax
from keras_dlss.ops.spanning_tree import chu_liu_edmonds, eisner, maximum_spanning_tree

__all__ = [
    "circular_shift",
    "content_addressing",
    "interpolate",
    "ntm_address",
    "sharpen",
    "graph_attention",
    "graph_convolution",
    "segment_softmax",
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
    "chu_liu_edmonds",
    "eisner",
    "maximum_spanning_tree",
    "stack_pop",
    "stack_push",
    "stack_top",
    "extend_vocabulary",
    "extended_ids_to_tokens",
    "final_distribution",
    "coverage_loss",
    "coverage_vectors",
]
