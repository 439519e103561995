"""Chapter 07's context model: conditional Gaussian probabilities for latent symbols, and their range coding."""
from __future__ import annotations

import keras
import numpy as np
import pytest
from scipy.stats import norm

from course_utils.compression import InvalidStreamError
from course_utils.compression.entropy_coding import GaussianDecoder, encode_gaussian
from course_utils.models.context import (
    LOC_STEP,
    LOG2_SCALE_STEP,
    SCALE_BOUNDS,
    ContextEntropyModel,
    fit_context_model,
)


def scale_mixture_symbols(n: int, seed: int = 0) -> np.ndarray:
    """Symbols (n, 12): each image has its own loudness, shared by all its symbols, and symbol 4 + j echoes symbol j.

    The loudness makes the symbols dependent although they are uncorrelated: a factorised model cannot use it, a
    context model can read it off the first slice.
    """
    rng = np.random.default_rng(seed)
    loudness = np.exp(rng.uniform(np.log(0.5), np.log(20.0), size=(n, 1)))  # (n, 1)
    first = rng.normal(size=(n, 4)) * loudness  # (n, 4)
    echo = first + rng.normal(size=(n, 4))  # (n, 4)
    rest = rng.normal(size=(n, 4)) * loudness  # (n, 4)
    return np.round(np.concatenate([first, echo, rest], axis=1)).astype(np.int64)


def test_bits_are_the_gaussian_masses_of_the_integer_intervals():
    model = ContextEntropyModel([3, 2], hidden_units=4, symbol_scale=[1.0, 2.0, 4.0, 1.0, 1.0])
    model.first_loc.assign([0.5, -1.0, 0.0])  # means 0.5, -2, 0 (in units of symbol_scale)
    model.first_log_scale.assign(np.log([1.0, 0.5, 2.0]))  # scales 1, 1, 8
    symbols = np.array([[0, -2, 3, 0, 1], [4, 1, -20, 2, -1]], dtype=np.float32)
    # slice 2's net outputs zeros at initialisation: mean 0 and scale symbol_scale = 1
    loc = np.array([[0.5, -2.0, 0.0, 0.0, 0.0]] * 2)
    scale = np.array([[1.0, 1.0, 8.0, 1.0, 1.0]] * 2)
    mass = norm.cdf(symbols + 0.5, loc, scale) - norm.cdf(symbols - 0.5, loc, scale)
    np.testing.assert_allclose(model.bits(symbols), -np.log2(mass).sum(axis=1), rtol=1e-4)


def test_far_tail_symbols_cost_at_most_the_mass_bound():
    model = ContextEntropyModel([2], hidden_units=4)
    bits = np.asarray(model.bits(np.array([[0.0, 1000.0]], dtype=np.float32)))
    assert np.isfinite(bits).all() and bits[0] == pytest.approx(-np.log2(norm.cdf(0.5) - norm.cdf(-0.5)) - np.log2(1e-9),
                                                                rel=1e-4)


def test_a_fitted_context_model_beats_the_best_factorised_gaussians():
    train, validation, test = (scale_mixture_symbols(n, seed) for n, seed in ((6000, 0), (500, 1), (2000, 2)))
    model, record = fit_context_model(train, validation, [4, 8], hidden_units=32, epochs=8, learning_rate=1e-2, seed=0)
    context_bits = float(np.mean(model.bits(test.astype(np.float32))))
    # the best factorised code: each symbol's own empirical distribution over the training set, looked up per symbol
    factorised = 0.0
    for j in range(test.shape[1]):
        values, counts = np.unique(train[:, j], return_counts=True)
        p = dict(zip(values, (counts + 0.5) / (counts.sum() + 0.5 * len(values))))
        factorised -= np.mean([np.log2(p.get(v, 0.5 / counts.sum())) for v in test[:, j]])
    assert context_bits < 0.9 * factorised, (context_bits, factorised)
    assert record["epochs_run"] == 8 and record["validation_bits_kept"] == min(record["validation_bits"])


def test_fitting_keeps_the_best_epoch_and_stops_on_time():
    train, validation = scale_mixture_symbols(500, 0), scale_mixture_symbols(200, 1)
    model, record = fit_context_model(train, validation, [4, 8], hidden_units=8, epochs=50, seconds=0.0, seed=0)
    assert record["epochs_run"] == 1  # the time budget is checked after every epoch
    kept = float(model.evaluate(validation.astype(np.float32), batch_size=1000, verbose=0, return_dict=True)["bits"])
    assert kept == pytest.approx(record["validation_bits_kept"], rel=1e-5)
    with pytest.raises(ValueError, match=r"must be \(n, 12\) arrays"):
        fit_context_model(train[:, :10], validation, [4, 8])
    with pytest.raises(ValueError, match="epochs must be a whole number >= 1"):
        fit_context_model(train, validation, [4, 8], epochs=0)


