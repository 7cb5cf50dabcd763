"""keras_dlss.datasets: public exports (each listed in `__all__`)."""

from keras_dlss.datasets import music
from keras_dlss.datasets.conll import Vocabulary, encode_characters, read_conll, read_conllu
from keras_dlss.datasets.dates import generate_dates, load_dates
from keras_dlss.datasets.images import (
    PHOTOGRAPH_NAMES,
    digits,
    image_folder,
    sample_photographs,
)
from keras_dlss.datasets.mesh_io import (
    load_point_cloud,
    point_cloud_folder,
    read_off,
    read_ply,
    read_xyz,
    sample_surface,
)
from keras_dlss.datasets.music import (
    events_to_midi,
    load_bach_chorales,
    midi_to_events,
    read_midi,
    write_midi,
)
from keras_dlss.datasets.point_cloud_views import render_depth_views, shade_views, voxelize
from keras_dlss.datasets.point_clouds import (
    COMPOSITE_NAMES,
    PART_NAMES,
    PRIMITIVE_NAMES,
    point_clouds,
)
from keras_dlss.datasets.shapes import SHAPE_NAMES, shapes
from keras_dlss.datasets.ud_english_ewt import load_ud_english_ewt, ud_english_ewt_path

__all__ = [
    "generate_dates",
    "load_dates",
    "Vocabulary",
    "encode_characters",
    "read_conll",
    "read_conllu",
    "load_ud_english_ewt",
    "ud_english_ewt_path",
    "events_to_midi",
    "load_bach_chorales",
    "midi_to_events",
    "music",
    "read_midi",
    "write_midi",
    "SHAPE_NAMES",
    "shapes",
    "digits",
    "image_folder",
    "sample_photographs",
    "PHOTOGRAPH_NAMES",
    "COMPOSITE_NAMES",
    "PART_NAMES",
    "PRIMITIVE_NAMES",
    "point_clouds",
    "voxelize",
    "render_depth_views",
    "shade_views",
    "read_off",
    "read_xyz",
    "read_ply",
    "sample_surface",
    "load_point_cloud",
    "point_cloud_folder",
]
