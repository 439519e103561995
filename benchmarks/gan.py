"""Benchmark for chapter 08: a DCGAN on Fashion-MNIST against the chapter 06 VAE, its recipe measured, and toy GANs.

Three parts, one seed each unless said otherwise, all metrics from ``course_utils.evaluation.generative`` (the
same code that judges the VAE in ``benchmarks/vae.py`` and the reference points):

1. The DCGAN (``DESIGN``, ``TRAIN``): trained on the Fashion-MNIST training split minus the checkpoints' validation
   split (``split_validation``, 10 %, seed 0) for ``BUDGET_S`` seconds of wall clock on this CPU (per-epoch
   monitoring included). After each epoch: the losses and the classifier-FID of 1,000 samples against 1,000
   validation images. At the end: 5,000 samples of the weight-averaged generator and of the raw one against the
   first 5,000 test images (the settings of ``benchmarks/generative_reference.py``), beside the VAE's row of
   ``benchmarks/results/vae.json``; the averaged generator becomes the ``dcgan_fashion`` checkpoint.
2. The recipe, measured: the same model for ``ABLATION_S`` seconds each with one choice changed (Adam's beta_1,
   batch normalisation in the generator, the saturating generator loss, the hinge loss with spectral
   normalisation), scored by the FID of 2,000 samples against 2,000 validation images.
3. Toy GANs on a ring of 8 Gaussians (``TOY``): modes covered and high-quality samples (``mode_coverage``) of
   the plain GAN and of each fix, ``TOY_SEEDS`` seeds each, the same number of generator steps.

    nice -n 5 .venv/bin/python benchmarks/gan.py                          # about 35 min on 2 cores
    .venv/bin/python benchmarks/gan.py --quick --out /tmp/gan            # a smoke test (about 1 min)
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
CHECKPOINT = "dcgan_fashion"
DESIGN = {"latent_dim": 64, "filters": 32}
TRAIN = {"loss": "non_saturating", "batch_size": 64, "d_learning_rate": 2e-4, "g_learning_rate": 2e-4,
         "beta_1": 0.5, "ema_decay": 0.999, "batch_norm": True, "spectral_norm": False}
BUDGET_S = 15 * 60  # issue 15: within 15 minutes of training on this 2-core CPU
ABLATION_S = 150
ABLATIONS = {
    "recipe (as the main run)": {},
    "Adam beta_1 = 0.9 (Keras' default)": {"beta_1": 0.9},
    "no batch normalisation in the generator": {"batch_norm": False},
    "saturating generator loss": {"loss": "saturating"},
    "hinge loss, spectral normalisation in D": {"loss": "hinge", "spectral_norm": True},
}
FID_TARGET_RATIO = 0.5  # issue 15: the DCGAN's classifier-FID at most half the chapter 06 VAE's
TOY = {"n_modes": 8, "radius": 2.0, "std": 0.02, "n": 51_200, "batch_size": 256, "epochs": 10, "latent_dim": 2,
       "learning_rate": 1e-3, "samples": 2500}
TOY_VARIANTS = {
    "plain GAN (non-saturating)": {},
    "hinge loss": {"loss": "hinge"},
    "WGAN-GP (5 critic steps, penalty 0.1)": {"loss": "wasserstein", "gradient_penalty": 0.1, "discriminator_steps": 5},
    "packing, 4 samples per judgement (PacGAN)": {"pack": 4},
    "weight average of the generator (decay 0.99)": {"ema_decay": 0.99},
}
TOY_FIX = "weight average of the generator (decay 0.99)"
TOY_SEEDS = (0, 1, 2, 3, 4)
TOY_TARGET = 4  # issue 15: the fix covers every mode in at least 4 of 5 seeds


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=BUDGET_S, help="wall-clock budget of the main DCGAN")
    parser.add_argument("--ablation-seconds", type=float, default=ABLATION_S)
    parser.add_argument("--quick", action="store_true", help="small data, seconds of training: a smoke test")
    parser.add_argument("--no-checkpoint", action="store_true", help="do not register the dcgan_fashion checkpoint")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick and args.out == RESULTS:
        parser.error("--quick is a smoke test: give --out outside benchmarks/results")
    return args


def load_data(quick: bool) -> dict[str, np.ndarray]:
    """Training images minus the validation split, validation images, test images (all in [0, 1])."""
    from course_utils.data import load_fashion_mnist, split_validation

    (x_train, _), (x_test, _) = load_fashion_mnist()
    (x_fit,), (x_val,) = split_validation([x_train], fraction=0.1, seed=0)
    if quick:
        return {"train": x_fit[:2048], "validation": x_val[:500], "test": x_test[:500], "all_train": x_train[:5000]}
    return {"train": x_fit, "validation": x_val, "test": x_test, "all_train": x_train}


def build_gan(settings: dict, seed: int = SEED):
    """The DCGAN of ``DESIGN`` with ``settings`` (TRAIN and any changes), compiled with its two Adams."""
    import keras

    from course_utils.models.gan import GAN, dcgan_discriminator, dcgan_generator

    keras.utils.set_random_seed(seed)
    generator = dcgan_generator(DESIGN["latent_dim"], filters=DESIGN["filters"], batch_norm=settings["batch_norm"],
                                seed=seed)
    discriminator = dcgan_discriminator(filters=DESIGN["filters"], spectral_norm=settings["spectral_norm"],
                                        seed=seed + 1)
    gan = GAN(generator, discriminator, loss=settings["loss"], ema_decay=settings["ema_decay"], seed=seed)
    gan.compile(d_optimizer=keras.optimizers.Adam(settings["d_learning_rate"], beta_1=settings["beta_1"]),
                g_optimizer=keras.optimizers.Adam(settings["g_learning_rate"], beta_1=settings["beta_1"]))
    return gan


def samples_of(network, n: int, seed: int) -> np.ndarray:
    """n samples of a generator network from seeded noise: (n, 28, 28, 1) in [0, 1]."""
    z = np.random.default_rng(seed).standard_normal((n, int(network.input_shape[-1]))).astype(np.float32)
    return np.asarray(network.predict(z, batch_size=500, verbose=0))


def make_monitor(validation: np.ndarray, n: int):
    """A callback that records the classifier-FID of n averaged-generator samples after every epoch."""
    import keras

    from course_utils.evaluation.generative import classifier_fid

    class FidMonitor(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.fids: list[float] = []
            self.seconds: list[float] = []
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.fids.append(classifier_fid(samples_of(self.model.sampler, n, seed=1), validation[:n]))
            self.seconds.append(time.perf_counter() - self.start)

    return FidMonitor()


def train(settings: dict, data: dict, seconds: float, monitor_n: int | None) -> tuple:
    """Train one DCGAN for ``seconds`` of wall clock; its GAN, history, per-epoch FIDs and a training record."""
    from course_utils.training.callbacks import TimeBudget

    gan = build_gan(settings)
    monitor = make_monitor(data["validation"], monitor_n) if monitor_n else None
    callbacks = [TimeBudget(seconds)] + ([monitor] if monitor else [])
    load_before, start = os.getloadavg()[0], time.perf_counter()
    history = gan.fit(data["train"], batch_size=settings["batch_size"], epochs=10_000, verbose=0,
                      callbacks=callbacks, shuffle=True)
    elapsed = time.perf_counter() - start
    epochs = len(history.history["d_loss"])
    record = {"seconds": elapsed, "epochs_run": epochs, "steps": int(gan.g_optimizer.iterations),
              "load_average_1min_before": load_before, "load_average_1min_after": os.getloadavg()[0]}
    curves = {key: [float(v) for v in values] for key, values in history.history.items()}
    if monitor:
        curves.update(validation_fid_1000=monitor.fids, seconds=monitor.seconds)
    return gan, curves, record


def _metrics(result: dict) -> dict:
    keys = ("classifier_fid", "kid", "kid_std", "precision", "recall", "classes_covered", "class_kl",
            "nn_train_distance_median", "copy_fraction")
    return {key: result[key] for key in keys if key in result}


def main_run(args: argparse.Namespace, data: dict) -> dict:
    """The DCGAN within the budget, evaluated on 5,000 test images; registers its averaged generator."""
    from course_utils.evaluation.generative import evaluate_samples

    gan, curves, record = train(TRAIN, data, args.seconds, monitor_n=200 if args.quick else 1000)
    n = 500 if args.quick else 5000
    averaged = evaluate_samples(samples_of(gan.sampler, n, seed=0), data["test"][:n], train=data["all_train"])
    raw = evaluate_samples(samples_of(gan.generator, n, seed=0), data["test"][:n])
    entry = None
    if not (args.quick or args.no_checkpoint):
        entry = register(gan, record, curves, len(data["train"]), len(data["validation"]))
    return {"training": record, "curves": curves, "averaged_generator": _metrics(averaged),
            "raw_generator": _metrics(raw), "n_samples": n, "checkpoint": entry and {
                "name": CHECKPOINT, "sha256": entry["sha256"], "bytes": entry["bytes"], "metrics": entry["metrics"]},
            "_gan": gan}


def register(gan, record: dict, curves: dict, n_train: int, n_val: int) -> dict:
    """Register the averaged generator as the ``dcgan_fashion`` checkpoint (its classifier-FID as the metric)."""
    from course_utils.pretrained import register_checkpoint

    kwargs = {"latent_dim": DESIGN["latent_dim"], "filters": DESIGN["filters"], "batch_norm": TRAIN["batch_norm"],
              "seed": SEED}
    data = (f"Fashion-MNIST training split minus a 10% validation split (split_validation, seed 0): {n_train:,} "
            f"training images; the weight average (decay {TRAIN['ema_decay']}) of a DCGAN generator trained against "
            f"`dcgan_discriminator(filters={DESIGN['filters']})`; metric: classifier-FID of 5,000 samples (z seeded 0) "
            "against the first 5,000 test images, check on 1,000 of each")
    training = {**record, "loss": TRAIN["loss"], "batch_size": TRAIN["batch_size"],
                "d_learning_rate": TRAIN["d_learning_rate"], "g_learning_rate": TRAIN["g_learning_rate"],
                "beta_1": TRAIN["beta_1"], "ema_decay": TRAIN["ema_decay"], "time_cap_s": BUDGET_S,
                "train_size": n_train, "validation_size": n_val, "seed": SEED}
    history = {key: curves[key] for key in ("d_loss", "g_loss", "validation_fid_1000") if key in curves}
    entry = register_checkpoint(CHECKPOINT, gan.sampler, kind="dcgan_generator", kwargs=kwargs,
                                produced_by="python benchmarks/gan.py", data=data, metric="sample_fid",
                                check_subset=1000, tolerance=0.05, training=training, history=history)
    from pretrained import main as write_summaries  # benchmarks/pretrained.py: a script's folder is on sys.path

    write_summaries(["--summaries-only"])  # pretrained.json and .md list every checkpoint, this one too
    return entry


def ablations(args: argparse.Namespace, data: dict) -> list[dict]:
    """Each recipe choice changed alone, same seed and budget; FID of 2,000 samples against validation images."""
    from course_utils.evaluation.generative import evaluate_samples

    n = 300 if args.quick else 2000
    rows = []
    for name, change in ABLATIONS.items():
        settings = {**TRAIN, **change}
        gan, curves, record = train(settings, data, args.ablation_seconds, monitor_n=None)
        result = evaluate_samples(samples_of(gan.sampler, n, seed=0), data["validation"][:n])
        raw = evaluate_samples(samples_of(gan.generator, n, seed=0), data["validation"][:n])
        rows.append({"name": name, "change": change, **record, "final_d_loss": curves["d_loss"][-1],
                     "final_g_loss": curves["g_loss"][-1], "averaged": _metrics(result), "raw": _metrics(raw)})
        print(f"ablation {name}: FID {result['classifier_fid']:.2f} (raw {raw['classifier_fid']:.2f})", flush=True)
    return rows


def toy_runs(quick: bool) -> list[dict]:
    """Every toy variant on every seed: modes covered and high-quality share of generated points."""
    import keras

    from course_utils.data.mixtures import gaussian_ring
    from course_utils.evaluation.generative import mode_coverage
    from course_utils.models.gan import GAN, mlp_discriminator, mlp_generator

    rows = []
    for name, change in TOY_VARIANTS.items():
        for seed in TOY_SEEDS[:2] if quick else TOY_SEEDS:
            keras.utils.set_random_seed(seed)
            points, centres = gaussian_ring(TOY["n"], TOY["n_modes"], TOY["radius"], TOY["std"], seed=seed)
            pack = change.get("pack", 1)
            gan = GAN(mlp_generator(latent_dim=TOY["latent_dim"], seed=seed),
                      mlp_discriminator(input_dim=2 * pack, seed=seed + 100), seed=seed, **change)
            beta_2 = 0.9 if change.get("loss") == "wasserstein" else 0.999
            gan.compile(d_optimizer=keras.optimizers.Adam(TOY["learning_rate"], beta_1=0.5, beta_2=beta_2),
                        g_optimizer=keras.optimizers.Adam(TOY["learning_rate"], beta_1=0.5, beta_2=beta_2))
            start = time.perf_counter()
            gan.fit(points, batch_size=TOY["batch_size"], epochs=1 if quick else TOY["epochs"], verbose=0)
            coverage = mode_coverage(np.asarray(gan.sample(TOY["samples"], seed=1)), centres, TOY["std"])
            rows.append({"variant": name, "seed": seed, "generator_steps": int(gan.g_optimizer.iterations),
                         "seconds": time.perf_counter() - start, **coverage})
            print(f"toy {name} seed {seed}: {coverage['modes_covered']}/8 modes, "
                  f"{coverage['high_quality']:.3f} high quality", flush=True)
    return rows


def vae_reference() -> dict:
    """The chapter 06 VAE's sample metrics from benchmarks/results/vae.json (same metric code, same settings)."""
    report = json.loads((RESULTS / "vae.json").read_text(encoding="utf-8"))
    return report["samples"]["vae"]  # the Bernoulli means of p(x|z), z ~ N(0, I)


