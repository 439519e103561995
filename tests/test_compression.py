"""Chapter 07's compression package: range coding, the byte format, baseline codecs, BD-rate, the learned codec."""
from __future__ import annotations

import io

import numpy as np
import pytest

from course_utils.compression import (
    CorruptStreamError,
    InvalidStreamError,
    JpegCodec,
    LearnedCodec,
    PcaCodec,
    WebpCodec,
    bd_rate,
    code_length_bits,
    container_overhead_bytes,
    decode_symbols,
    encode_symbols,
    jpeg_payload_bytes,
    pack,
    psnr,
    rd_points,
    ssim,
    unpack,
)


def categorical_sample(n=4000, seed=0):
    """Symbols (n, 3) from three known categorical distributions with different supports, and their table."""
    rng = np.random.default_rng(seed)
    pmf = np.array([[0.5, 0.25, 0.125, 0.0625, 0.0625],
                    [0.05, 0.05, 0.1, 0.6, 0.2],
                    [0.2, 0.2, 0.2, 0.2, 0.2]])
    offsets = np.array([-2, 0, 10], dtype=np.int32)
    symbols = np.stack([rng.choice(5, size=n, p=row) for row in pmf], axis=1) + offsets  # (n, 3)
    return symbols, pmf, offsets


# --- entropy coding ---------------------------------------------------------------------------------------------------

def test_range_coder_reaches_the_entropy_and_round_trips_bit_exactly():
    symbols, pmf, offsets = categorical_sample()
    data = encode_symbols(symbols, pmf, offsets)
    entropy = -(pmf * np.log2(pmf)).sum()  # bits per row: 1.875 + 1.771 + 2.322
    ideal = -sum(np.log2(pmf[j, symbols[:, j] - offsets[j]]).sum() for j in range(3))
    assert code_length_bits(symbols, pmf, offsets) == pytest.approx(ideal, rel=1e-6)
    assert 8 * len(data) <= 1.01 * ideal + 64
    assert 8 * len(data) >= ideal - 64
    assert abs(8 * len(data) - len(symbols) * entropy) <= 0.01 * len(symbols) * entropy + 64 + 3 * np.sqrt(len(symbols))
    decoded = decode_symbols(data, pmf, offsets, len(symbols))
    assert decoded.dtype == np.int32 and np.array_equal(decoded, symbols)
    assert encode_symbols(symbols, pmf, offsets) == data


@pytest.mark.parametrize("seed", range(20))
def test_short_messages_round_trip(seed):
    rng = np.random.default_rng(seed)
    pmf = rng.dirichlet(np.ones(7), size=2)
    offsets = np.array([-3, 1])
    symbols = rng.integers(0, 7, size=(int(rng.integers(0, 6)), 2)) + offsets
    data = encode_symbols(symbols, pmf, offsets)
    assert np.array_equal(decode_symbols(data, pmf, offsets, len(symbols)), symbols)
    assert 8 * len(data) <= code_length_bits(symbols, pmf, offsets) + 64


def test_zero_probability_symbols_in_the_support_are_still_codable():
    pmf, offsets = np.array([[1.0, 0.0, 0.0]]), np.array([0])
    symbols = np.array([[0], [2], [1], [0]])
    data = encode_symbols(symbols, pmf, offsets)
    assert np.array_equal(decode_symbols(data, pmf, offsets, 4), symbols)
    assert code_length_bits(symbols, pmf, offsets) == pytest.approx(40, abs=1e-3)  # two symbols at the 2**-20 floor


def test_out_of_support_symbols_are_refused_with_where_and_what_to_do():
    symbols, pmf, offsets = categorical_sample(10)
    symbols[3, 2] = 15
    with pytest.raises(ValueError, match=r"symbol 15 of channel 2 .*\[10, 14\].*clip"):
        encode_symbols(symbols, pmf, offsets)


