"""Benchmark for chapter 09: adversarial autoencoders against VAEs on the same prior, labels in the prior, and a
VAE with an adversarial loss against the plain VAE.

Every model trains on the Fashion-MNIST training split minus the checkpoints' validation split
(``split_validation``, 10 %, seed 0), grey images in [0, 1] with the Bernoulli cross-entropy as reconstruction
loss, seed 42, the same epochs and batch size within a part (a wall-clock cap per model stops a slow run
early and is recorded). The test split is read once, after training.

1. Prior imposition, 2-D codes (``TWO_D``: chapter 06's ``vae_fashion_2d`` layout, dense 256-128, batch
   norm): an adversarial autoencoder and a VAE with the *same* prior, a mixture of 10 Gaussians
   (``VAEWithPrior``, Monte Carlo KL) and then N(0, I). For each: the test MSE of reconstructions; MMD^2
   between 2,000 test codes (the VAE's drawn from q(z|x): its aggregate posterior) and 2,000 prior samples,
   with a permutation-test p-value (200 shufflings, median-heuristic bandwidth); 5,000 decoded prior
   samples judged by ``evaluate_samples`` against the first 5,000 test images.
2. Labels in the prior: the mixture AAE again with ``LABELLED`` training labels (a seeded choice, -1 for the
   rest) pulling each labelled code onto its class's component; the labelled images are repeated
   ``LABELLED_REPEATS`` times per epoch and the regularisation phases use Adam(``LABELLED_LEARNING_RATE``); the
   same model trained naively (labelled images seen once per epoch, the default Adam(2e-4)) is measured beside it. Test accuracy of the nearest component,
   beside a logistic regression fitted on the unsupervised mixture AAE's codes of the same labelled images;
   and how often the classifier agrees with the class asked for when decoding a class's component.
3. Autoencoders meeting GANs, 16-D codes (dense 256-128, no batch norm): the plain VAE and the same VAE with
   a spectrally normalised DCGAN discriminator and ``ADVERSARIAL_WEIGHT`` times the non-saturating generator
   loss on its reconstructions and samples: test MSE, the classifier-FID of reconstructions (test images
   5,000-9,999 against 0-4,999) and the sample metrics.

The mixture AAE becomes the ``aae_fashion_2d`` checkpoint and the adversarial VAE the ``adversarial_vae_fashion``
checkpoint (float16 storage). Writes ``benchmarks/results/aae.{json,md}``.

    .venv/bin/python benchmarks/aae.py                  # about 21 min on 2 cores (shared)
    .venv/bin/python benchmarks/aae.py --quick --out /tmp/aae    # a smoke test (about 1 min)
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
SEED = 42
TWO_D = {"latent_dim": 2, "hidden_units": [256, 128], "batch_norm": True}
SIXTEEN_D = {"latent_dim": 16, "hidden_units": [256, 128], "batch_norm": False}
TRAIN = {"batch_size": 128, "epochs_2d": 25, "epochs_16d": 12, "learning_rate": 1e-3, "time_cap_s": 900}
ADVERSARIAL_WEIGHT = 10.0
DISCRIMINATOR_FILTERS = 32
LABELLED = 1000
LABELLED_REPEATS = 10  # each labelled image seen 11 times per epoch: about a third of the batches' codes are labelled
LABELLED_LEARNING_RATE = 1e-3  # the regularisation phases' Adam (beta_1 0.5): codes must travel to their component
MMD_POINTS, MMD_PERMUTATIONS = 2000, 200
SAMPLES = 5000
CHECKPOINTS = {"aae_mixture": "aae_fashion_2d", "adversarial_vae_16": "adversarial_vae_fashion"}


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data, one epoch: a smoke test")
    parser.add_argument("--no-checkpoint", action="store_true", help="do not register the checkpoints")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick and args.out == RESULTS:
        parser.error("--quick is a smoke test: give --out outside benchmarks/results")
    return args


def load_data(quick: bool) -> dict[str, np.ndarray]:
    """Training images and labels minus the validation split, test images and labels, all training images."""
    from course_utils.data import load_fashion_mnist, split_validation

    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    (x_fit, y_fit), (x_val, _) = split_validation([x_train, y_train], fraction=0.1, seed=0)
    if quick:
        return {"train": x_fit[:2048], "train_labels": y_fit[:2048], "validation": x_val[:200], "test": x_test[:600],
                "test_labels": y_test[:600], "all_train": x_train[:3000]}
    return {"train": x_fit, "train_labels": y_fit, "validation": x_val, "test": x_test, "test_labels": y_test,
            "all_train": x_train}


def build(name: str):
    """The model of one benchmark row, seeded and compiled."""
    import keras

    from course_utils.models.aae import dense_aae
    from course_utils.models.priors import GaussianMixturePrior
    from course_utils.models.vae import dense_vae
    from course_utils.models.vaegan import dense_adversarial_vae

    keras.utils.set_random_seed(SEED)
    adam = keras.optimizers.Adam(TRAIN["learning_rate"])
    if name.startswith("aae"):
        labelled = name.startswith("aae_labels")
        model = dense_aae(**TWO_D, prior="gaussian" if name == "aae_gaussian" else "mixture",
                          n_classes=10 if labelled else None, seed=SEED)
        if name == "aae_labels":
            model.compile(ae_optimizer=adam, d_optimizer=keras.optimizers.Adam(LABELLED_LEARNING_RATE, beta_1=0.5),
                          g_optimizer=keras.optimizers.Adam(LABELLED_LEARNING_RATE, beta_1=0.5))
        else:
            model.compile(ae_optimizer=adam)
    elif name == "adversarial_vae_16":
        model = dense_adversarial_vae(latent_dim=SIXTEEN_D["latent_dim"], hidden_units=SIXTEEN_D["hidden_units"],
                                      discriminator_filters=DISCRIMINATOR_FILTERS,
                                      adversarial_weight=ADVERSARIAL_WEIGHT, seed=SEED)
        model.compile(vae_optimizer=adam)
    else:
        layout = SIXTEEN_D if name == "vae_16" else TWO_D
        prior = GaussianMixturePrior(10, 2) if name == "vae_mixture" else None
        model = dense_vae(**layout, seed=SEED, prior=prior)
        model.compile(optimizer=adam)
    return model


def train(name: str, data: dict, quick: bool, labels: np.ndarray | None = None):
    """Train one model for its part's epochs (capped in wall clock); the model and its training record."""
    from course_utils.models.aae import repeat_labelled
    from course_utils.training.callbacks import TimeBudget

    model = build(name)
    epochs = 1 if quick else TRAIN["epochs_16d" if name.endswith("16") else "epochs_2d"]
    budget = TimeBudget(TRAIN["time_cap_s"])
    load_before, start = os.getloadavg()[0], time.perf_counter()
    repeats = LABELLED_REPEATS if name == "aae_labels" else 0
    arguments = (data["train"],) if labels is None else repeat_labelled(data["train"], labels, repeats)
    history = model.fit(*arguments, batch_size=TRAIN["batch_size"], epochs=epochs, verbose=0, shuffle=True,
                        callbacks=[budget])
    record = {"seconds": time.perf_counter() - start, "epochs_run": len(next(iter(history.history.values()))),
              "epochs": epochs, "stopped_by_time_cap": budget.stopped_early, "load_average_1min_before": load_before,
              "load_average_1min_after": os.getloadavg()[0]}
    curves = {key: [float(v) for v in values] for key, values in history.history.items()}
    print(f"{name}: {record['epochs_run']} epochs in {record['seconds']:.0f} s", flush=True)
    return model, record, curves


