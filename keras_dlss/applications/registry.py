"""Registry of CLI applications: name -> lazily imported `Task` subclass.

Modules are imported only when a task is requested, so `keras-dlss list` and
`import keras_dlss.applications` do not pay for every application.
"""

import importlib

from keras_dlss.applications.base import Task

_TASKS: dict[str, str] = {
    "tagger": "keras_dlss.applications.tagger:TaggerTask",
    "parser": "keras_dlss.applications.parser_task:ParserTask",
    "mlp": "keras_dlss.applications.mlp:MLPTask",
    "music-transformer": "keras_dlss.applications.music_transformer:MusicTransformerTask",
    "performance-rnn": "keras_dlss.applications.performance_rnn:PerformanceRNNTask",
    "seq2seq": "keras_dlss.applications.seq2seq_task:Seq2SeqTask",
    "semantic-parser": "keras_dlss.applications.semantic_parser_task:SemanticParserTask",
    "dcgan": "keras_dlss.applications.gan_tasks:DCGANTask",
    "cgan": "keras_dlss.applications.gan_tasks:ConditionalGANTask",
    "cvae": "keras_dlss.applications.digit_completion:CVAETask",
    "cyclegan": "keras_dlss.applications.digit_domains:CycleGANTask",
    "cpc": "keras_dlss.applications.digit_rows_cpc:CPCTask",
    "music-vae": "keras_dlss.applications.music_vae_task:MusicVAETask",
    "resnet": "keras_dlss.applications.resnet_task:ResNetTask",
    "fcn": "keras_dlss.applications.fcn_task:FCNTask",
    "pointnet": "keras_dlss.applications.recognition_3d_tasks:PointNetTask",
    "dgcnn": "keras_dlss.applications.recognition_3d_tasks:DGCNNTask",
    "voxnet": "keras_dlss.applications.recognition_3d_tasks:VoxNetTask",
    "mvcnn": "keras_dlss.applications.recognition_3d_tasks:MultiViewCNNTask",
    "gat": "keras_dlss.applications.gat_task:GATTask",
    "text-classifier": "keras_dlss.applications.text_classifier_task:TextClassifierTask",
    "language-model": "keras_dlss.applications.language_model_task:LanguageModelTask",
    "memn2n": "keras_dlss.applications.memn2n:MemN2NTask",
    "bidaf": "keras_dlss.applications.bidaf_task:BiDAFTask",
    "ntm": "keras_dlss.applications.ntm_task:NTMTask",
    "film-vqa": "keras_dlss.applications.film_vqa_task:FiLMVQATask",
    "pointer": "keras_dlss.applications.pointer_task:PointerTask",
}


def register_task(name: str, target) -> None:
    """Registers a `Task` subclass (or a "module:Class" string) under `name`."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"Argument `name` must be a non-empty string. Received: name={name!r}")
    _TASKS[name] = target


def task_names() -> list[str]:
    return sorted(_TASKS)


def get_task(name: str) -> Task:
    """Returns an instance of the task registered as `name`."""
    if name not in _TASKS:
        raise ValueError(
            f"Unknown application {name!r}. Available: {', '.join(task_names())}. Received: name={name!r}"
        )
    target = _TASKS[name]
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module_name), attr)
    return target()
