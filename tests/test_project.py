"""Project wiring: lock, pyproject and environment agree, the CLI dispatches, notebooks follow the anatomy."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
import yaml
from conftest import THREAD_VARIABLES, WIDGET_TESTS, pytest_collection_modifyitems, share_cores_between_workers
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
LOCK = ROOT / "constraints.txt"
LOCKED_EXTRAS = ("lab", "dev")  # the extras constraints.txt was resolved for


def _lock() -> dict[str, str]:
    """constraints.txt as {canonical name: exact version}."""
    lock = {}
    for line in LOCK.read_text().splitlines():
        line = line.partition("#")[0].strip()
        if line:
            requirement = Requirement(line)
            specifiers = list(requirement.specifier)
            assert [s.operator for s in specifiers] == ["=="], f"constraints.txt: {line!r} is not an exact version"
            lock[canonicalize_name(requirement.name)] = specifiers[0].version
    return lock


def _project_requirements(extras: tuple[str, ...]) -> list[Requirement]:
    """pyproject.toml's requirements: the base ones plus those of the given extras."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [line for extra in extras for line in project["optional-dependencies"][extra]]
    return [Requirement(line) for line in lines]


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    """True when the requirement's environment marker holds here for one of the extras asked for (or none)."""
    return requirement.marker is None or any(requirement.marker.evaluate({"extra": e}) for e in {"", *extras})


def _needed_here() -> set[str]:
    """Every package the locked extras need on this platform: the dependency graph, markers evaluated."""
    needed, seen = set(), set()
    todo = [r for r in _project_requirements(LOCKED_EXTRAS) if _applies(r, frozenset())]
    while todo:
        requirement = todo.pop()
        name, extras = canonicalize_name(requirement.name), frozenset(requirement.extras)
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        needed.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue  # reported by test_installed_versions_equal_the_lock
        todo += [sub for sub in map(Requirement, requires) if _applies(sub, extras)]
    return needed


def test_pyproject_states_ranges_and_the_lock_has_every_direct_requirement_inside_them():
    lock, problems = _lock(), []
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in _project_requirements(tuple(project["optional-dependencies"])):
        locked = lock.get(canonicalize_name(requirement.name))
        if any(s.operator in ("==", "===") for s in requirement.specifier):
            problems.append(f"pyproject.toml pins {requirement}: state a compatible range, the lock pins")
        elif locked is not None and not requirement.specifier.contains(locked, prereleases=True):
            problems.append(f"{requirement}: constraints.txt locks {locked}, outside the range")
    for requirement in _project_requirements(LOCKED_EXTRAS):
        if canonicalize_name(requirement.name) not in lock:
            problems.append(f"{requirement} is not in constraints.txt")
    assert not problems, "; ".join(problems) + ". Regenerate constraints.txt as its header says."


def test_environment_yml_and_course_py_install_the_lock_with_the_same_extras():
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(item["pip"] for item in conda["dependencies"] if isinstance(item, dict))
    assert "python=3.11" in conda["dependencies"], "the Python version constraints.txt was resolved with"
    assert pip_section == ["-c constraints.txt", f"-e .[{','.join(LOCKED_EXTRAS)}]"]
    spec = importlib.util.spec_from_file_location("course", ROOT / "course.py")
    course = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(course)
    assert (course.LOCK, course.EXTRAS) == (LOCK, ",".join(LOCKED_EXTRAS))


def test_installed_versions_equal_the_lock():
    needed, problems = _needed_here(), []
    for name, version in _lock().items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name in needed:
                problems.append(f"{name} is not installed (locked: {version})")
            continue  # only needed on other platforms
        if installed != version:
            problems.append(f"{name} {installed} is installed, constraints.txt locks {version}")
    assert not problems, "; ".join(problems) + ". Reinstall: `python3 course.py setup`."


@pytest.mark.skipif(sys.platform != "linux" or sys.version_info[:2] != (3, 11), reason="locked on Linux, Python 3.11")
def test_the_lock_lists_exactly_what_the_course_needs():
    lock, needed = set(_lock()), _needed_here()
    assert needed == lock, f"not locked: {sorted(needed - lock)}; locked but not needed: {sorted(lock - needed)}"


def test_readme_names_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "python3 course.py lab" in readme and "python3 course.py test" in readme


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "course_utils", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)


def test_cli_help_lists_every_command():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("doctor", "release", "grade"):
        assert command in result.stdout


def test_cli_rejects_unknown_command():
    result = _cli("frobnicate")
    assert result.returncode == 2 and "unknown command 'frobnicate'" in result.stderr


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_solution_notebooks_follow_the_anatomy(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "budget(" in params[0].source, "one parameters cell that reads the run mode"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "no stored outputs"
    assert len({c.id for c in nb.cells}) == len(nb.cells), "cell ids are unique"
    stored = json.loads(path.read_text(encoding="utf-8"))["cells"]
    assert all("id" in cell for cell in stored), ("every cell stores its id (nbformat makes up a random one on each "
                                                  "read, so the released notebook would change every time)")


def test_student_notebooks_match_a_fresh_release():
    from course_utils.grading import release

    code = release.main(["--check", "--solutions", str(ROOT / "solutions"), "--notebooks", str(ROOT / "notebooks")])
    assert code == 0, "notebooks/ drifted from solutions/: run `python -m course_utils release`"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_chapter_has_graded_exercises(path):
    from course_utils.exercises import chapter_exercises

    nb = nbformat.read(path, as_version=4)
    checked = {c.metadata["course"]["check"] for c in nb.cells if "check" in c.metadata.get("tags", [])}
    chapter = path.name[:2]
    assert checked == {e.id for e in chapter_exercises(chapter)}
    assert len(checked) >= (2 if chapter == "00" else 3)


def test_xdist_workers_share_the_cores_and_explicit_thread_settings_win():
    environ = {"PYTEST_XDIST_WORKER_COUNT": "2", "OMP_NUM_THREADS": "3"}
    share_cores_between_workers(environ, cores=16)
    assert environ == {"PYTEST_XDIST_WORKER_COUNT": "2", "TF_NUM_INTRAOP_THREADS": "8", "TF_NUM_INTEROP_THREADS": "8",
                       "OMP_NUM_THREADS": "3"}
    crowded = {"PYTEST_XDIST_WORKER_COUNT": "4"}
    share_cores_between_workers(crowded, cores=2)
    assert [crowded[name] for name in THREAD_VARIABLES] == ["1", "1", "1"]
    alone = {}
    share_cores_between_workers(alone, cores=2)
    assert alone == {}


def test_widget_notebooks_browser_tests_are_handed_out_first():
    assert (ROOT / WIDGET_TESTS).is_file()
    names = ["tests/browser/test_harness.py::test_a", "tests/browser/test_site.py::test_b[x]", f"{WIDGET_TESTS}::test_c[01]",
             "tests/test_vae.py::test_d", f"{WIDGET_TESTS}::test_c[02]", "notebooks/00_setup.ipynb::Cell 0"]
    items = [type("Item", (), {"nodeid": name})() for name in names]
    pytest_collection_modifyitems(items)
    assert [item.nodeid for item in items] == [names[2], names[4], names[0], names[1], names[3], names[5]]
