"""keras_dlss.datasets: public exports (each listed in `__all__`)."""

from keras_dlss.datasets import music
from keras_dlss.datasets.algorithmic import (
    associative_recall,
    convex_hull_indices,
    convex_hull_task,
    copy_task,
    sorting_task,
)
from keras_dlss.datasets.babi import babi_vocabulary, generate_babi, read_babi, vectorize_babi
from keras_dlss.datasets.conll import Vocabulary, encode_characters, read_conll, read_conllu
from keras_dlss.datasets.dates import generate_dates, load_dates
from keras_dlss.datasets.dependency_trees import (
    DependencyTree,
    check_heads,
    is_projective,
    read_conllu_trees,
)
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
from keras_dlss.datasets.nl2sql import load_nl2sql
from keras_dlss.datasets.planetoid import GraphData, karate_club, load_planetoid_npz
from keras_dlss.datasets.point_cloud_views import render_depth_views, shade_views, voxelize
from keras_dlss.datasets.point_clouds import (
    COMPOSITE_NAMES,
    PART_NAMES,
    PRIMITIVE_NAMES,
    point_clouds,
)
from keras_dlss.datasets.shape_captions import (
    ShapeCaptions,
    shape_caption_vocabulary,
    shape_captions,
)
from keras_dlss.datasets.shapes import SHAPE_NAMES, shapes
from keras_dlss.datasets.sort_of_clevr import SortOfCLEVR, sort_of_clevr
from keras_dlss.datasets.squad import (
    generate_reading_comprehension,
    parse_squad,
    read_squad_json,
    squad_vocabulary,
    vectorize_squad,
)
from keras_dlss.datasets.text_classification import (
    build_vocabulary,
    encode_texts,
    read_text_classification,
    tokenize_text,
)
from keras_dlss.datasets.text_corpus import (
    LanguageModelCorpus,
    build_language_model_corpus,
    conllu_word_forms,
    load_text_corpus,
    python_documentation_text,
    read_text_file,
    tokenize_lines,
)
from keras_dlss.datasets.text_sentiment import (
    PROBE_CATEGORIES,
    negation_probe,
    sentiment_sentences,
)
from keras_dlss.datasets.text_vectors import embedding_matrix, load_word_vectors
from keras_dlss.datasets.tree_linearization import delinearize, linearize_tree
from keras_dlss.datasets.ud_english_ewt import load_ud_english_ewt, ud_english_ewt_path

__all__ = [
    "SortOfCLEVR",
    "sort_of_clevr",
    "generate_reading_comprehension",
    "parse_squad",
    "read_squad_json",
    "squad_vocabulary",
    "vectorize_squad",
    "LanguageModelCorpus",
    "build_language_model_corpus",
    "conllu_word_forms",
    "load_text_corpus",
    "python_documentation_text",
    "read_text_file",
    "tokenize_lines",
    "GraphData",
    "karate_club",
    "load_planetoid_npz",
    "associative_recall",
    "convex_hull_indices",
    "convex_hull_task",
    "copy_task",
    "sorting_task",
    "babi_vocabulary",
    "generate_babi",
    "read_babi",
    "vectorize_babi",
    "generate_dates",
    "load_dates",
    "load_nl2sql",
    "linearize_tree",
    "delinearize",
    "Vocabulary",
    "encode_characters",
    "read_conll",
    "read_conllu",
    "DependencyTree",
    "check_heads",
    "is_projective",
    "read_conllu_trees",
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
    "ShapeCaptions",
    "shape_caption_vocabulary",
    "shape_captions",
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
    "read_text_classification",
    "tokenize_text",
    "encode_texts",
    "build_vocabulary",
    "load_word_vectors",
    "embedding_matrix",
    "negation_probe",
    "sentiment_sentences",
    "PROBE_CATEGORIES",
]
