"""Release: student notebooks and manifest generated from solutions (markers, locking, drift, errors)."""
from __future__ import annotations

import copy
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from course_utils.grading import notebook_io
from course_utils.grading import release as rel
from course_utils.grading.manifest import MANIFEST_FORMAT
from course_utils.grading.notebook_io import MarkerError, find_regions, student_source

FIXTURE = Path(__file__).parent / "fixtures" / "00_fixture.ipynb"


def _release(tmp_path: Path, nb: nbformat.NotebookNode | None = None) -> tuple[Path, Path, Path]:
    """Release the fixture (or a variant of it) into tmp_path; return (solutions, notebooks, manifest)."""
    solutions, notebooks, manifest = tmp_path / "solutions", tmp_path / "notebooks", tmp_path / "manifest.json"
    solutions.mkdir(exist_ok=True)
    if nb is None:
        shutil.copy(FIXTURE, solutions / FIXTURE.name)
    else:
        nbformat.write(nb, solutions / FIXTURE.name)
    rel.release(solutions, notebooks, manifest)
    return solutions, notebooks, manifest


def _student(tmp_path: Path) -> nbformat.NotebookNode:
    """The released student version of the fixture."""
    _, notebooks, _ = _release(tmp_path)
    return nbformat.read(notebooks / FIXTURE.name, as_version=4)


