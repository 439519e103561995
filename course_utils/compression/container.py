"""A small self-describing byte format: one compressed batch is one ``bytes`` object (chapter 07).

Layout, integers big-endian::

    magic b"CUAC" | version (1 byte) | codec name length (1 byte) + ASCII name | ndim (1 byte) + ndim x uint32 shape
    | extra length (uint32) + JSON | record count (uint32) + one uint32 length per record | the records | CRC32

The CRC32 (``zlib.crc32``) covers every byte before it, so any altered byte is caught. The header costs
``19 + len(codec) + 4 * ndim + len(JSON) + 4 * records`` bytes; the codecs' rates leave it out (each record
is counted on its own), and ``container_overhead_bytes`` reports it.
"""
from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence
from itertools import accumulate, pairwise

MAGIC = b"CUAC"
FORMAT_VERSION = 1


class CorruptStreamError(ValueError):
    """A byte string that is not an intact stream of this format, or not one of the expected codec (chapter 07)."""


def pack(codec: str, shape: Sequence[int], records: list[bytes], extra: dict | None = None) -> bytes:
    """One byte string holding a codec name, a batch shape, per-record byte strings and a JSON dict (chapter 07)."""
    name = codec.encode("ascii") if codec.isascii() else b""
    if not 0 < len(name) < 256:
        raise ValueError(f"codec must be a non-empty ASCII name shorter than 256 characters, got {codec!r}")
    if any(not isinstance(r, bytes | bytearray) for r in records):
        raise ValueError("records must be a list of bytes objects, one per coded item")
    shape = [int(s) for s in shape]
    if len(shape) > 255 or any(not 0 <= s < 2 ** 32 for s in shape):
        raise ValueError(f"shape must have at most 255 sizes, each in [0, 2**32), got {shape}")
    try:
        text = json.dumps(extra or {}, sort_keys=True, separators=(",", ":")).encode("utf-8")
    except TypeError as error:
        raise ValueError(f"extra must be a JSON-serialisable dict (numbers, strings, lists): {error}") from None
    body = b"".join([
        MAGIC, struct.pack(">BB", FORMAT_VERSION, len(name)), name,
        struct.pack(f">B{len(shape)}I", len(shape), *shape),
        struct.pack(">I", len(text)), text,
        struct.pack(f">I{len(records)}I", len(records), *map(len, records)), *map(bytes, records)])
    return body + struct.pack(">I", zlib.crc32(body))


class _Reader:
    """Reads fields from the front of a byte string, failing with 'truncated' when it runs short."""

    def __init__(self, data: bytes):
        self.data, self.position = data, 0

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes."""
        end = self.position + size
        if end > len(self.data):
            raise CorruptStreamError(f"truncated: expected at least {end} bytes, got {len(self.data)}")
        chunk, self.position = self.data[self.position:end], end
        return chunk

    def unpack(self, fmt: str) -> tuple:
        """The next struct fields of format ``fmt`` (big-endian)."""
        return struct.unpack(">" + fmt, self.take(struct.calcsize(">" + fmt)))


def _header(reader: _Reader) -> tuple[str, tuple[int, ...], bytes, list[int]]:
    """Codec name, shape, extra JSON text and record lengths, read after the magic and version."""
    (name_length,) = reader.unpack("B")
    name = reader.take(name_length).decode("ascii", errors="replace")
    (ndim,) = reader.unpack("B")
    shape = reader.unpack(f"{ndim}I")
    (text_length,) = reader.unpack("I")
    text = reader.take(text_length)
    (count,) = reader.unpack("I")
    return name, tuple(shape), text, list(reader.unpack(f"{count}I"))


def unpack(data: bytes, expected_codec: str | None = None) -> tuple[str, tuple[int, ...], list[bytes], dict]:
    """``(codec, shape, records, extra)`` from ``pack``'s bytes; ``CorruptStreamError`` saying what is wrong (ch. 07)."""
    if not isinstance(data, bytes | bytearray):
        raise CorruptStreamError(f"expected bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise CorruptStreamError("empty input: there are no bytes to decode")
    data = bytes(data)
    if not data.startswith(MAGIC[:len(data)]) or len(data) < len(MAGIC):
        kind = "truncated" if data == MAGIC[:len(data)] else "wrong magic"
        raise CorruptStreamError(f"{kind}: a course_utils compressed stream starts with {MAGIC!r}, got {data[:4]!r}")
    reader = _Reader(data)
    reader.take(len(MAGIC))
    (version,) = reader.unpack("B")
    if version != FORMAT_VERSION:
        raise CorruptStreamError(f"unsupported format version {version}: this course_utils reads version "
                                 f"{FORMAT_VERSION} (or the data was altered)")
    name, shape, text, lengths = _header(reader)
    expected = reader.position + sum(lengths) + 4
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "trailing bytes"
        raise CorruptStreamError(f"{kind}: expected {expected} bytes, got {len(data)} (or the data was altered)")
    if zlib.crc32(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
        raise CorruptStreamError("checksum mismatch: the data was altered")
    if expected_codec is not None and name != expected_codec:
        raise CorruptStreamError(f"wrong codec: this stream was written by {name!r}; decode it with that codec, not "
                                 f"{expected_codec!r}")
    ends = list(accumulate(lengths, initial=reader.position))
    return name, shape, [data[a:b] for a, b in pairwise(ends)], json.loads(text)


def container_overhead_bytes(data: bytes) -> int:
    """Bytes of ``pack``'s stream that are header and checksum, not records: the part no rate counts (chapter 07)."""
    _, _, records, _ = unpack(data)
    return len(data) - sum(map(len, records))
