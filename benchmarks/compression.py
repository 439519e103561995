"""Benchmark for chapter 07: a learned codec's rate-distortion curve beside JPEG, WebP and PCA transform coding.

Training images: the Fashion-MNIST training split minus the checkpoints' validation split (``split_validation``,
10 %, seed 0). The learned codec (``DESIGN``, built from ``course_utils.models.codec``) is trained once per lambda
with loss = bits per pixel + lambda * MSE on the 0-255 scale, a fixed number of epochs with a wall-clock cap per
model as a safety net. Every rate point of every method is measured on all 10,000 test images from DECODED BYTES
(``course_utils.compression``: ``LearnedCodec``, ``JpegCodec``, ``WebpCodec``, ``PcaCodec`` and ``rd_points``):
mean bits per pixel of the entropy-coded payload and of each image's whole file, mean PSNR and mean SSIM. The PCA
codec's number of components is chosen on validation images only; nothing is chosen on the test set. After each
codec, a context model (``models.context``, ``CONTEXT``) is fitted on its training images' rounded latents; it codes
the same symbols with probabilities conditioned on the latents before them, its fitting counted as training time.
Three learned curves come out: the encoder's latents coded with the channel tables and with the context model, and
latents refined at encode time against the context model's code length (``REFINE``) and coded with it. BD-rate
(``bd_rate``, PCHIP; PSNR and SSIM as the quality) summarises each against every baseline; the targets are judged
on one curve fixed before the run (``BEST``: the refined latents coded with the context model), the other two
reported beside it. Results go to ``benchmarks/results/compression.json`` and ``compression.md``.

    nice -n 5 .venv/bin/python benchmarks/compression.py       # about 50 min on 2 cores (15 of them training)
    .venv/bin/python benchmarks/compression.py --quick --out /tmp/compression   # a smoke test (< 1 min)
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
DESIGN = {"builder": "dense_codec", "kwargs": {"latent_dim": 512, "hidden_units": [512, 256],
                                              "decoder_quantiser": "noise"}}
TRAIN = {"batch_size": 256, "learning_rate": 1e-3}
LAMBDAS = (0.0003, 0.0007, 0.0017, 0.004, 0.0095, 0.0225)
HIGH_RATE_STEP = 0.01154  # sqrt(6 / (ln 2 * 255^2)): the step where rate + lambda * MSE(0-255) is optimal at high rate
JPEG_QUALITIES = (5, 10, 20, 30, 50, 70, 90)
WEBP_QUALITIES = (1, 10, 30, 50, 70, 90)
PCA_STEPS = (1.0, 0.5, 0.3, 0.2, 0.12, 0.08, 0.05)
PCA_COMPONENTS = (32, 64, 128, 256, 512)
PIXELS = 28 * 28
VALIDATION_IMAGES = 1000
# Encoder-side refinement of the latents (models.codec.refine_latents), its steps and rate chosen on validation
# images: the second learned curve. Same models, decoder and bytes' format; only encoding costs more.
REFINE = {"steps": 300, "learning_rate": 0.02, "seed": 0}
# The context model fitted after each codec (models.context.fit_context_model): 16 slices of 32 latents, each
# slice's Gaussians from a 256-256 MLP of the slices before; the epoch with the fewest validation bits is kept.
CONTEXT = {"slices": [32] * 16, "hidden_units": 256, "epochs": 12, "seconds": 20.0, "batch_size": 512,
           "learning_rate": 3e-3}
LEARNED = {"learned": "channel tables", "learned_context": "context model",
           "learned_refined_context": "context model, refined latents"}
BEST = "learned_refined_context"  # the curve the targets are judged on, fixed before the run
TARGETS = {"webp": -60.0, "jpeg_payload": -50.0, "pca": -25.0}  # issue 14: BD-rate (PSNR) at most this, percent
TRAINING_BUDGET_S = 15 * 60  # issue 14: every rate point trained within 15 minutes on the 2-core CPU
ANCHORS = {"jpeg_file": ("jpeg", "bpp_file"), "jpeg_payload": ("jpeg", "bpp_payload"),
           "webp": ("webp", "bpp_payload"), "pca": ("pca", "bpp_payload")}
DEVELOPMENT = (
    "The design was fixed before this run by short runs (30 s to 4 min per model, or a fixed number of steps) on "
    "a CPU shared with other work, scored on the validation split only with `evaluate`'s ideal code length "
    "(-sum log2 P) and PSNR, or with the codec's bytes. Tried: the convolutional transform (two stride-2 "
    "convolutions to 7x7xC, Balle's layout, 32 or 64 filters, 8 or 16 channels) and a plain dense one (hidden "
    "512-256, 64 or 128 latent channels), both from random weights; STE-rounded against noisy latents as the "
    "decoder's input in training; the entropy model's initial width (init_scale 10 against 1); Adam learning rates "
    "1e-3 to 1e-2; batches of 64 and 256. From random weights, neither transform got clearly past the PCA codec "
    "in the minutes this benchmark allows per model: the convolutional one ran at a fraction of the dense one's "
    "images per second with 64 filters, and both were still improving when their time ran out. Starting the dense "
    "codec from PCA (a linear map plus a zero-initialised MLP each way) and training it at the lambda that matches "
    "the PCA step gave fewer bits than the PCA codec at a similar PSNR within a couple of minutes, so that is "
    "the design here; with 512 latent channels instead of 256 the highest-lambda model reached a far higher PSNR "
    "at the same lambda (256 PCA components cap the quality). Its densities start as logistics matched to the PCA "
    "latents: a narrow start left the largest latents outside the coder's tables, and the bytes decoded worse "
    "than `evaluate` reported. Noisy latents for the decoder did at least as well as STE-rounded ones. The refinement's settings were chosen "
    "afterwards the same way, on 1,000 validation images with models trained by this script's recipe at lambda "
    "0.0007, 0.004 and 0.0225: Adam rates 0.02, 0.05 and 0.1 for 300 steps and 0.05 for 600 (at 0.0007 and 0.0225); "
    "0.02 gave the lowest validation cost at 0.0007 and was within half a per cent of the best at 0.0225, and the "
    "noisy stand-in for rounding beat an STE-rounded decoder input (at 0.004 and 0.0225). PCA's codec rounds its "
    "coefficients plainly; a rate-distortion-optimised quantiser could help it too, which was not measured, so part "
    "of the refined curve's lead over PCA may be the search at encode time rather than the learned transform. The "
    "context model's settings came from models trained by this script's recipe at lambda 0.0017 and 0.0095, scored "
    "by validation bits: six slices of growing size (16 to 256) with a logistic per symbol saved less than 16 "
    "slices of 32 with a Gaussian (the Gaussian is what the range coder implements; the two runs also differed in "
    "epochs, so this is not a clean comparison); 512-unit MLPs instead of 256 saved slightly more but "
    "overfitted after eight epochs and took several times longer. At lambda 0.0095, batches of 512 at a rate of "
    "3e-3 for 20 s saved about as many validation bits against the tables as batches of 256 at 1e-3 for 40 s, in "
    "about two thirds of the time, and fitting on a subset of the training images overfitted. Refining the latents "
    "against the context model's code length instead of the tables' gave fewer bits at about the same PSNR once "
    "coded with the context model (at lambda 0.0017 and 0.0095), so the refined curve is refined for the model "
    "that codes it. Those runs are not "
    "kept as a script, so this paragraph gives their outcome but no numbers; every number above comes from this "
    "script.")


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lambdas", type=float, nargs="+", default=list(LAMBDAS))
    parser.add_argument("--epochs", type=int, default=15, help="epochs of each learned codec")
    parser.add_argument("--seconds", type=float, default=140.0, help="wall-clock cap of each learned codec")
    parser.add_argument("--quick", action="store_true", help="small data, seconds of training: a smoke test")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick and args.out == RESULTS:
        parser.error("--quick is a smoke test: give --out outside benchmarks/results")
    return args


def load_data(quick: bool) -> dict[str, np.ndarray]:
    """Training images (the fit split), validation images and test images; small seeded subsets when quick."""
    from course_utils.data import load_fashion_mnist, split_validation, take_subset
    from course_utils.pretrained import VALIDATION_SPLIT

    (x_train, y_train), (x_test, _) = load_fashion_mnist()
    (x_fit, _), (x_val, _) = split_validation([x_train, y_train], **VALIDATION_SPLIT)
    (x_val,) = take_subset([x_val], VALIDATION_IMAGES, seed=0)
    if quick:
        (x_fit,), (x_val,), (x_test,) = take_subset([x_fit], 2000), take_subset([x_val], 200), x_test[None, :200]
    return {"fit": x_fit, "validation": x_val, "test": x_test}


def pca_step(lmbda: float) -> float:
    """The PCA quantiser step a codec at ``lmbda`` starts from: D = step^2 / 12 per code, dR/dD = -lambda * 255^2."""
    return HIGH_RATE_STEP / float(np.sqrt(lmbda))


def train_codec(lmbda: float, data: dict, epochs: int, time_cap_s: float, basis: tuple) -> tuple:
    """The design trained at ``lmbda`` for ``epochs`` (capped at ``time_cap_s``), started from the training images'
    PCA ``basis``: the model and its record."""
    import keras

    from course_utils import models
    from course_utils.data import make_dataset
    from course_utils.models.codec import initialise_from_pca
    from course_utils.reproducibility import set_seed
    from course_utils.training import CosineByProgress, fit_with_budget

    set_seed(SEED)
    model = getattr(models, DESIGN["builder"])(**DESIGN["kwargs"], lmbda=lmbda, seed=SEED)
    initialise_from_pca(model, data["fit"], pca_step(lmbda), basis)
    model.compile(optimizer=keras.optimizers.Adam(TRAIN["learning_rate"]))
    load_before = os.getloadavg()[0]
    fit = fit_with_budget(model, make_dataset(data["fit"], batch_size=TRAIN["batch_size"], seed=SEED), epochs=epochs,
                          time_budget_s=time_cap_s, callbacks=[CosineByProgress(TRAIN["learning_rate"], time_cap_s)],
                          progress="none")
    validation = model.evaluate(data["validation"], batch_size=500, verbose=0, return_dict=True)
    record = {"lmbda": lmbda, "pca_init_step": pca_step(lmbda), "epochs_planned": epochs, "epochs_run": fit.epochs_run, "steps": fit.steps,
              "seconds": fit.seconds, "stopped_by_time_cap": fit.stopped_by_budget, "time_cap_s": time_cap_s,
              "load_average_1min_before": load_before, "load_average_1min_after": os.getloadavg()[0],
              "validation_ideal_bpp": float(validation["bpp"]), "validation_psnr": float(validation["psnr"]),
              "params": int(model.count_params())}
    print(f"lambda {lmbda:g}: {fit.epochs_run} epochs in {fit.seconds:.0f} s, validation {validation['bpp']:.3f} bpp "
          f"{validation['psnr']:.2f} dB", flush=True)
    return model, record


def fit_context(model, data: dict, quick: bool) -> tuple:
    """The context model of a trained codec, fitted on its training images' rounded latents: the model and a record."""
    from course_utils.compression import LearnedCodec
    from course_utils.models.context import fit_context_model

    start, codec = time.perf_counter(), LearnedCodec(model)
    fit, validation = (codec.quantise(data[k]).reshape(len(data[k]), -1) for k in ("fit", "validation"))  # (n, d)
    context, record = fit_context_model(fit, validation, CONTEXT["slices"], CONTEXT["hidden_units"],
                                        epochs=1 if quick else CONTEXT["epochs"], seconds=CONTEXT["seconds"],
                                        batch_size=CONTEXT["batch_size"], learning_rate=CONTEXT["learning_rate"],
                                        seed=SEED)
    record["seconds_with_quantising"] = time.perf_counter() - start
    return context, record


