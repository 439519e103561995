"""Execute a notebook copy in its own kernel, inside a worker process the grader watches and can kill.

The grader calls :func:`run_job`; it starts ``python -m course_utils.grading.sandbox`` (the worker),
sends it the job on stdin and polls the worker's process tree (worker, kernel, anything the kernel
started) for the total time limit and the memory limit. The worker runs the cells with nbclient and
a per-cell timeout, writes the hidden cases just before the grader's hidden cell, and reports
per-cell errors. This is resource control, not a security boundary: see docs/grading.md.
"""
from __future__ import annotations

import collections
import json
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from course_utils.grading.hidden import CASES_FILE

OK, TIMEOUT, KERNEL_DIED, ERROR = "ok", "timeout", "kernel_died", "error"
TIMEOUT_ENAME = "CourseGraderCellTimeout"
POLL_SECONDS = 0.05
CHUNK_BYTES, TAIL_CHUNKS = 4096, 2


@dataclass(frozen=True)
class Limits:
    """Time and memory limits of one submission."""

    cell_timeout: float = 300.0
    total_timeout: float = 1800.0
    memory_mb: int = 4096


@dataclass(frozen=True)
class Job:
    """What the worker executes: the prepared notebook, the hidden cell and where its files go."""

    notebook: str
    hidden_source: str
    cases: bytes
    hidden_dir: str
    result_path: str
    kernel_cwd: str
    kernel_env: dict[str, str]
    cell_timeout: float
    hidden_timeout: float


@dataclass
class Outcome:
    """How a run ended: status, reason, whether the hidden cell ran, and the cells that raised."""

    status: str
    reason: str = ""
    hidden_ran: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)
    last_cell: int = -1


def _error_entry(index: int, cell: Any, content: dict[str, Any]) -> dict[str, Any]:
    """A short record of a cell that raised (or timed out)."""
    return {"index": index, "id": cell.get("id"), "ename": str(content.get("ename", ""))[:100],
            "evalue": str(content.get("evalue", ""))[:300]}


def _client(nb: Any, job: Job, outcome: Outcome) -> Any:
    """An nbclient that keeps no outputs (so printing cannot fill memory) and logs cells that raised."""
    from nbclient import NotebookClient

    class QuietClient(NotebookClient):
        """NotebookClient that drops every output."""

        def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> None:
            return None

    def on_start(cell: Any, cell_index: int) -> None:
        outcome.last_cell = cell_index

    def on_executed(cell: Any, cell_index: int, execute_reply: dict[str, Any] | None) -> None:
        content = (execute_reply or {}).get("content", {})
        if content.get("status") == "error":
            outcome.errors.append(_error_entry(cell_index, cell, content))

    return QuietClient(
        nb, kernel_name="python3", timeout=int(max(1, job.cell_timeout)), allow_errors=True,
        interrupt_on_timeout=True, shutdown_kernel="immediate", record_timing=False, on_cell_start=on_start,
        on_cell_executed=on_executed,
        error_on_timeout={"ename": TIMEOUT_ENAME, "evalue": f"ran longer than {job.cell_timeout:g} s", "traceback": []},
    )


def _prepare_hidden_dir(job: Job) -> None:
    """Create the hidden folder afresh (nothing planted survives) and write the cases into it."""
    shutil.rmtree(job.hidden_dir, ignore_errors=True)
    os.mkdir(job.hidden_dir, 0o700)
    Path(job.hidden_dir, CASES_FILE).write_bytes(job.cases)


def execute(job: Job) -> Outcome:
    """Worker side: run every cell, then the hidden cell, in one kernel; never raises for learner errors."""
    import nbformat
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.reads(job.notebook, as_version=4)
    outcome = Outcome(OK)
    client = _client(nb, job, outcome)
    try:
        with client.setup_kernel(cwd=job.kernel_cwd, env=job.kernel_env):
            for index, cell in enumerate(list(nb.cells)):
                client.execute_cell(cell, index)
            _prepare_hidden_dir(job)
            nb.cells.append(nbformat.v4.new_code_cell(job.hidden_source, metadata={"course_grader": "hidden"}))
            client.timeout = int(max(1, job.hidden_timeout))
            client.execute_cell(nb.cells[-1], len(nb.cells) - 1)
            outcome.hidden_ran = True
    except DeadKernelError:
        outcome.status = KERNEL_DIED
    if outcome.status == OK and any(error["ename"] == TIMEOUT_ENAME for error in outcome.errors):
        outcome.status = TIMEOUT
    return outcome


