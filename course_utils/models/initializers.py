"""ICNR: the initialiser that starts a sub-pixel (depth-to-space) upsampler free of checkerboards (chapter 03).

A sub-pixel layer is a convolution to ``s*s*C`` channels followed by ``depth_to_space``; output pixel
``(s*i + a, s*j + b)`` of channel ``c`` comes from input channel ``(a*s + b)*C + c``. With independent
random kernels the ``s*s`` phases respond differently to the same input, which draws a periodic grid.
ICNR (Aitken et al. 2017, "Checkerboard artifact free sub-pixel convolution") draws one kernel with
``C`` outputs and copies it to every phase, so at the start the layer equals a convolution followed
by nearest-neighbour upsampling: flat in, flat out.
"""
from __future__ import annotations

from typing import Any

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="course_utils")
class ICNR(keras.initializers.Initializer):
    """Kernel (k, k, in, s*s*C) whose s*s phase sub-kernels are one draw of ``initializer`` (ch. 03)."""

    def __init__(self, scale: int = 2, initializer: str | dict | keras.initializers.Initializer = "glorot_uniform"):
        if int(scale) < 1:
            raise ValueError(f"scale must be a positive integer, got {scale}")
        self.scale = int(scale)
        self.initializer = keras.initializers.get(initializer)

    def __call__(self, shape, dtype=None):
        """Draw (k, k, in, C) once and tile it s*s times along the output axis: channel n copies n mod C."""
        *window, out = (int(s) for s in shape)
        phases = self.scale ** 2
        if out % phases:
            raise ValueError(f"the last axis ({out}) must be a multiple of scale**2 = {phases}")
        base = self.initializer((*window, out // phases), dtype=dtype)  # (k, k, in, C)
        return ops.tile(base, (1,) * len(window) + (phases,))  # (k, k, in, s*s*C)

    def get_config(self) -> dict[str, Any]:
        """Scale and inner initialiser, so a saved model rebuilds the same initialiser."""
        return {"scale": self.scale, "initializer": keras.initializers.serialize(self.initializer)}
