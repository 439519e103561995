"""benchmarks/fid_draws.py: the spread of classifier-FID over noise draws, and issue 15's target on the means."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "fid_draws.py"


def _script():
    spec = importlib.util.spec_from_file_location("fid_draws_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_spread_is_mean_sample_std_and_range():
    got = _script().spread([7.0, 8.0, 9.0])
    assert got == pytest.approx({"mean": 8.0, "std": 1.0, "min": 7.0, "max": 9.0})
    assert _script().spread([5.0])["std"] == 0.0


def test_generator_draws_are_seeded_and_differ_between_seeds():
    from course_utils.models.gan import dcgan_generator

    script = _script()
    generator = dcgan_generator(latent_dim=4, filters=2, seed=0)
    first, again, other = (script.draw_samples(script.GAN, generator, 6, seed) for seed in (0, 0, 1))
    assert first.shape == (6, 28, 28, 1)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_committed_report_is_a_full_run_of_the_current_checkpoints_and_its_verdict_follows():
    from course_utils.pretrained import read_registry

    script = _script()
    report = json.loads((SCRIPT.parent / "results" / "fid_draws.json").read_text(encoding="utf-8"))
    assert not report["quick"] and report["draws"] == list(script.DRAWS) and report["samples"] == script.SAMPLES
    assert (SCRIPT.parent / "results" / "fid_draws.md").read_text(encoding="utf-8") == script.to_markdown(report)
    registry = read_registry()
    for name, model in report["models"].items():  # a retrained checkpoint needs this script rerun
        assert model["sha256"] == registry[name]["sha256"], f"{name} was retrained: rerun benchmarks/fid_draws.py"
        assert len(model["fids"]) == len(script.DRAWS) and model["mean"] == pytest.approx(np.mean(model["fids"]))
    gan_table = json.loads((SCRIPT.parent / "results" / "gan.json").read_text(encoding="utf-8"))
    assert report["models"][script.GAN]["fids"][0] == pytest.approx(  # draw 0 is benchmarks/gan.py's draw
        gan_table["main"]["averaged_generator"]["classifier_fid"], abs=0.01)
    target = report["target"]
    assert target["gan_mean"] == report["models"][script.GAN]["mean"]
    assert target["reached"] == (target["gan_mean"] <= 0.5 * report["models"][script.VAE]["mean"])


def test_quick_run_must_name_where_it_writes():
    script = _script()
    with pytest.raises(SystemExit):
        script.parse_args(["--quick"])
    assert script.parse_args(["--quick", "--out", "/tmp/elsewhere"]).quick
