"""Train every pretrained checkpoint of the course and register it in course_utils/weights/registry.json.

Each checkpoint trains with fixed, seeded settings (seed 42, an epoch cap and a wall-clock cap; on a busy
machine the wall-clock cap ends training first, and the registry records the epochs run, the seconds
and the load average), on the training split minus a seeded validation split
(``split_validation``, 10 %, seed 0) whose loss is recorded per epoch (the medical denoisers draw their
validation phantoms or patches from a seed of their own); the test split (or the held-out photographs,
the Shepp-Logan phantom, the microscopy test image) is read once, after training, by
``register_checkpoint``. The VAEs (chapter 06) see their training images binarised afresh on every batch
(``binarised_dataset``) and one fixed binarisation of their validation images. Writes the ``.weights.h5``
files, updates the registry and ``benchmarks/results/pretrained.{json,md}``. Rerunning replaces the
checkpoints it trains (new SHA-256s: the commit records which run shipped). A checkpoint whose settings say
``storage="float16"`` is stored with float16 weights (half the bytes) and measured as stored.

``--compact NAME`` rewrites an already registered float32 checkpoint in float16 without retraining
(``compact_checkpoint``): it re-measures the metric on the whole test split and the check, and the registry
entry keeps the float32 file's SHA-256, date and metrics under ``compacted``. The new file replaces the old
one only after it has been measured.

    .venv/bin/python benchmarks/pretrained.py      # all: about 64 minutes on an idle 2-core CPU, 80 at most
    .venv/bin/python benchmarks/pretrained.py --only fashion_classifier
    .venv/bin/python benchmarks/pretrained.py --compact dense_ae_32      # float32 -> float16, about 1 minute
    .venv/bin/python benchmarks/pretrained.py --quick --weights-dir /tmp/w   # smoke test, not a checkpoint
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
SEED = 42
AE_DATA = ("Fashion-MNIST training split minus a 10% validation split (split_validation, seed 0): {train:,} training "
           "and {val:,} validation images; metric on the whole test split (10,000), check on its seeded subset of "
           "{subset} (take_subset, seed 0)")
DAE_DATA = ("Fashion-MNIST training split minus a 10% validation split (split_validation, seed 0): {train:,} training "
            "images, noised afresh on every batch by the model's Corruption layer, and {val:,} validation images noised "
            "once (Gaussian sigma {sigma}, clipped, seed 0); metric: mean PSNR over the whole test split (10,000) noised "
            "once (seed 0), check on its seeded subset of {subset} (take_subset, seed 0)")
SR_DATA = ("{patches} grayscale patches ({side} px high-res side) from course_utils.data.TRAIN_PHOTOS "
           "(sr_patch_dataset, seed 42) minus a 10% validation split (seed 0); metric: mean PSNR on the held-out "
           "photographs {photos} (border of `scale` px ignored), check on the first {subset}")

CT_DATA = ("{train:,} random-ellipse phantoms (ct_pairs, seed {train_seed}) scanned at {photons:g} photons per detector bin, "
           "{n_angles} angles, {size} px, and reconstructed by FBP, and {val} validation phantoms (seed {val_seed}); metric: "
           "PSNR on the held-out Shepp-Logan phantom's low-dose FBP (shepp_logan_pair, one fixed scan, seed {test_seed})")
MICRO_DATA = ("{train:,} grayscale {side} px patches of {names} (microscopy_pairs, seed {train_seed}) under Poisson-Gaussian "
              "noise (peak {peak:g}, sigma {sigma:g}) and {val} other patches for validation (seed {val_seed}); metric: "
              "PSNR on the whole, never seen {test} image, one noise draw (microscopy_test_pair, seed {test_seed})")
VAE_DATA = ("Fashion-MNIST training split minus a 10% validation split (split_validation, seed 0): {train:,} training "
            "images binarised afresh on every batch (binarised_dataset, seed 42) and {val:,} validation images binarised "
            "once (seed {val_seed}); metric: IWAE bound (k = {k}) on -log p(x) in nats over the whole test split "
            "binarised once (binarise, seed {test_seed}), check on its seeded subset of {subset} (take_subset, seed 0)")
VAE_VALIDATION_SEED = 1
RESIDUAL_UNET = dict(channels=1, filters=[16, 32, 64, 96], convs_per_level=2, kernel_size=3)


def _sr(design: str, scale: int, epochs: int, patches: int, cap: float) -> dict:
    return dict(kind="super_resolution", kwargs=dict(design=design, scale=scale, filters=32, depth=4),
                train=dict(epochs=epochs, batch_size=32, learning_rate=1e-3, time_cap_s=cap, patches=patches,
                           low_res_size=24),
                metric="held_out_psnr", subset=1, tolerance=0.01, storage="float16")


CHECKPOINTS = {
    # name: architecture (kind, kwargs), training settings, recorded metric, check subset and its tolerance.
    # Tolerances allow for float32 round-off across CPUs and BLAS builds: 1e-5 MSE (0.15 %), 2 images in 1,000, 0.01 dB.
    "fashion_classifier": dict(kind="fashion_classifier", kwargs=dict(filters=[32, 64, 128], feature_dim=128),
                               train=dict(epochs=12, batch_size=128, learning_rate=2e-3, time_cap_s=840),
                               metric="test_accuracy", subset=1000, tolerance=0.002),
    # Stored in float16 (2.2 MB instead of 4.4, for the weights budget): its test MSE moved by 8e-8 (0.0077302 -> 0.0077303).
    "dense_ae_32": dict(kind="dense_autoencoder", kwargs=dict(latent_dim=32, hidden_units=[512, 256], batch_norm=True),
                        train=dict(epochs=25, batch_size=256, learning_rate=2e-3, time_cap_s=300),
                        metric="test_mse", subset=1000, tolerance=1e-5, storage="float16"),
    "conv_ae_32": dict(kind="conv_autoencoder", kwargs=dict(latent_dim=32, filters=[32, 64, 128]),
                       train=dict(epochs=16, batch_size=128, learning_rate=2e-3, time_cap_s=720),
                       metric="test_mse", subset=1000, tolerance=1e-5),
    # The denoising benchmark's design and training settings (benchmarks/denoising.py). Stored in float16 (4.85 MB,
    # half its float32 size, for the weights budget); its metric is measured with the stored float16 weights.
    "conv_dae_gaussian_03": dict(kind="conv_denoiser",
                                 kwargs=dict(filters=[32, 64, 128, 256], convs_per_stage=2, kernel_size=3,
                                             batch_norm=True, skips=True, level=0.3, seed=SEED),
                                 train=dict(epochs=40, batch_size=32, learning_rate=4e-3, time_cap_s=600,
                                            precision="mixed_bfloat16"),
                                 metric="test_denoised_psnr", subset=1000, tolerance=0.01, storage="float16"),
    **{f"sr_{design}_x2": _sr(design, 2, epochs=3, patches=20000, cap=150) for design in ("transposed", "resize", "subpixel")},
    **{f"sr_{design}_x4": _sr(design, 4, epochs=2, patches=10000, cap=120) for design in ("transposed", "resize", "subpixel")},
    # The medical-images benchmark's design and training settings (benchmarks/medical.py). The super-resolution and
    # medical checkpoints are stored in float16 (--compact), which made room for chapter 04's four-stage denoiser.
    "ct_denoiser": dict(kind="residual_unet", kwargs=RESIDUAL_UNET,
                        train=dict(epochs=100, batch_size=16, learning_rate=3e-3, time_cap_s=600, phantoms=1500,
                                   val_phantoms=64),
                        metric="shepp_logan_psnr", subset=1, tolerance=0.01, storage="float16"),
    "micro_denoiser": dict(kind="residual_unet", kwargs=RESIDUAL_UNET,
                           train=dict(epochs=100, batch_size=16, learning_rate=3e-3, time_cap_s=300, patches=4000,
                                      val_patches=300, patch_size=64),
                           metric="microscopy_psnr", subset=1, tolerance=0.01, storage="float16"),
    # The VAE benchmark's design and training settings (benchmarks/vae.py reads them from here): binarised images.
    # Tolerance 0.01 nats of a mean IWAE bound near 230 nats (4e-5 relative) allows for float32 round-off.
    "vae_fashion_16": dict(kind="dense_vae",
                           kwargs=dict(latent_dim=16, hidden_units=[512, 256], batch_norm=True, seed=SEED),
                           train=dict(epochs=100, batch_size=256, learning_rate=5e-3, time_cap_s=600,
                                      kl_warmup_steps=3000),
                           metric="test_iwae100_nll", subset=200, tolerance=0.01),
    # A 2-D code for chapter 06's latent map and manifold grid in lab mode.
    "vae_fashion_2d": dict(kind="dense_vae",
                           kwargs=dict(latent_dim=2, hidden_units=[256, 128], batch_norm=True, seed=SEED),
                           train=dict(epochs=30, batch_size=256, learning_rate=5e-3, time_cap_s=240,
                                      kl_warmup_steps=1000),
                           metric="test_iwae100_nll", subset=200, tolerance=0.01),
    # Chapter 07's lab codecs: Balle's convolutional layout, small enough that four fit the weights budget
    # (benchmarks/compression.py's larger PCA-started dense codec gives the chapter's reference curve).
    # Tolerance 1e-4 of bpp + lambda * MSE: the bytes are integers, the decoded pixels float32.
    **{f"codec_conv_{tag}": dict(kind="conv_codec",
                                  kwargs=dict(latent_channels=16, filters=32, lmbda=lmbda, seed=SEED),
                                  train=dict(epochs=20, batch_size=64, learning_rate=2e-3, time_cap_s=150),
                                  metric="test_codec_rd_loss", subset=200, tolerance=1e-4)
       for tag, lmbda in ((1, 0.0006), (2, 0.002), (3, 0.006), (4, 0.02))},
}


def medical_data(config: dict, quick: bool):
    """((x_train, y_train), (x_val, y_val)) and their description for the CT or the microscopy denoiser (chapter 05)."""
    from course_utils.data import tomography

    train = config["train"]
    if config["metric"] == "shepp_logan_psnr":
        seeds, (n_train, n_val) = tomography.CT_SEEDS, ((64, 8) if quick else (train["phantoms"], train["val_phantoms"]))
        data = (tomography.ct_pairs(n_train, seed=seeds["train"]), tomography.ct_pairs(n_val, seed=seeds["validation"]))
        return data, CT_DATA.format(train=n_train, val=n_val, train_seed=seeds["train"], val_seed=seeds["validation"],
                                    test_seed=seeds["shepp_logan"], photons=tomography.PHOTONS,
                                    n_angles=tomography.N_ANGLES, size=tomography.SIZE)
    seeds, (n_train, n_val) = tomography.MICROSCOPY_SEEDS, ((256, 32) if quick else (train["patches"], train["val_patches"]))
    names, side = tomography.MICROSCOPY_TRAIN, train["patch_size"]
    data = (tomography.microscopy_pairs(names, side, n_train, seed=seeds["train"]),
            tomography.microscopy_pairs(names, side, n_val, seed=seeds["validation"]))
    return data, MICRO_DATA.format(train=n_train, val=n_val, side=side, names=" and ".join(names),
                                   train_seed=seeds["train"], val_seed=seeds["validation"], test_seed=seeds["test"],
                                   test=tomography.MICROSCOPY_TEST, **tomography.MICROSCOPY_NOISE)


def training_data(name: str, config: dict, quick: bool):
    """((x_train, y_train), (x_val, y_val)) for a checkpoint, and the text describing the data."""
    from course_utils.data import HELD_OUT_PHOTOS, load_fashion_mnist, split_validation, sr_patch_dataset, take_subset
    from course_utils.pretrained import IWAE_SAMPLES, TEST_BINARISATION_SEED, VAE_KINDS

    train = config["train"]
    if config["kind"] == "residual_unet":
        return medical_data(config, quick)
    if config["kind"] == "super_resolution":
        scale, patches = config["kwargs"]["scale"], (500 if quick else train["patches"])
        low_res, high_res = sr_patch_dataset(scale, patches, low_res_size=train["low_res_size"], seed=SEED)
        text = SR_DATA.format(patches=patches, side=train["low_res_size"] * scale, photos=", ".join(HELD_OUT_PHOTOS),
                              subset=config["subset"])
        return split_validation([low_res, high_res], 0.1, seed=0), text
    (x_train, y_train), _ = load_fashion_mnist()
    if quick:
        x_train, y_train = take_subset([x_train, y_train], 3000)
    (x_fit, y_fit), (x_val, y_val) = split_validation([x_train, y_train], 0.1, seed=0)
    if config["kind"] != "fashion_classifier":  # autoencoders reconstruct their input
        y_fit, y_val = x_fit, x_val
    if config["kind"] in VAE_KINDS:  # a Bernoulli VAE models binary images: one fixed binarisation to validate on
        from course_utils.evaluation.likelihood import binarise

        x_val = y_val = binarise(x_val, seed=VAE_VALIDATION_SEED)
        text = VAE_DATA.format(train=len(x_fit), val=len(x_val), val_seed=VAE_VALIDATION_SEED, k=IWAE_SAMPLES,
                               test_seed=TEST_BINARISATION_SEED, subset=config["subset"])
        return ((x_fit, y_fit), (x_val, y_val)), text
    if config["kind"] == "conv_denoiser":  # a denoiser is validated on noisy inputs: one seeded draw
        from course_utils.data.corruption import corrupt

        sigma = config["kwargs"]["level"]
        text = DAE_DATA.format(train=len(x_fit), val=len(x_val), sigma=sigma, subset=config["subset"])
        return ((x_fit, y_fit), (corrupt(x_val, "gaussian", sigma, rng=0), y_val)), text
    return ((x_fit, y_fit), (x_val, y_val)), AE_DATA.format(train=len(x_fit), val=len(x_val), subset=config["subset"])


def train_one(name: str, config: dict, quick: bool, weights_dir: Path) -> dict:
    """Train, measure and register one checkpoint; returns its registry entry."""
    from course_utils.data import binarised_dataset, make_dataset
    from course_utils.models import BetaWarmup
    from course_utils.pretrained import VAE_KINDS, build_model, compile_for, register_checkpoint
    from course_utils.reproducibility import set_seed
    from course_utils.training import CosineByProgress, dtype_policy, fit_with_budget

    train = dict(config["train"], **(dict(epochs=1, time_cap_s=60) if quick else {}))
    ((x_fit, y_fit), (x_val, y_val)), data_text = training_data(name, config, quick)
    set_seed(SEED)
    precision = train.get("precision", "float32")  # the dtype policy of training; registered in float32
    with dtype_policy(precision):
        model = build_model(config)
    compile_for(model, config["kind"], train["learning_rate"])
    load_before = os.getloadavg()[0]
    callbacks = [CosineByProgress(train["learning_rate"], train["time_cap_s"])]
    if config["kind"] in VAE_KINDS:  # fresh binary images every batch; validation in a few large batches
        data = binarised_dataset(x_fit, batch_size=train["batch_size"], seed=SEED)
        validation = make_dataset(x_val, batch_size=1000, shuffle=False)
        callbacks.append(BetaWarmup(1.0, train["kl_warmup_steps"]))  # KL annealing: beta from 0 to 1
    else:
        data, validation = make_dataset(x_fit, y_fit, batch_size=train["batch_size"], seed=SEED), (x_val, y_val)
    result = fit_with_budget(model, data, epochs=train["epochs"], time_budget_s=train["time_cap_s"],
                             validation_data=validation, callbacks=callbacks)
    training = dict(train, seconds=result.seconds, epochs_run=result.epochs_run, steps=result.steps,
                    stopped_by_time_cap=result.stopped_by_budget, train_size=len(x_fit), validation_size=len(x_val),
                    seed=SEED, load_average_1min_before=load_before, load_average_1min_after=os.getloadavg()[0])
    history = {key: values for key, values in result.history.items() if key != "learning_rate"}
    if precision != "float32":  # learners load it into a float32 model: register and measure that one
        trained, model = model, build_model(config)
        model.set_weights(trained.get_weights())
    command = f"python benchmarks/pretrained.py --only {name}" + (" --quick" if quick else "")
    return register_checkpoint(name, model, kind=config["kind"], kwargs=config["kwargs"], produced_by=command,
                               data=data_text, metric=config["metric"], check_subset=config["subset"],
                               tolerance=config["tolerance"], training=training, history=history,
                               storage=config.get("storage", "float32"), weights_dir=weights_dir)


def _stopped_by_cap(training: dict) -> str:
    """Whether the wall-clock cap ended training, in the table's words ("n/a" when the producer did not record it)."""
    stopped = training.get("stopped_by_time_cap")
    return "n/a" if stopped is None else ("yes" if stopped else "no")


