"""Chapter 07 exercises: straight-through rounding, the ideal code length of a message, the Bjontegaard delta rate,
and a codec designed and trained to a target bit rate and quality, measured from its bytes.

07.1 runs inside tf.function under a GradientTape, as a codec's training step calls it.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_utils.exercises.core import Exercise, expect
from course_utils.exercises.fresh import fresh_copy
from course_utils.exercises.graph import graph_judge, graph_probe, in_graph
from course_utils.exercises.values import as_array, unchanged

# --- 07.1 ste_round ------------------------------------------------------------------------------------

def reference_ste_round(y):
    """Reference for 07.1: round(y) in the forward pass, the identity's gradient in the backward pass."""
    from keras import ops

    return y + ops.stop_gradient(ops.round(y) - y)  # same shape as y


def _np_ste_round(y) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Independent answer: values rounded half to even (as tf.round), gradient of sum(out) all ones."""
    y = np.asarray(y, dtype=np.float64)
    return np.round(y), {"y": np.ones_like(y)}


def _latents(seed: int, shape: tuple[int, ...], scale: float = 4.0) -> np.ndarray:
    """Float32 latents away from half-integers (where rounding conventions differ)."""
    y = np.random.default_rng(seed).normal(0.0, scale, shape)
    near_half = np.abs(np.abs(y - np.floor(y)) - 0.5) < 0.01
    return np.where(near_half, y + 0.05, y).astype(np.float32)


def _ste_problem(y: np.ndarray, out: np.ndarray) -> str | None:
    """The first thing wrong with the values, named after the usual mistake, or None."""
    if out.shape != y.shape:
        return f"latents of shape {y.shape} gave shape {out.shape}; rounding keeps the shape"
    if np.allclose(out, y, atol=1e-6):
        return "the values are not rounded: the forward pass must give integers (only the gradient is the identity's)"
    if np.allclose(out, np.floor(y)) or np.allclose(out, np.ceil(y)):
        return "rounded down or up instead of to the nearest integer"
    if not np.allclose(out, np.round(y), atol=1e-5):
        return "wrong values: the forward pass is y rounded to the nearest integer"
    return None


def _public_ste_round(fn: Callable[..., Any]) -> None:
    y = _latents(0, (4, 3, 3, 2))
    kept = y.copy()
    out = as_array(fn(y), "ste_round")
    unchanged([kept], [y])
    problem = _ste_problem(y, out)
    expect(problem is None, problem or "")
    weights = np.random.default_rng(1).normal(size=y.shape).astype(np.float32)
    value, grads = in_graph(fn, [y], [True], weights)
    expect(np.allclose(value, np.round(y), atol=1e-5), "inside tf.function the values differ from the eager ones")
    expect(grads[0] is not None, "no gradient reaches y: tf.round alone has none; the straight-through estimator "
           "adds the rounding's change to y as a constant, so the gradient is the identity's")
    expect(not np.allclose(grads[0], 0.0), "the gradient with respect to y is zero: the rounding must be held "
           "constant with stop_gradient, not y itself")
    expect(np.allclose(grads[0], weights, rtol=1e-5, atol=1e-6), "the gradient with respect to y is not the "
           "identity's: d out / d y must be 1 everywhere")


def _cases_ste_round(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"y": _latents(int(rng.integers(1000)), (int(rng.integers(1, 9)), 7, 7, int(rng.integers(1, 9))),
                           float(rng.uniform(0.5, 20.0)))} for _ in range(2)]


STE_ROUND = Exercise(
    id="07.1", name="ste_round", title="Round forward, pass the gradient straight through", points=2,
    reference=lambda: reference_ste_round, public=_public_ste_round, hidden_cases=_cases_ste_round,
    judge=graph_judge(_np_ste_round, rtol=1e-5), probe=graph_probe(("y",), ("y",)),
    hints=(
        ("the forward pass must give the rounded values, but the gradient must be that of y itself; write the output "
         "as y plus a correction, and make the correction invisible to the gradient."),
        ("the correction is round(y) - y; wrap it in tf.stop_gradient (or keras.ops.stop_gradient) so the tape "
         "treats it as a constant."),
        "return y + tf.stop_gradient(tf.round(y) - y)",
    ),
)

# --- 07.2 ideal_bits -------------------------------------------------------------------------------------

def reference_ideal_bits(symbols, pmf, offset) -> float:
    """Reference for 07.2: -sum log2 pmf[s - offset] over every symbol, in bits."""
    index = np.asarray(symbols, dtype=np.int64).ravel() - int(offset)
    return float(-np.sum(np.log2(np.asarray(pmf, dtype=np.float64)[index])))


def _source(seed: int, n: int, low: int, high: int, spread: float) -> tuple[np.ndarray, np.ndarray, int]:
    """A discretised Laplace table on low..high and n symbols drawn from it: (symbols, pmf, offset)."""
    support = np.arange(low, high + 1)
    pmf = np.exp(-np.abs(support - (low + high) / 2) / spread)
    pmf /= pmf.sum()
    return np.random.default_rng(seed).choice(support, size=n, p=pmf), pmf, low


def _bits_problem(symbols: np.ndarray, pmf: np.ndarray, offset: int, out: Any) -> str | None:
    """The first thing wrong with the learner's number, named after the usual mistake, or None."""
    value = np.asarray(out, dtype=float) if np.asarray(out).dtype.kind in "iuf" else None
    if value is None or value.shape != ():
        return f"returned {type(out).__name__}; the code length of the whole message is one number of bits"
    want = reference_ideal_bits(symbols, pmf, offset)
    n = symbols.size
    entropy = float(-np.sum(pmf * np.log2(pmf)))
    mistakes = [
        (want * np.log(2), "that is the length in nats (natural logarithm): use log base 2 for bits"),
        (want / n, "that is the average per symbol; return the total for the whole message"),
        (entropy * n, ("that is the entropy times the number of symbols, the expected length of a typical message; "
                       "return the length of THIS message, summing over the symbols actually sent")),
    ]
    shifted = np.clip(np.asarray(symbols).ravel(), 0, len(pmf) - 1)
    mistakes.append((float(-np.sum(np.log2(pmf[shifted]))), "the offset is missing: symbol s sits at pmf[s - offset]"))
    for wrong, message in mistakes:
        if np.isclose(value, wrong, rtol=1e-6) and not np.isclose(wrong, want, rtol=1e-6):
            return message
    return None if np.isclose(value, want, rtol=1e-6) else "wrong value: -sum of log2 of each symbol's probability"


