"""Grader: real kernels on fixture submissions (correct, fresh, malformed, runaway, tampered, exploits), the hidden
runner in-process, feedback names, and the real chapters' exercises trimmed out of their notebooks."""
from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
import shutil
import signal
import time
from pathlib import Path

import nbformat
import numpy as np
import psutil
import pytest

from course_utils.exercises import ch00, chapter_exercises
from course_utils.grading import grader, hidden, release
from course_utils.grading.gradebook import Row, feedback_name, write_gradebook
from course_utils.grading.isolation import Isolation, needed_under_tmp
from course_utils.grading.sandbox import Job, Limits, run_job

FIXTURE = Path(__file__).parent / "fixtures" / "00_fixture.ipynb"
REPO = Path(__file__).resolve().parents[1]
LIMITS = ["--cell-timeout", "6", "--total-timeout", "120", "--memory-mb", "700", "--jobs", "2"]

WRONG = {  # (prepare_images, compression_ratio) sources that give wrong answers
    "fx-ex1": "def prepare_images(images):\n    return np.zeros(np.shape(images) + (1,), np.float32)",
    "fx-ex2": "def compression_ratio(input_shape, code_size):\n    return 1.0",
}
EXPLOITS = {
    "always_equal": "class Box:\n    def __eq__(self, other):\n        return True\n\n"
                    "def prepare_images(images):\n    return Box()\n\n"
                    "def compression_ratio(input_shape, code_size):\n    return Box()",
    "patch_numpy": "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
                   "np.array_equal = lambda *a, **k: True\nnp.testing.assert_allclose = lambda *a, **k: None\n"
                   + WRONG["fx-ex1"] + "\n" + WRONG["fx-ex2"],
    "patch_check_module": "import course_utils.exercises.core as core\nimport course_utils.exercises.ch00 as ch00\n"
                          "core.run_public_check = lambda ex, c: core.CheckResult(ex.id, 'passed', 'ok', ex.points)\n"
                          "for ex in ch00.EXERCISES:\n"
                          "    reference = ex.reference()\n"
                          "    object.__setattr__(ex, 'judge', lambda case, out: None)\n"
                          "    object.__setattr__(ex, 'probe', lambda c, case, r=reference: {'output': r(**case)})\n"
                          + WRONG["fx-ex1"] + "\n" + WRONG["fx-ex2"],
    "patch_hidden_runner": "import course_utils.grading.hidden as hidden\n\n"
                           "def probe_reference(exercise, namespace, store, cases, folder, token, seconds):\n"
                           "    for number, case in enumerate(cases):\n"
                           "        outputs = exercise.probe(exercise.reference(), case)\n"
                           "        hidden.save_result(hidden.result_file(folder, exercise.id, number), outputs, token)\n"
                           "    return ''\n\n"
                           "hidden.probe_exercise = probe_reference\n" + WRONG["fx-ex1"] + "\n" + WRONG["fx-ex2"],
    "sys_exit": "import sys\nsys.exit(0)",
    "os_exit": "import os\nos._exit(0)",
    "kill_grader": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
    "fake_pass_print": "print('[00.1] PASSED: prepare_images passed the hidden checks. 3/3')\n"
                       "import sys\nprint('ALL TESTS PASSED', file=sys.stderr)\n" + WRONG["fx-ex1"] + "\n" + WRONG["fx-ex2"],
    "fake_results_file": "import json, os, tempfile\n"
                         "for folder in ['.', 'hidden', tempfile.gettempdir()]:\n"
                         "    os.makedirs(folder, exist_ok=True)\n"
                         "    json.dump({'token': 'x', 'errors': {}}, open(os.path.join(folder, 'errors.json'), 'w'))\n"
                         "    for name in ['00.1', '00.2']:\n"
                         "        for i in range(5):\n"
                         "            np.savez(os.path.join(folder, f'{name}-{i}.npz'), output=np.float32(8.0))\n"
                         + WRONG["fx-ex1"] + "\n" + WRONG["fx-ex2"],
}
NOISE = ("import os, sys\nfor _ in range(200):\n"
         "    sys.stderr.write('2026-01-01 12:00:00.000000: I tensorflow/core/util/port.cc:153] oneDNN custom "
         "operations are on. ERROR FAILED\\n')\n"
         "os.write(2, b'E0000 00:00:1 cuda_dnn.cc:8579] Unable to register cuDNN factory\\n')\n")


