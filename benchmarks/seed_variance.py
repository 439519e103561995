"""Seed-to-seed spread of the chapter 01 dense autoencoders' validation and test MSE on a fixed budget.

Chapter 01 compares variants whose MSEs differ by a few per cent. This script measures how much the
same model moves when only the seed (initial weights and batch order) changes: each configuration
is trained with several seeds on one fixed validation split (carved from the training set), and the
spread of its validation and test MSE is reported. Writes ``benchmarks/results/seed_variance.json``
and ``.md``.

    python benchmarks/seed_variance.py            # full run (about 5 minutes on an idle 2-core CPU)
    python benchmarks/seed_variance.py --quick    # smoke test on a subset
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

RESULTS = Path(__file__).resolve().parent / "results"
SPLIT_SEED, VALIDATION_FRACTION = 42, 0.1

CONFIGS = {
    # name: (DenseAutoencoder kwargs, training kwargs, seeds); chapter 01's models. The epoch cap, not the time
    # budget, should end each run (a busy machine would otherwise give seeds different numbers of epochs).
    "variants_relu_32": (dict(latent_dim=32, hidden_units=(256, 128), batch_norm=False, activation="relu"),
                         dict(epochs=4, batch_size=256, learning_rate=2e-3, time_budget_s=60), (1, 2, 3, 4, 5)),
    "dense_ae_32": (dict(latent_dim=32, hidden_units=(512, 256), batch_norm=True),
                    dict(epochs=8, batch_size=256, learning_rate=2e-3, time_budget_s=240), (1, 2, 3)),
}


def spread(values: list[float]) -> dict[str, float]:
    """Mean, standard deviation, extremes and the range relative to the mean of a list of numbers."""
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if len(array) > 1 else 0.0,
            "min": float(array.min()), "max": float(array.max()),
            "relative_range": float((array.max() - array.min()) / array.mean()),
            "relative_std": float(array.std(ddof=1) / array.mean()) if len(array) > 1 else 0.0}


def train_once(model_kw: dict, train_kw: dict, seed: int, data: dict[str, np.ndarray]) -> dict[str, float]:
    """Train one dense autoencoder from ``seed``; its validation MSE, test MSE, epochs and seconds."""
    import keras

    from course_utils.data import make_dataset
    from course_utils.evaluation.metrics import mse
    from course_utils.models import DenseAutoencoder
    from course_utils.reproducibility import set_seed
    from course_utils.training import CosineByProgress, fit_with_budget

    set_seed(seed)
    model = DenseAutoencoder(**model_kw)
    model.compile(optimizer=keras.optimizers.Adam(train_kw["learning_rate"]), loss="mse")
    result = fit_with_budget(model, make_dataset(data["train"], data["train"], train_kw["batch_size"], seed=seed),
                             epochs=train_kw["epochs"], time_budget_s=train_kw["time_budget_s"], progress="none",
                             callbacks=[CosineByProgress(train_kw["learning_rate"], train_kw["time_budget_s"])])
    scores = {part: float(mse(data[part], model.predict(data[part], batch_size=512, verbose=0)))
              for part in ("validation", "test")}
    return {"seed": seed, **scores, "epochs_run": result.epochs_run, "seconds": round(result.seconds, 1),
            "stopped_by_budget": result.stopped_by_budget}


def load_data(quick: bool) -> dict[str, np.ndarray]:
    """Fashion-MNIST with a seeded validation split carved from the training set."""
    from course_utils.data import load_fashion_mnist, split_validation, take_subset

    (x_train, _), (x_test, _) = load_fashion_mnist()
    if quick:
        (x_train,), (x_test,) = take_subset([x_train], 3000), take_subset([x_test], 1000)
    (train,), (validation,) = split_validation([x_train], VALIDATION_FRACTION, seed=SPLIT_SEED)
    return {"train": train, "validation": validation, "test": x_test}


def markdown(report: dict) -> str:
    """The report as a Markdown table."""
    lines = [f"# Seed-to-seed spread of the chapter 01 dense autoencoders ({report['dataset']})", "",
             (f"Run {report['date']} on {report['machine']['cpu_count']} CPU cores, TensorFlow "
              f"{report['machine']['tensorflow']}, Keras {report['machine']['keras']}; train {report['train_size']}, "
              f"validation {report['validation_size']} (seed {SPLIT_SEED}), test {report['test_size']}."
              + (" Quick smoke run, not a measurement." if report["quick"] else "")), "",
             ("| config | seeds | epochs | val MSE mean | val std | val range / mean | test MSE mean | test std "
              "| test range / mean |"), "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in report["configs"].items():
        val, test = row["validation_mse"], row["test_mse"]
        lines.append(f"| {name} | {len(row['runs'])} | {row['training']['epochs']} | {val['mean']:.5f} | "
                     f"{val['std']:.5f} | {val['relative_range']:.1%} | {test['mean']:.5f} | {test['std']:.5f} | "
                     f"{test['relative_range']:.1%} |")
    lines += ["", ("Only the seed changes between runs (initial weights and mini-batch order); data split, "
                   "architecture and budget are fixed. Produced by `python benchmarks/seed_variance.py`; "
                   "never edited by hand.")]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    """Run every configuration with its seeds and write the JSON and Markdown reports."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subsets and one epoch (smoke test)")
    parser.add_argument("--out", default=str(RESULTS / "seed_variance"), help="output path without extension")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    data = load_data(args.quick)
    report = {"dataset": "Fashion-MNIST", "quick": bool(args.quick), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
              "train_size": len(data["train"]), "validation_size": len(data["validation"]),
              "test_size": len(data["test"]), "load_average_start": [round(v, 2) for v in os.getloadavg()],
              "machine": {"python": platform.python_version(), "tensorflow": tf.__version__,
                          "keras": keras.__version__, "cpu_count": os.cpu_count()},
              "configs": {}}
    for name, (model_kw, train_kw, seeds) in CONFIGS.items():
        if args.quick:
            train_kw, seeds = dict(train_kw, epochs=1), seeds[:2]
        runs = [train_once(model_kw, train_kw, seed, data) for seed in seeds]
        for run in runs:
            print(name, run, flush=True)
        report["configs"][name] = {
            "model": {k: list(v) if isinstance(v, tuple) else v for k, v in model_kw.items()},
            "training": train_kw, "runs": runs,
            "validation_mse": spread([run["validation"] for run in runs]),
            "test_mse": spread([run["test"] for run in runs])}
    report["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    out.with_suffix(".md").write_text(markdown(report))
    return report


if __name__ == "__main__":
    main()
