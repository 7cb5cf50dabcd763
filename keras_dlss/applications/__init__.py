"""Prebuilt models (by import) and their CLI recipes (`keras-dlss train NAME`)."""

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.mlp import MLPClassifier, make_optimizer
from keras_dlss.applications.music_generation import generate_performance, plot_piano_roll
from keras_dlss.applications.music_transformer import MusicTransformer
from keras_dlss.applications.performance_rnn import PerformanceRNN
from keras_dlss.applications.registry import get_task, register_task, task_names
from keras_dlss.applications.seq2seq import Seq2SeqTranslator
from keras_dlss.applications.tagger import BiLSTMCRFTagger

__all__ = [
    "BiLSTMCRFTagger",
    "MLPClassifier",
    "MusicTransformer",
    "PerformanceRNN",
    "Seq2SeqTranslator",
    "Task",
    "TaskData",
    "generate_performance",
    "get_task",
    "make_optimizer",
    "plot_piano_roll",
    "register_task",
    "task_names",
]
