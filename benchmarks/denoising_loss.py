"""Chapter 04: which loss serves the reported score? The benchmark's DAE trained on MSE and on each image's PSNR.

The denoising benchmark reports the mean over test images of each image's PSNR; its DAE trains on the mean
squared error over all pixels of a batch, whose optimum is the PSNR of the mean MSE instead. This script trains
the benchmark's design (``benchmarks/denoising.py``: ``DESIGN``, its precision, learning rate and batch) with
each loss from the same seed, on the same batches and noise, for the same number of steps (``STEPS``, a cosine
decay over them, so the comparison does not depend on the machine's speed): ``loss="mse"`` and
``course_utils.models.denoising.psnr_loss``, for each of ``SEEDS``. Both are scored on the same noisy validation images (the test set
is not read): mean PSNR, PSNR of the mean MSE, SSIM and the 10th percentile of the images' PSNR (do the hardest
images pay for the others?). Writes ``benchmarks/results/denoising_loss.{json,md}``.

    .venv/bin/python benchmarks/denoising_loss.py                       # about 13 min on 2 cores
    .venv/bin/python benchmarks/denoising_loss.py --quick --out /tmp/dl  # a smoke test
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
STEPS = 2000  # per loss: about 3 minutes each on the 2-core CPU; the benchmark's 10 minutes fit about 8,000
VALIDATION_IMAGES = 2000
NOISE_SEED = 1  # the one noisy copy of the validation images that scores both models
LOSSES = ("mse", "psnr_loss")
SEEDS = (42, 43)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps of each model")
    parser.add_argument("--quick", action="store_true", help="small data, a few steps: a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick and args.out == RESULTS:
        parser.error("--quick is a smoke test: give --out outside benchmarks/results")
    return args


def train(loss_name: str, x_fit: np.ndarray, steps: int, settings: dict, seed: int):
    """The benchmark's design trained from ``seed`` for ``steps`` with ``loss_name``, as a float32 model; and its
    seconds."""
    import keras

    from course_utils.data import make_dataset
    from course_utils.models.denoising import conv_denoiser, psnr_loss
    from course_utils.reproducibility import set_seed
    from course_utils.training import dtype_policy

    set_seed(seed)
    design = dict(settings["design"], level=settings["sigma"], seed=seed)
    with dtype_policy(settings["precision"]):
        model = conv_denoiser(**design)
    schedule = keras.optimizers.schedules.CosineDecay(settings["learning_rate"], steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss=psnr_loss if loss_name == "psnr_loss" else "mse")
    data = make_dataset(x_fit, x_fit, batch_size=settings["batch_size"], seed=seed).repeat().take(steps)
    start = time.perf_counter()
    model.fit(data, epochs=1, verbose=0, shuffle=False)  # the dataset is shuffled already
    seconds = time.perf_counter() - start
    trained, model = model, conv_denoiser(**design)  # scored in float32, like the benchmark
    model.set_weights(trained.get_weights())
    return model, seconds


def score(model, clean: np.ndarray, noisy: np.ndarray) -> dict:
    """The denoising benchmark's scores (mean PSNR over images, PSNR of the mean MSE, SSIM) and the 10th percentile
    of the images' PSNR (dB)."""
    from denoising import scores  # benchmarks/denoising.py: a script's folder is on sys.path

    from course_utils.evaluation.metrics import per_sample_mse, psnr_from_mse

    denoised = np.clip(model.predict(noisy, batch_size=500, verbose=0), 0.0, 1.0)
    per_image = [psnr_from_mse(m) for m in per_sample_mse(clean, denoised)]
    return {**scores(clean, denoised), "psnr_p10": float(np.percentile(per_image, 10))}


