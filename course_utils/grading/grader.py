"""Grade submitted notebooks: ``python -m course_utils grade PATH ... --out DIR``.

Each submission is read read-only, its check cells are restored from the release manifest, and a
copy runs in its own kernel under time and memory limits. A last cell appended by the grader runs
:mod:`course_utils.grading.hidden`, which probes the learner's objects on fresh random cases and
saves the results as ``.npz``; pass or fail is decided here, in the grader process, by each
exercise's ``judge``. Writes gradebook.csv, gradebook.json and feedback/*.md. Not a security
sandbox: see docs/grading.md.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
from nbformat import NotebookNode

import course_utils
from course_utils.exercises.core import Exercise, chapter_exercises
from course_utils.grading import hidden
from course_utils.grading.gradebook import CSV_FILE, FEEDBACK_DIR, JSON_FILE, ExerciseResult, Row, write_gradebook
from course_utils.grading.manifest import add_manifest_option, load_manifest
from course_utils.grading.notebook_io import (
    InvalidNotebook,
    cell_label,
    chapter_of,
    course_meta,
    notebook_text,
    read_submission,
)
from course_utils.grading.restore import restore_checks
from course_utils.grading.sandbox import (
    ERROR,
    KERNEL_DIED,
    OK,
    TIMEOUT,
    TIMEOUT_ENAME,
    Job,
    Limits,
    Outcome,
    run_job,
)

INVALID = "invalid"
MAX_OUTPUT_BYTES = 256 * 2**20
ENV_NAMES = {"PATH", "HOME", "USER", "LANG", "TERM", "TMPDIR", "TMP", "TEMP", "LD_LIBRARY_PATH", "VIRTUAL_ENV",
             "PYTHONPATH", "CONDA_PREFIX", "MPLCONFIGDIR"}
ENV_PREFIXES = ("COURSE_", "TF_", "CUDA", "XLA_", "NVIDIA_", "OMP_", "MKL_", "OPENBLAS_", "KERAS_", "LC_",
                "JUPYTER_", "IPYTHON", "XDG_")

SNAPSHOT_SOURCE = "globals().setdefault({store!r}, {{}})[{name!r}] = globals().get({name!r})  # added by the grader"


@dataclass(frozen=True)
class Settings:
    """Options shared by every submission of a batch."""

    manifest: Mapping[str, Any]
    limits: Limits
    chapter: str | None = None


@dataclass(frozen=True)
class Prepared:
    """A notebook ready to run: the job for the worker, the hidden cases, and labels of its cells."""

    job: Job
    cases: dict[str, list[dict[str, Any]]]
    labels: list[str]
    token: str


def find_submissions(paths: list[Path]) -> list[Path]:
    """The notebooks to grade: files as given, folders searched recursively (checkpoints skipped)."""
    found: dict[Path, Path] = {}
    for path in paths:
        if path.is_dir():
            for file in sorted(path.rglob("*.ipynb")):
                if ".ipynb_checkpoints" not in file.parts and file.is_file():
                    found.setdefault(file.resolve(), file)
        elif path.exists():
            found.setdefault(path.resolve(), path)
        else:
            raise ValueError(f"{path}: no such file or folder")
    return sorted(found.values(), key=str)


def check_out_dir(out: Path, paths: list[Path], submissions: list[Path]) -> None:
    """Refuse an output folder inside a submissions folder, or one whose files would replace a submission."""
    target = out.resolve()
    folders = {p.resolve() for p in paths if p.is_dir()} | {s.resolve().parent for s in submissions}
    for folder in folders:
        if target == folder or folder in target.parents:
            raise ValueError(f"--out {out} is inside the submissions folder {folder}; the grader never writes "
                             f"there. Choose a folder outside it, e.g. --out grading-output")
    written = {target / CSV_FILE, target / JSON_FILE}
    for submission in submissions:
        resolved = submission.resolve()
        if resolved in written or target / FEEDBACK_DIR in resolved.parents:
            raise ValueError(f"--out {out} would overwrite the submission {submission}; choose another folder")


def pick_entry(manifest: Mapping[str, Any], chapter: str, filename: str) -> tuple[str, dict[str, Any]]:
    """The released notebook a submission answers: the chapter's only one, or the one its name starts with."""
    entries = [(name, entry) for name, entry in manifest["notebooks"].items() if entry["chapter"] == chapter]
    if len(entries) > 1:
        entries = [(n, e) for n, e in entries if Path(filename).stem.startswith(Path(n).stem)]
    if len(entries) != 1:
        names = [n for n, e in manifest["notebooks"].items() if e["chapter"] == chapter]
        raise InvalidNotebook(f"cannot tell which released notebook of chapter {chapter} this answers "
                              f"(released: {names or 'none'}); name the file after one of them")
    return entries[0]