def point(codec, images: np.ndarray, param) -> dict:
    """One rate point from decoded bytes: {param, bpp_payload, bpp_file, psnr, ssim}."""
    from course_utils.compression import rd_points

    measured = rd_points(codec, images)
    return {"param": param, "bpp_payload": measured["payload_bpp"], "bpp_file": measured["file_bpp"],
            "psnr": measured["psnr"], "ssim": measured["ssim"]}


def choose_pca_components(data: dict, quick: bool) -> dict:
    """Per step, the component count with the lowest validation cost bpp + lambda * MSE(0-255), lambda matched."""
    from course_utils.compression import PcaCodec

    x, pixels = data["validation"], data["validation"][0].size
    chosen, costs = {}, {}
    for step in PCA_STEPS:
        lmbda = (HIGH_RATE_STEP / step) ** 2  # the lambda whose high-rate optimum is this step
        costs[str(step)] = {}
        for k in (PCA_COMPONENTS[:2] if quick else PCA_COMPONENTS):
            codec = PcaCodec(k, step).fit(data["fit"])
            stream = codec.compress(x)
            mse = float(np.mean(np.square(codec.decompress(stream) - x))) * 255.0**2
            costs[str(step)][str(k)] = float(codec.payload_bits(stream).mean() / pixels + lmbda * mse)
        chosen[str(step)] = int(min(costs[str(step)], key=costs[str(step)].get))
    print(f"PCA components per step, chosen on validation: {chosen}", flush=True)
    return {"chosen": chosen, "validation_cost": costs}


