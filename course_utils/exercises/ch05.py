"""Chapter 05 exercises: retrieval in code space, AUROC, a threshold for a false-positive budget, photon noise of
a low-dose CT scan, and a CT denoiser designed and trained to a target."""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_utils.exercises.core import Exercise, expect, imported
from course_utils.exercises.fresh import fresh_copy
from course_utils.exercises.judges import number_judge
from course_utils.exercises.values import as_array, as_scalar


def _scalar(value: Any, what: str) -> float:
    """``value`` as one real number, or a failure that says what was wrong."""
    return as_scalar(value, what, "it should return one number")


# --- 05.1 nearest_neighbours ---------------------------------------------------------------------------

_nearest_neighbours = imported("course_utils.evaluation.embedding", "nearest_neighbours")


def reference_nearest_neighbours(query_codes, bank_codes, k: int) -> np.ndarray:
    """Reference for 05.1: indices (n_query, k) of the ``k`` nearest bank codes (Euclidean), nearest first."""
    indices, _ = _nearest_neighbours()(query_codes, bank_codes, k=k)
    return np.asarray(indices)


def _brute_force(query: np.ndarray, bank: np.ndarray, k: int) -> np.ndarray:
    """Independent answer: sort every pairwise Euclidean distance with a stable sort."""
    distances = np.sqrt(((query[:, None, :] - bank[None, :, :]) ** 2).sum(-1))  # (n_query, n_bank)
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


def _codes(seed: int, n: int, d: int, scale: float = 1.0) -> np.ndarray:
    return (scale * np.random.default_rng(seed).normal(size=(n, d))).astype(np.float32)


def _neighbour_problem(fn: Callable[..., Any], query: np.ndarray, bank: np.ndarray, k: int) -> str | None:
    """The first problem with the learner's neighbours of ``query`` in ``bank``, or None."""
    out = as_array(fn(query, bank, k), "nearest_neighbours", kinds="iu")
    if out.shape != (len(query), k):
        return (f"{len(query)} queries with k={k} gave shape {out.shape}; return one row of k bank indices per "
                "query, shape (n_query, k)")
    want = _brute_force(query, bank, k)
    if np.array_equal(np.sort(out, axis=1), np.sort(want, axis=1)) and not np.array_equal(out, want):
        return "the right neighbours, in the wrong order: each row must list the nearest bank code first"
    far = np.argsort(-np.sqrt(((query[:, None] - bank[None]) ** 2).sum(-1)), axis=1)[:, :k]
    if np.array_equal(out, far):
        return "these are the farthest bank codes: sort the distances in increasing order"
    if not np.array_equal(out, want):
        return ("wrong neighbours: measure the Euclidean distance from each query to every bank code (not a dot "
                "product, whose value grows with the codes' length) and take the k smallest")
    return None


def _public_nearest_neighbours(fn: Callable[..., Any]) -> None:
    query, bank = _codes(0, 3, 4), _codes(1, 40, 4)
    kept = bank.copy()
    problem = _neighbour_problem(fn, query, bank, 5)
    expect(np.array_equal(bank, kept), "the function changed the bank codes in place; the codes are needed later")
    expect(problem is None, problem or "")
    long_codes = bank * np.linspace(0.2, 3.0, len(bank), dtype=np.float32)[:, None]  # lengths differ a lot
    problem = _neighbour_problem(fn, query, long_codes, 3)
    expect(problem is None, f"with bank codes of very different lengths: {problem}")
    problem = _neighbour_problem(fn, _codes(2, 1, 32), _codes(3, 500, 32), 8)
    expect(problem is None, f"with one query and 32-d codes: {problem}")
    problem = _neighbour_problem(fn, _codes(4, 2, 2), _codes(5, 6, 2), 6)
    expect(problem is None, f"with k equal to the bank size: {problem}")


