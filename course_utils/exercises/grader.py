"""Grade submitted notebooks: ``python -m course_utils grade PATH ... --out DIR``.

Each submission is read read-only, its check cells are restored from the release manifest, and a
copy runs in its own kernel under time and memory limits. A hidden cell appended by the grader
probes the learner's objects on fresh random cases and saves the results as ``.npz``; pass or fail is
decided here, in the grader process, by each exercise's ``judge``. Writes gradebook.csv,
gradebook.json and feedback/*.md. Not a security sandbox: see docs/grading.md.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import nbformat
import numpy as np
from nbformat import NotebookNode

import course_utils
from course_utils.exercises.core import Exercise, chapter_exercises
from course_utils.exercises.gradebook import CSV_FILE, FEEDBACK_DIR, JSON_FILE, ExerciseResult, Row, write_gradebook
from course_utils.exercises.notebook_io import InvalidNotebook, chapter_of, course_meta, notebook_text, read_submission
from course_utils.exercises.release import DEFAULT_MANIFEST, MANIFEST_FORMAT
from course_utils.exercises.restore import restore_checks
from course_utils.exercises.sandbox import (
    ERROR,
    HIDDEN_DIR_PLACEHOLDER,
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
TOKEN_KEY = "__course_grader_token__"
MAX_OUTPUT_BYTES = 256 * 2**20
ENV_NAMES = {"PATH", "HOME", "USER", "LANG", "TERM", "TMPDIR", "TMP", "TEMP", "LD_LIBRARY_PATH", "VIRTUAL_ENV",
             "PYTHONPATH", "CONDA_PREFIX", "MPLCONFIGDIR"}
ENV_PREFIXES = ("COURSE_", "TF_", "CUDA", "XLA_", "NVIDIA_", "OMP_", "MKL_", "OPENBLAS_", "KERAS_", "LC_",
                "JUPYTER_", "IPYTHON", "XDG_")

SNAPSHOT_SOURCE = "globals().setdefault({store!r}, {{}})[{name!r}] = globals().get({name!r})  # added by the grader"
HIDDEN_SOURCE = '''\
# Added by the course grader: hidden checks (not part of the submitted notebook).
def {function}(namespace):
    import importlib.util, json, os, pickle, signal
    import numpy as np

    class Overtime(BaseException):
        pass

    def on_alarm(signum, frame):
        raise Overtime()

    def describe(error):
        try:
            return f"{{type(error).__name__}}: {{error}}"[:300]
        except BaseException:
            return type(error).__name__

    folder = {placeholder}
    spec = importlib.util.spec_from_file_location({module!r}, {spec_path!r})
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    exercises = {{exercise.id: exercise for exercise in module.EXERCISES}}
    with open(os.path.join(folder, "cases.pkl"), "rb") as handle:
        cases = pickle.load(handle)
    snapshots = namespace.get({store!r}, {{}})
    errors = {{}}
    signal.signal(signal.SIGALRM, on_alarm)
    for exercise_id, exercise_cases in cases.items():
        exercise = exercises[exercise_id]
        candidate = snapshots[exercise.name] if exercise.name in snapshots else namespace.get(exercise.name)
        signal.setitimer(signal.ITIMER_REAL, {seconds!r})
        try:
            if candidate is None:
                raise NameError(f"`{{exercise.name}}` is not defined")
            for number, case in enumerate(exercise_cases):
                arrays = {{str(k): np.asarray(v) for k, v in dict(exercise.probe(candidate, case)).items()}}
                if any(array.dtype.hasobject for array in arrays.values()):
                    raise TypeError("the result is not a number or a numeric array")
                np.savez(os.path.join(folder, f"{{exercise_id}}-{{number}}.npz"), **arrays, **{{{key!r}: {token!r}}})
        except Overtime:
            errors[exercise_id] = "Overtime: took longer than {seconds:g} s"
        except BaseException as error:
            errors[exercise_id] = describe(error)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    with open(os.path.join(folder, "errors.json"), "w") as handle:
        json.dump({{"token": {token!r}, "errors": errors}}, handle)


{function}(globals())
del {function}
'''


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


def load_manifest(path: Path) -> dict[str, Any]:
    """Read the release manifest; ValueError with the fix when it is missing or stale."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"no manifest at {path}; run `python -m course_utils release` first") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"the manifest {path} is not valid JSON ({error}); run release again") from None
    if manifest.get("format") != MANIFEST_FORMAT:
        raise ValueError(f"the manifest {path} has format {manifest.get('format')!r}, not {MANIFEST_FORMAT}; "
                         f"run release again with this version of course_utils")
    for name, entry in manifest["notebooks"].items():
        known = {exercise.id for exercise in chapter_exercises(entry["chapter"])}
        missing = [e["id"] for e in entry["exercises"] if e["id"] not in known]
        if missing:
            raise ValueError(f"the manifest's {name} lists exercises {missing} that "
                             f"course_utils/exercises/ch{entry['chapter']}.py does not define; run release again")
    return manifest


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


