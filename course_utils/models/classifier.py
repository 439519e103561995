"""The course's own Fashion-MNIST classifier: the judge of generated images (generative chapters).

A small CNN, three conv blocks and a 128-unit dense layer. Its penultimate activations,
``features(x)``, are the feature space of the course's Fashion-MNIST-classifier FID, KID and
precision/recall (``course_utils.evaluation.generative``); its predictions give class coverage.
It is trained by ``benchmarks/pretrained.py`` and shipped as the checkpoint ``fashion_classifier``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np


@keras.saving.register_keras_serializable(package="course_utils")
class FashionClassifier(keras.Model):
    """Conv blocks (conv, BN, ReLU, 2x2 max-pool) -> Dense, BN, ReLU features -> dropout -> class logits."""

    def __init__(self, input_shape: Sequence[int] = (28, 28, 1), filters: Sequence[int] = (32, 64, 128),
                 feature_dim: int = 128, n_classes: int = 10, dropout: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.hyperparameters = dict(input_shape=[int(s) for s in input_shape], filters=[int(f) for f in filters],
                                    feature_dim=int(feature_dim), n_classes=int(n_classes), dropout=float(dropout))
        blocks: list[keras.layers.Layer] = []
        for i, width in enumerate(self.hyperparameters["filters"], start=1):
            blocks += [keras.layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"conv_{i}"),
                       keras.layers.BatchNormalization(name=f"conv_{i}_norm"),
                       keras.layers.Activation("relu", name=f"conv_{i}_act"),
                       keras.layers.MaxPooling2D(2, padding="same", name=f"pool_{i}")]  # (batch, h/2, w/2, width)
        self.feature_model = keras.Sequential(
            [keras.Input(tuple(self.hyperparameters["input_shape"])), *blocks,
             keras.layers.Flatten(name="flatten"),  # (batch, 4 * 4 * filters[-1]) for 28x28 inputs
             keras.layers.Dense(int(feature_dim), use_bias=False, name="features_dense"),  # (batch, feature_dim)
             keras.layers.BatchNormalization(name="features_norm"),  # keeps every feature alive and on one scale
             keras.layers.Activation("relu", name="features")],
            name="feature_model")
        self.dropout = keras.layers.Dropout(float(dropout), name="dropout")
        self.logits = keras.layers.Dense(int(n_classes), name="logits")
        self.build((None, *self.hyperparameters["input_shape"]))

    def build(self, input_shape):
        """Build the head on the feature size; the feature model starts with an ``Input`` and is built already."""
        self.logits.build((None, self.hyperparameters["feature_dim"]))

    def call(self, inputs, training=None):
        """Class logits: (batch, 28, 28, 1) -> (batch, n_classes)."""
        return self.logits(self.dropout(self.feature_model(inputs, training=training), training=training))

    def features(self, x, batch_size: int = 1000) -> np.ndarray:
        """Penultimate activations of images in [0, 1]: (n, 28, 28, 1) -> (n, feature_dim) float64."""
        x = np.asarray(x, dtype=np.float32).reshape((-1, *self.hyperparameters["input_shape"]))
        return np.concatenate([np.asarray(self.feature_model(x[i:i + batch_size], training=False), dtype=np.float64)
                               for i in range(0, len(x), batch_size)])

    def predict_classes(self, x, batch_size: int = 1000) -> np.ndarray:
        """Most likely class of each image: (n, 28, 28, 1) -> (n,) int."""
        x = np.asarray(x, dtype=np.float32).reshape((-1, *self.hyperparameters["input_shape"]))
        return np.concatenate([np.argmax(np.asarray(self(x[i:i + batch_size], training=False)), axis=-1)
                               for i in range(0, len(x), batch_size)]).astype(int)

    @property
    def feature_dim(self) -> int:
        """Length of a feature vector."""
        return self.hyperparameters["feature_dim"]

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, so ``load_model`` rebuilds the same architecture."""
        return {**super().get_config(), **self.hyperparameters}


__all__ = ["FashionClassifier"]
