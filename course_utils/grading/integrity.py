"""Fingerprints of what a grade depends on: the grading code, the exercise specs and the manifest.

The grader hashes them before the first kernel starts and again at the end; a difference means the
grade cannot be trusted, and the run says so. The fingerprint goes into every gradebook, so that shard
gradebooks are only merged when they were graded by the same code against the same specs.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import course_utils

PACKAGE = Path(course_utils.__file__).resolve().parent
GRADED_FOLDERS = ("grading", "exercises")


def _digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint(manifest: Path) -> dict[str, Any]:
    """Hashes of the grading code, the exercise specs and the manifest, and one hash over them all."""
    files = sorted(path for folder in GRADED_FOLDERS for path in (PACKAGE / folder).glob("*.py"))
    hashes = {path.relative_to(PACKAGE.parent).as_posix(): _digest(path) for path in files}
    hashes["manifest"] = _digest(manifest)
    overall = hashlib.sha256("".join(f"{name}={value}\n" for name, value in sorted(hashes.items())).encode())
    return {"sha256": overall.hexdigest(), "files": hashes}


def changed_files(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The files whose hash differs between two fingerprints (added or removed ones included)."""
    names = set(before["files"]) | set(after["files"])
    return sorted(name for name in names if before["files"].get(name) != after["files"].get(name))
