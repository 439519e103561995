"""Shared pytest settings: fixture notebooks are test data, not notebooks for nbval to execute; each pytest-xdist
worker's TensorFlow gets its share of the CPU's cores."""
from __future__ import annotations

import os

collect_ignore_glob = ["fixtures/*"]
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")


def share_cores_between_workers(environ: dict[str, str], cores: int) -> None:
    """Give each xdist worker ``cores // workers`` TensorFlow, oneDNN and BLAS threads, unless already set.

    By default each worker's TensorFlow starts a thread per core, so two workers on two cores run twice as many
    busy threads as there are cores, preempting each other; one thread per worker ran the heaviest exercise checks
    about 17 % faster there. Kernels started by nbval and by the grader inherit these variables.
    """
    workers = int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        for name in THREAD_VARIABLES:
            environ.setdefault(name, str(max(1, cores // workers)))


share_cores_between_workers(os.environ, os.cpu_count() or 1)
