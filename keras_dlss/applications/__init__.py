"""Prebuilt models (by import) and their CLI recipes (`keras-dlss train NAME`)."""

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.mlp import MLPClassifier, make_optimizer
from keras_dlss.applications.registry import get_task, register_task, task_names

__all__ = [
    "MLPClassifier",
    "Task",
    "TaskData",
    "get_task",
    "make_optimizer",
    "register_task",
    "task_names",
]
