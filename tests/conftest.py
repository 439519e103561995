"""Shared pytest settings: fixture notebooks are test data, not notebooks for nbval to execute; each pytest-xdist
worker's TensorFlow gets its share of the CPU's cores and two logical CPU devices; smoke runs of the benchmarks can
run TensorFlow eagerly; the browser stage starts with its longest tests."""
from __future__ import annotations

import os

import pytest

collect_ignore_glob = ["fixtures/*"]
THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS")
WIDGET_TESTS = "tests/browser/test_widgets.py"  # a whole notebook each, about a minute; the other browser tests take seconds


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


def split_cpu_for_the_distribute_checks() -> None:
    """Two logical CPU devices in every test process, as chapter 10's first cell makes them in a notebook.

    Its exercise checks run the learner's code on two replicas, so they need two devices, and TensorFlow can only be
    split before it first runs anything. Code without a strategy still runs on the first device alone.
    """
    from course_utils.training.distribute import split_cpu

    split_cpu(2)


split_cpu_for_the_distribute_checks()


@pytest.fixture
def eager_tensorflow():
    """Run every ``tf.function`` (Keras' train and predict steps included) eagerly for one test, then restore.

    For the benchmarks' --quick smoke runs, which build a dozen models and take a few steps with each: tracing
    those functions costs more than the steps themselves, and the smoke runs test the wiring, not graph mode
    (the models' own tests train them as compiled graphs). TensorFlow warns that tf.data functions stay compiled;
    tests that use this fixture filter that warning.
    """
    import tensorflow as tf

    before = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(before)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the widget notebooks' browser tests to the front; every other test keeps its place in the order.

    pytest-xdist hands tests out in this order. Left last, the minute-long widget runs would end with one worker
    running the final one alone while the other waits; started first, the short page tests fill in around them.
    """
    items.sort(key=lambda item: item.nodeid.split("::")[0] != WIDGET_TESTS)
