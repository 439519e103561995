"""Chapter 09's package: priors, MMD and its permutation test, the adversarial autoencoder, the VAE with a chosen
prior and the VAE with an adversarial loss."""
from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from scipy.stats import multivariate_normal

from course_utils.evaluation.two_sample import median_bandwidth, mmd2, mmd_test
from course_utils.models.aae import AdversarialAutoencoder, dense_aae, repeat_labelled
from course_utils.models.priors import GaussianMixturePrior, GaussianPrior, prior_from_config
from course_utils.models.vae import VAEWithPrior, dense_vae
from course_utils.models.vaegan import AdversarialVAE, dense_adversarial_vae

RNG = np.random.default_rng(0)


def _images(n: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, 28, 28, 1)).astype("float32")


# ---------------------------------------------------------------------------
# Priors
# ---------------------------------------------------------------------------

def test_gaussian_prior_moments_and_density():
    prior = GaussianPrior(3)
    z = np.asarray(prior.sample(20_000, seed=1))
    assert z.shape == (20_000, 3)
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.03)
    np.testing.assert_allclose(np.cov(z.T), np.eye(3), atol=0.04)
    points = RNG.normal(size=(5, 3))
    np.testing.assert_allclose(prior.log_density(points), multivariate_normal(np.zeros(3)).logpdf(points), rtol=1e-5)


def test_mixture_prior_moments_components_and_density():
    prior = GaussianMixturePrior(n_components=10, dim=2, radius=4.0, std=0.5)
    z = np.asarray(prior.sample(30_000, seed=2))
    np.testing.assert_allclose(z.mean(0), 0.0, atol=0.06)  # the centres sit on a circle around 0
    # E|z|^2 = radius^2 + dim * std^2 for components centred on the circle
    assert np.mean(np.sum(z**2, axis=1)) == pytest.approx(16.0 + 2 * 0.25, rel=0.02)
    counts = np.bincount(prior.nearest_component(z), minlength=10)
    assert counts.min() > 2_700 and counts.max() < 3_300
    points = RNG.normal(size=(6, 2)) * 3
    expected = np.log(np.mean([multivariate_normal(c, 0.25 * np.eye(2)).pdf(points) for c in prior.centres], axis=0))
    np.testing.assert_allclose(prior.log_density(points), expected, rtol=1e-5)


def test_mixture_prior_samples_the_component_of_each_label():
    prior = GaussianMixturePrior()
    labels = np.array([0, 3, 9, 7] * 50)
    z = np.asarray(prior.sample(len(labels), seed=3, labels=labels))
    assert np.mean(prior.nearest_component(z) == labels) > 0.97
    unlabelled = np.asarray(prior.sample(2000, seed=3, labels=-np.ones(2000, int)))
    assert len(np.unique(prior.nearest_component(unlabelled))) == 10


def test_priors_round_trip_through_their_config_and_refuse_bad_arguments():
    for prior in (GaussianPrior(4), GaussianMixturePrior(6, 3, radius=2.0, std=0.3)):
        again = prior_from_config(prior.get_config())
        assert type(again) is type(prior) and again.get_config() == prior.get_config()
    with pytest.raises(ValueError, match="n_components >= 2"):
        GaussianMixturePrior(n_components=1)
    with pytest.raises(ValueError, match="unknown prior"):
        prior_from_config({"name": "swiss"})
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        GaussianMixturePrior().log_density(np.zeros((3, 5)))


# ---------------------------------------------------------------------------
# MMD and the permutation test
# ---------------------------------------------------------------------------

def _mmd2_by_loops(x: np.ndarray, y: np.ndarray, h: float) -> float:
    k = lambda a, b: math.exp(-np.sum((a - b) ** 2) / (2 * h * h))
    n, m = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(a, b) for a in x for b in y) / (n * m)
    return xx + yy - 2 * xy


def test_mmd2_matches_the_definition_with_loops():
    x, y = RNG.normal(size=(12, 2)), RNG.normal(size=(9, 2)) + 0.5
    assert mmd2(x, y, bandwidth=1.3) == pytest.approx(_mmd2_by_loops(x, y, 1.3), rel=1e-10)
    assert mmd_test(x, y, n_permutations=5, bandwidth=1.3)["mmd2"] == pytest.approx(_mmd2_by_loops(x, y, 1.3), rel=1e-10)


