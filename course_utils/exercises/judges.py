"""Shared judges for hidden cases: compare a probed result with the expected one, never revealing it.

A judge takes a hidden case (the keyword arguments the learner's function was called with) and the
probed outputs, and returns None when the result is right or a short reason when it is not.
``expected`` is called with the case's keyword arguments and returns the right result.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Judge = Callable[[Mapping[str, Any], Mapping[str, np.ndarray]], str | None]


def _scalar_problem(out: np.ndarray, kinds: str, what: str) -> str | None:
    """A reason unless ``out`` is one value whose dtype kind is in ``kinds`` ('iu' integers, 'f' floats)."""
    if out.shape != () or out.dtype.kind not in kinds:
        return f"returned shape {out.shape} and dtype {out.dtype}, not {what}"
    return None


def integer_judge(expected: Callable[..., int], wrong: str) -> Judge:
    """Judge a whole-number result: one integer equal to ``expected(**case)``, else the reason ``wrong``."""
    def judge(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
        out = outputs["output"]
        problem = _scalar_problem(out, "iu", "an integer")
        return problem or (None if int(out) == expected(**case) else wrong)

    return judge


def number_judge(expected: Callable[..., float], wrong: str, rtol: float) -> Judge:
    """Judge a real-number result: one integer or float within ``rtol`` of ``expected(**case)``."""
    def judge(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
        out = outputs["output"]
        problem = _scalar_problem(out, "iuf", "a number")
        return problem or (None if np.isclose(float(out), expected(**case), rtol=rtol) else wrong)

    return judge


def array_judge(expected: Callable[..., Any], wrong: str, atol: float, dtype: type | None = None,
                shape_reason: str = "shape {shape}") -> Judge:
    """Judge an array result: the expected shape (and ``dtype`` if given), values within ``atol``.

    ``shape_reason`` is formatted with the returned ``shape`` and the case's entries, e.g.
    ``"shape {shape} for input {images.shape}"``.
    """
    def judge(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
        out, want = outputs["output"], np.asarray(expected(**case))
        if out.shape != want.shape:
            return shape_reason.format(shape=out.shape, **case)
        if dtype is not None and out.dtype != dtype:
            return f"dtype {out.dtype}"
        return None if np.allclose(out, want, atol=atol) else wrong

    return judge
