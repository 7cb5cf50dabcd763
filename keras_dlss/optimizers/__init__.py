"""keras_dlss.optimizers: public exports (each listed in `__all__`)."""

from keras_dlss.optimizers.hypergradient import HypergradientAdam, HypergradientSGD
from keras_dlss.optimizers.kfac import (
    KFAC,
    KFACModel,
    damped_inverses,
    kfac_factors,
    kfac_precondition,
)
from keras_dlss.optimizers.lookahead import Lookahead, lookahead_sync
from keras_dlss.optimizers.sam import SAM, SAMModel, sam_perturbation

__all__ = [
    "HypergradientAdam",
    "HypergradientSGD",
    "KFAC",
    "KFACModel",
    "Lookahead",
    "SAM",
    "SAMModel",
    "damped_inverses",
    "kfac_factors",
    "kfac_precondition",
    "lookahead_sync",
    "sam_perturbation",
]