@pytest.mark.parametrize("pmf,offsets,symbols,match", [
    (np.ones(4), [0], np.zeros((1, 1), int), "pmf must be"),
    (np.ones((1, 1)), [0], np.zeros((1, 1), int), "support size >= 2"),
    (np.array([[0.5, -0.1]]), [0], np.zeros((1, 1), int), "non-negative"),
    (np.ones((2, 3)), [0], np.zeros((1, 2), int), "offsets must be 2 integers"),
    (np.ones((2, 3)), [0, 0], np.zeros((1, 3), int), "symbols must be an integer array"),
    (np.ones((2, 3)), [0, 0], np.zeros((1, 2)), "symbols must be an integer array"),
])
def test_bad_tables_and_symbols_are_refused(pmf, offsets, symbols, match):
    with pytest.raises(ValueError, match=match):
        encode_symbols(symbols, pmf, np.asarray(offsets))


def test_bytes_that_are_not_a_stream_for_this_table_are_detected():
    symbols, pmf, offsets = categorical_sample(200)
    data = encode_symbols(symbols, pmf, offsets)
    other = pmf[:, ::-1]
    for bad, table, n in [(data[:-5], pmf, 200), (data + b"\x01", pmf, 200), (data, pmf, 199), (data, other, 200),
                          (bytes([data[0] ^ 0x10]) + data[1:], pmf, 200)]:
        with pytest.raises(InvalidStreamError, match="not a stream"):
            decode_symbols(bad, table, offsets, n)


# --- container --------------------------------------------------------------------------------------------------------

RECORDS = [b"\x00\x01\x02", b"", b"abcdef"]


def small_stream():
    return pack("toy", (3, 28, 28, 1), RECORDS, {"quality": 50})


def test_container_round_trips_and_counts_its_overhead():
    data = small_stream()
    assert unpack(data) == ("toy", (3, 28, 28, 1), RECORDS, {"quality": 50})
    assert unpack(data, expected_codec="toy")[2] == RECORDS
    assert container_overhead_bytes(data) == 19 + 3 + 4 * 4 + len('{"quality":50}') + 4 * 3
    assert len(data) == container_overhead_bytes(data) + 9
    assert unpack(pack("x", (), []))[1:] == ((), [], {})


def test_every_flipped_byte_is_caught():
    data = small_stream()
    for position in range(len(data)):
        for flip in (0x01, 0x80):
            altered = bytearray(data)
            altered[position] ^= flip
            with pytest.raises(CorruptStreamError):
                unpack(bytes(altered))


@pytest.mark.parametrize("data,match", [
    (b"", "empty input"),
    (b"CU", "truncated"),
    (b"JFIF" + bytes(40), "wrong magic"),
    (b"CUAC\x07" + bytes(40), "unsupported format version 7"),
])
def test_container_errors_say_what_was_wrong(data, match):
    with pytest.raises(CorruptStreamError, match=match):
        unpack(data)


def test_truncated_extended_and_wrong_codec_streams():
    data = small_stream()
    for cut in range(1, len(data)):
        with pytest.raises(CorruptStreamError, match="truncated|wrong magic"):
            unpack(data[:cut])
    with pytest.raises(CorruptStreamError, match=f"truncated: expected {len(data)} bytes, got {len(data) - 1}"):
        unpack(data[:-1])
    with pytest.raises(CorruptStreamError, match="trailing bytes"):
        unpack(data + b"\0")
    with pytest.raises(CorruptStreamError, match="checksum mismatch: the data was altered"):
        unpack(data[:-10] + bytes([data[-10] ^ 1]) + data[-9:])
    with pytest.raises(CorruptStreamError, match="wrong codec: this stream was written by 'toy'.*'pca'"):
        unpack(data, expected_codec="pca")
    assert issubclass(CorruptStreamError, ValueError) and issubclass(InvalidStreamError, ValueError)


def test_pack_refuses_bad_arguments():
    with pytest.raises(ValueError, match="codec must be"):
        pack("", (1,), [])
    with pytest.raises(ValueError, match="records must be"):
        pack("x", (1,), ["text"])
    with pytest.raises(ValueError, match="shape must"):
        pack("x", (-1,), [])
    with pytest.raises(ValueError, match="JSON-serialisable"):
        pack("x", (1,), [b""], {"table": np.zeros(2)})


# --- baseline codecs --------------------------------------------------------------------------------------------------

