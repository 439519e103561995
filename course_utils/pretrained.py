"""Pretrained checkpoints of the course's reference models: a registry, a checksummed loader, provenance.

Every checkpoint lives in ``course_utils/weights/`` as a Keras ``.weights.h5`` file and has an entry
in ``course_utils/weights/registry.json``::

    {"format": 1, "checkpoints": {"dense_ae_32": {
        "file": "dense_ae_32.weights.h5", "sha256": "...", "bytes": 4357944,
        "model": {"kind": "dense_autoencoder", "kwargs": {"latent_dim": 32, ...}},
        "produced_by": "python benchmarks/pretrained.py --only dense_ae_32",
        "data": "how the training, validation and test data were chosen",
        "metrics": {"test_mse": 0.0074},                       # measured once, on the whole test split
        "check": {"metric": "test_mse", "subset": 1000, "value": 0.0075, "tolerance": 1e-05},
        "training": {...}, "history": {"loss": [...], "val_loss": [...]}, "created": "...", "versions": {...}}}}

A checkpoint may store its float weights as float16 (``"storage": "float16"``; no ``storage`` means float32):
``register_checkpoint(..., storage="float16")`` writes it so, and ``compact_checkpoint`` (``python
benchmarks/pretrained.py --compact NAME``) rewrites a float32 one, re-measures it and records in ``compacted``
the float32 file and metrics it replaced. Keras casts the float16 values into the model's float32 variables on
loading, so the metrics are measured with exactly the stored, rounded weights.

Checkpoints are written only by ``benchmarks/pretrained.py`` (through ``register_checkpoint``), never by
hand; nothing is downloaded. ``load_pretrained`` rebuilds the architecture from ``model`` and loads the
weights by layer, after checking the file's SHA-256; ``measure_checkpoint`` re-measures ``check`` (the
test suite does, for every checkpoint).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
REGISTRY_FILE = "registry.json"
REGISTRY_FORMAT = 1
SUFFIX = ".weights.h5"
VALIDATION_SPLIT = dict(fraction=0.1, seed=0)  # the split benchmarks/pretrained.py carves from every checkpoint's data
TEST_BINARISATION_SEED = 0  # the fixed binarisation of the Fashion-MNIST test split that VAE likelihoods use (ch. 06)
IWAE_SAMPLES = 100  # importance samples of the IWAE bound a VAE checkpoint records
Patches = tuple[np.ndarray, np.ndarray]  # (low_res, high_res) super-resolution patches
STORAGES = ("float32", "float16")  # how a weight file stores float weights; the models compute in float32 either way


class PretrainedError(RuntimeError):
    """A checkpoint is unknown, missing or altered; the message says how to regenerate it."""


# ---------------------------------------------------------------------------
# Architectures and objectives by kind
# ---------------------------------------------------------------------------

def _dense_autoencoder(**kwargs):
    from course_utils.models import DenseAutoencoder

    return DenseAutoencoder(**kwargs)


def _conv_autoencoder(**kwargs):
    from course_utils.models import ConvAutoencoder

    return ConvAutoencoder(**kwargs)


def _super_resolution(design: str, scale: int, **kwargs):
    from course_utils.models import make_sr_model

    return make_sr_model(design, scale, **kwargs)


def _conv_denoiser(**kwargs):
    from course_utils.models import conv_denoiser

    return conv_denoiser(**kwargs)


def _fashion_classifier(**kwargs):
    from course_utils.models.classifier import FashionClassifier

    return FashionClassifier(**kwargs)


def _residual_unet(**kwargs):
    from course_utils.models import ResidualUNet

    return ResidualUNet(**kwargs)


def _dense_vae(**kwargs):
    from course_utils.models import dense_vae

    return dense_vae(**kwargs)


def _conv_vae(**kwargs):
    from course_utils.models import conv_vae

    return conv_vae(**kwargs)


def _conv_codec(**kwargs):
    from course_utils.models.codec import conv_codec

    return conv_codec(**kwargs)


def _dcgan_generator(**kwargs):
    from course_utils.models.gan import dcgan_generator

    return dcgan_generator(**kwargs)


def _dense_aae(**kwargs):
    from course_utils.models.aae import dense_aae

    return dense_aae(**kwargs)


BUILDERS: dict[str, Callable[..., Any]] = {
    "dense_autoencoder": _dense_autoencoder, "conv_autoencoder": _conv_autoencoder,
    "super_resolution": _super_resolution, "fashion_classifier": _fashion_classifier, "conv_denoiser": _conv_denoiser,
    "residual_unet": _residual_unet, "dense_vae": _dense_vae, "conv_vae": _conv_vae, "conv_codec": _conv_codec,
    "dcgan_generator": _dcgan_generator, "dense_aae": _dense_aae,
}
VAE_KINDS = ("dense_vae", "conv_vae")  # models that own their objective (the negative ELBO in compute_loss)
OWN_LOSS_KINDS = (*VAE_KINDS, "conv_codec")  # compiled with an optimizer only (the codec: rate + lambda * distortion)


def build_model(spec: Mapping[str, Any]):
    """A fresh, untrained model from a registry ``model`` entry: {"kind": ..., "kwargs": {...}}."""
    kind = spec["kind"]
    if kind not in BUILDERS:
        raise PretrainedError(f"unknown model kind {kind!r}; known kinds: {', '.join(sorted(BUILDERS))}")
    return BUILDERS[kind](**spec.get("kwargs", {}))


def compile_for(model, kind: str, learning_rate: float = 1e-3) -> None:
    """Compile ``model`` with the objective of its kind: cross-entropy for the classifier, none for a VAE or a codec,
    else MSE."""
    import keras

    if kind == "dense_aae":  # three optimisers, one per phase (chapter 09)
        model.compile(ae_optimizer=keras.optimizers.Adam(learning_rate))
    elif kind in OWN_LOSS_KINDS:  # a VAE computes its own loss, the negative ELBO; a codec rate + lambda * distortion
        model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    elif kind == "fashion_classifier":
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    else:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse")


# ---------------------------------------------------------------------------
# Metrics that a checkpoint records and the tests re-measure
# ---------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _fashion_test_split() -> tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST test images and labels, read once per process."""
    from course_utils.data import load_fashion_mnist

    return load_fashion_mnist()[1]


