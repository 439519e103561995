"""Chapter 07's compression package: range coding, the byte format, baseline codecs, BD-rate, the learned codec."""
from __future__ import annotations

import numpy as np
import pytest

from course_utils.compression import (
    CorruptStreamError,
    InvalidStreamError,
    code_length_bits,
    container_overhead_bytes,
    decode_symbols,
    encode_symbols,
    pack,
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