def test_mmd2_scatters_around_zero_for_one_distribution_and_grows_with_a_shift():
    same = [mmd2(RNG.normal(size=(200, 2)), RNG.normal(size=(200, 2)), bandwidth=1.0) for _ in range(40)]
    assert abs(np.mean(same)) < 3 * np.std(same) / math.sqrt(len(same))  # unbiased: mean zero within its error
    assert min(same) < 0 < max(same)
    shifts = [mmd2(RNG.normal(size=(200, 2)), RNG.normal(size=(200, 2)) + shift, bandwidth=1.0) for shift in (0.5, 1, 2)]
    assert 0 < shifts[0] < shifts[1] < shifts[2]


def test_permutation_test_rejects_a_shift_and_not_a_second_draw():
    shifted = mmd_test(RNG.normal(size=(150, 2)), RNG.normal(size=(150, 2)) + 0.6, n_permutations=99, seed=1)
    assert shifted["p_value"] == pytest.approx(0.01)  # no shuffling beats the real split
    p_values = [mmd_test(RNG.normal(size=(60, 2)), RNG.normal(size=(60, 2)), n_permutations=49, seed=s)["p_value"]
                for s in range(30)]
    assert 0.3 < np.mean(p_values) < 0.7  # uniform under the null
    assert median_bandwidth(np.zeros((3, 2)), np.ones((3, 2))) == pytest.approx(math.sqrt(2))


