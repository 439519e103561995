"""Adversarial grading: a hostile or dishonest class graded in one batch, plus the static review on its own.

Attacks on the grader, the machine or other students need the bubblewrap sandbox and are graded only when
``bwrap`` is installed; cheats and fairness cases are graded either way. Each case states its expected
status, score and review flag.
"""
from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest
from test_grader import release_fixture

from course_utils.exercises import chapter_exercises
from course_utils.grading import grader
from course_utils.grading.gradebook import feedback_name
from course_utils.grading.integrity import PACKAGE
from course_utils.grading.review import reference_names, review_notebook

FIXTURE = Path(__file__).parent / "fixtures" / "00_fixture.ipynb"
REPO = Path(__file__).resolve().parents[1]
SANDBOX = shutil.which("bwrap") is not None
LIMITS = ["--cell-timeout", "10", "--total-timeout", "120", "--memory-mb", "900", "--jobs", "2"]
SECRET = "s3cret-of-the-grader"

WRONG1 = "def prepare_images(images):\n    return np.zeros(np.shape(images) + (1,), np.float32)"
WRONG2 = "def compression_ratio(input_shape, code_size):\n    return 1.0"
RIGHT1 = ("def prepare_images(images):\n"
          "    return (np.asarray(images, dtype=np.float32) / np.float32(255.0))[..., None]")
RIGHT2 = "def compression_ratio(input_shape, code_size):\n    return float(np.prod(input_shape)) / code_size"

# Cheats: (source of the first exercise cell, review reason expected, whether the sandbox must make it score 0).
CHEATS = {
    "import_reference": ("from course_utils.data import prepare_images", "imports the exercise reference"),
    "importlib": (("import importlib\nprepare_images = getattr(importlib.import_module('course_utils.' + 'da' + 'ta'),"
                  " 'prepare_' + 'images')"), "imports modules dynamically"),
    "check_outside": ("prepare_images = check('00.1', {})", "calls check() outside its check cell"),
    "read_solutions": (("import json, os, course_utils\n"
                       "root = os.path.dirname(os.path.dirname(course_utils.__file__))\n"
                       "nb = json.load(open(os.path.join(root, 'solutions', '00_setup_and_why_autoencoders.ipynb')))\n"
                       "exec(''.join(c['source'] if isinstance(c['source'], str) else ''.join(c['source'])\n"
                       "             for c in nb['cells'] if 'prepare_images' in str(c['source'])))"),
                       "reads course files"),
    "input_transformer": ("def swap(lines):\n    return [line.replace('runner.run(namespace,', 'runner.run({**namespace,"
                          " \"prepare_images\": __import__(\"course_utils.data\", fromlist=[\"x\"]).prepare_images},')"
                          " for line in lines]\n\nget_ipython().input_transformers_cleanup.append(swap)\n" + WRONG1,
                          "changes IPython input transformers"),
    "settrace": ("import sys\nsys.settrace(lambda *args: None)\n" + WRONG1, "installs a tracing hook"),
    "patch_any": ("import builtins\nbuiltins.any = lambda *a, **k: False\n" + WRONG1, "patches builtins.any"),
    "patch_savez": ("np.savez = lambda *a, **k: None\n" + WRONG1, "patches numpy.savez"),
    "replace_exercise": ("import course_utils.exercises.core as core\n\nclass Exercise:\n    pass\n\n"
                         "core.Exercise = Exercise\n" + WRONG1, "imports grading internals"),
    "snapshot_store": ("globals()['_course_grader_store'] = {'prepare_images': lambda images: images}\n" + WRONG1,
                       "touches the grader's own names"),
    "forge_results": (("from IPython.display import publish_display_data\n\n"
                      "def prepare_images(images):\n"
                      "    publish_display_data({'application/vnd.course-grader.probe+json': {'results': []}})\n"
                      "    return np.zeros(np.shape(images) + (1,), np.float32)"), "uses IPython internals"),
}