def _cases_nearest_neighbours(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(2):
        d = int(rng.integers(2, 20))
        cases.append({"query_codes": _codes(int(rng.integers(1000)), int(rng.integers(1, 6)), d),
                      "bank_codes": _codes(int(rng.integers(1000)), int(rng.integers(20, 200)), d),
                      "k": int(rng.integers(1, 10))})
    return cases


def _judge_nearest_neighbours(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    out = outputs["output"]
    want = _brute_force(np.asarray(case["query_codes"]), np.asarray(case["bank_codes"]), int(case["k"]))
    if out.shape != want.shape:
        return f"shape {out.shape}"
    return None if np.array_equal(out, want) else "wrong neighbours or order"


NEAREST_NEIGHBOURS = Exercise(
    id="05.1", name="nearest_neighbours", title="Retrieval: the nearest codes", points=2,
    reference=lambda: reference_nearest_neighbours, public=_public_nearest_neighbours,
    hidden_cases=_cases_nearest_neighbours, judge=_judge_nearest_neighbours,
    hints=(
        ("for every query, measure how far it is from every code in the bank, then keep the positions of the k "
         "closest, closest first. 'Far' is the straight-line distance between the two code vectors."),
        ("broadcast the queries to shape (n_query, 1, d) against the bank (1, n_bank, d), square the differences "
         "and sum over the last axis: a (n_query, n_bank) table of squared distances. Sort each row."),
        ("np.argsort(distances, axis=1)[:, :k] gives the indices nearest first; the square root does not change "
         "the order, so squared distances are enough."),
    ),
)

# --- 05.2 auroc ----------------------------------------------------------------------------------------

_auroc = imported("course_utils.evaluation.anomaly", "auroc")


def _pairwise_auroc(scores, is_anomaly) -> float:
    """Independent AUROC: the share of (anomaly, normal) pairs ranked right, ties counting one half."""
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(is_anomaly).astype(bool)
    diff = scores[positive][:, None] - scores[~positive][None, :]  # (n_anomalies, n_normal)
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def _public_auroc(fn: Callable[..., Any]) -> None:
    value = _scalar(fn(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])), "auroc")
    expect(not np.isclose(value, 0.25), "AUROC came out as 1 minus the right value: anomalies are the positives, "
           "and a higher score should mean 'more anomalous'")
    expect(np.isclose(value, 0.75), "wrong AUROC for scores [0.1, 0.4, 0.35, 0.8] with labels [0, 0, 1, 1]: "
           "count the (anomaly, normal) pairs where the anomaly scores higher")
    tied = _scalar(fn(np.array([0.2, 0.5, 0.5, 0.9]), np.array([0, 0, 1, 1])), "auroc")
    expect(np.isclose(tied, _pairwise_auroc([0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1])),
           "wrong AUROC when an anomaly and a normal image have the same score: a tie counts as one half")
    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.2
    scores = rng.normal(size=300) + labels
    value = _scalar(fn(scores, labels), "auroc")
    expect(np.isclose(value, _pairwise_auroc(scores, labels), atol=1e-6),
           "wrong AUROC for 300 random scores with boolean labels (True = anomaly)")
    value = _scalar(fn(list(scores[:50]), [int(v) for v in labels[:50]]), "auroc")
    expect(np.isclose(value, _pairwise_auroc(scores[:50], labels[:50]), atol=1e-6),
           "with Python lists as input the AUROC is wrong or fails; convert the inputs with np.asarray first")
    value = _scalar(fn(np.round(scores, 1).astype(np.float32), labels), "auroc")
    expect(np.isclose(value, _pairwise_auroc(np.round(scores, 1).astype(np.float32), labels), atol=1e-6),
           "wrong AUROC for float32 scores rounded to one decimal (many ties)")


def _cases_auroc(rng: np.random.Generator) -> list[dict[str, Any]]:
    cases = []
    for _ in range(2):
        n = int(rng.integers(20, 400))
        labels = rng.random(n) < rng.uniform(0.1, 0.6)
        labels[:2] = (True, False)  # both classes present
        cases.append({"scores": np.round(rng.normal(size=n) + rng.uniform(0, 2) * labels, 1), "is_anomaly": labels})
    return cases


