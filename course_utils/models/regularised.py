"""Sparse and contractive autoencoders: a dense autoencoder whose loss adds a penalty (chapter 04).

Both subclass ``DenseAutoencoder``, so they take its architecture arguments and save and load the
same way; they add their penalty arguments to ``get_config``. Each computes its own objective in
``compute_loss`` (MSE reconstruction + weight * penalty + any weight-decay terms), so it is
compiled with an optimizer only, ``model.compile(optimizer=keras.optimizers.Adam(1e-3))``, and
logs ``loss``, ``reconstruction_loss`` and its penalty for training and validation alike.
Weight decay and dropout, the plain "regularised" autoencoder, are ``DenseAutoencoder(l2=..., dropout=...)``.
"""
from __future__ import annotations

from typing import Any, Literal

import keras
from keras import ops

from course_utils.evaluation.metrics import mse_loss
from course_utils.models.autoencoders import DenseAutoencoder
from course_utils.models.penalties import (
    jacobian_penalty,
    kl_sparsity,
    l1_activity,
    sigmoid_contractive_penalty,
    top_k,
)
from course_utils.training.distribute import replica_share

SPARSITY_PENALTIES = ("l1", "kl", "topk")
JACOBIANS = ("closed_form", "autodiff")


@keras.saving.register_keras_serializable(package="course_utils")
class TopK(keras.layers.Layer):
    """Keeps the k largest entries of each code and zeroes the rest (k-sparse autoencoder, chapter 04)."""

    def __init__(self, k: int, **kwargs):
        super().__init__(**kwargs)
        if int(k) < 1:
            raise ValueError(f"k is the number of code units kept and must be at least 1, got {k}")
        self.k = int(k)

    def call(self, codes):
        return top_k(codes, self.k)  # (batch, d)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "k": self.k}


class _PenalisedAutoencoder(DenseAutoencoder):
    """A dense autoencoder trained on MSE + weight * ``penalty(x, code)``, with three logged means (chapter 04)."""

    penalty_name = "penalty"

    def __init__(self, weight: float, **kwargs):
        if not float(weight) >= 0.0:
            raise ValueError(f"weight multiplies the penalty and must be >= 0, got {weight}")
        self.weight = float(weight)
        super().__init__(**kwargs)

    def build(self, input_shape):
        """The sub-models exist already; create the three means that ``compute_loss`` updates."""
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.penalty_tracker = keras.metrics.Mean(name=self.penalty_name)

    def penalty(self, x, code, training: bool):
        """The unweighted penalty of a batch, given its inputs and codes."""
        raise NotImplementedError

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """MSE(target, decode(code)) + weight * penalty + weight decay; the target is ``y``, or ``x`` when y is None.

        The penalty needs the code, so the forward pass runs here and Keras' ``y_pred`` is not used
        (TensorFlow prunes that unused pass from the compiled step; batch-normalisation statistics,
        being state, are still updated by both passes).
        """
        code = self.encode(x, training=training)  # (batch, d)
        reconstruction = mse_loss(x if y is None else y, self.decode(code, training=training))
        penalty = self.penalty(x, code, training)
        total = reconstruction + self.weight * penalty
        if self.losses:
            total = total + ops.sum(self.losses)  # weight decay from l2 > 0
        for tracker, value in ((self.loss_tracker, total), (self.reconstruction_tracker, reconstruction),
                               (self.penalty_tracker, penalty)):
            tracker.update_state(value)
        return replica_share(total)  # Keras' step takes the gradient of what compute_loss returns

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        """The three means Keras reports (and resets each epoch): loss, reconstruction loss, penalty."""
        return [self.loss_tracker, self.reconstruction_tracker, self.penalty_tracker]


