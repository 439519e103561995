"""Chapter 06's likelihood benchmark: its committed results belong to the checkpoint design the notebook loads."""
from __future__ import annotations

import importlib.util
import itertools
import json
import math
from pathlib import Path

import pytest

from course_utils import pretrained

ROOT = Path(__file__).resolve().parents[1]
RESULTS = json.loads((ROOT / "benchmarks" / "results" / "vae.json").read_text())


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_script", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_were_measured_on_the_checkpoints_current_design():
    """A design changed in benchmarks/pretrained.py without rerunning benchmarks/vae.py leaves stale numbers."""
    config = _script("vae").checkpoint_config()
    design = RESULTS["design"]
    assert design["kind"] == config["kind"]
    assert design["kwargs"] == config["kwargs"]
    assert design["train"] == config["train"]
    assert pretrained.read_registry()["vae_fashion_16"]["model"]["kwargs"] == config["kwargs"]


def test_results_are_a_full_run_on_every_test_image():
    assert not RESULTS["settings"]["quick"]
    assert RESULTS["data"]["iwae_images"] == RESULTS["data"]["test_images"] == 10_000
    assert RESULTS["data"]["test_binarisation_seed"] == pretrained.TEST_BINARISATION_SEED


def test_bounds_tighten_with_k_and_the_target_flags_agree_with_the_numbers():
    bounds = {int(k): v for k, v in RESULTS["vae"]["iwae_nll"].items()}
    ks = sorted(bounds)
    assert ks == [1, 10, 100, 1000]
    assert all(bounds[a] >= bounds[b] for a, b in itertools.pairwise(ks))
    assert math.isclose(RESULTS["vae"]["negative_elbo"], RESULTS["vae"]["rate"] + RESULTS["vae"]["distortion"],
                        rel_tol=1e-6)  # float32 sums
    target = RESULTS["target"]
    assert target["nll_reached"] == (bounds[1000] <= target["nll"])
    assert target["margin_reached"] == (RESULTS["mixture"]["minus_vae"] >= target["margin"])
    assert math.isclose(RESULTS["mixture"]["nll"] - bounds[1000], RESULTS["mixture"]["minus_vae"], abs_tol=1e-6)


def test_the_beta_sweep_trades_rate_for_distortion():
    sweep = sorted(RESULTS["beta_sweep"], key=lambda row: row["beta"])
    assert len(sweep) >= 4
    rates, distortions = [row["rate"] for row in sweep], [row["distortion"] for row in sweep]
    assert rates == sorted(rates, reverse=True)
    assert distortions == sorted(distortions)


def test_quick_runs_cannot_overwrite_the_committed_results():
    with pytest.raises(SystemExit):
        _script("vae").parse_args(["--quick"])
