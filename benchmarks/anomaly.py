"""Benchmark for chapter 05: one-class anomaly detection on Fashion-MNIST, autoencoders vs classical baselines.

Each class in turn is normal: a dense, a convolutional and a denoising autoencoder train on its
training images minus a seeded 10 % validation split (about 5,400 images), for a fixed number of
epochs with early stopping on the normal validation loss; the classical baselines (k-NN distance, isolation
forest, PCA residual, one-class SVM) fit the same images, every hyperparameter fixed by a rule. The
whole test set is scored and every other class counts as an anomaly: AUROC per class and the mean.
The autoencoder scores are the reconstruction error, the error after a 1-pixel blur of the residual,
the k-NN distance in code space, and one combination fixed before this run: the sum of four of those
scores, each standardised on the normal validation images. The threshold at 5 % validation FPR of that
combination gives the test precision and recall. Nothing is chosen with test labels. Results go to
``benchmarks/results/anomaly.json`` and ``anomaly.md``.

    nice -n 5 .venv/bin/python benchmarks/anomaly.py       # about 35 min on 2 cores
    .venv/bin/python benchmarks/anomaly.py --quick --out /tmp/anomaly   # a smoke test of the whole script
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_AUROC = 0.93  # the chapter's target: mean AUROC over the 10 classes of the best autoencoder-based score
CLASSICAL = ("knn_pixels", "isolation_forest", "pca_residual", "ocsvm")
MODELS = ("dense", "conv", "dae")
KINDS = ("mse", "blur", "code_knn")
# The headline score, fixed before the run from a development experiment that never read the test set
# (DEVELOPMENT below): the code-space k-NN distance and the blurred error of the dense and the conv AE.
COMBINED = ("dense_code_knn", "dense_blur", "conv_code_knn", "conv_blur")
HEADLINE = "ae_combined"
CONV_ACTIVATION = "leaky_relu"  # with ReLU the conv AE of the sparse sandal class died at its first steps, every seed
MAX_RESTARTS = 2
STUCK_TOLERANCE = 0.01  # a healthy fit's validation loss falls by tens of per cent after its first epoch
DEVELOPMENT = (
    "The combined score was fixed before this run by a development experiment on classes 0 (T-shirt), 2 (pullover), "
    "6 (shirt) and 8 (bag) that never read the test set: 1,000 normal images held out from the class's training "
    "images, 3,000 anomalies drawn from the other classes' training images, autoencoders trained for about 45 s. "
    "Tried there: the plain error, an error weighted by each pixel's error variance on normal validation images, "
    "the error after a 1- or 2-pixel blur, 1 - SSIM, the code-space k-NN distance with k = 1 and 5, the chapter 04 "
    "`conv_denoiser` as it was then, without skip connections (its code, 7 x 7 x 128, is larger than the image, "
    "so it reconstructed the anomalies of the shirt "
    "class too well), and sums of standardised scores. The sum of the dense and conv AEs' 5-NN code distances and "
    "1-pixel blurred errors was above the pixel 5-NN distance on all four classes there; the plain reconstruction "
    "error was below it on all four. That exploratory run is not kept as a script, so this paragraph gives its "
    "outcome but no numbers; every number above comes from this script.")

TRAINING_NOTE = (
    "An earlier run with wall-clock budgets only (30, 50 and 50 s per fit), on a machine shared with other jobs, left "
    "the dense AE of classes 1 and 2 nearly untrained, and the ReLU conv AE and DAE of class 5 at a dead start (ReLU "
    "units that never fire again, a constant output, from every seed tried); both show on the normal validation loss "
    "alone. Hence fixed epochs with only a safety cap on time, leaky ReLU in the conv AEs and a restart rule for "
    "dead starts; the combined score and every other setting stayed as they were.")


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dense-epochs", type=int, default=25, help="epochs of the dense AE (about 1 s each)")
    parser.add_argument("--conv-epochs", type=int, default=10, help="epochs of the conv and denoising AEs (about 5 s each)")
    parser.add_argument("--max-seconds", type=float, default=150.0,
                        help="a safety cap per fit on a stalled machine, far above the usual time of the epochs")
    parser.add_argument("--patience", type=int, default=5, help="early stopping on the normal validation loss")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--latent-dim", type=int, default=32, help="code size of every autoencoder")
    parser.add_argument("--dae-sigma", type=float, default=0.2, help="Gaussian noise of the denoising AE")
    parser.add_argument("--fpr", type=float, default=0.05, help="false-positive rate on validation normals")
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="small data, seconds of training: a smoke test, not a result")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick and args.out == RESULTS:
        parser.error("--quick is a smoke test: give --out outside benchmarks/results")
    return args


def load_data(args: argparse.Namespace):
    """Fashion-MNIST as ((x_train, y_train), (x_test, y_test)); seeded subsets in quick mode."""
    from course_utils.data import load_fashion_mnist, take_subset

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    if args.quick:
        x_train, y_train = take_subset([x_train, y_train], 10_000, seed=0)
        x_test, y_test = take_subset([x_test, y_test], 1_000, seed=0)
    return (x_train, y_train), (x_test, y_test)


def build_model(args: argparse.Namespace, name: str):
    """One of the three autoencoders ('dense', 'conv', 'dae'), each with a code of ``latent_dim`` values."""
    from course_utils.data.corruption import Corruption
    from course_utils.models import ConvAutoencoder, DenoisingAutoencoder, DenseAutoencoder

    if name == "dense":
        return DenseAutoencoder(latent_dim=args.latent_dim)
    conv = ConvAutoencoder(latent_dim=args.latent_dim, activation=CONV_ACTIVATION)
    return conv if name == "conv" else DenoisingAutoencoder(conv, Corruption("gaussian", args.dae_sigma, seed=args.seed))


def stuck(val_loss: list[float], tolerance: float = STUCK_TOLERANCE) -> bool:
    """A fit whose validation loss never fell 1 % below its first epoch's (a dead start: a constant output)."""
    return len(val_loss) > 1 and min(val_loss[1:]) > (1.0 - tolerance) * val_loss[0]


