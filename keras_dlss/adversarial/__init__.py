"""keras_dlss.adversarial: adversarial examples and adversarial training.

Attacks on any Keras classifier and backend, each one compiled program:
`fgsm`, `pgd` (L∞/L2, random start, restarts), `carlini_wagner_l2`; and
`AdversarialTrainingModel`, which trains on PGD examples (Madry et al. 2018).
See docs/robustness.md.
"""

from keras_dlss.adversarial.adversarial_training import AdversarialTrainingModel
from keras_dlss.adversarial.carlini_wagner import carlini_wagner_l2
from keras_dlss.adversarial.fgsm import fgsm
from keras_dlss.adversarial.pgd import pgd

__all__ = ["AdversarialTrainingModel", "carlini_wagner_l2", "fgsm", "pgd"]