def bd_rates(curves: dict, learned: str = BEST) -> dict:
    """BD-rate (percent) of the ``learned`` curve against each anchor, PSNR- and SSIM-based; None where undefined."""
    from course_utils.compression import bd_rate, rd_curve

    out = {}
    for quality in ("psnr", "ssim"):
        test = rd_curve(curves[learned], "bpp_payload", quality)
        out[quality] = {}
        for anchor, (method, rate) in ANCHORS.items():
            try:
                out[quality][anchor] = bd_rate(*rd_curve(curves[method], rate, quality), *test)
            except ValueError as error:
                out[quality][anchor] = None
                print(f"BD-rate ({quality}) vs {anchor} undefined: {error}", flush=True)
    return out


def run(args: argparse.Namespace) -> dict:
    """Train the learned codec at every lambda, measure every codec on the test images, summarise by BD-rate."""
    import keras
    import tensorflow as tf

    from course_utils.compression import JpegCodec, LearnedCodec, PcaCodec, WebpCodec
    from course_utils.models.codec import pca_basis

    start, load_start = time.perf_counter(), os.getloadavg()
    data = load_data(args.quick)
    if args.quick:
        args.epochs, args.seconds = 1, 5.0
    curves, training = {name: [] for name in LEARNED}, []
    basis = pca_basis(data["fit"], DESIGN["kwargs"]["latent_dim"])  # one SVD for every lambda
    test = data["test"]
    for lmbda in args.lambdas:
        model, record = train_codec(lmbda, data, args.epochs, args.seconds, basis)
        context, record["context"] = fit_context(model, data, args.quick)
        curves["learned"].append(point(LearnedCodec(model), test, lmbda))
        curves["learned_context"].append(point(LearnedCodec(model, context=context), test, lmbda))
        encode_start = time.perf_counter()
        refining = LearnedCodec(model, refine_steps=REFINE["steps"], refine_rate=REFINE["learning_rate"],
                                refine_seed=REFINE["seed"], context=context)  # refined for the model that codes them
        curves["learned_refined_context"].append(point(refining, test, lmbda))
        record["refined_encode_and_decode_seconds"] = time.perf_counter() - encode_start
        training.append(record)
    pca = choose_pca_components(data, args.quick)
    curves["jpeg"] = [point(JpegCodec(q), data["test"], q) for q in JPEG_QUALITIES]
    curves["webp"] = [point(WebpCodec(q), data["test"], q) for q in WEBP_QUALITIES]
    curves["pca"] = [point(PcaCodec(pca["chosen"][str(step)], step).fit(data["fit"]), data["test"], step)
                     for step in PCA_STEPS]
    bd = {name: bd_rates(curves, name) for name in LEARNED}
    targets = {anchor: {"target": limit, "measured": bd[BEST]["psnr"][anchor],
                        **{f"{name}_psnr": bd[name]["psnr"][anchor] for name in LEARNED if name != BEST},
                        "reached": bd[BEST]["psnr"][anchor] is not None and bd[BEST]["psnr"][anchor] <= limit}
               for anchor, limit in TARGETS.items()}
    total = float(sum(r["seconds"] + r["context"]["seconds_with_quantising"] for r in training))
    targets["training_time"] = {"target": TRAINING_BUDGET_S, "measured": total, "reached": total <= TRAINING_BUDGET_S}
    return {"curves": curves, "bd_rate": bd, "targets": targets, "training": training,
            "pca": pca, "design": {**DESIGN, "train": TRAIN, "epochs": args.epochs, "time_cap_s": args.seconds,
                                   "refine": REFINE, "context": CONTEXT},
            "training_seconds_total": total,
            "data": {"train": len(data["fit"]), "validation": len(data["validation"]), "test": len(data["test"])},
            "quick": args.quick, "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "command": "python benchmarks/compression.py" + (" --quick" if args.quick else ""),
            "seconds": time.perf_counter() - start, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
                        "load_average_start": list(load_start), "load_average_end": list(os.getloadavg())}}