def _cell(nb: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    """The cell with this id."""
    return next(cell for cell in nb.cells if cell.id == cell_id)


def _solved(student: nbformat.NotebookNode, solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A student notebook whose exercise cells hold the solution code (markers stripped), as a learner submits."""
    nb = copy.deepcopy(student)
    for cell_id in ("fx-ex1", "fx-ex2"):
        lines = _cell(solution, cell_id).source.split("\n")
        _cell(nb, cell_id).source = "\n".join(line for line in lines if "###" not in line)
    return nb


def _variant(base: nbformat.NotebookNode, edit) -> nbformat.NotebookNode:
    """A deep copy of ``base`` changed by ``edit(nb)``."""
    nb = copy.deepcopy(base)
    edit(nb)
    return nb


def _with_sources(base: nbformat.NotebookNode, **sources: str) -> nbformat.NotebookNode:
    """A copy of ``base`` with some cells' sources replaced (keys are cell ids with '_' for '-')."""
    def edit(nb: nbformat.NotebookNode) -> None:
        for key, source in sources.items():
            _cell(nb, key.replace("_", "-")).source = source
    return _variant(base, edit)


def _submissions(student: nbformat.NotebookNode, solution: nbformat.NotebookNode) -> dict[str, object]:
    """Every fixture submission: notebooks, or raw bytes for the malformed ones."""
    solved = _solved(student, solution)
    wrong = _with_sources(student, fx_ex1=WRONG["fx-ex1"], fx_ex2=WRONG["fx-ex2"])

    def drop_check(nb: nbformat.NotebookNode) -> None:
        nb.cells = [cell for cell in nb.cells if cell.id != "fx-check1"]

    def duplicate_check(nb: nbformat.NotebookNode) -> None:  # copy-paste in JupyterLab gives a new id
        nb.cells.insert(3, copy.deepcopy(_cell(nb, "fx-check2")))
        nb.cells[3]["id"] = "pasted-check"

    def edit_points(nb: nbformat.NotebookNode) -> None:
        _cell(nb, "fx-check1").metadata["nbgrader"]["points"] = 100

    subs: dict[str, object] = {
        "00_solution.ipynb": solution, "00_solution_again.ipynb": solution, "00_student.ipynb": student,
        "00_solved.ipynb": solved,
        "00_timeout.ipynb": _with_sources(solved, fx_ex2="while True:\n    pass"),
        "00_memory_bomb.ipynb": _with_sources(solved, fx_ex2="hog = []\nwhile True:\n"
                                                            "    hog.append(np.ones(25_000_000))"),
        "00_tamper_rewritten.ipynb": _with_sources(wrong, fx_check1="print('[00.1] PASSED')\n"
                                                                    "prepare_images = prepare_images"),
        "00_tamper_deleted.ipynb": _variant(solved, drop_check),
        "00_tamper_duplicated.ipynb": _variant(solved, duplicate_check),
        "00_tamper_points.ipynb": _variant(solved, edit_points),
        "00_stderr_noise.ipynb": _with_sources(solved, fx_imports=_cell(solved, "fx-imports").source + "\n" + NOISE),
        "00_empty.ipynb": b"", "00_binary.ipynb": bytes(range(256)) * 4,
        "00_bad_json.ipynb": nbformat.writes(solved)[:500].encode(),
        "00_not_a_notebook.ipynb": b'{"hello": "world", "cells": 3}',
        "00_nbformat3.ipynb": b'{"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": []}',
        "homework.ipynb": solved,
    }
    subs.update({f"00_exploit_{name}.ipynb": _with_sources(student, fx_ex1=source)
                 for name, source in EXPLOITS.items()})
    return subs


def _write(folder: Path, subs: dict[str, object]) -> None:
    """Write submissions into a folder."""
    folder.mkdir(parents=True)
    for name, content in subs.items():
        data = content if isinstance(content, bytes) else nbformat.writes(content).encode()
        (folder / name).write_bytes(data)


def _hashes(folder: Path) -> dict[str, str]:
    """SHA-256 and mtime of every file in a folder tree."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() + str(p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(out: Path) -> dict[str, dict]:
    """The JSON gradebook, keyed by submission name."""
    return {row["submission"]: row for row in json.loads((out / "gradebook.json").read_text())}


def release_fixture(root: Path) -> tuple[Path, nbformat.NotebookNode]:
    """Release the fixture chapter into ``root``; return the manifest's path and the student notebook."""
    (root / "solutions").mkdir()
    shutil.copy(FIXTURE, root / "solutions" / FIXTURE.name)
    manifest = root / "manifest.json"
    release.release(root / "solutions", root / "notebooks", manifest)
    return manifest, nbformat.read(root / "notebooks" / FIXTURE.name, as_version=4)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Release the fixture, write all submissions, grade them once; return paths, rows, hashes."""
    root = tmp_path_factory.mktemp("grading")
    manifest, student = release_fixture(root)
    solution = nbformat.read(FIXTURE, as_version=4)
    _write(root / "submitted", _submissions(student, solution))
    before = _hashes(root / "submitted")
    started = time.monotonic()
    code = grader.main([str(root / "submitted"), "--out", str(root / "out"), "--manifest", str(manifest), *LIMITS])
    return {"root": root, "manifest": manifest, "code": code, "rows": _rows(root / "out"), "before": before,
            "seconds": time.monotonic() - started}


def _row(batch, name: str) -> dict:
    """One gradebook row."""
    return batch["rows"][name]


def test_batch_writes_gradebook_and_feedback_for_every_submission(batch):
    out = batch["root"] / "out"
    assert batch["code"] == 0
    assert len(batch["rows"]) == len(list((batch["root"] / "submitted").glob("*.ipynb")))
    header = (out / "gradebook.csv").read_text().splitlines()[0].split(",")
    assert header[:6] == ["submission", "chapter", "status", "tampered", "total", "max"] and "00.1" in header
    assert len(list((out / "feedback").glob("*.md"))) == len(batch["rows"])
    assert not list(out.rglob("*.tmp"))


def test_solution_gets_full_marks_and_solved_student_too(batch):
    for name in ("00_solution.ipynb", "00_solution_again.ipynb", "00_solved.ipynb"):
        row = _row(batch, name)
        assert (row["status"], row["total"], row["max"], row["tampered"]) == ("ok", 3, 6, False), row


def test_regrading_the_solution_gives_identical_results(batch, tmp_path):
    out = tmp_path / "again"
    assert grader.main([str(batch["root"] / "submitted" / "00_solution.ipynb"), "--out", str(out),
                        "--manifest", str(batch["manifest"]), *LIMITS]) == 0
    keys = ("status", "total", "max", "points", "tampered", "reason", "exercises")
    again, first = _rows(out)["00_solution.ipynb"], _row(batch, "00_solution.ipynb")
    assert {k: again[k] for k in keys} == {k: first[k] for k in keys}


def test_fresh_student_notebook_scores_zero_with_status_ok(batch):
    row = _row(batch, "00_student.ipynb")
    assert (row["status"], row["total"], row["tampered"]) == ("ok", 0, False)
    assert all("not attempted" in e["reason"] for e in row["exercises"])


@pytest.mark.parametrize("name, reason", [
    ("00_empty.ipynb", "empty"), ("00_binary.ipynb", "binary"), ("00_bad_json.ipynb", "not valid JSON"),
    ("00_not_a_notebook.ipynb", "not a Jupyter notebook"), ("00_nbformat3.ipynb", "format 3 is not supported"),
    ("homework.ipynb", "cannot tell the chapter"),
])
def test_malformed_files_become_invalid_rows(batch, name, reason):
    row = _row(batch, name)
    assert row["status"] == "invalid" and reason in row["reason"] and row["total"] == 0


def test_endless_loop_times_out_but_other_exercises_count(batch):
    row = _row(batch, "00_timeout.ipynb")
    assert row["status"] == "timeout" and "fx-ex2" in row["reason"] and "cell limit" in row["reason"]
    assert row["points"] == {"00.1": 2, "00.2": 0, "00.3": 0}


def test_memory_bomb_kills_the_kernel_and_the_batch_goes_on(batch):
    row = _row(batch, "00_memory_bomb.ipynb")
    assert row["status"] == "kernel_died" and "700 MiB" in row["reason"] and row["total"] == 0
    assert _row(batch, "00_solved.ipynb")["total"] == 3


@pytest.mark.parametrize("name, total, note", [
    ("00_tamper_rewritten.ipynb", 0, "check cell for 00.1: source edited"),
    ("00_tamper_deleted.ipynb", 3, "check cell for 00.1 deleted"),
    ("00_tamper_duplicated.ipynb", 3, "check cell for 00.2 duplicated"),
    ("00_tamper_points.ipynb", 3, "metadata edited (nbgrader)"),
])
def test_tampering_is_flagged_and_scored_as_if_untouched(batch, name, total, note):
    row = _row(batch, name)
    assert row["tampered"] is True and row["status"] == "ok", row
    assert (row["total"], row["max"]) == (total, 6) and any(note in n for n in row["tamper_notes"]), row


@pytest.mark.parametrize("name", sorted(f"00_exploit_{name}.ipynb" for name in EXPLOITS))
def test_exploits_score_zero(batch, name):
    row = _row(batch, name)
    assert row["total"] == 0, row


def test_exiting_the_kernel_is_reported(batch):
    assert _row(batch, "00_exploit_os_exit.ipynb")["status"] == "kernel_died"
    assert "fx-ex1" in _row(batch, "00_exploit_os_exit.ipynb")["reason"]
    assert _row(batch, "00_exploit_sys_exit.ipynb")["status"] == "ok"
    killed = _row(batch, "00_exploit_kill_grader.ipynb")
    assert killed["status"] == "kernel_died" and "worker was stopped" in killed["reason"]


@pytest.mark.parametrize("name", ["00_exploit_fake_results_file.ipynb", "00_exploit_patch_hidden_runner.ipynb"])
def test_planted_results_and_patched_runner_are_ignored(batch, name):
    row = _row(batch, name)
    assert row["exercises"][0]["reason"].startswith("on a hidden test:"), row  # its own wrong answer, judged
    assert not row["cell_errors"], row  # the exploit itself ran


def test_stderr_noise_costs_nothing(batch):
    row = _row(batch, "00_stderr_noise.ipynb")
    assert (row["status"], row["total"], row["reason"]) == ("ok", 3, "")


def test_submissions_are_byte_identical_after_grading(batch):
    assert _hashes(batch["root"] / "submitted") == batch["before"]


def test_feedback_gives_reasons_and_hints_not_answers(batch):
    feedback = batch["root"] / "out" / "feedback"
    text = (feedback / feedback_name("00_exploit_patch_numpy.ipynb")).read_text()
    assert "score **0 / 6**" in text and "not yet: on a hidden test:" in text and "Hints:" in text
    assert "/ 255" not in text and "np.prod" not in text
    tampered = (feedback / feedback_name("00_tamper_deleted.ipynb")).read_text()
    assert "original checks" in tampered


def test_out_inside_submissions_is_refused(batch, capsys):
    submitted = batch["root"] / "submitted"
    args = ["--manifest", str(batch["manifest"])]
    assert grader.main([str(submitted), "--out", str(submitted / "grades"), *args]) == 2
    assert grader.main([str(submitted / "00_student.ipynb"), "--out", str(submitted), *args]) == 2
    assert "never writes there" in capsys.readouterr().err
    assert not (submitted / "grades").exists()


def test_missing_manifest_is_a_clear_usage_error(tmp_path, capsys):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "00_x.ipynb").write_text("{}")
    assert grader.main([str(tmp_path / "in" / "00_x.ipynb"), "--out", str(tmp_path / "out"),
                        "--manifest", str(tmp_path / "none.json")]) == 2
    assert "run `python -m course_utils release` first" in capsys.readouterr().err


@pytest.mark.parametrize("bwrap", [pytest.param(True, marks=pytest.mark.skipif(
    shutil.which("bwrap") is None, reason="bubblewrap is not installed")), False], ids=["sandboxed", "unsandboxed"])
def test_total_timeout_kills_worker_kernel_and_orphans(bwrap):
    marker = f"{time.time_ns() % 10**6}.25"  # a unique argument, to find the orphan afterwards
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import subprocess, time\nsubprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        f"time.sleep(120)")])
    job = Job(notebook=nbformat.writes(nb), cell_timeout=300, probe_timeout=300)
    isolation = Isolation(shutil.which("bwrap") if bwrap else None, kept=needed_under_tmp())  # a checkout under /tmp
    deadline = time.monotonic() + 60
    outcome = run_job(job, Limits(cell_timeout=300, total_timeout=8, memory_mb=2000), isolation, grader.kernel_env())
    assert outcome.status == "timeout" and "total limit of 8 s" in outcome.reason, (outcome.status, outcome.reason)
    assert time.monotonic() < deadline
    time.sleep(0.5)
    left = [p for p in psutil.process_iter(["cmdline", "status"])
            if p.info["cmdline"] == ["sleep", marker] and p.info["status"] != psutil.STATUS_ZOMBIE]
    assert not left


def test_cli_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as raised:
        grader.main(["--help"])
    out = capsys.readouterr().out
    assert raised.value.code == 0
    assert all(option in out for option in ("--chapter", "--jobs", "--cell-timeout", "--total-timeout", "--memory-mb"))


# Feedback file names: one file per submission, whatever the names look like.

LOOKALIKES = [("alice/00_x.ipynb", "alice__00_x.ipynb"), ("张三/00_x.ipynb", "李四/00_x.ipynb"),
              ("anna maria/00_x.ipynb", "anna_maria/00_x.ipynb")]


@pytest.mark.parametrize("first, second", LOOKALIKES)
def test_feedback_names_of_lookalike_submissions_differ(first, second):
    assert feedback_name(first) != feedback_name(second)


def test_feedback_names_are_readable_stable_and_safe():
    assert feedback_name("alice/00_x.ipynb") == "alice__00_x-720312a2.md"  # the same in every run and process
    assert feedback_name("张三/00_x.ipynb").startswith("张三__00_x-")
    assert feedback_name("anna maria/00_x.ipynb").startswith("anna_maria__00_x-")
    for name in (feedback_name(".hidden/00_x.ipynb"), feedback_name("a/b:c*?<>|\\/00.ipynb"),
                 feedback_name("长" * 300 + "/00_x.ipynb")):
        assert not name.startswith(".") and "/" not in name and len(name.encode()) <= 255, name
        assert re.fullmatch(r"[\w.-]+-[0-9a-f]{8}\.md", name), name


def test_gradebook_writes_one_feedback_file_per_lookalike_submission(tmp_path):
    names = [name for pair in LOOKALIKES for name in pair]
    rows = [Row(submission=name, path=name, status="ok", grader_version="test") for name in names]
    write_gradebook(rows, tmp_path)
    files = sorted((tmp_path / "feedback").iterdir())
    assert len(files) == len(names)
    assert sorted(file.read_text().splitlines()[0] for file in files) == sorted(
        f"# Feedback on `{name}`" for name in names)


# The hidden runner, in this process: what the grader's probe cells do in the kernel.

CHAPTER_00 = chapter_exercises("00")


def _right_prepare_images(images):
    return (np.asarray(images).astype(np.float32) / 255.0)[..., None]


def _verdicts(namespace: dict, seconds: float = 30.0) -> dict[str, str]:
    """The grader's verdict per exercise of chapter 00 on what the runner returns for ``namespace``."""
    cases = grader.make_cases(CHAPTER_00)
    specs = hidden.load_module("_spec", str(grader.spec_file("00")))
    return {e.id: grader.judge_exercise(e, cases[e.id], hidden.probe_all(e, namespace, cases[e.id], seconds))
            for e in specs.EXERCISES}


def test_probe_cell_is_a_short_call_into_the_runner_module():
    source = hidden.cell_source("/x/ch00.py", "00.1", [{"a": 1}], 5, "n0nce")
    compile(source, "<probe cell>", "exec")
    assert len(source.splitlines()) < 15 and str(Path(hidden.__file__).resolve()) in source
    assert "spec_from_file_location" in source and "'n0nce'" in source and "5.0" in source


def test_spec_file_is_the_module_file():
    assert grader.spec_file("00") == Path(ch00.__file__).resolve()


def test_runner_results_are_accepted_by_the_judge_and_errors_reported():
    verdicts = _verdicts({"prepare_images": _right_prepare_images})
    assert verdicts["00.1"] == "" and verdicts["00.2"] == "`compression_ratio` is not defined", verdicts


def test_runner_loads_the_specs_afresh_from_their_file(monkeypatch):
    monkeypatch.setattr(ch00, "EXERCISES", [])  # what a notebook could do to the imported module
    assert _verdicts({"prepare_images": _right_prepare_images})["00.1"] == ""


def test_runner_limits_time_and_rejects_objects():
    def slow(images):
        time.sleep(5)

    def boxed(input_shape, code_size):
        return object()

    verdicts = _verdicts({"prepare_images": slow, "compression_ratio": boxed}, seconds=0.3)
    assert verdicts["00.1"] == "took longer than 0.3 s", verdicts
    assert "not a number or a numeric array" in verdicts["00.2"], verdicts
    assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL


# The real chapters, trimmed to their exercise and check cells (plus parameters and imports), in one batch.

KEPT_TAGS = {"parameters", "exercise", "check"}
REAL_CHAPTERS = sorted({path.name[:2] for path in (REPO / "solutions").glob("[0-9][0-9]_*.ipynb")
                        if chapter_exercises(path.name[:2])})
STUDENT_CHAPTER = "09"  # a stub scores zero the same way in every chapter: one released student notebook suffices


def _imports(source: str) -> str:
    """The top-level import statements of a cell's source ('' when it has none or is not plain Python)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    return "\n".join(ast.get_source_segment(source, node) for node in tree.body
                     if isinstance(node, (ast.Import, ast.ImportFrom)))


def _trimmed(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with only its parameters, exercise and check cells, and the imports of the cells before."""
    first = min(i for i, cell in enumerate(nb.cells) if "exercise" in cell.metadata.get("tags", []))
    cells = []
    for index, cell in enumerate(nb.cells):
        if KEPT_TAGS & set(cell.metadata.get("tags", [])):
            cells.append(cell)
        elif index < first and cell.cell_type == "code" and _imports(cell.source):
            cells.append(nbformat.v4.new_code_cell(_imports(cell.source)))
    trimmed = copy.deepcopy(nb)
    trimmed.cells = cells
    return trimmed


@pytest.fixture(scope="module")
def real_batch(tmp_path_factory):
    """Release the real solutions, grade every trimmed solution and one trimmed student notebook; return the rows."""
    root = tmp_path_factory.mktemp("real")
    solutions, notebooks, manifest = root / "solutions", root / "notebooks", root / "manifest.json"
    shutil.copytree(REPO / "solutions", solutions)  # release updates solutions' metadata: never the repository's
    release.release(solutions, notebooks, manifest)
    for kind, folder in (("solution", solutions), ("student", notebooks)):
        (root / "submitted" / kind).mkdir(parents=True)
        for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
            if path.name[:2] in (REAL_CHAPTERS if kind == "solution" else [STUDENT_CHAPTER]):
                nbformat.write(_trimmed(nbformat.read(path, as_version=4)), root / "submitted" / kind / path.name)
    with pytest.MonkeyPatch.context() as patch:  # fixed hidden cases: a test must not pass or fail by the draw
        patch.setattr(grader.secrets, "randbits", lambda bits: 20261130)
        assert grader.main([str(root / "submitted"), "--out", str(root / "out"), "--manifest", str(manifest),
                            "--cell-timeout", "120", "--total-timeout", "300", "--jobs", "4"]) == 0
    return {row["submission"]: row for row in _rows(root / "out").values()}


@pytest.mark.slow
@pytest.mark.parametrize("chapter", REAL_CHAPTERS)
def test_real_chapter_solution_gets_full_marks(real_batch, chapter):
    solution = next(row for name, row in real_batch.items() if name.startswith(f"solution/{chapter}_"))
    lost = {e["id"]: e.get("reason") for e in solution["exercises"] if e["points"] < e["max_points"]}
    assert (solution["status"], solution["total"], solution["tampered"]) == ("ok", solution["max"], False), lost
    assert solution["max"] > 0


@pytest.mark.slow
def test_real_student_notebook_scores_zero(real_batch):
    student = next(row for name, row in real_batch.items() if name.startswith(f"student/{STUDENT_CHAPTER}_"))
    assert (student["status"], student["total"], student["tampered"]) == ("ok", 0, False), student
    assert student["max"] > 0
