"""Chapter 05 medical images: phantoms, the low-dose CT pipeline, Poisson-Gaussian noise and the residual U-Net."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from course_utils.data.tomography import (
    ATTENUATION,
    MICROSCOPY_TEST,
    MICROSCOPY_TRAIN,
    ct_pairs,
    disc_mask,
    fbp,
    low_dose,
    low_dose_fbp,
    microscopy_pairs,
    poisson_gaussian,
    project,
    random_ellipse_phantom,
    scan_angles,
    shepp_logan,
)
from course_utils.evaluation.metrics import psnr
from course_utils.models.residual import ResidualUNet


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(0)


# --- phantoms ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(5))
def test_random_phantoms_lie_in_the_unit_interval_and_are_zero_outside_the_disc(seed):
    image = random_ellipse_phantom(48, np.random.default_rng(seed))
    assert image.shape == (48, 48) and 0.0 <= image.min() and image.max() <= 1.0
    assert np.all(image[~disc_mask(48)] == 0) and image[disc_mask(48)].std() > 0.01


def test_disc_mask_is_the_field_of_view_of_skimage_radon():
    mask = disc_mask(8)  # radius 4 around pixel (4, 4): row 0 holds only the pixel straight above the centre
    assert mask[0].tolist() == [False] * 4 + [True] + [False] * 3 and mask[4].sum() == 8
    assert abs(disc_mask(200).mean() - np.pi / 4) < 0.01


def test_phantoms_are_seeded():
    first = random_ellipse_phantom(32, np.random.default_rng(3))
    np.testing.assert_array_equal(first, random_ellipse_phantom(32, np.random.default_rng(3)))
    assert not np.array_equal(first, random_ellipse_phantom(32, np.random.default_rng(4)))


def test_shepp_logan_is_resized_and_keeps_its_values():
    from skimage.data import shepp_logan_phantom

    image = shepp_logan(64)
    assert image.shape == (64, 64) and image.min() == 0.0 and 0.95 < image.max() <= 1.0  # the thin skull is averaged
    assert np.all(image[~disc_mask(64)] == 0)
    assert abs(image.mean() - shepp_logan_phantom().mean()) < 0.005  # resizing preserves the mean attenuation


# --- projection, dose, reconstruction ---------------------------------------------------------------------------

def test_projection_of_a_disc_is_its_chord_length_and_keeps_its_mass():
    size, r = 64, 20
    y, x = np.mgrid[:size, :size] - size // 2
    disc = (x ** 2 + y ** 2 <= r ** 2).astype(float)
    sinogram = project(disc, scan_angles(6))
    assert sinogram.shape == (64, 6)
    t = np.arange(size) - size // 2  # detector offsets from the centre
    chord = 2 * np.sqrt(np.clip((r + 0.5) ** 2 - t ** 2, 0, None))  # line integral of a disc of pixels, radius ~ r + 1/2
    inside = np.abs(t) <= r // 2  # away from the rim, where the chord is steep and pixel steps dominate
    assert np.abs(sinogram - chord[:, None])[inside].max() < 2.5 and np.all(sinogram[np.abs(t) > r + 1] == 0)
    np.testing.assert_allclose(sinogram.sum(axis=0), disc.sum(), rtol=0.01)  # every projection holds the whole mass


def test_fbp_reconstructs_a_phantom_closely_at_many_photons():
    image = random_ellipse_phantom(64, np.random.default_rng(0))
    angles = scan_angles(90)
    sinogram = project(image, angles)
    exact = fbp(sinogram, angles, 64)
    many_photons = fbp(low_dose(sinogram, 1e9, np.random.default_rng(0)), angles, 64)
    few_photons = fbp(low_dose(sinogram, 1e3, np.random.default_rng(0)), angles, 64)
    assert exact.shape == (64, 64) and psnr(image, exact) > 25
    assert abs(psnr(image, many_photons) - psnr(image, exact)) < 0.05
    assert psnr(image, few_photons) < psnr(image, exact) - 3


def test_log_counts_have_the_delta_method_mean_and_variance():
    photons, p, detectors = 1e4, 1.0, 200
    sinogram = np.full((detectors, 500), p * detectors / ATTENUATION)  # every line integral equals p
    noisy = low_dose(sinogram, photons, np.random.default_rng(0)) * ATTENUATION / detectors  # -log(N / I0)
    expected_variance = 1 / (photons * np.exp(-p))  # Var log N ~ Var N / E[N]^2 = 1 / E[N] for Poisson N
    assert abs(noisy.mean() - p) < 1e-3
    assert abs(noisy.var() / expected_variance - 1) < 0.03


def test_a_bin_without_photons_reads_as_one_photon():
    sinogram = np.full((10, 20), 100.0)  # line integral 40: no photon gets through
    noisy = low_dose(sinogram, 10.0, np.random.default_rng(0))
    np.testing.assert_allclose(noisy, np.log(10.0) * 10 / ATTENUATION)  # -log(1 / I0) in pixel units


def test_ct_pairs_shapes_dtypes_ranges_and_seeds():
    noisy, clean = ct_pairs(3, size=32, photons=500, n_angles=20, seed=1)
    assert noisy.shape == clean.shape == (3, 32, 32, 1) and noisy.dtype == clean.dtype == np.float32
    assert 0 <= clean.min() and clean.max() <= 1 and np.all(noisy[:, ~disc_mask(32)] == 0)
    assert 10 < psnr(clean, noisy) < 30  # noisy but still the same images
    again, _ = ct_pairs(3, size=32, photons=500, n_angles=20, seed=1)
    other, other_clean = ct_pairs(3, size=32, photons=500, n_angles=20, seed=2)
    np.testing.assert_array_equal(noisy, again)
    assert not np.array_equal(clean, other_clean) and not np.array_equal(noisy, other)


def test_low_dose_fbp_is_seeded_and_noise_falls_with_dose():
    image = shepp_logan(32)[None, ..., None]
    low, high = low_dose_fbp(image, photons=300, n_angles=30, seed=0), low_dose_fbp(image, 1e5, 30, seed=0)
    np.testing.assert_array_equal(low, low_dose_fbp(image, photons=300, n_angles=30, seed=0))
    assert low.shape == (1, 32, 32, 1) and psnr(image, high) > psnr(image, low) + 5


# --- Poisson-Gaussian noise -------------------------------------------------------------------------------------

def test_rng_is_a_generator_or_a_seed():
    np.testing.assert_array_equal(random_ellipse_phantom(16, 5), random_ellipse_phantom(16, np.random.default_rng(5)))
    with pytest.raises(TypeError, match="numpy.random.Generator or an integer seed"):
        low_dose(np.ones((8, 4)), 10, 0.5)


def test_poisson_gaussian_mean_and_variance():
    peak, sigma = 20.0, 0.05
    image = np.repeat([0.1, 0.5, 0.9], 40_000).reshape(3, -1)
    noisy = poisson_gaussian(image, peak, sigma, np.random.default_rng(0))
    assert noisy.dtype == np.float32 and noisy.shape == image.shape
    np.testing.assert_allclose(noisy.mean(axis=1), [0.1, 0.5, 0.9], atol=0.004)
    np.testing.assert_allclose(noisy.var(axis=1), np.array([0.1, 0.5, 0.9]) / peak + sigma ** 2, rtol=0.03)
    np.testing.assert_array_equal(noisy, poisson_gaussian(image, peak, sigma, np.random.default_rng(0)))


def test_microscopy_pairs_are_seeded_noisy_patches_of_the_training_images():
    noisy, clean = microscopy_pairs(MICROSCOPY_TRAIN, 16, 6, seed=0)
    assert noisy.shape == clean.shape == (6, 16, 16, 1) and noisy.dtype == clean.dtype == np.float32
    assert 0 <= clean.min() and clean.max() <= 1 and not np.allclose(noisy, clean)
    np.testing.assert_array_equal(noisy, microscopy_pairs(MICROSCOPY_TRAIN, 16, 6, seed=0)[0])
    with pytest.raises(ValueError, match="test image"):
        microscopy_pairs(("retina", MICROSCOPY_TEST), 16, 6, seed=0)


# --- bad inputs -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call,message", [
    (lambda: project(np.ones((8, 8)), scan_angles(4)), "zero outside its inscribed disc"),
    (lambda: project(np.zeros((8, 6)), scan_angles(4)), "square image"),
    (lambda: low_dose(np.ones((8, 4)), 0, np.random.default_rng(0)), "photons and attenuation must be positive"),
    (lambda: low_dose(-np.ones((8, 4)), 10, np.random.default_rng(0)), "line integrals"),
    (lambda: fbp(np.ones((8, 4)), scan_angles(5), 8), "one column per angle"),
    (lambda: ct_pairs(0, size=16), "positive number of phantoms"),
    (lambda: random_ellipse_phantom(4, np.random.default_rng(0)), "size must be an integer"),
    (lambda: random_ellipse_phantom(16, np.random.default_rng(0), radius_range=(0.1, 0.9)), "radius_range"),
    (lambda: scan_angles(0), "n_angles"),
    (lambda: low_dose_fbp(np.zeros((2, 8, 8))), r"\(n, size, size, 1\)"),
    (lambda: poisson_gaussian(np.full(4, 2.0), 10, 0.1, np.random.default_rng(0)), r"\[0, 1\]"),
    (lambda: poisson_gaussian(np.ones(4), 0, 0.1, np.random.default_rng(0)), "peak > 0"),
    (lambda: ResidualUNet(filters=(32,)), "at least two levels"),
    (lambda: ResidualUNet(kernel_size=4), "odd kernel_size"),
])
def test_bad_inputs_say_what_to_fix(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- the residual U-Net -----------------------------------------------------------------------------------------

def test_residual_unet_parameter_count_by_hand():
    model = ResidualUNet(filters=(4, 8), convs_per_level=1)
    down = (9 * 1 * 4 + 4) + (9 * 4 * 8 + 8)  # a 3x3 conv per level: 1 -> 4, then 4 -> 8 channels
    up = (2 * 2 * 8 * 4 + 4) + (9 * (4 + 4) * 4 + 4)  # 2x2 transposed conv 8 -> 4, conv of [skip, upsampled] -> 4
    assert model.count_params() == down + up + (4 + 1)  # and the 1x1 head 4 -> 1
    assert ResidualUNet().count_params() == 390_545


@pytest.mark.parametrize("shape", [(2, 32, 32, 1), (1, 45, 27, 1), (3, 7, 9, 1)])
def test_any_image_size_comes_back_unchanged_before_training(shape):
    model = ResidualUNet(filters=(8, 16, 16))
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), x)  # the head starts at zero: the identity


def test_two_image_sizes_after_training_a_step(tmp_path):
    model = ResidualUNet(channels=3, filters=(8, 16))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    x = np.random.default_rng(0).random((4, 16, 16, 3), dtype=np.float32)
    model.fit(x, 0.5 * x, epochs=1, verbose=0)
    small, large = np.asarray(model(x)), np.asarray(model(np.pad(x, ((0, 0), (0, 9), (0, 5), (0, 0)))))
    assert small.shape == (4, 16, 16, 3) and large.shape == (4, 25, 21, 3) and not np.allclose(small, x)


def test_keras_round_trip(tmp_path):
    model = ResidualUNet(filters=(8, 16, 32), convs_per_level=1, kernel_size=5)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    x = np.random.default_rng(1).random((4, 20, 20, 1), dtype=np.float32)
    model.fit(x, 0.5 * x, epochs=2, verbose=0)
    model.save(tmp_path / "residual.keras")
    loaded = keras.models.load_model(tmp_path / "residual.keras")
    assert type(loaded) is ResidualUNet and loaded.filters == (8, 16, 32) and loaded.kernel_size == 5
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6)


def test_loss_falls_on_a_small_batch_of_noisy_phantoms():
    clean = np.stack([random_ellipse_phantom(24, np.random.default_rng(s)) for s in range(8)])[..., None]
    noisy = (clean + 0.1 * np.random.default_rng(0).standard_normal(clean.shape)).astype(np.float32)
    model = ResidualUNet(filters=(8, 16))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse")
    history = model.fit(noisy, clean.astype(np.float32), batch_size=8, epochs=30, verbose=0).history["loss"]
    assert abs(history[0] / 0.1 ** 2 - 1) < 0.1  # it starts as the identity: the loss is the noise variance
    assert history[-1] < 0.6 * history[0]


# --- the benchmark, the checkpoints and their metrics ------------------------------------------------------------

def _script(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_checkpoints_and_residual_unet_share_one_design():
    import inspect

    benchmark, checkpoints = _script("medical"), _script("pretrained").CHECKPOINTS
    defaults = {k: p.default for k, p in inspect.signature(ResidualUNet).parameters.items()}
    for key, value in benchmark.DESIGN.items():
        assert defaults[key] == (tuple(value) if isinstance(value, list) else value), key
    args = benchmark.parse_args([])
    shared = dict(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate)
    ct, micro = checkpoints["ct_denoiser"], checkpoints["micro_denoiser"]
    assert ct["kwargs"] == micro["kwargs"] == benchmark.DESIGN
    assert ct["train"] == dict(shared, time_cap_s=args.ct_seconds, phantoms=args.phantoms, val_phantoms=args.val_phantoms)
    assert micro["train"] == dict(shared, time_cap_s=args.micro_seconds, patches=args.patches,
                                  val_patches=args.val_patches, patch_size=args.patch_size)


def test_checkpoint_metrics_score_the_fixed_test_images():
    from course_utils import pretrained
    from course_utils.data.tomography import microscopy_test_pair, shepp_logan_pair

    identity = ResidualUNet(filters=(4, 8))  # an untrained model returns its input
    for metric, (noisy, clean) in [(pretrained.shepp_logan_psnr, shepp_logan_pair()),
                                   (pretrained.microscopy_psnr, microscopy_test_pair())]:
        expected = 10 * np.log10(1 / np.mean((np.clip(noisy, 0, 1) - clean) ** 2))
        assert abs(metric(identity) - expected) < 1e-4 and metric(identity, 1) == metric(identity)
        with pytest.raises(ValueError, match="subset must be None or 1"):
            metric(identity, 100)
