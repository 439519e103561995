"""Execute a prepared notebook in its own kernel, inside a worker process the grader watches and can kill.

The grader calls :func:`run_job`: it starts ``python -m course_utils.grading.sandbox`` (the worker) inside the
sandbox of :mod:`course_utils.grading.isolation`, sends it the job on stdin and polls the worker's process tree
(worker, kernel, anything they started) for the total time and memory limits. The worker runs the cells with
nbclient and a per-cell timeout. The grader's probe cells (one right before each check cell) publish their
results as display data of a private MIME type; the worker keeps only what arrives for those cells and sends
it, with the per-cell errors, back over a pipe the kernel does not inherit. The worker itself runs no learner
code and makes itself non-dumpable, so the kernel cannot read or write its memory or file descriptors.
"""
from __future__ import annotations

import collections
import json
import os
import pickle
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from course_utils.grading.hidden import RESULT_MIME
from course_utils.grading.isolation import Isolation, worker_command

OK, TIMEOUT, KERNEL_DIED, ERROR = "ok", "timeout", "kernel_died", "error"
TIMEOUT_ENAME = "CourseGraderCellTimeout"
PROBE = "probe"
POLL_SECONDS = 0.05
CHUNK_BYTES, TAIL_CHUNKS = 4096, 2
MAX_PAYLOAD_CHARS = 16 * 2**20  # one exercise's probe results, base64
MAX_RESULT_BYTES = 64 * 2**20  # the worker's whole report
_LIVE: set[_TreeWatch] = set()  # the process trees of running jobs, for stop_all()
_STOPPING = threading.Event()  # set by stop_all(): no new job starts


@dataclass(frozen=True)
class Limits:
    """Time and memory limits of one submission."""

    cell_timeout: float = 300.0
    total_timeout: float = 1800.0
    memory_mb: int = 4096


@dataclass(frozen=True)
class Job:
    """What the worker executes: the prepared notebook (probe cells included) and its time limits."""

    notebook: str
    cell_timeout: float
    probe_timeout: float
    result_fd: int = -1


@dataclass
class Outcome:
    """How a run ended: status, reason, the probes' payloads by exercise, and the cells that raised."""

    status: str
    reason: str = ""
    probes: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    last_cell: int = -1


def _error_entry(index: int, cell: Any, content: dict[str, Any]) -> dict[str, Any]:
    """A short record of a cell that raised (or timed out)."""
    return {"index": index, "id": cell.get("id"), "ename": str(content.get("ename", ""))[:100],
            "evalue": str(content.get("evalue", ""))[:300]}


def probe_exercise_id(cell: Any) -> str | None:
    """The exercise a grader probe cell checks, None for any other cell."""
    meta = cell.get("metadata", {}).get("course_grader")
    return meta.get("exercise") if isinstance(meta, dict) and meta.get("role") == PROBE else None


def probe_nonce(cell: Any) -> str:
    """The nonce a probe cell's results must carry."""
    return str(cell.get("metadata", {}).get("course_grader", {}).get("nonce", ""))


def _keep_payload(outcome: Outcome, exercise_id: str, nonce: str, msg: dict) -> None:
    """Keep the last payload with the cell's nonce that a probe cell published, if it is of sensible size."""
    data = msg.get("content", {}).get("data", {})
    payload = data.get(RESULT_MIME) if isinstance(data, dict) else None
    if not isinstance(payload, dict) or payload.pop("nonce", None) != nonce:
        return
    size = sum(len(str(value)) for value in payload.get("results", [])) if isinstance(payload.get("results"),
                                                                                          list) else 0
    outcome.probes[exercise_id] = payload if size <= MAX_PAYLOAD_CHARS else {"error": "the result is far too large"}


def _client(nb: Any, job: Job, outcome: Outcome) -> Any:
    """An nbclient that drops outputs (printing cannot fill memory) but keeps probe results, and logs errors."""
    from nbclient import NotebookClient

    class QuietClient(NotebookClient):
        """NotebookClient that drops every output except the grader's probe results."""

        def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> None:
            exercise_id = probe_exercise_id(nb.cells[cell_index])
            if exercise_id is not None and msg.get("msg_type") == "display_data":
                _keep_payload(outcome, exercise_id, probe_nonce(nb.cells[cell_index]), msg)

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


def execute(job: Job) -> Outcome:
    """Worker side: run every cell in one kernel, probe cells with their own limit; never raises for learner errors."""
    import nbformat
    from nbclient.exceptions import DeadKernelError

    nb = nbformat.reads(job.notebook, as_version=4)
    outcome = Outcome(OK)
    client = _client(nb, job, outcome)
    work = Path(os.environ.get("TMPDIR", "/tmp"), "work")
    work.mkdir(parents=True, exist_ok=True)
    Path(os.environ["HOME"]).mkdir(parents=True, exist_ok=True)
    try:
        with client.setup_kernel(cwd=str(work), env=dict(os.environ)):
            for index, cell in enumerate(list(nb.cells)):
                is_probe = probe_exercise_id(cell) is not None
                client.timeout = int(max(1, job.probe_timeout if is_probe else job.cell_timeout))
                client.execute_cell(cell, index)
    except DeadKernelError:
        outcome.status = KERNEL_DIED
    if outcome.status == OK and any(error["ename"] == TIMEOUT_ENAME for error in outcome.errors):
        outcome.status = TIMEOUT
    return outcome


