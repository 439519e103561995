"""Benchmark of chapter 04's autoencoder variants on Fashion-MNIST: one shallow architecture, one training budget.

Every variant is the same shallow autoencoder, 784 pixels -> one sigmoid code layer -> a sigmoid
output, with 1024 code units (overcomplete), trained for the same epochs with the same optimiser;
a plain 64-unit (undercomplete) row is the reference. Each penalty weight (and the dropout rate)
comes from a small grid, chosen by a 1,000-label linear probe on a seeded 10 % validation split of
the training set; the test split is read once, after every choice. Columns: clean test MSE, PSNR
on noisy test inputs, linear-probe accuracy with 1,000 and with all labels, code sparsity, the
encoder's mean Jacobian norm and the training time. Writes ``benchmarks/results/variants.json`` and ``.md``.

    python benchmarks/variants.py                                 # full run (about 20 minutes on an idle 2-core CPU)
    python benchmarks/variants.py --quick --out /tmp/variants     # smoke test: tiny subset, 1 epoch
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = Path(__file__).resolve().parent / "results"

EPOCHS = 5
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
CODE_UNITS = 1024
SEEDS = {"model": 42, "validation_split": 0, "probe_subset": 0, "test_noise": 1, "corruption": 7}
VALIDATION_FRACTION = 0.1
PROBE_LABELS = 1000
TEST_SIGMA = 0.3
JACOBIAN_IMAGES = 500
JACOBIAN_BATCH = 50
QUICK = dict(train=300, test=100, epochs=1, jacobian_images=4)
SHALLOW = dict(input_shape=(28, 28, 1), hidden_units=(), batch_norm=False, code_activation="sigmoid",
               output_activation="sigmoid")

# name: (what it is, grid parameter, grid values); each row is built by ``build(name, value)``
VARIANTS = {
    "plain_64": ("plain, 64 sigmoid units (undercomplete)", None, (None,)),
    "plain_1024": ("plain, 1024 sigmoid units (overcomplete)", None, (None,)),
    "denoising_gaussian": ("denoising, Gaussian noise sigma 0.3", None, (None,)),
    "denoising_masking": ("denoising, masking noise, fraction 0.3", None, (None,)),
    "sparse_l1": ("sparse, L1 penalty on the code", "weight", (1e-5, 1e-4, 1e-3)),
    "sparse_kl": ("sparse, KL penalty, rho 0.05", "weight", (1e-4, 1e-3, 1e-2)),
    "k_sparse": ("k-sparse, k = 25, ReLU code", None, (None,)),
    "contractive": ("contractive, closed-form Jacobian", "weight", (1e-4, 1e-3, 1e-2)),
    "weight_decay": ("weight decay (L2 on both kernels)", "l2", (1e-6, 1e-5, 1e-4)),
    "dropout": ("dropout on the code", "rate", (0.2, 0.5)),
}


def build(name: str, value: float | None):
    """The model of one row at one grid value, and whether it is compiled with loss='mse' (else it owns its loss)."""

    from course_utils.data.corruption import Corruption
    from course_utils.models import ContractiveAutoencoder, DenseAutoencoder, SparseAutoencoder
    from course_utils.models.denoising import DenoisingAutoencoder

    wide = dict(SHALLOW, latent_dim=CODE_UNITS)
    if name == "plain_64":
        return DenseAutoencoder(**dict(SHALLOW, latent_dim=64)), True
    if name == "plain_1024":
        return DenseAutoencoder(**wide), True
    if name.startswith("denoising_"):
        kind = name.removeprefix("denoising_")
        corruption = Corruption(kind, 0.3, seed=SEEDS["corruption"])
        return DenoisingAutoencoder(DenseAutoencoder(**wide), corruption=corruption), True
    if name == "sparse_l1":
        return SparseAutoencoder(penalty="l1", weight=value, **wide), False
    if name == "sparse_kl":
        return SparseAutoencoder(penalty="kl", weight=value, rho=0.05, **wide), False
    if name == "k_sparse":  # the units top-k zeroes must be able to be 0 on their own, which a sigmoid never is
        return SparseAutoencoder(penalty="topk", k=25, **dict(wide, code_activation="relu")), False
    if name == "contractive":
        return ContractiveAutoencoder(weight=value, jacobian="closed_form", **wide), False
    if name == "weight_decay":
        return DenseAutoencoder(l2=value, **wide), True
    return DenseAutoencoder(code_dropout=value, **wide), True  # no hidden layer: dropout acts on the code


def train(name: str, value: float | None, x_train, epochs: int) -> tuple[object, dict]:
    """Build and train one model with the shared budget; returns it and its training record."""
    import keras

    from course_utils.data import make_dataset
    from course_utils.reproducibility import set_seed
    from course_utils.training import fit_with_budget

    set_seed(SEEDS["model"])
    model, plain_loss = build(name, value)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="mse" if plain_loss else None)
    load_before = round(os.getloadavg()[0], 2)
    print(f"-- {name} {VARIANTS[name][1] or ''} {'' if value is None else value}", flush=True)
    result = fit_with_budget(model, make_dataset(x_train, x_train, batch_size=BATCH_SIZE, seed=SEEDS["model"]),
                             epochs=epochs)
    return model, {"value": value, "train_seconds": round(result.seconds, 1), "epochs_run": result.epochs_run,
                   "final_train_loss": result.history["loss"][-1], "load_1min_before": load_before}


def codes_of(model, x):
    """The codes of ``x``: (n, d)."""
    return model.encoder.predict(x, batch_size=1024, verbose=0)


def select(name: str, data: dict, epochs: int, probe_labels: int) -> tuple[object, dict]:
    """Train every grid value of one row; keep the model with the best validation probe (first on ties)."""
    from course_utils.evaluation.metrics import mse
    from course_utils.evaluation.representation import linear_probe

    best, candidates = None, []
    for value in VARIANTS[name][2]:
        model, record = train(name, value, data["x_train"], epochs)
        record["val_probe"] = linear_probe(codes_of(model, data["x_train"]), data["y_train"],
                                           codes_of(model, data["x_val"]), data["y_val"],
                                           n_labels=probe_labels, seed=SEEDS["probe_subset"])
        record["val_mse"] = mse(data["x_val"], model.predict(data["x_val"], batch_size=1024, verbose=0))
        print(f"   validation probe {record['val_probe']:.4f}, validation MSE {record['val_mse']:.5f}", flush=True)
        candidates.append(record)
        if best is None or record["val_probe"] > best[1]["val_probe"]:
            best = (model, record)
    return best[0], {"candidates": candidates, "chosen": best[1]["value"], **best[1]}


def evaluate(model, data: dict, noisy_test, probe_labels: int, jacobian_images: int) -> dict:
    """Test-split measurements of one chosen model (and its training MSE, to show copying)."""
    from course_utils.evaluation.denoisers import mean_psnr as psnr  # mean over images, as every chapter 04 PSNR
    from course_utils.evaluation.metrics import mse
    from course_utils.evaluation.representation import (
        fraction_inactive,
        hoyer_sparsity,
        linear_probe,
        mean_jacobian_norm,
    )

    def predict(x):
        return model.predict(x, batch_size=1024, verbose=0)

    train_codes, test_codes = codes_of(model, data["x_train"]), codes_of(model, data["x_test"])
    denoised = predict(noisy_test)
    return {
        "test_mse": mse(data["x_test"], predict(data["x_test"])),
        "train_mse": mse(data["x_train"], predict(data["x_train"])),
        "noisy_psnr": psnr(data["x_test"], denoised),
        "psnr_to_noisy_input": psnr(noisy_test, denoised),
        "probe_1000": linear_probe(train_codes, data["y_train"], test_codes, data["y_test"], n_labels=probe_labels,
                                   seed=SEEDS["probe_subset"]),
        "probe_all": linear_probe(train_codes, data["y_train"], test_codes, data["y_test"]),
        "fraction_inactive": fraction_inactive(test_codes),
        "hoyer": hoyer_sparsity(test_codes),
        "jacobian_norm": mean_jacobian_norm(model.encoder, data["x_test"][:jacobian_images],
                                            batch_size=JACOBIAN_BATCH),
    }


def load(quick: bool) -> tuple[dict, tuple]:
    """Training and validation arrays, and the test split kept apart until every choice is made."""
    from course_utils.data import load_fashion_mnist, split_validation, take_subset

    (x, y), (x_test, y_test) = load_fashion_mnist()
    if quick:
        (x, y), (x_test, y_test) = take_subset([x, y], QUICK["train"]), take_subset([x_test, y_test], QUICK["test"])
    (x_train, y_train), (x_val, y_val) = split_validation([x, y], VALIDATION_FRACTION, seed=SEEDS["validation_split"])
    return {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val}, (x_test, y_test)


def machine() -> dict:
    import keras
    import numpy as np
    import sklearn
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": np.__version__, "scikit-learn": sklearn.__version__, "cpu_count": os.cpu_count(),
            "platform": platform.platform(), "gpus": len(tf.config.list_physical_devices("GPU"))}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny subset, 1 epoch (smoke test, not a measurement)")
    parser.add_argument("--out", help="output path without extension (default benchmarks/results/variants)")
    args = parser.parse_args(argv)
    if args.quick and not args.out:
        parser.error("--quick needs --out PATH, so that a smoke run never replaces benchmarks/results/variants")

    import tensorflow as tf

    from course_utils.data.corruption import corrupt
    from course_utils.evaluation.denoisers import mean_psnr as psnr  # mean over images, as every chapter 04 PSNR
    from course_utils.evaluation.representation import PROBE_MAX_ITER, PROBE_SOLVER, linear_probe

    tf.get_logger().setLevel("ERROR")  # each encoder's Jacobian function is traced anew: expected, not a problem
    start = time.perf_counter()
    epochs, jacobian_images = (QUICK["epochs"], QUICK["jacobian_images"]) if args.quick else (EPOCHS, JACOBIAN_IMAGES)
    data, test = load(args.quick)
    probe_labels = min(PROBE_LABELS, len(data["x_train"]))
    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": bool(args.quick), "machine": machine(),
              "load_average_start": [round(v, 2) for v in os.getloadavg()],
              "protocol": {"epochs": epochs, "batch_size": BATCH_SIZE, "optimizer": f"Adam({LEARNING_RATE})",
                           "code_units": CODE_UNITS, "architecture": {k: list(v) if isinstance(v, tuple) else v
                                                                     for k, v in SHALLOW.items()},
                           "seeds": SEEDS, "validation_fraction": VALIDATION_FRACTION, "probe_labels": probe_labels,
                           "probe": f"StandardScaler + LogisticRegression(solver={PROBE_SOLVER!r}, "
                                    f"max_iter={PROBE_MAX_ITER})",
                           "test_noise_sigma": TEST_SIGMA, "jacobian_images": jacobian_images,
                           "grids": {name: {"parameter": p, "values": list(v)} for name, (_, p, v) in VARIANTS.items()
                                     if p}},
              "sizes": {"train": len(data["x_train"]), "validation": len(data["x_val"]), "test": len(test[0])},
              "rows": {}}
    chosen = {}
    for name in VARIANTS:
        chosen[name], report["rows"][name] = select(name, data, epochs, probe_labels)
    report["selection_seconds"] = round(time.perf_counter() - start, 1)

    data["x_test"], data["y_test"] = test  # read once, after every choice
    noisy_test = corrupt(data["x_test"], "gaussian", TEST_SIGMA, rng=SEEDS["test_noise"])
    report["noisy_input_psnr"] = psnr(data["x_test"], noisy_test)
    pixels = {k: v.reshape(len(v), -1) for k, v in data.items() if k.startswith("x_")}
    report["pixel_probe"] = {
        "probe_1000": linear_probe(pixels["x_train"], data["y_train"], pixels["x_test"], data["y_test"],
                                   n_labels=probe_labels, seed=SEEDS["probe_subset"]),
        "probe_all": linear_probe(pixels["x_train"], data["y_train"], pixels["x_test"], data["y_test"])}
    for name, model in chosen.items():
        report["rows"][name].update(evaluate(model, data, noisy_test, probe_labels, jacobian_images))
        print(name, {k: v for k, v in report["rows"][name].items() if k != "candidates"}, flush=True)
    report["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    report["total_seconds"] = round(time.perf_counter() - start, 1)
    write(report, Path(args.out or RESULTS / "variants"))
    return report


LABELS = {"noisy_psnr": "noisy-input PSNR", "probe_1000": "1,000-label probe", "hoyer": "Hoyer sparsity",
          "jacobian_norm": "Jacobian norm", "test_mse": "test MSE", "psnr_to_noisy_input": "PSNR to the noisy input"}
# A difference counts only beyond these margins: one seed per row, and the seed-to-seed spread of a 4-epoch dense
# autoencoder's test MSE is about 5 % (benchmarks/results/seed_variance.md), about 0.2 dB of PSNR; a probe accuracy
# on 10,000 test codes has a standard error near 0.004.
MARGINS = {"test_mse": ("relative", 0.05), "noisy_psnr": ("absolute", 0.2), "psnr_to_noisy_input": ("absolute", 0.2),
           "probe_1000": ("absolute", 0.01), "hoyer": ("relative", 0.05), "jacobian_norm": ("relative", 0.05)}


def verdict(a: float, b: float, key: str, lower: bool = False) -> str:
    """'holds' when ``a`` beats ``b`` beyond the margin of ``key``, 'does not hold here' when it loses beyond it."""
    kind, size = MARGINS[key]
    margin = size * abs(b) if kind == "relative" else size
    gain = (b - a) if lower else (a - b)
    return "holds" if gain > margin else "**does not hold here**" if gain < -margin else "no clear difference"


def claims(report: dict) -> list[tuple[str, str, str]]:
    """What the literature claims about each variant, this run's verdict, and the numbers behind it."""
    rows, pixel, noisy = report["rows"], report["pixel_probe"], report["noisy_input_psnr"]
    plain = rows["plain_1024"]
    codes = min(r["probe_1000"] for n, r in rows.items() if n != "plain_64")

    def against_plain(name: str, key: str, lower: bool = False) -> tuple[str, str]:
        a, b = rows[name][key], plain[key]
        return verdict(a, b, key, lower), f"{LABELS[key]} {a:.4g} vs {b:.4g} for plain_1024"

    return [
        (("An overcomplete plain autoencoder learns to copy its input: on a noisy image its output is closer to "
          "that noisy image than the clean image is"),
         verdict(plain["psnr_to_noisy_input"], noisy, "psnr_to_noisy_input"),
         (f"PSNR of its output to the noisy input {plain['psnr_to_noisy_input']:.2f} dB vs {noisy:.2f} dB for the "
          f"clean image; training MSE {plain['train_mse']:.5f}, test MSE {plain['test_mse']:.5f}")),
        ("Denoising (Gaussian) restores noisy inputs better than the plain overcomplete model",
         *against_plain("denoising_gaussian", "noisy_psnr")),
        ("Denoising (masking) restores Gaussian-noisy inputs better than the plain overcomplete model",
         *against_plain("denoising_masking", "noisy_psnr")),
        ("Denoising (Gaussian) learns a more linearly separable code (Vincent et al. 2008, 2010)",
         *against_plain("denoising_gaussian", "probe_1000")),
        ("The L1 penalty makes the code sparser", *against_plain("sparse_l1", "hoyer")),
        ("The KL penalty makes the code sparser", *against_plain("sparse_kl", "hoyer")),
        ("A sparse (KL) code is more linearly separable", *against_plain("sparse_kl", "probe_1000")),
        ("A k-sparse code is more linearly separable (Makhzani and Frey 2013)",
         *against_plain("k_sparse", "probe_1000")),
        ("The contractive penalty makes the encoder less sensitive to its input",
         *against_plain("contractive", "jacobian_norm", lower=True)),
        ("A contractive code is more linearly separable (Rifai et al. 2011)",
         *against_plain("contractive", "probe_1000")),
        ("Weight decay lowers the test reconstruction error (less overfitting)",
         *against_plain("weight_decay", "test_mse", lower=True)),
        ("Dropout on the code lowers the test reconstruction error (less overfitting)",
         *against_plain("dropout", "test_mse", lower=True)),
        ("Every 1024-unit code is more linearly separable than the raw pixels, the reference a code must beat",
         verdict(codes, pixel["probe_1000"], "probe_1000"),
         f"lowest code {codes:.4f} vs pixels {pixel['probe_1000']:.4f}"),
    ]


