"""Low-dose CT and microscopy noise, simulated offline: phantoms, projections, photon noise, FBP (chapter 05).

The CT pipeline follows the physics of a transmission scan. A phantom holds attenuation coefficients in
[0, 1], zero outside the inscribed disc (the scanner's field of view). ``project`` takes its line
integrals (the Radon transform, ``skimage.transform.radon``); ``low_dose`` turns them into photon counts
``N ~ Poisson(I0 exp(-p))`` at ``photons = I0`` per detector bin and back into noisy line integrals
``-log(N / I0)``; ``fbp`` reconstructs with filtered back-projection (``iradon``). ``ct_pairs`` makes
(noisy FBP, clean phantom) training pairs from random-ellipse phantoms, and ``low_dose_fbp`` runs the
same scan on any images, e.g. the held-out Shepp-Logan phantom.

The defaults make plain FBP visibly noisy (about 22 dB PSNR on Shepp-Logan) while every step stays
fast: 128 x 128 pixels resolve the Shepp-Logan phantom's small ellipses; 90 angles over 180 degrees
keep radon + iradon to a few tens of milliseconds per image with negligible angular streaks (the
noise-free FBP is within 0.1 dB of that with 180 angles); 1,000 photons per bin is a low dose, so a
ray that keeps 10 % of them has a relative noise of 1 / sqrt(100) = 10 %. ``ATTENUATION`` sets how much
an object absorbs: a line through the whole field of view in material of value 1 has line integral 4
(e^-4, 1.8 % of the photons get through).

``CT_SEEDS`` fixes the chapter's data: training and validation phantoms from disjoint seeds, unseen
test phantoms, and one noise draw for Shepp-Logan, which no training or tuning ever sees.

``poisson_gaussian`` is the noise of a microscope or fundus camera: photon shot noise at ``peak``
photons for a white pixel plus Gaussian read-out noise. ``microscopy_pairs`` cuts (noisy, clean)
patches from scikit-image's medical images; the chapter trains on ``MICROSCOPY_TRAIN`` and tests on
the unseen ``MICROSCOPY_TEST`` image at ``MICROSCOPY_NOISE`` (a noisy input near 19 dB PSNR).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SIZE = 128
N_ANGLES = 90
PHOTONS = 1000.0
ATTENUATION = 4.0  # line integral across the whole field of view through material of value 1
MIN_COUNTS = 1.0  # a bin that counts no photon reads as one, so -log(N / I0) stays finite
SUPERSAMPLING = 2  # phantoms are drawn at twice the size and averaged down, so edges have partial volumes
CT_SEEDS = dict(train=1, validation=2, test=3, shepp_logan=4)
MICROSCOPY_TRAIN = ("retina", "immunohistochemistry")
MICROSCOPY_TEST = "microaneurysms"
MICROSCOPY_NOISE = dict(peak=30.0, sigma=0.02)
MICROSCOPY_SEEDS = dict(train=1, validation=2, test=3)


def _check_size(size: int) -> int:
    if isinstance(size, bool) or int(size) != size or size < 8:
        raise ValueError(f"size must be an integer number of pixels >= 8, got {size!r}")
    return int(size)


def _check_rng(rng) -> np.random.Generator:
    """``rng`` itself if it is a ``numpy.random.Generator``, a new one if it is an integer seed."""
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer, np.random.Generator)):
        raise TypeError(f"rng must be a numpy.random.Generator or an integer seed, got {type(rng).__name__}")
    return np.random.default_rng(rng)


def disc_mask(size: int) -> np.ndarray:
    """Boolean (size, size) mask of the inscribed disc, the field of view of ``radon(..., circle=True)`` (chapter 05)."""
    radius = _check_size(size) // 2  # skimage's own definition, so radon and iradon agree with it
    y, x = np.mgrid[:size, :size] - radius
    return x ** 2 + y ** 2 <= radius ** 2


def _ellipse(size: int, centre: np.ndarray, axes: np.ndarray, angle: float) -> np.ndarray:
    """Boolean (size, size) mask of an ellipse given in coordinates where the disc is the unit circle."""
    u = (np.arange(size) + 0.5) / size * 2 - 1  # pixel centres in [-1, 1]
    x, y = np.meshgrid(u - centre[0], u - centre[1])  # (size, size) each
    cos, sin = np.cos(angle), np.sin(angle)
    return ((x * cos + y * sin) / axes[0]) ** 2 + ((y * cos - x * sin) / axes[1]) ** 2 <= 1


def _random_centre(rng: np.random.Generator, axes: np.ndarray) -> np.ndarray:
    """A centre, uniform over the disc of centres that keep an ellipse with semi-axes ``axes`` inside the unit disc."""
    radius, direction = (1 - axes.max()) * np.sqrt(rng.uniform()), rng.uniform(0, 2 * np.pi)
    return radius * np.array([np.cos(direction), np.sin(direction)])


def random_ellipse_phantom(size: int, rng: np.random.Generator | int, n_ellipses: tuple[int, int] = (3, 12),
                           radius_range: tuple[float, float] = (0.03, 0.5), shell_probability: float = 0.5) -> np.ndarray:
    """A random phantom (size, size) in [0, 1]: a body, maybe a dense shell, more ellipses, zero outside the disc (ch. 05).

    Lengths are fractions of the disc's radius. The body is an ellipse with semi-axes in [0.6, 0.95]; with
    ``shell_probability`` its outer band (2-8 % thick) is dense, like a skull. Then ``n_ellipses`` ellipses
    with a random centre, angle, value in [0, 1], mean radius log-uniform in ``radius_range`` and aspect
    ratio up to 3 are painted largest first, each over what is below: nested, piecewise-constant structures.
    """
    size, rng = _check_size(size), _check_rng(rng)
    low, high = n_ellipses
    if not 0 <= low <= high or not 0 < radius_range[0] <= radius_range[1] <= 0.6 or not 0 <= shell_probability <= 1:
        raise ValueError(f"need 0 <= n_ellipses[0] <= n_ellipses[1], 0 < radius_range[0] <= radius_range[1] <= 0.6 and "
                         f"shell_probability in [0, 1]; got n_ellipses={n_ellipses}, radius_range={radius_range}, "
                         f"shell_probability={shell_probability}")
    fine = size * SUPERSAMPLING
    image = np.zeros((fine, fine))
    body = rng.uniform(0.6, 0.95, 2)
    centre, angle = _random_centre(rng, body), rng.uniform(0, np.pi)
    if rng.uniform() < shell_probability:
        image[_ellipse(fine, centre, body, angle)] = rng.uniform(0.5, 1)
        body = body - rng.uniform(0.02, 0.08)
    image[_ellipse(fine, centre, body, angle)] = rng.uniform(0, 0.5)
    radii = np.sort(np.exp(rng.uniform(*np.log(radius_range), int(rng.integers(low, high + 1)))))[::-1]
    for radius in radii:  # largest first
        axes = radius * np.sqrt(rng.uniform(1, 3)) ** np.array([1, -1])  # (2,), mean radius sqrt(a * b) = radius
        image[_ellipse(fine, _random_centre(rng, axes), axes, rng.uniform(0, np.pi))] = rng.uniform(0, 1)
    image = image.reshape(size, SUPERSAMPLING, size, SUPERSAMPLING).mean(axis=(1, 3))  # (size, size)
    return np.where(disc_mask(size), image, 0.0)


def shepp_logan(size: int = SIZE) -> np.ndarray:
    """The Shepp-Logan phantom (``skimage.data.shepp_logan_phantom``) resized to (size, size), in [0, 1] (ch. 05)."""
    from skimage.data import shepp_logan_phantom
    from skimage.transform import resize

    image = resize(shepp_logan_phantom(), (_check_size(size), size), anti_aliasing=True, preserve_range=True)
    return np.where(disc_mask(size), np.clip(image, 0.0, 1.0), 0.0)


def scan_angles(n_angles: int = N_ANGLES) -> np.ndarray:
    """``n_angles`` projection angles in degrees, evenly spaced over [0, 180) (chapter 05)."""
    if isinstance(n_angles, bool) or int(n_angles) != n_angles or n_angles < 1:
        raise ValueError(f"n_angles must be a positive integer, got {n_angles!r}")
    return np.linspace(0.0, 180.0, int(n_angles), endpoint=False)


def _square_image(image) -> np.ndarray:
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim != 2 or image.shape[0] != image.shape[1]:
        raise ValueError(f"need one square image (size, size) or (size, size, 1), got shape {image.shape}")
    return image


def project(image, angles) -> np.ndarray:
    """Line integrals of a square image at ``angles`` (degrees): sinogram (size, n_angles), ``radon(circle=True)`` (ch. 05)."""
    from skimage.transform import radon

    image = _square_image(image)
    if np.any(image[~disc_mask(len(image))] != 0):
        raise ValueError("the image is not zero outside its inscribed disc, the scanner's field of view: mask it with "
                         "np.where(disc_mask(size), image, 0)")
    return radon(image, theta=np.asarray(angles, dtype=np.float64), circle=True)


def photon_noise(line_integrals, photons: float, rng: np.random.Generator | int) -> np.ndarray:
    """Measured line integrals -log(N / photons) with photon counts N ~ Poisson(photons exp(-p)), any shape (ch. 05).

    ``line_integrals`` are the dimensionless exponents p of Beer-Lambert's law; a bin that counts no
    photon reads as ``MIN_COUNTS``, so the result stays finite. Returns float64 of the same shape.
    """
    rng = _check_rng(rng)
    p = np.asarray(line_integrals, dtype=np.float64)
    if not photons > 0:
        raise ValueError(f"photons must be positive, got {photons}")
    if p.size and p.min() < 0:
        raise ValueError(f"line integrals of an attenuation image are >= 0, got a minimum of {p.min():.3g}")
    counts = rng.poisson(photons * np.exp(-p))  # same shape as p
    return -np.log(np.maximum(counts, MIN_COUNTS) / photons)


def low_dose(sinogram, photons: float, rng: np.random.Generator | int, attenuation: float = ATTENUATION) -> np.ndarray:
    """Noisy line integrals: counts N ~ Poisson(photons exp(-p)) read back as -log(N / photons) (chapter 05).

    ``sinogram`` is in pixel units (``project``'s output, (detectors, angles)); p = attenuation * sinogram /
    detectors. Returns the noisy sinogram in the same units; a bin with no photon reads as ``MIN_COUNTS``.
    """
    rng = _check_rng(rng)
    sinogram = np.asarray(sinogram, dtype=np.float64)
    if sinogram.ndim != 2:
        raise ValueError(f"sinogram must be (detectors, angles), got shape {sinogram.shape}")
    if not photons > 0 or not attenuation > 0:
        raise ValueError(f"photons and attenuation must be positive, got photons={photons}, attenuation={attenuation}")
    if sinogram.min() < 0:
        raise ValueError(f"line integrals of an attenuation image are >= 0, got a minimum of {sinogram.min():.3g}")
    scale = attenuation / sinogram.shape[0]  # attenuation per pixel
    return photon_noise(scale * sinogram, photons, rng) / scale


def fbp(sinogram, angles, size: int, filter_name: str | None = "ramp") -> np.ndarray:
    """Filtered back-projection (``iradon``, circle=True) of a sinogram to a (size, size) image (chapter 05)."""
    from skimage.transform import iradon

    sinogram = np.asarray(sinogram, dtype=np.float64)
    angles = np.asarray(angles, dtype=np.float64)
    if sinogram.ndim != 2 or sinogram.shape[1] != len(angles):
        raise ValueError(f"sinogram must be (detectors, angles) with one column per angle; got shape {sinogram.shape} "
                         f"for {len(angles)} angles")
    return iradon(sinogram, theta=angles, output_size=_check_size(size), circle=True, filter_name=filter_name)


def low_dose_fbp(images, photons: float = PHOTONS, n_angles: int = N_ANGLES, seed: int = 0,
                 attenuation: float = ATTENUATION) -> np.ndarray:
    """Scan clean images (n, size, size, 1) at a low dose and reconstruct them by FBP: float32, same shape (ch. 05)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 1 or images.shape[1] != images.shape[2]:
        raise ValueError(f"need square grayscale images (n, size, size, 1), got shape {images.shape}")
    angles, rng = scan_angles(n_angles), np.random.default_rng(seed)
    out = [fbp(low_dose(project(image, angles), photons, rng, attenuation), angles, images.shape[1])
           for image in images]
    return np.stack(out)[..., np.newaxis].astype(np.float32)  # (n, size, size, 1)


def shepp_logan_pair(size: int = SIZE, photons: float = PHOTONS, n_angles: int = N_ANGLES) -> tuple[np.ndarray, np.ndarray]:
    """(low-dose FBP, clean) float32 (1, size, size, 1) of the held-out Shepp-Logan phantom, one fixed scan (ch. 05)."""
    clean = shepp_logan(size)[np.newaxis, ..., np.newaxis].astype(np.float32)  # (1, size, size, 1)
    return low_dose_fbp(clean, photons, n_angles, seed=CT_SEEDS["shepp_logan"]), clean


def ct_pairs(n: int, size: int = SIZE, photons: float = PHOTONS, n_angles: int = N_ANGLES,
             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(noisy FBP images, clean phantoms) from ``n`` random-ellipse phantoms, float32 (n, size, size, 1), seeded (ch. 05).

    The FBP images are not clipped: noise pushes them slightly below 0 and above 1, and a network
    learns more from what the scanner measured than from a clipped copy.
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be a positive number of phantoms, got {n!r}")
    rng = np.random.default_rng(seed)
    clean = np.stack([random_ellipse_phantom(size, rng) for _ in range(int(n))])[..., np.newaxis]  # (n, size, size, 1)
    return low_dose_fbp(clean, photons, n_angles, seed=int(rng.integers(2**31))), clean.astype(np.float32)


def poisson_gaussian(image, peak: float, sigma: float, rng: np.random.Generator | int) -> np.ndarray:
    """Poisson(peak * x) / peak + N(0, sigma^2) per pixel, for images x in [0, 1]; not clipped (chapter 05).

    ``peak`` is the expected photon count of a white pixel (smaller: noisier); ``sigma`` the read-out noise.
    """
    rng = _check_rng(rng)
    image = np.asarray(image, dtype=np.float64)
    if not peak > 0 or not sigma >= 0:
        raise ValueError(f"need peak > 0 photons and sigma >= 0, got peak={peak}, sigma={sigma}")
    if image.size and (image.min() < 0 or image.max() > 1):
        raise ValueError(f"images must lie in [0, 1], got values in [{image.min():.3g}, {image.max():.3g}]")
    noisy = rng.poisson(peak * image) / peak + sigma * rng.standard_normal(image.shape)
    return noisy.astype(np.float32)


def microscopy_pairs(names: Sequence[str], patch_size: int, count: int, seed: int, peak: float = MICROSCOPY_NOISE["peak"],
                     sigma: float = MICROSCOPY_NOISE["sigma"]) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean) float32 (count, patch_size, patch_size, 1): random grayscale patches of ``names``, seeded (ch. 05)."""
    from course_utils.data.datasets import load_skimage_image
    from course_utils.data.pipeline import extract_patches

    if MICROSCOPY_TEST in names:
        raise ValueError(f"{MICROSCOPY_TEST!r} is the chapter's test image: cut patches from {MICROSCOPY_TRAIN} only")
    rng = np.random.default_rng(seed)
    images = [load_skimage_image(name, gray=True) for name in names]  # each (h, w, 1)
    clean = extract_patches(images, patch_size, count, seed=int(rng.integers(2**31)))  # (count, size, size, 1)
    return poisson_gaussian(clean, peak, sigma, rng), clean


def microscopy_test_pair() -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean) float32 (1, h, w, 1): the whole ``MICROSCOPY_TEST`` image, one fixed noise draw (chapter 05)."""
    from course_utils.data.datasets import load_skimage_image

    clean = load_skimage_image(MICROSCOPY_TEST, gray=True)[np.newaxis]  # (1, h, w, 1)
    return poisson_gaussian(clean, rng=MICROSCOPY_SEEDS["test"], **MICROSCOPY_NOISE), clean


__all__ = ["ATTENUATION", "CT_SEEDS", "MICROSCOPY_NOISE", "MICROSCOPY_SEEDS", "MICROSCOPY_TEST", "MICROSCOPY_TRAIN",
           "N_ANGLES", "PHOTONS", "SIZE", "ct_pairs", "disc_mask", "fbp", "low_dose", "low_dose_fbp", "microscopy_pairs",
           "microscopy_test_pair", "photon_noise", "poisson_gaussian", "project", "random_ellipse_phantom", "scan_angles", "shepp_logan",
           "shepp_logan_pair"]
