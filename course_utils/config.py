"""Run mode of the course: ``COURSE_MODE=fast`` for CI and tests, ``lab`` for classrooms, ``full`` (default) for learners.

- ``fast``: small subsets, an epoch or two; every cell still runs (tests, CI).
- ``lab``: an instructor's classroom; heavy training cells load the course's pretrained checkpoints
  (``course_utils.pretrained``) instead of training, so no cell waits more than about a minute on a
  laptop CPU; exercises and small experiments use the ``lab`` budget, which defaults to the fast one.
- ``full``: the real training budget (the default for learners).
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MODES = ("fast", "lab", "full")
DEFAULT_MODE = "full"
ENV_VAR = "COURSE_MODE"
DESCRIPTIONS = {
    "fast": "fast (small subsets and an epoch or two: a quick check that every cell runs, not the real numbers)",
    "lab": ("lab (heavy models load the course's pretrained checkpoints, trained by benchmarks/pretrained.py; "
            "exercises and small experiments run for real on small budgets)"),
    "full": "full (every model trains here with the course's real budget)",
}


def _unknown_mode(value: str, source: str) -> ValueError:
    """The error for a mode that is not one of ``MODES``, listing them and how to set one."""
    return ValueError(f"{source}={value!r} is not a run mode. Use one of {', '.join(MODES)}: "
                      f"`export {ENV_VAR}=fast` for a quick run, `export {ENV_VAR}=lab` for a classroom lab with "
                      "pretrained weights, or unset it for the full course.")


def get_mode() -> str:
    """Return the run mode read from ``COURSE_MODE`` (``fast``, ``lab`` or ``full``; default ``full``)."""
    raw = os.environ.get(ENV_VAR, DEFAULT_MODE).strip().lower() or DEFAULT_MODE
    if raw not in MODES:
        raise _unknown_mode(raw, ENV_VAR)
    return raw


def is_fast() -> bool:
    """True when the course runs in fast mode (small subsets, an epoch or two)."""
    return get_mode() == "fast"


def is_lab() -> bool:
    """True in lab mode: heavy training cells load pretrained weights (``course_utils.pretrained``)."""
    return get_mode() == "lab"


def describe_mode(mode: str | None = None) -> str:
    """One line for a notebook's parameters cell: which mode it runs in and where its numbers come from."""
    mode = mode or get_mode()
    if mode not in MODES:
        raise _unknown_mode(mode, "mode")
    return f"Run mode: {DESCRIPTIONS[mode]}. Set {ENV_VAR} to one of {', '.join(MODES)} to change it."


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


def budget(*, fast: Mapping[str, Any], full: Mapping[str, Any], lab: Mapping[str, Any] | None = None,
           mode: str | None = None) -> Budget:
    """Pick a notebook's epochs and subset sizes for the run mode; every mode must set the same keys.

    Without ``lab``, lab mode uses the ``fast`` values: in a classroom the heavy models come pretrained and
    everything else runs on the small budget.
    """
    lab = fast if lab is None else lab
    for other_name, other in (("full", full), ("lab", lab)):
        if set(fast) != set(other):
            raise ValueError(f"fast and {other_name} budgets must set the same keys: "
                             f"{sorted(set(fast) ^ set(other))} differ")
    mode = mode or get_mode()
    if mode not in MODES:
        raise _unknown_mode(mode, "mode")
    return Budget(mode=mode, values=dict({"fast": fast, "lab": lab, "full": full}[mode]))
