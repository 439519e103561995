"""Benchmark for chapter 05: autoencoder codes as representations of Fashion-MNIST, beside PCA, t-SNE and pixels.

(1) Visualisation: a dense autoencoder with a 2-D code, trained on the training split minus a seeded
10 % validation split under a wall-clock budget, PCA-2 fitted on the same images, and t-SNE, each
embedding the same seeded subset of test images; scored by 5-NN accuracy inside the embedding
(stratified 5-fold) and trustworthiness (k = 5) against the pixels, with fit and embed seconds.
(2) Few labels: a linear probe (logistic regression) on the codes of the pretrained ``dense_ae_32``
and ``conv_ae_32`` (trained on the same 54,000 images), PCA-32 codes and raw pixels, with 100,
1,000 and all 54,000 training labels (three seeded draws for the small sizes), scored on the whole
test split. (3) Retrieval: precision@8 of the training images nearest to seeded test queries in
each code space. Results go to ``benchmarks/results/embeddings.json`` and ``embeddings.md``.

    nice -n 5 .venv/bin/python benchmarks/embeddings.py        # about 8 minutes on a busy 2-core CPU
    .venv/bin/python benchmarks/embeddings.py --quick --out /tmp/embeddings   # a smoke test of the whole script
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
SEEDS = {"model": 42, "embedding_subset": 0, "tsne": 0, "knn_folds": 0, "probe_subsets": [0, 1, 2], "queries": 1}
PROBE_SIZES = (100, 1000, None)  # None: every training label
PRETRAINED = ("dense_ae_32", "conv_ae_32")
QUICK = dict(train=3000, test=600, embed=300, seconds=15.0, queries=100)


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options of the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="wall-clock training budget of the 2-D autoencoder")
    parser.add_argument("--epochs", type=int, default=100, help="upper bound; the time budget normally stops first")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--embed", type=int, default=5000, help="seeded test images that every 2-D method embeds")
    parser.add_argument("--k", type=int, default=5, help="neighbours of the k-NN accuracy and of trustworthiness")
    parser.add_argument("--folds", type=int, default=5, help="stratified folds of the k-NN accuracy")
    parser.add_argument("--perplexity", type=float, default=30.0)
    parser.add_argument("--probe-dim", type=int, default=32, help="PCA components beside the 32-number codes")
    parser.add_argument("--queries", type=int, default=1000, help="seeded test queries of the retrieval")
    parser.add_argument("--retrieve", type=int, default=8, help="training images retrieved per query")
    parser.add_argument("--quick", action="store_true", help="small data, 15 s of training: a smoke test, not a result")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick and args.out == RESULTS:
        parser.error("--quick is a smoke test: give --out outside benchmarks/results")
    if args.quick:
        args.seconds, args.embed, args.queries = QUICK["seconds"], QUICK["embed"], QUICK["queries"]
    return args


def load_data(quick: bool) -> dict[str, np.ndarray]:
    """The training split minus the checkpoints' validation split, that validation split, and the test split."""
    from course_utils.data import load_fashion_mnist, split_validation, take_subset
    from course_utils.pretrained import VALIDATION_SPLIT

    (x, y), (x_test, y_test) = load_fashion_mnist()
    if quick:
        (x, y), (x_test, y_test) = take_subset([x, y], QUICK["train"]), take_subset([x_test, y_test], QUICK["test"])
    (x_fit, y_fit), (x_val, y_val) = split_validation([x, y], VALIDATION_SPLIT["fraction"], seed=VALIDATION_SPLIT["seed"])
    return {"x_fit": x_fit, "y_fit": y_fit, "x_val": x_val, "y_val": y_val, "x_test": x_test, "y_test": y_test}


