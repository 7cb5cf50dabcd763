"""keras_dlss.training: public exports (each listed in `__all__`)."""

from keras_dlss.training.darts import DARTSSearch
from keras_dlss.training.evolution_strategies import (
    EvolutionStrategiesModel,
    centered_ranks,
    es_gradient,
)
from keras_dlss.training.linear_probe import linear_probe
from keras_dlss.training.multi_task import MultiTaskModel
from keras_dlss.training.multi_task_sampling import MultiTaskDataset, task_probabilities
from keras_dlss.training.pretraining import pretrain_autoencoder_stack
from keras_dlss.training.second_order import lbfgs_fit, newton_cg_fit

__all__ = [
    "DARTSSearch",
    "EvolutionStrategiesModel",
    "MultiTaskDataset",
    "MultiTaskModel",
    "centered_ranks",
    "es_gradient",
    "lbfgs_fit",
    "linear_probe",
    "newton_cg_fit",
    "pretrain_autoencoder_stack",
    "task_probabilities",
]
