"""Benchmark for chapter 05's medical images: low-dose CT post-processing and microscopy denoising.

CT: random-ellipse phantoms (``course_utils.data.tomography``) are scanned at a low dose (1,000 photons per
detector bin, 90 angles, 128 x 128 pixels) and reconstructed by filtered back-projection (FBP). A
``ResidualUNet`` learns to map the noisy FBP image to the phantom under a wall-clock budget; its
training and validation phantoms come from disjoint seeds. Tests: the Shepp-Logan phantom (never seen,
one fixed noise draw) and unseen random phantoms. Non-local means, total variation and wavelet
shrinkage post-process the same FBP images, each with its parameter chosen on the validation phantoms
(never on a test image). Microscopy: the same network design learns to remove Poisson-Gaussian noise
from grayscale patches of two of scikit-image's medical images and is tested on the third, whole, with
the baselines chosen on validation patches. Every score is PSNR and SSIM with data range 1, of outputs
clipped to [0, 1]. Results go to ``benchmarks/results/medical.json`` and ``medical.md``.

    nice -n 5 .venv/bin/python benchmarks/medical.py     # 15 min of training plus about 5 min of data and baselines
    .venv/bin/python benchmarks/medical.py --quick --out /tmp/medical   # a smoke test of the whole script
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
TARGET = dict(over_fbp=4.0, over_best_classical=1.0)  # dB on Shepp-Logan, within 10 minutes of training
BASELINES = ("nl_means", "tv", "wavelet")
# ResidualUNet's arguments: its defaults, written out; the ct_denoiser and micro_denoiser checkpoints of
# benchmarks/pretrained.py use the same design and training settings (tests/test_tomography.py keeps them equal).
DESIGN = dict(channels=1, filters=[16, 32, 64, 96], convs_per_level=2, kernel_size=3)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ct-seconds", type=float, default=600.0, help="wall-clock training budget of the CT network")
    parser.add_argument("--micro-seconds", type=float, default=300.0, help="training budget of the microscopy network")
    parser.add_argument("--epochs", type=int, default=100, help="upper bound; the time budget normally stops first")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--phantoms", type=int, default=1500, help="training phantoms")
    parser.add_argument("--val-phantoms", type=int, default=64, help="validation phantoms: early look and baselines' choice")
    parser.add_argument("--test-phantoms", type=int, default=50, help="unseen random test phantoms")
    parser.add_argument("--patches", type=int, default=4000, help="microscopy training patches")
    parser.add_argument("--val-patches", type=int, default=300)
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="small data, 20 s of training each: a smoke test, not a result")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick and args.out == RESULTS:
        parser.error("--quick is a smoke test: give --out outside benchmarks/results")
    return args


def scores(clean: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """Mean PSNR over images (dB) and mean SSIM, data range 1, of outputs clipped to [0, 1]."""
    from course_utils.evaluation.denoisers import mean_psnr
    from course_utils.evaluation.metrics import ssim

    output = np.clip(output, 0.0, 1.0)
    return {"psnr": mean_psnr(clean, output), "ssim": ssim(clean, output)}


def train(args: argparse.Namespace, data: tuple, seconds: float):
    """Train a ResidualUNet on ((x_fit, y_fit), (x_val, y_val)) under the time budget; the model and the run's record."""
    import keras

    from course_utils.data import make_dataset
    from course_utils.models.residual import ResidualUNet
    from course_utils.reproducibility import set_seed
    from course_utils.training import CosineByProgress, fit_with_budget

    (x_fit, y_fit), validation = data
    set_seed(args.seed)
    model = ResidualUNet(**DESIGN)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="mse")
    load_before = os.getloadavg()
    fit = fit_with_budget(model, make_dataset(x_fit, y_fit, batch_size=args.batch_size, seed=args.seed),
                          epochs=args.epochs, time_budget_s=seconds, validation_data=validation,
                          callbacks=[CosineByProgress(args.learning_rate, seconds)])
    record = {"design": DESIGN, "params": int(model.count_params()), "train_seconds": fit.seconds,
              "epochs": fit.epochs_run, "steps": fit.steps, "stopped_by_budget": fit.stopped_by_budget,
              "batch_size": args.batch_size, "learning_rate": args.learning_rate, "train_images": len(x_fit),
              "history": {k: v for k, v in fit.history.items() if k != "learning_rate"},
              "load_average_before": list(load_before), "load_average_after": list(os.getloadavg())}
    return model, record


