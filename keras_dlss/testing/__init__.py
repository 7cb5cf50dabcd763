"""Conformance testing for Keras layers (TensorFlow-specific parts allowed here)."""

from keras_dlss.testing.layer_test import LayerTestError, LayerTestReport, run_layer_test

__all__ = ["LayerTestError", "LayerTestReport", "run_layer_test"]
