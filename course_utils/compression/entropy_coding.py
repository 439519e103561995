"""Range coding of integer symbols with per-channel probability tables, through ``constriction`` (chapter 07).

A table ``pmf`` (c, L) gives channel j's probability of each symbol in its support
``offsets[j] .. offsets[j] + L - 1``. Symbols (n, c) are coded row by row, symbol s of channel j as index
``s - offsets[j]`` into ``pmf[j]``, by ``constriction``'s range coder (32-bit words, ``perfect=False``). The words are
written big-endian and trailing zero bytes are dropped: the decoder reads missing words as zeros, so those bytes
carry no information, and a record of a few symbols costs a few bytes, not a whole number of 32-bit words.
"""
from __future__ import annotations

import constriction
import numpy as np

PROBABILITY_FLOOR = 2.0 ** -20  # every in-support symbol costs at most about 20 bits
_CHUNK_VALUES = 1 << 22  # rows per encode call are chosen so each call's table holds at most this many floats


class InvalidStreamError(ValueError):
    """The bytes are not a stream that ``encode_symbols`` wrote with this table and symbol count (chapter 07)."""


def _table(pmf, offsets) -> tuple[np.ndarray, np.ndarray]:
    """Validated, normalised and floored (c, L) table and (c,) int64 offsets."""
    pmf = np.asarray(pmf, dtype=np.float64)
    offsets = np.asarray(offsets)
    if pmf.ndim != 2 or pmf.shape[1] < 2:
        raise ValueError(f"pmf must be a (channels, support size >= 2) table, got shape {pmf.shape}; a support of one "
                         "symbol needs no bits, leave that channel out")
    if not np.all(np.isfinite(pmf)) or np.any(pmf < 0) or np.any(pmf.sum(axis=1) <= 0):
        raise ValueError("pmf must hold finite, non-negative probabilities with a positive sum in every row")
    if offsets.shape != (pmf.shape[0],) or not np.issubdtype(offsets.dtype, np.integer):
        raise ValueError(f"offsets must be {pmf.shape[0]} integers (one per pmf row), got {offsets.dtype} "
                         f"array of shape {offsets.shape}")
    pmf = np.maximum(pmf / pmf.sum(axis=1, keepdims=True), PROBABILITY_FLOOR)
    return pmf / pmf.sum(axis=1, keepdims=True), offsets.astype(np.int64)