def test_coding_parameters_follow_the_model_on_the_grid_and_read_only_earlier_slices():
    train, validation = scale_mixture_symbols(2000, 0), scale_mixture_symbols(200, 1)
    model, _ = fit_context_model(train, validation, [4, 4, 4], hidden_units=16, epochs=2, seed=0)
    symbols = scale_mixture_symbols(64, 3)
    loc, scale = (np.asarray(a, dtype=np.float64) for a in model.parameters(symbols.astype(np.float32)))
    for k in range(3):
        columns = slice(4 * k, 4 * k + 4)
        coding_loc, coding_scale = model.coding_parameters(symbols, k)
        np.testing.assert_allclose(coding_loc, loc[:, columns], atol=LOC_STEP / 2 + 1e-4 * np.abs(loc).max())
        np.testing.assert_allclose(np.log2(coding_scale), np.log2(scale[:, columns]), atol=LOG2_SCALE_STEP / 2 + 1e-5)
        assert np.all(np.round(coding_loc / LOC_STEP) * LOC_STEP == coding_loc)
        assert SCALE_BOUNDS[0] * 0.95 <= coding_scale.min() and coding_scale.max() <= SCALE_BOUNDS[1] * 1.05
        changed = symbols.copy()
        changed[:, 4 * k:] += 7  # this slice and later ones: what the decoder does not know yet
        for a, b in zip(model.coding_parameters(changed, k), (coding_loc, coding_scale), strict=True):
            assert np.array_equal(a, b)
    with pytest.raises(ValueError, match="slice 2 needs the 8 symbols before it"):
        model.coding_parameters(symbols[:, :5], 2)


def test_context_model_round_trips_through_a_keras_file(tmp_path):
    train, validation = scale_mixture_symbols(1000, 0), scale_mixture_symbols(100, 1)
    model, _ = fit_context_model(train, validation, [4, 8], hidden_units=8, epochs=1, seed=0)
    model.save(tmp_path / "context.keras")
    loaded = keras.saving.load_model(tmp_path / "context.keras")
    symbols = scale_mixture_symbols(10, 2)
    np.testing.assert_array_equal(loaded.bits(symbols.astype(np.float32)), model.bits(symbols.astype(np.float32)))
    for k in range(2):
        for a, b in zip(loaded.coding_parameters(symbols, k), model.coding_parameters(symbols, k), strict=True):
            assert np.array_equal(a, b)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"slices": []}, "one or more sizes"),
    ({"slices": [3, 0]}, "one or more sizes"),
    ({"slices": [3], "hidden_units": 0}, "hidden_units >= 1"),
    ({"slices": [2, 2], "symbol_scale": [1.0, 1.0, 1.0]}, "4 positive numbers"),
    ({"slices": [2], "symbol_scale": [1.0, 0.0]}, "2 positive numbers"),
])
def test_bad_context_model_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ContextEntropyModel(**kwargs)


def test_gaussian_coder_reaches_the_ideal_length_and_decodes_in_parts():
    rng = np.random.default_rng(0)
    loc, scale = rng.normal(0, 5, 3000), np.exp(rng.normal(0, 1, 3000))
    symbols = np.clip(np.round(rng.normal(loc, scale)), -60, 60).astype(np.int64)
    data = encode_gaussian(symbols, loc, scale, -60, 60)
    ideal = -np.log2(norm.cdf(symbols + 0.5, loc, scale) - norm.cdf(symbols - 0.5, loc, scale)).sum()
    assert ideal <= 8 * len(data) <= 1.01 * ideal + 32
    decoder = GaussianDecoder(data, -60, 60)
    parts = [decoder.decode(loc[a:b], scale[a:b]) for a, b in ((0, 1000), (1000, 1001), (1001, 3000))]
    assert np.array_equal(np.concatenate(parts), symbols)


def test_gaussian_coder_refuses_bad_input_and_garbage():
    loc, scale = np.zeros(4), np.ones(4)
    with pytest.raises(ValueError, match=r"must lie in \[-2, 2\]"):
        encode_gaussian(np.array([0, 3, 0, 0]), loc, scale, -2, 2)
    with pytest.raises(ValueError, match="one loc and one scale each"):
        encode_gaussian(np.array([0, 1, 0]), loc, scale, -2, 2)
    with pytest.raises(ValueError, match="every scale > 0"):
        encode_gaussian(np.array([0, 1, 0, 0]), loc, np.array([1.0, 0.0, 1.0, 1.0]), -2, 2)
    with pytest.raises(ValueError, match="integers low < high"):
        encode_gaussian(np.array([0, 0, 0, 0]), loc, scale, 2, 2)
    with pytest.raises(TypeError, match="needs bytes"):
        GaussianDecoder("text", -2, 2)
    with pytest.raises(InvalidStreamError, match="do not decode"):
        GaussianDecoder(b"\xff" * 16, -2, 2).decode(np.zeros(64), np.full(64, 0.2))