AUROC = Exercise(
    id="05.2", name="auroc", title="The area under the ROC curve, from its meaning", points=2,
    reference=_auroc, public=_public_auroc, hidden_cases=_cases_auroc,
    judge=number_judge(lambda scores, is_anomaly: _pairwise_auroc(scores, is_anomaly), "wrong AUROC", rtol=1e-6),
    hints=(
        ("AUROC is a probability: pick one anomalous image and one normal image at random; how likely is it that "
         "the anomaly gets the higher score? A draw counts as half a win."),
        ("split the scores into those of anomalies and those of normal images, compare every anomaly score with "
         "every normal score, count 1 for a win and 0.5 for a tie, and divide by the number of pairs."),
        ("with a = scores[labels] and b = scores[~labels], np.mean((a[:, None] > b[None, :]) + 0.5 * (a[:, None] "
         "== b[None, :])) is the answer; convert the labels to bool with np.asarray(labels).astype(bool)."),
    ),
)

# --- 05.3 threshold_at_fpr -----------------------------------------------------------------------------

_threshold_at_fpr = imported("course_utils.evaluation.anomaly", "threshold_at_fpr")


def _flagged_share(scores: np.ndarray, threshold: float) -> float:
    return float(np.mean(np.asarray(scores) > threshold))


def _threshold_problem(scores: np.ndarray, fpr: float, threshold: float) -> str | None:
    """The first problem with a threshold for a false-positive budget on normal validation scores, or None."""
    share, best = _flagged_share(scores, threshold), np.floor(fpr * len(scores) + 1e-9) / len(scores)
    if share > fpr + 1e-12:
        return (f"{share:.1%} of the {len(scores)} normal validation images score above the threshold, more than the "
                f"budget fpr={fpr}; an interpolating quantile can land between two scores and flag one image too many")
    if share < best - 1e-12:
        return (f"only {share:.1%} of the {len(scores)} normal validation images are flagged, but fpr={fpr} allows "
                "more: the threshold is higher than it needs to be, so anomalies are missed for nothing")
    return None


def _public_threshold_at_fpr(fn: Callable[..., Any]) -> None:
    rng = np.random.default_rng(0)
    scores = rng.gamma(2.0, 0.01, 200)
    kept = scores.copy()
    threshold = _scalar(fn(scores, 0.05), "threshold_at_fpr")
    expect(np.array_equal(scores, kept), "the function changed the scores in place (sorting them?); sort a copy")
    expect(not np.isclose(_flagged_share(scores, threshold), 0.95),
           "95% of the normal images are flagged: the threshold should sit near the top of the normal scores, "
           "with only fpr of them above it")
    problem = _threshold_problem(scores, 0.05, threshold)
    expect(problem is None, problem or "")
    for n, fpr in ((50, 0.05), (37, 0.1), (1000, 0.01), (20, 0.0)):
        sample = rng.gamma(2.0, 0.01, n).astype(np.float32)
        problem = _threshold_problem(sample, fpr, _scalar(fn(sample, fpr), "threshold_at_fpr"))
        expect(problem is None, f"with {n} validation scores and fpr={fpr}: {problem}")
    listed = [0.3, 0.1, 0.7, 0.2, 0.9, 0.4, 0.5, 0.6, 0.8, 1.0]
    problem = _threshold_problem(np.array(listed), 0.2, _scalar(fn(listed, 0.2), "threshold_at_fpr"))
    expect(problem is None, f"with the scores as a Python list: {problem}")


def _cases_threshold_at_fpr(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"normal_scores": rng.gamma(2.0, 0.01, int(rng.integers(30, 300))),
             "fpr": float(rng.choice([0.01, 0.05, 0.1, 0.2]))} for _ in range(2)]


