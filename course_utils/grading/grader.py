"""Grade submitted notebooks: ``python -m course_utils grade PATH ... --out DIR [--shard K/N]``.

Before any learner code runs, every submission is found (links and non-files become invalid rows), read
and hashed, the grading code, specs and manifest are fingerprinted, and the judges are loaded. Each
submission then has its check cells restored from the release manifest, its own cells reviewed
statically (:mod:`course_utils.grading.review`), and a copy run in its own kernel inside the sandbox of
:mod:`course_utils.grading.isolation` under time and memory limits. A probe cell inserted by the grader
right before each check cell calls :mod:`course_utils.grading.hidden` on the object that check sees;
pass or fail is decided here, in the grader process, by each exercise's ``judge``. Rows go to a journal
as they finish; at the end the submissions and the grading code are hashed again and gradebook.csv,
gradebook.json, run.json and feedback/*.md are written. See docs/grading.md for the threat model.
"""
from __future__ import annotations

import argparse
import base64
import io
import os
import re
import secrets
import signal
import sys
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
from nbformat import NotebookNode

import course_utils
from course_utils.exercises.core import Exercise, chapter_exercises
from course_utils.grading import hidden
from course_utils.grading.gradebook import ExerciseResult, Row, write_gradebook
from course_utils.grading.integrity import changed_files, fingerprint
from course_utils.grading.isolation import NO_SANDBOX_WARNING, Isolation, find_isolation
from course_utils.grading.journal import Journal
from course_utils.grading.manifest import add_manifest_option, load_manifest
from course_utils.grading.notebook_io import (
    InvalidNotebook,
    atomic_write,
    cell_label,
    chapter_of,
    course_meta,
    json_text,
    notebook_text,
)
from course_utils.grading.restore import restore_checks
from course_utils.grading.review import reference_names, review_notebook
from course_utils.grading.sandbox import (
    ERROR,
    KERNEL_DIED,
    OK,
    PROBE,
    TIMEOUT,
    TIMEOUT_ENAME,
    Job,
    Limits,
    Outcome,
    run_job,
    stop_all,
)
from course_utils.grading.submissions import Submission, file_hash, find_submissions, read_checked

INVALID = "invalid"
RUN_FILE = "run.json"
MAX_ARRAY_BYTES, MAX_ARRAYS = 64 * 2**20, 32
ENV_NAMES = {"PATH", "USER", "LANG", "TERM", "LD_LIBRARY_PATH", "VIRTUAL_ENV", "PYTHONPATH", "CONDA_PREFIX"}
ENV_PREFIXES = ("COURSE_", "TF_", "CUDA", "XLA_", "NVIDIA_", "OMP_", "MKL_", "OPENBLAS_", "LC_")
CHECK_CALL = re.compile(r"""check\(\s*["'](\d{2})\.\d+["']""")
SHARD = re.compile(r"^(\d+)/(\d+)$")