def compare(model, validation: tuple, tests: dict[str, tuple], input_name: str) -> tuple[dict, dict]:
    """Scores of the input itself, each baseline and the network on every test set, and each baseline's choice.

    A baseline's parameter is the grid value with the best mean PSNR on ``validation`` (never on a test set).
    """
    from course_utils.evaluation.denoisers import choose_parameter, denoise

    noisy_val, clean_val = validation
    rows = {name: {input_name: scores(clean, noisy)} for name, (noisy, clean) in tests.items()}
    choices = {}
    for baseline in BASELINES:
        start = time.perf_counter()
        best, grid = choose_parameter(baseline, noisy_val, clean_val)
        for name, (noisy, clean) in tests.items():
            rows[name][baseline] = {"param": best, **scores(clean, denoise(baseline, noisy, best))}
        choices[baseline] = {"param": best, "validation_psnr_by_param": {str(k): v for k, v in grid.items()},
                             "seconds": time.perf_counter() - start}
    for name, (noisy, clean) in tests.items():
        rows[name]["network"] = scores(clean, model.predict(noisy, batch_size=16, verbose=0))
        print(f"{name}: " + ", ".join(f"{k} {v['psnr']:.2f}" for k, v in rows[name].items()), flush=True)
    return rows, choices


def ct_part(args: argparse.Namespace) -> dict:
    """Generate the phantom pairs, train the CT network, compare it with FBP and FBP + each baseline."""
    from course_utils.data.tomography import ATTENUATION, CT_SEEDS, N_ANGLES, PHOTONS, SIZE, ct_pairs, shepp_logan_pair

    start = time.perf_counter()
    fit = ct_pairs(args.phantoms, seed=CT_SEEDS["train"])
    validation = ct_pairs(args.val_phantoms, seed=CT_SEEDS["validation"])
    tests = {"shepp_logan": shepp_logan_pair(), "unseen_phantoms": ct_pairs(args.test_phantoms, seed=CT_SEEDS["test"])}
    data_seconds = time.perf_counter() - start
    model, record = train(args, (fit, validation), args.ct_seconds)
    rows, choices = compare(model, validation, tests, "fbp")
    shepp = rows["shepp_logan"]
    best = max(BASELINES, key=lambda name: shepp[name]["psnr"])
    gains = {"over_fbp": shepp["network"]["psnr"] - shepp["fbp"]["psnr"],
             "over_best_classical": shepp["network"]["psnr"] - shepp[best]["psnr"]}
    return {"scan": {"size": SIZE, "n_angles": N_ANGLES, "photons": PHOTONS, "attenuation": ATTENUATION,
                     "seeds": CT_SEEDS, "phantoms": {"train": args.phantoms, "validation": args.val_phantoms,
                                                     "test": args.test_phantoms}},
            "data_seconds": data_seconds, "network": record, "results": rows, "baseline_choices": choices,
            "best_classical": best, "gains_db": gains,
            "target": {**TARGET, "budget_s": 600, "reached": all(gains[k] >= TARGET[k] for k in TARGET)
                       and args.ct_seconds <= 600}}


