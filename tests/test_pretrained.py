"""Pretrained checkpoints: the registry, checksums, clear errors, and every checkpoint's recorded metric re-measured."""
from __future__ import annotations

import importlib.util
import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from course_utils import pretrained
from course_utils.pretrained import PretrainedError

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"dense_ae_32", "conv_ae_32", "sr_transposed_x2", "sr_resize_x2", "sr_subpixel_x2", "fashion_classifier"}
FIELDS = {"file", "sha256", "bytes", "model", "produced_by", "data", "metrics", "check", "training", "history",
          "created", "versions"}
REGISTRY = pretrained.read_registry()
GAN_PRODUCER = "python benchmarks/gan.py"  # the DCGAN's generator: the chapter 08 benchmark trains and registers it
AAE_PRODUCER = "python benchmarks/aae.py"  # chapter 09's mixture AAE and adversarial VAE


def _script(name: str = "pretrained"):
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_registry_lists_the_reference_models_within_the_size_limit():
    assert REQUIRED <= set(REGISTRY), f"missing checkpoints: {sorted(REQUIRED - set(REGISTRY))}"
    assert sum(entry["bytes"] for entry in REGISTRY.values()) < 25e6
    for name, entry in REGISTRY.items():
        assert FIELDS <= set(entry), f"{name} lacks {sorted(FIELDS - set(entry))}"
        assert entry["file"] == f"{name}.weights.h5" and (pretrained.WEIGHTS_DIR / entry["file"]).stat().st_size == entry["bytes"]
        assert entry["produced_by"] in (f"python benchmarks/pretrained.py --only {name}", GAN_PRODUCER, AAE_PRODUCER), \
            "a smoke-test or hand-made file"
        assert entry["check"]["metric"] in entry["metrics"] and entry["check"]["tolerance"] > 0


def test_registry_matches_the_settings_of_the_script_that_produced_it():
    checkpoints, gan, aae = _script().CHECKPOINTS, _script("gan"), _script("aae")
    for name, entry in REGISTRY.items():
        if entry["produced_by"] == AAE_PRODUCER:
            assert name in aae.CHECKPOINTS.values() and pretrained.storage_of(entry) == "float16"
            layout = aae.TWO_D if entry["model"]["kind"] == "dense_aae" else aae.SIXTEEN_D
            assert {k: entry["model"]["kwargs"][k] for k in layout} == layout
            assert entry["training"]["batch_size"] == aae.TRAIN["batch_size"] and entry["training"]["seed"] == aae.SEED
            continue
        if entry["produced_by"] == GAN_PRODUCER:
            assert name == gan.CHECKPOINT and entry["model"]["kind"] == "dcgan_generator"
            assert entry["model"]["kwargs"] == {**gan.DESIGN, "batch_norm": gan.TRAIN["batch_norm"], "seed": gan.SEED}
            assert {k: entry["training"][k] for k in ("loss", "batch_size", "beta_1", "ema_decay")} == {
                k: gan.TRAIN[k] for k in ("loss", "batch_size", "beta_1", "ema_decay")}
            continue
        config = checkpoints[name]
        assert entry["model"] == {"kind": config["kind"], "kwargs": config["kwargs"]}
        assert entry["check"]["metric"] == config["metric"] and entry["check"]["subset"] == config["subset"]
        assert {k: entry["training"][k] for k in config["train"]} == config["train"]
        assert pretrained.storage_of(entry) == config.get("storage", "float32"), f"{name}: run --compact {name}"


def test_the_checkpoint_summaries_list_every_registered_checkpoint_as_registered():
    summary = json.loads((ROOT / "benchmarks" / "results" / "pretrained.json").read_text(encoding="utf-8"))["checkpoints"]
    assert set(summary) == set(REGISTRY), "rerun: python benchmarks/pretrained.py --summaries-only"
    for name, entry in REGISTRY.items():
        assert (summary[name]["sha256"], summary[name]["metrics"]) == (entry["sha256"], entry["metrics"]), \
            f"{name}: the summary is stale; rerun: python benchmarks/pretrained.py --summaries-only"
    table = (ROOT / "benchmarks" / "results" / "pretrained.md").read_text(encoding="utf-8")
    assert all(f"| {name} |" in table for name in REGISTRY)