def train(args: argparse.Namespace, name: str, split, seed: int):
    """Fit on the normal training images with early stopping on the normal validation loss.

    A stuck fit (``stuck``) starts again from a new seed, at most ``MAX_RESTARTS`` times; returns the
    model and its record.
    """
    import keras

    from course_utils.data import make_dataset
    from course_utils.reproducibility import set_seed
    from course_utils.training import fit_with_budget

    epochs = args.dense_epochs if name == "dense" else args.conv_epochs
    for restart in range(MAX_RESTARTS + 1):
        set_seed(seed + 1000 * restart)
        model = build_model(args, name)
        model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="mse")
        stop = keras.callbacks.EarlyStopping(patience=args.patience, restore_best_weights=True)
        fit = fit_with_budget(model, make_dataset(split.x_train, split.x_train, batch_size=args.batch_size, seed=seed),
                              epochs=epochs, time_budget_s=args.max_seconds, callbacks=[stop],
                              validation_data=(split.x_val, split.x_val), progress="none")
        if not stuck(fit.history["val_loss"]):
            break
    return model, {"params": int(model.count_params()), "seconds": fit.seconds, "epochs": fit.epochs_run,
                   "stopped_by_budget": fit.stopped_by_budget, "best_val_loss": min(fit.history["val_loss"]),
                   "restarts": restart}


def classical_scores(split) -> tuple[dict, dict]:
    """Test scores of the four classical baselines fitted on the normal training images, and their seconds."""
    from course_utils.evaluation import anomaly

    scorers = {"knn_pixels": anomaly.knn_distance_scores, "isolation_forest": anomaly.isolation_forest_scores,
               "pca_residual": anomaly.pca_residual_scores, "ocsvm": anomaly.ocsvm_scores}
    scores, seconds = {}, {}
    for name, scorer in scorers.items():
        start = time.perf_counter()
        scores[name] = scorer(split.x_train, split.x_test)
        seconds[name] = time.perf_counter() - start
    return scores, seconds