def smooth_images(n=40, seed=0, size=16):
    """Seeded images (n, size, size, 1) in [0, 1]: a few smooth blobs each, exact multiples of 1/255."""
    rng = np.random.default_rng(seed)
    grid = np.linspace(-1, 1, size)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    centres, widths = rng.uniform(-0.6, 0.6, (n, 3, 2)), rng.uniform(0.2, 0.5, (n, 3))
    blobs = np.exp(-((yy - centres[..., :1, None]) ** 2 + (xx - centres[..., 1:, None]) ** 2)
                   / widths[..., None, None] ** 2)  # (n, 3, size, size)
    return (np.round(255 * np.clip(blobs.sum(axis=1), 0, 1)) / 255).astype(np.float32)[..., None]


def psnr_of(x, y):
    return float(np.mean(10 * np.log10(1 / np.square(x - y).reshape(len(x), -1).mean(axis=1))))


@pytest.fixture(scope="module")
def pca_codec():
    return PcaCodec(12, 0.2).fit(smooth_images(300, seed=1))


@pytest.mark.parametrize("name", ["jpeg", "webp", "pca"])
def test_codecs_round_trip_deterministically(name, pca_codec):
    codec = {"jpeg": JpegCodec(50), "webp": WebpCodec(50), "pca": pca_codec}[name]
    images = smooth_images(6, seed=2)
    data = codec.compress(images)
    decoded = codec.decompress(data)
    assert decoded.shape == images.shape and decoded.dtype == np.float32
    assert 0 <= decoded.min() and decoded.max() <= 1
    assert codec.compress(images) == data
    assert np.array_equal(codec.decompress(data), decoded)
    records = unpack(data, expected_codec=codec.name)[2]
    assert np.array_equal(codec.file_bits(data), [8 * len(r) for r in records])
    assert psnr_of(images, decoded) > 20


def test_jpeg_payload_is_the_scan_between_sos_and_eoi():
    from PIL import Image

    data = JpegCodec(50).compress(smooth_images(5, seed=3, size=28))
    for record, bits in zip(unpack(data)[2], JpegCodec(50).payload_bits(data), strict=True):
        start = record.find(b"\xff\xda")  # SOS; its length field follows the marker
        payload = record[start + 2 + int.from_bytes(record[start + 2:start + 4], "big"):-2]
        assert record.endswith(b"\xff\xd9") and jpeg_payload_bytes(record) == payload
        assert bits == 8 * len(payload) and len(payload) < len(record) / 2
        assert Image.open(io.BytesIO(record)).size == (28, 28)


def test_jpeg_payload_rejects_what_is_not_a_whole_jpeg():
    record = unpack(JpegCodec(50).compress(smooth_images(1, size=28)))[2][0]
    with pytest.raises(ValueError, match="must start with the SOI marker"):
        jpeg_payload_bytes(b"\x89PNG" + record)
    with pytest.raises(ValueError, match="truncated"):
        jpeg_payload_bytes(record[:-2])
    with pytest.raises(ValueError, match="not a valid JPEG"):
        jpeg_payload_bytes(record[:30])


def test_webp_payload_is_the_whole_file():
    data = WebpCodec(50).compress(smooth_images(3))
    assert np.array_equal(WebpCodec(50).payload_bits(data), WebpCodec(50).file_bits(data))


@pytest.mark.parametrize("low,high", [(JpegCodec(20), JpegCodec(90)), (WebpCodec(20), WebpCodec(90)),
                                      (PcaCodec(40, 1.0), PcaCodec(40, 0.1))])
def test_more_bits_buy_a_higher_psnr(low, high):
    train, images = smooth_images(300, seed=1), smooth_images(20, seed=4)
    results = []
    for codec in (low, high):
        if isinstance(codec, PcaCodec):
            codec.fit(train)
        data = codec.compress(images)
        results.append((codec.payload_bits(data).mean(), psnr_of(images, codec.decompress(data))))
    assert results[1][0] > results[0][0] and results[1][1] > results[0][1] + 1


