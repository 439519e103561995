"""Benchmark for chapter 02: decoder choices of the convolutional autoencoder, measured on one CPU run.

Measures the numbers chapter 02 quotes instead of asserting them:

* seconds per epoch of the transposed-convolution and the upsampling decoders (same encoder, same data);
* validation MSE of 3x3 and 4x4 transposed-convolution decoders (the same 3x3 encoder) and of upsampling + conv
  at *equal wall-clock time*;
* the cost of storing the 32-number code in 8 bits instead of 32 (validation MSE before and after);
* seed-to-seed spread of the chapter's sweep base model (so the notebook can say which differences are noise).

Every choice is made on a validation split carved from the training set; the test set is read once per
model at the end. Writes ``benchmarks/results/decoders.json`` and ``decoders.md``.

    .venv/bin/python benchmarks/decoders.py            # about 5 minutes on a 2-core CPU
    .venv/bin/python benchmarks/decoders.py --quick    # smoke test
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
DECODERS = {"transpose 3x3": dict(upsample="transpose", kernel_size=3),
            "transpose 4x4": dict(upsample="transpose", kernel_size=3, decoder_kernel_size=4),  # 3x3 encoder
            "upsample + conv 3x3": dict(upsample="upsample", kernel_size=3)}


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train-size", type=int, default=12000)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=60.0, help="equal wall-clock budget per decoder")
    parser.add_argument("--timing-epochs", type=int, default=1, help="epochs timed per decoder before the budget run")
    parser.add_argument("--seeds", type=int, default=5, help="seeds of the sweep base model")
    parser.add_argument("--sweep-train-size", type=int, default=2000, help="as in chapter 02's fast sweep")
    parser.add_argument("--sweep-epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--quick", action="store_true", help="tiny subsets and budgets (smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.train_size, args.test_size, args.seconds, args.seeds, args.sweep_train_size = 1000, 300, 5.0, 2, 500
    return args


def quantised_codes(codes: np.ndarray, reference: np.ndarray, bits: int = 8) -> np.ndarray:
    """Codes rounded to ``2**bits`` levels per coordinate between the reference codes' min and max."""
    low, high = reference.min(axis=0), reference.max(axis=0)  # (d,)
    step = np.maximum(high - low, 1e-12) / (2 ** bits - 1)
    return (np.round((np.clip(codes, low, high) - low) / step) * step + low).astype(np.float32)  # (n, d)


def train(model, data, learning_rate: float, seconds: float | None, epochs: int):
    """Compile with MSE and Adam, fit with a cosine decay over the budget; returns the TrainResult."""
    import keras

    from course_utils.training import CosineByProgress, fit_with_budget

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")
    callbacks = [CosineByProgress(learning_rate, seconds)] if seconds else []
    return fit_with_budget(model, data, epochs=epochs, time_budget_s=seconds, callbacks=callbacks, progress="none")


def decoder_runs(args, x_train, x_val, x_test) -> list[dict]:
    """Per-epoch time, then equal-time validation MSE and 8-bit code cost, for every decoder."""
    from course_utils import set_seed
    from course_utils.data import make_dataset
    from course_utils.evaluation.metrics import mse
    from course_utils.models import ConvAutoencoder
    from course_utils.training import fit_with_budget

    runs = []
    for name, kwargs in DECODERS.items():
        set_seed(args.seed)
        timing = ConvAutoencoder(latent_dim=32, filters=(32, 64, 128), **kwargs)
        data = make_dataset(x_train, x_train, args.batch_size, seed=args.seed)
        train(timing, data, 2e-3, None, 1)  # the first epoch includes graph tracing: not timed
        timed = fit_with_budget(timing, data, epochs=args.timing_epochs, progress="none")
        set_seed(args.seed)
        model = ConvAutoencoder(latent_dim=32, filters=(32, 64, 128), **kwargs)
        fit = train(model, data, 2e-3, args.seconds, 1000)
        codes_val = model.encode(x_val).numpy()  # (n_val, 32)
        reference = model.encode(x_train[:2000]).numpy()  # (2000, 32): the quantiser's range, from training images
        val_8bit = mse(x_val, model.decode(quantised_codes(codes_val, reference)).numpy())
        runs.append({"decoder": name, **kwargs, "params": int(model.count_params()),
                     "seconds_per_epoch": timed.seconds / timed.epochs_run, "budget_seconds": fit.seconds,
                     "epochs_in_budget": fit.epochs_run, "steps_in_budget": fit.steps,
                     "val_mse": mse(x_val, model.predict(x_val, verbose=0)), "val_mse_8bit_code": val_8bit,
                     "test_mse": mse(x_test, model.predict(x_test, verbose=0))})
        print(f"{name}: {runs[-1]['seconds_per_epoch']:.1f} s/epoch, val MSE {runs[-1]['val_mse']:.5f} "
              f"in {fit.seconds:.0f} s ({fit.epochs_run} epochs)", flush=True)
    return runs