def _public_ideal_bits(fn: Callable[..., Any]) -> None:
    symbols, pmf, offset = _source(0, 500, -8, 8, 2.0)
    kept = [symbols.copy(), pmf.copy()]
    problem = _bits_problem(symbols, pmf, offset, fn(symbols, pmf, offset))
    unchanged(kept, [symbols, pmf])
    expect(problem is None, problem or "")
    grid, table, low = _source(1, 600, 3, 40, 6.0)
    problem = _bits_problem(grid.reshape(20, 30), table, low, fn(grid.reshape(20, 30), table, low))
    expect(problem is None, f"with a (20, 30) array of symbols from 3..40: {problem}")
    one = np.array([5])
    problem = _bits_problem(one, np.array([0.5, 0.25, 0.25]), 4, fn(one, np.array([0.5, 0.25, 0.25]), 4))
    expect(problem is None, f"with one symbol of probability 1/4 (2 bits): {problem}")


def _cases_ideal_bits(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(2):
        low = int(rng.integers(-50, 10))
        symbols, pmf, offset = _source(int(rng.integers(1000)), int(rng.integers(1, 3000)), low,
                                       low + int(rng.integers(2, 60)), float(rng.uniform(0.5, 10.0)))
        cases.append({"symbols": symbols, "pmf": pmf, "offset": offset})
    return cases


def _probe_ideal_bits(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {"output": np.asarray(fn(case["symbols"], case["pmf"], case["offset"]))}


def _judge_ideal_bits(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _bits_problem(case["symbols"], case["pmf"], case["offset"], outputs["output"])
    return None if problem is None else problem.split(":")[0]


IDEAL_BITS = Exercise(
    id="07.2", name="ideal_bits", title="The ideal code length of a message", points=2,
    reference=lambda: reference_ideal_bits, public=_public_ideal_bits, hidden_cases=_cases_ideal_bits,
    judge=_judge_ideal_bits, probe=_probe_ideal_bits,
    hints=(
        ("a symbol of probability p costs minus the base-2 logarithm of p bits with an ideal entropy coder; a message "
         "costs the total over its symbols. The table starts at the symbol given as offset, not at 0."),
        ("turn each symbol into its row in the table (symbol - offset), look its probability up, take log2, sum "
         "over every symbol of the message and flip the sign."),
        "float(-np.sum(np.log2(np.asarray(pmf)[np.asarray(symbols).ravel() - offset])))",
    ),
)

# --- 07.3 bd_rate ----------------------------------------------------------------------------------------

def reference_bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test) -> float:
    """Reference for 07.3: Bjontegaard's delta rate in percent, cubic fits of log rate against PSNR."""
    from course_utils.compression import bd_rate

    return bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test, method="cubic")


def _mean_log_rate(rate, psnr, low: float, high: float) -> float:
    """Independent: the mean of ln(rate) over [low, high] along a cubic fitted to (PSNR, ln rate) (numpy.polynomial)."""
    integral = np.polynomial.Polynomial.fit(np.asarray(psnr, float), np.log(np.asarray(rate, float)), 3).integ()
    return float((integral(high) - integral(low)) / (high - low))


def _overlap(psnr_anchor, psnr_test) -> tuple[float, float]:
    """The PSNR interval both curves cover."""
    return max(np.min(psnr_anchor), np.min(psnr_test)), min(np.max(psnr_anchor), np.max(psnr_test))


def _np_bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test) -> float:
    low, high = _overlap(psnr_anchor, psnr_test)
    difference = _mean_log_rate(rate_test, psnr_test, low, high) - _mean_log_rate(rate_anchor, psnr_anchor, low, high)
    return float(np.expm1(difference) * 100)