def test_pca_codec_matches_an_independent_numpy_computation(pca_codec):
    train, images = smooth_images(300, seed=1).reshape(300, -1).astype(np.float64), smooth_images(20, seed=5)
    _, _, vt = np.linalg.svd(train - train.mean(axis=0), full_matrices=False)
    assert np.allclose(np.abs(vt[:12] @ pca_codec.components.T), np.eye(12), atol=1e-6)  # same axes up to sign
    symbols = pca_codec.quantise(images)
    codes = (images.reshape(20, -1) - train.mean(axis=0)) @ pca_codec.components.T
    assert np.array_equal(symbols, np.round(codes / 0.2))  # no clipping needed on these images
    expected = np.clip(symbols * 0.2 @ pca_codec.components + train.mean(axis=0), 0, 1).reshape(images.shape)
    data = pca_codec.compress(images)
    assert np.allclose(pca_codec.decompress(data), expected, atol=1e-6)
    records = unpack(data)[2]
    assert np.array_equal(pca_codec.payload_bits(data), [8 * len(r) for r in records])
    assert np.array_equal(pca_codec.payload_bits(data), pca_codec.file_bits(data))
    train_symbols = np.round((train - train.mean(axis=0)) @ pca_codec.components.T / 0.2).astype(int)
    counts = np.bincount(train_symbols[:, 0] - pca_codec.offsets[0], minlength=pca_codec.pmf.shape[1])
    assert np.allclose(pca_codec.pmf[0], (counts + 0.5) / (counts.sum() + 0.5 * len(counts)))


def test_pca_codec_clips_symbols_outside_the_training_support(pca_codec):
    images = np.ones((2, 16, 16, 1), np.float32)  # far from the training blobs
    symbols = pca_codec.quantise(images)
    assert np.abs(symbols).max() == -pca_codec.offsets[0]
    decoded = pca_codec.decompress(pca_codec.compress(images))
    assert np.allclose(decoded, pca_codec.dequantise(symbols), atol=1e-6)


def test_pca_stream_needs_the_model_that_wrote_it(pca_codec):
    data = pca_codec.compress(smooth_images(2))
    refitted = PcaCodec(12, 0.2).fit(smooth_images(300, seed=1))  # the same fit, as another run would make it
    assert np.array_equal(refitted.decompress(data), pca_codec.decompress(data))
    other = PcaCodec(12, 0.2).fit(smooth_images(300, seed=7))
    with pytest.raises(ValueError, match="another fitted or trained model"):
        other.decompress(data)
    with pytest.raises(CorruptStreamError, match="wrong codec: this stream was written by 'pca'"):
        JpegCodec(50).decompress(data)
    with pytest.raises(CorruptStreamError, match="checksum mismatch"):
        pca_codec.decompress(data[:-8] + bytes([data[-8] ^ 4]) + data[-7:])


@pytest.mark.parametrize("images,match", [
    (np.zeros((2, 28, 28)), "add the channel axis"),
    (np.zeros((0, 28, 28, 1)), "non-empty"),
    (np.full((1, 28, 28, 1), 1.5), r"in \[0, 1\].*divide 8-bit images by 255"),
    (np.full((1, 28, 28, 1), np.nan), "finite"),
])
def test_codecs_refuse_bad_images(images, match):
    with pytest.raises(ValueError, match=match):
        JpegCodec(50).compress(images)


def test_codec_settings_are_checked(pca_codec):
    with pytest.raises(ValueError, match="quality must be an integer from 1 to 100"):
        WebpCodec(0)
    with pytest.raises(ValueError, match="step must be a positive"):
        PcaCodec(4, 0.0)
    with pytest.raises(ValueError, match="not fitted"):
        PcaCodec(4, 0.1).compress(smooth_images(1))
    with pytest.raises(ValueError, match="exceeds"):
        PcaCodec(50, 0.1).fit(smooth_images(10))
    with pytest.raises(ValueError, match=r"shape \(n, 16, 16, 1\)"):
        pca_codec.compress(smooth_images(1, size=28))


# --- rate-distortion --------------------------------------------------------------------------------------------------

def test_psnr_per_image_by_hand():
    x = np.zeros((3, 4, 4, 1))
    y = np.stack([np.full((4, 4, 1), 0.1), np.zeros((4, 4, 1)), np.eye(4)[..., None]])
    assert np.allclose(psnr(x, y), [20.0, np.inf, 10 * np.log10(4)])
    assert psnr(x * 255, y * 255, data_range=255)[0] == pytest.approx(20.0)


