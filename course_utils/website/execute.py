"""Execute a notebook in a fresh kernel in one run mode, keeping each cell's wall time (site and timing benchmark)."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import nbformat
from nbformat import NotebookNode

THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
CELL_TIMEOUT = 3600  # seconds; no cell of any mode comes near it, a hung one still ends


@dataclass(frozen=True)
class Execution:
    """An executed notebook (outputs and per-cell timings in its metadata) and its wall time, kernel start included."""

    notebook: NotebookNode
    seconds: float


def kernel_environment(mode: str, threads: int | None = None, static_widgets: bool = False) -> dict[str, str]:
    """The kernel's environment: run mode, quiet TensorFlow, optionally a thread cap and static widget figures."""
    env = dict(os.environ, COURSE_MODE=mode, TF_CPP_MIN_LOG_LEVEL="2")
    if threads:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    if static_widgets:
        env["COURSE_WIDGETS"] = "static"  # course_utils.viz.widgets draws its static figure instead of a widget
    return env


def execute_notebook(path: Path, env: dict[str, str], cell_timeout: int = CELL_TIMEOUT) -> Execution:
    """Run every cell of ``path`` in a new kernel started in the notebook's folder; raise CellExecutionError on error."""
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=cell_timeout, kernel_name="python3", record_timing=True,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    start = time.perf_counter()
    client.execute(env=env)
    return Execution(notebook, time.perf_counter() - start)


def cell_seconds(cell: NotebookNode) -> float | None:
    """How long one executed code cell ran (nbclient's timestamps), or None when it has none."""
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()  # ISO 8601, with Z