def run(args: argparse.Namespace) -> dict:
    """All three parts; the targets of issue 15 checked against what was measured."""
    import keras
    import tensorflow as tf

    from course_utils.evaluation.generative import load_generative_reference

    start, load_start = time.perf_counter(), os.getloadavg()
    data = load_data(args.quick)
    if args.quick:
        args.seconds, args.ablation_seconds = 8.0, 4.0
    main = main_run(args, data)
    main.pop("_gan")
    ablation_rows = ablations(args, data)
    toy = toy_runs(args.quick)
    vae = vae_reference()
    fid, vae_fid = main["averaged_generator"]["classifier_fid"], vae["classifier_fid"]
    fix_rows = [row for row in toy if row["variant"] == TOY_FIX]
    full = sum(row["modes_covered"] == row["n_modes"] for row in fix_rows)
    targets = {
        "fid_vs_vae": {"target": FID_TARGET_RATIO * vae_fid, "measured": fid, "reached": fid <= FID_TARGET_RATIO * vae_fid},
        "training_time": {"target": BUDGET_S, "measured": main["training"]["seconds"],
                          "reached": main["training"]["seconds"] <= BUDGET_S + 60},
        "toy_fix_full_coverage": {"target": TOY_TARGET, "measured": full, "reached": full >= TOY_TARGET,
                                  "fix": TOY_FIX, "seeds": len(fix_rows)},
    }
    references = [{"name": name, **point} for name, point in load_generative_reference()["points"].items()]
    return {"main": main, "vae": vae, "references": references, "ablations": ablation_rows,
            "toy": toy, "targets": targets, "design": DESIGN, "train": TRAIN, "toy_settings": TOY,
            "data": {key: len(value) for key, value in data.items()}, "quick": args.quick,
            "command": "python benchmarks/gan.py" + (" --quick" if args.quick else ""),
            "seconds": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                        "load_average_start": list(load_start), "load_average_end": list(os.getloadavg())}}


