"""Reference numbers from the course's benchmarks, for a notebook to print beside the learner's own.

The benchmark scripts in ``benchmarks/`` write ``benchmarks/results/<name>.json``; notebooks read a
value with ``reference_value`` and print it with ``compare_with_reference``, which says where it came
from. Outside a source checkout (a wheel install) there are no results: the functions say so.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parents[2] / "benchmarks" / "results"


def reference_value(benchmark: str, path: Sequence[str | int], results_dir: Path = RESULTS_DIR) -> Any:
    """The value at ``path`` (keys and list indices) in ``benchmarks/results/<benchmark>.json``, or None if absent."""
    try:
        value: Any = json.loads((results_dir / f"{benchmark}.json").read_text(encoding="utf-8"))
        for key in path:
            value = value[key]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    return value


def compare_with_reference(label: str, yours: float, benchmark: str, path: Sequence[str | int],
                           unit: str = "", results_dir: Path = RESULTS_DIR) -> str:
    """One line with the learner's number and the benchmark's, naming the file it came from; printed and returned."""
    reference = reference_value(benchmark, path, results_dir)
    source = f"benchmarks/results/{benchmark}.json"
    if reference is None:
        line = f"{label}: yours {yours:.5g}{unit}; no reference in {source} (run benchmarks/{benchmark}.py)"
    else:
        line = f"{label}: yours {yours:.5g}{unit}, reference {float(reference):.5g}{unit} ({source})"
    print(line)
    return line
