"""Benchmark for chapter 03: PSNR/SSIM of three super-resolution designs vs bicubic on held-out photographs.

Each model trains on grayscale patches from ``TRAIN_PHOTOS`` under a wall-clock budget, then every
model and bicubic interpolation are measured on ``HELD_OUT_PHOTOS`` in the same run. Results go to
``benchmarks/results/superres.json`` and ``superres.md``.

    .venv/bin/python benchmarks/superres.py                      # x2 and x4, 180 s per model
    .venv/bin/python benchmarks/superres.py --seconds 30 --scales 2 --patches 2000   # a quick look
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"


def parse_args() -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--designs", nargs="+", default=["transposed", "resize", "subpixel"])
    parser.add_argument("--seconds", type=float, default=180.0, help="wall-clock training budget per model")
    parser.add_argument("--epochs", type=int, default=1000, help="upper bound; the time budget normally stops first")
    parser.add_argument("--patches", type=int, default=20000, help="training patches per scale")
    parser.add_argument("--low-res-size", type=int, default=24, help="side of a low-resolution training patch")
    parser.add_argument("--filters", type=int, default=32)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--note", default="", help="free text stored with the results, e.g. machine load")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser.parse_args()


def run(args: argparse.Namespace) -> dict:
    """Train every design at every scale and evaluate it and bicubic on the held-out photographs."""
    import keras
    import tensorflow as tf

    from course_utils import set_seed
    from course_utils.data import HELD_OUT_PHOTOS, TRAIN_PHOTOS, make_dataset, sr_patch_dataset
    from course_utils.evaluation.superres import evaluate_sr
    from course_utils.models import make_sr_model
    from course_utils.training import fit_with_budget

    load_start = os.getloadavg()
    rows, runs = [], []
    for scale in args.scales:
        set_seed(args.seed)
        low_res, high_res = sr_patch_dataset(scale, args.patches, low_res_size=args.low_res_size, seed=args.seed)
        for row in evaluate_sr(None, scale):
            rows.append({"image": row["image"], "scale": scale, "method": "bicubic",
                         "psnr": row["bicubic_psnr"], "ssim": row["bicubic_ssim"]})
        for design in args.designs:
            set_seed(args.seed)
            model = make_sr_model(design, scale, filters=args.filters, depth=args.depth)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
            data = make_dataset(low_res, high_res, batch_size=args.batch_size, seed=args.seed)
            fit = fit_with_budget(model, data, epochs=args.epochs, time_budget_s=args.seconds, progress="none")
            runs.append({"design": design, "scale": scale, "params": int(model.count_params()),
                         "train_seconds": fit.seconds, "steps": fit.steps, "epochs": fit.epochs_run,
                         "final_loss": fit.history["loss"][-1]})
            for row in evaluate_sr(model, scale):
                rows.append({"image": row["image"], "scale": scale, "method": design,
                             "psnr": row["model_psnr"], "ssim": row["model_ssim"]})
            print(f"x{scale} {design}: {fit.steps} steps in {fit.seconds:.0f} s", flush=True)
    return {"rows": rows, "runs": runs, "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "train_photos": list(TRAIN_PHOTOS), "held_out_photos": list(HELD_OUT_PHOTOS),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__,
                        "keras": keras.__version__, "gpus": len(tf.config.list_physical_devices("GPU")),
                        "load_average_start": list(load_start), "load_average_end": list(os.getloadavg())},
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def summary_table(result: dict) -> list[dict]:
    """Mean PSNR/SSIM per scale and method, with the PSNR gain over bicubic."""
    table = []
    for scale in sorted({r["scale"] for r in result["rows"]}):
        rows = [r for r in result["rows"] if r["scale"] == scale]
        base = np.mean([r["psnr"] for r in rows if r["method"] == "bicubic"])
        for method in dict.fromkeys(r["method"] for r in rows):
            chosen = [r for r in rows if r["method"] == method]
            psnr = float(np.mean([r["psnr"] for r in chosen]))
            run = next((x for x in result["runs"] if x["design"] == method and x["scale"] == scale), {})
            table.append({"scale": scale, "method": method, "psnr": psnr, "gain_db": psnr - float(base),
                          "ssim": float(np.mean([r["ssim"] for r in chosen])),
                          "train_seconds": run.get("train_seconds"), "steps": run.get("steps")})
    return table


def to_markdown(result: dict) -> str:
    """A readable report of one benchmark run."""
    s = result["settings"]
    lines = [
        "# Chapter 03 benchmark: super-resolution vs bicubic",
        "",
        (f"Run {result['date']} on {result['machine']['cpus']} CPUs, {result['machine']['gpus']} GPUs, "
         f"TensorFlow {result['machine']['tensorflow']}, Keras {result['machine']['keras']}."),
        (f"Training: {s['patches']} grayscale patches ({s['low_res_size']} px low-res side) from "
         f"{', '.join(result['train_photos'])}; Adam, MSE, batch {s['batch_size']}, "
         f"wall-clock budget {s['seconds']:.0f} s per model; filters {s['filters']}, depth {s['depth']}; "
         "residual on the bicubic upsample."),
        (f"Test: held-out photographs {', '.join(result['held_out_photos'])} (grayscale, downscaled with antialiased "
         "bicubic, border of `scale` pixels ignored); PSNR and SSIM from course_utils.evaluation.metrics."),
    ]
    load = result["machine"]
    lines.append(f"Load average (1/5/15 min) at start {', '.join(f'{v:.2f}' for v in load['load_average_start'])}; "
                 f"at end {', '.join(f'{v:.2f}' for v in load['load_average_end'])} (2 cores: above 2 means "
                 "other work shared the CPU and fewer training steps fitted in the budget).")
    if s.get("note"):
        lines += ["", f"Note: {s['note']}"]
    lines += ["", "## Mean over held-out photographs", "",
              "| scale | method | PSNR (dB) | gain vs bicubic (dB) | SSIM | train s | steps |",
              "|---|---|---|---|---|---|---|"]
    for r in summary_table(result):
        secs = "" if r["train_seconds"] is None else f"{r['train_seconds']:.0f}"
        steps = "" if r["steps"] is None else str(r["steps"])
        lines.append(f"| x{r['scale']} | {r['method']} | {r['psnr']:.2f} | {r['gain_db']:+.2f} | {r['ssim']:.4f} | {secs} | {steps} |")
    lines += ["", "## Per photograph", "", "| scale | image | method | PSNR (dB) | SSIM |", "|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| x{r['scale']} | {r['image']} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run the benchmark and write JSON and markdown results."""
    args = parse_args()
    result = run(args)
    result["summary"] = summary_table(result)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "superres.json").write_text(json.dumps(result, indent=2))
    (args.out / "superres.md").write_text(to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
