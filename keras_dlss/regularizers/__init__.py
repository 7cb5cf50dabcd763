"""keras_dlss.regularizers: public exports (each listed in `__all__`)."""

from keras_dlss.regularizers.elastic_weight_consolidation import (
    ElasticWeightConsolidation,
    consolidate,
    diagonal_fisher,
)
from keras_dlss.regularizers.group_lasso import GroupLasso
from keras_dlss.regularizers.orthogonality import OrthogonalityRegularizer

__all__ = [
    "ElasticWeightConsolidation",
    "GroupLasso",
    "OrthogonalityRegularizer",
    "consolidate",
    "diagonal_fisher",
]
