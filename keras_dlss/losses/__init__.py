"""keras_dlss.losses: public exports (each listed in `__all__`)."""

from keras_dlss.losses.contrastive_ranking import (
    ContrastiveRankingLoss,
    contrastive_ranking_loss,
)
from keras_dlss.losses.discriminative_instance import (
    DiscriminativeInstanceLoss,
    discriminative_instance_loss,
)
from keras_dlss.losses.feature_reconstruction import (
    FeatureReconstruction,
    feature_reconstruction_loss,
)
from keras_dlss.losses.gan import (
    GAN_LOSSES,
    DiscriminatorLoss,
    GeneratorLoss,
    discriminator_loss,
    generator_loss,
)
from keras_dlss.losses.gram_matrix_style import (
    GramMatrixStyle,
    gram_matrix,
    gram_matrix_style_loss,
)
from keras_dlss.losses.info_nce import InfoNCE, info_nce_logits, info_nce_loss
from keras_dlss.losses.total_variation import TotalVariation, total_variation_loss

__all__ = [
    "ContrastiveRankingLoss",
    "contrastive_ranking_loss",
    "InfoNCE",
    "info_nce_logits",
    "info_nce_loss",
    "GAN_LOSSES",
    "DiscriminatorLoss",
    "GeneratorLoss",
    "discriminator_loss",
    "generator_loss",
    "FeatureReconstruction",
    "GramMatrixStyle",
    "TotalVariation",
    "feature_reconstruction_loss",
    "gram_matrix",
    "gram_matrix_style_loss",
    "total_variation_loss",
    "DiscriminativeInstanceLoss",
    "discriminative_instance_loss",
]
