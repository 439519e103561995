"""Data parallelism on a 2-core CPU: step time and examples per second on one device, under MirroredStrategy on
one and two logical CPU devices, and with two local workers (MultiWorkerMirroredStrategy), for chapter 02's
convolutional autoencoder and chapter 06's VAE.

Every configuration runs the same distributed loop (``course_utils.training.worker.distributed_training``) in its
own process (the CPU can only be split before TensorFlow starts) on the first 8,192 Fashion-MNIST training images,
global batch 128, 3 epochs; the step time is the median over epochs 2-3 (epoch 1 includes tracing). The replicas
share the same two cores, so these numbers show what the machinery costs, not a speed-up: on several GPUs or
machines each replica has its own. Writes ``benchmarks/results/distribute.{json,md}``.

    .venv/bin/python benchmarks/distribute.py            # about 2.5 minutes on 2 cores (one run per setup)
    .venv/bin/python benchmarks/distribute.py --quick --out /tmp/distribute   # a smoke test
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MODELS = {"conv_ae": "chapter 02's convolutional AE", "dense_vae": "chapter 06's dense VAE (16-d code)"}
SETUPS = {  # name: (strategy, logical devices, worker processes)
    "one device, no strategy": ("default", 1, 1),
    "MirroredStrategy, 1 logical device": ("mirrored", 1, 1),
    "MirroredStrategy, 2 logical devices": ("mirrored", 2, 1),
    "2 local workers (MultiWorkerMirroredStrategy)": ("workers", 1, 2),
}


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options (``--child`` is how the script runs one in-process configuration)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,024 images, 2 epochs: a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=4, metavar=("STRATEGY", "DEVICES", "MODEL", "IMAGES_EPOCHS"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick and args.out == RESULTS:
        parser.error("--quick is a smoke test: give --out outside benchmarks/results")
    return args


def child(strategy_name: str, devices: int, model: str, images: int, epochs: int) -> dict:
    """One in-process configuration: per-epoch seconds, steps and losses, as JSON on stdout."""
    from course_utils.training.distribute import split_cpu

    names = split_cpu(devices)
    import tensorflow as tf

    from course_utils.training.worker import distributed_training
    from course_utils.training.worker import images as load_images

    strategy = (tf.distribute.get_strategy() if strategy_name == "default"
                else tf.distribute.MirroredStrategy(names[:devices]))
    *_, batches, train_step = distributed_training(strategy, model, load_images("fashion", images), 128, 1e-3)
    epochs_seen = []
    for _ in range(epochs):
        start = time.perf_counter()
        losses = [float(train_step(x)) for x in batches]
        epochs_seen.append({"epoch_seconds": time.perf_counter() - start, "steps": len(losses),
                            "loss": sum(losses) / len(losses), "replicas": strategy.num_replicas_in_sync})
    return {"epochs": epochs_seen}


def run_child(strategy: str, devices: int, model: str, images: int, epochs: int) -> list[dict]:
    """Run one in-process configuration in a fresh Python; its epochs."""
    command = [sys.executable, __file__, "--child", strategy, str(devices), model, f"{images}x{epochs}"]
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    if result.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["epochs"]


def run_workers(model: str, images: int, epochs: int) -> list[dict]:
    """Two local workers through TF_CONFIG; the chief's epochs."""
    from course_utils.training.cluster import start_cluster

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        arguments = ["--model", model, "--images", str(images), "--global-batch", "128", "--epochs", str(epochs),
                     "--out", str(out)]
        codes = start_cluster(arguments, 2, out / "logs").wait(timeout=1800)
        if codes != [0, 0]:
            raise RuntimeError(f"the workers failed ({codes}):\n{(out / 'logs' / 'worker0.log').read_text()[-3000:]}")
        return [json.loads(line) for line in (out / "history" / "worker0.jsonl").read_text().splitlines()]


def summary(epochs: list[dict]) -> dict:
    """Median step time over the epochs after the first, examples per second, and the losses."""
    timed = epochs[1:] or epochs
    step = statistics.median(epoch["epoch_seconds"] / epoch["steps"] for epoch in timed)
    return {"step_ms": round(1000 * step, 1), "examples_per_s": round(128 / step),
            "replicas": epochs[0]["replicas"], "losses": [round(epoch["loss"], 5) for epoch in epochs]}


def to_markdown(result: dict) -> str:
    """The results as a markdown table per model."""
    lines = ["# Data parallelism on a 2-core CPU", "", result["note"], ""]
    for model, rows in result["models"].items():
        header = "| setup | replicas | step (ms) | examples/s | vs one device | loss per epoch |"
        lines += [f"## {MODELS[model]}", "", header, "|---|---|---|---|---|---|"]
        base = rows["one device, no strategy"]["step_ms"]
        for name, row in rows.items():
            losses = ", ".join(f"{loss:.4g}" for loss in row["losses"])
            lines.append(f"| {name} | {row['replicas']} | {row['step_ms']} | {row['examples_per_s']} | "
                         f"{row['step_ms'] / base:.2f}x | {losses} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Measure every setup for both models; write json and md."""
    args = parse_args(argv)
    if args.child:
        strategy, devices, model, sizes = args.child
        images, epochs = (int(part) for part in sizes.split("x"))
        print(json.dumps(child(strategy, int(devices), model, images, epochs)))
        return 0
    images, epochs = (1024, 2) if args.quick else (8192, 3)
    result = {"machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
              "images": images, "epochs": epochs, "global_batch": 128, "models": {},
              "note": ("Same loop, same data and global batch in every setup; the replicas share the same 2 cores, "
                       "so a slower step under a strategy is the cost of splitting and all-reducing, not a verdict "
                       "on data parallelism, which pays off when each replica has its own device.")}
    for model in MODELS:
        rows = {}
        for name, (strategy, devices, workers) in SETUPS.items():
            epochs_seen = (run_workers(model, images, epochs) if workers > 1
                           else run_child(strategy, devices, model, images, epochs))
            rows[name] = summary(epochs_seen)
            print(f"{model:10s} {name:48s} {rows[name]['step_ms']:8.1f} ms/step", flush=True)
        result["models"][model] = rows
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "distribute.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "distribute.md").write_text(to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