def _fashion_test(subset: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The Fashion-MNIST test split, or its seeded subset of ``subset`` images (``take_subset``, seed 0)."""
    from course_utils.data import take_subset

    x_test, y_test = _fashion_test_split()
    return (x_test, y_test) if subset is None else take_subset([x_test, y_test], subset, seed=0)


def reconstruction_mse(model, subset: int | None = None) -> float:
    """Reconstruction MSE on the Fashion-MNIST test split (or its seeded subset of ``subset`` images)."""
    from course_utils.evaluation.metrics import mse

    x, _ = _fashion_test(subset)
    return mse(x, model.predict(x, batch_size=500, verbose=0))


def classification_accuracy(model, subset: int | None = None) -> float:
    """Classification accuracy on the Fashion-MNIST test split (or its seeded subset of ``subset`` images)."""
    x, y = _fashion_test(subset)
    return float(np.mean(model.predict_classes(x) == y))


def held_out_psnr(model, subset: int | None = None) -> float:
    """Mean PSNR (dB) of a super-resolution model on the held-out photographs (the first ``subset`` of them)."""
    from course_utils.data import HELD_OUT_PHOTOS
    from course_utils.evaluation.superres import evaluate_sr

    names = HELD_OUT_PHOTOS if subset is None else HELD_OUT_PHOTOS[:subset]
    return float(np.mean([row["model_psnr"] for row in evaluate_sr(model, model.scale, names)]))


def denoised_psnr(model, subset: int | None = None) -> float:
    """Mean PSNR (dB) of a denoising autoencoder on the test split (or its subset) corrupted by its own noise, seed 0."""
    from course_utils.data.corruption import corrupt
    from course_utils.evaluation.denoisers import mean_psnr

    x, _ = _fashion_test(subset)
    noise = model.corruption
    noisy = corrupt(x, noise.kind, noise.level, rng=0, clip=noise.clip)
    return mean_psnr(x, model.predict(noisy, batch_size=500, verbose=0))


def _one_image(subset: int | None, what: str) -> None:
    if subset not in (None, 1):
        raise ValueError(f"this metric scores one image ({what}): subset must be None or 1, got {subset!r}")


def shepp_logan_psnr(model, subset: int | None = None) -> float:
    """PSNR (dB) of a CT denoiser on the held-out Shepp-Logan phantom's low-dose FBP, one fixed scan (chapter 05)."""
    from course_utils.data.tomography import shepp_logan_pair
    from course_utils.evaluation.denoisers import mean_psnr

    _one_image(subset, "the Shepp-Logan phantom")
    noisy, clean = shepp_logan_pair()
    return mean_psnr(clean, np.clip(model.predict(noisy, verbose=0), 0.0, 1.0))


def microscopy_psnr(model, subset: int | None = None) -> float:
    """PSNR (dB) of a denoiser on the unseen microscopy test image under Poisson-Gaussian noise, one draw (ch. 05)."""
    from course_utils.data.tomography import MICROSCOPY_TEST, microscopy_test_pair
    from course_utils.evaluation.denoisers import mean_psnr

    _one_image(subset, MICROSCOPY_TEST)
    noisy, clean = microscopy_test_pair()
    return mean_psnr(clean, np.clip(model.predict(noisy, verbose=0), 0.0, 1.0))


@lru_cache(maxsize=1)
def _binarised_fashion_test_split() -> np.ndarray:
    """The whole Fashion-MNIST test split binarised once with ``TEST_BINARISATION_SEED``: (10000, 28, 28, 1) of 0/1."""
    from course_utils.evaluation.likelihood import binarise

    return binarise(_fashion_test_split()[0], seed=TEST_BINARISATION_SEED)


def binarised_fashion_test(subset: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The binarised test split (seed TEST_BINARISATION_SEED) and labels, or a seeded subset (take_subset) (ch. 06)."""
    from course_utils.data import take_subset

    x, y = _binarised_fashion_test_split(), _fashion_test_split()[1]
    return (x, y) if subset is None else take_subset([x, y], subset, seed=0)


def iwae_nll(model, subset: int | None = None) -> float:
    """Mean IWAE bound on -log p(x), k = IWAE_SAMPLES, nats, over the binarised test split or its subset (ch. 06)."""
    from course_utils.evaluation.likelihood import iwae_bound

    x, _ = binarised_fashion_test(subset)
    return float(-np.mean(iwae_bound(model, x, k=IWAE_SAMPLES, batch_size=10_000, seed=0)))


def codec_rd_loss(model, subset: int | None = None) -> float:
    """A codec's bpp + lambda * MSE (0-255) on the test split or its subset, from its range-coded bytes (ch. 07)."""
    from course_utils.compression import LearnedCodec
    from course_utils.evaluation.metrics import mse

    x, _ = _fashion_test(subset)
    codec = LearnedCodec(model)
    data = codec.compress(x)
    return float(codec.payload_bits(data).mean() / model.pixels + model.lmbda * mse(x, codec.decompress(data)) * 255.0**2)


SAMPLE_FID_IMAGES = 5000  # the generative benchmarks' sample count: FIDs are comparable at equal counts only


def sample_fid(generator, subset: int | None = None) -> float:
    """Classifier-FID of a generator's samples (z ~ N(0, I), seed 0) against as many test images (chapter 08).

    5,000 samples against the first 5,000 test images (``benchmarks/generative_reference.py``'s setting), or
    ``subset`` of each: FID is biased upwards for small samples, so compare values at the same count only.
    """
    import keras

    from course_utils.evaluation.generative import classifier_fid

    n = SAMPLE_FID_IMAGES if subset is None else int(subset)
    z = keras.random.normal((n, int(generator.input_shape[-1])), seed=0)  # (n, latent_dim)
    samples = np.asarray(generator.predict(z, batch_size=500, verbose=0))  # (n, 28, 28, 1)
    x, _ = _fashion_test_split()
    return classifier_fid(samples, x[:n])


def decoded_sample_fid(model, subset: int | None = None) -> float:
    """Classifier-FID of ``model.sample(n, seed=0)`` (a VAE's or an adversarial AE's decoded prior samples) against
    as many test images: 5,000 of each, or ``subset`` (chapter 09)."""
    from course_utils.evaluation.generative import classifier_fid

    n = SAMPLE_FID_IMAGES if subset is None else int(subset)
    samples = np.asarray(model.sample(n, seed=0))  # (n, 28, 28, 1)
    x, _ = _fashion_test_split()
    return classifier_fid(samples, x[:n])


METRICS: dict[str, Callable[..., float]] = {
    "test_mse": reconstruction_mse, "test_accuracy": classification_accuracy, "held_out_psnr": held_out_psnr,
    "test_denoised_psnr": denoised_psnr, "shepp_logan_psnr": shepp_logan_psnr, "microscopy_psnr": microscopy_psnr,
    "test_iwae100_nll": iwae_nll, "test_codec_rd_loss": codec_rd_loss, "sample_fid": sample_fid,
    "decoded_sample_fid": decoded_sample_fid,
}


# ---------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------

def read_registry(weights_dir: Path = WEIGHTS_DIR) -> dict[str, dict[str, Any]]:
    """Every registered checkpoint by name (an empty dict when there is no registry yet)."""
    path = Path(weights_dir) / REGISTRY_FILE
    if not path.exists():
        return {}
    registry = json.loads(path.read_text(encoding="utf-8"))
    if registry.get("format") != REGISTRY_FORMAT:
        raise PretrainedError(f"{path} has format {registry.get('format')!r}; this course_utils reads format "
                              f"{REGISTRY_FORMAT}. Update course_utils or regenerate with `python benchmarks/pretrained.py`.")
    return registry["checkpoints"]


def pretrained_names(weights_dir: Path = WEIGHTS_DIR) -> list[str]:
    """Names of every registered checkpoint, sorted."""
    return sorted(read_registry(weights_dir))


def _entry(name: str, weights_dir: Path) -> dict[str, Any]:
    registry = read_registry(weights_dir)
    if name not in registry:
        known = ", ".join(sorted(registry)) or "none (the registry is empty)"
        raise PretrainedError(f"no pretrained checkpoint named {name!r}; known checkpoints: {known}")
    return registry[name]


def sha256_of(path: Path) -> str:
    """SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_path(name: str, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """The verified weight file of ``name``: raises ``PretrainedError`` if it is missing or its SHA-256 differs."""
    entry = _entry(name, weights_dir)
    path = Path(weights_dir) / entry["file"]
    regenerate = (f"Regenerate it with `{entry['produced_by']}` in a source checkout of the course "
                  f"(this also updates {REGISTRY_FILE}), or restore the committed file with "
                  f"`git checkout -- course_utils/weights/{entry['file']}`.")
    if not path.exists():
        raise PretrainedError(f"checkpoint {name!r}: the weight file {path} is missing. {regenerate}")
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise PretrainedError(f"checkpoint {name!r}: {path} has SHA-256 {actual} ({path.stat().st_size} bytes) but the "
                              f"registry records {entry['sha256']} ({entry['bytes']} bytes): the file was altered or "
                              f"belongs to another run. {regenerate}")
    return path


def load_pretrained(name: str, into=None, weights_dir: Path = WEIGHTS_DIR):
    """The model of checkpoint ``name`` with its verified weights loaded, compiled with its objective.

    ``into``: load the weights into this already-built model instead (e.g. the architecture a notebook
    writes out as code); its layers must match the checkpoint's.
    """
    entry = _entry(name, weights_dir)
    path = checkpoint_path(name, weights_dir)
    model = build_model(entry["model"]) if into is None else into
    try:
        model.load_weights(path)
    except ValueError as error:
        raise PretrainedError(f"checkpoint {name!r} does not fit {model.name}: {error}. Its architecture is "
                              f"{entry['model']}.") from error
    if into is None:
        compile_for(model, entry["model"]["kind"])
    return model


def pretrained_info(name: str, verbose: bool = True, weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """The registry entry of ``name``: with ``verbose``, also print where it came from and what it measured."""
    entry = _entry(name, weights_dir)
    if verbose:
        metrics = ", ".join(f"{key} {value:.5g}" for key, value in entry["metrics"].items())
        training = entry.get("training", {})
        print(f"Pretrained checkpoint {name!r} ({entry['file']}, {entry['bytes'] / 1e6:.2f} MB, "
              f"SHA-256 {entry['sha256'][:12]}...)\n"
              f"  model:       {entry['model']['kind']} {entry['model'].get('kwargs', {})}\n"
              f"  produced by: {entry['produced_by']} on {entry['created']}"
              f" ({training.get('epochs_run', '?')} epochs, {training.get('seconds', float('nan')):.0f} s)\n"
              f"  data:        {entry['data']}\n"
              f"  measured:    {metrics}\n"
              f"  storage:     {_storage_text(entry)}")
    return entry


def storage_of(entry: Mapping[str, Any]) -> str:
    """How a registry entry's file stores its float weights: "float32" (the default) or "float16"."""
    return entry.get("storage", "float32")


def _storage_text(entry: Mapping[str, Any]) -> str:
    """The storage of an entry, and what it was compacted from, in words."""
    compacted = entry.get("compacted")
    if not compacted:
        return storage_of(entry)
    before = ", ".join(f"{key} {value:.5g}" for key, value in compacted["metrics"].items())
    return (f"{storage_of(entry)}, compacted on {compacted['on']} from the float32 file of {compacted['created']} "
            f"(SHA-256 {compacted['sha256'][:12]}..., {compacted['bytes'] / 1e6:.2f} MB; {before})")


def pretrained_history(name: str, weights_dir: Path = WEIGHTS_DIR) -> dict[str, list[float]]:
    """The per-epoch training history recorded with ``name`` (``loss``, ``val_loss``, ...), for the same plots."""
    return {key: list(values) for key, values in _entry(name, weights_dir)["history"].items()}


def pretrained_sr_data(name: str, weights_dir: Path = WEIGHTS_DIR,
                       train_limit: int | None = None) -> tuple[Patches, Patches]:
    """The (low_res, high_res) training and validation patches super-resolution checkpoint ``name`` was made with (ch. 03);
    with ``train_limit``, only the first that many training pairs (lab mode: hundreds of MB less memory)."""
    from course_utils.data import sr_patch_dataset
    from course_utils.data.pipeline import validation_indices

    entry = _entry(name, weights_dir)
    if entry["model"]["kind"] != "super_resolution":
        known = ", ".join(key for key, value in read_registry(weights_dir).items()
                          if value["model"]["kind"] == "super_resolution")
        raise ValueError(f"checkpoint {name!r} is a {entry['model']['kind']}, not a super-resolution model, so it has "
                         f"no patches; super-resolution checkpoints: {known}")
    training = entry["training"]
    train, val = validation_indices(training["patches"], VALIDATION_SPLIT["fraction"], VALIDATION_SPLIT["seed"])
    train = train[:train_limit]
    low, high = sr_patch_dataset(entry["model"]["kwargs"]["scale"], training["patches"],
                                 low_res_size=training["low_res_size"], seed=training["seed"],
                                 indices=np.concatenate([train, val]))
    return (low[:len(train)], high[:len(train)]), (low[len(train):], high[len(train):])


# ---------------------------------------------------------------------------
# Checking and writing checkpoints (tests and benchmarks/pretrained.py)
# ---------------------------------------------------------------------------

def measure_checkpoint(name: str, weights_dir: Path = WEIGHTS_DIR) -> dict[str, float]:
    """Re-measure the ``check`` metric of ``name`` on its subset: {"recorded", "measured", "tolerance"}."""
    check = _entry(name, weights_dir)["check"]
    measured = METRICS[check["metric"]](load_pretrained(name, weights_dir=weights_dir), check["subset"])
    return {"recorded": float(check["value"]), "measured": float(measured), "tolerance": float(check["tolerance"])}


def _write_registry(registry: Mapping[str, dict[str, Any]], weights_dir: Path) -> None:
    """Write the registry (sorted by name) through a temporary file, so a failed write leaves the old one."""
    path = Path(weights_dir) / REGISTRY_FILE
    text = json.dumps({"format": REGISTRY_FORMAT, "checkpoints": dict(sorted(registry.items()))}, indent=2)
    temporary = path.with_name(f".{REGISTRY_FILE}.tmp")
    temporary.write_text(text + "\n", encoding="utf-8")
    os.replace(temporary, path)


@contextmanager
def _staged(path: Path) -> Iterator[Path]:
    """A temporary ``.weights.h5`` file next to ``path`` that replaces ``path`` only if the block succeeds."""
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=SUFFIX, dir=path.parent)
    os.close(handle)
    staged = Path(name)
    staged.chmod(path.stat().st_mode & 0o777 if path.exists() else 0o644)  # mkstemp's 0600 would hide it from others
    try:
        yield staged
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def _as_float16(values: np.ndarray, where: str) -> np.ndarray:
    """``values`` rounded to float16; raises ``PretrainedError`` if a finite value overflows float16's range."""
    with np.errstate(over="ignore"):  # reported below, with where
        rounded = values.astype(np.float16)
    overflow = np.isfinite(values) & ~np.isfinite(rounded)
    if np.any(overflow):
        raise PretrainedError(f"{where}: {int(overflow.sum())} values reach {np.abs(values[overflow]).max():.4g}, beyond "
                              f"float16's largest {float(np.finfo(np.float16).max):g}; keep this checkpoint in float32")
    return rounded


def write_float16_copy(source: Path, target: Path) -> None:
    """Copy the h5 weight file ``source`` to ``target`` with every float32 dataset stored as float16, others as they are."""
    import h5py

    with h5py.File(source, "r") as original, h5py.File(target, "w") as copy:
        copy.attrs.update(dict(original.attrs))

        def visit(name: str, item) -> None:
            if isinstance(item, h5py.Group):
                copy.require_group(name).attrs.update(dict(item.attrs))
                return
            values = item[()]
            if item.dtype == np.float32:
                values = _as_float16(values, f"{Path(source).name}:{name}")
            copy.create_dataset(name, data=values).attrs.update(dict(item.attrs))

        original.visititems(visit)


def _measured(model, metric: str, check_subset: int, tolerance: float) -> tuple[dict[str, float], dict[str, Any]]:
    """The ``metrics`` and ``check`` entries of ``model``: ``metric`` on the whole test split and on the check subset."""
    full = float(METRICS[metric](model, None))
    check = {"metric": metric, "subset": int(check_subset), "value": float(METRICS[metric](model, check_subset)),
             "tolerance": float(tolerance)}
    return {metric: full}, check


def _versions() -> dict[str, str]:
    """The TensorFlow and Keras versions in use."""
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__}