def test_checkpoints_ship_with_the_package():
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "weights/*.weights.h5" in package_data["course_utils"]


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_each_checkpoint_loads_and_reproduces_its_recorded_metric(name):
    result = pretrained.measure_checkpoint(name)
    assert abs(result["measured"] - result["recorded"]) <= result["tolerance"], result


def test_the_classifier_reaches_the_accuracy_the_generative_metrics_need():
    assert REGISTRY["fashion_classifier"]["metrics"]["test_accuracy"] >= 0.92


def test_classifier_features_are_the_penultimate_layer():
    model = pretrained.load_pretrained("fashion_classifier")
    x = np.random.default_rng(0).random((3, 28, 28, 1), dtype=np.float32)
    features = model.features(x)
    assert features.shape == (3, 128) and np.all(features >= 0)
    logits = features @ model.logits.kernel.numpy() + model.logits.bias.numpy()
    np.testing.assert_allclose(logits, np.asarray(model(x)), rtol=1e-4, atol=1e-4)


def test_classifier_keras_round_trip(tmp_path):
    import keras

    from course_utils.models.classifier import FashionClassifier

    model = FashionClassifier(filters=(4, 8), feature_dim=16)
    x = np.random.default_rng(1).random((2, 28, 28, 1), dtype=np.float32)
    model.save(tmp_path / "classifier.keras")
    loaded = keras.models.load_model(tmp_path / "classifier.keras")
    assert type(loaded) is FashionClassifier and loaded.feature_dim == 16
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-6)


