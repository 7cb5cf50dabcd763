"""keras_dlss.optimizers: public exports (each listed in `__all__`)."""

from keras_dlss.optimizers.sam import SAM, SAMModel, sam_perturbation

__all__ = ["SAM", "SAMModel", "sam_perturbation"]