def _indices(symbols, pmf: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Symbols (n, c) as int32 indices into their channel's row, with a clear error for any outside the support."""
    symbols = np.asarray(symbols)
    if symbols.ndim != 2 or symbols.shape[1] != pmf.shape[0] or not np.issubdtype(symbols.dtype, np.integer):
        raise ValueError(f"symbols must be an integer array (n, {pmf.shape[0]}), got {symbols.dtype} array of shape "
                         f"{symbols.shape}")
    index = symbols.astype(np.int64) - offsets  # (n, c)
    outside = (index < 0) | (index >= pmf.shape[1])
    if np.any(outside):
        row, channel = np.argwhere(outside)[0]
        low, high = offsets[channel], offsets[channel] + pmf.shape[1] - 1
        raise ValueError(f"symbol {symbols[row, channel]} of channel {channel} (row {row}) is outside its support "
                         f"[{low}, {high}]; clip the symbols to the support before coding (clipping is part of the "
                         f"quantiser)")
    return index.astype(np.int32)


def _chunks(n: int, pmf: np.ndarray) -> range:
    """Row starts of the encode/decode calls, so that no call builds a table of more than ``_CHUNK_VALUES`` floats."""
    return range(0, n, max(1, _CHUNK_VALUES // pmf.size))


def _words_to_bytes(words: np.ndarray) -> bytes:
    """The coder's 32-bit words, big-endian, trailing zero bytes dropped (the decoder reads them back as zeros)."""
    return words.astype(">u4").tobytes().rstrip(b"\0")


def _bytes_to_words(data: bytes) -> np.ndarray:
    """The inverse of ``_words_to_bytes``: zero-padded to whole words."""
    padded = bytes(data) + b"\0" * (-len(data) % 4)
    return np.frombuffer(padded, dtype=">u4").astype(np.uint32)


def _encode(index: np.ndarray, pmf: np.ndarray) -> bytes:
    """Range-code validated indices (n, c) with a normalised table; big-endian words, trailing zero bytes dropped."""
    encoder, family = constriction.stream.queue.RangeEncoder(), constriction.stream.model.Categorical(perfect=False)
    step = _chunks(len(index), pmf).step
    for start in _chunks(len(index), pmf):
        block = index[start:start + step]  # (rows, c)
        encoder.encode(block.ravel(), family, np.tile(pmf, (len(block), 1)))
    return _words_to_bytes(encoder.get_compressed())


def encode_symbols(symbols, pmf, offsets) -> bytes:
    """Range-code integer symbols (n, c), channel j with probabilities ``pmf[j]`` from ``offsets[j]`` (chapter 07)."""
    pmf, offsets = _table(pmf, offsets)
    return _encode(_indices(symbols, pmf, offsets), pmf)


def decode_symbols(data: bytes, pmf, offsets, n: int) -> np.ndarray:
    """Symbols (n, c) int32 from ``encode_symbols``' bytes; ``InvalidStreamError`` if they are not such a stream."""
    pmf, offsets = _table(pmf, offsets)
    if not isinstance(data, bytes | bytearray) or int(n) != n or n < 0:
        raise ValueError(f"decode_symbols needs bytes and a symbol-row count n >= 0, got {type(data).__name__} "
                         f"and n={n!r}")
    n = int(n)
    decoder = constriction.stream.queue.RangeDecoder(_bytes_to_words(data))
    family, step = constriction.stream.model.Categorical(perfect=False), _chunks(n, pmf).step
    blocks = [decoder.decode(family, np.tile(pmf, (min(step, n - start), 1))) for start in _chunks(n, pmf)]
    index = np.concatenate(blocks).reshape(n, len(pmf)) if blocks else np.zeros((0, len(pmf)), np.int32)  # (n, c)
    if _encode(index, pmf) != bytes(data):
        raise InvalidStreamError(f"these {len(data)} bytes are not a stream of {n} rows coded with this table: the "
                                 "data was altered, truncated, or is decoded with another table or row count")
    return (index + offsets).astype(np.int32)


def code_length_bits(symbols, pmf, offsets) -> float:
    """The ideal code length -sum log2 p(symbol) in bits under the (normalised, floored) table (chapter 07)."""
    pmf, offsets = _table(pmf, offsets)
    index = _indices(symbols, pmf, offsets)  # (n, c)
    return float(-np.log2(pmf[np.arange(pmf.shape[0]), index]).sum())


def _gaussian_family(low: int, high: int):
    """constriction's quantised Gaussian on the integers low..high (the tails' mass goes to the end symbols)."""
    if int(low) != low or int(high) != high or low >= high:
        raise ValueError(f"the symbol range needs integers low < high, got {low!r} and {high!r}")
    return constriction.stream.model.QuantizedGaussian(int(low), int(high))


def encode_gaussian(symbols, loc, scale, low: int, high: int) -> bytes:
    """Range-code integer symbols (d,), symbol i with a Gaussian of mean ``loc[i]`` and scale ``scale[i]`` quantised
    to the integers ``low..high`` (chapter 07's context model)."""
    family = _gaussian_family(low, high)
    symbols = np.asarray(symbols)
    loc, scale = np.asarray(loc, dtype=np.float64), np.asarray(scale, dtype=np.float64)
    if symbols.ndim != 1 or not np.issubdtype(symbols.dtype, np.integer) or not loc.shape == symbols.shape == scale.shape:
        raise ValueError(f"symbols must be integers (d,) with one loc and one scale each, got shapes {symbols.shape}, "
                         f"{loc.shape} and {scale.shape}")
    if symbols.size and (symbols.min() < low or symbols.max() > high):
        raise ValueError(f"symbols must lie in [{low}, {high}], got [{symbols.min()}, {symbols.max()}]; clip them to "
                         "the range before coding (clipping is part of the quantiser)")
    if not np.all(np.isfinite(loc)) or not np.all(scale > 0):
        raise ValueError("every loc must be finite and every scale > 0")
    encoder = constriction.stream.queue.RangeEncoder()
    encoder.encode(symbols.astype(np.int32), family, loc, scale)
    return _words_to_bytes(encoder.get_compressed())


class GaussianDecoder:
    """Reads ``encode_gaussian``'s bytes back a part at a time: ``decode(loc, scale)`` returns the next symbols."""

    def __init__(self, data: bytes, low: int, high: int):
        if not isinstance(data, bytes | bytearray):
            raise TypeError(f"GaussianDecoder needs bytes, got {type(data).__name__}")
        self.family = _gaussian_family(low, high)
        self.decoder = constriction.stream.queue.RangeDecoder(_bytes_to_words(data))

    def decode(self, loc, scale) -> np.ndarray:
        """The next len(loc) symbols (int32), decoded with these means and scales (those the encoder used)."""
        loc, scale = np.asarray(loc, dtype=np.float64), np.asarray(scale, dtype=np.float64)
        try:
            return np.asarray(self.decoder.decode(self.family, loc, scale), dtype=np.int32)
        except (ValueError, RuntimeError, AssertionError) as error:
            raise InvalidStreamError(f"these bytes do not decode with the context model's probabilities ({error}): "
                                     "the data was altered or truncated, or is decoded with another model") from None
