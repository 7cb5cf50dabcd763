"""Malformed calls of the Gaussian ops: each must raise a ValueError naming the argument."""

import numpy as np

from keras_dlss.ops import gaussian_kl_divergence, gaussian_log_likelihood, gaussian_sample

_X = np.zeros((2, 3), "float32")
_WRONG = np.zeros((2, 4), "float32")

CASES = [
    ("gaussian_log_likelihood", "x", lambda: gaussian_log_likelihood(np.float32(0), 0.0, 0.0)),
    ("gaussian_log_likelihood", "mean", lambda: gaussian_log_likelihood(_X, _WRONG, _X)),
    ("gaussian_log_likelihood", "log_variance", lambda: gaussian_log_likelihood(_X, _X, _WRONG)),
    ("gaussian_kl_divergence", "log_variance", lambda: gaussian_kl_divergence(_X, _WRONG)),
    ("gaussian_kl_divergence", "prior_mean", lambda: gaussian_kl_divergence(_X, _X, _WRONG)),
    ("gaussian_sample", "noise", lambda: gaussian_sample(_X, _X, noise=_WRONG)),
    ("gaussian_sample", "mean", lambda: gaussian_sample(np.float32(0), np.float32(0))),
]
