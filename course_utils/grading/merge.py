"""Merge the gradebooks of shards: ``python -m course_utils merge SHARD_DIR ... --out DIR``.

Each shard folder comes from ``grade --shard K/N``. The shards must have been graded by the same grading
code, specs and manifest (their run.json fingerprints agree), cover every share once, and share no
submission; the merged folder then holds the same gradebook a single run would have written.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from course_utils.grading.gradebook import JSON_FILE, Row, write_gradebook
from course_utils.grading.grader import RUN_FILE, parse_shard
from course_utils.grading.notebook_io import atomic_write, json_text


def read_shard(folder: Path) -> tuple[dict[str, Any], list[Row]]:
    """A shard's run.json and rows; ValueError naming the folder when they are missing or malformed."""
    try:
        run = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
        rows = [Row.from_json(data) for data in json.loads((folder / JSON_FILE).read_text(encoding="utf-8"))]
    except FileNotFoundError as error:
        raise ValueError(f"{folder}: no {Path(error.filename).name}; is it the --out folder of a finished "
                         f"`grade --shard` run?") from None
    except (ValueError, KeyError, TypeError) as error:
        raise ValueError(f"{folder}: the gradebook cannot be read ({type(error).__name__}: {error})") from None
    return run, rows


def merge_runs(shards: list[tuple[dict[str, Any], list[Row]]]) -> tuple[dict[str, Any], list[Row]]:
    """One run record and the rows of all shards; ValueError when they do not belong together."""
    fingerprints = {run["fingerprint"]["sha256"] for run, _ in shards}
    if len(fingerprints) != 1:
        raise ValueError("the shards were graded with different grading code, specs or manifests; grade them "
                         "all with the same version")
    parsed = [parse_shard(run["shard"]) for run, _ in shards]
    counts = {shard[1] if shard else 1 for shard in parsed}
    numbers = sorted(shard[0] if shard else 1 for shard in parsed)
    if len(counts) != 1 or numbers != list(range(1, counts.pop() + 1)):
        raise ValueError(f"the shards do not cover every share once (got {[run['shard'] for run, _ in shards]})")
    rows, seen = [], set()
    for _, shard_rows in shards:
        for row in shard_rows:
            if row.submission in seen:
                raise ValueError(f"{row.submission} appears in more than one shard")
            seen.add(row.submission)
            rows.append(row)
    first = shards[0][0]
    run = {"fingerprint": first["fingerprint"], "shard": None, "merged_from": [run["shard"] for run, _ in shards],
           "sandboxed": all(run["sandboxed"] for run, _ in shards),
           "submissions": {key: value for run, _ in shards for key, value in run["submissions"].items()},
           "problems": [problem for run, _ in shards for problem in run["problems"]],
           "grader_version": first["grader_version"]}
    return run, rows


def main(argv: list[str] | None = None) -> int:
    """Run ``merge``; 0 when the merged gradebook was written, 1 when a shard reported problems, 2 on errors."""
    parser = argparse.ArgumentParser(prog="python -m course_utils merge",
                                     description="Merge the --out folders of `grade --shard K/N` runs into one "
                                                 "gradebook (CSV, JSON, run.json, feedback).")
    parser.add_argument("shards", nargs="+", type=Path, metavar="SHARD_DIR", help="--out folders of the shards")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the merged gradebook")
    args = parser.parse_args(argv)
    try:
        run, rows = merge_runs([read_shard(folder) for folder in args.shards])
    except ValueError as error:
        print(f"merge: {error}", file=sys.stderr)
        return 2
    written = write_gradebook(rows, args.out)
    atomic_write(args.out / RUN_FILE, json_text(run))
    print(f"merged {len(rows)} row(s) from {len(args.shards)} shard(s): " + ", ".join(map(str, written)))
    return 1 if run["problems"] else 0
