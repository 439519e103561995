"""Design-and-train checks train a fresh copy of the learner's model: the same layers with new weights.

A model returned with weights already trained (loaded from a checkpoint, or fitted inside the learner's
function) would otherwise start ahead of the check's short training budget. The copy is made with
``keras.models.clone_model`` and verified: given the original's weights it must compute the same outputs, so a
model that Keras cannot rebuild faithfully (a custom layer whose ``get_config`` misses a constructor argument)
is reported instead of being silently changed.
"""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from course_utils.exercises.core import CheckFailed

HOW_TO_FIX = ("build it from Keras layers (keras.Sequential or the functional API), or give each custom layer or "
              "model a get_config that returns its constructor arguments")


def _clone_layer(layer: Any) -> Any:
    """One layer rebuilt from its config; a Lambda layer keeps its Python function (configs cannot carry it)."""
    import keras

    if isinstance(layer, keras.layers.Lambda):
        return keras.layers.Lambda(layer.function, arguments=layer.arguments, name=layer.name)
    return layer.__class__.from_config(layer.get_config())


def _takes_no_arguments(cls: type) -> bool:
    """Whether ``cls()`` can be called: every constructor parameter has a default or is *args/**kwargs."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]  # without self
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters)


def _clone(model: Any) -> Any:
    """``keras.models.clone_model`` with Lambda layers kept; a subclass Keras cannot rebuild from its config (a
    constructor without ``**kwargs``, as the notebooks write them) is built again by calling its class."""
    import keras

    if type(model).__name__ in ("Sequential", "Functional"):  # exactly these classes, not subclasses of them
        return keras.models.clone_model(model, clone_function=_clone_layer, recursive=True)
    try:
        return keras.models.clone_model(model)
    except Exception:
        if not _takes_no_arguments(type(model)):
            raise
        return type(model)()


def _outputs(model: Any, probe: np.ndarray) -> list[np.ndarray]:
    """The model's inference outputs on ``probe`` as a flat list of arrays."""
    import keras

    return [np.asarray(out) for out in keras.tree.flatten(model(probe, training=False))]


def fresh_copy(model: Any, probe: np.ndarray, what: str = "model") -> Any:
    """The design-and-train checks: ``model``'s architecture with newly initialised weights, verified on
    ``probe`` (a batch the model takes) to compute what the original computes when given the original's weights."""
    try:
        expected = _outputs(model, probe)  # builds a subclassed model that was never called
        copy = _clone(model)
        _outputs(copy, probe)  # builds the copy's weights
        fresh, trained = copy.get_weights(), model.get_weights()
        faithful = [w.shape for w in fresh] == [w.shape for w in trained]
        if faithful:
            copy.set_weights(trained)
            faithful = all(a.shape == b.shape and np.allclose(a, b, atol=1e-5, rtol=1e-4)
                              for a, b in zip(_outputs(copy, probe), expected, strict=True))
            copy.set_weights(fresh)
    except CheckFailed:
        raise
    except Exception as error:  # noqa: BLE001 - any failure to rebuild the model is reported the same way
        reason = " ".join(str(error).split())[:200]  # Keras' messages span lines
        raise CheckFailed(f"the check trains a fresh copy of your {what} (the same layers, new weights), and Keras "
                          f"could not copy it ({type(error).__name__}: {reason}); {HOW_TO_FIX}") from None
    if not faithful:
        raise CheckFailed(f"the check trains a fresh copy of your {what} (the same layers, new weights), and the copy "
                          f"Keras rebuilt from its config computes something else; {HOW_TO_FIX}")
    return copy