def test_weights_load_into_a_model_written_out_in_a_notebook():
    from course_utils.models import make_sr_model

    mine = pretrained.load_pretrained("sr_subpixel_x2", into=make_sr_model("subpixel", 2, filters=32, depth=4))
    reference = pretrained.load_pretrained("sr_subpixel_x2")
    for a, b in zip(mine.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(PretrainedError, match="does not fit"):
        pretrained.load_pretrained("sr_subpixel_x2", into=make_sr_model("subpixel", 2, filters=8, depth=4))


def test_pretrained_info_prints_provenance(capsys):
    entry = pretrained.pretrained_info("dense_ae_32")
    out = capsys.readouterr().out
    assert entry == REGISTRY["dense_ae_32"]
    assert "python benchmarks/pretrained.py --only dense_ae_32" in out and "test_mse" in out
    history = pretrained.pretrained_history("dense_ae_32")
    assert len(history["loss"]) == len(history["val_loss"]) == entry["training"]["epochs_run"]


def test_sr_data_are_the_patches_and_validation_split_the_script_made(tmp_path):
    name, patches = "sr_resize_x4", 40  # the real entry with fewer patches: same code path, a fraction of the time
    entry = json.loads(json.dumps(REGISTRY[name]))
    entry["training"]["patches"] = patches
    (tmp_path / pretrained.REGISTRY_FILE).write_text(json.dumps({"format": pretrained.REGISTRY_FORMAT,
                                                                  "checkpoints": {name: entry}}))
    script = _script()
    config = dict(script.CHECKPOINTS[name], train=dict(script.CHECKPOINTS[name]["train"], patches=patches))
    expected, _ = script.training_data(name, config, quick=False)
    ours = pretrained.pretrained_sr_data(name, weights_dir=tmp_path)
    for mine, theirs in zip(ours, expected):  # (training, validation)
        for a, b in zip(mine, theirs):  # (low_res, high_res)
            np.testing.assert_array_equal(a, b)
    assert [len(part[0]) for part in ours] == [36, 4] and ours[1][1].shape == (4, 96, 96, 1)
    limited = pretrained.pretrained_sr_data(name, weights_dir=tmp_path, train_limit=6)  # lab mode: little memory
    for mine, full, n in zip(limited, ours, (6, 4)):
        for a, b in zip(mine, full):
            np.testing.assert_array_equal(a, b[:n])


def test_sr_checkpoints_of_a_scale_share_their_patches_and_record_the_split_sizes():
    fraction = pretrained.VALIDATION_SPLIT["fraction"]
    shared = {}
    for name, entry in REGISTRY.items():
        if entry["model"]["kind"] != "super_resolution":
            continue
        training = entry["training"]
        assert training["validation_size"] == round(training["patches"] * fraction), name
        assert training["train_size"] == training["patches"] - training["validation_size"], name
        settings = (training["patches"], training["low_res_size"], training["seed"])
        assert shared.setdefault(entry["model"]["kwargs"]["scale"], settings) == settings, name


def test_sr_data_of_another_kind_is_a_clear_error():
    with pytest.raises(ValueError, match="'dense_ae_32' is a dense_autoencoder, not a super-resolution model.*sr_resize_x2"):
        pretrained.pretrained_sr_data("dense_ae_32")


@pytest.fixture
def weights_copy(tmp_path):
    """A registry with one small checkpoint, copied to a temporary folder that tests may damage."""
    name = "sr_subpixel_x2"
    registry = {"format": pretrained.REGISTRY_FORMAT, "checkpoints": {name: REGISTRY[name]}}
    (tmp_path / pretrained.REGISTRY_FILE).write_text(json.dumps(registry))
    shutil.copy(pretrained.WEIGHTS_DIR / REGISTRY[name]["file"], tmp_path)
    return tmp_path, name


def test_unknown_name_lists_the_known_checkpoints(weights_copy):
    folder, name = weights_copy
    with pytest.raises(PretrainedError, match=f"no pretrained checkpoint named 'vae'; known checkpoints: {name}"):
        pretrained.load_pretrained("vae", weights_dir=folder)


def test_missing_file_says_how_to_regenerate_it(weights_copy):
    folder, name = weights_copy
    (folder / f"{name}.weights.h5").unlink()
    with pytest.raises(PretrainedError, match=f"missing. Regenerate it with `python benchmarks/pretrained.py --only {name}`"):
        pretrained.load_pretrained(name, weights_dir=folder)


def test_altered_file_fails_its_checksum(weights_copy):
    folder, name = weights_copy
    path = folder / f"{name}.weights.h5"
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(PretrainedError, match="has SHA-256 .* but the registry records .*altered.*Regenerate"):
        pretrained.load_pretrained(name, weights_dir=folder)
    assert pretrained.checkpoint_path(name) == pretrained.WEIGHTS_DIR / path.name  # the shipped copy is intact


def test_a_newer_registry_format_is_refused(tmp_path):
    (tmp_path / pretrained.REGISTRY_FILE).write_text(json.dumps({"format": 99, "checkpoints": {}}))
    with pytest.raises(PretrainedError, match="format 99"):
        pretrained.read_registry(tmp_path)
    assert pretrained.read_registry(tmp_path / "none") == {}


# ---------------------------------------------------------------------------
# float16 storage: registering, compacting, loading into float32 models
# ---------------------------------------------------------------------------

TINY = dict(kind="dense_autoencoder", kwargs=dict(latent_dim=2, hidden_units=[8], batch_norm=True))
TINY_TRAINING = dict(epochs=0, seconds=0.0, epochs_run=0, stopped_by_time_cap=False, load_average_1min_before=0.0,
                     load_average_1min_after=0.0)  # untrained: the fields the results table shows


def _float_dtypes(path: Path) -> set[str]:
    """The dtypes of every float dataset in an h5 weight file."""
    import h5py

    dtypes = set()
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda _, item: dtypes.add(str(item.dtype))
                          if isinstance(item, h5py.Dataset) and item.dtype.kind == "f" else None)
    return dtypes


