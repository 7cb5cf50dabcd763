"""keras_dlss.decoding: public exports (each listed in `__all__`)."""

from keras_dlss.decoding.beam_search import beam_search
from keras_dlss.decoding.greedy import greedy_decode
from keras_dlss.decoding.sampling import sample

__all__ = ["beam_search", "greedy_decode", "sample"]
