"""Run mode of the course: ``COURSE_MODE=fast`` for CI and tests, ``full`` (default) for learners."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MODES = ("fast", "full")
DEFAULT_MODE = "full"
ENV_VAR = "COURSE_MODE"


def get_mode() -> str:
    """Return the run mode read from ``COURSE_MODE`` (``fast`` or ``full``; default ``full``)."""
    raw = os.environ.get(ENV_VAR, DEFAULT_MODE).strip().lower() or DEFAULT_MODE
    if raw not in MODES:
        raise ValueError(
            f"{ENV_VAR}={raw!r} is not a run mode. Use one of {', '.join(MODES)}, "
            f"e.g. `export {ENV_VAR}=fast` for a quick run or unset it for the full course."
        )
    return raw


def is_fast() -> bool:
    """True when the course runs in fast mode (small subsets, an epoch or two)."""
    return get_mode() == "fast"


@dataclass(frozen=True)
class Budget:
    """The training budget of one notebook for the current run mode (attribute access to values)."""

    mode: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(f"budget has no setting {name!r}; known: {sorted(self.values)}") from None

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"Budget(mode={self.mode!r}, {items})"


def budget(*, fast: Mapping[str, Any], full: Mapping[str, Any], mode: str | None = None) -> Budget:
    """Pick a notebook's epochs and subset sizes for the run mode; both modes must set the same keys."""
    if set(fast) != set(full):
        raise ValueError(f"fast and full budgets must set the same keys: {sorted(set(fast) ^ set(full))} differ")
    mode = mode or get_mode()
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {MODES}")
    return Budget(mode=mode, values=dict(fast if mode == "fast" else full))
