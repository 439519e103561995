"""Build models under a Keras dtype policy (mixed precision) without changing the policy for what follows."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras

POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


@contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Layers created inside compute in ``name``'s dtype (weights stay float32 under a mixed policy); restored after.

    The policy is read when a layer is created, so build (not only train) the model inside the block. Under
    'mixed_bfloat16' the CPU runs convolutions in bfloat16, which pays off only with bfloat16 instructions
    (``course_utils.environment`` reports them).
    """
    if name not in POLICIES:
        raise ValueError(f"dtype policy must be one of {POLICIES}, got {name!r}")
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