def test_codes(model, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Codes of test images: an AAE's encoding, a VAE's draw from q(z|x) (its aggregate posterior)."""
    from course_utils.models.vae import VAE

    if not isinstance(model, VAE):
        return np.asarray(model.encode(x))
    mean, log_var = (np.asarray(v) for v in model.encode(x))
    return mean + np.exp(0.5 * log_var) * np.random.default_rng(seed).standard_normal(mean.shape)


def reconstruction_mse(model, x: np.ndarray) -> float:
    """Mean squared error of the reconstructions (pixel probabilities) of x."""
    return float(np.mean((np.asarray(model.predict(x, batch_size=500, verbose=0)) - x) ** 2))


def _metrics(result: dict) -> dict:
    keys = ("classifier_fid", "kid", "kid_std", "precision", "recall", "classes_covered", "class_kl",
            "nn_train_distance_median", "copy_fraction")
    return {key: float(result[key]) for key in keys if key in result}


def judge(model, data: dict, n: int) -> dict:
    """Reconstruction MSE, MMD to the prior and sample metrics of one model."""
    from course_utils.evaluation.generative import evaluate_samples
    from course_utils.evaluation.two_sample import mmd_test
    from course_utils.models.priors import GaussianPrior

    prior = getattr(model, "prior", None) or GaussianPrior(model.latent_dim)
    row = {"test_mse": reconstruction_mse(model, data["test"])}
    if model.latent_dim == 2:
        m = min(MMD_POINTS, len(data["test"]))
        codes, drawn = test_codes(model, data["test"][:m]), np.asarray(prior.sample(m, seed=1))
        row["mmd"] = mmd_test(codes, drawn, n_permutations=MMD_PERMUTATIONS, seed=0)
    samples = np.asarray(model.sample(n, seed=0))  # (n, 28, 28, 1)
    row["samples"] = _metrics(evaluate_samples(samples, data["test"][:n], train=data["all_train"]))
    return row


def prior_part(data: dict, quick: bool, n: int) -> tuple[dict, dict]:
    """Part 1: the four 2-D models; their rows and the trained models."""
    rows, models = {}, {}
    for name in ("aae_mixture", "vae_mixture", "aae_gaussian", "vae_gaussian"):
        model, record, curves = train(name, data, quick)
        rows[name] = {"training": record, "curves": curves, **judge(model, data, n)}
        models[name] = model
        mmd = rows[name]["mmd"]
        print(f"  MMD^2 {mmd['mmd2']:.5f} (p {mmd['p_value']:.3f}), FID {rows[name]['samples']['classifier_fid']:.2f}",
              flush=True)
    return rows, models


def labels_part(data: dict, quick: bool, unsupervised) -> dict:
    """Part 2: the mixture AAE with LABELLED labels in its prior (naively and with the recipe), against a probe on
    the unsupervised codes."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(SEED)
    count = min(LABELLED, len(data["train"]) // 4)
    chosen = rng.choice(len(data["train"]), count, replace=False)
    labels = np.full(len(data["train"]), -1, np.int64)
    labels[chosen] = data["train_labels"][chosen]
    probe = LogisticRegression(max_iter=2000).fit(np.asarray(unsupervised.encode(data["train"][chosen])),
                                                  data["train_labels"][chosen])
    probe_accuracy = float(probe.score(np.asarray(unsupervised.encode(data["test"])), data["test_labels"]))
    report = {"labelled": count, "unsupervised_probe_accuracy": probe_accuracy}
    for name in ("aae_labels_naive", "aae_labels"):
        model, record, curves = train(name, data, quick, labels=labels)
        report[name] = {"training": record, "curves": curves, **_labelled_scores(model, data)}
        print(f"{name}: nearest-component accuracy {report[name]['nearest_component_accuracy']:.3f} (probe on "
              f"unsupervised codes {probe_accuracy:.3f}), class agreement of samples "
              f"{report[name]['sample_class_agreement']:.3f}", flush=True)
    return report


def _labelled_scores(model, data: dict) -> dict:
    """Test accuracy of the nearest component, classifier agreement of class-conditional samples, test MSE."""
    from course_utils.evaluation.generative import default_classifier

    codes = np.asarray(model.encode(data["test"]))
    asked = np.repeat(np.arange(10), 100)
    predicted = default_classifier().predict_classes(np.asarray(model.sample(len(asked), seed=0, labels=asked)))
    return {"nearest_component_accuracy": float(np.mean(model.prior.nearest_component(codes) == data["test_labels"])),
            "sample_class_agreement": float(np.mean(predicted == asked)),
            "test_mse": reconstruction_mse(model, data["test"])}


def adversarial_part(data: dict, quick: bool, n: int) -> tuple[dict, dict]:
    """Part 3: the plain 16-D VAE and the same VAE with an adversarial loss."""
    from course_utils.evaluation.generative import evaluate_samples

    rows, models = {}, {}
    half = len(data["test"]) // 2
    for name in ("vae_16", "adversarial_vae_16"):
        model, record, curves = train(name, data, quick)
        reconstructions = np.asarray(model.predict(data["test"][half:], batch_size=500, verbose=0))
        rows[name] = {"training": record, "curves": curves, **judge(model, data, n),
                      "reconstructions": _metrics(evaluate_samples(reconstructions, data["test"][:half]))}
        models[name] = model
        print(f"  MSE {rows[name]['test_mse']:.5f}, reconstruction FID "
              f"{rows[name]['reconstructions']['classifier_fid']:.2f}, sample FID "
              f"{rows[name]['samples']['classifier_fid']:.2f}", flush=True)
    return rows, models


def register(models: dict, rows: dict, n_train: int, n_val: int) -> dict:
    """The mixture AAE and the adversarial VAE as checkpoints, float16, metric: decoded-sample FID."""
    from course_utils.models.vae import VAE
    from course_utils.pretrained import register_checkpoint

    data = ("Fashion-MNIST training split minus a 10% validation split (split_validation, seed 0): {n:,} grey training "
            "images, Bernoulli cross-entropy reconstruction loss; {what}; metric: classifier-FID of 5,000 decoded prior "
            "samples (seed 0) against the first 5,000 test images, check on 1,000 of each")
    entries = {}
    aae = models["aae_mixture"]
    entries["aae_fashion_2d"] = register_checkpoint(
        "aae_fashion_2d", aae, kind="dense_aae",
        kwargs={**TWO_D, "prior": "mixture", "n_classes": None, "discriminator_units": [256, 256], "seed": SEED},
        produced_by="python benchmarks/aae.py", data=data.format(
            n=n_train, what="an adversarial autoencoder whose 2-D codes are pushed onto a mixture of 10 Gaussians"),
        metric="decoded_sample_fid", check_subset=1000, tolerance=0.05,
        training={**rows["aae_mixture"]["training"], **_settings("aae_mixture"), "train_size": n_train,
                  "validation_size": n_val}, history=rows["aae_mixture"]["curves"], storage="float16")
    adversarial = models["adversarial_vae_16"]
    vae = VAE(adversarial.encoder, adversarial.decoder, seed=SEED, name="dense_vae")  # what lab mode loads
    entries["adversarial_vae_fashion"] = register_checkpoint(
        "adversarial_vae_fashion", vae, kind="dense_vae", kwargs={**SIXTEEN_D, "seed": SEED},
        produced_by="python benchmarks/aae.py", data=data.format(
            n=n_train, what=(f"the encoder and decoder of a VAE trained with a DCGAN discriminator (filters "
                             f"{DISCRIMINATOR_FILTERS}, spectral normalisation) on its reconstructions and samples, "
                             f"adversarial weight {ADVERSARIAL_WEIGHT:g}")),
        metric="decoded_sample_fid", check_subset=1000, tolerance=0.05,
        training={**rows["adversarial_vae_16"]["training"], **_settings("adversarial_vae_16"), "train_size": n_train,
                  "validation_size": n_val}, history=rows["adversarial_vae_16"]["curves"], storage="float16")
    from pretrained import main as write_summaries  # benchmarks/pretrained.py: a script's folder is on sys.path

    write_summaries(["--summaries-only"])  # pretrained.json and .md list every checkpoint, these two too
    return {name: {"sha256": e["sha256"], "bytes": e["bytes"], "metrics": e["metrics"]} for name, e in entries.items()}


def _settings(name: str) -> dict:
    epochs = TRAIN["epochs_16d" if name.endswith("16") else "epochs_2d"]
    return {"batch_size": TRAIN["batch_size"], "learning_rate": TRAIN["learning_rate"], "epochs": epochs,
            "time_cap_s": TRAIN["time_cap_s"], "seed": SEED}


def run(args: argparse.Namespace) -> dict:
    """All three parts, the checkpoints, and the targets of issue 16 checked against what was measured."""
    import keras
    import tensorflow as tf

    start, load_start = time.perf_counter(), os.getloadavg()
    data = load_data(args.quick)
    n = 500 if args.quick else SAMPLES
    priors, models = prior_part(data, args.quick, n)
    labels = labels_part(data, args.quick, models["aae_mixture"])
    adversarial, more = adversarial_part(data, args.quick, n)
    models.update(more)
    checkpoints = None
    if not (args.quick or args.no_checkpoint):
        checkpoints = register(models, {**priors, **adversarial}, len(data["train"]), len(data["validation"]))
    aae_mmd, vae_mmd = priors["aae_mixture"]["mmd"], priors["vae_mixture"]["mmd"]
    targets = {"aae_matches_mixture_prior_better": {"aae_mmd2": aae_mmd["mmd2"], "vae_mmd2": vae_mmd["mmd2"],
                                                    "reached": aae_mmd["mmd2"] < vae_mmd["mmd2"]}}
    return {"priors": priors, "labels": labels, "adversarial": adversarial, "checkpoints": checkpoints,
            "targets": targets, "settings": {"two_d": TWO_D, "sixteen_d": SIXTEEN_D, "train": TRAIN,
                                             "adversarial_weight": ADVERSARIAL_WEIGHT, "labelled": LABELLED,
                                             "labelled_repeats": LABELLED_REPEATS,
                                             "labelled_learning_rate": LABELLED_LEARNING_RATE,
                                             "mmd_points": MMD_POINTS, "mmd_permutations": MMD_PERMUTATIONS},
            "n_samples": n, "data": {key: len(value) for key, value in data.items()}, "quick": args.quick,
            "command": "python benchmarks/aae.py" + (" --quick" if args.quick else ""),
            "seconds": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                        "load_average_start": list(load_start), "load_average_end": list(os.getloadavg())}}


NAMES = {"aae_mixture": "AAE, mixture prior", "vae_mixture": "VAE, mixture prior (Monte Carlo KL)",
         "aae_gaussian": "AAE, N(0, I) prior", "vae_gaussian": "VAE, N(0, I) prior",
         "vae_16": "VAE, 16-D", "adversarial_vae_16": f"VAE, 16-D, + adversarial loss (weight {ADVERSARIAL_WEIGHT:g})"}


def _sample_row(name: str, row: dict) -> str:
    s, t = row["samples"], row["training"]
    return (f"| {NAMES[name]} | {row['test_mse']:.4f} | {s['classifier_fid']:.2f} | {s['kid']:.4f} | "
            f"{s['precision']:.3f} | {s['recall']:.3f} | {s['classes_covered']:.0f} | {s['class_kl']:.3f} | "
            f"{s.get('copy_fraction', float('nan')):.3f} | {t['epochs_run']} | {t['seconds']:.0f} |")


def to_markdown(report: dict) -> str:
    """A readable report of one benchmark run."""
    machine, settings, labels = report["machine"], report["settings"], report["labels"]
    load = ", ".join(f"{v:.2f}" for v in machine["load_average_start"])
    load_end = ", ".join(f"{v:.2f}" for v in machine["load_average_end"])
    n = report["n_samples"]
    header = ("| model | test MSE | classifier-FID | KID | precision | recall | classes | class KL | copies | epochs | "
              "seconds |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    mmd = ["| model | prior | MMD² to the prior | permutation p-value | bandwidth |", "|---|---|---:|---:|---:|"]
    for name, row in report["priors"].items():
        m = row["mmd"]
        prior = "mixture of 10" if "mixture" in name else "N(0, I)"
        mmd.append(f"| {NAMES[name]} | {prior} | {m['mmd2']:.5f} | {m['p_value']:.3f} | {m['bandwidth']:.2f} |")
    adversarial = ["| model | test MSE | reconstruction FID | sample FID | sample precision | sample recall |",
                   "|---|---:|---:|---:|---:|---:|"]
    for name, row in report["adversarial"].items():
        adversarial.append(f"| {NAMES[name]} | {row['test_mse']:.4f} | {row['reconstructions']['classifier_fid']:.2f} | "
                           f"{row['samples']['classifier_fid']:.2f} | {row['samples']['precision']:.3f} | "
                           f"{row['samples']['recall']:.3f} |")
    target = report["targets"]["aae_matches_mixture_prior_better"]
    checkpoints = report["checkpoints"] or {}
    quick = ["**A --quick smoke run: not a measurement.**", ""] if report["quick"] else []
    t = settings["train"]
    return "\n".join([
        "# Chapter 09 benchmark: adversarial autoencoders, labels in the prior, and a VAE with an adversarial loss",
        "", *quick,
        (f"Run {report['date']} with `{report['command']}` on {machine['cpus']} CPUs, TensorFlow "
         f"{machine['tensorflow']}, Keras {machine['keras']}; {report['seconds'] / 60:.1f} min in all; load average "
         f"(1/5/15 min) {load} at the start and {load_end} at the end (2 cores: above 2, other work shared the CPU)."),
        "",
        (f"Training: {report['data']['train']:,} grey Fashion-MNIST images, Bernoulli cross-entropy reconstruction "
         f"loss, Adam({t['learning_rate']:g}) for the reconstruction/ELBO step (the adversarial steps: Adam(2e-4, "
         f"beta_1=0.5)), batch {t['batch_size']}, seed {SEED}; {t['epochs_2d']} epochs for the 2-D models and "
         f"{t['epochs_16d']} for the 16-D ones, at most {t['time_cap_s']} s each. 2-D models: dense "
         f"{settings['two_d']['hidden_units']} with batch norm; the AAE's discriminator on codes: 256-256 LeakyReLU."),
        "",
        "## Prior imposition: how closely the test codes match the prior", "",
        (f"MMD² (Gaussian kernel, median-heuristic bandwidth, unbiased) between {settings['mmd_points']:,} test codes "
         f"and as many prior samples; the p-value from {settings['mmd_permutations']} permutations (its floor is "
         f"1/{settings['mmd_permutations'] + 1}: no shuffling matched the real split). A VAE's codes are drawn from "
         "q(z|x), so they sample its aggregate posterior, the distribution a decoder meets at generation."), "",
        *mmd, "",
        (f"- Target: the AAE's aggregate code matches the mixture prior more closely than the VAE's (lower MMD²): "
         f"{target['aae_mmd2']:.5f} against {target['vae_mmd2']:.5f}, "
         f"{'reached' if target['reached'] else '**missed**'}."), "",
        "## Reconstructions and decoded prior samples", "",
        (f"Test MSE of reconstructions on the 10,000 test images; {n:,} decoded prior samples against the first "
         f"{n:,} test images in the course classifier's features (settings of `benchmarks/generative_reference.py`); "
         "copies: share of the first 1,000 samples closer to a training image than 99 % of test images are."), "",
        header, *[_sample_row(name, row) for name, row in report["priors"].items()],
        *[_sample_row(name, row) for name, row in report["adversarial"].items()], "",
        "## Labels in the prior", "",
        (f"The mixture AAE with {labels['labelled']:,} labelled training images (seeded choice; the rest unlabelled) "
         "pulled onto their class's component. 'Naive': the labelled images seen once per epoch, the regularisation "
         f"phases at Adam(2e-4, beta_1=0.5). 'Recipe': the labelled images repeated {settings['labelled_repeats']} "
         f"times per epoch, the regularisation phases at Adam({settings['labelled_learning_rate']:g}, beta_1=0.5). "
         "Accuracy: the nearest component of each test image's code against its label; agreement: the classifier's "
         "class for 100 decoded samples of each class's component against that class. The probe: a logistic "
         f"regression fitted on the unsupervised mixture AAE's codes of the same {labels['labelled']:,} images."), "",
        "| model | test accuracy | sample class agreement | test MSE | epochs | seconds |", "|---|---:|---:|---:|---:|---:|",
        *[f"| labelled AAE, {tag} | {labels[key]['nearest_component_accuracy']:.3f} | "
          f"{labels[key]['sample_class_agreement']:.3f} | {labels[key]['test_mse']:.4f} | "
          f"{labels[key]['training']['epochs_run']} | {labels[key]['training']['seconds']:.0f} |"
          for tag, key in (("naive", "aae_labels_naive"), ("recipe", "aae_labels"))],
        f"| probe on the unsupervised AAE's codes | {labels['unsupervised_probe_accuracy']:.3f} | — | — | — | — |", "",
        "## Autoencoders meeting GANs: the VAE with an adversarial loss", "",
        ("Reconstruction FID: reconstructions of test images 5,000-9,999 against test images 0-4,999 (how much "
         "the reconstructions look like real images), beside the test MSE (how close they are to their own "
         "input)."), "",
        *adversarial, "",
        "## Checkpoints", "",
        *[f"- `{name}`: {c['bytes'] / 1e6:.2f} MB, classifier-FID of 5,000 decoded samples "
          f"{c['metrics']['decoded_sample_fid']:.2f}" for name, c in checkpoints.items()],
        *([] if checkpoints else ["- none registered in this run"]), ""])


def main(argv=None) -> dict:
    """Run the benchmark and write aae.json and aae.md into ``--out``."""
    args = parse_args(argv)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "aae.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / "aae.md").write_text(to_markdown(report), encoding="utf-8")
    print(to_markdown(report))
    return report


if __name__ == "__main__":
    main()