def test_mmd_refuses_bad_input():
    with pytest.raises(ValueError, match="same dimension"):
        mmd2(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="n >= 2"):
        mmd_test(np.zeros((1, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="finite"):
        mmd2(np.full((3, 2), np.nan), np.zeros((3, 2)))


# ---------------------------------------------------------------------------
# The adversarial autoencoder
# ---------------------------------------------------------------------------

def _small_aae(**kwargs) -> AdversarialAutoencoder:
    return dense_aae(hidden_units=(32, 16), discriminator_units=(16,), seed=0, **kwargs)


def _snapshot(model: keras.Model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]


def _changed(before: list[np.ndarray], model: keras.Model) -> bool:
    return any(not np.array_equal(b, keras.ops.convert_to_numpy(a)) for b, a in zip(before, model.trainable_weights))


def test_aae_shapes_and_sampling():
    aae = _small_aae()
    x = _images(8)
    assert aae.encode(x).shape == (8, 2) and aae(x).shape == (8, 28, 28, 1)
    samples = np.asarray(aae.sample(5, seed=0))
    assert samples.shape == (5, 28, 28, 1) and samples.min() >= 0 and samples.max() <= 1
    np.testing.assert_array_equal(samples, np.asarray(aae.sample(5, seed=0)))


def test_each_phase_updates_only_its_own_weights():
    keras.utils.set_random_seed(0)
    aae = _small_aae()
    aae.compile()
    x = keras.ops.convert_to_tensor(_images(16))
    labels = -keras.ops.ones((16,), dtype="int32")
    parts = (aae.encoder, aae.decoder, aae.discriminator)
    expected = {"reconstruction_step": (True, True, False), "discriminator_step": (False, False, True),
                "generator_step": (True, False, False)}
    for phase, moved in expected.items():
        before = [_snapshot(part) for part in parts]
        step = getattr(aae, phase)
        step(x) if phase == "reconstruction_step" else step(x, labels)
        assert tuple(_changed(b, part) for b, part in zip(before, parts)) == moved, phase


def test_aae_losses_fall_and_codes_move_towards_the_prior():
    keras.utils.set_random_seed(1)
    x = _images(256, seed=1) ** 3  # mostly dark images with bright specks
    aae = _small_aae()
    aae.compile(ae_optimizer=keras.optimizers.Adam(3e-3))
    history = aae.fit(x, batch_size=64, epochs=8, verbose=0).history
    assert history["reconstruction_loss"][-1] < history["reconstruction_loss"][0]
    assert set(history) == {"reconstruction_loss", "d_loss", "g_loss", "d_prior", "d_codes"}
    assert all(np.isfinite(v).all() for v in history.values())


def test_labelled_aae_judges_codes_with_their_label_slots():
    aae = _small_aae(n_classes=10)
    assert aae.discriminator.input_shape[-1] == 2 + 11
    aae.compile()
    labels = np.array([0, 1, -1, 9] * 4)
    logs = aae.fit(_images(16), labels, batch_size=16, epochs=1, verbose=0).history
    assert np.isfinite(logs["d_loss"][0])


def test_aae_round_trips_through_a_keras_file(tmp_path):
    aae = _small_aae(n_classes=10)
    aae.compile()
    aae.fit(_images(32), np.arange(32) % 10, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "aae.keras"
    aae.save(path)
    again = keras.saving.load_model(path)
    assert isinstance(again, AdversarialAutoencoder) and again.n_classes == 10
    assert again.prior.get_config() == aae.prior.get_config()
    x = _images(4, seed=5)
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(aae(x)), atol=1e-6)
    for name in ("ae_optimizer", "d_optimizer", "g_optimizer"):
        assert int(getattr(again, name).iterations) == int(getattr(aae, name).iterations) == 2


def test_aae_refuses_mismatched_parts_and_a_shared_optimiser():
    aae = _small_aae()
    with pytest.raises(ValueError, match="prior has 3 dimensions"):
        AdversarialAutoencoder(aae.encoder, aae.decoder, aae.discriminator, GaussianPrior(3))
    with pytest.raises(ValueError, match="read 13 numbers"):
        AdversarialAutoencoder(aae.encoder, aae.decoder, aae.discriminator, aae.prior, n_classes=10)
    with pytest.raises(ValueError, match="one per class"):
        dense_aae(hidden_units=(8,), n_classes=12)
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="its own optimiser"):
        aae.compile(ae_optimizer=shared, d_optimizer=shared)
    with pytest.raises(TypeError, match="ae_optimizer"):
        aae.compile(optimizer="adam")
    with pytest.raises((RuntimeError, ValueError), match="compile"):
        _small_aae().fit(_images(4), epochs=1, verbose=0)


# ---------------------------------------------------------------------------
# The VAE with a chosen prior and the VAE with an adversarial loss
# ---------------------------------------------------------------------------

def test_vae_with_prior_estimates_the_kl_by_monte_carlo():
    prior = GaussianPrior(2)
    vae = dense_vae(latent_dim=2, hidden_units=(16,), seed=0, prior=prior)
    assert isinstance(vae, VAEWithPrior)
    x = _images(512)
    keras.utils.set_random_seed(0)
    for _ in range(10):  # the tracker averages the ten estimates: 5,120 codes in all
        vae.compute_loss(x, training=False)
    mean, log_var = vae.encode(x)
    closed_form = float(np.mean(0.5 * np.sum(np.exp(log_var) + np.asarray(mean) ** 2 - 1 - log_var, axis=1)))
    estimate = float(vae.kl_tracker.result())
    assert estimate == pytest.approx(closed_form, abs=0.08)  # standard error about 0.02


def test_vae_with_prior_samples_from_its_prior_and_round_trips(tmp_path):
    vae = dense_vae(latent_dim=2, hidden_units=(16,), seed=0, prior=GaussianMixturePrior())
    vae.compile(optimizer="adam")
    history = vae.fit(_images(64), batch_size=32, epochs=2, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert vae.sample(3, seed=0).shape == (3, 28, 28, 1)
    path = tmp_path / "vae.keras"
    vae.save(path)
    again = keras.saving.load_model(path)
    assert isinstance(again, VAEWithPrior) and again.prior.get_config() == vae.prior.get_config()
    with pytest.raises(ValueError, match="free bits"):
        VAEWithPrior(vae.encoder, vae.decoder, vae.prior, free_bits=0.5)


def test_adversarial_vae_steps_update_their_own_weights_and_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    model = dense_adversarial_vae(hidden_units=(16,), latent_dim=4, discriminator_filters=4, adversarial_weight=5.0,
                                  seed=0)
    model.compile()
    x = keras.ops.convert_to_tensor(_images(8))
    before = [_snapshot(part) for part in (model.encoder, model.decoder, model.discriminator)]
    model.discriminator_step(x)
    assert [_changed(b, p) for b, p in zip(before, (model.encoder, model.decoder, model.discriminator))] == \
        [False, False, True]
    before = [_snapshot(part) for part in (model.encoder, model.decoder, model.discriminator)]
    model.vae_step(x)
    assert [_changed(b, p) for b, p in zip(before, (model.encoder, model.decoder, model.discriminator))] == \
        [True, True, False]
    history = model.fit(_images(32), batch_size=16, epochs=1, verbose=0).history
    assert {"loss", "reconstruction_loss", "kl_loss", "d_loss", "g_loss", "d_real", "d_fake"} <= set(history)
    path = tmp_path / "avae.keras"
    model.save(path)
    again = keras.saving.load_model(path)
    assert isinstance(again, AdversarialVAE) and again.adversarial_weight == 5.0
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(model(x)), atol=1e-6)
    with pytest.raises(ValueError, match="adversarial_weight"):
        AdversarialVAE(model.encoder, model.decoder, model.discriminator, adversarial_weight=-1)


def test_repeat_labelled_appends_only_the_labelled_images():
    x = np.arange(5)[:, None].astype("float32")
    labels = np.array([-1, 3, -1, 7, -1])
    repeated, repeated_labels = repeat_labelled(x, labels, repeats=2)
    assert repeated[:, 0].tolist() == [0, 1, 2, 3, 4, 1, 3, 1, 3]
    assert repeated_labels.tolist() == [-1, 3, -1, 7, -1, 3, 7, 3, 7]
    with pytest.raises(ValueError, match="as many labels"):
        repeat_labelled(x, labels[:3])


def test_prior_figures_draw_the_density_and_the_codes():
    import matplotlib

    matplotlib.use("Agg")
    from course_utils.viz.aae import density_grid, plot_codes_on_priors, plot_prior

    prior = GaussianMixturePrior()
    x, y, density = density_grid(prior.log_density, extent=6.0, n=50)
    assert density.shape == (50, 50) and np.all(density >= 0)
    cell = (x[0, 1] - x[0, 0]) * (y[1, 0] - y[0, 0])
    assert density.sum() * cell == pytest.approx(1.0, abs=0.01)  # the grid holds almost all the mass
    assert len(plot_prior(prior, samples=50).axes) == 1
    codes = np.asarray(prior.sample(40, seed=0))
    figure = plot_codes_on_priors({"a": (prior, codes, np.arange(40) % 10), "b": (GaussianPrior(2), codes, np.zeros(40))})
    assert [ax.get_title() for ax in figure.axes] == ["a", "b"]


def _benchmark_script(name: str):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_aae_benchmark_results_agree_with_their_claims():
    import json
    from pathlib import Path

    results = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
    report = json.loads((results / "aae.json").read_text())
    assert not report["quick"]
    target = report["targets"]["aae_matches_mixture_prior_better"]
    assert target["aae_mmd2"] == report["priors"]["aae_mixture"]["mmd"]["mmd2"]
    assert target["reached"] == (target["aae_mmd2"] < target["vae_mmd2"])
    assert set(report["checkpoints"]) == {"aae_fashion_2d", "adversarial_vae_fashion"}
    finale = json.loads((results / "finale.json").read_text())
    assert not finale["quick"]
    names = {row.get("checkpoint") for row in finale["rows"]}
    assert {"vae_fashion_16", "dcgan_fashion", "aae_fashion_2d", "adversarial_vae_fashion"} <= names


def test_benchmarks_must_name_where_a_quick_run_writes():
    for name in ("aae", "finale"):
        script = _benchmark_script(name)
        with pytest.raises(SystemExit):
            script.parse_args(["--quick"])
        assert script.parse_args(["--quick", "--out", "/tmp/elsewhere"]).quick
