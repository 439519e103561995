"""Release: generate the student ``notebooks/`` and the grading manifest from ``solutions/``.

``python -m course_utils release [--check]``. Solution regions become ``# YOUR CODE HERE`` /
``raise NotImplementedError()``, hidden-test regions vanish, outputs are cleared and check cells are
locked. The manifest records each check cell's canonical source so the grader can restore it. The
nbgrader cell metadata derived from the exercise specs is also written into ``solutions/`` (metadata
only), so ``nbgrader generate_assignment`` and ``autograde`` work on the same files.
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from course_utils.exercises.core import Exercise, chapter_exercises
from course_utils.grading.manifest import CHECKED_METADATA, MANIFEST_FORMAT, add_manifest_option
from course_utils.grading.notebook_io import (
    MARKERS,
    NEAR_MARKER,
    SOLUTION,
    MarkerError,
    atomic_write,
    cell_label,
    chapter_of,
    course_meta,
    find_regions,
    json_text,
    notebook_text,
    student_source,
    tags,
)

SOLUTION_ONLY = "solution-only"  # cells with this tag (answers to questions) are left out of the student version
RELEASED_ONLY = ("cell_type", "checksum")  # nbgrader metadata of a released exercise cell, not of its solution

class ReleaseError(Exception):
    """Problems in ``solutions/`` that stop a release; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Released:
    """One solution notebook's release: the student notebook's text and its manifest entry."""

    name: str
    text: str
    entry: dict[str, Any]
    solution_text: str


def _role(cell: NotebookNode, specs: dict[str, Exercise], chapter: str) -> tuple[str | None, str | None]:
    """Whether a code cell is an 'exercise' or 'check' cell, and for which exercise; ValueError if inconsistent."""
    roles = []
    for role in ("exercise", "check"):
        exercise_id, tagged = course_meta(cell, role), role in tags(cell)
        if bool(exercise_id) != tagged:
            raise ValueError(f"a {role} cell needs both the tag {role!r} and metadata "
                             f'{{"course": {{"{role}": "{chapter}.N"}}}}; add the missing one')
        if exercise_id:
            roles.append((role, str(exercise_id)))
    if len(roles) > 1:
        raise ValueError("a cell cannot be both an exercise cell and a check cell; split it in two")
    if roles and roles[0][1] not in specs:
        known = ", ".join(specs) or "none"
        raise ValueError(f"exercise id {roles[0][1]!r} is not in EXERCISES of course_utils/exercises/ch{chapter}.py "
                         f"(known: {known}); fix the id or add the exercise spec")
    return roles[0] if roles else (None, None)


def _validate_regions(role: str | None, exercise_id: str | None, cell: NotebookNode, solutions: int) -> None:
    """Exercise cells need a solution region, check cells none, and a check cell must check its own id."""
    if role == "exercise" and not solutions:
        raise ValueError(f"exercise cell for {exercise_id} has no '### BEGIN SOLUTION' region, so students "
                         f"would receive the solution; mark the part they write")
    if role == "check" and solutions:
        raise ValueError(f"check cell for {exercise_id} contains a solution region; check cells are locked")
    if role == "check" and not re.search(rf"""check\(\s*["']{re.escape(exercise_id)}["']""", cell.source):
        raise ValueError(f"check cell for {exercise_id} does not call check({exercise_id!r}, globals())")


def nbgrader_metadata(role: str, exercise_id: str, points: int, serial: int = 0) -> dict[str, Any]:
    """nbgrader's cell metadata (schema 3) of an exercise cell (a solution cell) or a check cell (autograder tests).

    The ``grade_id`` comes from the role and exercise id (``check_00_1``); the ``serial``-th further cell of the
    same exercise gets a suffix (``exercise_00_1_2``), since nbgrader needs the ids unique within a notebook.
    """
    grade_id = f"{role}_{exercise_id.replace('.', '_')}" + (f"_{serial + 1}" if serial else "")
    nbgrader = {"grade": role == "check", "grade_id": grade_id, "locked": role == "check",
                "schema_version": 3, "solution": role == "exercise", "task": False}
    if role == "check":
        nbgrader["points"] = points
    return nbgrader


def nbgrader_checksum(source: str, nbgrader: dict[str, Any]) -> str:
    """The checksum nbgrader's generate_assignment gives a released code cell (``nbgrader.utils.compute_checksum``)."""
    parts = [source, "code", str(nbgrader["grade"]), str(nbgrader["solution"]),
             str(not nbgrader["solution"] and (nbgrader["grade"] or nbgrader["locked"])), nbgrader["grade_id"]]
    if nbgrader["grade"]:
        parts.append(str(float(nbgrader["points"])))
    digest = hashlib.md5(usedforsecurity=False)
    for part in parts:
        digest.update(part.encode("utf-8"))
    return digest.hexdigest()


