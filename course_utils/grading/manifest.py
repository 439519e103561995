"""The release manifest: where it lives, its format, and how the grader reads it.

``release`` writes it from ``solutions/``; ``grade`` restores check cells from it. Per notebook it
records the chapter, each check cell (id, position, canonical source and metadata) and each
exercise (id, name, title, points, cell ids).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from course_utils.exercises.core import chapter_exercises

DEFAULT_MANIFEST = Path(__file__).with_name("manifest.json")
MANIFEST_FORMAT = 2
CHECKED_METADATA = ("course", "deletable", "editable", "nbgrader")  # check-cell metadata the release fixes


def add_manifest_option(parser: argparse.ArgumentParser, role: str) -> None:
    """Add ``--manifest FILE`` (default: the packaged manifest) to a command's options."""
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, metavar="FILE",
                        help=f"{role} (default: the one packaged in course_utils/grading)")


def load_manifest(path: Path) -> dict[str, Any]:
    """Read the release manifest; ValueError with the fix when it is missing or stale."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no manifest at {path}; run `python -m course_utils release` first") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"the manifest {path} is not valid JSON ({error}); run release again") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"the manifest {path} has format {manifest.get('format')!r}, not {MANIFEST_FORMAT}; "
                         f"run release again with this version of course_utils")
    for name, entry in manifest["notebooks"].items():
        known = {exercise.id for exercise in chapter_exercises(entry["chapter"])}
        missing = [e["id"] for e in entry["exercises"] if e["id"] not in known]
        if missing:
            raise ValueError(f"the manifest's {name} lists exercises {missing} that "
                             f"course_utils/exercises/ch{entry['chapter']}.py does not define; run release again")
    return manifest
