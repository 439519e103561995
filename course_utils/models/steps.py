"""Training and evaluation steps for models whose whole objective is their ``compute_loss`` (VAE, codec, context)."""
from __future__ import annotations

import keras

from course_utils.training.distribute import descend


class ComputeLossSteps:
    """Mixin for a ``keras.Model`` whose objective is ``compute_loss(x, y, training=...)``, which updates its trackers.

    Keras' default steps would also run ``call``, a wasted forward pass; these run ``compute_loss`` alone, scale the
    loss for mixed precision and average gradients across replicas (``descend``).
    """

    def train_step(self, data):
        """One optimiser step on ``compute_loss``; returns the trackers' results."""
        import tensorflow as tf

        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss = self.compute_loss(x, y, training=True)
            scaled = self.optimizer.scale_loss(loss)
        descend(self.optimizer, tape, scaled, self.trainable_weights)
        return self.get_metrics_result()

    def test_step(self, data):
        """``compute_loss`` in evaluation mode, for its trackers; returns their results."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        self.compute_loss(x, y, training=False)
        return self.get_metrics_result()