def train_ae_2d(args: argparse.Namespace, data: dict):
    """``DenseAutoencoder(latent_dim=2)`` trained with MSE under the time budget; returns it and the run's record."""
    import keras

    from course_utils.data import make_dataset
    from course_utils.models import DenseAutoencoder
    from course_utils.reproducibility import set_seed
    from course_utils.training import CosineByProgress, fit_with_budget

    set_seed(SEEDS["model"])
    model = DenseAutoencoder(latent_dim=2)
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), loss="mse")
    load_before = os.getloadavg()
    fit = fit_with_budget(model, make_dataset(data["x_fit"], data["x_fit"], batch_size=args.batch_size,
                                              seed=SEEDS["model"]),
                          epochs=args.epochs, time_budget_s=args.seconds, validation_data=(data["x_val"], data["x_val"]),
                          callbacks=[CosineByProgress(args.learning_rate, args.seconds)])
    return model, {"design": model.hyperparameters, "params": int(model.count_params()), "train_seconds": fit.seconds,
                   "epochs": fit.epochs_run, "steps": fit.steps, "stopped_by_budget": fit.stopped_by_budget,
                   "history": fit.history, "load_average_before": list(load_before),
                   "load_average_after": list(os.getloadavg())}


def visualisation(args: argparse.Namespace, data: dict) -> dict:
    """Part (1): the 2-D autoencoder, PCA-2 and t-SNE on the same seeded test images, scored in one table."""
    from course_utils.data import take_subset
    from course_utils.evaluation.baselines import PCABaseline
    from course_utils.evaluation.embedding import compare_embeddings, timed, tsne_embedding
    from course_utils.evaluation.metrics import mse

    x, y = take_subset([data["x_test"], data["y_test"]], args.embed, seed=SEEDS["embedding_subset"])
    model, ae = train_ae_2d(args, data)
    ae_codes, ae_embed = timed(model.encoder.predict, x, batch_size=1000, verbose=0)
    pca, pca_fit = timed(PCABaseline(2, seed=0).fit, data["x_fit"])
    pca_codes, pca_embed = timed(pca.encode, x)
    print("t-SNE ...", flush=True)
    tsne_codes, tsne_seconds = timed(tsne_embedding, x, seed=SEEDS["tsne"], perplexity=args.perplexity)
    seconds = {"autoencoder (2-D code)": (ae["train_seconds"], ae_embed), "PCA-2": (pca_fit, pca_embed),
               "t-SNE": (tsne_seconds, tsne_seconds)}  # t-SNE's fit is its embedding: one run
    embeddings = {"autoencoder (2-D code)": (ae_codes, ae["train_seconds"] + ae_embed),
                  "PCA-2": (pca_codes, pca_fit + pca_embed), "t-SNE": (tsne_codes, tsne_seconds)}
    rows = compare_embeddings(x, y, embeddings, k=args.k, folds=args.folds, seed=SEEDS["knn_folds"])
    recon = {"autoencoder (2-D code)": mse(x, model.predict(x, batch_size=1000, verbose=0)),
             "PCA-2": mse(x, pca.reconstruct(x))}
    for row in rows:
        fit, embed = seconds[row["method"]]
        row.update(fit_seconds=fit, embed_seconds=embed, reconstruction_mse=recon.get(row["method"]),
                   embeds_new_points=row["method"] != "t-SNE")
        print(row, flush=True)
    return {"images": len(x), "rows": rows, "autoencoder": ae}


def feature_sets(args: argparse.Namespace, data: dict) -> tuple[dict, dict]:
    """Training and test features of the pretrained encoders, PCA and the pixels, and the seconds each took."""
    from course_utils.evaluation.baselines import PCABaseline
    from course_utils.evaluation.embedding import timed
    from course_utils.pretrained import load_pretrained

    features, seconds = {}, {}
    for name in PRETRAINED:
        encoder = load_pretrained(name).encoder
        (train, test), seconds[name] = timed(lambda e=encoder: tuple(e.predict(data[key], batch_size=1000, verbose=0)
                                                                     for key in ("x_fit", "x_test")))
        features[name] = (train, test)
    pca, fit = timed(PCABaseline(args.probe_dim, seed=0).fit, data["x_fit"])
    (train, test), encode = timed(lambda: (pca.encode(data["x_fit"]), pca.encode(data["x_test"])))
    features[f"PCA-{args.probe_dim}"], seconds[f"PCA-{args.probe_dim}"] = (train, test), fit + encode
    features["raw pixels"] = tuple(data[key].reshape(len(data[key]), -1) for key in ("x_fit", "x_test"))
    seconds["raw pixels"] = 0.0
    return features, seconds