def _label(index: int, cell: NotebookNode) -> str:
    """How feedback names a submission cell."""
    return f"cell {index} (id {cell.get('id', '?')!r})"


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
        labels.append(_label(index, cell))
    nb["cells"] = cells
    return labels


def prepare(nb: NotebookNode, entry: dict[str, Any], settings: Settings, run_dir: Path, cwd: Path) -> Prepared:
    """Build the worker's job: restored notebook with snapshot cells, hidden cell, cases and paths."""
    token = secrets.token_hex(12)
    exercises = [e for e in chapter_exercises(entry["chapter"]) if e.id in {x["id"] for x in entry["exercises"]}]
    store = f"_course_grader_{token}"
    labels = with_snapshots(nb, {e.id: e.name for e in exercises}, store)
    cases = make_cases(exercises)
    spec_path = Path(course_utils.__file__).resolve().parent / "exercises" / f"ch{entry['chapter']}.py"
    hidden = HIDDEN_SOURCE.format(function=f"_course_grader_hidden_{token}", placeholder=HIDDEN_DIR_PLACEHOLDER,
                                  module=f"_course_grader_ch{entry['chapter']}_{token}", spec_path=str(spec_path),
                                  store=store, seconds=float(settings.limits.cell_timeout), key=TOKEN_KEY,
                                  token=token)
    limits = settings.limits
    job = Job(notebook=notebook_text(nb), hidden_source=hidden, cases=pickle.dumps(cases),
              hidden_dir=str(run_dir / f"hidden-{token}"), result_path=str(run_dir / "result.json"),
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
    except Exception:  # corrupt files, object arrays, anything planted
        return "the result could not be read as numeric arrays"
    if str(arrays.pop(TOKEN_KEY, "")) != token:
        return "the result file was not written by the grader's hidden checks"
    return arrays


def learner_error(text: str, exercise: Exercise) -> str:
    """A short reason for an exercise whose probe raised in the kernel."""
    text = str(text)[:300]
    if text.startswith("NotImplementedError"):
        return "not attempted (it still raises NotImplementedError)"
    if text.startswith("Overtime"):
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
        outputs = load_outputs(folder / f"{exercise.id}-{number}.npz", token)
        if isinstance(outputs, str):
            return outputs
        try:
            verdict = exercise.judge(case, outputs)
        except Exception as error:  # odd shapes or keys from the learner's result
            return f"the result has an unexpected form ({type(error).__name__})"
        if verdict:
            return f"on a hidden test: {verdict}"
    return ""


def read_errors(folder: Path, token: str) -> dict[str, str]:
    """The per-exercise errors the hidden cell recorded (empty when absent, malformed or not the grader's)."""
    try:
        data = json.loads((folder / "errors.json").read_text(encoding="utf-8")[:2**20])
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("token") != token or not isinstance(data.get("errors"), dict):
        return {}
    return {str(k): str(v) for k, v in data["errors"].items()}


def blank_results(entry: dict[str, Any], reason: str) -> list[ExerciseResult]:
    """Zero-point results for every exercise of a notebook, with one reason."""
    specs = {e.id: e for e in chapter_exercises(entry["chapter"])}
    return [ExerciseResult(e["id"], e["title"], e["points"], reason=reason, hint=specs[e["id"]].hint)
            for e in entry["exercises"]]


def judged_results(entry: dict[str, Any], prepared: Prepared, outcome: Outcome,
                   row_reason: str) -> list[ExerciseResult]:
    """Per-exercise results: points only for exercises whose every hidden case the judge accepts."""
    if not outcome.hidden_ran:
        return blank_results(entry, f"not graded: {row_reason or 'the hidden checks did not run'}")
    folder = Path(prepared.job.hidden_dir)
    errors, specs = read_errors(folder, prepared.token), {e.id: e for e in chapter_exercises(entry["chapter"])}
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
    except Exception as error:  # a grader bug must not stop the batch; the row says so
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
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST, metavar="FILE",
                        help="release manifest (default: the one packaged in course_utils/exercises)")
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
