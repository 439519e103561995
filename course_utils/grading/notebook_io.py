"""Notebook plumbing shared by release and grader: safe reading, cell metadata, solution markers, atomic writes."""
from __future__ import annotations

import json
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

SOLUTION = "solution"
HIDDEN = "hidden tests"
MARKERS = {
    "### BEGIN SOLUTION": (SOLUTION, True),
    "### END SOLUTION": (SOLUTION, False),
    "### BEGIN HIDDEN TESTS": (HIDDEN, True),
    "### END HIDDEN TESTS": (HIDDEN, False),
}
NEAR_MARKER = re.compile(r"#.*\b(BEGIN|END)\s+(SOLUTION|HIDDEN\s+TESTS)\b", re.IGNORECASE)
CHAPTER_PREFIX = re.compile(r"^(\d{2})(?!\d)")
STUDENT_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
MAX_NOTEBOOK_BYTES = 100 * 2**20
UMASK = os.umask(0o022)  # read once, at import (umask can only be read by setting it) ...
os.umask(UMASK)  # ... and restored at once


class InvalidNotebook(ValueError):
    """A file that cannot be read as a Jupyter notebook; the message says why, for a gradebook row."""


class MarkerError(ValueError):
    """Solution or hidden-test markers that do not pair up; the message names the line."""


@dataclass(frozen=True)
class Region:
    """A marked region of a cell: its kind, first and last line (0-based, inclusive) and indentation."""

    kind: str
    begin: int
    end: int
    indent: str


def chapter_of(filename: str) -> str | None:
    """The two-digit chapter prefix of a file name ('00_setup.ipynb' -> '00'), or None."""
    match = CHAPTER_PREFIX.match(Path(filename).name)
    return match.group(1) if match else None


def tags(cell: NotebookNode) -> list[str]:
    """The cell's tags (empty list when it has none or they are malformed)."""
    value = cell.get("metadata", {}).get("tags", [])
    return [tag for tag in value if isinstance(tag, str)] if isinstance(value, list) else []


def course_meta(cell: NotebookNode, key: str) -> Any:
    """A value from the cell's ``metadata.course`` (e.g. 'exercise' or 'check'), or None."""
    course = cell.get("metadata", {}).get("course", {})
    return course.get(key) if isinstance(course, dict) else None


def cell_label(index: int, cell: NotebookNode) -> str:
    """How messages name a cell: 'cell 5 (id 'abc')'."""
    return f"cell {index} (id {cell.get('id', '?')!r})"


def find_regions(source: str) -> list[Region]:
    """Parse the marker lines of a cell source; raise MarkerError when they are malformed."""
    regions: list[Region] = []
    opened: tuple[str, int, str] | None = None
    for number, line in enumerate(source.split("\n")):
        marker = MARKERS.get(line.strip())
        if marker is None:
            if NEAR_MARKER.search(line):
                raise MarkerError(f"line {number + 1} {line.strip()!r} looks like a marker but is not exactly one of "
                                  f"{', '.join(MARKERS)} (alone on its line)")
            continue
        kind, is_begin = marker
        if is_begin and opened:
            raise MarkerError(f"line {number + 1}: {line.strip()!r} inside the {opened[0]} region opened on line "
                              f"{opened[1] + 1}; regions cannot be nested, close the first one before")
        if not is_begin and (opened is None or opened[0] != kind):
            raise MarkerError(f"line {number + 1}: {line.strip()!r} without a matching '### BEGIN {kind.upper()}'")
        if is_begin:
            opened = (kind, number, line[: len(line) - len(line.lstrip())])
        else:
            regions.append(Region(kind, opened[1], number, opened[2]))
            opened = None
    if opened:
        raise MarkerError(f"line {opened[1] + 1}: '### BEGIN {opened[0].upper()}' is never closed; "
                          f"add '### END {opened[0].upper()}' after the region")
    return regions


def student_source(source: str, regions: list[Region]) -> str:
    """The student version of a source: solutions become the nbgrader stub, hidden tests vanish."""
    lines = source.split("\n")
    out: list[str] = []
    position = 0
    for region in regions:
        out += lines[position:region.begin]
        if region.kind == SOLUTION:
            out += [region.indent + stub for stub in STUDENT_STUB]
        position = region.end + 1
    text = "\n".join(out + lines[position:])
    if any(region.kind == HIDDEN for region in regions):  # no blank tail where hidden tests were cut
        text = text.rstrip("\n") + ("\n" if source.endswith("\n") else "")
    return text


def read_notebook_bytes(data: bytes) -> NotebookNode:
    """Parse submitted bytes as an nbformat-4 notebook; raise InvalidNotebook with a readable reason."""
    if not data.strip():
        raise InvalidNotebook("the file is empty")
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise InvalidNotebook(f"the file is {len(data) / 2**20:.0f} MiB, larger than a notebook can sensibly be "
                              f"({MAX_NOTEBOOK_BYTES // 2**20} MiB); clear the outputs and submit again")
    if b"\x00" in data:
        raise InvalidNotebook("the file holds binary data, not a notebook (it is not text)")
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise InvalidNotebook("the file is not UTF-8 text, so it is not a notebook") from None
    except json.JSONDecodeError as error:
        raise InvalidNotebook(f"the file is not valid JSON (line {error.lineno}, column {error.colno}: "
                              f"{error.msg}); it may have been cut off or edited by hand") from None
    return _notebook_from_json(raw)


def _notebook_from_json(raw: Any) -> NotebookNode:
    """Check the notebook structure of parsed JSON and convert it to an nbformat-4 node."""
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise InvalidNotebook("the file is JSON but not a Jupyter notebook (it has no 'nbformat' field)")
    version = raw.get("nbformat")
    if not isinstance(version, int) or version < 4:
        raise InvalidNotebook(f"notebook format {version!r} is not supported (it must be 4); open the file in "
                              f"a current Jupyter and save it again")
    if version > 4:
        raise InvalidNotebook(f"notebook format {version} is newer than this grader understands (4)")
    cells = raw.get("cells")
    if not isinstance(cells, list) or not all(_plausible_cell(cell) for cell in cells):
        raise InvalidNotebook("the notebook's cells are malformed (each needs a cell_type and a text source)")
    try:
        with warnings.catch_warnings():  # nbformat warns while it repairs e.g. duplicate cell ids
            warnings.simplefilter("ignore")
            return nbformat.reads(json.dumps(raw), as_version=4)
    except Exception as error:  # noqa: BLE001 (nbformat's own conversion errors vary by version)
        raise InvalidNotebook(f"nbformat cannot read the notebook: {type(error).__name__}: {error}") from None


def _plausible_cell(cell: Any) -> bool:
    """True when a raw cell has a known type and a string (or list of strings) source."""
    if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
        return False
    source = cell.get("source", "")
    return isinstance(source, str) or isinstance(source, list) and all(isinstance(s, str) for s in source)


def notebook_text(nb: NotebookNode) -> str:
    """Deterministic serialisation of a notebook (sorted keys, one-space indent, final newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def json_text(data: Any) -> str:
    """Deterministic JSON text (sorted keys, one-space indent, UTF-8, final newline)."""
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def _file_mode(path: Path) -> int:
    """The mode a rewritten file should get: the existing file's, else 0o666 less the umask."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        return 0o666 & ~UMASK


def atomic_write(path: Path, text: str) -> None:
    """Write text to a temporary file next to ``path`` and move it into place (keeping normal permissions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(temporary, _file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