def run(args: argparse.Namespace) -> dict:
    """Both losses from the same start, scored on the same noisy validation images."""
    import keras
    import tensorflow as tf
    from denoising import DESIGN, PRECISION, load_data  # benchmarks/denoising.py: a script's folder is on sys.path

    from course_utils.data.corruption import corrupt
    from course_utils.evaluation.denoisers import mean_psnr

    x_fit, x_val, _ = load_data(argparse.Namespace(quick=args.quick))
    clean = x_val[:200 if args.quick else VALIDATION_IMAGES]
    noisy = corrupt(clean, "gaussian", 0.3, rng=NOISE_SEED)
    settings = {"design": DESIGN, "precision": PRECISION, "learning_rate": 4e-3, "batch_size": 32, "sigma": 0.3,
                "seeds": list(SEEDS[:1] if args.quick else SEEDS), "steps": args.steps}
    rows = []
    for seed in settings["seeds"]:
        for name in LOSSES:
            model, seconds = train(name, x_fit, args.steps, settings, seed)
            rows.append({"loss": name, "seed": seed, **score(model, clean, noisy), "train_seconds": seconds})
            print(f"{name}, seed {seed}: mean PSNR {rows[-1]['psnr']:.3f} dB in {seconds:.0f} s", flush=True)
    return {"rows": rows, "noisy_input": {"psnr": mean_psnr(clean, noisy)},
            "settings": settings, "data": {"train": len(x_fit), "validation": len(clean), "noise_seed": NOISE_SEED},
            "quick": args.quick, "command": "python benchmarks/denoising_loss.py" + (" --quick" if args.quick else ""),
            "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__,
                        "keras": keras.__version__, "load_average_end": list(os.getloadavg())}}


def differences(report: dict) -> dict[int, dict[str, float]]:
    """Per seed, ``psnr_loss``'s scores minus ``mse``'s (dB): mean PSNR, PSNR of the mean MSE, 10th percentile."""
    by = {(r["loss"], r["seed"]): r for r in report["rows"]}
    return {seed: {key: by["psnr_loss", seed][key] - by["mse", seed][key] for key in ("psnr", "psnr_of_mean_mse", "psnr_p10")}
            for seed in report["settings"]["seeds"]}


def to_markdown(report: dict) -> str:
    """The two rows and what they measure."""
    s, rows = report["settings"], report["rows"]
    quick = ["**A --quick smoke run: not a measurement.**", ""] if report["quick"] else []
    lines = ["# Chapter 04: the DAE trained on MSE and on each image's PSNR", "", *quick,
             (f"Run {report['date']} with `{report['command']}` on {report['machine']['cpus']} CPUs, TensorFlow "
              f"{report['machine']['tensorflow']}, Keras {report['machine']['keras']}. The design of "
              f"`benchmarks/denoising.py` ({s['precision']} training, float32 scoring, Adam {s['learning_rate']:g} "
              f"with a cosine decay over {s['steps']:,} steps, batch {s['batch_size']}, fresh noise sigma {s['sigma']} "
              f"on every batch), trained with each loss from the same seed on the same batches (seeds "
              f"{', '.join(map(str, s['seeds']))}), on {report['data']['train']:,} "
              f"training images; scored on {report['data']['validation']:,} validation images with one fixed noise "
              f"draw (seed {report['data']['noise_seed']}; noisy input {report['noisy_input']['psnr']:.2f} dB)."), "",
             "| loss | seed | mean PSNR (dB) | PSNR of mean MSE (dB) | SSIM | 10th percentile PSNR (dB) | train s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| `{r['loss']}` | {r['seed']} | {r['psnr']:.3f} | {r['psnr_of_mean_mse']:.3f} | {r['ssim']:.4f} | "
              f"{r['psnr_p10']:.2f} | {r['train_seconds']:.0f} |" for r in rows]
    lines += ["", "`psnr_loss` minus `mse`, from the same seed:", "",
              "| seed | mean PSNR (dB) | PSNR of mean MSE (dB) | 10th percentile PSNR (dB) |", "|---:|---:|---:|---:|"]
    for seed, gain in differences(report).items():
        lines.append(f"| {seed} | {gain['psnr']:+.3f} | {gain['psnr_of_mean_mse']:+.3f} | {gain['psnr_p10']:+.2f} |")
    lines += ["", "Produced by `python benchmarks/denoising_loss.py`; never edited by hand."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    """Run the comparison and write denoising_loss.json and .md into ``--out``."""
    args = parse_args(argv)
    if args.quick:
        args.steps = min(args.steps, 20)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "denoising_loss.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / "denoising_loss.md").write_text(to_markdown(report), encoding="utf-8")
    print(to_markdown(report))
    return report


if __name__ == "__main__":
    main()
