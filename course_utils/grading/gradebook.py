"""Gradebook rows, their CSV and JSON files, and the per-student feedback in Markdown."""
from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from course_utils.grading.notebook_io import atomic_write, json_text

CSV_FILE, JSON_FILE, FEEDBACK_DIR = "gradebook.csv", "gradebook.json", "feedback"
HASH_DIGITS, MAX_NAME_BYTES = 8, 255


@dataclass
class ExerciseResult:
    """One exercise of one submission: points earned and the judge's short reason when it failed."""

    id: str
    title: str
    max_points: int
    points: int = 0
    reason: str = ""
    hint: str = ""


@dataclass
class Row:
    """One submission in the gradebook."""

    submission: str
    path: str
    status: str
    grader_version: str
    chapter: str | None = None
    notebook: str | None = None
    tampered: bool = False
    reason: str = ""
    duration_s: float = 0.0
    exercises: list[ExerciseResult] = field(default_factory=list)
    tamper_notes: list[str] = field(default_factory=list)
    cell_errors: list[dict[str, Any]] = field(default_factory=list)
    review: list[str] = field(default_factory=list)
    sandboxed: bool = False
    sha256: str = ""

    @property
    def total(self) -> int:
        """Points earned."""
        return sum(result.points for result in self.exercises)

    @property
    def max_points(self) -> int:
        """Points available."""
        return sum(result.max_points for result in self.exercises)

    def summary_reason(self) -> str:
        """The status reason and tampering notes on one line (for the CSV)."""
        parts = [self.reason] if self.reason else []
        parts += [f"tampered: {note}" for note in self.tamper_notes]
        return "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        """The row as JSON-ready data, with per-exercise points and totals."""
        data = asdict(self)
        data.update(total=self.total, max=self.max_points,
                    points={result.id: result.points for result in self.exercises})
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        """A row back from :meth:`as_json` (journal, shard gradebooks); KeyError or TypeError when malformed."""
        names = {f.name for f in dataclasses.fields(cls)}
        row = cls(**{key: value for key, value in data.items() if key in names})
        row.exercises = [ExerciseResult(**result) for result in data["exercises"]]
        return row


def feedback_name(submission: str) -> str:
    """The feedback file of a submission: its path made flat and safe, plus a hash of the full path.

    'alice/00_x.ipynb' -> 'alice__00_x-<8 hex digits>.md'. Letters and digits of any script are kept,
    other characters become '_', so names that would look alike stay apart by the hash.
    """
    stem = unicodedata.normalize("NFC", re.sub(r"\.ipynb$", "", submission.strip("/")))
    safe = re.sub(r"[^\w.-]+", "_", stem.replace("/", "__")).lstrip(".")
    suffix = f"-{hashlib.sha256(submission.encode('utf-8')).hexdigest()[:HASH_DIGITS]}.md"
    limit = MAX_NAME_BYTES - len(suffix)  # file systems allow 255 bytes per name; CJK letters take 3 each
    return safe.encode("utf-8")[:limit].decode("utf-8", "ignore") + suffix


def csv_text(rows: list[Row]) -> str:
    """The gradebook as CSV: one row per submission, one column per exercise."""
    exercise_ids = sorted({result.id for row in rows for result in row.exercises})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["submission", "chapter", "status", "tampered", "total", "max", *exercise_ids,
                     "reason", "review", "sandboxed", "duration_s", "grader_version"])
    for row in rows:
        points = {result.id: result.points for result in row.exercises}
        writer.writerow([row.submission, row.chapter or "", row.status, str(row.tampered).lower(), row.total,
                         row.max_points, *[points.get(i, "") for i in exercise_ids], row.summary_reason(),
                         "; ".join(row.review), str(row.sandboxed).lower(), f"{row.duration_s:.1f}",
                         row.grader_version])
    return buffer.getvalue()


def _cell(text: str) -> str:
    """Text made safe for a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def feedback_text(row: Row) -> str:
    """Per-student feedback: per exercise passed or not yet, with the judge's reason, never the answer."""
    lines = [f"# Feedback on `{row.submission}`", "",
             f"Chapter {row.chapter or '?'} · score **{row.total} / {row.max_points}** · status: {row.status}", ""]
    if row.exercises:
        lines += ["| Exercise | Result | Points |", "|---|---|---|"]
        lines += [f"| {r.id} {_cell(r.title)} | {'passed' if r.points else 'not yet: ' + _cell(r.reason)} "
                  f"| {r.points} / {r.max_points} |" for r in row.exercises]
        lines.append("")
    hints = [f"- {r.id}: {r.hint}" for r in row.exercises if not r.points and r.hint]
    if hints:
        lines += ["Hints:", *hints, ""]
    if row.reason:
        lines += [f"Note: {row.reason}", ""]
    if row.tampered:
        lines += [("Note: check cells in your notebook had been changed or removed "
                   f"({'; '.join(row.tamper_notes)}). The grader used the original checks."), ""]
    return "\n".join(lines)


def write_gradebook(rows: list[Row], out: Path) -> list[Path]:
    """Write gradebook.csv, gradebook.json and feedback/*.md atomically; return the gradebook paths."""
    rows = sorted(rows, key=lambda row: row.submission)
    atomic_write(out / CSV_FILE, csv_text(rows))
    atomic_write(out / JSON_FILE, json_text([row.as_json() for row in rows]))
    for row in rows:
        atomic_write(out / FEEDBACK_DIR / feedback_name(row.submission), feedback_text(row))
    return [out / CSV_FILE, out / JSON_FILE, out / FEEDBACK_DIR]