def _attacks(root: Path) -> dict[str, tuple[str, str]]:
    """Attacks on the grader, the machine and other students: (source of the second exercise cell, review reason)."""
    victim, out = root / "submitted" / "00_z_victim.ipynb", root / "out"
    return {
        "proc_kill": ("import os, signal\nfor pid in os.listdir('/proc'):\n"
                      "    if pid.isdigit() and int(pid) != os.getpid():\n"
                      "        try:\n"
                      "            command = open(f'/proc/{pid}/cmdline', 'rb').read()\n"
                      "        except OSError:\n            continue\n"
                      "        if b'pytest' in command or b'course_utils' in command:\n"
                      "            os.kill(int(pid), signal.SIGKILL)\n" + WRONG2, "reads /proc"),
        "rewrite_next": (f"import glob\nfor path in glob.glob({str(victim.parent)!r} + '/*.ipynb') + [{str(victim)!r}]:\n"
                         f"    try:\n        open(path, 'w').write('{{}}')\n    except OSError:\n        pass\n"
                         + WRONG2, "opens notebook files"),
        "startup_file": ("import os\nfolder = os.path.expanduser('~/.ipython/profile_default/startup')\n"
                         "os.makedirs(folder, exist_ok=True)\n"
                         "open(os.path.join(folder, '00-zero.py'), 'w').write('import numpy\\nnumpy.float32 = "
                         "numpy.float64\\n')\n" + WRONG2, "writes IPython configuration or startup files"),
        "append_spec": ("import course_utils.exercises.ch00 as specs\ntry:\n"
                        "    open(specs.__file__, 'a').write('\\nEXERCISES[0].judge.__defaults__ = None\\n')\n"
                        "except OSError:\n    pass\n" + WRONG2, "reads course files"),
        "double_fork": (f"import os, time\nif os.fork() == 0:\n    if os.fork() == 0:\n        time.sleep(3)\n"
                        f"        os.makedirs({str(out)!r}, exist_ok=True)\n"
                        f"        open({str(out / 'gradebook.csv')!r}, 'w').write('owned')\n        os._exit(0)\n"
                        f"    os._exit(0)\n" + WRONG2, "starts processes"),
        "environ": ("import glob, os\nleaked = " + repr(SECRET) + " in str(dict(os.environ))\n"
                    "for name in glob.glob('/proc/*/environ'):\n    try:\n"
                    "        leaked = leaked or " + repr(SECRET.encode()) + " in open(name, 'rb').read()\n"
                    "    except OSError:\n        pass\n\n"
                    "def compression_ratio(input_shape, code_size):\n"
                    "    return float(np.prod(input_shape)) / code_size if leaked else 1.0", "reads /proc"),
    }


def _cell(nb: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    """The cell with this id."""
    return next(cell for cell in nb.cells if cell.id == cell_id)


def _with(student: nbformat.NotebookNode, ex1: str = RIGHT1, ex2: str = RIGHT2) -> nbformat.NotebookNode:
    """The student notebook with both exercise cells filled in."""
    nb = copy.deepcopy(student)
    _cell(nb, "fx-ex1").source, _cell(nb, "fx-ex2").source = ex1, ex2
    return nb


def _fairness(student: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Honest submissions the old grader scored unfairly."""
    rebind = _with(student, "SCALE = 255.0\n\ndef prepare_images(images):\n"
                            "    return (np.asarray(images, np.float32) / np.float32(SCALE))[..., None]")
    rebind.cells.append(nbformat.v4.new_code_cell("SCALE = 1.0  # reused later for something else"))
    same_id = _with(student)
    _cell(same_id, "fx-ex1")["id"] = "fx-check1"  # only the first cell with an id is found by _cell
    return {"00_fair_rebind.ipynb": rebind, "00_fair_exercise_has_check_id.ipynb": same_id,
            "张三/00_x.ipynb": _with(student), "李四/00_x.ipynb": _with(student, WRONG1, WRONG2),
            "00_z_victim.ipynb": _with(student), "00_z_wrong.ipynb": _with(student, WRONG1, WRONG2)}


def _write(path: Path, nb: nbformat.NotebookNode) -> None:
    """Write a notebook as plain JSON (duplicate cell ids kept, as a hand-edited file would have them)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")


def _temp_folders() -> set[str]:
    """The grader's scratch folders in the temporary directory."""
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("course-grade-")}


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """Grade the whole hostile class once; return the rows, the output folder and what to compare afterwards."""
    root = tmp_path_factory.mktemp("hostile")
    manifest, student = release_fixture(root)
    submitted = root / "submitted"
    for name, nb in _fairness(student).items():
        _write(submitted / name, nb)
    for name, (source, _) in CHEATS.items():
        _write(submitted / f"00_cheat_{name}.ipynb", _with(student, source, WRONG2))
    if SANDBOX:
        for name, (source, _) in _attacks(root).items():
            _write(submitted / f"00_attack_{name}.ipynb", _with(student, WRONG1, source))
    shutil.copy(REPO / "notebooks" / "01_dense_autoencoder.ipynb", submitted / "00_other_chapter.ipynb")
    (submitted / "00_link_solution.ipynb").symlink_to(FIXTURE.resolve())
    (submitted / "00_link_victim.ipynb").symlink_to(submitted / "00_z_victim.ipynb")
    (submitted / "00_folder.ipynb").mkdir()
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in submitted.rglob("*.ipynb") if p.is_file()}
    spec = (PACKAGE / "exercises" / "ch00.py").read_bytes()
    temps = _temp_folders()
    os.environ["GRADER_SECRET_TOKEN"] = SECRET
    try:
        code = grader.main([str(submitted), "--out", str(root / "out"), "--manifest", str(manifest), *LIMITS])
    finally:
        del os.environ["GRADER_SECRET_TOKEN"]
    rows = {row["submission"]: row for row in json.loads((root / "out" / "gradebook.json").read_text())}
    return {"code": code, "rows": rows, "root": root, "before": before, "spec": spec, "temps": temps}