def _register_tiny(folder: Path, storage: str, name: str = "tiny_ae") -> tuple[dict, list[np.ndarray]]:
    """Register a tiny seeded dense autoencoder in ``folder``; returns its entry and its float32 weights before saving."""
    from course_utils.reproducibility import set_seed

    set_seed(0)
    model = pretrained.build_model(TINY)
    rng = np.random.default_rng(0)  # moving statistics away from their 0/1 start, so every weight is rounded
    model.set_weights([w + rng.normal(0, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    original = [np.array(w) for w in model.get_weights()]
    entry = pretrained.register_checkpoint(
        name, model, kind=TINY["kind"], kwargs=TINY["kwargs"], produced_by=f"python benchmarks/pretrained.py --only {name}",
        data="tiny", metric="test_mse", check_subset=50, tolerance=1e-5, training=TINY_TRAINING, history={"loss": []},
        storage=storage, weights_dir=folder)
    return entry, original


@pytest.fixture(scope="module")
def float16_registered(tmp_path_factory):
    folder = tmp_path_factory.mktemp("float16")
    entry, original = _register_tiny(folder, "float16")
    return folder, entry, original


def test_a_float16_checkpoint_stores_float16_and_loads_the_rounded_weights_as_float32(float16_registered):
    folder, entry, original = float16_registered
    assert entry["storage"] == "float16" and pretrained.storage_of(entry) == "float16"
    assert _float_dtypes(folder / entry["file"]) == {"float16"}
    loaded = pretrained.load_pretrained("tiny_ae", weights_dir=folder)
    for weights, before in zip(loaded.get_weights(), original, strict=True):
        assert weights.dtype == np.float32  # Keras casts the stored float16 values into the float32 variables
        np.testing.assert_array_equal(weights, before.astype(np.float16).astype(np.float32))
    assert any(not np.array_equal(w, b) for w, b in zip(loaded.get_weights(), original))  # rounding did happen
    result = pretrained.measure_checkpoint("tiny_ae", weights_dir=folder)  # recorded with the stored weights
    assert abs(result["measured"] - result["recorded"]) <= result["tolerance"], result


def test_float32_storage_stays_the_default(tmp_path):
    entry, original = _register_tiny(tmp_path, "float32")
    assert "storage" not in entry and pretrained.storage_of(entry) == "float32"
    assert _float_dtypes(tmp_path / entry["file"]) == {"float32"}
    for weights, before in zip(pretrained.load_pretrained("tiny_ae", weights_dir=tmp_path).get_weights(), original):
        np.testing.assert_array_equal(weights, before)
    with pytest.raises(ValueError, match="storage must be one of float32, float16, got 'bfloat16'"):
        _register_tiny(tmp_path, "bfloat16")


def test_the_float16_copy_rounds_float32_only_and_refuses_overflow(tmp_path):
    import h5py

    source, target = tmp_path / "a.weights.h5", tmp_path / "b.weights.h5"
    with h5py.File(source, "w") as handle:
        handle.attrs["top"] = "kept"
        handle.create_group("layer/vars").attrs["name"] = "dense"
        handle["layer/vars/0"] = np.array([0.1, 1 / 3, -2.5], dtype=np.float32)
        handle["layer/vars/1"] = np.array([7, 2**40], dtype=np.int64)  # e.g. a step counter
        handle["layer/vars/2"] = np.array([0.1], dtype=np.float64)
    pretrained.write_float16_copy(source, target)
    with h5py.File(target, "r") as handle:
        assert handle.attrs["top"] == "kept" and handle["layer/vars"].attrs["name"] == "dense"
        assert handle["layer/vars/0"].dtype == np.float16
        np.testing.assert_array_equal(handle["layer/vars/0"][()], np.float32([0.1, 1 / 3, -2.5]).astype(np.float16))
        assert handle["layer/vars/1"].dtype == np.int64 and list(handle["layer/vars/1"][()]) == [7, 2**40]
        assert handle["layer/vars/2"].dtype == np.float64 and handle["layer/vars/2"][0] == 0.1
    with h5py.File(source, "a") as handle:
        handle["layer/vars/3"] = np.array([1e5], dtype=np.float32)
    with pytest.raises(PretrainedError, match="layer/vars/3: 1 values reach 1e\\+05, beyond float16's largest 65504"):
        pretrained.write_float16_copy(source, target)


def test_compacting_keeps_the_entry_valid_and_records_the_float32_original(tmp_path):
    before, original = _register_tiny(tmp_path, "float32")
    results = tmp_path / "results"
    _script().main(["--compact", "tiny_ae", "--weights-dir", str(tmp_path), "--results", str(results)])
    entry = pretrained.read_registry(tmp_path)["tiny_ae"]
    path = pretrained.checkpoint_path("tiny_ae", weights_dir=tmp_path)  # the new SHA-256 matches
    assert entry["bytes"] == path.stat().st_size < before["bytes"] and entry["sha256"] != before["sha256"]
    assert entry["storage"] == "float16" and _float_dtypes(path) == {"float16"}
    assert entry["compacted"] | {"on": None, "versions": None} == {
        "file": before["file"], "sha256": before["sha256"], "bytes": before["bytes"], "created": before["created"],
        "metrics": before["metrics"], "check_value": before["check"]["value"], "on": None, "versions": None,
        "command": "python benchmarks/pretrained.py --compact tiny_ae"}
    keep = ("file", "model", "produced_by", "data", "training", "history", "created", "versions")
    assert {key: entry[key] for key in keep} == {key: before[key] for key in keep}
    assert entry["check"] | {"value": None} == before["check"] | {"value": None}
    model = pretrained.load_pretrained("tiny_ae", weights_dir=tmp_path)
    assert entry["metrics"]["test_mse"] == pytest.approx(pretrained.reconstruction_mse(model), rel=1e-6)  # as stored
    for weights, original_weights in zip(model.get_weights(), original):
        np.testing.assert_array_equal(weights, original_weights.astype(np.float16).astype(np.float32))
    result = pretrained.measure_checkpoint("tiny_ae", weights_dir=tmp_path)
    assert abs(result["measured"] - result["recorded"]) <= result["tolerance"]
    report = json.loads((results / "pretrained.json").read_text())
    assert report["checkpoints"]["tiny_ae"]["storage"] == "float16" and report["total_bytes"] == entry["bytes"]
    assert "| float16 (compacted; float32:" in (results / "pretrained.md").read_text()
    with pytest.raises(PretrainedError, match="'tiny_ae' is already stored as float16: nothing to compact"):
        pretrained.compact_checkpoint("tiny_ae", weights_dir=tmp_path)


def test_a_repeated_compact_flag_compacts_every_name_it_gives(tmp_path):
    for name in ("tiny_a", "tiny_b", "tiny_c"):
        _register_tiny(tmp_path, "float32", name=name)
    _script().main(["--compact", "tiny_a", "--compact", "tiny_b", "tiny_c", "--weights-dir", str(tmp_path),
                    "--results", str(tmp_path / "results")])  # once, the last flag alone was kept
    registry = pretrained.read_registry(tmp_path)
    assert {name: pretrained.storage_of(registry[name]) for name in registry} == dict.fromkeys(registry, "float16")


def test_a_failed_compaction_leaves_the_float32_checkpoint_as_it_was(tmp_path, monkeypatch):
    before, _ = _register_tiny(tmp_path, "float32")
    files = sorted(p.name for p in tmp_path.iterdir())
    registry = (tmp_path / pretrained.REGISTRY_FILE).read_bytes()

    def broken(model, subset=None):
        raise RuntimeError("the test data could not be read")

    monkeypatch.setitem(pretrained.METRICS, "test_mse", broken)
    with pytest.raises(RuntimeError, match="could not be read"):
        pretrained.compact_checkpoint("tiny_ae", weights_dir=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == files  # no temporary file left behind
    assert (tmp_path / pretrained.REGISTRY_FILE).read_bytes() == registry
    assert pretrained.sha256_of(pretrained.checkpoint_path("tiny_ae", weights_dir=tmp_path)) == before["sha256"]


def test_stored_weights_are_in_the_storage_the_registry_records():
    for name, entry in REGISTRY.items():
        assert pretrained.storage_of(entry) in pretrained.STORAGES, name
        assert _float_dtypes(pretrained.WEIGHTS_DIR / entry["file"]) == {pretrained.storage_of(entry)}, name
        assert ("compacted" in entry) <= (pretrained.storage_of(entry) == "float16"), name
