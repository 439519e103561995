"""A context model for a codec's latent symbols: each slice conditioned on the slices before it (chapter 07).

The factorised entropy model gives every latent one fixed distribution, whatever the image. But the latents of
one image are not independent: a sandal's first coefficients say a lot about how large its later ones will be.
The context model codes an image's flattened symbols (d,) in slices s_1, ..., s_K, in order. Slice 1 gets one
learned Gaussian per symbol; slice k's Gaussians (a mean and a scale per symbol) come from a small MLP that reads
slices 1..k-1, which the decoder has already decoded. By the chain rule, -log2 P(s) = sum_k -log2 P(s_k | s_<k),
so the code stays exact, and better predictions mean fewer bits (Minnen, Balle & Toderici 2018; Minnen & Singh
2020 slice the channels the same way). Each symbol's probability is the Gaussian's mass on [s - 1/2, s + 1/2].

``fit_context_model`` fits it after the codec, on the training images' rounded latents: the transform, the decoder
and the distortion stay as they are, only the bits change. For coding, ``coding_parameters`` recomputes the means
and scales in float64 NumPy and rounds them to a grid (means to 1/64, scales to steps of 2^(1/16)), so the
encoder and the decoder, which compute them at different times, agree on every number.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
from keras import ops

from course_utils.models.steps import ComputeLossSteps

LOC_STEP = 1 / 64  # coding means are rounded to this grid
LOG2_SCALE_STEP = 1 / 16  # coding scales are rounded to powers of 2 ** this
SCALE_BOUNDS = (0.11, 4096.0)  # scales are clipped to this range, in training and in coding alike
MASS_BOUND = 1e-9  # a symbol's modelled probability never falls below this (about 30 bits) in training


@keras.saving.register_keras_serializable(package="course_utils")
class ContextEntropyModel(ComputeLossSteps, keras.Model):
    """Gaussian probabilities for flattened latent symbols (batch, d), slice k conditioned on slices < k (ch. 07)."""

    def __init__(self, slices: Sequence[int], hidden_units: int = 256, symbol_scale: Sequence[float] | None = None,
                 **kwargs):
        super().__init__(**kwargs)
        slices = tuple(int(s) for s in slices)
        if not slices or min(slices) < 1 or int(hidden_units) < 1:
            raise ValueError(f"slices must be one or more sizes >= 1 and hidden_units >= 1, got {slices} and "
                             f"{hidden_units}")
        self.slices, self.hidden_units, self.dims = slices, int(hidden_units), sum(slices)
        self.bounds = np.cumsum((0, *slices))  # slice k is symbols[:, bounds[k]:bounds[k + 1]]
        scale = np.ones(self.dims) if symbol_scale is None else np.asarray(symbol_scale, dtype=np.float64)
        if scale.shape != (self.dims,) or not np.all(scale > 0):
            raise ValueError(f"symbol_scale must be {self.dims} positive numbers (one per symbol), got shape "
                             f"{scale.shape}")
        self.symbol_scale = self.add_weight(shape=(self.dims,), initializer=keras.initializers.Constant(scale),
                                            trainable=False, name="symbol_scale")
        self.first_loc = self.add_weight(shape=(slices[0],), initializer="zeros", name="first_loc")
        self.first_log_scale = self.add_weight(shape=(slices[0],), initializer="zeros", name="first_log_scale")
        self.nets = [self._slice_net(int(self.bounds[k]), n, k) for k, n in enumerate(slices[1:], start=1)]
        self.trackers = {"loss": keras.metrics.Mean(name="loss"), "bits": keras.metrics.Mean(name="bits")}
        self.built = True

    def _slice_net(self, context: int, size: int, k: int) -> keras.Sequential:
        """The MLP of slice k: the normalised symbols before it (context,) -> mean and log-scale offsets (2 * size,)."""
        return keras.Sequential([keras.Input((context,)),
                                 keras.layers.Dense(self.hidden_units, activation="relu"),
                                 keras.layers.Dense(self.hidden_units, activation="relu"),
                                 keras.layers.Dense(2 * size, kernel_initializer="zeros")], name=f"slice_{k}")

    def parameters(self, symbols):
        """Means and scales (batch, d) of every symbol's Gaussian, given the whole (batch, d) symbols (teacher forcing)."""
        symbols = ops.convert_to_tensor(symbols, "float32")
        scale = self.symbol_scale  # (d,)
        z = symbols / scale  # (batch, d), about unit spread per symbol
        n0 = self.slices[0]
        ones = ops.ones_like(symbols[:, :n0])
        locs, log_scales = [ones * self.first_loc * scale[:n0]], [ones * self.first_log_scale + ops.log(scale[:n0])]
        for k, net in enumerate(self.nets, start=1):
            low, high = int(self.bounds[k]), int(self.bounds[k + 1])
            out = net(z[:, :low])  # (batch, 2 * slice size)
            locs.append(out[:, :high - low] * scale[low:high])
            log_scales.append(out[:, high - low:] + ops.log(scale[low:high]))
        scales = ops.clip(ops.exp(ops.concatenate(log_scales, axis=1)), *SCALE_BOUNDS)
        return ops.concatenate(locs, axis=1), scales

    def bits(self, symbols):
        """Ideal code length per image (batch,): -sum log2 of each integer symbol's Gaussian mass."""
        symbols = ops.convert_to_tensor(symbols, "float32")
        loc, scale = self.parameters(symbols)
        distance = ops.abs(symbols - loc)  # the mass of [s - 1/2, s + 1/2], on the side where it keeps precision
        upper = _normal_cdf((0.5 - distance) / scale)
        lower = _normal_cdf((-0.5 - distance) / scale)
        mass = ops.maximum(upper - lower, MASS_BOUND)
        return -ops.sum(ops.log(mass), axis=1) / math.log(2.0)

    def call(self, symbols):
        """Bits per image (batch,)."""
        return self.bits(symbols)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean bits per symbol (the loss) and per image (the ``bits`` metric)."""
        bits = ops.mean(self.bits(x))
        self.trackers["loss"].update_state(bits / self.dims)
        self.trackers["bits"].update_state(bits)
        return bits / self.dims

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        """loss (bits per symbol) and bits (per image)."""
        return list(self.trackers.values())

    def coding_parameters(self, symbols: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Slice k's means and scales (batch, slice size) in float64, on the coding grid, from ``symbols[:, :bounds[k]]``.

        Only the symbols before slice k are read, so the decoder can call this with the slices it has decoded.
        """
        symbols = np.asarray(symbols, dtype=np.float64)
        scale = np.asarray(self.symbol_scale, dtype=np.float64)
        low, high = int(self.bounds[k]), int(self.bounds[k + 1])
        if symbols.ndim != 2 or symbols.shape[1] < low:
            raise ValueError(f"slice {k} needs the {low} symbols before it, got an array of shape {symbols.shape}")
        if k == 0:
            rows = (len(symbols), 1)
            loc = np.tile(np.asarray(self.first_loc, np.float64) * scale[:high], rows)
            log_scale = np.tile(np.asarray(self.first_log_scale, np.float64) + np.log(scale[:high]), rows)
        else:
            h = symbols[:, :low] / scale[:low]  # (batch, low)
            layers = self.nets[k - 1].layers
            for layer in layers:
                kernel, bias = (np.asarray(w, dtype=np.float64) for w in layer.get_weights())
                h = h @ kernel + bias
                if layer is not layers[-1]:
                    h = np.maximum(h, 0.0)
            loc, log_scale = h[:, :high - low] * scale[low:high], h[:, high - low:] + np.log(scale[low:high])
        scale_out = np.clip(np.exp(log_scale), *SCALE_BOUNDS)
        scale_out = 2.0 ** (np.round(np.log2(scale_out) / LOG2_SCALE_STEP) * LOG2_SCALE_STEP)
        return np.round(loc / LOC_STEP) * LOC_STEP, scale_out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "slices": list(self.slices), "hidden_units": self.hidden_units}


