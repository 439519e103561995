"""Hidden checks: the runner the grader's probe cells call inside the learner's kernel.

The grader inserts a probe cell right before each check cell, so the probe sees exactly the object the
check sees, before later cells can rebind anything it uses. The cell (:func:`cell_source`) loads this file
by its path, never through ``sys.modules`` (which the notebook may have changed), and calls :func:`run`.
The runner loads the chapter's exercise specs afresh from their file, calls the exercise's ``probe`` on the
learner's object for every hidden case under a time limit (SIGALRM), and publishes the arrays as ``.npz``
bytes in display data of the MIME type :data:`RESULT_MIME` with the cell's nonce. The worker, outside the
kernel, keeps only the last such message of that cell; pass or fail is decided later, in the grader process. The runner imports nothing from
``course_utils`` (that would go through the kernel's ``sys.modules``), only the standard library, NumPy and
IPython, and defines no dataclasses (with string annotations they need their module in ``sys.modules``).
"""
from __future__ import annotations

import base64
import importlib.util
import io
import pickle
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import numpy as np

RESULT_MIME = "application/vnd.course-grader.probe+json"
OVERTIME = "Overtime"
CELL_TEMPLATE = '''\
# Added by the course grader: hidden checks of {exercise_id} (not part of the submitted notebook).
def _course_grader_probe(namespace):
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location("_course_grader_runner", {runner!r})
    runner = module_from_spec(spec)
    spec.loader.exec_module(runner)
    runner.run(namespace, {spec_path!r}, {exercise_id!r}, {cases!r}, {seconds!r}, {nonce!r})


_course_grader_probe(globals())
del _course_grader_probe
'''


class Overtime(BaseException):
    """A probe ran past its time limit (a BaseException, so ``except Exception`` cannot swallow it)."""


def cell_source(spec_path: str, exercise_id: str, cases: list[dict[str, Any]], seconds: float, nonce: str) -> str:
    """The source of a probe cell: load this file by path and call :func:`run` on one exercise's cases."""
    encoded = base64.b64encode(pickle.dumps(cases)).decode("ascii")
    return CELL_TEMPLATE.format(runner=str(Path(__file__).resolve()), spec_path=spec_path, exercise_id=exercise_id,
                                cases=encoded, seconds=float(seconds), nonce=nonce)


def load_module(name: str, path: str) -> ModuleType:
    """Execute a Python file as a fresh module, bypassing ``sys.modules`` (and not added to it)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    """SIGALRM handler: stop the probe that is running."""
    raise Overtime()


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`Overtime` in the block once ``seconds`` have passed; restore the SIGALRM handler after."""
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)


def describe(error: BaseException) -> str:
    """'Type: message', cut to 300 characters; just the type when the message itself raises."""
    try:
        return f"{type(error).__name__}: {error}"[:300]
    except BaseException:  # noqa: BLE001 (a learner's exception whose __str__ raises)
        return type(error).__name__


def learner_object(namespace: Mapping[str, Any], name: str) -> Any:
    """The learner's object of that name; NameError when it is missing or None."""
    candidate = namespace.get(name)
    if candidate is None:
        raise NameError(f"`{name}` is not defined")
    return candidate


def npz_bytes(outputs: Mapping[str, Any]) -> str:
    """A probe's outputs as base64 ``.npz`` of numeric arrays; TypeError for non-numeric results."""
    arrays = {str(key): np.asarray(value) for key, value in dict(outputs).items()}
    if any(array.dtype.hasobject for array in arrays.values()):
        raise TypeError("the result is not a number or a numeric array")
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def probe_all(exercise: Any, namespace: Mapping[str, Any], cases: list[dict[str, Any]],
              seconds: float) -> dict[str, Any]:
    """Probe one exercise on all its cases within ``seconds``: {'results': [...]} or {'error': why}."""
    try:
        with time_limit(seconds):
            candidate = learner_object(namespace, exercise.name)
            return {"results": [npz_bytes(exercise.probe(candidate, case)) for case in cases]}
    except Overtime:
        return {"error": f"{OVERTIME}: took longer than {seconds:g} s"}
    except BaseException as error:  # noqa: BLE001 (whatever the learner's code raises, SystemExit included)
        return {"error": describe(error)}


def run(namespace: Mapping[str, Any], spec_path: str, exercise_id: str, cases: str, seconds: float,
        nonce: str) -> dict:
    """Probe one exercise on its (base64-pickled) cases and publish the results, with the cell's nonce."""
    from IPython.display import publish_display_data

    specs = load_module("_course_grader_spec", spec_path)
    exercise = next(exercise for exercise in specs.EXERCISES if exercise.id == exercise_id)
    payload = probe_all(exercise, namespace, pickle.loads(base64.b64decode(cases)), seconds)
    publish_display_data({RESULT_MIME: {**payload, "nonce": nonce}})
    return payload
