"""keras_dlss.callbacks: public exports (each listed in `__all__`)."""

from keras_dlss.callbacks.batch_size_schedule import BatchSizeScheduler, ScheduledBatchDataset
from keras_dlss.callbacks.elastic_weight_consolidation import ElasticWeightConsolidation
from keras_dlss.callbacks.gradient_check import GradientCheck
from keras_dlss.callbacks.learning_rate_logger import LearningRateLogger
from keras_dlss.callbacks.scheduled_sampling import ScheduledSampling
from keras_dlss.callbacks.swa import StochasticWeightAveraging, update_batch_norm
from keras_dlss.callbacks.training_diagnostics import TrainingDiagnostics
from keras_dlss.layers.end_to_end_memory import LinearStart

__all__ = [
    "BatchSizeScheduler",
    "ElasticWeightConsolidation",
    "GradientCheck",
    "LearningRateLogger",
    "LinearStart",
    "ScheduledBatchDataset",
    "ScheduledSampling",
    "StochasticWeightAveraging",
    "TrainingDiagnostics",
    "update_batch_norm",
]
