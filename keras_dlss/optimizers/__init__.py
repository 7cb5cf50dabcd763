"""keras_dlss.optimizers: public exports (each listed in `__all__`)."""

from keras_dlss.optimizers.lookahead import Lookahead, lookahead_sync
from keras_dlss.optimizers.sam import SAM, SAMModel, sam_perturbation

__all__ = ["Lookahead", "SAM", "SAMModel", "lookahead_sync", "sam_perturbation"]
