"""keras_dlss.models: models with their own training step (each listed in `__all__`).

`CustomStep`/`CustomStepModel` is how a model with its own step is written
(see `docs/models.md`). The models of the package that have one are
re-exported here as well, so this namespace lists them all; they are still
defined beside their concept (`layers.CRFModel` next to the CRF layer,
`optimizers.SAMModel` next to SAM), and both import paths name the same class
(registered serializable names are unchanged). The re-exports are resolved on
first access, because those modules import this package's base class.
"""

import importlib

from keras_dlss.models.conditional_gan import ConditionalGAN
from keras_dlss.models.contrastive_predictive_coding import ContrastivePredictiveCoding
from keras_dlss.models.custom_step import CustomStep, CustomStepModel
from keras_dlss.models.cycle_gan import CycleGAN
from keras_dlss.models.gan import GAN
from keras_dlss.models.naive_bayes import NBSVM, NaiveBayesClassifier
from keras_dlss.models.ngram import NGramLanguageModel
from keras_dlss.models.vae import VAE, ConditionalVAE
from keras_dlss.models.wrapper import WrapperModel

_ALIASES = {
    "CRFModel": "keras_dlss.layers.crf",
    "EvolutionStrategiesModel": "keras_dlss.training.evolution_strategies",
    "KFACModel": "keras_dlss.optimizers.kfac",
    "SAMModel": "keras_dlss.optimizers.sam",
    "Seq2SeqTranslator": "keras_dlss.applications.seq2seq",
}

# `__all__` lists what this package defines; the re-exports are documented
# (and tested) under their defining modules, and listed by `dir()`.
__all__ = ["ConditionalGAN", "CustomStep", "CustomStepModel", "GAN", "WrapperModel"]
__all__ += ["VAE", "ConditionalVAE", "ContrastivePredictiveCoding", "CycleGAN"]
__all__ += ["NGramLanguageModel"]
__all__ += ["NaiveBayesClassifier", "NBSVM"]


def __getattr__(name):
    if name in _ALIASES:
        value = getattr(importlib.import_module(_ALIASES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*__all__, *_ALIASES])
