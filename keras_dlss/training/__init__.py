"""keras_dlss.training: public exports (each listed in `__all__`)."""

from keras_dlss.training.evolution_strategies import (
    EvolutionStrategiesModel,
    centered_ranks,
    es_gradient,
)

__all__ = ["EvolutionStrategiesModel", "centered_ranks", "es_gradient"]