def _curve_table(name: str, points: list[dict], param: str) -> list[str]:
    rows = [f"| {name} | {param} = {p['param']:g} | {p['bpp_payload']:.3f} | {p['bpp_file']:.3f} | {p['psnr']:.2f} | "
            f"{p['ssim']:.4f} |" for p in points]
    return rows


def _bd(value: float | None) -> str:
    return "undefined (no common quality range)" if value is None else f"{value:+.1f} %"


def to_markdown(report: dict) -> str:
    """A readable report of one benchmark run."""
    machine, design, d = report["machine"], report["design"], report["data"]
    load = ", ".join(f"{v:.2f}" for v in machine["load_average_start"])
    load_end = ", ".join(f"{v:.2f}" for v in machine["load_average_end"])
    kwargs = ", ".join(f"{k}={v}" for k, v in design["kwargs"].items())
    curves = report["curves"]
    table = ["| method | setting | payload bpp | file bpp | PSNR (dB) | SSIM |", "|---|---|---:|---:|---:|---:|",
             *(row for name, label in LEARNED.items() for row in _curve_table(f"learned, {label}", curves[name],
                                                                               "lambda")),
             *_curve_table("JPEG", curves["jpeg"], "quality"),
             *_curve_table("WebP", curves["webp"], "quality"),
             *_curve_table("PCA", curves["pca"], "step")]
    training = [("| lambda | epochs | steps | seconds | load before | load after | validation ideal bpp | "
                 "validation PSNR | context model: epochs, s | its validation bpp | refined: encode + decode s |"),
                "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    training += [f"| {r['lmbda']:g} | {r['epochs_run']}{' (cap)' if r['stopped_by_time_cap'] else ''} | "
                 f"{r['steps']:,} | {r['seconds']:.0f} | {r['load_average_1min_before']:.2f} | "
                 f"{r['load_average_1min_after']:.2f} | {r['validation_ideal_bpp']:.3f} | {r['validation_psnr']:.2f} | "
                 f"{r['context']['epochs_run']}, {r['context']['seconds_with_quantising']:.0f} | "
                 f"{r['context']['validation_bits_kept'] / PIXELS:.3f} | {r['refined_encode_and_decode_seconds']:.0f} |"
                 for r in report["training"]]
    bd = report["bd_rate"]
    names = list(LEARNED)
    bd_table = ["| learned codec against | " + " | ".join(f"{LEARNED[n]} (PSNR)" for n in names)
                + f" | {LEARNED[BEST]} (SSIM) | target (PSNR, {LEARNED[BEST]}) |",
                "|---|" + "---:|" * (len(names) + 1) + "---|"]
    for anchor in ANCHORS:
        target = report["targets"].get(anchor)
        verdict = "" if target is None else (f"<= {target['target']:g} %: "
                                             f"{'reached' if target['reached'] else '**missed**'}")
        bd_table.append(f"| {anchor.replace('_', ' ')} | " + " | ".join(_bd(bd[n]["psnr"][anchor]) for n in names)
                        + f" | {_bd(bd[BEST]['ssim'][anchor])} | {verdict} |")
    steps, rate = design["refine"]["steps"], design["refine"]["learning_rate"]
    context = design["context"]
    quick = ["**A --quick smoke run: not a measurement.**", ""] if report["quick"] else []
    pca_choice = ", ".join(f"step {step}: {k}" for step, k in report["pca"]["chosen"].items())
    return "\n".join([
        "# Chapter 07 benchmark: learned image compression against JPEG, WebP and PCA", "", *quick,
        (f"Run {report['date']} with `{report['command']}` on {machine['cpus']} CPUs, TensorFlow "
         f"{machine['tensorflow']}, Keras {machine['keras']}; {report['seconds'] / 60:.1f} min in all, "
         f"{report['training_seconds_total'] / 60:.1f} min of it training the {len(report['training'])} learned "
         f"codecs; load average (1/5/15 min) {load} at the start and {load_end} at the end."),
        (f"Data: {d['train']:,} training images (the training split minus the 10 % validation split, seed 0), "
         f"{d['validation']:,} validation images (PCA's component count), all {d['test']:,} test images for every "
         "rate point. Every point is decoded from the codec's bytes; bpp is bits per pixel, averaged over images. "
         "Payload: the entropy-coded data (for JPEG the scan between SOS and EOI, without the header's quantisation "
         "and Huffman tables, which dominate a 28x28 file); file: each image's whole stand-alone file. The learned "
         "and PCA codecs share the range coder and store no per-image header, so their two rates are equal; WebP "
         "has no clean split, its payload is its file. Nothing is chosen on the test set."),
        (f"Learned codec: `{design['builder']}({kwargs})`, a linear map plus a ReLU MLP each way, the linear maps "
         "initialised to PCA with the quantiser step 0.01154 / sqrt(lambda) (`initialise_from_pca`; the step where "
         "the high-rate approximation puts the optimum of rate + lambda * MSE), the MLPs' output layers to zero; "
         "loss = bpp + lambda * MSE (0-255 scale), noisy latents for the rate and the decoder in training, Adam "
         f"{design['train']['learning_rate']:g} with cosine decay by progress, batch {design['train']['batch_size']}, "
         f"{design['epochs']} epochs or {design['time_cap_s']:.0f} s per model, whichever comes first."),
        (f"Refined latents: the same trained models, decoders and byte format, but each test image's latents start at "
         f"the encoder's output and take {steps} Adam steps (rate {rate:g}) on that image's own bpp + lambda * MSE, "
         "the bpp being the context model's code length, with the training's noisy stand-in for rounding, before "
         "they are rounded and coded with the context model (`LearnedCodec(model, refine_steps=..., context=...)`, "
         "`models.codec.refine_latents`; steps and rate chosen on validation images). It costs encoding time only: "
         "the decoder is unchanged, and no training time is added."),
        (f"Context model: after each codec, `fit_context_model` fits a `ContextEntropyModel` "
         f"({len(context['slices'])} slices of {context['slices'][0]} latents in the encoder's channel order, each "
         f"slice's Gaussians predicted by a {context['hidden_units']}-{context['hidden_units']} ReLU MLP from the "
         "slices before it) on the training images' rounded latents, for up to "
         f"{context['epochs']} epochs or {context['seconds']:.0f} s (batches of {context['batch_size']}, Adam "
         f"{context['learning_rate']:g}), keeping the epoch with the fewest validation bits. "
         "It codes the same symbols as the channel tables, so PSNR and SSIM do not change, only the bits; its "
         "fitting, with the quantising of the training images, counts as training time."),
        "",
        "## Rate-distortion points (test set)", "", *table, "",
        "## BD-rate of the learned codec", "",
        ("Bjontegaard delta rate (PCHIP): the mean change in rate at equal quality over the quality range both curves "
         "cover; negative means fewer bits for the learned codec. Points that do not improve on a cheaper point of "
         "the same curve are left out of its fit. One column per learned curve: the encoder's latents coded "
         "with the channel tables or the context model, and the refined latents coded with the context model."),
        "", *bd_table, "",
        "## Training", "", *training, "",
        (f"All {len(report['training'])} learned codecs and their context models trained in "
         f"{report['training_seconds_total']:.0f} s "
         f"(target: within {TRAINING_BUDGET_S} s): "
         f"{'reached' if report['targets']['training_time']['reached'] else '**missed**'}."), "",
        ("PCA's component count was chosen per step among "
         f"{', '.join(next(iter(report['pca']['validation_cost'].values())))} by the lowest validation cost bpp + "
         "lambda * MSE (0-255 scale), with lambda = (0.01154 / step)^2, the lambda whose high-rate optimum is that "
         f"step: {pca_choice}."), "",
        "## How the design was chosen", "", DEVELOPMENT, ""])


def main(argv=None) -> dict:
    """Run the benchmark and write compression.json and compression.md into ``--out``."""
    args = parse_args(argv)
    report = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "compression.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (args.out / "compression.md").write_text(to_markdown(report), encoding="utf-8")
    print(to_markdown(report))
    return report


if __name__ == "__main__":
    main()