def _rounded(values: Any) -> Any:
    """Floats (and lists of them) to 6 significant digits, for a readable registry."""
    if isinstance(values, list):
        return [_rounded(v) for v in values]
    return float(f"{values:.6g}") if isinstance(values, float) else values


def register_checkpoint(name: str, model, *, kind: str, kwargs: Mapping[str, Any], produced_by: str, data: str,
                        metric: str, check_subset: int, tolerance: float, training: Mapping[str, Any],
                        history: Mapping[str, list[float]], storage: str = "float32",
                        weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """Save ``model``'s weights as ``name``, measure ``metric`` (whole test split and check subset), update the registry.

    ``storage="float16"`` stores the float weights as float16 and loads them back into ``model`` before measuring,
    so the recorded metrics are those of the stored, rounded weights.
    """
    if storage not in STORAGES:
        raise ValueError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
    weights_dir = Path(weights_dir)
    weights_dir.mkdir(parents=True, exist_ok=True)
    path = weights_dir / f"{name}{SUFFIX}"
    bare = build_model({"kind": kind, "kwargs": kwargs})  # uncompiled: the file holds no optimizer state
    bare.set_weights(model.get_weights())
    bare.save_weights(path)
    if storage == "float16":
        with _staged(path) as staged:
            write_float16_copy(path, staged)
        bare.load_weights(path)
        model.set_weights(bare.get_weights())  # the model now holds exactly the stored, rounded weights
    metrics, check = _measured(model, metric, check_subset, tolerance)
    entry = {
        "file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
        "model": {"kind": kind, "kwargs": dict(kwargs)}, "produced_by": produced_by, "data": data,
        "metrics": metrics, "check": check,
        "training": {key: _rounded(value) for key, value in training.items()},
        "history": {key: _rounded(list(map(float, values))) for key, values in history.items()},
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "versions": _versions(),
        **({"storage": storage} if storage != "float32" else {}),
    }
    registry = read_registry(weights_dir)
    registry[name] = entry
    _write_registry(registry, weights_dir)
    return entry


def compact_checkpoint(name: str, weights_dir: Path = WEIGHTS_DIR) -> dict[str, Any]:
    """Store float32 checkpoint ``name`` as float16, re-measure its metric and check, and update its registry entry.

    The float16 file is written next to the verified original and replaces it only once it is measured; the entry
    keeps its training record and history and records in ``compacted`` the float32 file and metrics it replaced.
    """
    weights_dir = Path(weights_dir)
    entry = _entry(name, weights_dir)
    if storage_of(entry) != "float32":
        raise PretrainedError(f"checkpoint {name!r} is already stored as {storage_of(entry)}: nothing to compact")
    path = checkpoint_path(name, weights_dir)
    old_check = entry["check"]
    with _staged(path) as staged:
        write_float16_copy(path, staged)
        model = build_model(entry["model"])
        model.load_weights(staged)  # Keras casts the float16 values into the float32 variables
        compile_for(model, entry["model"]["kind"])
        metrics, check = _measured(model, old_check["metric"], old_check["subset"], old_check["tolerance"])
        compacted = {"file": entry["file"], "sha256": entry["sha256"], "bytes": entry["bytes"],
                     "created": entry["created"], "metrics": entry["metrics"], "check_value": old_check["value"],
                     "on": time.strftime("%Y-%m-%d %H:%M:%S"), "versions": _versions(),
                     "command": f"python benchmarks/pretrained.py --compact {name}"}
        updated = {**entry, "sha256": sha256_of(staged), "bytes": staged.stat().st_size, "metrics": metrics,
                   "check": check, "storage": "float16", "compacted": compacted}
    registry = read_registry(weights_dir)
    registry[name] = updated
    _write_registry(registry, weights_dir)
    return updated


__all__ = [
    "BUILDERS", "IWAE_SAMPLES", "METRICS", "STORAGES", "TEST_BINARISATION_SEED", "VAE_KINDS", "VALIDATION_SPLIT",
    "WEIGHTS_DIR", "PretrainedError", "binarised_fashion_test", "build_model", "checkpoint_path", "classification_accuracy",
    "codec_rd_loss", "compact_checkpoint", "compile_for", "decoded_sample_fid", "denoised_psnr", "held_out_psnr", "iwae_nll", "load_pretrained", "measure_checkpoint",
    "microscopy_psnr", "pretrained_history", "pretrained_info", "pretrained_names", "pretrained_sr_data", "read_registry",
    "reconstruction_mse", "register_checkpoint", "sample_fid", "sha256_of", "shepp_logan_psnr", "storage_of",
    "write_float16_copy",
]