def _cell(nb: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    """The cell with this id."""
    return next(cell for cell in nb.cells if cell.id == cell_id)


def test_solution_regions_become_stubs_at_their_indentation(tmp_path):
    student = _student(tmp_path)
    assert _cell(student, "fx-ex1").source == (
        'def prepare_images(images):\n'
        '    """Scale uint8 images (n, h, w) to float32 in [0, 1] with shape (n, h, w, 1)."""\n'
        '    # YOUR CODE HERE\n'
        '    raise NotImplementedError()')
    assert _cell(student, "fx-ex2").source.count("    raise NotImplementedError()") == 2
    assert "np.prod" not in _cell(student, "fx-ex2").source


def test_regions_in_nested_blocks_keep_each_indentation():
    source = "def f(x):\n    if x:\n        ### BEGIN SOLUTION\n        return 1\n        ### END SOLUTION\n" \
             "    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION\n"
    assert student_source(source, find_regions(source)) == (
        "def f(x):\n    if x:\n        # YOUR CODE HERE\n        raise NotImplementedError()\n"
        "    # YOUR CODE HERE\n    raise NotImplementedError()\n")


def test_hidden_test_regions_are_removed(tmp_path):
    student = _student(tmp_path)
    text = (tmp_path / "notebooks" / FIXTURE.name).read_text()
    assert "HIDDEN TESTS" not in text and "assert prepare_images" not in text
    assert _cell(student, "fx-ex1").source.endswith("raise NotImplementedError()")


def test_solution_only_cells_are_left_out_of_the_student_version(tmp_path):
    nb = nbformat.read(FIXTURE, as_version=4)
    answers = nbformat.v4.new_markdown_cell("<details><summary>Answers</summary>42</details>",
                                            metadata={"tags": [rel.SOLUTION_ONLY]})
    answers["id"] = "fx-answers"
    nb.cells.append(answers)
    _, notebooks, _ = _release(tmp_path, nb)
    student = nbformat.read(notebooks / FIXTURE.name, as_version=4)
    assert "fx-answers" not in {cell.id for cell in student.cells} and len(student.cells) == len(nb.cells) - 1


def test_outputs_and_execution_counts_are_cleared(tmp_path):
    student = _student(tmp_path)
    code = [cell for cell in student.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)


def test_check_cells_are_locked_and_exercise_cells_marked(tmp_path):
    student = _student(tmp_path)
    check = _cell(student, "fx-check1")
    assert check.metadata["editable"] is False and check.metadata["deletable"] is False
    assert check.metadata["nbgrader"]["locked"] is True and check.metadata["nbgrader"]["points"] == 2
    assert _cell(student, "fx-ex1").metadata["nbgrader"]["solution"] is True
    assert student.nbformat == 4 and student.nbformat_minor >= 5


def test_manifest_records_checks_points_and_exercise_cells(tmp_path):
    _, notebooks, manifest = _release(tmp_path)
    data = json.loads(manifest.read_text())
    entry = data["notebooks"][FIXTURE.name]
    assert data["format"] == MANIFEST_FORMAT == 2
    student = nbformat.read(notebooks / FIXTURE.name, as_version=4)
    assert entry["chapter"] == "00" and entry["max_points"] == 6
    assert [(e["id"], e["points"], e["cell_ids"]) for e in entry["exercises"]] == [
        ("00.1", 2, ["fx-ex1"]), ("00.2", 1, ["fx-ex2"]), ("00.3", 3, ["fx-ex3"])]
    for check in entry["checks"]:
        cell = _cell(student, check["cell_id"])
        assert check["source"] == cell.source and "sha256" not in check
        assert student.cells[check["index"]].id == check["cell_id"]


def test_rerelease_is_byte_identical_and_writes_nothing(tmp_path):
    solutions, notebooks, manifest = _release(tmp_path)
    before = {path: path.read_bytes() for path in [manifest, *notebooks.iterdir()]}
    assert rel.release(solutions, notebooks, manifest) == []
    assert {path: path.read_bytes() for path in before} == before
    assert rel.main(["--check", "--solutions", str(solutions), "--notebooks", str(notebooks),
                     "--manifest", str(manifest)]) == 0


def test_written_files_get_ordinary_permissions(tmp_path):
    _, notebooks, manifest = _release(tmp_path)
    expected = 0o666 & ~notebook_io.UMASK
    assert all(path.stat().st_mode & 0o777 == expected for path in [manifest, *notebooks.iterdir()])


def test_check_reports_drift_and_writes_nothing(tmp_path, capsys):
    solutions, notebooks, manifest = _release(tmp_path)
    student = notebooks / FIXTURE.name
    student.write_text(student.read_text().replace("YOUR CODE HERE", "my edit"))
    manifest.unlink()
    edited = student.read_bytes()
    args = ["--check", "--solutions", str(solutions), "--notebooks", str(notebooks), "--manifest", str(manifest)]
    assert rel.main(args) == 1
    err = capsys.readouterr().err
    assert f"{student}: differs" in err and f"{manifest}: missing" in err
    assert student.read_bytes() == edited and not manifest.exists()


def test_release_refuses_a_notebook_without_solution_twin(tmp_path):
    solutions, notebooks, manifest = _release(tmp_path)
    mine = notebooks / "my_own_work.ipynb"
    mine.write_text("{}")
    with pytest.raises(rel.ReleaseError, match="my_own_work.ipynb.*move it out"):
        rel.release(solutions, notebooks, manifest)
    assert mine.read_text() == "{}"


def _set_source(cell_id: str, source: str) -> Callable[[nbformat.NotebookNode], None]:
    """A mutation that replaces one cell's source."""
    def mutate(nb: nbformat.NotebookNode) -> None:
        _cell(nb, cell_id).source = source
    return mutate


def _set_meta(cell_id: str, **metadata: object) -> Callable[[nbformat.NotebookNode], None]:
    """A mutation that replaces keys of one cell's metadata."""
    def mutate(nb: nbformat.NotebookNode) -> None:
        _cell(nb, cell_id).metadata.update(copy.deepcopy(metadata))
    return mutate


def _drop(cell_id: str) -> Callable[[nbformat.NotebookNode], None]:
    """A mutation that deletes one cell."""
    def mutate(nb: nbformat.NotebookNode) -> None:
        nb.cells = [cell for cell in nb.cells if cell.id != cell_id]
    return mutate


MALFORMED = {
    "unclosed": (_set_source("fx-ex1", "def prepare_images(x):\n    ### BEGIN SOLUTION\n    return x"),
                 "fx-ex1", "never closed"),
    "nested": (_set_source("fx-ex1", "### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n"
                                     "### END SOLUTION"), "fx-ex1", "cannot be nested"),
    "end_without_begin": (_set_source("fx-ex1", "def f():\n    return 1\n### END SOLUTION"), "fx-ex1",
                          "without a matching"),
    "hidden_closed_as_solution": (_set_source("fx-ex1", "### BEGIN HIDDEN TESTS\nx = 1\n### END SOLUTION"),
                                  "fx-ex1", "without a matching"),
    "near_miss": (_set_source("fx-ex1", "def f():\n    ### BEGIN SOLUTION:\n    return 1\n    ### END SOLUTION"),
                  "fx-ex1", "looks like a marker"),
    "marker_in_markdown": (_set_source("fx-ex1-text", "Write it.\n### BEGIN SOLUTION\nsecret\n### END SOLUTION"),
                           "fx-ex1-text", "markdown cell"),
    "unknown_exercise_id": (_set_meta("fx-ex1", course={"exercise": "00.9"}), "fx-ex1", "'00.9' is not in"),
    "unknown_check_id": (_set_meta("fx-check2", course={"check": "00.7"}), "fx-check2", "'00.7' is not in"),
    "check_without_exercise": (_drop("fx-ex2"), "fx-check2", "has no exercise cell"),
    "exercise_without_solution": (_set_source("fx-ex1", "def prepare_images(x):\n    return x / 255"),
                                  "fx-ex1", "would receive the solution"),
    "tag_without_metadata": (_set_meta("fx-use", tags=["exercise"]), "fx-use", "needs both the tag"),
    "check_calls_other_id": (_set_source("fx-check1", 'prepare_images = check("00.2", globals())'), "fx-check1",
                             "does not call check"),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_solution_is_an_error_naming_notebook_and_cell(tmp_path, kind):
    mutate, cell_id, message = MALFORMED[kind]
    nb = nbformat.read(FIXTURE, as_version=4)
    mutate(nb)
    with pytest.raises(rel.ReleaseError) as raised:
        _release(tmp_path, nb)
    text = str(raised.value)
    assert FIXTURE.name in text and f"(id {cell_id!r})" in text and message in text, text
    assert not (tmp_path / "notebooks").exists() and not (tmp_path / "manifest.json").exists()


def test_marker_errors_name_the_line():
    with pytest.raises(MarkerError, match="line 2"):
        find_regions("x = 1\n### END HIDDEN TESTS")


def test_cli_help_and_failure_exit_codes(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        rel.main(["--help"])
    assert raised.value.code == 0 and "--check" in capsys.readouterr().out
    assert rel.main(["--solutions", str(tmp_path / "nowhere"), "--notebooks", str(tmp_path / "nb"),
                     "--manifest", str(tmp_path / "m.json")]) == 1
    assert "no such folder" in capsys.readouterr().err


def _without_cell_metadata(text: str) -> dict:
    """A notebook's raw JSON with every cell's metadata dropped."""
    raw = json.loads(text)
    for cell in raw["cells"]:
        cell.pop("metadata")
    return raw


def test_release_writes_nbgrader_metadata_into_the_solutions_from_the_specs(tmp_path):
    solutions, _, _ = _release(tmp_path)
    solution = nbformat.read(solutions / FIXTURE.name, as_version=4)
    assert _cell(solution, "fx-ex1").metadata["nbgrader"] == {
        "grade": False, "grade_id": "exercise_00_1", "locked": False, "schema_version": 3, "solution": True,
        "task": False}
    check3 = _cell(solution, "fx-check3")
    assert check3.metadata["nbgrader"] == {
        "cell_type": "code", "checksum": rel.nbgrader_checksum(check3.source, check3.metadata["nbgrader"]),
        "grade": True, "grade_id": "check_00_3", "locked": True, "points": 3, "schema_version": 3,
        "solution": False, "task": False}
    graded = {cell.id for cell in solution.cells if "nbgrader" in cell.metadata}
    assert graded == {f"fx-{role}{k}" for role in ("ex", "check") for k in (1, 2, 3)}


def test_solutions_change_only_in_metadata_and_keep_their_key_order(tmp_path):
    solutions, _, _ = _release(tmp_path)
    before, after = FIXTURE.read_text(), (solutions / FIXTURE.name).read_text()
    assert _without_cell_metadata(after) == _without_cell_metadata(before) and after != before
    for old, new in zip(json.loads(before)["cells"], json.loads(after)["cells"]):
        assert list(new) == list(old)
        assert {key: value for key, value in new["metadata"].items() if key != "nbgrader"} == old["metadata"]


def test_student_and_solution_nbgrader_metadata_agree(tmp_path):
    solutions, notebooks, _ = _release(tmp_path)
    solution = nbformat.read(solutions / FIXTURE.name, as_version=4)
    student = nbformat.read(notebooks / FIXTURE.name, as_version=4)
    for cell in student.cells:
        released, source = cell.metadata.get("nbgrader", {}), _cell(solution, cell.id).metadata.get("nbgrader", {})
        if released.get("locked"):  # a check cell is released unchanged, metadata and checksum included
            assert released == source, cell.id
        else:  # an exercise cell's stub has a checksum and cell type of its own
            assert {key: value for key, value in released.items() if key not in rel.RELEASED_ONLY} == source, cell.id
        if released:  # nbgrader's own locking: neither exercise nor check cells can be deleted
            assert released["cell_type"] == "code"
            assert released["checksum"] == rel.nbgrader_checksum(cell.source, released)
            assert cell.metadata["deletable"] is False
            assert cell.metadata.get("editable", True) is (cell.metadata["nbgrader"]["solution"])


def test_drifted_solution_metadata_is_reported_and_restored(tmp_path, capsys):
    solutions, notebooks, manifest = _release(tmp_path)
    path = solutions / FIXTURE.name
    nb = nbformat.read(path, as_version=4)
    _cell(nb, "fx-check1").metadata["nbgrader"]["points"] = 5
    for stale in ("fx-use", "fx-title"):  # a code and a markdown cell that are no exercise or check cell
        _cell(nb, stale).metadata["nbgrader"] = {"grade": True, "grade_id": stale, "locked": True, "points": 1,
                                                 "schema_version": 3, "solution": False, "task": False}
    nbformat.write(nb, path)
    args = ["--check", "--solutions", str(solutions), "--notebooks", str(notebooks), "--manifest", str(manifest)]
    assert rel.main(args) == 1
    assert f"{path}: nbgrader metadata differs" in capsys.readouterr().err
    assert rel.release(solutions, notebooks, manifest) == [path]
    nb = nbformat.read(path, as_version=4)
    assert _cell(nb, "fx-check1").metadata["nbgrader"]["points"] == 2
    assert all("nbgrader" not in _cell(nb, stale).metadata for stale in ("fx-use", "fx-title"))
    assert rel.main(args) == 0


def test_grade_ids_of_split_exercise_cells_are_unique():
    assert rel.nbgrader_metadata("exercise", "04.2", 3)["grade_id"] == "exercise_04_2"
    assert rel.nbgrader_metadata("exercise", "04.2", 3, serial=1)["grade_id"] == "exercise_04_2_2"
    assert rel.nbgrader_metadata("check", "04.2", 3) == {
        "grade": True, "grade_id": "check_04_2", "locked": True, "points": 3, "schema_version": 3,
        "solution": False, "task": False}


def test_checksums_match_nbgrader_on_a_hand_computed_cell():
    """nbgrader hashes source, cell type, grade, solution, locked, grade_id and float points, in that order."""
    meta = rel.nbgrader_metadata("check", "00.2", 1)
    source = 'compression_ratio = check("00.2", globals())'
    expected = hashlib.md5(f"{source}codeTrueFalseTruecheck_00_21.0".encode(), usedforsecurity=False).hexdigest()
    assert rel.nbgrader_checksum(source, meta) == expected
    exercise = rel.nbgrader_metadata("exercise", "00.2", 1)  # a solution cell is never locked, has no points
    assert rel.nbgrader_checksum("x = 1", exercise) == hashlib.md5(
        b"x = 1codeFalseTrueFalseexercise_00_2", usedforsecurity=False).hexdigest()


def _released_chapter_00() -> tuple[nbformat.NotebookNode, dict]:
    root = Path(__file__).resolve().parents[1]
    name = "00_setup_and_why_autoencoders.ipynb"
    manifest = json.loads((root / "course_utils" / "grading" / "manifest.json").read_text())
    return nbformat.read(root / "notebooks" / name, as_version=4), manifest["notebooks"][name]


def _check_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [cell for cell in nb.cells if notebook_io.course_meta(cell, "check") is not None]


def test_notebooks_released_before_nbgrader_checksums_are_not_flagged():
    """Students keep notebooks released before check cells carried nbgrader's cell_type and checksum."""
    from course_utils.grading.restore import restore_checks

    nb, entry = _released_chapter_00()
    assert restore_checks(copy.deepcopy(nb), entry)[1] == []
    for cell in _check_cells(nb):
        for key in rel.RELEASED_ONLY:
            del cell.metadata["nbgrader"][key]
    assert restore_checks(copy.deepcopy(nb), entry)[1] == []
    _check_cells(nb)[0].metadata["nbgrader"]["checksum"] = "0" * 32  # present and wrong: an edit
    assert any("metadata edited (nbgrader)" in note for note in restore_checks(nb, entry)[1])