def _bd_mistakes(anchor: tuple, test: tuple) -> list[tuple[float, str]]:
    """The values the usual mistakes give on these curves, with what to tell the learner."""
    (rate_a, psnr_a), (rate_t, psnr_t) = anchor, test
    low, high = _overlap(psnr_a, psnr_t)
    want = _np_bd_rate(rate_a, psnr_a, rate_t, psnr_t)
    log_difference = _mean_log_rate(rate_t, psnr_t, low, high) - _mean_log_rate(rate_a, psnr_a, low, high)

    def mean_rate(rate, psnr) -> float:  # the rate itself fitted against PSNR, not its logarithm
        integral = np.polynomial.Polynomial.fit(np.asarray(psnr, float), np.asarray(rate, float), 3).integ()
        return float((integral(high) - integral(low)) / (high - low))

    own_ranges = (_mean_log_rate(rate_t, psnr_t, np.min(psnr_t), np.max(psnr_t))
                  - _mean_log_rate(rate_a, psnr_a, np.min(psnr_a), np.max(psnr_a)))
    return [
        (want / 100, "that is a fraction; return a percentage (-30 for 30 % fewer bits)"),
        (_np_bd_rate(rate_t, psnr_t, rate_a, psnr_a),
         "anchor and test are swapped: the result is the TEST codec's rate change relative to the anchor"),
        ((mean_rate(rate_t, psnr_t) / mean_rate(rate_a, psnr_a) - 1) * 100,
         ("the rates were fitted as they are: fit the LOGARITHM of the rate against PSNR, then exponentiate the "
         "difference of the averages")),
        (log_difference * 100, ("that is the difference of the mean log rates times 100: turn it into a rate ratio "
         "first (exp of the difference, minus 1), then a percentage")),
        (np.expm1(own_ranges) * 100, ("each fit was averaged over its own PSNR range: average both over the interval "
         "BOTH curves cover (from the larger of the minima to the smaller of the maxima)")),
    ]


