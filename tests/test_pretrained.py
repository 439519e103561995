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
        assert entry["produced_by"] in (f"python benchmarks/pretrained.py --only {name}", GAN_PRODUCER), \
            "a smoke-test or hand-made file"
        assert entry["check"]["metric"] in entry["metrics"] and entry["check"]["tolerance"] > 0


def test_registry_matches_the_settings_of_the_script_that_produced_it():
    checkpoints, gan = _script().CHECKPOINTS, _script("gan")
    for name, entry in REGISTRY.items():
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