def reference_ssim(a, b, win=7):
    """SSIM as Wang et al. 2004 with a uniform 7x7 window and sample covariances, written out in NumPy."""
    from numpy.lib.stride_tricks import sliding_window_view

    def local_mean(z):
        return sliding_window_view(z, (win, win)).mean(axis=(-1, -2))

    unbiased = win * win / (win * win - 1)
    ma, mb = local_mean(a), local_mean(b)
    va, vb = unbiased * (local_mean(a * a) - ma ** 2), unbiased * (local_mean(b * b) - mb ** 2)
    cov = unbiased * (local_mean(a * b) - ma * mb)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return float(np.mean((2 * ma * mb + c1) * (2 * cov + c2) / ((ma ** 2 + mb ** 2 + c1) * (va + vb + c2))))


def test_ssim_per_image_against_the_formula():
    x = smooth_images(3, seed=8, size=28)
    y = np.clip(x + np.random.default_rng(0).normal(0, 0.05, x.shape), 0, 1)
    values = ssim(x, y)
    assert values.shape == (3,) and np.allclose(ssim(x, x), 1.0)
    assert np.allclose(values, [reference_ssim(a[..., 0].astype(float), b[..., 0]) for a, b in zip(x, y)], atol=1e-6)


def test_chapter_03s_tensorflow_ssim_gives_other_numbers_on_the_same_images():
    from course_utils.evaluation.metrics import ssim as tensorflow_ssim  # 11x11 Gaussian window, one mean

    x = smooth_images(8, seed=8, size=28)
    y = np.clip(x + np.random.default_rng(1).normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
    ours, theirs = float(ssim(x, y).mean()), tensorflow_ssim(x, y)
    assert 0 < ours < 1 and 0 < theirs < 1
    assert abs(ours - theirs) > 0.005, (ours, theirs)  # what chapter 07 tells learners: compare SSIMs of one function
    assert tensorflow_ssim(x, x) == pytest.approx(1.0) and np.allclose(ssim(x, x), 1.0)


def test_rd_points_come_from_the_decoded_bytes(pca_codec):
    images = smooth_images(10, seed=9)
    point = rd_points(pca_codec, images)
    data = pca_codec.compress(images)
    reconstruction = pca_codec.dequantise(pca_codec.quantise(images))
    assert point["payload_bpp"] == pytest.approx(sum(8 * len(r) for r in unpack(data)[2]) / (10 * 16 * 16))
    assert point["file_bpp"] == point["payload_bpp"]
    assert point["psnr"] == pytest.approx(psnr(images, reconstruction).mean(), abs=1e-4)
    assert point["ssim"] == pytest.approx(ssim(images, reconstruction).mean(), abs=1e-5)


ANCHOR_QUALITY = np.array([24.0, 27.0, 30.0, 33.0, 36.0])
ANCHOR_RATE = 10 ** (-1.2 + 0.05 * ANCHOR_QUALITY)  # log10 rate linear in PSNR: 0.05 decades per dB


@pytest.mark.parametrize("method", ["cubic", "pchip"])
def test_bd_rate_of_constructed_curves(method):
    assert bd_rate(ANCHOR_RATE, ANCHOR_QUALITY, 0.5 * ANCHOR_RATE, ANCHOR_QUALITY, method) == pytest.approx(-50.0)
    # the same curve 2 dB better: at equal PSNR it needs 10**(-0.05 * 2) of the rate
    shifted = bd_rate(ANCHOR_RATE, ANCHOR_QUALITY, ANCHOR_RATE[::-1], ANCHOR_QUALITY[::-1] + 2.0, method)
    assert shifted == pytest.approx(100 * (10 ** -0.1 - 1), abs=1e-9)
    rng = np.random.default_rng(0)
    test_rate = ANCHOR_RATE * np.exp(np.sort(rng.normal(0, 0.1, 5))) * 0.7
    forward = bd_rate(ANCHOR_RATE, ANCHOR_QUALITY, test_rate, ANCHOR_QUALITY + 0.5, method) / 100
    backward = bd_rate(test_rate, ANCHOR_QUALITY + 0.5, ANCHOR_RATE, ANCHOR_QUALITY, method) / 100
    assert backward == pytest.approx(1 / (1 + forward) - 1, abs=1e-12)


def test_bd_rate_cubic_integrates_the_fitted_polynomials():
    from scipy.integrate import quad

    quality = np.linspace(20, 38, 7)
    anchor = lambda q: 0.5 + 0.002 * (q - 20) ** 2 + 1e-4 * (q - 20) ** 3
    test = lambda q: anchor(q + 1.5) - 0.1
    mean_difference = quad(lambda q: test(q) - anchor(q), 20, 38)[0] / 18
    expected = 100 * (10 ** mean_difference - 1)
    assert bd_rate(10 ** anchor(quality), quality, 10 ** test(quality), quality, "cubic") == pytest.approx(expected)
    assert bd_rate(10 ** anchor(quality), quality, 10 ** test(quality), quality) == pytest.approx(expected, abs=0.5)


@pytest.mark.parametrize("kwargs,match", [
    (dict(rate_test=ANCHOR_RATE[:3], quality_test=ANCHOR_QUALITY[:3]), "at least 4"),
    (dict(rate_test=ANCHOR_RATE[[0, 2, 1, 3, 4]]), "must be monotone"),
    (dict(rate_test=-ANCHOR_RATE), "must be positive"),
    (dict(quality_test=ANCHOR_QUALITY + 20), "do not overlap"),
    (dict(method="spline"), "method must be"),
])
def test_bd_rate_refuses_what_it_cannot_measure(kwargs, match):
    arguments = dict(rate_anchor=ANCHOR_RATE, quality_anchor=ANCHOR_QUALITY, rate_test=ANCHOR_RATE,
                     quality_test=ANCHOR_QUALITY) | kwargs
    with pytest.raises(ValueError, match=match):
        bd_rate(**arguments)


# --- the learned codec ------------------------------------------------------------------------------------------------

class FakeEntropyModel:
    """A discretised Laplace table per channel, as a trained codec's entropy model gives."""

    def pmf_table(self):
        support = np.arange(-4, 13)  # (17,)
        centres, scales = np.array([[4.0], [0.0]]), np.array([[2.0], [1.0]])
        cdf = lambda t: np.where(t < centres, 0.5 * np.exp((t - centres) / scales),
                                 1 - 0.5 * np.exp(-(t - centres) / scales))
        pmf = cdf(support + 0.5) - cdf(support - 0.5)  # (2, 17)
        return pmf / pmf.sum(axis=1, keepdims=True), np.array([-4, -8], dtype=np.int32)


class FakeCodecModel:
    """Analysis: 4x4 average pooling times 8 (channel 0) and its centred half (channel 1); synthesis: upsampling / 8."""

    entropy_model = FakeEntropyModel()

    def __init__(self, gain=8.0):
        self.gain = gain

    def encode_latents(self, images):
        pooled = np.asarray(images).reshape(len(images), 7, 4, 7, 4).mean(axis=(2, 4)) * self.gain  # (n, 7, 7)
        return np.stack([pooled, 0.5 * pooled - 2], axis=-1)  # (n, 7, 7, 2)

    def decode_latents(self, latents):
        return np.repeat(np.repeat(latents[..., :1] / self.gain, 4, axis=1), 4, axis=2)  # (n, 28, 28, 1)

    def get_weights(self):
        return [np.array([self.gain])]


def test_learned_codec_round_trips_bit_exactly_and_rate_is_bytes():
    codec, images = LearnedCodec(FakeCodecModel(), batch_size=3), smooth_images(7, seed=10, size=28)
    data = codec.compress(images)
    pooled = np.round(images.reshape(7, 7, 4, 7, 4).mean(axis=(2, 4)) * 8)  # (7, 7, 7)
    expected = np.repeat(np.repeat(pooled / 8, 4, axis=1), 4, axis=2)[..., None]
    decoded = codec.decompress(data)
    assert decoded.dtype == np.float32 and np.array_equal(decoded, expected.astype(np.float32))
    assert codec.compress(images) == data and np.array_equal(codec.decompress(data), decoded)
    records = unpack(data, expected_codec="learned")[2]
    assert np.array_equal(codec.payload_bits(data), [8 * len(r) for r in records])
    assert np.array_equal(codec.file_bits(data), codec.payload_bits(data))
    pmf, offsets = FakeEntropyModel().pmf_table()
    symbols = np.stack([pooled, np.clip(np.round(0.5 * pooled - 2), -8, 8)], axis=-1).reshape(7, 49, 2)
    for record, s in zip(records, symbols.astype(int), strict=True):
        ideal = code_length_bits(s, pmf, offsets)
        assert abs(8 * len(record) - ideal) <= 0.01 * ideal + 32


def test_learned_codec_clips_to_the_support_and_refuses_another_model():
    images = smooth_images(2, seed=11, size=28)
    loud = LearnedCodec(FakeCodecModel(gain=40.0))
    symbols = loud.quantise(images)
    assert symbols[..., 0].max() == 12 and symbols[..., 0].min() >= -4
    data = loud.compress(images)
    expected = np.repeat(np.repeat(symbols[..., :1].astype(np.float32) / np.float32(40), 4, 1), 4, 2)
    assert np.array_equal(loud.decompress(data), expected)
    with pytest.raises(ValueError, match="another fitted or trained model"):
        LearnedCodec(FakeCodecModel()).decompress(data)
    with pytest.raises(ValueError, match="has no 'encode_latents'"):
        LearnedCodec(object())


def _context_for(codec, images):
    """A context model fitted on a codec's symbols of ``images`` (the last 50 images for validation)."""
    from course_utils.models.context import fit_context_model

    symbols = codec.quantise(images).reshape(len(images), -1)  # (n, d)
    return fit_context_model(symbols[:-50], symbols[-50:], [49, 49], hidden_units=32, epochs=10,
                             learning_rate=1e-2, seed=0)[0]


def test_learned_codec_with_a_context_model_decodes_the_same_images_from_fewer_bits():
    plain = LearnedCodec(FakeCodecModel(), batch_size=64)
    context = _context_for(plain, smooth_images(400, seed=12, size=28))
    coded = LearnedCodec(FakeCodecModel(), batch_size=64, context=context)
    images = smooth_images(100, seed=13, size=28)  # two batches, the second one smaller
    tables, data = plain.compress(images), coded.compress(images)
    decoded = coded.decompress(data)
    assert np.array_equal(decoded, plain.decompress(tables)) and coded.compress(images) == data
    assert coded.payload_bits(data).mean() < 0.9 * plain.payload_bits(tables).mean()
    symbols = plain.quantise(images).reshape(100, -1).astype(np.float32)
    ideal = np.asarray(context.bits(symbols))  # (100,)
    assert np.all(np.abs(coded.payload_bits(data) - ideal) <= 0.02 * ideal + 32)
    other_batches = LearnedCodec(FakeCodecModel(), batch_size=7, context=context)  # the decoder's batches differ
    assert np.array_equal(other_batches.decompress(data), decoded)
    with pytest.raises(ValueError, match="another fitted or trained model"):
        plain.decompress(data)
    with pytest.raises(ValueError, match="another fitted or trained model"):
        coded.decompress(tables)


def test_context_coded_records_that_were_altered_are_detected():
    plain = LearnedCodec(FakeCodecModel(), batch_size=64)
    coded = LearnedCodec(FakeCodecModel(), context=_context_for(plain, smooth_images(200, seed=14, size=28)))
    images = smooth_images(3, seed=15, size=28)
    _, shape, records, extra = unpack(coded.compress(images), expected_codec="learned")
    for altered in (records[1][:-2], records[1] + b"\x07", bytes([records[1][0] ^ 0x10]) + records[1][1:]):
        with pytest.raises(InvalidStreamError):
            coded.decompress(pack("learned", shape, [records[0], altered, records[2]], extra))


def test_a_context_model_for_other_latents_is_refused():
    from course_utils.models.context import fit_context_model

    symbols = LearnedCodec(FakeCodecModel()).quantise(smooth_images(60, seed=16, size=28)).reshape(60, -1)[:, :80]
    context = fit_context_model(symbols[:40], symbols[40:], [40, 40], hidden_units=4, epochs=1)[0]
    with pytest.raises(ValueError, match="codes 80 symbols per image but this codec's latents have 98"):
        LearnedCodec(FakeCodecModel(), context=context).compress(smooth_images(2, seed=17, size=28))
    with pytest.raises(ValueError, match="context must be a fitted"):
        LearnedCodec(FakeCodecModel(), context="tables")