def _storage_cell(entry: dict) -> str:
    """The storage of a checkpoint, and its metric before compaction if it was compacted."""
    from course_utils.pretrained import storage_of

    compacted = entry.get("compacted")
    if not compacted:
        return storage_of(entry)
    before = ", ".join(f"{value:.5g}" for value in compacted["metrics"].values())
    return f"{storage_of(entry)} (compacted; float32: {compacted['bytes'] / 1e6:.2f} MB, {before})"


def to_markdown(entries: dict) -> str:
    """A table of every registered checkpoint: size, storage, training time, epochs and recorded metric."""
    lines = ["# Pretrained checkpoints (course_utils/weights)", "",
             ("| checkpoint | kind | size (MB) | storage | train s | epochs | stopped by cap | load (1 min) before/after "
              "| metric | value | created |"),
             "|---|---|---:|---|---:|---:|:-:|---:|---|---:|---|"]
    for name, entry in entries.items():
        training = entry["training"]
        ((metric, value),) = entry["metrics"].items()
        lines.append(f"| {name} | {entry['model']['kind']} | {entry['bytes'] / 1e6:.2f} | {_storage_cell(entry)} | "
                     f"{training['seconds']:.0f} | {training['epochs_run']} | {_stopped_by_cap(training)} | "
                     f"{training['load_average_1min_before']:.1f} / {training['load_average_1min_after']:.1f} | {metric} | "
                     f"{value:.5g} | {entry['created']} |")
    total = sum(entry["bytes"] for entry in entries.values())
    lines += ["", f"Total {total / 1e6:.2f} MB in {len(entries)} files (the course's limit is 25 MB).", "",
              ("Produced by `python benchmarks/pretrained.py` (one checkpoint: `--only NAME`; a registered float32 "
               "checkpoint rewritten in float16 and re-measured: `--compact NAME`), dcgan_fashion by "
               "`python benchmarks/gan.py`; never edited by hand. A compacted checkpoint keeps its training record and "
               "date; its metric is re-measured with the float16 weights. On a shared 2-core machine a load above 2 "
               "slows training, so fewer epochs fit under the time cap.")]
    return "\n".join(lines) + "\n"


