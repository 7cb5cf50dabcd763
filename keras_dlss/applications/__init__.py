"""Prebuilt models (by import) and their CLI recipes (`keras-dlss train NAME`)."""

from keras_dlss.applications.base import Task, TaskData
from keras_dlss.applications.biaffine_parser import BiaffineParser, BiaffineParserModel
from keras_dlss.applications.bidaf import BiDAF
from keras_dlss.applications.darts import DARTSNetwork
from keras_dlss.applications.darts_genotype import derive_genotype
from keras_dlss.applications.dcgan import DCGAN, dcgan_discriminator, dcgan_generator
from keras_dlss.applications.dgcnn import DGCNN
from keras_dlss.applications.fcn import FCN, BilinearUpsampling, conv_backbone
from keras_dlss.applications.film_vqa import FiLMQuestionAnswering
from keras_dlss.applications.fully_convolutional import to_fully_convolutional
from keras_dlss.applications.gat import GAT, GCN, node_classification_inputs
from keras_dlss.applications.image_grid import image_grid, save_image_grid
from keras_dlss.applications.joint_embedding import JointEmbedding
from keras_dlss.applications.language_model import RNNLanguageModel
from keras_dlss.applications.language_model_task import generate_text
from keras_dlss.applications.memn2n import MemN2N
from keras_dlss.applications.mlp import MLPClassifier, make_optimizer
from keras_dlss.applications.multiview import LateFusion3D, MultiViewCNN
from keras_dlss.applications.music_generation import generate_performance, plot_piano_roll
from keras_dlss.applications.music_transformer import MusicTransformer
from keras_dlss.applications.music_vae import MusicVAE
from keras_dlss.applications.performance_rnn import PerformanceRNN
from keras_dlss.applications.pointer_generator import PointerGeneratorTranslator
from keras_dlss.applications.pointer_network import PointerNetwork
from keras_dlss.applications.pointnet import PointNet
from keras_dlss.applications.registry import get_task, register_task, task_names
from keras_dlss.applications.resnet import PlainNet, ResNet
from keras_dlss.applications.semantic_parser import SemanticParser
from keras_dlss.applications.seq2seq import Seq2SeqTranslator
from keras_dlss.applications.stack_lstm_parser import StackLSTMParser, StackLSTMParserModel
from keras_dlss.applications.tagger import BiLSTMCRFTagger
from keras_dlss.applications.text_classifier import TextClassifier, fit_sif, sif_word_weights
from keras_dlss.applications.text_classifier_layers import (
    BagOfWords,
    MaskedGlobalPooling1D,
    SIFEmbedding,
    ZeroPaddedPositions,
)
from keras_dlss.applications.voxnet import VoxNet

__all__ = [
    "FiLMQuestionAnswering",
    "JointEmbedding",
    "BiDAF",
    "GAT",
    "GCN",
    "node_classification_inputs",
    "BiaffineParser",
    "BiaffineParserModel",
    "BiLSTMCRFTagger",
    "DARTSNetwork",
    "derive_genotype",
    "DCGAN",
    "dcgan_discriminator",
    "dcgan_generator",
    "image_grid",
    "save_image_grid",
    "DGCNN",
    "LateFusion3D",
    "MultiViewCNN",
    "PointNet",
    "PointerNetwork",
    "PointerGeneratorTranslator",
    "VoxNet",
    "MemN2N",
    "MLPClassifier",
    "MusicTransformer",
    "MusicVAE",
    "PerformanceRNN",
    "RNNLanguageModel",
    "generate_text",
    "PlainNet",
    "ResNet",
    "SemanticParser",
    "Seq2SeqTranslator",
    "StackLSTMParser",
    "StackLSTMParserModel",
    "Task",
    "TaskData",
    "generate_performance",
    "get_task",
    "make_optimizer",
    "plot_piano_roll",
    "register_task",
    "task_names",
    "FCN",
    "BilinearUpsampling",
    "conv_backbone",
    "to_fully_convolutional",
    "TextClassifier",
    "fit_sif",
    "sif_word_weights",
    "BagOfWords",
    "MaskedGlobalPooling1D",
    "SIFEmbedding",
    "ZeroPaddedPositions",
]
