"""What a learner's function returned, as NumPy values, or a check failure that says what was wrong."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from course_utils.exercises.core import expect


def as_array(value: Any, what: str, kinds: str = "iuf") -> np.ndarray:
    """``value`` as a NumPy array of the given dtype kinds (NumPy, a list or an eager tensor); else a failure."""
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - a symbolic tensor or an odd object: say what it is
        array = np.asarray(None)
    expect(array.dtype.kind in kinds, f"{what} returned {type(value).__name__} of {array.dtype}, not an array of "
           + ("integers" if kinds == "iu" else "numbers"))
    return array


def as_scalar(value: Any, what: str, one_number: str) -> float:
    """``value`` as a float if it is one real number (Python, NumPy or a 0-d tensor); else ``one_number`` says why."""
    array = as_array(value, what)
    expect(array.ndim == 0, f"{what} returned shape {array.shape}; {one_number}")
    return float(array)


def unchanged(before: Sequence[np.ndarray], after: Sequence[np.ndarray]) -> None:
    """Fail if the learner's function changed any of its input arrays in place."""
    expect(all(np.array_equal(a, b) for a, b in zip(before, after)),
           "the function changed its input arrays in place; the caller still needs them: compute on copies")