def to_report(entries: dict) -> dict:
    """The JSON summary of every registered checkpoint (no history) and of the machine."""
    import keras
    import tensorflow as tf

    from course_utils.pretrained import storage_of

    keys = ("file", "bytes", "sha256", "metrics", "check", "training", "created", "compacted")
    return {"checkpoints": {name: {"storage": storage_of(entry), **{key: entry[key] for key in keys if key in entry}}
                            for name, entry in entries.items()},
            "total_bytes": sum(entry["bytes"] for entry in entries.values()),
            "machine": {"python": platform.python_version(), "tensorflow": tf.__version__, "keras": keras.__version__,
                        "cpu_count": os.cpu_count(), "platform": platform.platform()}}


def compact(names: list[str], weights_dir: Path) -> None:
    """Rewrite each named float32 checkpoint in float16, re-measured (``compact_checkpoint``), and print the change."""
    from course_utils.pretrained import compact_checkpoint

    for name in names:
        start = time.perf_counter()
        entry = compact_checkpoint(name, weights_dir)
        before = entry["compacted"]
        ((metric, value),) = entry["metrics"].items()
        print(f"{name}: float32 -> float16, {before['bytes'] / 1e6:.2f} -> {entry['bytes'] / 1e6:.2f} MB; {metric} "
              f"{before['metrics'][metric]:.6g} -> {value:.6g}, check {before['check_value']:.6g} -> "
              f"{entry['check']['value']:.6g} in {time.perf_counter() - start:.0f} s", flush=True)