def _lock_metadata(cell: NotebookNode, role: str, exercise_id: str, points: int, serial: int) -> None:
    """Add the read-only flags and nbgrader metadata of a released exercise or check cell, as nbgrader would."""
    cell.metadata["deletable"] = False
    if role == "check":
        cell.metadata["editable"] = False
    nbgrader = nbgrader_metadata(role, exercise_id, points, serial)
    cell.metadata["nbgrader"] = {**nbgrader, "cell_type": "code", "checksum": nbgrader_checksum(cell.source, nbgrader)}


def _set_nbgrader(metadata: dict[str, Any], value: dict[str, Any] | None) -> None:
    """Set (or, for None, remove) a raw cell's nbgrader metadata, keeping sorted metadata keys sorted."""
    was_sorted = list(metadata) == sorted(metadata)
    metadata.pop("nbgrader", None)
    if value is not None:
        metadata["nbgrader"] = dict(sorted(value.items()))
    if was_sorted:
        items = sorted(metadata.items())
        metadata.clear()
        metadata.update(items)


def solution_text(text: str, nbgrader: dict[str, dict[str, Any]]) -> str:
    """A solution notebook's text with its cells' nbgrader metadata (by cell id) set, stale entries removed.

    Only metadata changes: the raw JSON keeps its key order and is written with the one-space indent that
    Jupyter and nbformat use, so sources and outputs stay byte for byte as they were.
    """
    raw = json.loads(text)
    for cell in raw["cells"]:
        _set_nbgrader(cell.setdefault("metadata", {}), nbgrader.get(cell.get("id")))
    return json.dumps(raw, indent=1, ensure_ascii=False) + "\n"


def _solution_nbgrader(released: dict[str, Any]) -> dict[str, Any]:
    """A released cell's nbgrader metadata as its solution cell carries it.

    A check cell is released unchanged, so it keeps everything (the course's grader and ``nbgrader validate``
    then accept the solution as it is); an exercise cell drops the checksum and cell type of its released stub.
    """
    if released["locked"]:
        return released
    return {key: value for key, value in released.items() if key not in RELEASED_ONLY}


def _has_marker(source: str) -> bool:
    """True when any line of a (markdown or raw) source is or looks like a solution/hidden-test marker."""
    return any(line.strip() in MARKERS or NEAR_MARKER.search(line) for line in source.split("\n"))


def _student_cell(cell: NotebookNode, specs: dict[str, Exercise], chapter: str,
                  serials: dict[str, int]) -> tuple[str | None, str | None]:
    """Turn one solution cell into its student version in place; return its role and exercise id."""
    cell.metadata.pop("nbgrader", None)  # only exercise and check cells are nbgrader cells, as the specs say
    if cell.cell_type != "code":
        if _has_marker(cell.source):
            raise ValueError(f"solution/hidden-test marker in a {cell.cell_type} cell; markers only work in code cells")
        if course_meta(cell, "exercise") or course_meta(cell, "check"):
            raise ValueError(f"a {cell.cell_type} cell cannot be an exercise or check cell; make it a code cell")
        return None, None
    regions = find_regions(cell.source)
    role, exercise_id = _role(cell, specs, chapter)
    _validate_regions(role, exercise_id, cell, sum(region.kind == SOLUTION for region in regions))
    cell.source = student_source(cell.source, regions)
    cell.outputs, cell.execution_count = [], None
    cell.metadata.pop("execution", None)
    if role:
        serial = serials.get(f"{role}:{exercise_id}", 0)
        serials[f"{role}:{exercise_id}"] = serial + 1
        _lock_metadata(cell, role, exercise_id, specs[exercise_id].points, serial)
    return role, exercise_id


def _check_ids(nb: NotebookNode, path: Path) -> list[str]:
    """Problems with cell ids: solutions must be nbformat 4.5 with unique ids (the manifest refers to them)."""
    ids = [cell.get("id") for cell in nb.cells]
    if nb.nbformat_minor < 5 or not all(ids):
        return [(f"{path}: cells have no ids; save it as nbformat 4.5 (JupyterLab 4 does) or run "
                 f"nbformat.validator.normalize on it")]
    problems, seen = [], set()
    for index, cell in enumerate(nb.cells):
        if cell.id in seen:
            problems.append(f"{path}, {cell_label(index, cell)}: duplicate cell id; give each cell its own id")
        seen.add(cell.id)
    return problems


