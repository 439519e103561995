"""Grading at scale and under failure: journal and resume, shards and merge, interruption, integrity, no bwrap."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from test_grader import release_fixture

from course_utils.grading import grader, isolation, merge
from course_utils.grading.gradebook import Row
from course_utils.grading.integrity import fingerprint
from course_utils.grading.submissions import Submission

FIXTURE = Path(__file__).parent / "fixtures" / "00_fixture.ipynb"
REPO = Path(__file__).resolve().parents[1]
LIMITS = ["--cell-timeout", "20", "--total-timeout", "120", "--memory-mb", "900"]
VOLATILE = ("duration_s", "path")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The released fixture: a manifest and a class of five (two run in kernels, three are invalid)."""
    root = tmp_path_factory.mktemp("scale")
    release_fixture(root)
    submitted = root / "submitted"
    for name in ("a", "b"):
        (submitted / name).mkdir(parents=True)
    shutil.copy(FIXTURE, submitted / "a" / "00_solution.ipynb")
    shutil.copy(root / "notebooks" / FIXTURE.name, submitted / "b" / "00_student.ipynb")
    (submitted / "a" / "00_empty.ipynb").write_text("")
    (submitted / "b" / "00_binary.ipynb").write_bytes(bytes(range(256)))
    (submitted / "b" / "homework.ipynb").write_text("{}")
    return root


def _grade(course: Path, out: Path, *extra: str) -> int:
    """Grade the class into ``out``."""
    return grader.main([str(course / "submitted"), "--out", str(out), "--manifest", str(course / "manifest.json"),
                        *LIMITS, *extra])


def _stable(out: Path) -> dict[str, dict]:
    """The gradebook rows without what differs between runs (wall time, absolute path)."""
    rows = json.loads((out / "gradebook.json").read_text())
    return {row["submission"]: {k: v for k, v in row.items() if k not in VOLATILE} for row in rows}


def test_three_shards_merged_give_the_gradebook_of_one_run(course, tmp_path):
    assert _grade(course, tmp_path / "one") == 0
    for number in (1, 2, 3):
        assert _grade(course, tmp_path / f"shard{number}", "--shard", f"{number}/3") == 0
    shards = [str(tmp_path / f"shard{number}") for number in (1, 2, 3)]
    assert merge.main([*shards, "--out", str(tmp_path / "merged")]) == 0
    assert _stable(tmp_path / "merged") == _stable(tmp_path / "one")
    assert len(_stable(tmp_path / "one")) == 5
    assert json.loads((tmp_path / "merged" / "run.json").read_text())["merged_from"] == ["1/3", "2/3", "3/3"]
    assert merge.main([*shards[:2], "--out", str(tmp_path / "partial")]) == 2  # a missing shard is refused


def test_shards_split_the_class_without_overlap():
    subs = [Submission(Path(f"{n}.ipynb"), f"{n}.ipynb") for n in range(10)]
    parts = [grader.shard_of(subs, (k, 3)) for k in (1, 2, 3)]
    assert sorted(s.label for part in parts for s in part) == sorted(s.label for s in subs)
    with pytest.raises(ValueError, match="K/N"):
        grader.parse_shard("4/3")


def test_an_interrupted_run_resumes_from_its_journal(course, tmp_path):
    out = tmp_path / "out"
    assert _grade(course, out) == 0
    lines = (out / "journal.jsonl").read_text().splitlines()
    solution = next(line for line in lines if '"a/00_solution.ipynb"' in line)
    (out / "journal.jsonl").write_text(f"{lines[0]}\n{solution}\n{{\"cut short")  # killed while writing a row
    started = time.monotonic()
    assert _grade(course, out) == 0
    assert time.monotonic() - started < 60
    rows = json.loads((out / "gradebook.json").read_text())
    kept = next(row for row in rows if row["submission"] == "a/00_solution.ipynb")
    assert kept == json.loads(solution) and len(rows) == 5


@pytest.mark.slow
def test_sigterm_stops_the_run_cleanly_and_the_rerun_finishes_it(course, tmp_path):
    slow = nbformat.read(FIXTURE, as_version=4)
    slow.cells[1].source += "\nimport time\ntime.sleep(8)"
    (tmp_path / "in").mkdir()
    nbformat.write(slow, tmp_path / "in" / "00_slow.ipynb")
    for name in ("00_empty.ipynb", "00_also_empty.ipynb"):
        (tmp_path / "in" / name).write_text("")
    command = [sys.executable, "-m", "course_utils", "grade", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
               "--manifest", str(course / "manifest.json"), "--jobs", "1", *LIMITS]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    journal = tmp_path / "out" / "journal.jsonl"
    deadline = time.monotonic() + 60
    while not (journal.exists() and len(journal.read_text().splitlines()) >= 3) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # the slow notebook is running now
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 128 + signal.SIGTERM
    assert len(journal.read_text().splitlines()) == 3 and not (tmp_path / "out" / "gradebook.json").exists()
    finished = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0 and "resuming: 2 row(s) kept" in finished.stdout, finished.stdout
    rows = {row["submission"]: row for row in json.loads((tmp_path / "out" / "gradebook.json").read_text())}
    assert rows["00_slow.ipynb"]["total"] == 3 and len(rows) == 3


def test_changed_code_or_submissions_are_integrity_problems(course, tmp_path):
    manifest = course / "manifest.json"
    before = fingerprint(manifest)
    before["files"]["course_utils/grading/grader.py"] = "0" * 64
    path = tmp_path / "00_x.ipynb"
    path.write_text("{}")
    row = Row(submission="00_x.ipynb", path=str(path), status="ok", grader_version="t", sha256="1" * 64)
    problems = grader.verify_after([row], [Submission(path, "00_x.ipynb")], before, manifest)
    assert problems == ["grading code changed during the run: course_utils/grading/grader.py",
                        "00_x.ipynb changed during the run"]
    assert row.review == ["the file changed while the batch was being graded"]


def test_without_bubblewrap_grading_warns_and_marks_rows(course, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "00_empty.ipynb").write_text("")
    args = [str(folder), "--out", str(tmp_path / "out"), "--manifest", str(course / "manifest.json")]
    assert grader.main(args) == 0
    assert "UNSANDBOXED" in capsys.readouterr().err
    assert (tmp_path / "out" / "gradebook.csv").read_text().splitlines()[1].split(",")[-3] == "false"
    assert grader.main([*args, "--require-sandbox"]) == 2
    assert "bubblewrap" in capsys.readouterr().err


def test_sandbox_command_hides_folders_and_clears_the_environment(tmp_path):
    sandbox = isolation.Isolation("/usr/bin/bwrap", (str(tmp_path), "/srv/solutions"))
    argv = isolation.bwrap_command(sandbox, ["python"], {"PATH": "/usr/bin", "HOME": "/tmp/home"})
    assert argv[:5] == ["/usr/bin/bwrap", "--ro-bind", "/", "/", "--dev"]
    assert "--unshare-all" in argv and "--die-with-parent" in argv and "--clearenv" in argv
    assert ["--tmpfs", "/srv/solutions"] == argv[argv.index("/srv/solutions") - 1:argv.index("/srv/solutions") + 1]
    assert str(tmp_path) not in argv  # under /tmp, which is a fresh tmpfs in the sandbox anyway