def main(argv=None) -> dict:
    """Train the chosen checkpoints (or compact registered ones to float16), register them and write the summaries."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(CHECKPOINTS), action="append", help="train this checkpoint (repeatable)")
    parser.add_argument("--compact", nargs="+", action="extend", metavar="NAME",
                        help="rewrite these registered float32 checkpoints in float16 and re-measure them (no training; "
                             "repeatable)")
    parser.add_argument("--quick", action="store_true", help="tiny data and one epoch: a smoke test, not a checkpoint")
    parser.add_argument("--summaries-only", action="store_true",
                        help="train nothing: rewrite pretrained.json and pretrained.md from the registry (benchmarks/gan.py "
                             "does this after registering dcgan_fashion)")
    parser.add_argument("--weights-dir", type=Path, default=None, help="default: course_utils/weights")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.compact and (args.only or args.quick):
        parser.error("--compact rewrites registered checkpoints without training: do not combine it with --only or --quick")
    if args.summaries_only and (args.only or args.quick or args.compact):
        parser.error("--summaries-only trains nothing: do not combine it with --only, --quick or --compact")

    from course_utils.pretrained import WEIGHTS_DIR, read_registry

    weights_dir = args.weights_dir or WEIGHTS_DIR
    if args.quick and weights_dir == WEIGHTS_DIR:
        parser.error("--quick writes smoke-test weights: give --weights-dir outside course_utils/weights")
    if args.compact:
        compact(args.compact, weights_dir)
    for name in [] if args.compact or args.summaries_only else args.only or CHECKPOINTS:
        start = time.perf_counter()
        entry = train_one(name, CHECKPOINTS[name], args.quick, weights_dir)
        print(f"{name}: {entry['metrics']} check {entry['check']['value']:.6g} in "
              f"{time.perf_counter() - start:.0f} s ({entry['bytes'] / 1e6:.2f} MB)", flush=True)
    entries = read_registry(weights_dir)
    report = to_report(entries)
    if not args.quick:
        args.results.mkdir(parents=True, exist_ok=True)
        (args.results / "pretrained.json").write_text(json.dumps(report, indent=2) + "\n")
        (args.results / "pretrained.md").write_text(to_markdown(entries))
    return report


if __name__ == "__main__":
    main()
