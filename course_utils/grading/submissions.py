"""Finding submissions, labelling them by the path found under the given root, and reading them safely.

Anything named ``*.ipynb`` is a submission, whatever it is: symbolic links, folders and other non-files
become ``invalid`` rows with the reason instead of vanishing or being followed. Files are opened without
following links, their size is checked before anything is read, and their SHA-256 is recorded before the
first kernel starts so that a file changed during grading is noticed.
"""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from course_utils.grading.notebook_io import MAX_NOTEBOOK_BYTES, InvalidNotebook, read_notebook_bytes

SKIPPED_FOLDERS = {".ipynb_checkpoints"}


@dataclass(frozen=True)
class Submission:
    """One submission: where it was found and how the gradebook names it."""

    path: Path
    label: str


def _found_under(root: Path) -> list[Path]:
    """Every entry named *.ipynb under a folder (files, links, folders), not following links."""
    found = []
    for folder, subfolders, files in os.walk(root, followlinks=False):
        subfolders[:] = sorted(name for name in subfolders if name not in SKIPPED_FOLDERS)
        names = files + [name for name in subfolders if name.endswith(".ipynb")]
        found += [Path(folder, name) for name in names if name.endswith(".ipynb")]
    return found


def find_submissions(paths: list[Path]) -> list[Submission]:
    """The submissions under the given files and folders, labelled relative to the folder they share."""
    found: dict[str, Path] = {}
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            entries = _found_under(path)
        elif os.path.lexists(path):
            entries = [path]
        else:
            raise ValueError(f"{path}: no such file or folder")
        for entry in entries:
            found.setdefault(os.path.abspath(entry), entry)
    bases = [os.path.abspath(p) if p.is_dir() and not p.is_symlink() else os.path.dirname(os.path.abspath(p))
             for p in paths]
    base = os.path.commonpath(bases) if bases else ""
    return sorted((Submission(path, Path(os.path.relpath(absolute, base)).as_posix())
                   for absolute, path in found.items()), key=lambda s: s.label)


def read_bytes(path: Path) -> bytes:
    """The bytes of a regular file, never following a link; InvalidNotebook naming what it is instead."""
    try:
        info = os.lstat(path)
    except OSError as error:
        raise InvalidNotebook(f"the file cannot be read: {error.strerror or error}") from None
    if stat.S_ISLNK(info.st_mode):
        raise InvalidNotebook(f"it is a symbolic link (to {os.readlink(path)}), not a notebook file; "
                              f"submit the notebook itself")
    if stat.S_ISDIR(info.st_mode):
        raise InvalidNotebook("it is a folder named like a notebook, not a notebook file")
    if not stat.S_ISREG(info.st_mode):
        raise InvalidNotebook("it is not a regular file (a device, pipe or socket)")
    if info.st_size > MAX_NOTEBOOK_BYTES:
        raise InvalidNotebook(f"the file is {info.st_size / 2**20:.0f} MiB, larger than a notebook can sensibly be "
                              f"({MAX_NOTEBOOK_BYTES // 2**20} MiB); clear the outputs and submit again")
    try:
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise InvalidNotebook(f"the file cannot be read: {error.strerror or error}") from None
    with os.fdopen(handle, "rb") as stream:
        return stream.read(MAX_NOTEBOOK_BYTES + 1)


def file_hash(path: Path) -> str:
    """SHA-256 of a submission's bytes, or '' when it is not a readable regular file."""
    try:
        return hashlib.sha256(read_bytes(path)).hexdigest()
    except InvalidNotebook:
        return ""


def read_checked(path: Path, expected: str) -> tuple[NotebookNode, str]:
    """The notebook and its hash, InvalidNotebook when it is unreadable or differs from the hash taken at start."""
    data = read_bytes(path)
    digest = hashlib.sha256(data).hexdigest()
    if expected and digest != expected:
        raise InvalidNotebook("the file changed after the grader recorded it at the start of the run")
    return read_notebook_bytes(data), digest