def retrieval(args: argparse.Namespace, data: dict, features: dict) -> dict:
    """Part (3): precision@k of the training images nearest to seeded test queries, in each feature space."""
    from course_utils.evaluation.embedding import nearest_neighbours, precision_at_k, timed

    index = np.random.default_rng(SEEDS["queries"]).permutation(len(data["x_test"]))[:args.queries]
    rows = {}
    for name, (train, test) in features.items():
        (neighbours, _), seconds = timed(nearest_neighbours, test[index], train, k=args.retrieve)
        rows[name] = {"precision": precision_at_k(neighbours, data["y_test"][index], data["y_fit"]),
                      "seconds": seconds}
        print(f"retrieval {name}: precision@{args.retrieve} {rows[name]['precision']:.4f}", flush=True)
    return {"queries": len(index), "k": args.retrieve, "rows": rows}


def run(args: argparse.Namespace) -> dict:
    """The three parts on one split, with the machine, its load and the settings."""
    import keras
    import sklearn
    import tensorflow as tf

    from course_utils.evaluation.embedding import probe_curve
    from course_utils.evaluation.representation import PROBE_MAX_ITER, PROBE_SOLVER

    start, load_start = time.perf_counter(), os.getloadavg()
    data = load_data(args.quick)
    embedding = visualisation(args, data)
    features, feature_seconds = feature_sets(args, data)
    probe_start = time.perf_counter()
    curve = probe_curve(features, data["y_fit"], data["y_test"], sizes=PROBE_SIZES, seeds=SEEDS["probe_subsets"])
    probe = {"curve": curve, "dims": {name: int(train.shape[1]) for name, (train, _) in features.items()},
             "feature_seconds": feature_seconds, "seconds": time.perf_counter() - probe_start,
             "probe": f"StandardScaler + LogisticRegression(solver={PROBE_SOLVER!r}, max_iter={PROBE_MAX_ITER})"}
    return {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "quick": bool(args.quick), "embedding": embedding,
            "probe": probe, "retrieval": retrieval(args, data, features),
            "data": {"train": len(data["x_fit"]), "validation": len(data["x_val"]), "test": len(data["x_test"])},
            "seeds": SEEDS, "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "tensorflow": tf.__version__, "keras": keras.__version__, "scikit-learn": sklearn.__version__,
                        "numpy": np.__version__, "gpus": len(tf.config.list_physical_devices("GPU")),
                        "load_average_start": list(load_start), "load_average_end": list(os.getloadavg())},
            "total_seconds": time.perf_counter() - start}


def _layers(design: dict) -> str:
    """The layer widths of a dense autoencoder's design, e.g. '784-512-256-2-256-512-784, batch norm'."""
    pixels, hidden = int(np.prod(design["input_shape"])), design["hidden_units"]
    widths = [pixels, *hidden, design["latent_dim"], *reversed(hidden), pixels]
    return "-".join(str(w) for w in widths) + (", batch norm" if design["batch_norm"] else "")