def _not_dumpable() -> None:
    """Forbid other processes of the same user (the kernel) to read this one's memory or /proc/self/fd (Linux)."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0


def worker_main() -> int:
    """Entry of the worker process: read a pickled job on stdin, write the outcome as JSON to the result pipe."""
    job = Job(**pickle.load(sys.stdin.buffer))
    os.set_inheritable(job.result_fd, False)
    _not_dumpable()
    try:
        outcome = execute(job)
    except Exception as error:  # noqa: BLE001 (a failure of the grading machinery itself, reported as such)
        outcome = Outcome(ERROR, f"the grader's worker failed: {type(error).__name__}: {error}")
    with os.fdopen(job.result_fd, "w", encoding="utf-8") as stream:
        stream.write(json.dumps(asdict(outcome)))
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


def _read_bounded(fd: int, limit: int, into: list[bytes]) -> None:
    """Read a pipe to its end, keeping at most ``limit`` + 1 bytes (so an oversized report is recognised)."""
    kept = 0
    with os.fdopen(fd, "rb") as stream:
        for chunk in iter(lambda: stream.read(2**16), b""):
            if kept <= limit:
                into.append(chunk[: limit + 1 - kept])
                kept += len(into[-1])


def stop_all() -> None:
    """Kill the process trees of every running job and start no more (on SIGTERM or SIGINT of the grader)."""
    _STOPPING.set()
    for watch in list(_LIVE):
        watch.kill()


def _watch(process: subprocess.Popen, limits: Limits) -> Outcome | None:
    """Poll the worker tree until it exits; kill it on a time or memory breach and say why."""
    watch, deadline = _TreeWatch(process.pid), time.monotonic() + limits.total_timeout
    _LIVE.add(watch)
    try:
        while process.poll() is None:
            watch.refresh()
            if _STOPPING.is_set():
                return Outcome(ERROR, "the grader was stopped while this submission ran")
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
        _LIVE.discard(watch)


def _report(process: subprocess.Popen, chunks: list[bytes], tail: collections.deque) -> Outcome:
    """The outcome the worker reported over its pipe, or why there is none."""
    data = b"".join(chunks)
    if process.returncode != 0 and not data:
        how = f"signal {-process.returncode}" if process.returncode < 0 else f"exit code {process.returncode}"
        return Outcome(KERNEL_DIED, f"the grader's worker was stopped ({how}) by the notebook itself, or by the "
                                    f"system for lack of memory")
    if len(data) > MAX_RESULT_BYTES:
        return Outcome(ERROR, f"the worker's report is larger than {MAX_RESULT_BYTES // 2**20} MiB")
    try:
        report = json.loads(data.decode("utf-8"))
        return Outcome(**{key: report[key] for key in ("status", "reason", "probes", "errors", "last_cell")})
    except (ValueError, TypeError, KeyError):
        stderr = b"".join(tail).decode("utf-8", "replace")
        return Outcome(ERROR, f"the grader's worker exited with code {process.returncode} and no result: {stderr}")


def run_job(job: Job, limits: Limits, isolation: Isolation, env: dict[str, str]) -> Outcome:
    """Grader side: run a job in a sandboxed worker process under the limits; always returns an Outcome."""
    if _STOPPING.is_set():
        return Outcome(ERROR, "the grader was stopped before this submission ran")
    tail: collections.deque = collections.deque(maxlen=TAIL_CHUNKS)
    chunks: list[bytes] = []
    read_end, write_end = os.pipe()
    worker = [sys.executable, "-m", "course_utils.grading.sandbox"]
    with worker_command(isolation, worker, env) as (argv, plain_env, cwd):
        try:
            process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       cwd=cwd, env=plain_env or {"PATH": os.environ.get("PATH", "")},
                                       pass_fds=[write_end],
                                       start_new_session=True)
        finally:
            os.close(write_end)
        threads = [threading.Thread(target=_drain, args=(process.stderr, tail), daemon=True),
                   threading.Thread(target=_read_bounded, args=(read_end, MAX_RESULT_BYTES, chunks), daemon=True)]
        for thread in threads:
            thread.start()
        try:
            process.stdin.write(pickle.dumps({**asdict(job), "result_fd": write_end}))
            process.stdin.close()
        except BrokenPipeError:
            pass
        breach = _watch(process, limits)
        for thread in threads:
            thread.join(timeout=5)
    return breach or _report(process, chunks, tail)


if __name__ == "__main__":
    # jsonschema (under nbformat) would compile an IRI grammar for a format check notebooks never use:
    # over a second of start-up per submission. Marking the optional module absent skips it.
    sys.modules.setdefault("rfc3987_syntax", None)
    sys.exit(worker_main())
