"""The grading journal: each row is appended (and synced) the moment its submission is graded.

A run that is killed part-way leaves ``journal.jsonl`` in the output folder; running the same command
again reuses the rows of submissions whose bytes are unchanged, as long as the journal's header (grading
code fingerprint, shard, chapter, limits) matches, and grades only the rest.
"""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from course_utils.grading.gradebook import Row

JOURNAL_FILE = "journal.jsonl"


class Journal:
    """An append-only file of gradebook rows under a header that says what they were graded with."""

    def __init__(self, out: Path, header: dict[str, Any]) -> None:
        self.path, self.header, self.lock = out / JOURNAL_FILE, header, threading.Lock()

    def resume(self) -> dict[tuple[str, str], Row]:
        """Rows of an earlier run with the same header, keyed by (submission, sha256); {} when there are none."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return {}
        rows: dict[tuple[str, str], Row] = {}
        if not lines or _parse(lines[0]) != {"header": self.header}:
            return {}
        for line in lines[1:]:
            try:
                row = Row.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short when the run was killed
            rows[(row.submission, row.sha256)] = row
        return rows

    def start(self, kept: list[Row]) -> None:
        """Begin the journal afresh with the header and the rows kept from an earlier run."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(item, ensure_ascii=False) + "\n"
                       for item in [{"header": self.header}, *(row.as_json() for row in kept)])
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.path)

    def append(self, row: Row) -> None:
        """Add one row and push it to disk."""
        with self.lock, open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(row.as_json(), ensure_ascii=False) + "\n")
            stream.flush()
            os.fsync(stream.fileno())


def _parse(line: str) -> Any:
    """JSON of one line, None when it is not JSON."""
    try:
        return json.loads(line)
    except ValueError:
        return None