def _manifest_entry(student: NotebookNode, chapter: str, roles: list[tuple[str | None, str | None]],
                    specs: dict[str, Exercise], path: Path) -> tuple[dict[str, Any], list[str]]:
    """The manifest entry of a released notebook, and problems with how checks and exercises pair up."""
    problems: list[str] = []
    cell_ids: dict[str, list[str]] = {}
    checks: list[dict[str, Any]] = []
    for index, (cell, (role, exercise_id)) in enumerate(zip(student.cells, roles)):
        if role == "exercise":
            cell_ids.setdefault(exercise_id, []).append(cell.id)
        elif role == "check" and any(check["exercise"] == exercise_id for check in checks):
            problems.append(f"{path}, {cell_label(index, cell)}: a second check cell for {exercise_id}; keep one")
        elif role == "check":
            checks.append(_check_entry(student, index, exercise_id, specs[exercise_id]))
    for check in checks:
        if check["exercise"] not in cell_ids:
            problems.append(f"{path}, cell {check['index']} (id {check['cell_id']!r}): check cell for "
                            f"{check['exercise']} has no exercise cell; add one tagged 'exercise'")
    for exercise_id, ids in cell_ids.items():
        if not any(check["exercise"] == exercise_id for check in checks):
            problems.append(f"{path}, cell id {ids[0]!r}: exercise {exercise_id} has no check cell; add one "
                            f"tagged 'check' with source like `name = check({exercise_id!r}, globals())`")
    exercises = [{"cell_ids": cell_ids[e.id], "id": e.id, "name": e.name, "points": e.points, "title": e.title}
                 for e in specs.values() if e.id in cell_ids]
    entry = {"chapter": chapter, "checks": checks, "exercises": exercises,
             "max_points": sum(e["points"] for e in exercises)}
    return entry, problems


def _check_entry(student: NotebookNode, index: int, exercise_id: str, spec: Exercise) -> dict[str, Any]:
    """Everything the grader needs to recognise and restore one check cell."""
    cell = student.cells[index]
    metadata = {key: copy.deepcopy(cell.metadata[key]) for key in CHECKED_METADATA if key in cell.metadata}
    return {"after": student.cells[index - 1].id if index else None, "cell_id": cell.id, "exercise": exercise_id,
            "index": index, "metadata": {**metadata, "tags": list(tags(cell))}, "name": spec.name,
            "points": spec.points, "source": cell.source}


def release_notebook(path: Path) -> Released:
    """Build the student version and manifest entry of one solution notebook; ReleaseError lists all problems."""
    chapter = chapter_of(path.name)
    if chapter is None:
        raise ReleaseError([f"{path}: the file name must start with a two-digit chapter number, like 00_setup.ipynb"])
    try:
        text = path.read_text(encoding="utf-8")
        solution = nbformat.reads(text, as_version=4)
    except Exception as error:  # noqa: BLE001 (nbformat raises several kinds for unreadable files)
        raise ReleaseError([f"{path}: cannot be read as a notebook: {error}"]) from None
    problems = _check_ids(solution, path)
    specs = {exercise.id: exercise for exercise in chapter_exercises(chapter)}
    student, roles, serials = copy.deepcopy(solution), [], {}
    student.cells = [cell for cell in student.cells if SOLUTION_ONLY not in tags(cell)]  # e.g. answers to questions
    for index, cell in enumerate(student.cells):
        try:
            roles.append(_student_cell(cell, specs, chapter, serials))
        except (MarkerError, ValueError) as error:
            problems.append(f"{path}, {cell_label(index, cell)}: {error}")
            roles.append((None, None))
    entry, pairing = _manifest_entry(student, chapter, roles, specs, path)
    if problems or pairing:
        raise ReleaseError(problems + pairing)
    nbgrader = {cell.id: _solution_nbgrader(cell.metadata["nbgrader"]) for cell in student.cells
                if "nbgrader" in cell.metadata}
    return Released(path.name, notebook_text(student), entry, solution_text(text, nbgrader))


def _uncovered_exercises(released: list[Released]) -> list[str]:
    """Exercise specs of a released chapter that no notebook of that chapter contains."""
    problems = []
    for chapter in sorted({item.entry["chapter"] for item in released}):
        covered = {e["id"] for item in released if item.entry["chapter"] == chapter for e in item.entry["exercises"]}
        for exercise in chapter_exercises(chapter):
            if exercise.id not in covered:
                problems.append(f"course_utils/exercises/ch{chapter}.py: exercise {exercise.id} ({exercise.name}) "
                                f"has no exercise cell in any solutions/{chapter}_*.ipynb; add one or remove the spec")
    return problems


