#!/usr/bin/env python3
"""Set up the course environment in ./.venv and open JupyterLab or run the tests.

    python3 course.py lab     # create/refresh .venv, then open JupyterLab on the course
    python3 course.py test    # create/refresh .venv, then run unit tests and every notebook (fast mode)

Both reuse .venv when pyproject.toml has not changed since the last install, so a second run starts
in seconds. Needs only Python 3.10+ and access to PyPI.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
STAMP = VENV / ".course-install"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
TEST_PATHS = ["tests", "notebooks", "solutions"]


def _install_key(extras: str) -> str:
    """What an install depends on: the pinned project file and the extras asked for."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"{digest} {extras}\n"


def ensure_environment(gpu: bool = False) -> None:
    """Create .venv and install the course with its extras unless the same install is already there."""
    if sys.version_info < (3, 10):
        sys.exit(f"Python 3.10 or newer is needed; this is {sys.version.split()[0]}.")
    extras = "lab,dev,gpu" if gpu else "lab,dev"
    if PYTHON.exists() and STAMP.exists() and STAMP.read_text() == _install_key(extras):
        return
    if not PYTHON.exists():
        print(f"Creating the environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("Installing the course and its pinned dependencies (a few minutes the first time) ...", flush=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip"], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "-e", f".[{extras}]"], cwd=ROOT, check=True)
    STAMP.write_text(_install_key(extras))


def run_lab(port: int) -> int:
    """Open JupyterLab on the course without a browser; it prints the URL to open."""
    command = [str(BIN / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
               f"--ServerApp.root_dir={ROOT}", "--LabApp.default_url=/lab/tree/notebooks"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and cloud machines often run as root
    print("Starting JupyterLab: open the http://127.0.0.1 URL printed below (Ctrl+C stops it).", flush=True)
    return subprocess.call(command, cwd=ROOT)


def run_tests(extra: list[str]) -> int:
    """Run unit tests and execute every notebook with nbval, all in fast mode, two workers."""
    env = dict(os.environ, COURSE_MODE="fast", TF_CPP_MIN_LOG_LEVEL="2")
    command = [str(PYTHON), "-m", "pytest", "-n", "2", "--dist", "loadfile", "--nbval-lax", "--nbval-current-env",
               "--nbval-cell-timeout=600", "-p", "no:cacheprovider", *TEST_PATHS, *extra]
    return subprocess.call(command, cwd=ROOT, env=env)


def main() -> int:
    """Parse the command line and run ``lab`` or ``test``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["lab", "test", "setup"], help="what to do after setting up .venv")
    parser.add_argument("--gpu", action="store_true", help="also install TensorFlow's CUDA libraries (Linux)")
    parser.add_argument("--port", type=int, default=8888, help="JupyterLab port (lab only)")
    args, extra = parser.parse_known_args()
    if extra and args.command != "test":
        parser.error(f"unexpected arguments for {args.command}: {' '.join(extra)}")
    ensure_environment(gpu=args.gpu)
    if args.command == "lab":
        return run_lab(args.port)
    if args.command == "test":
        return run_tests(extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