def _row(attacked, name: str) -> dict:
    """One row of the hostile batch."""
    return attacked["rows"][name]


def test_batch_completes_with_a_row_per_submission_and_clean_integrity(attacked):
    root = attacked["root"]
    assert attacked["code"] == 0
    assert json.loads((root / "out" / "run.json").read_text())["problems"] == []
    assert len(attacked["rows"]) == len(list((root / "submitted").rglob("*.ipynb")))
    assert all(not name.startswith("/") for name in attacked["rows"])
    assert len((root / "out" / "journal.jsonl").read_text().splitlines()) == len(attacked["rows"]) + 1
    assert _temp_folders() <= attacked["temps"]


def test_submissions_and_package_are_unchanged(attacked):
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in attacked["before"]} == attacked["before"]
    assert (PACKAGE / "exercises" / "ch00.py").read_bytes() == attacked["spec"]


@pytest.mark.parametrize("name", ["00_fair_rebind.ipynb", "00_fair_exercise_has_check_id.ipynb", "张三/00_x.ipynb",
                                  "00_z_victim.ipynb"])
def test_honest_submissions_get_full_marks_unflagged(attacked, name):
    row = _row(attacked, name)
    assert (row["status"], row["total"], row["max"], row["tampered"], row["review"]) == ("ok", 3, 6, False, []), row
    assert row["sandboxed"] is SANDBOX


def test_wrong_submissions_score_zero(attacked):
    for name in ("00_z_wrong.ipynb", "李四/00_x.ipynb"):
        assert (_row(attacked, name)["status"], _row(attacked, name)["total"]) == ("ok", 0)


def test_unicode_folders_keep_their_names_and_feedback_files(attacked):
    feedback = attacked["root"] / "out" / "feedback"
    for name in ("张三/00_x.ipynb", "李四/00_x.ipynb"):
        assert (feedback / feedback_name(name)).read_text().startswith(f"# Feedback on `{name}`")


@pytest.mark.parametrize("name", sorted(CHEATS))
def test_cheats_are_flagged_with_the_reason(attacked, name):
    row = _row(attacked, f"00_cheat_{name}.ipynb")
    assert any(CHEATS[name][1] in note for note in row["review"]), row["review"]
    assert row["points"]["00.2"] == 0


@pytest.mark.parametrize("name", ["settrace", "patch_any", "patch_savez", "replace_exercise", "snapshot_store",
                                  "forge_results"])
def test_cheats_that_only_tamper_with_the_kernel_earn_nothing(attacked, name):
    assert _row(attacked, f"00_cheat_{name}.ipynb")["total"] == 0


@pytest.mark.skipif(not SANDBOX, reason="the solutions are hidden by the bubblewrap sandbox")
def test_solutions_are_out_of_reach(attacked):
    assert _row(attacked, "00_cheat_read_solutions.ipynb")["points"]["00.1"] == 0


@pytest.mark.skipif(not SANDBOX, reason="attacks are graded only inside the bubblewrap sandbox")
@pytest.mark.parametrize("name", ["proc_kill", "rewrite_next", "startup_file", "append_spec", "double_fork",
                                  "environ"])