def _normal_cdf(x):
    """Standard normal cumulative distribution function."""
    return 0.5 * (1.0 + ops.erf(x / math.sqrt(2.0)))


def fit_context_model(symbols: np.ndarray, validation: np.ndarray, slices: Sequence[int], hidden_units: int = 256,
                      epochs: int = 10, seconds: float | None = None, batch_size: int = 256,
                      learning_rate: float = 1e-3, seed: int = 0) -> tuple[ContextEntropyModel, dict[str, Any]]:
    """Fit a context model on training symbols (n, d), keeping the epoch with the fewest validation bits (ch. 07).

    Stops after ``epochs`` or once ``seconds`` have passed at the end of an epoch. Returns the model and a record:
    epochs run, seconds, the validation bits per image of every epoch and of the epoch kept.
    """
    from course_utils.reproducibility import set_seed

    symbols, validation = (np.asarray(a, dtype=np.float32) for a in (symbols, validation))
    if symbols.ndim != 2 or validation.ndim != 2 or not symbols.shape[1] == validation.shape[1] == sum(slices):
        raise ValueError(f"symbols and validation must be (n, {sum(slices)}) arrays, one row of flattened latent "
                         f"symbols per image, got shapes {symbols.shape} and {validation.shape}")
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    set_seed(seed)
    model = ContextEntropyModel(slices, hidden_units, symbol_scale=np.maximum(symbols.std(axis=0), 0.5))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    best, history, start = (math.inf, None), [], time.perf_counter()
    for _ in range(int(epochs)):
        model.fit(symbols, batch_size=batch_size, epochs=1, shuffle=True, verbose=0)
        history.append(float(model.evaluate(validation, batch_size=1000, verbose=0, return_dict=True)["bits"]))
        if history[-1] < best[0]:
            best = (history[-1], model.get_weights())
        if seconds is not None and time.perf_counter() - start >= seconds:
            break
    model.set_weights(best[1])
    return model, {"epochs_run": len(history), "seconds": time.perf_counter() - start, "validation_bits": history,
                   "validation_bits_kept": best[0], "slices": list(slices), "hidden_units": int(hidden_units)}