def build_release(solutions: Path) -> tuple[dict[str, str], str, dict[str, str]]:
    """The student notebooks (file name -> text), manifest text and solution notebooks with their nbgrader metadata."""
    if not solutions.is_dir():
        raise ReleaseError([f"{solutions}: no such folder; pass --solutions DIR"])
    released, problems = [], []
    for path in sorted(solutions.glob("*.ipynb")):
        try:
            released.append(release_notebook(path))
        except ReleaseError as error:
            problems += error.problems
    problems += _uncovered_exercises(released)
    if problems:
        raise ReleaseError(problems)
    manifest = {"format": MANIFEST_FORMAT, "generator": "python -m course_utils release",
                "notebooks": {item.name: item.entry for item in released}}
    return ({item.name: item.text for item in released}, json_text(manifest),
            {item.name: item.solution_text for item in released})


def _read_text(path: Path) -> str | None:
    """A file's text, or None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def differences(solutions: Path, notebooks: Path, manifest: Path) -> list[str]:
    """What differs between the files on disk and a fresh release (empty when in sync); writes nothing."""
    texts, manifest_text, solution_texts = build_release(solutions)
    found = [f"{solutions / name}: nbgrader metadata differs from what the exercise specs give (or the JSON layout "
             f"is not Jupyter's one-space indent)"
             for name, text in solution_texts.items() if _read_text(solutions / name) != text]
    found += [f"{notebooks / name}: {'missing' if _read_text(notebooks / name) is None else 'differs'}"
              for name, text in texts.items() if _read_text(notebooks / name) != text]
    found += [f"{path}: has no twin in {solutions}" for path in _strays(notebooks, texts)]
    if _read_text(manifest) != manifest_text:
        found.append(f"{manifest}: {'missing' if _read_text(manifest) is None else 'differs'}")
    return found


def _strays(notebooks: Path, texts: dict[str, str]) -> list[Path]:
    """Notebooks in ``notebooks/`` that a release would not generate."""
    return sorted(path for path in notebooks.glob("*.ipynb") if path.name not in texts)


def release(solutions: Path, notebooks: Path, manifest: Path) -> list[Path]:
    """Generate ``notebooks/`` and the manifest, update the solutions' nbgrader metadata; return the changed files."""
    texts, manifest_text, solution_texts = build_release(solutions)
    strays = _strays(notebooks, texts)
    if strays:
        raise ReleaseError([f"{path}: not generated from {solutions} (no twin there); move it out of {notebooks} "
                            f"so it is not lost, then release again" for path in strays])
    targets = ({solutions / name: text for name, text in solution_texts.items()}
               | {notebooks / name: text for name, text in texts.items()} | {manifest: manifest_text})
    changed = [path for path, text in targets.items() if _read_text(path) != text]
    for path in changed:
        atomic_write(path, targets[path])
    return changed


def _parser() -> argparse.ArgumentParser:
    """Command-line options of ``release``."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils release",
        description="Generate the student notebooks from the solution notebooks: solution regions become "
                    "'# YOUR CODE HERE' + 'raise NotImplementedError()', hidden tests are removed, outputs "
                    "cleared, check cells locked. Also writes the grading manifest and the nbgrader cell "
                    "metadata of the solution notebooks (metadata only).",
        epilog="Run it after every change to solutions/ or to course_utils/exercises/chNN.py; "
               "CI runs it with --check.")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 and list the files that differ from a fresh release")
    parser.add_argument("--solutions", type=Path, default=Path("solutions"), metavar="DIR",
                        help="folder of solution notebooks (default: solutions)")
    parser.add_argument("--notebooks", type=Path, default=Path("notebooks"), metavar="DIR",
                        help="folder of generated student notebooks (default: notebooks)")
    add_manifest_option(parser, "grading manifest to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``release``; 0 on success (or no drift with --check), 1 on problems or drift."""
    args = _parser().parse_args(argv)
    try:
        if args.check:
            found = differences(args.solutions, args.notebooks, args.manifest)
            for line in found:
                print(line, file=sys.stderr)
            if found:
                print("Out of date: run `python -m course_utils release` and commit the result.", file=sys.stderr)
            return 1 if found else 0
        changed = release(args.solutions, args.notebooks, args.manifest)
    except ReleaseError as error:
        print("release failed:\n  " + "\n  ".join(error.problems), file=sys.stderr)
        return 1
    print("\n".join(f"wrote {path}" for path in changed) or "everything is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