@dataclass(frozen=True)
class Settings:
    """Options shared by every submission of a batch."""

    manifest: Mapping[str, Any]
    limits: Limits
    chapter: str | None = None
    isolation: Isolation = field(default_factory=lambda: Isolation(None))


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
    """The worker's and kernel's environment: a short allow-list (no grader secrets), COURSE_MODE=fast."""
    env = {k: v for k, v in os.environ.items() if k in ENV_NAMES or k.startswith(ENV_PREFIXES)}
    package_root = str(Path(course_utils.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env.update(COURSE_MODE="fast", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    return env


def make_cases(exercises: list[Exercise]) -> dict[str, list[dict[str, Any]]]:
    """Hidden cases for each exercise from a fresh, unpredictable seed."""
    streams = np.random.SeedSequence(secrets.randbits(128)).spawn(len(exercises))
    return {e.id: e.hidden_cases(np.random.default_rng(s)) for e, s in zip(exercises, streams)}


def spec_file(chapter: str) -> Path:
    """The file of the chapter's exercise specs (``course_utils.exercises.chNN``), found by the import system."""
    import importlib.util

    spec = importlib.util.find_spec(f"course_utils.exercises.ch{chapter}")
    if spec is None or spec.origin is None:
        raise ValueError(f"there is no module course_utils.exercises.ch{chapter} with exercise specs")
    return Path(spec.origin).resolve()


def entry_exercises(entry: Mapping[str, Any]) -> dict[str, Exercise]:
    """The specs of a manifest entry's exercises, by id, in the entry's order."""
    specs = {exercise.id: exercise for exercise in chapter_exercises(entry["chapter"])}
    return {item["id"]: specs[item["id"]] for item in entry["exercises"]}


def notebook_chapters(nb: NotebookNode) -> set[str]:
    """The chapters a notebook's exercise and check cells belong to (metadata ids and check calls)."""
    found = set()
    for cell in nb.cells:
        for key in ("exercise", "check"):
            value = course_meta(cell, key)
            if isinstance(value, str) and re.fullmatch(r"\d{2}\.\d+", value):
                found.add(value[:2])
        if cell.cell_type == "code":
            found.update(CHECK_CALL.findall(cell.source))
    return found


def with_probes(nb: NotebookNode, exercises: Mapping[str, Exercise], cases: Mapping[str, list], chapter: str,
                seconds: float) -> list[str]:
    """Insert, right before each check cell, a probe cell of its exercise; return labels of the cells run."""
    cells, labels = [], []
    for index, cell in enumerate(nb.cells):
        exercise_id = course_meta(cell, "check")
        if exercise_id in exercises:
            nonce = secrets.token_hex(16)
            source = hidden.cell_source(str(spec_file(chapter)), exercise_id, cases[exercise_id], seconds, nonce)
            meta = {"role": PROBE, "exercise": exercise_id, "nonce": nonce}
            cells.append(nbformat.v4.new_code_cell(source, metadata={"course_grader": meta}))
            labels.append(probe_label(exercise_id))
        cells.append(cell)
        labels.append(cell_label(index, cell))
    nb["cells"] = cells
    return labels


def probe_label(exercise_id: str) -> str:
    """How messages name the grader's probe cell of an exercise."""
    return f"the grader's probe of {exercise_id}"


def load_arrays(encoded: Any) -> dict[str, np.ndarray] | str:
    """Arrays of one probe result (base64 .npz), sizes checked before decompressing; or why they are unusable."""
    try:
        data = base64.b64decode(str(encoded), validate=True)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            if len(members) > MAX_ARRAYS or sum(member.file_size for member in members) > MAX_ARRAY_BYTES:
                return "the result is far too large"
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            return {key: arrays[key] for key in arrays.files}
    except Exception:  # noqa: BLE001 (corrupt archives, object arrays, anything the kernel sent)
        return "the result could not be read as numeric arrays"


def learner_error(text: str, exercise: Exercise) -> str:
    """A short reason for an exercise whose probe raised in the kernel."""
    text = str(text)[:300]
    if text.startswith("NotImplementedError"):
        return "not attempted (it still raises NotImplementedError)"
    if text.startswith(hidden.OVERTIME):
        return text.split(": ", 1)[-1]
    if text.startswith("NameError") and exercise.name in text:
        return f"`{exercise.name}` is not defined"
    if "far too large" in text:
        return text
    return f"calling `{exercise.name}` on a hidden test raised {text}"


def judge_exercise(exercise: Exercise, cases: list[dict[str, Any]], payload: Any) -> str:
    """'' when every hidden case passes the judge (run here, never in the kernel), else a short reason."""
    if not isinstance(payload, dict):
        return "the hidden check did not run (the kernel stopped before it)"
    if "error" in payload:
        return learner_error(payload["error"], exercise)
    results = payload.get("results")
    if not isinstance(results, list) or len(results) != len(cases):
        return "the hidden check returned no usable result"
    for case, encoded in zip(cases, results):
        outputs = load_arrays(encoded)
        if isinstance(outputs, str):
            return outputs
        try:
            verdict = exercise.judge(case, outputs)
        except Exception as error:  # noqa: BLE001 (odd shapes or keys from the learner's result)
            return f"the result has an unexpected form ({type(error).__name__})"
        if verdict:
            return f"on a hidden test: {verdict}"
    return ""


def blank_results(entry: dict[str, Any], reason: str) -> list[ExerciseResult]:
    """Zero-point results for every exercise of a notebook, with one reason."""
    specs = entry_exercises(entry)
    return [ExerciseResult(e["id"], e["title"], e["points"], reason=reason, hint=specs[e["id"]].hint)
            for e in entry["exercises"]]


def judged_results(entry: dict[str, Any], cases: Mapping[str, list], outcome: Outcome,
                   errors: list[dict[str, Any]]) -> list[ExerciseResult]:
    """Per-exercise results: points only for exercises whose every hidden case the judge accepts."""
    specs, results = entry_exercises(entry), []
    for item in entry["exercises"]:
        reason = judge_exercise(specs[item["id"]], cases[item["id"]], outcome.probes.get(item["id"]))
        failed = [e for e in errors if e["cell"] == probe_label(item["id"])]
        if reason.startswith("the hidden check did not run") and (failed or outcome.reason):
            reason = (f"not graded: the grader's hidden check raised {failed[0]['ename']}: {failed[0]['evalue']}"
                      if failed else f"not graded: {outcome.reason}")
        results.append(ExerciseResult(item["id"], item["title"], item["points"], 0 if reason else item["points"],
                                      reason, specs[item["id"]].hint))
    return results


def describe_outcome(outcome: Outcome, labels: list[str]) -> tuple[str, list[dict[str, Any]]]:
    """The row's reason and cell errors, with cells named as in the submission."""
    def name(index: int) -> str:
        return labels[index] if 0 <= index < len(labels) else "the grader's cell"

    errors = [{**error, "cell": name(error["index"])} for error in outcome.errors]
    if outcome.reason:
        return outcome.reason, errors
    if outcome.status == KERNEL_DIED:
        return f"the kernel died while running {name(outcome.last_cell)} (the process exited or crashed)", errors
    timed_out = [error["cell"] for error in errors if error["ename"] == TIMEOUT_ENAME]
    if outcome.status == TIMEOUT:
        return f"{', '.join(timed_out)} ran longer than the cell limit and was interrupted", errors
    return "", errors


def check_chapter(nb: NotebookNode, chapter: str) -> None:
    """InvalidNotebook when the notebook's exercises belong to other chapters only."""
    found = notebook_chapters(nb)
    if found and chapter not in found:
        raise InvalidNotebook(f"this is a notebook of chapter {', '.join(sorted(found))}, but it is graded as "
                              f"chapter {chapter} (from its file name or --chapter); submit the chapter {chapter} "
                              f"notebook, or name the file after its own chapter")


def run_submission(nb: NotebookNode, entry: dict[str, Any], settings: Settings, row: Row) -> None:
    """Restore, review, execute and judge one readable submission, filling in the row."""
    restored, row.tamper_notes = restore_checks(nb, entry)
    row.tampered = bool(row.tamper_notes)
    exercises = entry_exercises(entry)
    check_ids = {check["cell_id"] for check in entry["checks"]}
    row.review = review_notebook(restored, check_ids, reference_names(exercises.values()))
    cases = make_cases(list(exercises.values()))
    limits = settings.limits
    labels = with_probes(restored, exercises, cases, entry["chapter"], limits.cell_timeout)
    job = Job(notebook_text(restored), limits.cell_timeout, limits.cell_timeout * 2 + 30)
    outcome = run_job(job, limits, settings.isolation, kernel_env())
    row.status = outcome.status
    row.reason, row.cell_errors = describe_outcome(outcome, labels)
    row.exercises = judged_results(entry, cases, outcome, row.cell_errors)


def grade_submission(submission: Submission, expected: str, settings: Settings) -> Row:
    """Grade one submission into a gradebook row; never raises and never writes to the submission."""
    started = time.monotonic()
    path = submission.path
    row = Row(submission=submission.label, path=os.path.abspath(path), status=OK,
              grader_version=course_utils.__version__, sandboxed=settings.isolation.sandboxed, sha256=expected)
    try:
        row.chapter = settings.chapter or chapter_of(path.name)
        entry = _entry_for(row, path, settings)
        nb, row.sha256 = read_checked(path, expected)
        check_chapter(nb, row.chapter)
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


def shard_of(submissions: list[Submission], shard: tuple[int, int]) -> list[Submission]:
    """The K-th of N interleaved shares of the submissions (sorted by label, so every shard agrees)."""
    number, count = shard
    return [s for index, s in enumerate(sorted(submissions, key=lambda s: s.label)) if index % count == number - 1]


def grade(submissions: list[Submission], settings: Settings, journal: Journal | None = None, jobs: int = 2,
          progress: bool = True) -> list[Row]:
    """Grade submissions (hashed first), reusing and appending journal rows; rows sorted by submission."""
    hashes = {s.label: file_hash(s.path) for s in submissions}
    kept = journal.resume() if journal else {}
    rows = [kept[(s.label, hashes[s.label])] for s in submissions if (s.label, hashes[s.label]) in kept]
    if journal:
        journal.start(rows)
    todo = [s for s in submissions if (s.label, hashes[s.label]) not in kept]
    if progress and rows:
        print(f"resuming: {len(rows)} row(s) kept from the journal, {len(todo)} to grade", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(grade_submission, s, hashes[s.label], settings) for s in todo]
        for future in _until_stopped(pool, futures):
            row = future.result()
            rows.append(row)
            if journal:
                journal.append(row)
            if progress:
                print(f"{row.submission}: {row.total}/{row.max_points} {row.status}"
                      f"{' (tampered)' if row.tampered else ''}{' (review)' if row.review else ''} "
                      f"in {row.duration_s:.1f} s", flush=True)
    return sorted(rows, key=lambda row: row.submission)


def _until_stopped(pool: ThreadPoolExecutor, futures: list) -> Iterator:
    """The futures as they complete; when the run is stopped, queued ones are cancelled before leaving."""
    try:
        yield from as_completed(futures)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise


def verify_after(rows: list[Row], submissions: list[Submission], before: dict[str, Any],
                 manifest: Path) -> list[str]:
    """Hash submissions and grading code again; flag changed rows and return the problems found."""
    problems = [f"grading code changed during the run: {name}" for name in changed_files(before,
                                                                                        fingerprint(manifest))]
    paths = {s.label: s.path for s in submissions}
    for row in rows:
        if row.sha256 and file_hash(paths[row.submission]) != row.sha256:
            row.review.append("the file changed while the batch was being graded")
            problems.append(f"{row.submission} changed during the run")
    return problems


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'2/5' -> (2, 5); ValueError for anything else."""
    if text is None:
        return None
    match = SHARD.match(text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise ValueError(f"--shard must look like K/N with 1 <= K <= N, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def _parser() -> argparse.ArgumentParser:
    """Command-line options of ``grade``."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils grade",
        description="Grade submitted notebooks: each runs in its own kernel (COURSE_MODE=fast) inside a bubblewrap "
                    "sandbox under time and memory limits; check cells are restored from the release manifest, "
                    "hidden checks run right before each check cell and are judged outside the kernel, and the "
                    "learner's code is reviewed for cheats. Writes gradebook.csv, gradebook.json, run.json, a "
                    "journal and feedback/*.md.",
        epilog="Status per row: ok, timeout, kernel_died (crash or memory limit), invalid (not a readable notebook "
               "file, a link, another chapter), error (a grader bug). Submissions are never modified. A killed "
               "run resumes from its journal when run again. See docs/grading.md.")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="notebooks, or folders searched for .ipynb")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the gradebook and feedback/")
    parser.add_argument("--chapter", metavar="NN",
                        help="two-digit chapter, e.g. 00 (default: from each file name's prefix)")
    parser.add_argument("--jobs", type=int, default=2, metavar="N", help="submissions graded at once (default: 2)")
    parser.add_argument("--shard", metavar="K/N", help="grade only the K-th of N shares (for array jobs); "
                        "combine the shards' folders with `python -m course_utils merge`")
    parser.add_argument("--cell-timeout", type=float, default=300.0, metavar="S",
                        help="seconds per cell (default: 300)")
    parser.add_argument("--total-timeout", type=float, default=1800.0, metavar="S",
                        help="seconds per submission, kernel start included (default: 1800)")
    parser.add_argument("--memory-mb", type=int, default=4096, metavar="M",
                        help="resident memory of a submission's sandbox (worker, kernel, children), MiB (default: 4096)")
    parser.add_argument("--require-sandbox", action="store_true",
                        help="refuse to grade when bubblewrap is missing instead of warning")
    add_manifest_option(parser, "release manifest to grade against")
    return parser


def check_out_dir(out: Path, paths: list[Path], submissions: list[Submission]) -> None:
    """Refuse an output folder inside a submissions folder, or one that holds a submission."""
    target = out.resolve()
    folders = {p.resolve() for p in paths if p.is_dir()} | {s.path.absolute().parent for s in submissions}
    for folder in folders:
        if target == folder or folder in target.parents:
            raise ValueError(f"--out {out} is inside the submissions folder {folder}; the grader never writes "
                             f"there. Choose a folder outside it, e.g. --out grading-output")
    for submission in submissions:
        if target in submission.path.absolute().parents:
            raise ValueError(f"--out {out} would overwrite the submission {submission.path}; choose another folder")


def _setup(args: argparse.Namespace) -> tuple[list[Submission], Settings, dict[str, Any]]:
    """Submissions of this shard, settings and fingerprint; ValueError for usage errors."""
    if args.chapter is not None and not (len(args.chapter) == 2 and args.chapter.isdigit()):
        raise ValueError(f"--chapter must be two digits like 00, got {args.chapter!r}")
    shard = parse_shard(args.shard)
    found = find_submissions(args.paths)
    if not found:
        raise ValueError(f"no .ipynb files found in {', '.join(map(str, args.paths))}")
    check_out_dir(args.out, args.paths, found)
    manifest = load_manifest(args.manifest)
    for entry in manifest["notebooks"].values():  # the judges are loaded before any learner code runs
        reference_names(entry_exercises(entry).values())
    solutions = Path(course_utils.__file__).resolve().parent.parent / "solutions"
    try:
        isolation = find_isolation([*args.paths, args.out, solutions], not args.require_sandbox)
    except RuntimeError as error:
        raise ValueError(str(error)) from None
    settings = Settings(manifest, Limits(args.cell_timeout, args.total_timeout, args.memory_mb), args.chapter,
                        isolation)
    return shard_of(found, shard) if shard else found, settings, fingerprint(args.manifest)


def _stop(signum: int, frame: Any) -> None:
    """SIGTERM/SIGINT: kill running submissions (so no job is waited for), then leave through the normal exit path."""
    stop_all()
    raise SystemExit(128 + signum)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT kill the running submissions and exit; handlers restored after."""
    if threading.current_thread() is not threading.main_thread():  # only there may signal handlers be set
        yield
        return
    previous = {number: signal.signal(number, _stop) for number in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: list[str] | None = None) -> int:
    """Run ``grade``; 0 when a trustworthy gradebook was written, 1 when integrity checks failed, 2 on usage."""
    args = _parser().parse_args(argv)
    try:
        submissions, settings, before = _setup(args)
    except ValueError as error:
        print(f"grade: {error}", file=sys.stderr)
        return 2
    if not settings.isolation.sandboxed:
        print(NO_SANDBOX_WARNING, file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    header = {"fingerprint": before["sha256"], "shard": args.shard, "chapter": args.chapter,
              "limits": [args.cell_timeout, args.total_timeout, args.memory_mb]}
    with stop_on_signals():
        rows = grade(submissions, settings, Journal(args.out, header), args.jobs)
    problems = verify_after(rows, submissions, before, args.manifest)
    written = write_gradebook(rows, args.out)
    run = {"fingerprint": before, "shard": args.shard, "sandboxed": settings.isolation.sandboxed,
           "submissions": {row.submission: row.sha256 for row in rows}, "problems": problems,
           "grader_version": course_utils.__version__}
    atomic_write(args.out / RUN_FILE, json_text(run))
    print(f"graded {len(rows)} submission(s): " + ", ".join(str(path) for path in written))
    for problem in problems:
        print(f"grade: INTEGRITY: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
