"""keras_dlss.metrics: public exports (each listed in `__all__`)."""

from keras_dlss.metrics.attachment import attachment_scores
from keras_dlss.metrics.birthday_paradox import birthday_paradox_support
from keras_dlss.metrics.frechet import FrechetDistance, feature_statistics, fid, frechet_distance
from keras_dlss.metrics.mode_coverage import mode_coverage
from keras_dlss.metrics.noise_stability import noise_stability
from keras_dlss.metrics.panoptic import PanopticQuality, panoptic_quality
from keras_dlss.metrics.perplexity import BitsPerCharacter, Perplexity
from keras_dlss.metrics.retrieval import RecallAtK, median_rank, recall_at_k, retrieval_ranks
from keras_dlss.metrics.robust_accuracy import RobustAccuracy
from keras_dlss.metrics.segmentation import IoUReport, boundary_f_score, per_class_iou
from keras_dlss.metrics.sequence_labeling import (
    TokenAccuracy,
    get_entities,
    span_f1,
    token_accuracy,
)
from keras_dlss.metrics.sharpness import sharpness
from keras_dlss.metrics.squad import squad_exact_match, squad_f1

__all__ = [
    "squad_exact_match",
    "squad_f1",
    "attachment_scores",
    "FrechetDistance",
    "BitsPerCharacter",
    "Perplexity",
    "birthday_paradox_support",
    "feature_statistics",
    "fid",
    "frechet_distance",
    "mode_coverage",
    "RobustAccuracy",
    "RecallAtK",
    "median_rank",
    "recall_at_k",
    "retrieval_ranks",
    "noise_stability",
    "TokenAccuracy",
    "get_entities",
    "sharpness",
    "span_f1",
    "token_accuracy",
    "IoUReport",
    "PanopticQuality",
    "boundary_f_score",
    "panoptic_quality",
    "per_class_iou",
]