def _bd_problem(anchor: tuple, test: tuple, out: Any) -> str | None:
    """The first thing wrong with the learner's BD-rate on these curves, named after the usual mistake, or None."""
    value = np.asarray(out) if np.asarray(out).dtype.kind in "iuf" else None
    if value is None or value.shape != ():
        return f"returned {type(out).__name__}; the BD-rate is one number, a percentage"
    want = _np_bd_rate(*anchor, *test)
    if np.isclose(float(value), want, rtol=1e-4, atol=1e-3):
        return None
    for wrong, message in _bd_mistakes(anchor, test):
        if np.isclose(float(value), wrong, rtol=1e-4, atol=1e-3) and not np.isclose(wrong, want, rtol=1e-4, atol=1e-3):
            return message
    return (f"wrong value ({float(value):.4g} %, expected {want:.4g} %): fit log(rate) as a cubic in PSNR on each "
            "curve, average each fit over the PSNR interval both curves cover, and turn the difference of the averages "
            "into a percentage, 100 * (exp(difference) - 1)")


def _quality(rate: np.ndarray) -> np.ndarray:
    """A smooth, increasing PSNR (dB) of a rate (bpp): the shape of a real codec's curve."""
    return 18.0 + 7.0 * np.log1p(3.0 * rate)


def _rd_curves(seed: int) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """An anchor curve and a test curve that needs a rate-dependent fraction of its bits, partly overlapping."""
    rng = np.random.default_rng(seed)
    rate_a = np.geomspace(0.15, 2.5, int(rng.integers(4, 7))) * rng.uniform(0.9, 1.1)  # (n_a,)
    rate_t = np.geomspace(0.1, 1.8, int(rng.integers(4, 7))) * rng.uniform(0.9, 1.1)  # (n_t,)
    k0, slope = rng.uniform(0.4, 1.3), rng.uniform(0.0, 0.4)
    psnr_t = _quality(rate_t / (k0 * (1.0 + slope * rate_t)))  # the test codec reaches PSNR q with k(r) times the bits
    return (rate_a, _quality(rate_a)), (rate_t, psnr_t)


def _public_bd_rate(fn: Callable[..., Any]) -> None:
    rate, psnr = np.array([0.25, 0.5, 1.0, 2.0]), np.array([22.0, 25.5, 28.6, 31.2])
    problem = _bd_problem((rate, psnr), (0.7 * rate, psnr), fn(rate, psnr, 0.7 * rate, psnr))
    expect(problem is None, f"a test codec that needs 70 % of the anchor's bits at every PSNR has a BD-rate of -30 %: "
           f"{problem}")
    for seed in (3, 11):
        anchor, test = _rd_curves(seed)
        kept = [a.copy() for a in (*anchor, *test)]
        order = np.random.default_rng(seed).permutation(len(test[0]))  # points need not come sorted
        given = (list(anchor[0]), list(anchor[1]), list(test[0][order]), list(test[1][order]))
        problem = _bd_problem(anchor, test, fn(*given))
        unchanged(kept, [*anchor, *test])
        low, high = _overlap(anchor[1], test[1])
        expect(problem is None, f"on curves with {len(anchor[0])} and {len(test[0])} points (Python lists, the test "
               f"curve's points shuffled) that both cover {low:.2f}..{high:.2f} dB: {problem}")


