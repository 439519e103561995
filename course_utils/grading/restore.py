"""Put a submission's check cells back as released, and say what had been tampered with."""
from __future__ import annotations

import copy
from typing import Any

import nbformat
from nbformat import NotebookNode

from course_utils.grading.manifest import CHECKED_METADATA
from course_utils.grading.notebook_io import course_meta, tags
from course_utils.grading.release import RELEASED_ONLY


def _claim(cell: NotebookNode, checks: list[dict[str, Any]]) -> str | None:
    """The exercise a cell presents itself as the check of (by id, metadata, tag or exact source), else None.

    An exercise cell (by metadata or tag) is never taken for a check cell, even when it carries a check's id.
    """
    if course_meta(cell, "exercise") is not None or "exercise" in tags(cell):
        return None
    for check in checks:
        if cell.get("id") is not None and cell.get("id") == check["cell_id"]:
            return check["exercise"]
    claimed = course_meta(cell, "check")
    if claimed is not None or "check" in tags(cell):
        return str(claimed)
    for check in checks:
        if cell.get("source", "").strip() == check["source"].strip():
            return check["exercise"]
    return None


def _same(key: str, submitted: Any, released: Any) -> bool:
    """Whether a submitted check cell's metadata ``key`` is as released; nbgrader's cell_type and checksum, which
    notebooks released before they were written lack, count only when present."""
    if key == "nbgrader" and isinstance(submitted, dict) and isinstance(released, dict):
        released = {k: v for k, v in released.items() if k in submitted or k not in RELEASED_ONLY}
    return submitted == released


def _edits(cell: NotebookNode, check: dict[str, Any]) -> list[str]:
    """How a submitted check cell differs from the released one (metadata keys it lacks are not counted)."""
    found = []
    if cell.cell_type != "code":
        found.append(f"turned into a {cell.cell_type} cell")
    if cell.source != check["source"]:
        found.append("source edited")
    metadata = cell.get("metadata", {})
    changed = [key for key in CHECKED_METADATA
               if key in metadata and not _same(key, metadata[key], check["metadata"].get(key))]
    if changed:
        found.append(f"metadata edited ({', '.join(changed)})")
    return found


def _without_check_id(cell: NotebookNode, checks: list[dict[str, Any]]) -> NotebookNode:
    """The cell, or a copy with '-learner' added to its id when it carries a released check cell's id."""
    if cell.get("id") not in {check["cell_id"] for check in checks}:
        return cell
    renamed = copy.copy(cell)
    renamed["id"] = f"{cell['id']}-learner"
    return renamed


def _canonical_cell(check: dict[str, Any]) -> NotebookNode:
    """A fresh copy of a released check cell."""
    cell = nbformat.v4.new_code_cell(check["source"], metadata=copy.deepcopy(check["metadata"]))
    cell["id"] = check["cell_id"]
    return cell


def _anchor(cells: list[NotebookNode], check: dict[str, Any], exercise_ids: list[str]) -> int:
    """Where a restored check goes: after its released predecessor, else after its exercise, else at the end."""
    for index, cell in enumerate(cells):
        if check["after"] is not None and cell.get("id") == check["after"]:
            return index + 1
    positions = [index for index, cell in enumerate(cells)
                 if cell.get("id") in exercise_ids or course_meta(cell, "exercise") == check["exercise"]]
    return positions[-1] + 1 if positions else len(cells)


def restore_checks(nb: NotebookNode, entry: dict[str, Any]) -> tuple[NotebookNode, list[str]]:
    """A shallow copy of ``nb`` whose check cells are exactly the released ones, and notes on any tampering."""
    checks, notes, seen = entry["checks"], [], set()
    kept: list[NotebookNode] = []
    for index, cell in enumerate(nb.cells):
        exercise_id = _claim(cell, checks)
        if exercise_id is None:
            kept.append(_without_check_id(cell, checks))
            continue
        check = next((c for c in checks if c["exercise"] == exercise_id), None)
        if check is None:
            notes.append(f"cell {index} is marked as a check cell for {exercise_id!r}, which this notebook has not")
        elif exercise_id in seen:
            notes.append(f"check cell for {exercise_id} duplicated (cell {index})")
        else:
            notes += [f"check cell for {exercise_id}: {edit}" for edit in _edits(cell, check)]
        seen.add(exercise_id)
    exercise_cells = {e["id"]: e["cell_ids"] for e in entry["exercises"]}
    for check in checks:
        if check["exercise"] not in seen:
            notes.append(f"check cell for {check['exercise']} deleted")
        kept.insert(_anchor(kept, check, exercise_cells.get(check["exercise"], [])), _canonical_cell(check))
    restored = copy.copy(nb)
    restored["cells"] = kept
    return restored, notes