def kernel_env() -> dict[str, str]:
    """The kernel's environment: a short allow-list (no grader secrets), COURSE_MODE=fast, this course_utils."""
    env = {k: v for k, v in os.environ.items() if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}
    package_root = str(Path(course_utils.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env.update(COURSE_MODE="fast", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    return env


def make_cases(exercises: list[Exercise]) -> dict[str, list[dict[str, Any]]]:
    """Hidden cases for each exercise from a fresh, unpredictable seed."""
    streams = np.random.SeedSequence(secrets.randbits(128)).spawn(len(exercises))
    return {e.id: e.hidden_cases(np.random.default_rng(s)) for e, s in zip(exercises, streams)}


def with_snapshots(nb: NotebookNode, names: dict[str, str], store: str) -> list[str]:
    """Insert, before each check cell, a cell that keeps the learner's object the check is about to see."""
    cells, labels = [], []
    for index, cell in enumerate(nb.cells):
        exercise_id = course_meta(cell, "check")
        if exercise_id in names:
            source = SNAPSHOT_SOURCE.format(store=store, name=names[exercise_id])
            cells.append(nbformat.v4.new_code_cell(source, metadata={"course_grader": "snapshot"}))
            labels.append("the grader's snapshot cell")
        cells.append(cell)
        labels.append(cell_label(index, cell))
    nb["cells"] = cells
    return labels


def spec_file(chapter: str) -> Path:
    """The file of the chapter's exercise specs (``course_utils.exercises.chNN``), found by the import system."""
    spec = importlib.util.find_spec(f"course_utils.exercises.ch{chapter}")
    if spec is None or spec.origin is None:
        raise ValueError(f"there is no module course_utils.exercises.ch{chapter} with exercise specs")
    return Path(spec.origin).resolve()


def entry_exercises(entry: Mapping[str, Any]) -> dict[str, Exercise]:
    """The specs of a manifest entry's exercises, by id, in the entry's order."""
    specs = {exercise.id: exercise for exercise in chapter_exercises(entry["chapter"])}
    return {item["id"]: specs[item["id"]] for item in entry["exercises"]}


def prepare(nb: NotebookNode, entry: dict[str, Any], settings: Settings, run_dir: Path, cwd: Path) -> Prepared:
    """Build the worker's job: restored notebook with snapshot cells, hidden cell, cases and paths."""
    token, limits = secrets.token_hex(12), settings.limits
    exercises = list(entry_exercises(entry).values())
    store, hidden_dir = f"_course_grader_{token}", run_dir / f"hidden-{token}"
    labels = with_snapshots(nb, {e.id: e.name for e in exercises}, store)
    cases = make_cases(exercises)
    source = hidden.cell_source(str(hidden_dir), str(spec_file(entry["chapter"])), store, limits.cell_timeout, token)
    job = Job(notebook=notebook_text(nb), hidden_source=source, cases=pickle.dumps(cases),
              hidden_dir=str(hidden_dir), result_path=str(run_dir / "result.json"),
              kernel_cwd=str(cwd), kernel_env=kernel_env(), cell_timeout=limits.cell_timeout,
              hidden_timeout=limits.cell_timeout * (len(exercises) + 1) + 30)
    return Prepared(job, cases, labels, token)


def load_outputs(path: Path, token: str) -> dict[str, np.ndarray] | str:
    """Arrays the hidden cell saved for one case (never unpickled, token checked), or why they are unusable."""
    try:
        if path.stat().st_size > MAX_OUTPUT_BYTES:
            return "the result is far too large"
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        return "no result was recorded"
    except Exception:  # noqa: BLE001 (corrupt files, object arrays, anything planted)
        return "the result could not be read as numeric arrays"
    if str(arrays.pop(hidden.TOKEN_KEY, "")) != token:
        return "the result file was not written by the grader's hidden checks"
    return arrays


def learner_error(text: str, exercise: Exercise) -> str:
    """A short reason for an exercise whose probe raised in the kernel."""
    text = str(text)[:300]
    if text.startswith("NotImplementedError"):
        return "not attempted (it still raises NotImplementedError)"
    if text.startswith(hidden.OVERTIME):
        return text.split(": ", 1)[-1]
    if text.startswith("NameError") and exercise.name in text:
        return f"`{exercise.name}` is not defined"
    return f"calling `{exercise.name}` on a hidden test raised {text}"


def judge_exercise(exercise: Exercise, cases: list[dict[str, Any]], folder: Path, errors: Mapping[str, Any],
                   token: str) -> str:
    """'' when every hidden case passes the judge (run here, never in the kernel), else a short reason."""
    if exercise.id in errors:
        return learner_error(errors[exercise.id], exercise)
    for number, case in enumerate(cases):
        outputs = load_outputs(hidden.result_file(folder, exercise.id, number), token)
        if isinstance(outputs, str):
            return outputs
        try:
            verdict = exercise.judge(case, outputs)
        except Exception as error:  # noqa: BLE001 (odd shapes or keys from the learner's result)
            return f"the result has an unexpected form ({type(error).__name__})"
        if verdict:
            return f"on a hidden test: {verdict}"
    return ""


def read_errors(folder: Path, token: str) -> dict[str, str]:
    """The per-exercise errors the hidden cell recorded (empty when absent, malformed or not the grader's)."""
    try:
        data = json.loads((folder / hidden.ERRORS_FILE).read_text(encoding="utf-8")[:2**20])
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("token") != token or not isinstance(data.get("errors"), dict):
        return {}
    return {str(k): str(v) for k, v in data["errors"].items()}


def blank_results(entry: dict[str, Any], reason: str) -> list[ExerciseResult]:
    """Zero-point results for every exercise of a notebook, with one reason."""
    specs = entry_exercises(entry)
    return [ExerciseResult(e["id"], e["title"], e["points"], reason=reason, hint=specs[e["id"]].hint)
            for e in entry["exercises"]]


def judged_results(entry: dict[str, Any], prepared: Prepared, outcome: Outcome,
                   row_reason: str) -> list[ExerciseResult]:
    """Per-exercise results: points only for exercises whose every hidden case the judge accepts."""
    if not outcome.hidden_ran:
        return blank_results(entry, f"not graded: {row_reason or 'the hidden checks did not run'}")
    folder = Path(prepared.job.hidden_dir)
    errors, specs = read_errors(folder, prepared.token), entry_exercises(entry)
    results = []
    for item in entry["exercises"]:
        reason = judge_exercise(specs[item["id"]], prepared.cases[item["id"]], folder, errors, prepared.token)
        results.append(ExerciseResult(item["id"], item["title"], item["points"], 0 if reason else item["points"],
                                      reason, specs[item["id"]].hint))
    return results


def describe_outcome(outcome: Outcome, labels: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """The row's reason and cell errors, with cells named as in the submission."""
    def name(index: int) -> str:
        return labels[index] if 0 <= index < len(labels) else "the grader's hidden checks"

    errors = [{**error, "cell": name(error["index"])} for error in outcome.errors]
    if outcome.reason:
        return outcome.reason, errors
    if outcome.status == KERNEL_DIED:
        return f"the kernel died while running {name(outcome.last_cell)} (the process exited or crashed)", errors
    timed_out = [error["cell"] for error in errors if error["ename"] == TIMEOUT_ENAME]
    if outcome.status == TIMEOUT:
        return f"{', '.join(timed_out)} ran longer than the cell limit and was interrupted", errors
    return "", errors


def run_submission(nb: NotebookNode, entry: dict[str, Any], settings: Settings, row: Row) -> None:
    """Restore, execute and judge one readable submission, filling in the row."""
    restored, row.tamper_notes = restore_checks(nb, entry)
    row.tampered = bool(row.tamper_notes)
    run_dir = Path(tempfile.mkdtemp(prefix=f"course-grade-{secrets.token_hex(8)}-"))
    cwd = Path(tempfile.mkdtemp(prefix="course-kernel-"))
    try:
        prepared = prepare(restored, entry, settings, run_dir, cwd)
        outcome = run_job(prepared.job, settings.limits)
        row.status = outcome.status
        row.reason, row.cell_errors = describe_outcome(outcome, prepared.labels)
        row.exercises = judged_results(entry, prepared, outcome, row.reason)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        shutil.rmtree(cwd, ignore_errors=True)


def grade_submission(path: Path, label: str, settings: Settings) -> Row:
    """Grade one submission into a gradebook row; never raises and never writes to the submission."""
    started = time.monotonic()
    row = Row(submission=label, path=str(path.resolve()), status=OK, grader_version=course_utils.__version__)
    try:
        row.chapter = settings.chapter or chapter_of(path.name)
        entry = _entry_for(row, path, settings)
        nb = read_submission(path)
        run_submission(nb, entry, settings, row)
    except InvalidNotebook as error:
        row.status, row.reason = INVALID, str(error)
    except Exception as error:  # noqa: BLE001 (a grader bug must not stop the batch; the row says so)
        row.status, row.reason = ERROR, f"the grader failed on this file ({type(error).__name__}: {error})"
    row.duration_s = round(time.monotonic() - started, 2)
    return row


def _entry_for(row: Row, path: Path, settings: Settings) -> dict[str, Any]:
    """The manifest entry of a submission (recorded in the row with zeroed exercises); InvalidNotebook if none."""
    if row.chapter is None:
        raise InvalidNotebook(f"cannot tell the chapter from the file name {path.name!r} (it should start with "
                              f"two digits, like 00_setup.ipynb); pass --chapter NN")
    row.notebook, entry = pick_entry(settings.manifest, row.chapter, path.name)
    row.exercises = blank_results(entry, "not graded")
    return entry


def submission_labels(paths: list[Path]) -> dict[Path, str]:
    """Short, unique names for submissions: paths relative to the folder they all share."""
    resolved = [path.resolve() for path in paths]
    if not resolved:
        return {}
    common = Path(os.path.commonpath([path.parent for path in resolved]))
    return {path: resolved_path.relative_to(common).as_posix() for path, resolved_path in zip(paths, resolved)}


def grade(paths: list[Path], settings: Settings, jobs: int = 2, progress: bool = True) -> list[Row]:
    """Grade submissions in parallel (one worker process each); rows sorted by submission name."""
    labels, rows = submission_labels(paths), []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_submission, path, labels[path], settings) for path in paths]
        for future in as_completed(futures):
            row = future.result()
            rows.append(row)
            if progress:
                print(f"{row.submission}: {row.total}/{row.max_points} {row.status}"
                      f"{' (tampered)' if row.tampered else ''} in {row.duration_s:.1f} s", flush=True)
    return sorted(rows, key=lambda row: row.submission)


def _parser() -> argparse.ArgumentParser:
    """Command-line options of ``grade``."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils grade",
        description="Grade submitted notebooks: each runs in its own kernel (COURSE_MODE=fast) under time and "
                    "memory limits, check cells are restored from the release manifest, hidden checks are "
                    "judged outside the kernel. Writes gradebook.csv, gradebook.json and feedback/*.md.",
        epilog="Status per row: ok, timeout, kernel_died (crash or memory limit), invalid (unreadable file), "
               "error (a grader bug). Submissions are never modified. Not a security sandbox: for untrusted "
               "code run it in a container, see docs/grading.md.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="notebooks, or folders searched for .ipynb")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the gradebook and feedback/")
    parser.add_argument("--chapter", metavar="NN",
                        help="two-digit chapter, e.g. 00 (default: from each file name's prefix)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="submissions graded at once (default: 2)")
    parser.add_argument("--cell-timeout", type=float, default=300.0, metavar="S",
                        help="seconds per cell (default: 300)")
    parser.add_argument("--total-timeout", type=float, default=1800.0, metavar="S",
                        help="seconds per submission, kernel start included (default: 1800)")
    parser.add_argument("--memory-mb", type=int, default=4096, metavar="M",
                        help="resident memory of a submission's kernel and worker, MiB (default: 4096)")
    add_manifest_option(parser, "release manifest to grade against")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``grade``; 0 when a gradebook was written (whatever the submissions were), 2 on usage errors."""
    args = _parser().parse_args(argv)
    try:
        if args.chapter is not None and not (len(args.chapter) == 2 and args.chapter.isdigit()):
            raise ValueError(f"--chapter must be two digits like 00, got {args.chapter!r}")
        submissions = find_submissions(args.paths)
        if not submissions:
            raise ValueError(f"no .ipynb files found in {', '.join(map(str, args.paths))}")
        check_out_dir(args.out, args.paths, submissions)
        limits = Limits(args.cell_timeout, args.total_timeout, args.memory_mb)
        settings = Settings(load_manifest(args.manifest), limits, args.chapter)
    except ValueError as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    rows = grade(submissions, settings, args.jobs)
    written = write_gradebook(rows, args.out)
    print(f"graded {len(rows)} submission(s): " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
