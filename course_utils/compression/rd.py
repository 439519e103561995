"""Rate-distortion measurement: per-image PSNR and SSIM, rate points from decoded bytes, and BD-rate (chapter 07)."""
from __future__ import annotations

import numpy as np

from course_utils.compression.baselines import ImageCodec, check_images
from course_utils.evaluation.metrics import per_sample_mse

MIN_POINTS = 4  # a cubic through the rate-distortion points needs at least four of them


def _image_pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    """Two image batches (n, h, w, 1) of the same shape, as float64."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"x and y must be image batches (n, h, w, c) of one shape, got {x.shape} and {y.shape}")
    return x, y


def psnr(x, y, data_range: float = 1.0) -> np.ndarray:
    """PSNR in dB of each image, 10 log10(range^2 / MSE), shape (n,); inf where an image is exact (chapter 07)."""
    mse = per_sample_mse(*_image_pair(x, y))  # (n,)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range ** 2 / mse)


def ssim(x, y) -> np.ndarray:
    """SSIM of each greyscale image (scikit-image, data_range 1, its default 7x7 window fits 28x28), shape (n,) (ch. 07)."""
    from skimage.metrics import structural_similarity

    x, y = _image_pair(x, y)
    if x.shape[-1] != 1:
        raise ValueError(f"ssim takes greyscale images (n, h, w, 1), got shape {x.shape}")
    return np.array([structural_similarity(a[..., 0], b[..., 0], data_range=1.0) for a, b in zip(x, y, strict=True)])


def rd_points(codec: ImageCodec, images) -> dict[str, float]:
    """Mean payload and file bits per pixel, PSNR and SSIM of ``images`` through ``codec``, decoded from its bytes."""
    images = check_images(images)
    data = codec.compress(images)
    decoded = codec.decompress(data)
    pixels = images.shape[1] * images.shape[2]
    return {"payload_bpp": float(codec.payload_bits(data).mean() / pixels),
            "file_bpp": float(codec.file_bits(data).mean() / pixels),
            "psnr": float(psnr(images, decoded).mean()), "ssim": float(ssim(images, decoded).mean())}


def rd_curve(points: list[dict], rate: str, quality: str = "psnr") -> tuple[list[float], list[float]]:
    """The (rates, qualities) of a codec's points, cheapest first, keeping only points that improve on every cheaper
    one (a setting that costs more bits for no better quality is not on the codec's curve) (chapter 07)."""
    kept, best = [], -np.inf
    for point in sorted(points, key=lambda p: p[rate]):
        if point[quality] > best:
            kept.append(point)
            best = point[quality]
    return [p[rate] for p in kept], [p[quality] for p in kept]


def _curve(rate, quality, which: str) -> tuple[np.ndarray, np.ndarray]:
    """Quality and log10 rate of one curve, sorted by quality, checked for size, sign and monotonicity."""
    rate, quality = np.asarray(rate, dtype=np.float64), np.asarray(quality, dtype=np.float64)
    if rate.shape != quality.shape or rate.ndim != 1 or len(rate) < MIN_POINTS:
        raise ValueError(f"the {which} curve needs at least {MIN_POINTS} (rate, quality) points as two 1-D arrays of "
                         f"one length, got shapes {rate.shape} and {quality.shape}")
    if not np.all(np.isfinite(rate) & np.isfinite(quality)) or np.any(rate <= 0):
        raise ValueError(f"the {which} curve's rates must be positive and its qualities finite")
    order = np.argsort(quality)
    quality, rate = quality[order], rate[order]
    if np.any(np.diff(quality) <= 0) or np.any(np.diff(rate) <= 0):
        raise ValueError(f"the {which} curve must be monotone: a higher rate must give a strictly higher quality "
                         f"(sorted by quality, rates {rate.tolist()}); drop the points that are not")
    return quality, np.log10(rate)


def _mean_log_rate(quality: np.ndarray, log_rate: np.ndarray, low: float, high: float, method: str) -> float:
    """The mean of log10 rate over [low, high] along the curve fitted by ``method``."""
    from scipy.interpolate import PchipInterpolator

    if method == "cubic":
        antiderivative = np.polyint(np.polyfit(quality, log_rate, 3))
        return float((np.polyval(antiderivative, high) - np.polyval(antiderivative, low)) / (high - low))
    return float(PchipInterpolator(quality, log_rate).integrate(low, high) / (high - low))


def bd_rate(rate_anchor, quality_anchor, rate_test, quality_test, method: str = "pchip") -> float:
    """Bjontegaard delta rate in percent: the test codec's mean rate change at equal quality (chapter 07).

    Log rate is fitted as a function of quality on each curve and averaged over the quality interval both cover:
    ``method="cubic"`` is Bjontegaard's 2001 third-order polynomial, ``"pchip"`` the piecewise cubic Hermite
    interpolation of recent standards (it cannot overshoot between points). Negative means the test codec
    needs fewer bits.
    """
    if method not in ("cubic", "pchip"):
        raise ValueError(f"method must be 'cubic' or 'pchip', got {method!r}")
    quality_a, log_a = _curve(rate_anchor, quality_anchor, "anchor")
    quality_t, log_t = _curve(rate_test, quality_test, "test")
    low, high = max(quality_a[0], quality_t[0]), min(quality_a[-1], quality_t[-1])
    if low >= high:
        raise ValueError(f"the curves' quality ranges do not overlap ([{quality_a[0]}, {quality_a[-1]}] and "
                         f"[{quality_t[0]}, {quality_t[-1]}]); measure rate points with common quality")
    difference = _mean_log_rate(quality_t, log_t, low, high, method) - _mean_log_rate(quality_a, log_a, low, high,
                                                                                        method)
    return float((10 ** difference - 1) * 100)
