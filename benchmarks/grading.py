"""Benchmark of the grader's throughput: a class of chapter 00 and one of chapter 02, graded on this machine.

The solutions are released into a scratch folder (so manifest and specs agree), the full solution notebooks
are copied in as submissions (one folder per student) and graded with ``python -m course_utils grade`` as an
instructor would, sandboxed when bubblewrap is installed. Results go to ``benchmarks/results/grading.json``
and ``grading.md``.

    .venv/bin/python benchmarks/grading.py                          # 50 x chapter 00, 10 x chapter 02
    .venv/bin/python benchmarks/grading.py --classes 00:4 02:1      # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args() -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", nargs="+", default=["00:50", "02:10"], metavar="NN:COUNT",
                        help="chapter and number of submissions of each class (default: 00:50 02:10)")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default: 2)")
    parser.add_argument("--memory-mb", type=int, default=4096)
    parser.add_argument("--note", default="", help="free text stored with the results, e.g. machine load")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args()


def solution_of(chapter: str) -> Path:
    """The solution notebook of a chapter."""
    found = sorted((REPO / "solutions").glob(f"{chapter}_*.ipynb"))
    if len(found) != 1:
        raise SystemExit(f"expected one solutions/{chapter}_*.ipynb, found {len(found)}")
    return found[0]


def grade_class(root: Path, chapter: str, count: int, args: argparse.Namespace) -> dict:
    """Grade ``count`` copies of a chapter's solution; wall time, statuses and scores."""
    submitted, out = root / f"class-{chapter}", root / f"out-{chapter}"
    for number in range(1, count + 1):
        (submitted / f"student{number:03d}").mkdir(parents=True)
        shutil.copy(solution_of(chapter), submitted / f"student{number:03d}" / solution_of(chapter).name)
    command = [sys.executable, "-m", "course_utils", "grade", str(submitted), "--out", str(out), "--manifest",
               str(root / "manifest.json"), "--jobs", str(args.jobs), "--memory-mb", str(args.memory_mb)]
    started = time.monotonic()
    subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    minutes = (time.monotonic() - started) / 60
    rows = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
    durations = [row["duration_s"] for row in rows]
    return {"chapter": chapter, "submissions": count, "minutes": round(minutes, 2),
            "per_minute": round(count / minutes, 2), "median_submission_s": round(statistics.median(durations), 1),
            "max_submission_s": round(max(durations), 1),
            "statuses": {status: sum(row["status"] == status for row in rows) for status in {r["status"] for r in rows}},
            "full_marks": sum(row["total"] == row["max"] for row in rows),
            "sandboxed": all(row["sandboxed"] for row in rows), "flagged": sum(bool(row["review"]) for row in rows)}


def markdown(results: dict) -> str:
    """The results as a Markdown table."""
    lines = ["# Grading throughput", "", (f"{results['machine']} · {results['jobs']} job(s) at once · "
             f"bubblewrap: {results['bwrap'] or 'not installed'}"), "",
             ("| chapter | submissions | minutes | per minute | median s / submission | max s | full marks | "
             "statuses | flagged |"), "|---|---|---|---|---|---|---|---|---|"]
    for c in results["classes"]:
        lines.append(f"| {c['chapter']} | {c['submissions']} | {c['minutes']} | {c['per_minute']} | "
                     f"{c['median_submission_s']} | {c['max_submission_s']} | {c['full_marks']} | "
                     f"{', '.join(f'{k}: {v}' for k, v in sorted(c['statuses'].items()))} | {c['flagged']} |")
    if results["note"]:
        lines += ["", results["note"]]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Release into a scratch folder, grade each class, write the results."""
    args = parse_args()
    from course_utils.grading import release

    classes = [(text.split(":")[0], int(text.split(":")[1])) for text in args.classes]
    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as scratch:
        root = Path(scratch)
        release.release(REPO / "solutions", root / "notebooks", root / "manifest.json")
        measured = [grade_class(root, chapter, count, args) for chapter, count in classes]
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
               "jobs": args.jobs, "bwrap": shutil.which("bwrap"), "note": args.note, "classes": measured,
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grading.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    (args.out / "grading.md").write_text(markdown(results), encoding="utf-8")
    print(markdown(results))


if __name__ == "__main__":
    main()
