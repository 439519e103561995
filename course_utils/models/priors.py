"""Priors on a latent code: what an adversarial autoencoder's codes are pushed onto (chapter 09).

A prior here is something to draw codes from (``sample``, keras ops, so a ``train_step`` can call it with
a ``SeedGenerator``) and a density to evaluate (``log_density``, NumPy, for plots and checks). The mixture
prior can also be asked for codes of given classes: one component per class is how label information
enters an adversarial autoencoder's prior (Makhzani et al. 2016, section 2.3).
"""
from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops


def _seed_generator(seed):
    """A ``SeedGenerator`` as given, or a new one from an int or None (eager code only)."""
    return seed if isinstance(seed, keras.random.SeedGenerator) else keras.random.SeedGenerator(seed)


class GaussianPrior:
    """The standard normal N(0, I) in ``dim`` dimensions, the VAE's prior."""

    def __init__(self, dim: int = 2):
        if int(dim) < 1:
            raise ValueError(f"dim is the number of latent dimensions and must be at least 1, got {dim}")
        self.dim = int(dim)

    @property
    def n_components(self) -> int:
        """One component: a Gaussian prior carries no class structure."""
        return 1

    def sample(self, n, seed=None, labels=None):
        """n codes from N(0, I): (n, dim). ``labels`` are ignored (there is one component)."""
        return keras.random.normal((n, self.dim), seed=_seed_generator(seed))

    def log_prob(self, z):
        """log N(z; 0, I) per code, keras ops: (n, dim) -> (n,)."""
        return -0.5 * ops.sum(ops.square(z), axis=-1) - 0.5 * self.dim * math.log(2 * math.pi)

    def log_density(self, z) -> np.ndarray:
        """log N(z; 0, I) per code, NumPy: (n, dim) -> (n,)."""
        return np.asarray(self.log_prob(_codes(z, self.dim)))

    def get_config(self) -> dict[str, Any]:
        """The arguments that rebuild this prior."""
        return {"name": "gaussian", "dim": self.dim}


class GaussianMixturePrior:
    """``n_components`` equal-weight isotropic Gaussians with standard deviation ``std``, centred on a circle of
    ``radius`` in the first two dimensions (and at 0 in the others): a 2-D code you can see, one blob per class."""

    def __init__(self, n_components: int = 10, dim: int = 2, radius: float = 4.0, std: float = 0.5):
        if int(n_components) < 2 or int(dim) < 2 or radius <= 0 or std <= 0:
            raise ValueError(f"need n_components >= 2, dim >= 2, radius > 0 and std > 0, got {n_components}, {dim}, "
                             f"{radius} and {std}")
        self.n_components, self.dim = int(n_components), int(dim)
        self.radius, self.std = float(radius), float(std)
        angles = 2 * np.pi * np.arange(self.n_components) / self.n_components
        self.centres = np.zeros((self.n_components, self.dim), np.float32)  # (K, dim)
        self.centres[:, 0], self.centres[:, 1] = self.radius * np.cos(angles), self.radius * np.sin(angles)

    def components(self, n, seed=None, labels=None):
        """The component of each of n codes: ``labels`` where they are >= 0, uniformly random elsewhere: (n,) int32."""
        drawn = keras.random.randint((n,), 0, self.n_components, seed=_seed_generator(seed), dtype="int32")
        if labels is None:
            return drawn
        labels = ops.cast(ops.reshape(labels, (-1,)), "int32")
        return ops.where(labels >= 0, ops.minimum(labels, self.n_components - 1), drawn)

    def sample(self, n, seed=None, labels=None):
        """n codes: a component per code (its label if given and >= 0), then its centre + std * N(0, I): (n, dim)."""
        generator = _seed_generator(seed)
        chosen = self.components(n, generator, labels)  # (n,)
        centres = ops.take(ops.convert_to_tensor(self.centres), chosen, axis=0)  # (n, dim)
        return centres + self.std * keras.random.normal((n, self.dim), seed=generator)

    def log_prob(self, z):
        """log of the mixture density per code by log-sum-exp over components, keras ops: (n, dim) -> (n,)."""
        centres = ops.cast(ops.convert_to_tensor(self.centres), z.dtype if hasattr(z, "dtype") else "float32")
        squared = ops.sum(ops.square(ops.expand_dims(z, 1) - centres[None]), axis=-1)  # (n, K)
        log_each = -0.5 * squared / self.std**2 - self.dim * math.log(self.std) - 0.5 * self.dim * math.log(2 * math.pi)
        return ops.logsumexp(log_each, axis=-1) - math.log(self.n_components)

    def log_density(self, z) -> np.ndarray:
        """log of the mixture density per code, NumPy: (n, dim) -> (n,)."""
        return np.asarray(self.log_prob(_codes(z, self.dim)))

    def nearest_component(self, z) -> np.ndarray:
        """The component whose centre is nearest each code: (n, dim) -> (n,) int."""
        z = _codes(z, self.dim)
        return np.argmin(np.sum((z[:, None, :] - self.centres[None]) ** 2, axis=2), axis=1)

    def get_config(self) -> dict[str, Any]:
        """The arguments that rebuild this prior."""
        return {"name": "mixture", "n_components": self.n_components, "dim": self.dim, "radius": self.radius,
                "std": self.std}


PRIORS = {"gaussian": GaussianPrior, "mixture": GaussianMixturePrior}


def prior_from_config(config: dict[str, Any]):
    """The prior that ``get_config`` described: {"name": "gaussian" | "mixture", ...arguments}."""
    config = dict(config)
    name = config.pop("name", None)
    if name not in PRIORS:
        raise ValueError(f"unknown prior {name!r}: choose one of {sorted(PRIORS)}")
    return PRIORS[name](**config)


def _codes(z, dim: int) -> np.ndarray:
    """Codes as a float64 (n, dim) array, or a clear error."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != dim:
        raise ValueError(f"expected codes of shape (n, {dim}), got {z.shape}")
    return z


__all__ = ["PRIORS", "GaussianMixturePrior", "GaussianPrior", "prior_from_config"]