def seed_spread(args, x_train, x_val) -> dict:
    """Validation MSE of chapter 02's sweep base model for several seeds: the noise floor of the sweep."""
    from course_utils import set_seed
    from course_utils.data import make_dataset, take_subset
    from course_utils.evaluation.metrics import mse
    from course_utils.models import ConvAutoencoder

    (x_small,) = take_subset([x_train], args.sweep_train_size, seed=args.seed)
    values = []
    for seed in range(args.seeds):
        set_seed(seed)
        model = ConvAutoencoder(latent_dim=16, filters=(16, 32))
        train(model, make_dataset(x_small, x_small, 32, seed=seed), 2e-3, None, args.sweep_epochs)
        values.append(mse(x_val, model.predict(x_val, verbose=0)))
    values = np.asarray(values)
    return {"val_mse": values.tolist(), "mean": float(values.mean()), "std": float(values.std(ddof=1)),
            "relative_std": float(values.std(ddof=1) / values.mean()),
            "relative_range": float((values.max() - values.min()) / values.mean()),
            "train_size": args.sweep_train_size, "epochs": args.sweep_epochs}


def run(args: argparse.Namespace) -> dict:
    """Load the data, split off validation images, run both measurements."""
    import keras
    import tensorflow as tf

    from course_utils.data import load_fashion_mnist, split_validation, take_subset

    (x_all, _), (x_test, _) = load_fashion_mnist()
    (x_all,) = take_subset([x_all], args.train_size, seed=args.seed)
    (x_test,) = take_subset([x_test], args.test_size, seed=args.seed)
    (x_train,), (x_val,) = split_validation([x_all], args.val_fraction, seed=args.seed)
    load_start = os.getloadavg()
    runs = decoder_runs(args, x_train, x_val, x_test)
    spread = seed_spread(args, x_train, x_val)
    settings = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    return {"runs": {r["decoder"]: r for r in runs}, "seed_spread": spread, "settings": settings,
            "sizes": {"train": len(x_train), "validation": len(x_val), "test": len(x_test)},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__,
                        "keras": keras.__version__, "gpus": len(tf.config.list_physical_devices("GPU")),
                        "load_average_start": list(load_start), "load_average_end": list(os.getloadavg())},
            "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def to_markdown(result: dict) -> str:
    """A readable report of one benchmark run."""
    s, m, spread = result["settings"], result["machine"], result["seed_spread"]
    base = result["runs"]["transpose 3x3"]["seconds_per_epoch"]
    lines = ["# Chapter 02 benchmark: decoders of the convolutional autoencoder", "",
             (f"Run {result['date']} on {m['cpus']} CPUs, {m['gpus']} GPUs, TensorFlow {m['tensorflow']}, "
             f"Keras {m['keras']}. Load average at start {', '.join(f'{v:.2f}' for v in m['load_average_start'])}, "
             f"at end {', '.join(f'{v:.2f}' for v in m['load_average_end'])} (shared 2-core machine)."),
             (f"Fashion-MNIST: {result['sizes']['train']} training, {result['sizes']['validation']} validation "
             f"(carved from the training set), {result['sizes']['test']} test images; ConvAutoencoder(latent_dim=32, "
             f"filters=(32, 64, 128)), Adam 2e-3 with cosine decay, batch {s['batch_size']}, "
             f"{s['seconds']:.0f} s of training per decoder."), "",
             ("| decoder | params | s/epoch | × transpose 3x3 | epochs in budget | val MSE | val MSE, 8-bit code | "
             "test MSE |"), "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in result["runs"].items():
        lines.append(f"| {name} | {r['params']:,} | {r['seconds_per_epoch']:.1f} | {r['seconds_per_epoch'] / base:.2f} "
                     f"| {r['epochs_in_budget']} | {r['val_mse']:.5f} | {r['val_mse_8bit_code']:.5f} "
                     f"| {r['test_mse']:.5f} |")
    lines += ["", (f"Seed-to-seed spread of the sweep base model (latent 16, filters 16/32, {spread['train_size']} "
              f"training images, {spread['epochs']} epochs, {len(spread['val_mse'])} seeds): validation MSE "
              f"{spread['mean']:.5f} ± {spread['std']:.5f}, relative std {100 * spread['relative_std']:.1f} %, "
              f"max - min {100 * spread['relative_range']:.1f} % of the mean."), "",
              "Produced by `python benchmarks/decoders.py`; never edited by hand."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    """Run the benchmark and write JSON and markdown results."""
    args = parse_args(argv)
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "decoders.json").write_text(json.dumps(result, indent=2))
    (args.out / "decoders.md").write_text(to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
