"""Grader: real kernels on fixture submissions (correct, fresh, malformed, runaway, tampered, exploits)."""
from __future__ import annotations

import copy
import hashlib
import json
import shutil
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from course_utils.exercises import grader, release
from course_utils.exercises.sandbox import Job, Limits, run_job

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


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Release the fixture, write all submissions, grade them once; return paths, rows, hashes."""
    root = tmp_path_factory.mktemp("grading")
    (root / "solutions").mkdir()
    shutil.copy(FIXTURE, root / "solutions" / FIXTURE.name)
    manifest = root / "manifest.json"
    release.release(root / "solutions", root / "notebooks", manifest)
    student = nbformat.read(root / "notebooks" / FIXTURE.name, as_version=4)
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
        assert (row["status"], row["total"], row["max"], row["tampered"]) == ("ok", 3, 3, False), row


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
    assert row["points"] == {"00.1": 2, "00.2": 0}


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
    assert (row["total"], row["max"]) == (total, 3) and any(note in n for n in row["tamper_notes"]), row


@pytest.mark.parametrize("name", sorted(f"00_exploit_{name}.ipynb" for name in EXPLOITS))
def test_exploits_score_zero(batch, name):
    row = _row(batch, name)
    assert row["total"] == 0, row


def test_exiting_the_kernel_is_reported(batch):
    assert _row(batch, "00_exploit_os_exit.ipynb")["status"] == "kernel_died"
    assert "fx-ex1" in _row(batch, "00_exploit_os_exit.ipynb")["reason"]
    assert _row(batch, "00_exploit_sys_exit.ipynb")["status"] == "ok"
    killed = _row(batch, "00_exploit_kill_grader.ipynb")
    assert killed["status"] == "kernel_died" and "signal 9" in killed["reason"]


def test_planted_results_are_rejected(batch):
    row = _row(batch, "00_exploit_fake_results_file.ipynb")
    assert row["exercises"][0]["reason"].startswith("on a hidden test:"), row  # its own wrong answer, judged


def test_stderr_noise_costs_nothing(batch):
    row = _row(batch, "00_stderr_noise.ipynb")
    assert (row["status"], row["total"], row["reason"]) == ("ok", 3, "")


def test_submissions_are_byte_identical_after_grading(batch):
    assert _hashes(batch["root"] / "submitted") == batch["before"]


def test_feedback_gives_reasons_and_hints_not_answers(batch):
    text = (batch["root"] / "out" / "feedback" / "00_exploit_patch_numpy.md").read_text()
    assert "score **0 / 3**" in text and "not yet: on a hidden test:" in text and "Hints:" in text
    assert "/ 255" not in text and "np.prod" not in text
    tampered = (batch["root"] / "out" / "feedback" / "00_tamper_deleted.md").read_text()
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


def test_total_timeout_kills_worker_and_kernel(tmp_path):
    pid_file = tmp_path / "pid"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)")])
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    job = Job(notebook=nbformat.writes(nb), hidden_source="pass", cases=b"", hidden_dir=str(tmp_path / "h"),
              result_path=str(tmp_path / "result.json"), kernel_cwd=str(cwd), kernel_env=grader.kernel_env(),
              cell_timeout=300, hidden_timeout=300)
    deadline = time.monotonic() + 60
    outcome = run_job(job, Limits(cell_timeout=300, total_timeout=8, memory_mb=2000))
    assert outcome.status == "timeout" and "total limit of 8 s" in outcome.reason
    assert time.monotonic() < deadline and pid_file.exists()
    kernel = int(pid_file.read_text())
    time.sleep(0.5)
    assert not psutil.pid_exists(kernel) or psutil.Process(kernel).status() == psutil.STATUS_ZOMBIE


def test_cli_help_lists_the_options(capsys):
    with pytest.raises(SystemExit) as raised:
        grader.main(["--help"])
    out = capsys.readouterr().out
    assert raised.value.code == 0
    assert all(option in out for option in ("--chapter", "--jobs", "--cell-timeout", "--total-timeout", "--memory-mb"))


REAL_SOLUTIONS = sorted((REPO / "solutions").glob("00_*.ipynb"))


@pytest.mark.slow
@pytest.mark.skipif(not REAL_SOLUTIONS, reason="solutions/00_*.ipynb is not written yet")
def test_real_chapter_00_solution_full_marks_and_student_zero(tmp_path):
    notebooks, manifest = tmp_path / "notebooks", tmp_path / "manifest.json"
    release.release(REPO / "solutions", notebooks, manifest)
    submitted = tmp_path / "submitted"
    submitted.mkdir()
    shutil.copy(REAL_SOLUTIONS[0], submitted / "00_solution.ipynb")
    shutil.copy(notebooks / REAL_SOLUTIONS[0].name, submitted / "00_student.ipynb")
    assert grader.main([str(submitted), "--out", str(tmp_path / "out"), "--manifest", str(manifest),
                        "--cell-timeout", "300", "--total-timeout", "500"]) == 0
    rows = _rows(tmp_path / "out")
    solution, student = rows["00_solution.ipynb"], rows["00_student.ipynb"]
    assert (solution["status"], solution["total"]) == ("ok", solution["max"]) and solution["max"] > 0, solution
    assert (student["status"], student["total"]) == ("ok", 0), student