def _cases_bd_rate(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(2):
        (rate_a, psnr_a), (rate_t, psnr_t) = _rd_curves(int(rng.integers(100, 10_000)))
        cases.append({"rate_anchor": rate_a, "psnr_anchor": psnr_a, "rate_test": rate_t, "psnr_test": psnr_t})
    return cases


def _probe_bd_rate(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {"output": np.asarray(fn(case["rate_anchor"], case["psnr_anchor"], case["rate_test"], case["psnr_test"]))}


def _judge_bd_rate(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _bd_problem((case["rate_anchor"], case["psnr_anchor"]), (case["rate_test"], case["psnr_test"]),
                          outputs["output"])
    return None if problem is None else problem.split(":")[0].split(" (")[0]  # never a hidden case's answer


BD_RATE = Exercise(
    id="07.3", name="bd_rate", title="The Bjøntegaard delta rate of two codecs", points=3,
    reference=lambda: reference_bd_rate, public=_public_bd_rate, hidden_cases=_cases_bd_rate,
    judge=_judge_bd_rate, probe=_probe_bd_rate,
    hints=(
        ("compare the codecs at EQUAL quality: describe each curve as the logarithm of the rate as a function of PSNR, "
         "average that function over the PSNR interval both curves reach, and compare the two averages. A difference "
         "of logarithms is the logarithm of a rate ratio."),
        ("np.polyfit(psnr, np.log(rate), 3) gives each cubic; np.polyint integrates it and np.polyval evaluates the "
         "integral at the interval's ends (divide by the interval's length for the average). The interval runs from "
         "the larger of the two minimum PSNRs to the smaller of the two maxima. Answer 100 * (exp(test - anchor) - 1)."),
        ("low, high = max(min(pa), min(pt)), min(max(pa), max(pt)); for each curve: p = np.polyint(np.polyfit(psnr, "
         "np.log(rate), 3)); mean = (np.polyval(p, high) - np.polyval(p, low)) / (high - low); then "
         "100 * (np.exp(mean_test - mean_anchor) - 1)"),
    ),
)


# --- 07.4 make_codec ---------------------------------------------------------------------------------------

INPUT_SHAPE = (28, 28, 1)
CODEC_FIT = {"train": 3000, "val": 500, "epochs": 4, "batch_size": 32, "learning_rate": 5e-3}
MAX_BPP = 0.8  # the bit budget, bits per pixel of range-coded payload on the check's validation images
TARGET_PSNR = 19.5  # dB from the bytes; the reference over 8 seeds: 0.59-0.71 bpp, 20.1-20.8 dB
MAX_CODEC_PARAMS = 400_000  # keeps the check's short fit to seconds


def _codec_data() -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST training images: (3000, 28, 28, 1) to train, (500, 28, 28, 1) to measure, a fixed seeded draw."""
    from course_utils.data import load_fashion_mnist, take_subset

    (x, _), _ = load_fashion_mnist()
    (x,) = take_subset([x], CODEC_FIT["train"] + CODEC_FIT["val"], seed=1)
    return x[:CODEC_FIT["train"]], x[CODEC_FIT["train"]:]


def reference_make_codec() -> Any:
    """Reference for 07.4: Balle's layout, 32 filters of 5x5 with stride 2 down to 7x7x8 latents and back."""
    import keras

    from course_utils.models.codec import RateDistortionCodec

    encoder = keras.Sequential([
        keras.Input(INPUT_SHAPE),
        keras.layers.Conv2D(32, 5, strides=2, padding="same", activation="relu"),  # (batch, 14, 14, 32)
        keras.layers.Conv2D(32, 5, strides=2, padding="same", activation="relu"),  # (batch, 7, 7, 32)
        keras.layers.Conv2D(8, 3, padding="same"),  # (batch, 7, 7, 8): the latents
    ], name="encoder")
    decoder = keras.Sequential([
        keras.Input((7, 7, 8)),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),  # (batch, 7, 7, 32)
        keras.layers.Conv2DTranspose(32, 5, strides=2, padding="same", activation="relu"),  # (batch, 14, 14, 32)
        keras.layers.Conv2DTranspose(32, 5, strides=2, padding="same", activation="relu"),  # (batch, 28, 28, 32)
        keras.layers.Conv2D(1, 3, padding="same", activation="sigmoid"),  # (batch, 28, 28, 1)
    ], name="decoder")
    return RateDistortionCodec(encoder, decoder, lmbda=0.0025)


def _codec_facts(model: Any) -> dict[str, np.ndarray]:
    """What the check needs to know about a codec before training it, as numbers."""
    from course_utils.models.codec import RateDistortionCodec

    facts = {"is_codec": np.asarray(isinstance(model, RateDistortionCodec)), "input_shape": np.zeros(0, dtype=int),
             "params": np.asarray(0), "bpp": np.asarray(np.nan), "psnr": np.asarray(np.nan)}
    if isinstance(model, RateDistortionCodec):
        facts.update(input_shape=np.asarray(model.encoder.input_shape[1:], dtype=int),
                     params=np.asarray(model.count_params()))
    return facts


def _fit_and_measure(model: Any) -> tuple[float, float]:
    """Train a fresh copy of the codec (new weights, Adam) as the check does; its payload bpp and PSNR from bytes."""
    import keras

    from course_utils.compression import LearnedCodec, rd_points

    train, val = _codec_data()
    model = fresh_copy(model, val[:8], "codec")  # no head start from weights loaded or trained in make_codec
    model.compile(optimizer=keras.optimizers.Adam(CODEC_FIT["learning_rate"]))
    model.fit(train, batch_size=CODEC_FIT["batch_size"], epochs=CODEC_FIT["epochs"], verbose=0)
    point = rd_points(LearnedCodec(model), val)
    return point["payload_bpp"], point["psnr"]


FITS = 2  # a short fit from random weights now and then stalls at the start; a design passes if either fit does
RETRY_SEED = 7919  # the second fit's seed, offset from the case's


def _probe_make_codec(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Type, input shape and size of the learner's codec; its rate and PSNR from bytes once fitted.

    A fit that misses the target is repeated once from other random weights (the reference reached 20.1-20.8 dB
    on 8 seeds, yet one hidden draw in CI collapsed), and the better of the two is kept.
    """
    import keras

    keras.utils.set_random_seed(int(case["seed"]))
    facts = _codec_facts(fn())
    if _codec_problem(facts) is not None:
        return facts
    best: dict[str, np.ndarray] | None = None
    for attempt in range(FITS):
        keras.utils.set_random_seed(int(case["seed"]) + attempt * RETRY_SEED)
        bpp, quality = _fit_and_measure(fn())
        fitted = dict(facts, bpp=np.asarray(bpp), psnr=np.asarray(quality))
        if best is None or _closer_to_passing(fitted, best):
            best = fitted
        if _codec_problem(best, fitted=True) is None:
            break
    return best


def _closer_to_passing(found: Mapping[str, np.ndarray], than: Mapping[str, np.ndarray]) -> bool:
    """Of two fits, the one closer to passing: within the budget first, then the higher PSNR."""
    def key(facts: Mapping[str, np.ndarray]) -> tuple[bool, float]:
        bpp, quality = float(facts["bpp"]), float(facts["psnr"])
        return (bool(np.isfinite(bpp) and bpp <= MAX_BPP), quality if np.isfinite(quality) else -np.inf)
    return key(found) > key(than)


def _codec_problem(facts: Mapping[str, np.ndarray], fitted: bool = False) -> str | None:
    """The first thing wrong with a probed codec, as a message for the learner, or None."""
    if not bool(facts["is_codec"]):
        return ("make_codec should return a course_utils.models.codec.RateDistortionCodec: build an encoder to a latent "
                "map (batch, h, w, c) and a decoder back to images, and return RateDistortionCodec(encoder, decoder, "
                "lmbda=...)")
    shape = tuple(int(s) for s in facts["input_shape"])
    if shape != INPUT_SHAPE:
        return (f"the encoder takes inputs of shape {shape}; it must take Fashion-MNIST images of shape {INPUT_SHAPE} "
                "(start it with keras.Input((28, 28, 1)))")
    if int(facts["params"]) > MAX_CODEC_PARAMS:
        return (f"the codec has {int(facts['params']):,} parameters; keep it under {MAX_CODEC_PARAMS:,} for this "
                "exercise")
    if not fitted:
        return None
    bpp, quality = float(facts["bpp"]), float(facts["psnr"])
    if not (np.isfinite(bpp) and np.isfinite(quality)):
        return ("the rate or the PSNR is not finite after the check's fit: training diverged; does the decoder end in "
                "a sigmoid (images in [0, 1]) and are the latents a plain linear output?")
    fit = f"after the check's fit ({CODEC_FIT['epochs']} epochs on {CODEC_FIT['train']:,} training images)"
    if bpp > MAX_BPP:
        return (f"{fit} the codec writes {bpp:.3f} bpp, over the budget of {MAX_BPP} bpp; lower lmbda (it prices "
                "a unit of squared error in bits) or give the latents fewer channels")
    if quality < TARGET_PSNR:
        return (f"{fit} the codec decodes at {quality:.2f} dB, below the target {TARGET_PSNR} dB, at {bpp:.3f} bpp; "
                "if the rate is far below the budget, raise lmbda so the codec spends more bits on quality; if it is "
                "near the budget, give the transforms more capacity (filters, a layer)")
    return None


def _public_make_codec(fn: Callable[..., Any]) -> None:
    problem = _codec_problem(_probe_make_codec(fn, {"seed": 0}), fitted=True)
    expect(problem is None, problem or "")


def _cases_make_codec(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"seed": int(rng.integers(1000))}]


def _judge_make_codec(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _codec_problem(outputs, fitted=True)
    return None if problem is None else problem.split(";")[0]


MAKE_CODEC = Exercise(
    id="07.4", name="make_codec", title="Design a codec for a bit budget", points=5,
    reference=lambda: reference_make_codec, public=_public_make_codec, hidden_cases=_cases_make_codec,
    judge=_judge_make_codec, probe=_probe_make_codec,
    hints=(
        ("two things set where a codec lands: its transforms (how well an image can be described with few "
         "integers) and lmbda (how many bits one unit of squared error is worth). A convolutional encoder that "
         "halves the resolution twice to a small stack of latent channels, and a mirrored decoder, is enough; then "
         "tune lmbda until the rate sits under the budget."),
        ("encoder: keras.Input((28, 28, 1)), two Conv2D layers of a few dozen 5x5 filters with strides=2 and ReLU, and "
         "a linear Conv2D to about 8 channels: latents (7, 7, 8). Decoder: a Conv2D with ReLU, two Conv2DTranspose "
         "with strides=2 and ReLU, and a Conv2D to 1 channel with a sigmoid. Try lmbda between 0.001 and 0.01."),
        ("RateDistortionCodec(encoder, decoder, lmbda=0.0025) with encoder = keras.Sequential([keras.Input((28, 28, "
         "1)), Conv2D(32, 5, strides=2, padding='same', activation='relu'), Conv2D(32, 5, strides=2, padding='same', "
         "activation='relu'), Conv2D(8, 3, padding='same')]) and a decoder mirroring it (Conv2DTranspose for the "
         "strides, a sigmoid Conv2D(1, 3, padding='same') last)."),
    ),
)

EXERCISES = [STE_ROUND, IDEAL_BITS, BD_RATE, MAKE_CODEC]
