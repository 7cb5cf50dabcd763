"""keras-dlss: Keras 3 components for the Deep Learning Summer School 2018 curriculum.

Subpackages are imported on first access so that ``import keras_dlss`` stays light:

    import keras_dlss
    keras_dlss.layers.CRF  # imports keras_dlss.layers now
"""

import importlib

__version__ = "0.1.0"

_SUBPACKAGES = (
    "adversarial",
    "applications",
    "autodiff",
    "callbacks",
    "datasets",
    "debugging",
    "decoding",
    "export",
    "interpret",
    "layers",
    "losses",
    "metrics",
    "models",
    "ops",
    "optimizers",
    "regularizers",
    "schedules",
    "testing",
    "training",
    "tuners",
    "visualization",
)

__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name):
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