def _loads(values) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def to_markdown(result: dict) -> str:
    """A readable report of one benchmark run."""
    machine, embedding, settings = result["machine"], result["embedding"], result["settings"]
    ae, k, n = embedding["autoencoder"], settings["k"], embedding["images"]
    data = result["data"]
    lines = [
        "# Chapter 05 benchmark: autoencoder codes as representations of Fashion-MNIST", "",
        (f"Run {result['date']} on {machine['cpus']} CPUs, {machine['gpus']} GPUs, TensorFlow {machine['tensorflow']}, "
         f"Keras {machine['keras']}, scikit-learn {machine['scikit-learn']}; {result['total_seconds']:.0f} s in all. "
         f"Load average (1, 5, 15 min) at the start {_loads(machine['load_average_start'])}, at the end "
         f"{_loads(machine['load_average_end'])} (2 cores: above 2, other work shared the CPU)."),
        (f"Data: {data['train']:,} training images (the training split minus the 10 % validation split, seed 0, that "
         f"the pretrained checkpoints also left out), {data['validation']:,} validation images, {data['test']:,} test "
         f"images. Seeds: {json.dumps(result['seeds'])}."), "",
        f"## 1. Two dimensions: an autoencoder's 2-D code, PCA-2 and t-SNE on the same {n:,} test images", "",
        (f"Autoencoder: `DenseAutoencoder(latent_dim=2)` ({_layers(ae['design'])}, {ae['params']:,} parameters), MSE, Adam {settings['learning_rate']:g} with cosine decay over the budget, batch "
         f"{settings['batch_size']}: {ae['train_seconds']:.0f} s, {ae['epochs']} epochs, {ae['steps']} steps"
         f"{' (stopped by the time budget)' if ae['stopped_by_budget'] else ''}, final validation MSE "
         f"{ae['history']['val_loss'][-1]:.5f}. PCA-2 is fitted on the same {data['train']:,} training images. "
         f"t-SNE (scikit-learn, PCA initialisation, perplexity {settings['perplexity']:g}) runs on the {n:,} test "
         "images' pixels themselves."),
        (f"{k}-NN accuracy: each image classified by its {k} nearest neighbours in the embedding, stratified "
         f"{settings['folds']}-fold. Trustworthiness (k = {k}): 1 when every embedding neighbourhood holds only "
         "input-space neighbours (scikit-learn's `trustworthiness`, Euclidean distances between pixel vectors)."), "",
        (f"| method | {k}-NN accuracy | trustworthiness | fit s | embed s ({n:,} images) | embeds a new image | "
         "reconstruction MSE |"), "|---|---:|---:|---:|---:|---|---:|"]
    for row in embedding["rows"]:
        new = "yes (a function)" if row["embeds_new_points"] else "no: rerun on every point"
        recon = "-" if row["reconstruction_mse"] is None else f"{row['reconstruction_mse']:.5f}"
        embed = "(same run)" if row["method"] == "t-SNE" else f"{row['embed_seconds']:.3f}"
        lines.append(f"| {row['method']} | {row['knn_accuracy']:.4f} | {row['trustworthiness']:.4f} | "
                     f"{row['fit_seconds']:.1f} | {embed} | {new} | {recon} |")
    probe = result["probe"]
    curve = probe["curve"]
    sizes = next(iter(curve.values()))["labels"]
    lines += ["", "## 2. Few labels: a linear probe on 32-number codes, PCA-32 and the pixels", "",
              (f"Probe: {probe['probe']} on the features of the labelled training images, scored on all "
               f"{data['test']:,} test images. The {', '.join(f'{s:,}' for s in sizes[:-1])} labels are seeded draws "
               f"from the {data['train']:,} training images (mean +- std over seeds {SEEDS['probe_subsets']}); "
               f"'all' is every one of them, one run. Codes: the pretrained `dense_ae_32` and `conv_ae_32` "
               "(trained on the same training images)."), "",
              "| features | dims | " + " | ".join(f"{s:,} labels" for s in sizes) + " | encode s |",
              "|---|---:|" + "---:|" * (len(sizes) + 1)]
    for name, points in curve.items():
        cells = [f"{m:.4f} +- {s:.4f}" if len(r) > 1 else f"{m:.4f}"
                 for m, s, r in zip(points["mean"], points["std"], points["runs"])]
        lines.append(f"| {name} | {probe['dims'][name]} | " + " | ".join(cells) +
                     f" | {probe['feature_seconds'][name]:.1f} |")
    ret = result["retrieval"]
    lines += ["", f"## 3. Retrieval: the {ret['k']} training images nearest to a test query", "",
              (f"Precision@{ret['k']}: the share of the {ret['k']} nearest training images (Euclidean distance in the "
               f"feature space, among {data['train']:,}) that have the query's class, averaged over {ret['queries']:,} "
               f"seeded test queries."), "",
              f"| features | precision@{ret['k']} | search s |", "|---|---:|---:|"]
    lines += [f"| {name} | {row['precision']:.4f} | {row['seconds']:.1f} |" for name, row in ret["rows"].items()]
    history = ae["history"]
    lines += ["", "## The 2-D autoencoder's training", "", "| epoch | loss | validation loss |", "|---:|---:|---:|"]
    lines += [f"| {epoch} | {loss:.5f} | {val:.5f} |"
              for epoch, (loss, val) in enumerate(zip(history["loss"], history["val_loss"]), start=1)]
    lines += ["", ("Timings depend on the machine and on what else runs on it. Produced by "
                   "`nice -n 5 python benchmarks/embeddings.py`; never edited by hand.")]
    return "\n".join(lines) + "\n"


def main(argv=None) -> dict:
    """Run the benchmark and write JSON and markdown results."""
    args = parse_args(argv)
    result = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "embeddings.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "embeddings.md").write_text(to_markdown(result))
    print(to_markdown(result))
    return result


if __name__ == "__main__":
    main()
