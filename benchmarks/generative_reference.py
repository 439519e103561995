"""Reference points for the generative metrics: what classifier-FID, KID, precision/recall, coverage and
memorisation say about image sets whose quality we know.

Every set of ``--samples`` images is compared with the first ``--samples`` Fashion-MNIST test images
(``real``); degraded sets are made from the *other* test images, so that no set contains the real
images themselves. Memorisation compares the first 1,000 of each set with all 60,000 training images.
The points: training images (the floor: as good as real data, and all of them copies), test images
plus Gaussian noise, blurred test images, PCA-Gaussian samples (a classical generative model),
reconstructions by the pretrained ``dense_ae_32`` and its decoder fed Gaussian codes. Writes
``benchmarks/results/generative_reference.{json,md}``.

    .venv/bin/python benchmarks/generative_reference.py          # about 2 minutes on 2 cores
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
NOISE_SIGMAS = (0.05, 0.1, 0.2, 0.4)
BLUR_SIGMAS = (0.5, 1.0, 2.0)
PCA_COMPONENTS = 32
SEED = 0


def noisy(images: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Images plus Gaussian pixel noise of standard deviation ``sigma``, clipped into [0, 1]."""
    return np.clip(images + sigma * rng.standard_normal(images.shape, dtype=np.float32), 0.0, 1.0)


def blurred(images: np.ndarray, sigma: float) -> np.ndarray:
    """Images blurred by a Gaussian of ``sigma`` pixels: (n, 28, 28, 1) -> (n, 28, 28, 1)."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(images, sigma=(0, sigma, sigma, 0)).astype(np.float32)


def pca_gaussian_samples(x_train: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Samples of PCA as a generative model: codes z ~ N(0, diag(component variances)), decoded and clipped."""
    from course_utils.evaluation.baselines import PCABaseline

    pca = PCABaseline(PCA_COMPONENTS).fit(x_train)
    z = rng.standard_normal((n, PCA_COMPONENTS)) * np.sqrt(pca.pca.explained_variance_)  # (n, k)
    return np.clip(pca.decode(z), 0.0, 1.0)


def gaussian_code_samples(model, x_train: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """An autoencoder used as a generator: codes from a Gaussian fitted to the training codes, decoded."""
    codes = np.asarray(model.encoder.predict(x_train, batch_size=1000, verbose=0), dtype=np.float64)  # (N, d)
    z = rng.multivariate_normal(codes.mean(0), np.cov(codes, rowvar=False), size=n).astype(np.float32)
    return np.asarray(model.decoder.predict(z, batch_size=1000, verbose=0))


def reference_sets(n: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(real test images, training images, {label: image set}) in the order the report lists them."""
    from course_utils.data import load_fashion_mnist, take_subset
    from course_utils.pretrained import load_pretrained

    (x_train, _), (x_test, _) = load_fashion_mnist()
    real, other = x_test[:n], x_test[n:2 * n]
    rng = np.random.default_rng(SEED)
    (train_subset,) = take_subset([x_train], n, seed=SEED)
    autoencoder = load_pretrained("dense_ae_32")
    sets = {"training images (floor)": train_subset}
    sets.update({f"test + noise σ={s}": noisy(other, s, rng) for s in NOISE_SIGMAS})
    sets.update({f"test blurred σ={s} px": blurred(other, s) for s in BLUR_SIGMAS})
    sets[f"PCA-{PCA_COMPONENTS} Gaussian samples"] = pca_gaussian_samples(x_train, n, rng)
    sets["dense_ae_32 reconstructions"] = np.asarray(autoencoder.predict(other, batch_size=1000, verbose=0))
    sets["dense_ae_32 decoder, Gaussian codes"] = gaussian_code_samples(autoencoder, x_train, n, rng)
    return real, x_train, sets


def to_markdown(report: dict) -> str:
    """A table of every reference point."""
    s = report["settings"]
    lines = ["# Reference points for the generative metrics (Fashion-MNIST)", "",
             (f"Run {report['date']} ({report['seconds']:.0f} s). Each set of {s['samples']:,} images against the first "
              f"{s['samples']:,} test images, in the features of the course's classifier (`fashion_classifier`, "
              f"test accuracy {report['classifier_test_accuracy']:.4f}). 'classifier-FID' is a Fashion-MNIST-"
              "classifier Fréchet distance, not comparable with Inception FIDs in papers. KID: unbiased, cubic "
              f"polynomial kernel, mean ± std over {s['kid_subsets']} subsets of {s['kid_subset_size']}. Precision/"
              f"recall: k-NN manifolds with k={s['k']}. Coverage: classes predicted for at least 2 % of the samples, "
              f"KL of the class histogram to uniform (nats). Memorisation on the first {s['memorisation_size']:,}: "
              "median pixel distance to the nearest of the 60,000 training images, and the copy fraction (closer "
              "than 99 % of real test images are)."), "",
             "| image set | classifier-FID | KID | precision | recall | classes | class KL | NN-train dist. | copies |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, m in report["points"].items():
        lines.append(f"| {label} | {m['classifier_fid']:.3f} | {m['kid']:.4f} ± {m['kid_std']:.4f} | "
                     f"{m['precision']:.3f} | {m['recall']:.3f} | {m['classes_covered']} | {m['class_kl']:.3f} | "
                     f"{m['nn_train_distance_median']:.2f} | {m['copy_fraction']:.3f} |")
    lines += ["", ("Produced by `python benchmarks/generative_reference.py`; never edited by hand. Read it in a "
                   "notebook with `course_utils.evaluation.generative.load_generative_reference()` and draw it with "
                   "`plot_generative_reference()`.")]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    """Compute every reference point and write the JSON and markdown results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5000, help="images per set (and real test images)")
    parser.add_argument("--out", type=Path, default=RESULTS / "generative_reference")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf

    from course_utils.evaluation.generative import default_classifier, evaluate_samples
    from course_utils.pretrained import read_registry

    start = time.perf_counter()
    settings = dict(samples=args.samples, k=3, kid_subsets=50, kid_subset_size=1000, memorisation_size=1000,
                    seed=SEED, noise_sigmas=list(NOISE_SIGMAS), blur_sigmas=list(BLUR_SIGMAS),
                    pca_components=PCA_COMPONENTS)
    real, x_train, sets = reference_sets(args.samples)
    points = {}
    for label, images in sets.items():
        points[label] = evaluate_samples(images, real, train=x_train, classifier=default_classifier(),
                                         k=settings["k"], kid_subset_size=settings["kid_subset_size"],
                                         memorisation_size=settings["memorisation_size"], seed=SEED)
        print(f"{label}: FID {points[label]['classifier_fid']:.3f}, KID {points[label]['kid']:.4f}, "
              f"P {points[label]['precision']:.3f}, R {points[label]['recall']:.3f}", flush=True)
    registry = read_registry()
    report = {"settings": settings, "points": points,
              "classifier_test_accuracy": registry["fashion_classifier"]["metrics"]["test_accuracy"],
              "checkpoints": {name: registry[name]["sha256"] for name in ("fashion_classifier", "dense_ae_32")},
              "seconds": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
              "machine": {"python": platform.python_version(), "tensorflow": tf.__version__,
                          "keras": keras.__version__, "cpu_count": os.cpu_count(), "platform": platform.platform()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(to_markdown(report), encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
