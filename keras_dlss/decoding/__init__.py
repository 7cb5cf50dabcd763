"""keras_dlss.decoding: public exports (each listed in `__all__`)."""

from keras_dlss.decoding.beam_search import beam_search
from keras_dlss.decoding.best_span import best_span
from keras_dlss.decoding.constrained import constrain_step_fn
from keras_dlss.decoding.grammar import Grammar
from keras_dlss.decoding.greedy import greedy_decode
from keras_dlss.decoding.instance_clustering import cluster_embeddings
from keras_dlss.decoding.sampling import sample
from keras_dlss.decoding.scheduled_sampling import scheduled_sampling_unroll

__all__ = [
    "best_span",
    "beam_search",
    "greedy_decode",
    "sample",
    "scheduled_sampling_unroll",
    "cluster_embeddings",
    "constrain_step_fn",
    "Grammar",
]
