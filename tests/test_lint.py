"""Lint: ruff, with pyproject.toml's settings, finds nothing in the package, the tests, the benchmarks and course.py."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINTED = ["course_utils", "tests", "benchmarks", "course.py"]


def test_ruff_finds_nothing():
    command = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format=concise", *LINTED]
    result = subprocess.run(command, cwd=ROOT, check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"ruff's findings (`ruff check --fix` repairs some):\n{result.stdout}{result.stderr}"
