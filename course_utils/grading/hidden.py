"""Hidden checks: the runner the grader's last cell calls inside the learner's kernel.

The cell (:func:`cell_source`) loads this file by its path, never through ``sys.modules``, which the
notebook may have changed, and calls :func:`run`. The runner loads the chapter's exercise specs
afresh from their file, calls each exercise's ``probe`` on the learner's object for every hidden
case under a time limit (SIGALRM), and saves the arrays as ``.npz`` files carrying the run's token.
Pass or fail is decided later, in the grader process. The runner imports nothing from
``course_utils`` (that would go through the kernel's ``sys.modules``), only the standard library and
NumPy, and defines no dataclasses (with string annotations they need their module in ``sys.modules``).
"""
from __future__ import annotations

import importlib.util
import json
import pickle
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import numpy as np

CASES_FILE = "cases.pkl"
ERRORS_FILE = "errors.json"
TOKEN_KEY = "__course_grader_token__"
OVERTIME = "Overtime"
CELL_TEMPLATE = '''\
# Added by the course grader: hidden checks (not part of the submitted notebook).
def {function}(namespace):
    from importlib.util import module_from_spec, spec_from_file_location
    spec = spec_from_file_location({function!r}, {runner!r})
    runner = module_from_spec(spec)
    spec.loader.exec_module(runner)
    runner.run(namespace, {folder!r}, {spec_path!r}, {store!r}, {seconds!r}, {token!r})


{function}(globals())
del {function}
'''


class Overtime(BaseException):
    """A probe ran past its time limit (a BaseException, so ``except Exception`` cannot swallow it)."""


def cell_source(folder: str, spec_path: str, store: str, seconds: float, token: str) -> str:
    """The source of the grader's hidden cell: load this file by path and call :func:`run`."""
    return CELL_TEMPLATE.format(function=f"_course_grader_hidden_{token}", runner=str(Path(__file__).resolve()),
                                folder=folder, spec_path=spec_path, store=store, seconds=float(seconds),
                                token=token)


def result_file(folder: str | Path, exercise_id: str, number: int) -> Path:
    """Where the arrays of one hidden case are saved."""
    return Path(folder) / f"{exercise_id}-{number}.npz"


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


def learner_object(namespace: Mapping[str, Any], store: str, name: str) -> Any:
    """The object the check cell saw (the grader's snapshot), else the notebook's global; NameError if none."""
    snapshots = namespace.get(store, {})
    candidate = snapshots[name] if name in snapshots else namespace.get(name)
    if candidate is None:
        raise NameError(f"`{name}` is not defined")
    return candidate


def save_result(path: Path, outputs: Mapping[str, Any], token: str) -> None:
    """Save a probe's outputs as numeric arrays plus the run's token; TypeError for non-numeric results."""
    arrays = {str(key): np.asarray(value) for key, value in dict(outputs).items()}
    if any(array.dtype.hasobject for array in arrays.values()):
        raise TypeError("the result is not a number or a numeric array")
    np.savez(path, **arrays, **{TOKEN_KEY: token})


def probe_exercise(exercise: Any, namespace: Mapping[str, Any], store: str, cases: list[dict[str, Any]],
                   folder: str, token: str, seconds: float) -> str:
    """Probe one exercise on all its cases within ``seconds``; '' when every result was saved, else why not."""
    try:
        with time_limit(seconds):
            candidate = learner_object(namespace, store, exercise.name)
            for number, case in enumerate(cases):
                save_result(result_file(folder, exercise.id, number), exercise.probe(candidate, case), token)
    except Overtime:
        return f"{OVERTIME}: took longer than {seconds:g} s"
    except BaseException as error:  # noqa: BLE001 (whatever the learner's code raises, SystemExit included)
        return describe(error)
    return ""


def run(namespace: Mapping[str, Any], folder: str, spec_path: str, store: str, seconds: float, token: str) -> None:
    """Probe every exercise of the cases file in ``folder``; write the results and errors.json there."""
    specs = load_module(f"_course_grader_spec_{token}", spec_path)
    exercises = {exercise.id: exercise for exercise in specs.EXERCISES}
    with open(Path(folder, CASES_FILE), "rb") as handle:
        cases = pickle.load(handle)
    errors = {}
    for exercise_id, exercise_cases in cases.items():
        error = probe_exercise(exercises[exercise_id], namespace, store, exercise_cases, folder, token, seconds)
        if error:
            errors[exercise_id] = error
    Path(folder, ERRORS_FILE).write_text(json.dumps({"token": token, "errors": errors}), encoding="utf-8")