def autoencoder_scores(model, prefix: str, split) -> tuple[dict, dict]:
    """Test and normal-validation scores of one trained autoencoder: error, blurred error, code k-NN distance."""
    from course_utils.evaluation import anomaly

    both = np.concatenate([split.x_test, split.x_val])  # one pass over the test and validation images
    scores = {f"{prefix}_mse": anomaly.reconstruction_scores(model, both),
              f"{prefix}_blur": anomaly.blurred_error_scores(model, both),
              f"{prefix}_code_knn": anomaly.code_knn_scores(model, split.x_train, both)}
    n_test = len(split.x_test)
    return {k: v[:n_test] for k, v in scores.items()}, {k: v[n_test:] for k, v in scores.items()}


def run_class(args: argparse.Namespace, normal_class: int, data) -> dict:
    """Train, score and measure with one class as normal."""
    from course_utils.evaluation import anomaly

    split = anomaly.one_class_split(normal_class, 0.1, seed=0, data=data)
    test, seconds = classical_scores(split)
    val, training = {}, {}
    for name in MODELS:
        model, training[name] = train(args, name, split, seed=args.seed + normal_class)
        start = time.perf_counter()
        model_test, model_val = autoencoder_scores(model, name, split)
        training[name]["scoring_seconds"] = time.perf_counter() - start
        test.update(model_test)
        val.update(model_val)
    test[HEADLINE] = anomaly.combine_scores({k: test[k] for k in COMBINED}, {k: val[k] for k in COMBINED})
    val[HEADLINE] = anomaly.combine_scores({k: val[k] for k in COMBINED}, {k: val[k] for k in COMBINED})
    threshold = anomaly.threshold_at_fpr(val[HEADLINE], args.fpr)
    report = anomaly.detection_report(test[HEADLINE], split.is_anomaly, threshold)
    detection = {**report, "confusion_matrix": report["confusion_matrix"].tolist(), "score": HEADLINE,
                 "validation_fpr": float(np.mean(val[HEADLINE] > threshold))}
    return {"auroc": {k: anomaly.auroc(v, split.is_anomaly) for k, v in test.items()}, "training": training,
            "classical_seconds": seconds, "detection": detection,
            "data": {"train": len(split.x_train), "validation": len(split.x_val), "test": len(split.x_test),
                     "test_anomalies": int(split.is_anomaly.sum())}}


def summary(per_class: dict) -> dict:
    """Mean AUROC of every score over the classes, and whether the headline reached the target and the baselines."""
    names = list(next(iter(per_class.values()))["auroc"])
    means = {k: float(np.mean([c["auroc"][k] for c in per_class.values()])) for k in names}
    best_classical = max(CLASSICAL, key=means.get)
    return {"mean_auroc": means, "best_classical": best_classical,
            "target": {"auroc": TARGET_AUROC, "score": HEADLINE, "reached": means[HEADLINE] >= TARGET_AUROC,
                       "above_every_baseline": means[HEADLINE] > means[best_classical]}}


def run(args: argparse.Namespace) -> dict:
    """Every class in turn, then the means."""
    import keras
    import sklearn
    import tensorflow as tf

    data = load_data(args)
    start, load_before, per_class = time.perf_counter(), os.getloadavg(), {}
    for c in args.classes:
        class_start = time.perf_counter()
        per_class[str(c)] = run_class(args, c, data)
        per_class[str(c)]["seconds"] = time.perf_counter() - class_start
        aurocs = per_class[str(c)]["auroc"]
        print(f"class {c} ({per_class[str(c)]['seconds']:.0f} s): " + ", ".join(f"{k} {v:.3f}" for k, v in aurocs.items()),
              flush=True)
    return {**summary(per_class), "classes": per_class, "combined": list(COMBINED), "development": DEVELOPMENT,
            "seconds": time.perf_counter() - start,
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "tensorflow": tf.__version__, "keras": keras.__version__, "scikit-learn": sklearn.__version__,
                        "numpy": np.__version__, "gpus": len(tf.config.list_physical_devices("GPU")),
                        "load_average_start": list(load_before), "load_average_end": list(os.getloadavg())},
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


