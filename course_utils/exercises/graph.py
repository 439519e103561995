"""Checking a learner's function where the notebooks call it: inside ``tf.function``, under a ``GradientTape``.

Used by exercises whose answers a compiled training step calls (chapters 06 and 07): a function written with NumPy
passes in eager mode and breaks in the graph, so the checks run it there and compare its gradients too.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from course_utils.exercises.core import CheckFailed

Probe = Callable[[Callable[..., Any], Mapping[str, Any]], dict[str, np.ndarray]]
Judge = Callable[[Mapping[str, Any], Mapping[str, np.ndarray]], str | None]
NUMPY_IN_GRAPH = ("to a numpy array", "NumPy call", "numpy() is only available")  # TF on NumPy inside a graph


def graph_failure(error: Exception) -> str:
    """What to tell a learner whose function failed on the symbolic tensors of a tf.function."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    cause = lines[-1] if lines else ""
    if any(marker in cause for marker in NUMPY_IN_GRAPH):
        return ("NumPy functions such as np.exp cannot run on the symbolic tensors of a tf.function, which is where "
                "the notebook's training step calls this function: use keras.ops.exp, keras.ops.sum, ... (or tf.math) "
                "instead, and no .numpy() or np.asarray inside")
    return (f"called on tensors inside tf.function, as the notebook's training step calls it, it raised "
            f"{type(error).__name__}: {cause[:200]}")


def in_graph(fn: Callable[..., Any], arrays: Sequence[np.ndarray], trainable: Sequence[bool],
              weights: np.ndarray | None = None, **kwargs: Any) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Call ``fn(*arrays, **kwargs)`` inside tf.function under a GradientTape, as the notebook's training step does.

    Trainable arrays become variables, the others symbolic inputs. Returns the output and the gradients of
    sum(output * weights) (of sum(output) when the shapes differ) with respect to the variables, None where no
    gradient reaches one. Any error becomes a CheckFailed that says what to change.
    """
    import tensorflow as tf

    variables = [tf.Variable(a) for a, t in zip(arrays, trainable) if t]
    fed = [tf.constant(a) for a, t in zip(arrays, trainable) if not t]

    @tf.function
    def step(*inputs):
        given, held = iter(inputs), iter(variables)
        with tf.GradientTape() as tape:
            out = tf.convert_to_tensor(fn(*(next(held) if t else next(given) for t in trainable), **kwargs))
            if weights is not None and tuple(out.shape) == weights.shape:
                out_weighted = out * tf.cast(weights, out.dtype)
            else:
                out_weighted = out
            objective = tf.reduce_sum(out_weighted)
        return out, tape.gradient(objective, variables)

    try:
        out, grads = step(*fed)
    except Exception as error:  # noqa: BLE001 - name the cause the learner can act on
        raise CheckFailed(graph_failure(error)) from None
    return np.asarray(out), [None if g is None else np.asarray(g, dtype=np.float64) for g in grads]


def graph_probe(arguments: tuple[str, ...], trainable: tuple[str, ...]) -> Probe:
    """A hidden-case probe: the learner's function inside tf.function, its output and the gradients of its sum."""
    def probe(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
        kwargs = {name: value for name, value in case.items() if name not in arguments}
        try:
            value, grads = in_graph(fn, [np.asarray(case[name]) for name in arguments],
                                     [name in trainable for name in arguments], **kwargs)
        except CheckFailed:
            return {"output": np.asarray(np.nan), "graph_ready": np.asarray(False)}
        found = {f"grad_{name}": np.asarray(np.nan) if g is None else g for name, g in zip(trainable, grads)}
        return {"output": value, "graph_ready": np.asarray(True), **found}

    return probe


def graph_judge(expected: Callable[..., tuple[np.ndarray, dict[str, np.ndarray]]], rtol: float) -> Judge:
    """Judge a ``graph_probe`` result: it ran in the graph, has the expected shape, value and gradients of its sum."""
    def judge(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
        if not bool(outputs["graph_ready"]):
            return "does not run on tensors inside tf.function"
        want, grads = expected(**case)
        out = outputs["output"]
        if out.shape != want.shape:
            return f"shape {out.shape}"
        if not np.allclose(out, want, rtol=rtol, atol=1e-5):
            return "wrong values"
        for name, grad in grads.items():
            got = outputs.get(f"grad_{name}", np.asarray(np.nan))
            if got.shape != grad.shape or not np.allclose(got, grad, rtol=rtol, atol=1e-5):
                return f"missing or wrong gradient with respect to {name}"
        return None

    return judge