def micro_part(args: argparse.Namespace) -> dict:
    """Train the microscopy network on patches of two images, compare on the whole third image."""
    from course_utils.data.tomography import (
        MICROSCOPY_NOISE,
        MICROSCOPY_SEEDS,
        MICROSCOPY_TEST,
        MICROSCOPY_TRAIN,
        microscopy_pairs,
        microscopy_test_pair,
    )

    fit = microscopy_pairs(MICROSCOPY_TRAIN, args.patch_size, args.patches, seed=MICROSCOPY_SEEDS["train"])
    validation = microscopy_pairs(MICROSCOPY_TRAIN, args.patch_size, args.val_patches, seed=MICROSCOPY_SEEDS["validation"])
    model, record = train(args, (fit, validation), args.micro_seconds)
    rows, choices = compare(model, validation, {MICROSCOPY_TEST: microscopy_test_pair()}, "noisy")
    return {"noise": MICROSCOPY_NOISE, "train_images": list(MICROSCOPY_TRAIN), "test_image": MICROSCOPY_TEST,
            "seeds": MICROSCOPY_SEEDS, "patch_size": args.patch_size, "validation_patches": args.val_patches,
            "network": record, "results": rows[MICROSCOPY_TEST], "baseline_choices": choices}


def run(args: argparse.Namespace) -> dict:
    """Both parts, with the machine, versions and settings they ran under."""
    import keras
    import skimage
    import tensorflow as tf

    start = time.perf_counter()
    result = {"ct": ct_part(args), "microscopy": micro_part(args)}
    return {**result, "total_seconds": time.perf_counter() - start,
            "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "tensorflow": tf.__version__, "keras": keras.__version__, "scikit-image": skimage.__version__,
                        "numpy": np.__version__, "gpus": len(tf.config.list_physical_devices("GPU")),
                        "load_average_end": list(os.getloadavg())},
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


LABELS = {"fbp": "plain FBP (ramp filter)", "noisy": "noisy input", "nl_means": "non-local means (h)",
          "tv": "total variation (weight)", "wavelet": "wavelet BayesShrink (sigma)", "network": "residual U-Net"}


def _table(rows: dict, columns: dict[str, str], first: str, prefix: str = "") -> list[str]:
    """A markdown table: one row per method (baselines named after ``prefix``), PSNR / SSIM per test set."""
    lines = ["| method | parameter | " + " | ".join(f"{label} PSNR (dB) | SSIM" for label in columns.values()) + " |",
             "|---|---:|" + "---:|---:|" * len(columns)]
    for method in [first, *BASELINES, "network"]:
        row = rows[next(iter(columns))][method]
        param = f"{row['param']:g}" if "param" in row else ""
        label = LABELS[method] if method in (first, "network") else prefix + LABELS[method]
        cells = " | ".join(f"{rows[c][method]['psnr']:.2f} | {rows[c][method]['ssim']:.4f}" for c in columns)
        lines.append(f"| {label} | {param} | {cells} |")
    return lines


def _training(record: dict) -> list[str]:
    """The training run in two sentences and its per-epoch losses."""
    load = ", ".join(f"{v:.2f}" for v in record["load_average_before"])
    lines = [(f"`ResidualUNet({', '.join(f'{k}={v!r}' for k, v in record['design'].items())})`, {record['params']:,} "
              f"parameters; Adam {record['learning_rate']:g} with cosine decay over the budget, batch "
              f"{record['batch_size']}, MSE to the clean image, {record['train_images']:,} training images. Training: "
              f"{record['train_seconds']:.0f} s, {record['epochs']} epochs, {record['steps']} steps"
              f"{' (stopped by the time budget)' if record['stopped_by_budget'] else ''}; load average (1/5/15 min) "
              f"before training {load} (2 cores: above 2, other work shared the CPU)."), "",
             "| epoch | loss | validation loss |", "|---:|---:|---:|"]
    history = record["history"]
    lines += [f"| {i} | {loss:.6f} | {val:.6f} |"
              for i, (loss, val) in enumerate(zip(history["loss"], history["val_loss"]), start=1)]
    return lines


