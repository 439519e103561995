#!/usr/bin/env python3
"""Set up the course environment in ./.venv and open JupyterLab or run the tests.

    python3 course.py lab     # create/refresh .venv, then open JupyterLab on the course
    python3 course.py test    # create/refresh .venv, then run the tests: student notebooks in fast mode (those with
                              # a widget in a headless browser), solutions in lab mode (building the site), site pages
    python3 course.py site    # create/refresh .venv, then build the course's HTML site in site/ (--mode lab|full)
    python3 course.py setup   # create/refresh .venv only

Each installs the exact versions locked in constraints.txt and reuses .venv while its Python version,
constraints.txt, pyproject.toml and the extras are unchanged, so a second run starts in about a second.
Needs Python 3.11+ with its venv module (on Debian/Ubuntu the python3-venv package) and, the first time,
access to PyPI or a mirror.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import platform
import shutil
import subprocess
import sys
import venv
from pathlib import Path

MIN_PYTHON = (3, 11)  # the locked numpy, scipy, matplotlib and scikit-image releases need it
ROOT = Path(__file__).resolve().parent
LOCK = ROOT / "constraints.txt"
PYPROJECT = ROOT / "pyproject.toml"
VENV = ROOT / ".venv"
MARKER = VENV / ".course-created"  # written when course.py makes .venv: only such a .venv is ever recreated
STAMP = VENV / ".course-install"  # the install key of the last complete install
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
EXTRAS = "lab,dev"
TEST_SITE = ROOT / "build" / "test-site"  # the site the tests build (lab mode) and then open in the browser
WIDGET_MARKER = "course_utils.viz.widgets import"  # a notebook with this line shows a widget
CHROMIUM_NAMES = ("chromium-headless-shell", "chromium", "chromium-browser")  # Debian's names, tried in this order
PROBE = "import importlib.util, platform; print(platform.python_version(), importlib.util.find_spec('pip') is not None)"
PIP_FAILED = """
Could not install the course's packages: `pip {args}` failed in {venv} (pip's messages are above). Most often \
this machine cannot reach PyPI. Connect to the internet once and rerun this command (later runs need no network), \
or point pip at a package mirror with PIP_INDEX_URL=https://your-mirror/simple, or at a folder of downloaded \
wheels with PIP_FIND_LINKS=/path/to/wheels PIP_NO_INDEX=1, then rerun. If pip's messages name another cause, fix \
that and rerun; .venv is kept and the install resumes where it stopped."""


def min_python_text() -> str:
    """The minimum Python version as text, e.g. '3.11'."""
    return ".".join(map(str, MIN_PYTHON))


def check_python() -> None:
    """Exit with a clear message unless this Python is new enough for the course."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"The course needs Python {min_python_text()} or newer (its locked numpy, scipy, matplotlib and "
                 f"scikit-image releases do); this is Python {platform.python_version()} at {sys.executable}. "
                 f"Install Python {min_python_text()}+ (python.org, pyenv, or on Debian/Ubuntu `sudo apt-get install "
                 f"python{min_python_text()} python{min_python_text()}-venv`) and run course.py with it, e.g. "
                 f"`python{min_python_text()} course.py lab`.")


def major_minor(version: str) -> tuple[int, int]:
    """The (major, minor) of a version string such as '3.11.7'."""
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def no_ensurepip_message(python: Path | str, version: str) -> str:
    """Explain that this Python lacks ensurepip and name the Debian/Ubuntu package that adds it."""
    package = "python{}.{}-venv".format(*major_minor(version))
    return (f"Python {version} at {python} has no ensurepip module, so it cannot put pip into a virtual environment. "
            f"On Debian/Ubuntu install the python3-venv package: `sudo apt-get install python3-venv` (or "
            f"`sudo apt-get install {package}` for this Python {version}), then rerun this command: course.py then "
            "finishes setting up .venv.")


def has_ensurepip() -> bool:
    """True when the running Python can put pip into a new virtual environment."""
    return importlib.util.find_spec("ensurepip") is not None


def venv_python() -> tuple[str, bool] | None:
    """The version of .venv's Python and whether it has pip; None when there is no Python there that runs."""
    try:
        result = subprocess.run([str(PYTHON), "-c", PROBE], check=False, capture_output=True, text=True)
    except OSError:  # missing, or not an executable
        return None
    if result.returncode != 0:
        return None
    version, has_pip = result.stdout.split()[-2:]
    return version, has_pip == "True"


