"""The course finale: every generative model of the course on the same metrics, from its pretrained checkpoint.

Each model draws ``SAMPLES`` images (seed 0) judged by ``course_utils.evaluation.generative.evaluate_samples``
against the first ``SAMPLES`` Fashion-MNIST test images, in the features of the course's classifier: the
settings of ``benchmarks/generative_reference.py``, whose reference points are printed beside them. Test NLL,
where the model defines one: the IWAE bound (k = 100) on -log p(x) in nats over the whole test split binarised
once (seed 0) for the VAEs (the registry's recorded value, or measured here for a checkpoint that has none),
the exact -log p(x) for the mixture of Bernoullis (refitted here by EM, chapter 06's settings). Training
minutes: the seconds each checkpoint's registry entry records (the mixture: its fit here). Writes
``benchmarks/results/finale.{json,md}``.

    .venv/bin/python benchmarks/finale.py            # about 2 minutes on 2 cores
    .venv/bin/python benchmarks/finale.py --quick --out /tmp/finale   # a smoke test
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
SAMPLES = 5000
MIXTURE = {"components": 50, "max_iter": 200, "tol": 1e-3, "seed": 0}  # benchmarks/vae.py's mixture
MODELS = {  # checkpoint: (chapter, how its samples are made)
    "vae_fashion_16": ("06", "VAE, 16-D code: Bernoulli means of decoded N(0, I) codes"),
    "vae_fashion_2d": ("06", "VAE, 2-D code: Bernoulli means of decoded N(0, I) codes"),
    "dcgan_fashion": ("08", "DCGAN: weight-averaged generator"),
    "aae_fashion_2d": ("09", "adversarial AE, 2-D code: decoded samples of the mixture prior"),
    "adversarial_vae_fashion": ("09", "VAE + adversarial loss, 16-D code: decoded N(0, I) codes"),
}
REFERENCES = ("training images (floor)", "test + noise σ=0.05", "test blurred σ=1.0 px", "PCA-32 Gaussian samples")


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 samples, a 5-step mixture: a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick and args.out == RESULTS:
        parser.error("--quick is a smoke test: give --out outside benchmarks/results")
    return args


def samples_of(name: str, model, n: int) -> np.ndarray:
    """n samples of a checkpoint's model, seed 0: (n, 28, 28, 1) in [0, 1]."""
    if name == "dcgan_fashion":  # a generator network: noise in, images out
        import keras

        z = keras.random.normal((n, int(model.input_shape[-1])), seed=0)
        return np.asarray(model.predict(z, batch_size=500, verbose=0))
    return np.asarray(model.sample(n, seed=0))


def test_nll(name: str, model, entry: dict, quick: bool) -> float | None:
    """The IWAE bound on the binarised test split for a VAE checkpoint (recorded, else measured); None otherwise."""
    from course_utils.pretrained import VAE_KINDS, iwae_nll

    if entry["model"]["kind"] not in VAE_KINDS:
        return None
    recorded = entry["metrics"].get("test_iwae100_nll")
    if recorded is not None:
        return float(recorded)
    return iwae_nll(model, subset=200 if quick else None)


def mixture_row(data: dict, n: int, quick: bool) -> dict:
    """Chapter 06's mixture of Bernoullis refitted by EM: its component-mean samples and its exact test NLL."""
    from course_utils.evaluation.generative import evaluate_samples
    from course_utils.evaluation.mixture import BernoulliMixture
    from course_utils.pretrained import binarised_fashion_test

    start = time.perf_counter()
    mixture = BernoulliMixture(MIXTURE["components"], max_iter=5 if quick else MIXTURE["max_iter"],
                               tol=MIXTURE["tol"], seed=MIXTURE["seed"]).fit(data["fit"])
    seconds = time.perf_counter() - start
    binary_test, _ = binarised_fashion_test(200 if quick else None)
    samples = mixture.sample(n, seed=0, binary=False)
    return {"name": f"mixture of {MIXTURE['components']} Bernoullis: component means", "chapter": "06",
            "metrics": _metrics(evaluate_samples(samples, data["test"][:n])),
            "test_nll": float(-np.mean(mixture.log_likelihood(binary_test))), "training_minutes": seconds / 60,
            "source": "refitted here (EM)"}


def _metrics(result: dict) -> dict:
    keys = ("classifier_fid", "kid", "kid_std", "precision", "recall", "classes_covered", "class_kl")
    return {key: float(result[key]) for key in keys}