def _probe_threshold_at_fpr(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The learner's threshold for one hidden case, arguments passed by position as the notebook passes them."""
    return {"output": np.asarray(fn(case["normal_scores"], case["fpr"]))}


def _judge_threshold_at_fpr(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    out = outputs["output"]
    if out.shape != () or out.dtype.kind not in "iuf":
        return f"returned shape {out.shape} and dtype {out.dtype}, not a number"
    problem = _threshold_problem(np.asarray(case["normal_scores"]), float(case["fpr"]), float(out))
    return None if problem is None else "the flagged share of normal scores misses the budget"


THRESHOLD_AT_FPR = Exercise(
    id="05.3", name="threshold_at_fpr", title="A threshold for a false-positive budget, set on normal data only",
    points=2, reference=_threshold_at_fpr, public=_public_threshold_at_fpr, hidden_cases=_cases_threshold_at_fpr,
    judge=_judge_threshold_at_fpr, probe=_probe_threshold_at_fpr,
    hints=(
        ("images scoring above the threshold are flagged. On held-out normal images every flag is a false alarm, "
         "so choose the lowest threshold that flags at most the fraction fpr of them: never more, and no fewer than "
         "the budget allows."),
        ("sort the normal scores; with n of them, at most m = floor(fpr * n) may lie above the threshold. A "
         "threshold equal to the (m+1)-th largest score flags exactly the m scores above it (when no two are equal)."),
        ("np.sort(scores)[n - m - 1] with m = int(np.floor(fpr * n)); or np.quantile(scores, 1 - fpr, "
         "method='inverted_cdf'). The default, interpolating np.quantile can flag one image too many."),
    ),
)

# --- 05.4 photon_noise: a low-dose CT scan, photon by photon ---------------------------------------------

_photon_noise = imported("course_utils.data.tomography", "photon_noise")


def _public_photon_noise(fn: Callable[..., Any]) -> None:
    line_integrals = np.full((64, 90), 1.0, dtype=np.float32)  # every ray attenuated by e^-1
    kept = line_integrals.copy()
    out = as_array(fn(line_integrals, 1e4, np.random.default_rng(0)), "photon_noise")
    expect(np.array_equal(line_integrals, kept), "the function changed the clean line integrals in place; noise a copy")
    expect(out.shape == line_integrals.shape, f"line integrals of shape {line_integrals.shape} came back as {out.shape}")
    expect(np.all(np.isfinite(out)), "some values are not finite: take the log of counts, never of zero")
    expect(abs(float(out.mean()) - 1.0) < 0.01, f"with 10,000 photons per ray the noisy line integrals average "
           f"{float(out.mean()):.3f} where the clean ones are 1.0: convert counts back with -log(counts / photons)")
    variance, want = float(out.var()), float(np.exp(1.0) / 1e4)
    expect(variance > 0.5 * want, "the noise is far too weak: the counts behind each ray are Poisson with mean "
           "photons * exp(-p), and their spread is what low dose means")
    expect(variance < 1.5 * want, "the noise is far too strong for 10,000 photons per ray: draw Poisson counts with "
           "mean photons * exp(-p) rather than adding noise to the line integrals")
    fewer = as_array(fn(line_integrals, 1e3, np.random.default_rng(0)), "photon_noise")
    expect(np.isclose(float(fewer.var()) / variance, 10.0, rtol=0.3),
           "ten times fewer photons should give about ten times the variance")
    denser = as_array(fn(np.full((64, 90), 2.0, dtype=np.float32), 1e4, np.random.default_rng(0)), "photon_noise")
    expect(np.isclose(float(denser.var()) / variance, np.e, rtol=0.3), "a ray through denser material (p = 2 instead "
           "of 1) keeps e times fewer photons, so its noise variance should be about e times larger")
    again = as_array(fn(line_integrals, 1e4, np.random.default_rng(0)), "photon_noise")
    expect(np.array_equal(out, again), "two calls with generators of the same seed gave different scans: draw "
           "every random number from the `rng` argument")
    dark = as_array(fn(np.full((8, 8), 12.0, dtype=np.float32), 100.0, np.random.default_rng(1)), "photon_noise")
    expect(np.all(np.isfinite(dark)), "behind a very dense object most counts are 0 and log(0) is -inf: replace zero "
           "counts by a small positive number before the log")


def _cases_photon_noise(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"line_integrals": rng.uniform(0.0, 3.0, (48, 60)).astype(np.float32),
             "photons": float(rng.choice([3e3, 1e4, 3e4])), "seed": int(rng.integers(1000))} for _ in range(2)]


def _probe_photon_noise(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The learner's noisy line integrals of one hidden case, with a generator seeded by the case."""
    return {"output": np.asarray(fn(case["line_integrals"], case["photons"], np.random.default_rng(case["seed"])))}


def _judge_photon_noise(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    out, clean = outputs["output"], np.asarray(case["line_integrals"], dtype=np.float64)
    if out.shape != clean.shape or out.dtype.kind != "f" or not np.all(np.isfinite(out)):
        return "shape, dtype or non-finite values"
    z = (out - clean) * np.sqrt(float(case["photons"]) * np.exp(-clean))  # about N(0, 1) per ray
    return None if abs(z.mean()) < 0.1 and 0.8 < z.std() < 1.2 else "noise statistics do not match photon counting"


PHOTON_NOISE = Exercise(
    id="05.4", name="photon_noise", title="A low-dose CT scan: Poisson photon counts", points=3,
    reference=_photon_noise, public=_public_photon_noise, hidden_cases=_cases_photon_noise, judge=_judge_photon_noise,
    probe=_probe_photon_noise,
    hints=(
        ("a scanner counts photons: along a ray with line integral p, a beam of I0 photons keeps about I0 e^-p of "
         "them, and the number detected is random. The reconstruction then works with minus the logarithm of the "
         "detected share of photons."),
        ("draw the counts from a Poisson distribution whose mean is photons * exp(-line_integrals), using the "
         "generator you were given; keep zero counts away from the log; return -log(counts / photons) as floats."),
        ("rng.poisson(photons * np.exp(-line_integrals)) draws the counts; np.maximum(counts, 1) avoids log(0); "
         "np.log works elementwise; cast to the input's float dtype at the end."),
    ),
)

# --- 05.5 make_ct_denoiser: design a network that cleans low-dose FBP images, train it to a target -----------

CT_FIT = {"size": 48, "n_angles": 45, "train": 96, "val": 32, "epochs": 8, "batch_size": 8, "learning_rate": 1e-3}
TARGET_CT_PSNR = 27.0  # mean dB over validation phantoms: plain FBP 24.2; the reference 29.2 (3 seeds); 2 plain convs 25.9
MAX_CT_PARAMS = 500_000  # keeps the check's short fit to seconds


@functools.lru_cache(maxsize=1)
def _ct_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Low-dose FBP images and clean phantoms (48 x 48): training pairs, then validation pairs from other phantoms."""
    from course_utils.data.tomography import ct_pairs

    noisy, clean = ct_pairs(CT_FIT["train"] + CT_FIT["val"], size=CT_FIT["size"], n_angles=CT_FIT["n_angles"], seed=0)
    n = CT_FIT["train"]
    return noisy[:n], clean[:n], noisy[n:], clean[n:]


def reference_make_ct_denoiser() -> Any:
    """Reference for 05.5: five 3x3 convolutions that estimate a correction added back to the input (residual)."""
    import keras

    inputs = keras.Input((None, None, 1))  # any height and width
    x = inputs
    for _ in range(5):
        x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)  # (batch, h, w, 32)
    correction = keras.layers.Conv2D(1, 3, padding="same")(x)  # (batch, h, w, 1)
    return keras.Model(inputs, keras.layers.Add()([inputs, correction]), name="ct_denoiser")


def _mean_psnr(clean: np.ndarray, images: np.ndarray) -> float:
    mse = np.mean(np.square(images.astype(np.float64) - clean).reshape(len(clean), -1), axis=1)  # (n,)
    return float(np.mean(10 * np.log10(1.0 / np.maximum(mse, 1e-12))))


def _probe_make_ct_denoiser(fn: Callable[..., Any], case: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Shapes on two image sizes and the size of the learner's network; validation PSNR after the check's fit."""
    import keras

    keras.utils.set_random_seed(int(case["seed"]))
    model = fn()
    expect(isinstance(model, keras.Model), f"make_ct_denoiser should return a keras.Model, got {type(model).__name__}")
    noisy, clean, noisy_val, clean_val = _ct_data()
    shapes = []
    for side in (64, 96):
        try:
            shapes.append(tuple(np.shape(model(np.zeros((2, side, side, 1), np.float32), training=False))))
        except Exception:  # noqa: BLE001 - a model tied to one size: report it as a shape problem
            shapes.append(())
    probed = {"shape_64": np.asarray(shapes[0], dtype=int), "shape_96": np.asarray(shapes[1], dtype=int),
              "params": np.asarray(model.count_params()), "psnr": np.asarray(np.nan)}
    if _ct_problem(probed) is None:
        model = fresh_copy(model, noisy[:2], "CT denoiser")  # new weights: no head start from trained ones
        model.compile(optimizer=keras.optimizers.Adam(CT_FIT["learning_rate"]), loss="mse")
        model.fit(noisy, clean, batch_size=CT_FIT["batch_size"], epochs=CT_FIT["epochs"], verbose=0)
        probed["psnr"] = np.asarray(_mean_psnr(clean_val, np.asarray(model.predict(noisy_val, verbose=0))))
    return probed


def _ct_problem(probed: Mapping[str, np.ndarray], fitted: bool = False) -> str | None:
    """The first thing wrong with a probed CT denoiser, as a message for the learner, or None."""
    for side in (64, 96):
        shape = tuple(int(s) for s in probed[f"shape_{side}"])
        if shape != (2, side, side, 1):
            return (f"2 images of {side} x {side} pixels came back as {shape or 'an error'}; the network must be fully "
                    "convolutional (no Flatten or Dense, 'same' padding) so it cleans images of any size, such as the "
                    "128 x 128 Shepp-Logan phantom")
    if int(probed["params"]) > MAX_CT_PARAMS:
        return f"the model has {int(probed['params']):,} parameters; keep it under {MAX_CT_PARAMS:,} for this exercise"
    if fitted and not float(probed["psnr"]) >= TARGET_CT_PSNR:
        return (f"after the check's short fit on {CT_FIT['train']} phantoms the mean PSNR on {CT_FIT['val']} validation "
                f"phantoms is {float(probed['psnr']):.2f} dB, below the target {TARGET_CT_PSNR} dB (plain FBP: about "
                "24); is the last layer linear, so values near 0 and 1 are reachable, and does the network see far "
                "enough to tell a streak from an edge?")
    return None


def _public_make_ct_denoiser(fn: Callable[..., Any]) -> None:
    problem = _ct_problem(_probe_make_ct_denoiser(fn, {"seed": 0}), fitted=True)
    expect(problem is None, problem or "")


def _cases_make_ct_denoiser(rng: np.random.Generator) -> list[dict[str, Any]]:
    return [{"seed": int(rng.integers(1000))}]


def _judge_make_ct_denoiser(case: Mapping[str, Any], outputs: Mapping[str, np.ndarray]) -> str | None:
    problem = _ct_problem(outputs, fitted=True)
    return None if problem is None else problem.split(";")[0]


MAKE_CT_DENOISER = Exercise(
    id="05.5", name="make_ct_denoiser", title="Design a network that cleans low-dose CT images, train it to a target",
    points=5, reference=lambda: reference_make_ct_denoiser, public=_public_make_ct_denoiser,
    hidden_cases=_cases_make_ct_denoiser, judge=_judge_make_ct_denoiser, probe=_probe_make_ct_denoiser,
    hints=(
        ("the noisy FBP image is already almost right: the network only has to remove streaks and grain, which are "
         "local patterns. A model that works pixel neighbourhood by pixel neighbourhood does not care about the "
         "image size."),
        ("stack a handful of 3x3 convolutions with 'same' padding and ReLU, then one convolution to a single channel "
         "with no activation; adding the input to that last output (a residual) lets the network learn only the "
         "correction."),
        ("keras.Input((None, None, 1)) accepts any size; keras.layers.Conv2D(32, 3, padding='same', "
         "activation='relu') five times, keras.layers.Conv2D(1, 3, padding='same'), then keras.layers.Add()([inputs, "
         "correction]) and keras.Model(inputs, outputs)."),
    ),
)

EXERCISES = [NEAREST_NEIGHBOURS, AUROC, THRESHOLD_AT_FPR, PHOTON_NOISE, MAKE_CT_DENOISER]