def add_pip(version: str) -> None:
    """Put pip into .venv with its Python's ensurepip; exit with what to do when that fails."""
    result = subprocess.run([str(PYTHON), "-m", "ensurepip", "--upgrade", "--default-pip"],
                            check=False, capture_output=True, text=True)
    if result.returncode == 0:
        return
    if "No module named ensurepip" in result.stderr:
        sys.exit(no_ensurepip_message(PYTHON, version))
    sys.exit(f"{result.stdout}{result.stderr}\nCould not put pip into {VENV}: `{PYTHON} -m ensurepip` failed with "
             "the messages above. Fix their cause and rerun this command.")


def create_venv(problem: str | None) -> str:
    """Create .venv with pip, replacing an unusable one only if course.py made it; return its Python version."""
    if problem is not None and not MARKER.exists():
        sys.exit(f"{VENV} is unusable: {problem}. course.py did not create it, so it leaves it alone: delete it "
                 f"(`rm -rf {VENV}`) and rerun this command to make a new one.")
    if not has_ensurepip():
        sys.exit(no_ensurepip_message(sys.executable, platform.python_version()))
    action = f"Recreating the environment in {VENV} ({problem})" if problem else f"Creating the environment in {VENV}"
    print(f"{action} ...", flush=True)
    venv.EnvBuilder(clear=True).create(VENV)
    MARKER.write_text("made by course.py, which recreates this .venv if it becomes unusable\n")
    add_pip(platform.python_version())
    return platform.python_version()


def ensure_venv() -> str:
    """Create, repair or keep .venv so that it has a new enough Python with pip; return that Python's version."""
    found = venv_python()
    if found is None:
        return create_venv(f"{PYTHON} is missing or does not run" if VENV.exists() else None)
    version, has_pip = found
    if major_minor(version) < MIN_PYTHON:
        return create_venv(f"its Python is {version}, older than {min_python_text()}")
    if not has_pip:
        print(f"{VENV} has no pip (made without ensurepip?): adding it ...", flush=True)
        add_pip(version)
    return version


def install_key(python_version: str, extras: str) -> str:
    """What an install depends on: the Python version, the lock, the project file and the extras asked for."""
    lock, project = (hashlib.sha256(path.read_bytes()).hexdigest() for path in (LOCK, PYPROJECT))
    return f"python {python_version}\nconstraints.txt {lock}\npyproject.toml {project}\nextras {extras}\n"


def pip_install(*args: str) -> None:
    """Run `pip install` in .venv; when it fails, exit with what to do (most often: no access to PyPI)."""
    command = [str(PYTHON), "-m", "pip", "install", "--quiet", *args]
    if subprocess.run(command, check=False, cwd=ROOT).returncode != 0:
        sys.exit(PIP_FAILED.format(args=" ".join(["install", *args]), venv=VENV))


def ensure_environment(gpu: bool = False) -> None:
    """Set up .venv and install the course from the lock unless the same install is already there."""
    check_python()
    extras = f"{EXTRAS},gpu" if gpu else EXTRAS
    key = install_key(ensure_venv(), extras)
    if STAMP.exists() and STAMP.read_text() == key:
        return
    STAMP.unlink(missing_ok=True)  # a failed install must not look complete
    print("Installing the course and its locked dependencies (a few minutes the first time) ...", flush=True)
    pip_install("--upgrade", "pip")
    pip_install("-c", LOCK.name, "-e", f".[{extras}]")
    STAMP.write_text(key)


