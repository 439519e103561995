"""A cluster of TensorFlow workers on this machine: TF_CONFIG for each, start, wait, stop (the tf.distribute appendix).

``MultiWorkerMirroredStrategy`` reads the cluster from each process's ``TF_CONFIG``: every worker's address and its
own index (worker 0 is the chief). Here the workers are processes on 127.0.0.1, each running
``python -m course_utils.training.worker``; on real machines only the addresses change.
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def free_ports(count: int) -> list[int]:
    """``count`` ports that nothing listens on now (held open together, so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for probe in sockets:
            probe.bind(("127.0.0.1", 0))
        return [probe.getsockname()[1] for probe in sockets]
    finally:
        for probe in sockets:
            probe.close()


def tf_configs(workers: int) -> list[str]:
    """One TF_CONFIG (JSON) per worker of a local cluster: the shared worker list and the worker's own index."""
    if workers < 1:
        raise ValueError(f"a cluster needs at least one worker, got {workers}")
    addresses = [f"127.0.0.1:{port}" for port in free_ports(workers)]
    return [json.dumps({"cluster": {"worker": addresses}, "task": {"type": "worker", "index": index}})
            for index in range(workers)]


@dataclass
class Cluster:
    """Worker processes started together; ``logs`` holds each worker's output file."""

    processes: list[subprocess.Popen]
    logs: list[Path]

    def wait(self, timeout: float) -> list[int]:
        """Wait until every worker exits, or one fails (then stop the rest: a cluster cannot go on without it).

        Returns the exit codes (a stopped worker's is negative); after ``timeout`` seconds all are stopped and
        TimeoutError names the logs.
        """
        deadline = time.monotonic() + timeout
        while any(process.poll() is None for process in self.processes):
            if any(process.poll() not in (None, 0) for process in self.processes):
                self.stop()
                break
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the workers did not finish in {timeout:.0f} s and were stopped; see {self.logs}")
            time.sleep(0.2)
        return [process.returncode for process in self.processes]

    def stop(self) -> None:
        """Stop every worker that still runs: SIGTERM, then SIGKILL after 10 s."""
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):  # it may exit between the poll and the signal
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def start_cluster(worker_args: list[str], workers: int, log_dir: Path, threads: int = 1) -> Cluster:
    """Start ``workers`` processes of ``course_utils.training.worker`` with ``worker_args``, one TF_CONFIG each."""
    log_dir.mkdir(parents=True, exist_ok=True)
    processes, logs = [], []
    for index, config in enumerate(tf_configs(workers)):
        env = dict(os.environ, TF_CONFIG=config, TF_CPP_MIN_LOG_LEVEL="2", TF_NUM_INTRAOP_THREADS=str(threads),
                   TF_NUM_INTEROP_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        log = log_dir / f"worker{index}.log"
        with open(log, "ab") as sink:
            processes.append(subprocess.Popen([sys.executable, "-m", "course_utils.training.worker", *worker_args],
                                              env=env, stdout=sink, stderr=subprocess.STDOUT,
                                              start_new_session=True))
        logs.append(log)
    return Cluster(processes, logs)