def to_markdown(result: dict) -> str:
    """A readable report of one benchmark run."""
    ct, micro, machine = result["ct"], result["microscopy"], result["machine"]
    scan, gains, target = ct["scan"], ct["gains_db"], ct["target"]
    reached = "reached" if target["reached"] else "NOT reached"
    lines = [
        "# Chapter 05 benchmark: medical images (low-dose CT and microscopy denoising)", "",
        (f"Run {result['date']} on {machine['cpus']} CPUs, {machine['gpus']} GPUs, TensorFlow {machine['tensorflow']}, "
         f"Keras {machine['keras']}, scikit-image {machine['scikit-image']}; {result['total_seconds'] / 60:.0f} min in all."),
        "", "## Low-dose CT", "",
        (f"Scan: {scan['size']} x {scan['size']} pixels, {scan['n_angles']} angles over 180 degrees "
         f"(`skimage.transform.radon`, circle=True), {scan['photons']:g} photons per detector bin, counts "
         f"Poisson(I0 exp(-p)) with p scaled so a line across the field of view through material of value 1 has "
         f"p = {scan['attenuation']:g}; FBP with the ramp filter (`iradon`), not clipped. Data: "
         f"{scan['phantoms']['train']:,} training phantoms (seed {scan['seeds']['train']}), "
         f"{scan['phantoms']['validation']} validation phantoms (seed {scan['seeds']['validation']}), "
         f"{scan['phantoms']['test']} unseen test phantoms (seed {scan['seeds']['test']}); the Shepp-Logan phantom "
         f"(one noise draw, seed {scan['seeds']['shepp_logan']}) is never trained or tuned on. Every baseline "
         f"post-processes the FBP image with its parameter chosen by mean PSNR on the validation phantoms; "
         f"generating the data took {ct['data_seconds']:.0f} s."), "",
        (f"Target (Shepp-Logan, within 10 minutes of training): the network beats plain FBP by >= "
         f"{target['over_fbp']:g} dB and the best FBP + classical denoiser by >= {target['over_best_classical']:g} dB: "
         f"**{reached}** ({gains['over_fbp']:+.2f} dB over FBP, {gains['over_best_classical']:+.2f} dB over FBP + "
         f"{ct['best_classical']})."), "",
        *_table(ct["results"], {"shepp_logan": "Shepp-Logan", "unseen_phantoms": f"{scan['phantoms']['test']} unseen phantoms"},
                "fbp", prefix="FBP + "),
        "", ("PSNR is the mean over images of each image's PSNR, SSIM the mean `tf.image.ssim`; both with data range 1, "
             "on outputs clipped to [0, 1]. Shepp-Logan is made of ellipses, like the training phantoms: the "
             "network's gain is that of a learned prior that fits the test image, and says nothing about structures "
             "the phantoms never contain."), "", "### CT network training", "", *_training(ct["network"]),
        "", "## Microscopy and retina denoising", "",
        (f"Poisson-Gaussian noise: Poisson(peak x) / peak + N(0, sigma^2) with peak {micro['noise']['peak']:g} photons "
         f"and sigma {micro['noise']['sigma']:g}, on grayscale images in [0, 1]. The network trains on "
         f"{micro['network']['train_images']:,} random {micro['patch_size']} x {micro['patch_size']} patches of "
         f"{' and '.join(micro['train_images'])} (seed {micro['seeds']['train']}); validation: {micro['validation_patches']} "
         f"other patches of the same two images (seed {micro['seeds']['validation']}), where the baselines choose their "
         f"parameter; test: the whole `{micro['test_image']}` image, never seen, one noise draw (seed "
         f"{micro['seeds']['test']})."), "",
        *_table({micro["test_image"]: micro["results"]}, {micro["test_image"]: micro["test_image"]}, "noisy"),
        "", "### Microscopy network training", "", *_training(micro["network"]),
        "", "Produced by `python benchmarks/medical.py`; never edited by hand."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    """Run the benchmark and write JSON and markdown results."""
    args = parse_args(argv)
    if args.quick:
        args.ct_seconds = args.micro_seconds = 20.0
        args.phantoms, args.val_phantoms, args.test_phantoms, args.patches, args.val_patches = 64, 8, 4, 256, 32
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "medical.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "medical.md").write_text(to_markdown(result))
    print(to_markdown(result))
    return result


if __name__ == "__main__":
    main()