def run(args: argparse.Namespace) -> dict:
    """Every checkpoint's row, the mixture's, and the reference points."""
    import keras
    import tensorflow as tf

    from course_utils.data import load_fashion_mnist, split_validation
    from course_utils.evaluation.generative import evaluate_samples, load_generative_reference
    from course_utils.pretrained import load_pretrained, read_registry

    start, load_start = time.perf_counter(), os.getloadavg()
    (x_train, _), (x_test, _) = load_fashion_mnist()
    (x_fit,), _ = split_validation([x_train], fraction=0.1, seed=0)
    data = {"fit": x_fit[:3000] if args.quick else x_fit, "test": x_test}
    n = 500 if args.quick else SAMPLES
    registry = read_registry()
    rows = [mixture_row(data, n, args.quick)]
    for name, (chapter, how) in MODELS.items():
        entry, model = registry[name], load_pretrained(name)
        rows.append({"name": how, "chapter": chapter, "checkpoint": name,
                     "metrics": _metrics(evaluate_samples(samples_of(name, model, n), data["test"][:n])),
                     "test_nll": test_nll(name, model, entry, args.quick),
                     "training_minutes": entry["training"]["seconds"] / 60, "storage": entry.get("storage", "float32")})
        print(f"{name}: FID {rows[-1]['metrics']['classifier_fid']:.2f}", flush=True)
    reference = load_generative_reference()["points"]
    references = [{"name": name, **{key: reference[name][key] for key in rows[0]["metrics"]}} for name in REFERENCES]
    return {"rows": rows, "references": references, "n_samples": n, "quick": args.quick,
            "command": "python benchmarks/finale.py" + (" --quick" if args.quick else ""),
            "seconds": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                        "load_average_start": list(load_start), "load_average_end": list(os.getloadavg())}}


def _cells(m: dict) -> str:
    return (f"{m['classifier_fid']:.2f} | {m['kid']:.4f} | {m['precision']:.3f} | {m['recall']:.3f} | "
            f"{m['classes_covered']:.0f} | {m['class_kl']:.3f}")


def to_markdown(report: dict) -> str:
    """The finale table, readable."""
    machine, n = report["machine"], report["n_samples"]
    header = [("| model | chapter | classifier-FID | KID | precision | recall | classes | class KL | test NLL (nats) | "
              "training min |"), "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = [f"| {r['name']}{' (`' + r['checkpoint'] + '`)' if 'checkpoint' in r else ''} | {r['chapter']} | "
            f"{_cells(r['metrics'])} | {'—' if r['test_nll'] is None else format(r['test_nll'], '.1f')} | "
            f"{r['training_minutes']:.1f} |" for r in report["rows"]]
    rows += [f"| reference: {r['name']} | — | {_cells(r)} | — | — |" for r in report["references"]]
    quick = ["**A --quick smoke run: not a measurement.**", ""] if report["quick"] else []
    return "\n".join([
        "# The course finale: every generative model on the same metrics", "", *quick,
        (f"Run {report['date']} with `{report['command']}` on {machine['cpus']} CPUs, TensorFlow "
         f"{machine['tensorflow']}, Keras {machine['keras']}; {report['seconds'] / 60:.1f} min in all."), "",
        (f"{n:,} samples per model (seed 0) against the first {n:,} Fashion-MNIST test images in the features of the "
         "course's classifier: classifier-FID (not comparable with Inception FIDs in papers), KID (cubic kernel, 50 "
         "subsets of 1,000), precision and recall (k-NN manifolds, k = 3), classes predicted for at least 2 % of the "
         "samples and the KL of the class histogram to uniform. Test NLL: IWAE bound (k = 100) on the whole test "
         "split binarised once (seed 0) for VAEs, exact for the mixture; a GAN and an adversarial autoencoder define "
         "no likelihood (—). Training minutes as each checkpoint recorded them on this kind of 2-core CPU (busy "
         "machines stretch them). Reference rows: `benchmarks/results/generative_reference.md`, same settings."), "",
        *header, *rows, "",
        ("Lower FID, KID and class KL are better; higher precision (samples look real) and recall (the variety of real "
        "images is covered) are better. No single column ranks the models: read them together."), ""])


def main(argv=None) -> dict:
    """Run the finale and write finale.json and finale.md into ``--out``."""
    args = parse_args(argv)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "finale.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / "finale.md").write_text(to_markdown(report), encoding="utf-8")
    print(to_markdown(report))
    return report


if __name__ == "__main__":
    main()
