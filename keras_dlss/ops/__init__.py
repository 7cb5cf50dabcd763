"""keras_dlss.ops: public exports (each listed in `__all__`)."""

from keras_dlss.ops.crf import crf_decode, crf_log_likelihood, crf_log_partition, crf_marginals
from keras_dlss.ops.crf_constraints import allowed_transitions
from keras_dlss.ops.fixed_point import implicit_fixed_point, solve_fixed_point
from keras_dlss.ops.relative_attention import relative_position_logits

__all__ = [
    "allowed_transitions",
    "crf_decode",
    "crf_log_likelihood",
    "crf_log_partition",
    "crf_marginals",
    "relative_position_logits",
    "implicit_fixed_point",
    "solve_fixed_point",
]