@keras.saving.register_keras_serializable(package="course_utils")
class SparseAutoencoder(_PenalisedAutoencoder):
    """A dense autoencoder with a sparse code: an L1 or KL penalty, or a k-sparse (top-k) code (chapter 04).

    ``penalty``: 'l1' (weight * mean sum_j |h_j|), 'kl' (weight * sum_j KL(rho || rho_hat_j); needs
    ``code_activation="sigmoid"``) or 'topk' (a ``TopK(k)`` layer ends the encoder, so ``encode``
    returns the k-sparse code; ``weight`` is not used and the logged penalty is 0). Other keyword
    arguments are ``DenseAutoencoder``'s.
    """

    penalty_name = "sparsity_penalty"

    def __init__(self, *, penalty: Literal["l1", "kl", "topk"], weight: float | None = None, rho: float = 0.05,
                 k: int = 25, **kwargs):
        if penalty not in SPARSITY_PENALTIES:
            raise ValueError(f"penalty must be one of {', '.join(map(repr, SPARSITY_PENALTIES))}, got {penalty!r}")
        if weight is None and penalty != "topk":
            raise ValueError(f"penalty {penalty!r} needs a weight, e.g. weight=1e-3 (l1) or weight=0.1 (kl)")
        super().__init__(weight=0.0 if weight is None else weight, **kwargs)
        self.penalty_kind, self.rho, self.k = penalty, float(rho), int(k)
        if penalty == "kl":
            self._check_kl()
        if penalty == "topk":
            latent_dim = self.hyperparameters["latent_dim"]
            if not 1 <= self.k <= latent_dim:
                raise ValueError(f"k must be between 1 and latent_dim={latent_dim}, got {k}")
            self.encoder.add(TopK(self.k, name="top_k"))  # (batch, d), k non-zero entries per row

    def _check_kl(self) -> None:
        """The KL penalty needs a sigmoid code and a target rho in (0, 1)."""
        activation = self.hyperparameters["code_activation"]
        if activation != "sigmoid":
            raise ValueError("the KL penalty compares mean activations in (0, 1) with rho: pass "
                             f"code_activation='sigmoid', got {activation!r}")
        if not 0.0 < self.rho < 1.0:
            raise ValueError(f"rho is a target mean activation and must lie strictly between 0 and 1, got {self.rho}")

    def penalty(self, x, code, training: bool):
        """The unweighted sparsity penalty of a batch of codes (0 for 'topk', whose code is sparse by construction)."""
        if self.penalty_kind == "l1":
            return l1_activity(code)
        if self.penalty_kind == "kl":
            return kl_sparsity(code, self.rho)
        return ops.zeros((), dtype=code.dtype)

    def get_config(self) -> dict[str, Any]:
        """DenseAutoencoder's arguments plus penalty, weight, rho and k."""
        return {**super().get_config(), "penalty": self.penalty_kind, "weight": self.weight, "rho": self.rho,
                "k": self.k}


@keras.saving.register_keras_serializable(package="course_utils")
class ContractiveAutoencoder(_PenalisedAutoencoder):
    """A dense autoencoder penalised by weight * ||dh/dx||_F^2, the encoder's Jacobian (Rifai et al. 2011, ch. 04).

    ``jacobian``: 'autodiff' (``tf.GradientTape.batch_jacobian``, any encoder depth; it costs one
    backward pass per code unit) or 'closed_form' (sum_j (h_j (1 - h_j))^2 ||W_j||^2, only for a
    single sigmoid code layer: ``hidden_units=()``, ``code_activation="sigmoid"``). Other keyword
    arguments are ``DenseAutoencoder``'s.
    """

    penalty_name = "contractive_penalty"

    def __init__(self, *, weight: float, jacobian: Literal["closed_form", "autodiff"] = "autodiff", **kwargs):
        if jacobian not in JACOBIANS:
            raise ValueError(f"jacobian must be one of {', '.join(map(repr, JACOBIANS))}, got {jacobian!r}")
        super().__init__(weight=weight, **kwargs)
        self.jacobian = jacobian
        shallow = self.hyperparameters["hidden_units"] == [] and self.hyperparameters["code_activation"] == "sigmoid"
        if jacobian == "closed_form" and not shallow:
            raise ValueError("jacobian='closed_form' is the formula for one sigmoid code layer: pass hidden_units=() "
                             "and code_activation='sigmoid', or use jacobian='autodiff' for any other encoder")

    def penalty(self, x, code, training: bool):
        """The unweighted contractive penalty, the batch mean of ||J||_F^2."""
        if self.jacobian == "closed_form":
            return sigmoid_contractive_penalty(code, self.encoder.get_layer("code").kernel)
        return jacobian_penalty(self.encoder, x, training=training)

    def get_config(self) -> dict[str, Any]:
        """DenseAutoencoder's arguments plus weight and jacobian."""
        return {**super().get_config(), "weight": self.weight, "jacobian": self.jacobian}


__all__ = ["JACOBIANS", "SPARSITY_PENALTIES", "ContractiveAutoencoder", "SparseAutoencoder", "TopK"]
