"""Minutes per chapter: the README column and the notebook header line, written from benchmarks/results only.

``benchmarks/chapter_minutes.py`` measures each solution notebook's wall time in lab and full mode and calls
:func:`update_docs`; tests check that the README and the headers say what the results file says.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from course_utils.grading.notebook_io import atomic_write

RESULTS_NAME = "chapter_minutes.json"
MODES = ("lab", "full")
BUDGET_MINUTES = {"lab": 3, "full": 15}  # what a chapter should stay within on a 2-core CPU
MARKER = "<!-- minutes -->"  # ends the header line; at the start, markdown would take the line for raw HTML
HEADER = re.compile(r"\n*[^\n]*" + re.escape(MARKER))
COLUMN = "minutes (lab / full)"


def load_results(path: Path) -> dict[str, Any]:
    """The measured results (chapter -> mode -> entry), or an empty set when nothing was measured yet."""
    return json.loads(path.read_text(encoding="utf-8"))["chapters"] if path.is_file() else {}


def _minutes(entry: dict[str, Any] | None) -> str:
    """Minutes with one decimal, or a dash when the mode was not measured."""
    return "–" if entry is None else f"{entry['seconds'] / 60:.1f}"


def _mode_minutes(chapter: dict[str, Any], mode: str) -> str:
    entry = chapter.get(mode)
    return f"{mode} mode not measured yet" if entry is None else f"{_minutes(entry)} min in {mode} mode"


def header_line(chapter: dict[str, Any]) -> str:
    """The sentence under a notebook's title: minutes in each mode, the slowest cell, and any reason for overrun."""
    parts = [_mode_minutes(chapter, mode) for mode in MODES]
    slowest = [f"{chapter[mode]['slowest'][0]['seconds']:.0f} s in {mode}" for mode in MODES
               if chapter.get(mode) and chapter[mode]["slowest"]]
    text = f"*Time on a 2-core CPU: {', '.join(parts)}"
    if slowest:
        text += f"; slowest cell {', '.join(slowest)}"
    text += " (measured by `benchmarks/chapter_minutes.py`).*"
    over = [mode for mode in MODES if chapter.get(mode) and chapter[mode]["seconds"] > 60 * BUDGET_MINUTES[mode]]
    if over and chapter.get("why_longer"):
        text += f" {chapter['why_longer']}"
    return f"{text} {MARKER}"


def with_header(title_source: str, chapter: dict[str, Any]) -> str:
    """A title cell's source with its minutes line replaced or, the first time, added after the heading."""
    line = header_line(chapter)
    if HEADER.search(title_source):
        return HEADER.sub(lambda _: "\n\n" + line, title_source, count=1)
    heading, _, rest = title_source.partition("\n")
    return f"{heading}\n\n{line}\n{rest}"


def readme_row(row: str, chapters: dict[str, Any]) -> str:
    """One README chapter-table row with its minutes cell (added or replaced)."""
    cells = row.strip().strip("|").split("|")
    number = cells[0].strip()
    chapter = chapters.get(number, {})
    minutes = " / ".join(_minutes(chapter.get(mode)) for mode in MODES)
    return "| " + " | ".join(cell.strip() for cell in cells[:3]) + f" | {minutes} |"


def with_readme_minutes(readme: str, chapters: dict[str, Any]) -> str:
    """The README with the chapter table's minutes column written from the results."""
    lines = readme.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("| # | notebook | follows"):
            lines[index] = f"| # | notebook | follows | {COLUMN} |"
        elif line.startswith("|---|---|---"):
            lines[index] = "|---|---|---|---|"
        elif re.match(r"^\| \d{2} \| \[", line):
            lines[index] = readme_row(line, chapters)
    return "\n".join(lines)


def update_docs(root: Path, results: Path) -> list[Path]:
    """Rewrite the README's minutes column and each solution's header line from ``results``; return changed files."""
    chapters = load_results(results)
    changed = []
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = with_readme_minutes(text, chapters)
    if new != text:
        atomic_write(readme, new)
        changed.append(readme)
    for path in sorted((root / "solutions").glob("*.ipynb")):
        chapter = chapters.get(path.name[:2])
        if not chapter:
            continue
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)  # only the title cell's source changes; key order and layout stay as they were
        title = "".join(raw["cells"][0]["source"])
        source = with_header(title, chapter)
        if source != title:
            raw["cells"][0]["source"] = source.splitlines(keepends=True)
            atomic_write(path, json.dumps(raw, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    return changed
