"""keras_dlss.visualization: understanding CNNs by optimizing their input image.

Activation maximization (Olah et al., 2017), representation inversion
(Mahendran and Vedaldi, 2015), DeepDream (Mordvintsev et al., 2015) and
neural style transfer (Gatys et al., 2016), each one compiled optimization
loop over an image that works with any functional or `Sequential` Keras image
model; a random-weight feature extractor for style transfer without pretrained
weights, and PNG input/output.
"""

from keras_dlss.visualization.activation_maximization import maximize_activation
from keras_dlss.visualization.deep_dream import deep_dream
from keras_dlss.visualization.feature_extraction import feature_extractor
from keras_dlss.visualization.image_io import load_image, save_image
from keras_dlss.visualization.random_features import random_feature_extractor
from keras_dlss.visualization.representation_inversion import invert_representation
from keras_dlss.visualization.style_transfer import style_transfer

__all__ = [
    "deep_dream",
    "feature_extractor",
    "invert_representation",
    "load_image",
    "maximize_activation",
    "random_feature_extractor",
    "save_image",
    "style_transfer",
]