def test_attacks_are_contained_and_flagged(attacked, name):
    row = _row(attacked, f"00_attack_{name}.ipynb")
    reason = _attacks(attacked["root"])[name][1]
    assert row["total"] == 0 and row["sandboxed"] is True, row
    assert any(reason in note for note in row["review"]), row["review"]


@pytest.mark.skipif(not SANDBOX, reason="attacks are graded only inside the bubblewrap sandbox")
def test_a_double_forked_process_cannot_touch_the_gradebook_later(attacked):
    time.sleep(4)
    assert (attacked["root"] / "out" / "gradebook.csv").read_text().startswith("submission,")


def test_notebook_of_another_chapter_is_rejected_fast(attacked):
    row = _row(attacked, "00_other_chapter.ipynb")
    assert row["status"] == "invalid" and row["duration_s"] < 1, row
    assert "chapter 01" in row["reason"] and "chapter 00" in row["reason"]


@pytest.mark.parametrize("name, reason", [("00_link_solution.ipynb", "symbolic link"),
                                          ("00_link_victim.ipynb", "symbolic link"), ("00_folder.ipynb", "folder")])
def test_links_and_folders_are_invalid_rows(attacked, name, reason):
    row = _row(attacked, name)
    assert row["status"] == "invalid" and reason in row["reason"] and row["total"] == 0, row


# The static review alone: every cheat's source is flagged, the course's own notebooks are not.

@pytest.mark.parametrize("path", sorted(REPO.glob("solutions/[0-9][0-9]_*.ipynb")) +
                         sorted(REPO.glob("notebooks/[0-9][0-9]_*.ipynb")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_course_notebooks_are_not_flagged(path):
    nb = nbformat.read(path, as_version=4)
    check_ids = {cell.id for cell in nb.cells if cell.get("metadata", {}).get("course", {}).get("check")}
    assert review_notebook(nb, check_ids, reference_names(chapter_exercises(path.name[:2]))) == []


def _review(source: str, chapter: str = "00") -> list[str]:
    """Findings for one learner cell of a chapter."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    return review_notebook(nb, set(), reference_names(chapter_exercises(chapter)))


@pytest.mark.parametrize("source, reason", [
    *CHEATS.values(),
    ("import ctypes\nctypes.CDLL(None)", "loads native code"),
    ("import subprocess\nsubprocess.run(['ls'])", "starts processes"),
    ("!ls /", "runs shell commands"),
    ("import os\nos.kill(1, 9)", "sends signals"),
    ("import course_utils.data as d\nf = d.prepare_images", "uses the exercise reference"),
    ("import sys\nsys.modules['numpy'] = None", "sys.modules"),
    ("setattr(np, 'allclose', lambda *a: True)\nimport numpy as np", "patches"),
    ("ip = get_ipython()\nip.events.register('pre_run_cell', print)", "IPython event callbacks"),
])
def test_review_rules_find_each_cheat(source, reason):
    assert any(reason in note for note in _review(source)), _review(source)


@pytest.mark.parametrize("source", [
    "from course_utils.models import DenseAutoencoder\nMyAutoencoder = DenseAutoencoder",
    "from course_utils.models import DenseAutoencoder as MyAutoencoder",
    "from course_utils.models import DenseAutoencoder\n\nclass MyAutoencoder(DenseAutoencoder):\n    pass",
])
def test_review_finds_an_exercise_bound_to_a_reference_the_notebook_may_use(source):
    if "MyAutoencoder" not in reference_names(chapter_exercises("01")).values():
        pytest.skip("chapter 01 has no MyAutoencoder exercise")
    assert any("binds MyAutoencoder to the exercise reference" in note for note in _review(source, "01"))
    assert _review("from course_utils.models import DenseAutoencoder\nmodel = DenseAutoencoder(32)", "01") == []


def test_review_accepts_ordinary_code():
    assert _review("import numpy as np\nimport matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 80\n"
                   "x = np.ones(3)\nx.shape = (3, 1)\nprint(sum(x))\n%matplotlib inline") == []


def test_decompression_bombs_are_refused_before_loading():
    buffer = io.BytesIO()
    np.savez_compressed(buffer, output=np.zeros(40 * 2**20, np.float32))  # 160 MiB of zeros in well under 1 MiB
    assert len(buffer.getvalue()) < 2**20
    started = time.monotonic()
    assert grader.load_arrays(base64.b64encode(buffer.getvalue()).decode()) == "the result is far too large"
    assert time.monotonic() - started < 1
