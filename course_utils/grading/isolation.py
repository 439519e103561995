"""The sandbox a submission's worker and kernel run in: bubblewrap on Linux, an unsandboxed fallback elsewhere.

With ``bwrap`` (Debian/Ubuntu package ``bubblewrap``) the worker starts inside fresh namespaces: the whole
file system read-only, a private ``/tmp`` (holding HOME and the IPython, Jupyter, Keras and Matplotlib
folders), the submissions, the output folder and ``solutions/`` covered by empty folders, its own PID
namespace (it sees neither the grader nor other students, and everything in it dies with it), no network,
no capabilities, a new session and an environment that is only the allow-list. Without ``bwrap`` the
worker runs as a plain child process with a scratch HOME; the grader warns and marks each row.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SANDBOX_TMP = "/tmp"
NO_SANDBOX_WARNING = ("grade: WARNING: bubblewrap (bwrap) was not found, so submissions run UNSANDBOXED as your "
                      "user, with your files and network; install it (apt-get install bubblewrap) or grade inside "
                      "a container, see docs/grading.md")


@dataclass(frozen=True)
class Isolation:
    """How submissions are isolated: bwrap (None: unsandboxed), folders to hide, and folders under /tmp to keep."""

    bwrap: str | None
    hidden: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()

    @property
    def sandboxed(self) -> bool:
        """True when submissions run inside bubblewrap."""
        return self.bwrap is not None


def find_isolation(hidden: Iterable[Path], allow_unsandboxed: bool = True) -> Isolation:
    """Bubblewrap when it is installed, else the unsandboxed fallback (RuntimeError when that is refused)."""
    bwrap = shutil.which("bwrap") if sys.platform.startswith("linux") else None
    if bwrap is None and not allow_unsandboxed:
        raise RuntimeError("bubblewrap (bwrap) is required (--require-sandbox) but was not found; "
                           "install it with `apt-get install bubblewrap`")
    folders = sorted({str(Path(path).absolute()) for path in hidden if Path(path).is_dir()})
    return Isolation(bwrap, tuple(folders), needed_under_tmp())


def needed_under_tmp() -> tuple[str, ...]:
    """Folders the worker needs (this package, Python, its import path) that lie under /tmp, hidden otherwise."""
    import course_utils

    needed = [Path(course_utils.__file__).resolve().parent.parent, Path(sys.prefix), Path(sys.base_prefix),
              *(Path(entry) for entry in sys.path if entry)]
    under = {str(path.resolve()) for path in needed if path.resolve().is_relative_to(SANDBOX_TMP) and path.exists()}
    return tuple(sorted(path for path in under if not any(Path(path).is_relative_to(other) and path != other
                                                          for other in under)))


def home_env(home: str) -> dict[str, str]:
    """HOME and the per-user folders of IPython, Jupyter, Keras and Matplotlib, all under ``home``."""
    return {"HOME": home, "IPYTHONDIR": f"{home}/.ipython", "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
            "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter", "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter-runtime",
            "KERAS_HOME": f"{home}/.keras", "MPLCONFIGDIR": f"{home}/.matplotlib", "TMPDIR": str(Path(home).parent),
            "XDG_CACHE_HOME": f"{home}/.cache", "XDG_CONFIG_HOME": f"{home}/.config"}


def bwrap_command(isolation: Isolation, command: list[str], env: Mapping[str, str]) -> list[str]:
    """The bwrap command line that runs ``command`` with ``env`` in a fresh sandbox."""
    args = [isolation.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", SANDBOX_TMP]
    for folder in isolation.kept:  # a course or environment under /tmp, seen through the fresh /tmp
        args += ["--ro-bind", folder, folder]
    for folder in isolation.hidden:
        if not folder.startswith(SANDBOX_TMP + "/") or any(folder.startswith(kept + "/") for kept in isolation.kept):
            args += ["--tmpfs", folder]
    args += ["--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL", "--chdir", SANDBOX_TMP,
             "--clearenv"]
    for key, value in sorted(env.items()):
        args += ["--setenv", key, value]
    return [*args, "--", *command]


@contextmanager
def worker_command(isolation: Isolation, command: list[str], env: Mapping[str, str]) -> Iterator[tuple[list[str],
                                                                                                       dict, str]]:
    """(argv, environment, working folder) for a worker; the unsandboxed scratch folder is removed on exit."""
    if isolation.sandboxed:
        home = f"{SANDBOX_TMP}/home"
        yield bwrap_command(isolation, command, {**env, **home_env(home)}), {}, SANDBOX_TMP
        return
    scratch = tempfile.mkdtemp(prefix="course-grade-")
    try:
        yield command, {**env, **home_env(os.path.join(scratch, "home"))}, scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
