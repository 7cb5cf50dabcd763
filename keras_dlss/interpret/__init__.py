"""keras_dlss.interpret: attributions, concept activation vectors, faithfulness.

Every method works on any Keras model and backend (TensorFlow, JAX, PyTorch),
is batched, and runs as one XLA program on TensorFlow and JAX.
See docs/interpretability.md.
"""

from keras_dlss.interpret.faithfulness import deletion_insertion_curves
from keras_dlss.interpret.gam_distillation import (
    distill_to_gam,
    feature_shapes,
    gam_fidelity,
    plot_feature_shapes,
)
from keras_dlss.interpret.grad_cam import grad_cam
from keras_dlss.interpret.integrated_gradients import integrated_gradients
from keras_dlss.interpret.loss_landscape import loss_landscape
from keras_dlss.interpret.mmd_critic import mmd_critic
from keras_dlss.interpret.perturbation import feature_ablation, occlusion
from keras_dlss.interpret.plotting import plot_attributions
from keras_dlss.interpret.saliency import saliency, smoothgrad
from keras_dlss.interpret.sanity_checks import model_randomization_check
from keras_dlss.interpret.tcav import (
    ConceptActivationVector,
    conceptual_sensitivity,
    tcav,
    tcav_score,
)

__all__ = [
    "ConceptActivationVector",
    "conceptual_sensitivity",
    "deletion_insertion_curves",
    "distill_to_gam",
    "feature_shapes",
    "gam_fidelity",
    "feature_ablation",
    "grad_cam",
    "integrated_gradients",
    "loss_landscape",
    "mmd_critic",
    "model_randomization_check",
    "occlusion",
    "plot_attributions",
    "plot_feature_shapes",
    "saliency",
    "smoothgrad",
    "tcav",
    "tcav_score",
]