def run_lab(port: int) -> int:
    """Open JupyterLab on the course without a browser; it prints the URL to open."""
    command = [str(BIN / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--ServerApp.root_dir={ROOT}", "--LabApp.default_url=/lab/tree/notebooks"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and cloud machines often run as root
    print("Starting JupyterLab: open the http://127.0.0.1 URL printed below (Ctrl+C stops it).", flush=True)
    return subprocess.call(command, cwd=ROOT)


def test_environment(mode: str, workers: int = 2) -> dict[str, str]:
    """The test run's environment: the run mode, and each worker's share of the cores for TensorFlow, oneDNN and BLAS.

    Two workers that each start a thread per core preempt each other; settings already in the environment win.
    """
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    env = dict(os.environ, COURSE_MODE=mode, TF_CPP_MIN_LOG_LEVEL="2")
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        env.setdefault(name, threads)
    return env


def pytest_command(*arguments: str) -> list[str]:
    """pytest with nbval on the current environment, per-cell timeout and the slowest tests listed."""
    return [str(PYTHON), "-m", "pytest", "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=600",
            "--durations=20", "-p", "no:cacheprovider", *arguments]


def site_command(*arguments: str) -> list[str]:
    """``python -m course_utils site`` in .venv."""
    return [str(PYTHON), "-m", "course_utils", "site", *arguments]


def widget_notebooks() -> list[Path]:
    """The student notebooks that show a widget: the browser stage runs each of them whole, in JupyterLab."""
    return sorted(path for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
                  if WIDGET_MARKER in path.read_text(encoding="utf-8"))


def browser_runs() -> bool:
    """Whether the browser stage will run rather than skip: a Chromium is there, or CI, where a missing one fails."""
    return bool(os.environ.get("CI") or os.environ.get("COURSE_CHROMIUM")
                or any(shutil.which(name) for name in CHROMIUM_NAMES))


def test_stages(extra: list[str]) -> list[tuple[str, str, int, list[str]]]:
    """The test run's stages as (what, COURSE_MODE, parallel workers, command); ``extra`` goes to both pytest stages.

    Each notebook runs once per mode. The student notebooks run in fast mode under nbval, except those with a
    widget when the browser stage runs: it runs them whole in JupyterLab, checks every output for errors as nbval
    does, then moves their widgets' controls. The solutions' lab-mode execution is the site build: it fails on any
    error, as nbval would, and leaves the pages that the browser stage opens.
    """
    in_browser = [f"--ignore={path.relative_to(ROOT).as_posix()}" for path in widget_notebooks()] if browser_runs() else []
    return [
        ("unit tests and student notebooks", "fast", 2,
         pytest_command("-n", "2", "--dist", "loadfile", "-m", "not browser", *in_browser, "tests", "notebooks",
                        *extra)),
        ("solution notebooks, building the site", "lab", 2,
         site_command("--mode", "lab", "--jobs", "2", "--force", "--out", str(TEST_SITE))),
        ("widgets and site pages in a headless browser", "fast", 2,  # each worker its own JupyterLab and browser
         pytest_command("-n", "2", "--dist", "load", "-m", "browser", "tests/browser", *extra)),
    ]


def run_tests(extra: list[str]) -> int:
    """Run the stages in order and stop at the first that fails."""
    for what, mode, workers, command in test_stages(extra):
        print(f"Running {what} (COURSE_MODE={mode}) ...", flush=True)
        env = dict(test_environment(mode, workers), COURSE_SITE_DIR=str(TEST_SITE))
        code = subprocess.call(command, cwd=ROOT, env=env)
        if code:
            return code
    return 0


def main() -> int:
    """Parse the command line and run ``lab``, ``test``, ``site`` or ``setup``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["lab", "test", "site", "setup"], help="what to do after setting up .venv")
    parser.add_argument("--gpu", action="store_true", help="also install TensorFlow's CUDA libraries (Linux)")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab port (lab only)")
    args, extra = parser.parse_known_args()
    if extra and args.command not in ("test", "site"):
        parser.error(f"unexpected arguments for {args.command}: {' '.join(extra)}")
    ensure_environment(gpu=args.gpu)
    if args.command == "lab":
        return run_lab(args.port)
    if args.command == "test":
        return run_tests(extra)
    if args.command == "site":
        return subprocess.call(site_command(*extra), cwd=ROOT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
