"""Companion package of the autoencoder course: data, run modes, checks, reference models and grader.

Importing the package is cheap: TensorFlow is only imported by the functions that need it.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide TensorFlow's C++ log lines (a CPU-only machine gets a cuInit ERROR); set 0 to see them

from course_utils.config import budget, get_mode, is_fast
from course_utils.reproducibility import set_seed

__version__ = "0.1.0"

__all__ = ["__version__", "budget", "check_environment", "get_mode", "is_fast", "set_seed"]


def check_environment(verbose: bool = True):
    """Report Python, TensorFlow, Keras, CPU and GPU facts (chapter 00); see ``course_utils.environment``."""
    from course_utils.environment import check_environment as _check

    return _check(verbose=verbose)


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's package import with the process's stderr (file descriptor 2) captured in a temporary file.

    TensorFlow 2.21's libraries log through absl while they load (the ``I0000 ... port.cc`` oneDNN and
    ``cudart_stub.cc`` lines, each twice), before ``TF_CPP_MIN_LOG_LEVEL`` is read, so only the file
    descriptor can hide them. An import that succeeds stays silent; one that raises writes what TensorFlow
    printed to ``sys.stderr`` and raises the original error. A process that dies (e.g. a CPU without AVX)
    cannot do that: ``python -m course_utils doctor`` imports TensorFlow in a fresh Python and shows why.
    ``TF_CPP_MIN_LOG_LEVEL=0`` turns the capture off.
    """

    def __init__(self, loader: importlib.abc.Loader):
        self.loader = loader

    def create_module(self, spec):
        """Let TensorFlow's own loader create the module."""
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        """Execute ``tensorflow/__init__.py`` with file descriptor 2 captured, then restore it."""
        module.__loader__ = module.__spec__.loader = self.loader
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                self.loader.exec_module(module)
            except BaseException:
                _restore_stderr(saved)
                _show_captured(captured)
                raise
            _restore_stderr(saved)


def _restore_stderr(saved: int) -> None:
    """Point file descriptor 2 back at the stderr saved in ``saved`` (a duplicate, closed here)."""
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)


def _show_captured(captured) -> None:
    """Write what the failed TensorFlow import printed to file descriptor 2 (held in ``captured``) to ``sys.stderr``."""
    captured.seek(0)
    text = captured.read().decode("utf-8", errors="replace")
    if text:
        sys.stderr.write(f"TensorFlow failed to import; what it printed while course_utils hid its log:\n{text}")
        sys.stderr.flush()


class _QuietTensorFlowFinder(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` the usual way on its first import and wraps its loader in ``_QuietLoader``."""

    def find_spec(self, name, path=None, target=None):
        """Only the top-level ``tensorflow`` package, once; everything else is left to the other finders."""
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


if "tensorflow" not in sys.modules and os.environ["TF_CPP_MIN_LOG_LEVEL"] != "0":
    sys.meta_path.insert(0, _QuietTensorFlowFinder())