def _row(name: str, m: dict) -> str:
    kid = f"{m['kid']:.4f} ± {m['kid_std']:.4f}" if "kid_std" in m else f"{m['kid']:.4f}"
    copies = f"{m['copy_fraction']:.3f}" if "copy_fraction" in m else ""
    distance = f"{m['nn_train_distance_median']:.2f}" if "nn_train_distance_median" in m else ""
    return (f"| {name} | {m['classifier_fid']:.2f} | {kid} | {m['precision']:.3f} | {m['recall']:.3f} | "
            f"{m['classes_covered']} | {m['class_kl']:.3f} | {distance} | {copies} |")


def _verdict(target: dict) -> str:
    return "reached" if target["reached"] else "**missed**"


def to_markdown(report: dict) -> str:
    """A readable report of one benchmark run."""
    machine, main, targets, train_ = report["machine"], report["main"], report["targets"], report["train"]
    load = ", ".join(f"{v:.2f}" for v in machine["load_average_start"])
    load_end = ", ".join(f"{v:.2f}" for v in machine["load_average_end"])
    record, d = main["training"], report["data"]
    header = ("| image set | classifier-FID | KID | precision | recall | classes | class KL | NN-train dist. | copies |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    sample_rows = [_row("DCGAN, weight-averaged generator", main["averaged_generator"]),
                   _row("DCGAN, raw generator (last step)", main["raw_generator"]),
                   _row("chapter 06 VAE: Bernoulli means (benchmarks/vae.py)", report["vae"])]
    sample_rows += [_row(f"reference: {row['name']}", row) for row in report["references"]
                    if row["name"] in ("training images (floor)", "test + noise σ=0.05", "test blurred σ=1.0 px",
                                       "dense_ae_32 decoder, Gaussian codes")]
    curves = main["curves"]
    epochs = ["| epoch | seconds | d_loss | g_loss | D(real) | D(fake) | FID (1,000 validation) |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    epochs += [f"| {i + 1} | {curves['seconds'][i]:.0f} | {curves['d_loss'][i]:.3f} | {curves['g_loss'][i]:.3f} | "
               f"{curves['d_real'][i]:.3f} | {curves['d_fake'][i]:.3f} | {curves['validation_fid_1000'][i]:.2f} |"
               for i in range(len(curves["d_loss"]))]
    ablation = ["| run | epochs | steps | final d_loss | final g_loss | FID averaged | FID raw | precision | recall |",
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    ablation += [f"| {r['name']} | {r['epochs_run']} | {r['steps']:,} | {r['final_d_loss']:.3f} | "
                 f"{r['final_g_loss']:.3f} | {r['averaged']['classifier_fid']:.2f} | {r['raw']['classifier_fid']:.2f} | "
                 f"{r['averaged']['precision']:.3f} | {r['averaged']['recall']:.3f} |" for r in report["ablations"]]
    toy = [("| variant | seeds covering all 8 modes | modes covered (per seed) | high-quality share (mean) | "
            "seconds per run |"), "|---|---:|---|---:|---:|"]
    for name in TOY_VARIANTS:
        rows = [r for r in report["toy"] if r["variant"] == name]
        if rows:
            toy.append(f"| {name} | {sum(r['modes_covered'] == r['n_modes'] for r in rows)} of {len(rows)} | "
                       f"{', '.join(str(r['modes_covered']) for r in rows)} | "
                       f"{np.mean([r['high_quality'] for r in rows]):.3f} | "
                       f"{np.mean([r['seconds'] for r in rows]):.0f} |")
    t = report["toy_settings"]
    quick = ["**A --quick smoke run: not a measurement.**", ""] if report["quick"] else []
    return "\n".join([
        "# Chapter 08 benchmark: a DCGAN on Fashion-MNIST, its recipe, and toy GANs", "", *quick,
        (f"Run {report['date']} with `{report['command']}` on {machine['cpus']} CPUs, TensorFlow "
         f"{machine['tensorflow']}, Keras {machine['keras']}; {report['seconds'] / 60:.1f} min in all; load average "
         f"(1/5/15 min) {load} at the start and {load_end} at the end (2 cores: above 2, other work shared the CPU)."),
        "",
        (f"DCGAN: `dcgan_generator(latent_dim={report['design']['latent_dim']}, filters={report['design']['filters']})` "
         f"and `dcgan_discriminator(filters={report['design']['filters']})`, {train_['loss'].replace('_', '-')} loss, "
         f"Adam({train_['d_learning_rate']:g}, beta_1={train_['beta_1']}) for each network, batch "
         f"{train_['batch_size']}, a weight average of the generator (decay {train_['ema_decay']}); trained on "
         f"{d['train']:,} images for {record['seconds']:.0f} s of wall clock ({record['epochs_run']} epochs, "
         f"{record['steps']:,} steps of each network; load average {record['load_average_1min_before']:.2f} before, "
         f"{record['load_average_1min_after']:.2f} after)."), "",
        "## Samples against the test images", "",
        (f"{main['n_samples']:,} samples against the first {main['n_samples']:,} test images, in the features of the "
         "course's classifier (settings of `benchmarks/generative_reference.py`; its rows marked 'reference'). "
         "Memorisation (NN-train distance, copies) is measured on the first 1,000 samples."), "",
        header, *sample_rows, "",
        (f"- Target: the DCGAN's classifier-FID at most {FID_TARGET_RATIO} x the VAE's "
         f"({FID_TARGET_RATIO * report['vae']['classifier_fid']:.2f}): {main['averaged_generator']['classifier_fid']:.2f}, "
         f"{_verdict(targets['fid_vs_vae'])}; trained within {BUDGET_S} s: {record['seconds']:.0f} s, "
         f"{_verdict(targets['training_time'])}."),
        "", "## Training: the losses do not track quality", "",
        ("Losses are epoch means; D(real) and D(fake) are the discriminator's mean probabilities. The FID column "
         "(1,000 samples of the averaged generator against 1,000 validation images; biased upwards at this count) "
         "is what the losses cannot tell you."), "", *epochs, "",
        "## The recipe, measured", "",
        (f"Each run: the main design with one change, the same seed, {report['ablations'][0]['seconds']:.0f} s of "
         f"training; FID of 2,000 samples against 2,000 validation images (not comparable with the 5,000-image "
         "table). 'averaged' is the weight-averaged generator, 'raw' the generator of the last step."), "",
        *ablation, "",
        "## Toy GANs: mode collapse and its fixes", "",
        (f"A ring of {t['n_modes']} Gaussians (radius {t['radius']}, std {t['std']}), {t['n']:,} points; MLP "
         f"generator and discriminator (2 x 128 units), noise of {t['latent_dim']} dimensions, Adam({t['learning_rate']:g}, "
         f"beta_1=0.5), batch {t['batch_size']}, {t['epochs']} epochs (the same number of generator steps for every "
         f"variant), seeds {', '.join(map(str, TOY_SEEDS))}. `mode_coverage` of {t['samples']:,} samples: a sample "
         "is high quality within 3 std of a mode; a mode is covered when it holds at least 20 % of its fair share."),
        "", *toy, "",
        (f"- Target: the fix ({TOY_FIX}) covers every mode in at least {TOY_TARGET} of {len(TOY_SEEDS)} seeds: "
         f"{targets['toy_fix_full_coverage']['measured']} of {targets['toy_fix_full_coverage']['seeds']}, "
         f"{_verdict(targets['toy_fix_full_coverage'])}."), ""])


def main(argv=None) -> dict:
    """Run the benchmark and write gan.json and gan.md into ``--out``."""
    args = parse_args(argv)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gan.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / "gan.md").write_text(to_markdown(report), encoding="utf-8")
    print(to_markdown(report))
    return report


if __name__ == "__main__":
    main()