CLASS_NAMES = ("T-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "boot")
LABELS = {
    "knn_pixels": "5-NN distance, pixels", "isolation_forest": "isolation forest (100 trees x 256)",
    "pca_residual": "PCA-32 residual", "ocsvm": "one-class SVM (RBF, median-heuristic gamma, nu 0.1)",
    "dense_mse": "dense AE: error", "dense_blur": "dense AE: blurred error", "dense_code_knn": "dense AE: code 5-NN",
    "conv_mse": "conv AE: error", "conv_blur": "conv AE: blurred error", "conv_code_knn": "conv AE: code 5-NN",
    "dae_mse": "denoising AE: error", "dae_blur": "denoising AE: blurred error", "dae_code_knn": "denoising AE: code 5-NN",
    HEADLINE: "**combined AE score** (headline)",
}


def _auroc_table(result: dict) -> list[str]:
    classes = list(result["classes"])
    head = "| score | " + " | ".join(f"{c} {CLASS_NAMES[int(c)]}" for c in classes) + " | mean |"
    lines = [head, "|---|" + "---:|" * (len(classes) + 1)]
    for name in result["mean_auroc"]:
        cells = [f"{result['classes'][c]['auroc'][name]:.3f}" for c in classes]
        lines.append(f"| {LABELS[name]} | " + " | ".join(cells) + f" | {result['mean_auroc'][name]:.3f} |")
    return lines


def _classical_wins(result: dict) -> str:
    """One sentence naming every class on which a classical baseline beats the combined score."""
    wins = []
    for c, row in result["classes"].items():
        best = max(CLASSICAL, key=row["auroc"].get)
        if row["auroc"][best] > row["auroc"][HEADLINE]:
            wins.append(f"{c} {CLASS_NAMES[int(c)]}: {LABELS[best]} {row['auroc'][best]:.3f} against "
                        f"{row['auroc'][HEADLINE]:.3f}")
    if not wins:
        return "The combined score is above every classical baseline on every class."
    return "A classical baseline beats the combined score on " + "; ".join(wins) + "."


def _detection_table(result: dict) -> list[str]:
    lines = ["| class | threshold | validation FPR | test FPR | precision | recall | confusion [[TN, FP], [FN, TP]] |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for c, row in result["classes"].items():
        d = row["detection"]
        lines.append(f"| {c} {CLASS_NAMES[int(c)]} | {d['threshold']:.2f} | {d['validation_fpr']:.3f} | "
                     f"{d['false_positive_rate']:.3f} | {d['precision']:.3f} | {d['recall']:.3f} | "
                     f"{d['confusion_matrix']} |")
    return lines


def _fit_cell(record: dict) -> str:
    """Epochs, seconds, best validation MSE and restarts of one fit."""
    cap = " (cap)" if record["stopped_by_budget"] else ""
    restarts = f" ({record['restarts']} restarts)" if record["restarts"] else ""
    return f"{record['epochs']}, {record['seconds']:.0f}{cap}, {record['best_val_loss']:.4f}{restarts}"


def _training_table(result: dict) -> list[str]:
    names = {"dense": "dense AE", "conv": "conv AE", "dae": "denoising AE"}
    lines = ["| class | " + " | ".join(f"{names[m]}: epochs, s, val MSE" for m in MODELS) + " |", "|---|" + "---|" * 3]
    for c, row in result["classes"].items():
        lines.append(f"| {c} | " + " | ".join(_fit_cell(row["training"][m]) for m in MODELS) + " |")
    return lines


def to_markdown(result: dict) -> str:
    """A readable report of one benchmark run."""
    machine, settings, target, means = result["machine"], result["settings"], result["target"], result["mean_auroc"]
    best = result["best_classical"]
    load = ", ".join(f"{v:.2f}" for v in machine["load_average_start"])
    first = next(iter(result["classes"].values()))
    params = {m: first["training"][m]["params"] for m in MODELS}
    verdict = "reached" if target["reached"] else "NOT reached"
    versus = ("above" if target["above_every_baseline"] else "NOT above") + f" the best classical baseline ({LABELS[best]}, {means[best]:.3f})"
    lines = [
        "# Chapter 05 benchmark: one-class anomaly detection on Fashion-MNIST", "",
        (f"Run {result['date']} on {machine['cpus']} CPUs, {machine['gpus']} GPUs, TensorFlow {machine['tensorflow']}, "
         f"Keras {machine['keras']}, scikit-learn {machine['scikit-learn']}; {result['seconds'] / 60:.1f} min in all; "
         f"load average (1/5/15 min) at the start {load} (2 cores: above 2, other work shared the CPU)."),
        (f"Protocol: each class in turn is normal. Models see only its training images minus a 10 % validation split "
         f"(seed 0): {first['data']['train']:,} training and {first['data']['validation']:,} validation images. All "
         f"{first['data']['test']:,} test images are scored; the other nine classes are the anomalies. AUROC from "
         "scikit-learn; no choice reads the test labels."),
        (f"Autoencoders (code size {settings['latent_dim']}): `DenseAutoencoder` ({params['dense']:,} parameters), "
         f"`ConvAutoencoder` ({params['conv']:,}, leaky ReLU) and `DenoisingAutoencoder` around the same conv AE (Gaussian noise "
         f"{settings['dae_sigma']:g}); Adam {settings['learning_rate']:g}, batch {settings['batch_size']}, MSE, early "
         f"stopping (patience {settings['patience']}, best weights) on the normal validation loss, at most "
         f"{settings['dense_epochs']} epochs (dense) or {settings['conv_epochs']} (conv, denoising) and "
         f"{settings['max_seconds']:.0f} s per fit. The denoising AE starts from the conv AE's initial weights (same "
         "seed), so the two differ only by the noise. A fit whose validation loss never falls 1 % below its first "
         f"epoch's (a dead start with a constant output) starts again from a new seed, at most {MAX_RESTARTS} times."),
        ("Scores: 'error' is the per-image MSE; 'blurred error' the MSE after a Gaussian blur (sigma 1 pixel) of the "
         "residual x - x'; 'code 5-NN' the distance from an image's code to its 5th nearest training code. The "
         "combined score is the sum of " + ", ".join(f"'{LABELS[k]}'" for k in result["combined"]) + ", each "
         "standardised by the mean and standard deviation of its scores on the normal validation images."),
        ("Classical baselines on raw pixels, fitted on the same normal training images, every hyperparameter fixed "
         "by a rule: distance to the 5th nearest training image; isolation forest with Liu et al.'s 100 trees of 256 "
         "samples; PCA residual with 32 components (the autoencoders' code size); one-class SVM with gamma = 1 / "
         "median squared distance between training images and nu = 0.1."), "",
        (f"Target: mean AUROC of the headline (combined) score >= {target['auroc']}: **{verdict}** "
         f"({means[HEADLINE]:.3f}), and **{versus}**. {_classical_wins(result)}"), "",
        "## AUROC per normal class", "", *_auroc_table(result), "",
        f"## Threshold at {settings['fpr']:.0%} false positives on the normal validation images (combined score)", "",
        ("The threshold is set on the normal validation images only; the test columns are measured once with it. "
         "Precision depends on the test mix: nine anomalies for every normal image."), "",
        *_detection_table(result), "",
        "## Training", "", TRAINING_NOTE, "", *_training_table(result), "",
        "## How the combined score was chosen", "", result["development"], "",
        "Produced by `python benchmarks/anomaly.py`; never edited by hand."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    """Run the benchmark and write JSON and markdown results."""
    args = parse_args(argv)
    if args.quick:
        args.dense_epochs, args.conv_epochs = 3, 2
        args.classes = args.classes[:2]
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "anomaly.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "anomaly.md").write_text(to_markdown(result))
    print(to_markdown(result))
    return result


if __name__ == "__main__":
    main()
