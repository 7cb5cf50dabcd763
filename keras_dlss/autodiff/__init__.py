"""keras_dlss.autodiff: public exports (each listed in `__all__`)."""

from keras_dlss.autodiff.core import vjp
from keras_dlss.autodiff.differential_operators import grad, hessian, hvp, jacobian, jvp

__all__ = ["grad", "hessian", "hvp", "jacobian", "jvp", "vjp"]
