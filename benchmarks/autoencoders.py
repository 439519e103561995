"""Benchmark of the chapter 01/02 reference autoencoders on the Fashion-MNIST test set.

Trains the reference dense and convolutional autoencoders (32-d code) under a wall-clock budget
(``TimeBudget``), measures their test MSE and training time, and PCA's test MSE at the same code
size in the same run. Writes ``benchmarks/results/autoencoders.json`` and ``.md``.

    python benchmarks/autoencoders.py                 # full run (about 15 minutes on a 2-core CPU)
    python benchmarks/autoencoders.py --quick         # smoke test on a subset
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

CONFIGS = {
    # name: (model kwargs, training kwargs, time limit in seconds, target test MSE)
    # Training runs for ``epochs`` or ``time_budget_s`` seconds, whichever ends first, with the cosine LR decay
    # stretched over that run (``CosineByProgress``), so a slow or busy machine still finishes its decay;
    # ``time_budget_s`` sits below the limit to leave room for the last batch and the start-up.
    "dense_ae_32": (dict(kind="dense", latent_dim=32, hidden_units=(512, 256), batch_norm=True),
                    dict(epochs=30, batch_size=256, learning_rate=2e-3, time_budget_s=270), 300, 0.0085),
    "conv_ae_32": (dict(kind="conv", latent_dim=32, filters=(32, 64, 128)),
                   dict(epochs=20, batch_size=128, learning_rate=2e-3, time_budget_s=560), 600, 0.0072),
}


def build(kind: str, **kwargs):
    from course_utils.models import ConvAutoencoder, DenseAutoencoder

    return DenseAutoencoder(**kwargs) if kind == "dense" else ConvAutoencoder(**kwargs)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small subsets and budgets (smoke test)")
    parser.add_argument("--only", choices=sorted(CONFIGS), help="run one model")
    parser.add_argument("--out", default=str(RESULTS / "autoencoders"), help="output path without extension")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from course_utils.data import load_fashion_mnist, make_dataset, take_subset
    from course_utils.evaluation.baselines import PCABaseline
    from course_utils.evaluation.metrics import mse
    from course_utils.reproducibility import set_seed
    from course_utils.training import CosineByProgress, fit_with_budget

    (x_train, _), (x_test, _) = load_fashion_mnist()
    if args.quick:
        (x_train,), (x_test,) = take_subset([x_train], 3000), take_subset([x_test], 1000)
    report = {
        "load_average_start": [round(v, 2) for v in os.getloadavg()],
        "dataset": "Fashion-MNIST", "train_size": len(x_train), "test_size": len(x_test),
        "quick": bool(args.quick), "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                    "cpu_count": os.cpu_count(), "platform": platform.platform(),
                    "gpus": len(tf.config.list_physical_devices("GPU"))},
        "models": {},
    }
    t0 = time.perf_counter()
    pca = PCABaseline(32).fit(x_train)
    report["pca_32"] = {"test_mse": float(mse(x_test, pca.reconstruct(x_test))),
                        "fit_seconds": round(time.perf_counter() - t0, 2)}
    print("PCA-32 test MSE", report["pca_32"]["test_mse"], flush=True)

    for name, (model_kw, train_kw, limit, target) in CONFIGS.items():
        if args.only and name != args.only:
            continue
        set_seed(42)
        model = build(**model_kw)
        if args.quick:
            train_kw, limit = dict(train_kw, epochs=1, time_budget_s=50), 60
        load_before = [round(v, 2) for v in os.getloadavg()]
        model.compile(optimizer=keras.optimizers.Adam(train_kw["learning_rate"]), loss="mse")
        result = fit_with_budget(model, make_dataset(x_train, x_train, batch_size=train_kw["batch_size"]),
                                 epochs=train_kw["epochs"], time_budget_s=train_kw["time_budget_s"],
                                 callbacks=[CosineByProgress(train_kw["learning_rate"], train_kw["time_budget_s"])])
        load_after = [round(v, 2) for v in os.getloadavg()]
        test_mse = float(mse(x_test, model.predict(x_test, batch_size=512, verbose=0)))
        report["models"][name] = {
            "architecture": {k: list(v) if isinstance(v, tuple) else v for k, v in model_kw.items()},
            "params": model.count_params(), "training": train_kw, "time_limit_s": limit,
            "train_seconds": round(result.seconds, 1), "epochs_run": result.epochs_run,
            "seconds_per_epoch": round(result.seconds / max(result.epochs_run, 1), 1),
            "stopped_by_budget": result.stopped_by_budget,
            "final_train_loss": float(result.history["loss"][-1]),
            "test_mse": test_mse, "target_mse": target,
            "meets_target": bool(test_mse <= target and result.seconds <= limit),
            "load_average_before": load_before, "load_average_after": load_after,
        }
        print(name, report["models"][name], flush=True)

    report["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [f"# Autoencoder benchmark ({report['dataset']}, test set of {report['test_size']})", "",
             (f"Run {report['date']} on {report['machine']['cpu_count']} CPU cores, {report['machine']['gpus']} "
              f"GPU(s), TensorFlow {report['machine']['tensorflow']}, Keras {report['machine']['keras']}."
              + (" Quick smoke run, not a measurement." if args.quick else "")), "",
             ("Load average (1, 5, 15 min) at the start: {}; at the end: {}. The machine is shared, so a load "
              "above the core count means fewer epochs fit in the budget.").format(
                 ", ".join(map(str, report["load_average_start"])), ", ".join(map(str, report["load_average_end"]))),
             "",
             ("| model | params | test MSE | target | meets target | train time (s) | limit (s) | epochs | s/epoch "
              "| load (1 min) before/after |"),
             "|---|---:|---:|---:|:-:|---:|---:|---:|---:|---:|",
             (f"| PCA, 32 components | - | {report['pca_32']['test_mse']:.5f} | - | - | "
              f"{report['pca_32']['fit_seconds']} | - | - | - | - |")]
    for name, row in report["models"].items():
        lines.append(f"| {name} | {row['params']:,} | {row['test_mse']:.5f} | {row['target_mse']} | "
                     f"{'yes' if row['meets_target'] else 'no'} | {row['train_seconds']} | {row['time_limit_s']} | "
                     f"{row['epochs_run']} | {row['seconds_per_epoch']} | "
                     f"{row['load_average_before'][0]} / {row['load_average_after'][0]} |")
    lines += ["", ("Each model trains for its epoch cap or its time budget, whichever ends first, with the cosine "
                   "learning-rate decay stretched over that run (`course_utils.training.CosineByProgress`)."), "",
              ("Produced by `python benchmarks/autoencoders.py`; never edited by hand. Timings depend on the "
               "machine and on what else runs on it.")]
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    return report


if __name__ == "__main__":
    main()
