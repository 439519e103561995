"""How much a generative model's classifier-FID moves with the noise draw alone, for the pretrained checkpoints.

The chapter 08 and 09 tables score each model on one draw of its noise: 5,000 samples against the first 5,000
Fashion-MNIST test images. This script keeps the checkpoints and the test images fixed and redraws only the noise
(``DRAWS`` seeds), so the spread is the metric's sampling noise, not the training's. The DCGAN's codes come from
NumPy's generator (as in ``benchmarks/gan.py``), the other models draw through their own ``sample(n, seed)``.
Chapter 08's target (the DCGAN at most half the chapter 06 VAE's FID) is judged here on the means over the
draws, with the VAE of the ``vae_fashion_16`` checkpoint (the design and budget of ``benchmarks/vae.py``, a
separate training run). Writes ``benchmarks/results/fid_draws.{json,md}``.

    .venv/bin/python benchmarks/fid_draws.py                      # about 1 minute on 2 cores
    .venv/bin/python benchmarks/fid_draws.py --quick --out /tmp/fid_draws   # a smoke test
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
DRAWS = tuple(range(10))  # noise seeds; seed 0 is the draw the chapters' tables use
SAMPLES = 5000  # per draw, against as many test images (benchmarks/generative_reference.py's setting)
MODELS = {  # checkpoint -> what it is
    "dcgan_fashion": "chapter 08 DCGAN, weight-averaged generator",
    "vae_fashion_16": "chapter 06 VAE, 16-d code, Bernoulli means",
    "adversarial_vae_fashion": "chapter 09 VAE with an adversarial loss",
    "aae_fashion_2d": "chapter 09 adversarial autoencoder, 2-d code",
}
GAN, VAE = "dcgan_fashion", "vae_fashion_16"
FID_TARGET_RATIO = 0.5  # chapter 08: the DCGAN's classifier-FID at most half the chapter 06 VAE's


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 samples and 3 draws: a smoke test, not a result")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick and args.out == RESULTS:
        parser.error("--quick is a smoke test: give --out outside benchmarks/results")
    return args


def draw_samples(name: str, model, n: int, seed: int) -> np.ndarray:
    """n samples of checkpoint ``name`` from noise seeded ``seed``: (n, 28, 28, 1) in [0, 1]."""
    if name == GAN:  # a bare generator network: codes from NumPy, as benchmarks/gan.py draws them
        z = np.random.default_rng(seed).standard_normal((n, int(model.input_shape[-1]))).astype(np.float32)
        return np.asarray(model.predict(z, batch_size=500, verbose=0))
    return np.asarray(model.sample(n, seed=seed))


def spread(values: list[float]) -> dict[str, float]:
    """Mean, sample standard deviation, minimum and maximum of a list of FIDs."""
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "min": float(np.min(values)), "max": float(np.max(values))}


def run(args: argparse.Namespace) -> dict:
    """Every checkpoint's FID on every draw, its spread, and chapter 08's target on the means."""
    import keras
    import tensorflow as tf

    from course_utils.data import load_fashion_mnist
    from course_utils.evaluation.generative import classifier_fid
    from course_utils.pretrained import load_pretrained, read_registry

    start = time.perf_counter()
    n, draws = (500, DRAWS[:3]) if args.quick else (SAMPLES, DRAWS)
    real = load_fashion_mnist()[1][0][:n]  # (n, 28, 28, 1): the first n test images
    registry = read_registry()
    models = {}
    for name, label in MODELS.items():
        model = load_pretrained(name)
        fids = [classifier_fid(draw_samples(name, model, n, seed), real) for seed in draws]
        models[name] = {"label": label, "fids": fids, **spread(fids), "sha256": registry[name]["sha256"]}
        print(f"{name}: " + ", ".join(f"{f:.2f}" for f in fids), flush=True)
    gan, vae = models[GAN]["mean"], models[VAE]["mean"]
    return {"models": models, "draws": list(draws), "samples": n, "quick": args.quick,
            "target": {"ratio": FID_TARGET_RATIO, "gan_mean": gan, "vae_mean": vae, "threshold": FID_TARGET_RATIO * vae,
                       "reached": gan <= FID_TARGET_RATIO * vae},
            "seconds": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}}


def to_markdown(report: dict) -> str:
    """A readable report of one run."""
    target, machine = report["target"], report["machine"]
    draws = report["draws"]
    rows = ["| checkpoint | " + " | ".join(f"draw {d}" for d in draws) + " | mean ± std | min – max |",
            "|---|" + "---:|" * (len(draws) + 2)]
    for name, m in report["models"].items():
        rows.append(f"| {m['label']} (`{name}`) | " + " | ".join(f"{f:.2f}" for f in m["fids"])
                    + f" | {m['mean']:.2f} ± {m['std']:.2f} | {m['min']:.2f} – {m['max']:.2f} |")
    verdict = "reached" if target["reached"] else "**missed**"
    quick = ["**A --quick smoke run: not a measurement.**", ""] if report["quick"] else []
    return "\n".join([
        "# Classifier-FID over noise draws: the metric's own sampling noise", "", *quick,
        (f"Run {report['date']} on {machine['cpus']} CPUs, TensorFlow {machine['tensorflow']}, Keras "
         f"{machine['keras']}; {report['seconds']:.0f} s. Each pretrained checkpoint draws {report['samples']:,} "
         f"samples from each of {len(draws)} noise seeds, scored against the same first {report['samples']:,} test "
         "images in the course classifier's features; only the noise changes. Draw 0 is the draw the chapters' "
         "tables use."), "", *rows, "",
        ("- Differences between models smaller than about twice a row's standard deviation are not measured "
         "differences: read one-draw tables with that margin."),
        (f"- Chapter 08's target on the means: the DCGAN's mean FID {target['gan_mean']:.2f} against at most "
         f"{target['ratio']} x the VAE's mean {target['vae_mean']:.2f} = {target['threshold']:.2f}: {verdict}."),
        "", "Produced by `python benchmarks/fid_draws.py`; never edited by hand.", ""])


def main(argv=None) -> dict:
    """Run and write fid_draws.json and fid_draws.md into ``--out``."""
    args = parse_args(argv)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fid_draws.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (args.out / "fid_draws.md").write_text(to_markdown(report), encoding="utf-8")
    print(to_markdown(report))
    return report


if __name__ == "__main__":
    main()
