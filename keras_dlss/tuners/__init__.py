"""keras_dlss.tuners: public exports (each listed in `__all__`)."""

from keras_dlss.tuners.controller import LSTMController
from keras_dlss.tuners.darts_space import (
    DARTSRandomSearchOracle,
    darts_hyperparameters,
    genotype_from_values,
)
from keras_dlss.tuners.exploit_explore import pbt_exploit, pbt_explore
from keras_dlss.tuners.factory import TUNERS, get_tuner
from keras_dlss.tuners.pbt import PBTOracle, PopulationBasedTraining
from keras_dlss.tuners.reinforce import REINFORCEOracle

__all__ = [
    "DARTSRandomSearchOracle",
    "LSTMController",
    "REINFORCEOracle",
    "darts_hyperparameters",
    "genotype_from_values",
    "PBTOracle",
    "PopulationBasedTraining",
    "TUNERS",
    "get_tuner",
    "pbt_exploit",
    "pbt_explore",
]