def write(report: dict, out: Path) -> None:
    """The json (every number) and the md (the tables, the choices and the claims checked)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    m, p = report["machine"], report["protocol"]
    lines = [f"# Chapter 04 variants on Fashion-MNIST (test set of {report['sizes']['test']})", "",
             (f"Run {report['date']} on {m['cpu_count']} CPU cores, {m['gpus']} GPU(s), TensorFlow {m['tensorflow']}, "
              f"Keras {m['keras']}, scikit-learn {m['scikit-learn']}; {report['total_seconds']:.0f} s in all. Load "
              f"average (1, 5, 15 min) at the start {report['load_average_start']}, at the end "
              f"{report['load_average_end']}." + (" **Quick smoke run on a tiny subset: not a measurement.**"
                                                  if report["quick"] else "")), "",
             (f"Every row: 784 -> {p['code_units']} sigmoid units -> 784 sigmoid outputs, no hidden layer, "
              f"{p['epochs']} epoch(s) of {p['optimizer']} with batches of {p['batch_size']} on "
              f"{report['sizes']['train']:,} training images (MSE loss plus the row's penalty). Probes: "
              f"{p['probe']} on the codes of the training images, scored on the test codes. Noisy inputs: test "
              f"images plus Gaussian noise of sigma {p['test_noise_sigma']}, clipped to [0, 1] (their own PSNR: "
              f"{report['noisy_input_psnr']:.2f} dB; every PSNR is each image's PSNR averaged over the images). Sparsity and Jacobian norms on the test codes "
              f"(Jacobian: first {p['jacobian_images']} test images)."), "",
             (f"| variant | choice | test MSE | noisy PSNR (dB) | probe, {p['probe_labels']:,} labels | probe, all "
              "labels | inactive (<0.05) | Hoyer | Jacobian norm | train s |"),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in report["rows"].items():
        what, parameter, _ = VARIANTS[name]
        choice = f"{parameter} = {row['chosen']:g}" if parameter else "-"
        lines.append(f"| {name}: {what} | {choice} | {row['test_mse']:.5f} | {row['noisy_psnr']:.2f} | "
                     f"{row['probe_1000']:.4f} | {row['probe_all']:.4f} | {row['fraction_inactive']:.3f} | "
                     f"{row['hoyer']:.3f} | {row['jacobian_norm']:.3g} | {row['train_seconds']} |")
    pixel = report["pixel_probe"]
    lines += [(f"| raw pixels (no encoder) | - | - | - | {pixel['probe_1000']:.4f} | {pixel['probe_all']:.4f} | - "
               "| - | - | - |"), "",
              f"## Grids, chosen by the validation probe with {p['probe_labels']:,} labels", "",
              "| variant | parameter | value | validation probe | validation MSE | train s |", "|---|---|---:|---:|---:|---:|"]
    for name, row in report["rows"].items():
        for c in row["candidates"]:
            mark = " (chosen)" if c["value"] == row["chosen"] and VARIANTS[name][1] else ""
            value = "-" if c["value"] is None else f"{c['value']:g}{mark}"
            lines.append(f"| {name} | {VARIANTS[name][1] or '-'} | {value} | {c['val_probe']:.4f} | "
                         f"{c['val_mse']:.5f} | {c['train_seconds']} |")
    lines += ["", "## Copying", "",
              "| variant | training MSE | test MSE | PSNR of the output to the noisy input (dB) |", "|---|---:|---:|---:|"]
    lines += [f"| {name} | {row['train_mse']:.5f} | {row['test_mse']:.5f} | {row['psnr_to_noisy_input']:.2f} |"
              for name, row in report["rows"].items()]
    lines += ["", "## What the literature claims, and what this run shows", ""]
    lines += [f"- {outcome}: {text} ({evidence})." for text, outcome, evidence in claims(report)]
    lines += ["", ("One seed per row: a difference counts only beyond a margin near the seed-to-seed spread (5 % of "
                   "an MSE, Hoyer value or Jacobian norm, 0.2 dB of PSNR, 0.01 of probe accuracy); a smaller one is "
                   "reported as no clear difference."),
              "", (f"Every row trains for the same {p['epochs']} epoch(s), far from convergence for some penalties; "
                   "a claim that does not hold here may hold with longer training, other weights or a deeper "
                   "encoder. The k-sparse row uses a ReLU code (Makhzani and Frey 2013 use a linear one): the units "
                   "top-k zeroes must be able to be 0 on their own, which a sigmoid unit never is. "
                   "The dropout row drops code units before the decoder (`DenseAutoencoder(code_dropout=...)`): "
                   "this architecture has no hidden layer for `dropout=` to act on."), "",
              ("Produced by `python benchmarks/variants.py`; never edited by hand. Timings depend on the machine "
               "and on what else runs on it.")]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