def worker_main() -> int:
    """Entry of the worker process: read a pickled job on stdin, write the outcome as JSON."""
    job = Job(**pickle.load(sys.stdin.buffer))
    try:
        outcome = execute(job)
    except Exception as error:  # noqa: BLE001 (a failure of the grading machinery itself, reported as such)
        outcome = Outcome(ERROR, f"the grader's worker failed: {type(error).__name__}: {error}")
    Path(job.result_path).write_text(json.dumps(asdict(outcome)), encoding="utf-8")
    return 0


class _TreeWatch:
    """Remembers every process of a worker's tree (orphans included) to measure memory and kill it all."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.seen: dict[int, psutil.Process] = {pid: self.root}

    def refresh(self) -> None:
        """Add the current descendants of the worker."""
        try:
            for child in self.root.children(recursive=True):
                self.seen.setdefault(child.pid, child)
        except psutil.Error:
            pass

    def rss_mb(self) -> float:
        """Resident memory of all known live processes, in MiB."""
        total = 0
        for process in list(self.seen.values()):
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue
        return total / 2**20

    def kill(self) -> None:
        """Kill every known process of the tree that is still running."""
        self.refresh()
        for process in self.seen.values():
            try:
                process.kill()
            except psutil.Error:
                continue


def _drain(stream: Any, tail: collections.deque) -> None:
    """Read a pipe to its end, keeping only the last bytes (learner noise must not fill memory)."""
    for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
        tail.append(chunk)


def _watch(process: subprocess.Popen, limits: Limits) -> Outcome | None:
    """Poll the worker tree until it exits; kill it on a time or memory breach and say why."""
    watch, deadline = _TreeWatch(process.pid), time.monotonic() + limits.total_timeout
    try:
        while process.poll() is None:
            watch.refresh()
            if time.monotonic() > deadline:
                return Outcome(TIMEOUT, f"the notebook ran longer than the total limit of {limits.total_timeout:g} s")
            used = watch.rss_mb()
            if used > limits.memory_mb:
                return Outcome(KERNEL_DIED, f"the kernel was stopped: it used {used:.0f} MiB, more than the "
                                            f"limit of {limits.memory_mb} MiB")
            time.sleep(POLL_SECONDS)
        return None
    finally:
        watch.kill()
        process.wait()


def run_job(job: Job, limits: Limits) -> Outcome:
    """Grader side: run a job in a worker process under the limits; always returns an Outcome."""
    tail: collections.deque = collections.deque(maxlen=TAIL_CHUNKS)
    process = subprocess.Popen([sys.executable, "-m", "course_utils.grading.sandbox"], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=job.kernel_cwd)
    reader = threading.Thread(target=_drain, args=(process.stderr, tail), daemon=True)
    reader.start()
    try:
        process.stdin.write(pickle.dumps(asdict(job)))
        process.stdin.close()
    except BrokenPipeError:
        pass
    breach = _watch(process, limits)
    reader.join(timeout=5)
    if breach:
        return breach
    if process.returncode < 0:
        return Outcome(KERNEL_DIED, f"the grading process was killed by signal {-process.returncode} (by the "
                                    f"notebook itself, or by the system for lack of memory)")
    try:
        return Outcome(**json.loads(Path(job.result_path).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        stderr = b"".join(tail).decode("utf-8", "replace")
        return Outcome(ERROR, f"the grader's worker exited with code {process.returncode} and no result: {stderr}")


if __name__ == "__main__":
    # jsonschema (under nbformat) would compile an IRI grammar for a format check notebooks never use:
    # over a second of start-up per submission. Marking the optional module absent skips it.
    sys.modules.setdefault("rfc3987_syntax", None)
    sys.exit(worker_main())
