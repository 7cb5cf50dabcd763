"""keras_dlss.tuners: public exports (each listed in `__all__`)."""

from keras_dlss.tuners.exploit_explore import pbt_exploit, pbt_explore
from keras_dlss.tuners.factory import TUNERS, get_tuner
from keras_dlss.tuners.pbt import PBTOracle, PopulationBasedTraining

__all__ = [
    "PBTOracle",
    "PopulationBasedTraining",
    "TUNERS",
    "get_tuner",
    "pbt_exploit",
    "pbt_explore",
]
