"""Classical image codecs behind one protocol: JPEG, WebP and PCA transform coding (chapter 07).

Every codec turns float images (n, h, w, 1) in [0, 1] into one ``bytes`` object (``container.pack``) and back,
coding each image as an independent record, like one file per image, so every rate counts each image's own
overhead. ``payload_bits`` is each image's entropy-coded payload (what BD-rate compares), ``file_bits`` each image's
whole stand-alone file; neither counts the container's header (``container_overhead_bytes``).
"""
from __future__ import annotations

import hashlib
import io
from abc import ABC, abstractmethod

import numpy as np

from course_utils.compression.container import CorruptStreamError, pack, unpack
from course_utils.compression.entropy_coding import decode_symbols, encode_symbols

SUPPORT_MARGIN = 0.25  # the PCA codec's symbol support: the training range, widened by a quarter on each side


def check_images(images) -> np.ndarray:
    """Images as float32 (n, h, w, 1) in [0, 1], or a ValueError saying what is wrong (chapter 07)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 1 or min(images.shape) < 1:
        raise ValueError(f"images must be a non-empty greyscale batch (n, height, width, 1), got shape {images.shape}; "
                         "add the channel axis with x[..., None]")
    images = images.astype(np.float32)
    if not np.all(np.isfinite(images)) or images.min() < 0 or images.max() > 1:
        raise ValueError(f"images must be finite values in [0, 1], got [{images.min()}, {images.max()}]; "
                         "divide 8-bit images by 255")
    return images


class ImageCodec(ABC):
    """The protocol: ``compress``, ``decompress``, ``payload_bits`` and ``file_bits`` over independent records."""

    name = "codec"

    def compress(self, images) -> bytes:
        """One byte string for a batch of images (n, h, w, 1) in [0, 1], one record per image (chapter 07)."""
        images = check_images(images)
        records = self._encode_batch(images)
        return pack(self.name, images.shape, records, self._extra())

    def decompress(self, data: bytes) -> np.ndarray:
        """The images (n, h, w, 1) float32 in [0, 1] decoded from ``compress``' bytes (chapter 07)."""
        shape, records, extra = self._records(data)
        if extra.get("model") != self._extra().get("model"):
            raise ValueError(f"this {self.name} stream was written with another fitted or trained model (fingerprint "
                             f"{extra.get('model')}); decode it with the codec that wrote it")
        return self._decode_batch(records, shape).astype(np.float32)

    def payload_bits(self, data: bytes) -> np.ndarray:
        """Bits of each image's entropy-coded payload, shape (n,) (chapter 07)."""
        return np.array([8 * len(self._payload(r)) for r in self._records(data)[1]], dtype=np.int64)

    def file_bits(self, data: bytes) -> np.ndarray:
        """Bits of each image's whole stand-alone file, shape (n,) (chapter 07)."""
        return np.array([8 * len(r) for r in self._records(data)[1]], dtype=np.int64)

    def _records(self, data: bytes) -> tuple[tuple[int, ...], list[bytes], dict]:
        """Shape, records and extra dict of one of this codec's streams."""
        _, shape, records, extra = unpack(data, expected_codec=self.name)
        if len(shape) != 4 or shape[0] != len(records):
            raise CorruptStreamError(f"the stream's shape {shape} does not match its {len(records)} records")
        return shape, records, extra

    def _payload(self, record: bytes) -> bytes:
        """The entropy-coded part of one record: all of it unless the format has headers."""
        return record

    def _extra(self) -> dict:
        """Settings written into the stream's header."""
        return {}

    @abstractmethod
    def _encode_batch(self, images: np.ndarray) -> list[bytes]:
        """One record per image."""

    @abstractmethod
    def _decode_batch(self, records: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
        """Images (n, h, w, 1) from the records."""


class _PillowCodec(ImageCodec):
    """A Pillow format on 8-bit greyscale: the input is rounded to 1/255 before coding."""

    format = ""

    def __init__(self, quality: int):
        if int(quality) != quality or not 1 <= quality <= 100:
            raise ValueError(f"quality must be an integer from 1 to 100, got {quality!r}")
        self.quality = int(quality)

    def _save_options(self) -> dict:
        """Keyword arguments of ``Image.save``."""
        return dict(quality=self.quality)

    def _extra(self) -> dict:
        return {"quality": self.quality}

    def _encode_batch(self, images: np.ndarray) -> list[bytes]:
        from PIL import Image

        records = []
        for image in np.round(images[..., 0] * 255).astype(np.uint8):  # (h, w) each
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, format=self.format, **self._save_options())
            records.append(buffer.getvalue())
        return records

    def _decode_batch(self, records: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
        from PIL import Image

        images = [np.asarray(Image.open(io.BytesIO(r)).convert("L"), dtype=np.float32) / 255 for r in records]
        return np.stack(images)[..., None].reshape(shape)  # (n, h, w, 1)


class JpegCodec(_PillowCodec):
    """Baseline JPEG through Pillow (greyscale, Huffman tables optimised per image by default), one file per image (ch. 07).

    A 28x28 JPEG is mostly header: on Fashion-MNIST at quality 50 its markers and quantisation and Huffman tables
    take 185 bytes (330 with libjpeg's standard tables, ``optimize=False``) beside a 190-byte entropy-coded scan.
    ``file_bits`` is what a JPEG file costs; ``payload_bits`` (the scan alone, ``jpeg_payload_bytes``) is what the
    transform and its entropy coder cost, the fair rate to compare a learned codec with, whose decoder also knows
    its tables in advance.
    """

    name, format = "jpeg", "JPEG"

    def __init__(self, quality: int, optimize: bool = True):
        super().__init__(quality)
        self.optimize = bool(optimize)

    def _save_options(self) -> dict:
        return dict(quality=self.quality, optimize=self.optimize)

    def _payload(self, record: bytes) -> bytes:
        return jpeg_payload_bytes(record)


class WebpCodec(_PillowCodec):
    """Lossy WebP through Pillow (``method=6``, the slowest and smallest), one file per image (chapter 07).

    WebP's container (RIFF header, VP8 frame header, partition sizes) does not split cleanly from its
    entropy-coded data, so its payload is the whole file: ``payload_bits == file_bits``.
    """

    name, format = "webp", "WEBP"

    def _save_options(self) -> dict:
        return dict(quality=self.quality, method=6, lossless=False)


def _marker(jpeg: bytes, position: int) -> tuple[int, int]:
    """The marker byte at ``position`` (after any 0xFF fill bytes) and the position after it."""
    if position >= len(jpeg) or jpeg[position] != 0xFF:
        raise ValueError(f"not a valid JPEG: expected a marker at byte {position} of {len(jpeg)}")
    while position < len(jpeg) and jpeg[position] == 0xFF:
        position += 1
    if position >= len(jpeg):
        raise ValueError("not a valid JPEG: it ends inside a marker")
    return jpeg[position], position + 1


def _scan_end(jpeg: bytes, position: int) -> int:
    """Where the entropy-coded data starting at ``position`` ends: the first marker other than 0xFF00 and RSTn."""
    while True:
        position = jpeg.find(b"\xff", position)
        if position < 0 or position + 1 >= len(jpeg):
            raise ValueError("not a valid JPEG: its scan data is not followed by a marker (truncated?)")
        if jpeg[position + 1] == 0 or 0xD0 <= jpeg[position + 1] <= 0xD7:
            position += 2
            continue
        return position


def jpeg_payload_bytes(jpeg: bytes) -> bytes:
    """The entropy-coded scan data of a JPEG file: what follows each SOS segment up to the next marker (chapter 07).

    Segments are skipped by their length fields; the scan keeps its stuffed 0xFF00 bytes and restart markers.
    """
    if not jpeg.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG file: it must start with the SOI marker FF D8")
    position, scans = 2, []
    while True:
        marker, position = _marker(jpeg, position)
        if marker == 0xD9:  # EOI
            return b"".join(scans)
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # TEM and RSTn carry no length field
            continue
        if position + 2 > len(jpeg):
            raise ValueError("not a valid JPEG: it ends inside a segment's length field")
        position += int.from_bytes(jpeg[position:position + 2], "big")
        if marker == 0xDA:  # SOS: its header, then the entropy-coded scan
            end = _scan_end(jpeg, position)
            scans.append(jpeg[position:end])
            position = end


class PcaCodec(ImageCodec):
    """PCA transform coding: project, quantise uniformly, range-code with tables learned on training codes (ch. 07).

    ``fit`` takes the principal axes of mean-centred training images (the eigenvectors of their scatter matrix, the
    right singular vectors of an SVD at a fraction of its cost; signs fixed so the largest entry of each axis is
    positive), quantises each component's training codes with ``round(code / step)`` and models each
    component with a smoothed histogram (add 1/2) over a support ``SUPPORT_MARGIN`` wider than the training range.
    Compressing clips symbols to that support (clipping is part of the quantiser); decoding dequantises to
    ``symbol * step``, maps back and clips to [0, 1]. Encoder and decoder share the fitted model, as a learned
    codec's sides share its weights, so a record is the range-coded symbols alone and ``file_bits == payload_bits``.
    """

    name = "pca"

    def __init__(self, n_components: int, step: float):
        if int(n_components) != n_components or n_components < 1:
            raise ValueError(f"n_components must be a positive integer, got {n_components!r}")
        if not np.isfinite(step) or step <= 0:
            raise ValueError(f"step must be a positive quantiser step, got {step!r}")
        self.n_components, self.step = int(n_components), float(step)
        self.image_shape = self.mean = self.components = self.pmf = self.offsets = None

    def fit(self, x_train) -> PcaCodec:
        """Principal axes, quantised training codes and per-component symbol tables from training images (ch. 07)."""
        x = check_images(x_train)
        flat = x.reshape(len(x), -1).astype(np.float64)  # (n, h*w)
        if self.n_components > min(flat.shape):
            raise ValueError(f"n_components={self.n_components} exceeds min(images, pixels) = {min(flat.shape)}")
        self.image_shape, self.mean = x.shape[1:], flat.mean(axis=0)
        scatter = flat.T @ flat - len(flat) * np.outer(self.mean, self.mean)  # (h*w, h*w), no centred copy
        _, vectors = np.linalg.eigh(scatter)  # ascending eigenvalues
        axes = vectors[:, ::-1][:, :self.n_components].T  # (k, h*w)
        self.components = axes * np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])[:, None]
        codes = flat @ self.components.T - self.mean @ self.components.T  # (n, k)
        symbols = np.round(codes / self.step).astype(np.int64)  # (n, k)
        half = int(np.ceil((1 + SUPPORT_MARGIN) * np.abs(symbols).max())) + 1
        self.offsets = np.full(self.n_components, -half, dtype=np.int64)
        counts = np.stack([np.bincount(s + half, minlength=2 * half + 1) for s in symbols.T])  # (k, 2*half+1)
        self.pmf = (counts + 0.5) / (counts + 0.5).sum(axis=1, keepdims=True)
        return self

    def quantise(self, images) -> np.ndarray:
        """Integer symbols (n, k) of images: round(projection / step), clipped to the support (chapter 07)."""
        if self.components is None:
            raise ValueError("the PCA codec is not fitted: call .fit(x_train) on training images first")
        x = check_images(images)
        if x.shape[1:] != self.image_shape:
            raise ValueError(f"images must have shape (n, {', '.join(map(str, self.image_shape))}) like the "
                             f"training images, got {x.shape}")
        codes = (x.reshape(len(x), -1) - self.mean) @ self.components.T  # (n, k)
        half = -int(self.offsets[0])
        return np.clip(np.round(codes / self.step), -half, half).astype(np.int64)

    def dequantise(self, symbols: np.ndarray) -> np.ndarray:
        """Images (n, h, w, 1) in [0, 1] from symbols (n, k): symbol * step, inverse PCA, clip (chapter 07)."""
        flat = symbols * self.step @ self.components + self.mean  # (n, h*w)
        return np.clip(flat, 0, 1).reshape(len(symbols), *self.image_shape)

    def _encode_batch(self, images: np.ndarray) -> list[bytes]:
        return [encode_symbols(s[None], self.pmf, self.offsets) for s in self.quantise(images)]

    def _decode_batch(self, records: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
        symbols = [decode_symbols(r, self.pmf, self.offsets, 1)[0] for r in records]
        return self.dequantise(np.array(symbols, dtype=np.int64).reshape(len(records), self.n_components))

    def _extra(self) -> dict:
        if self.components is None:
            raise ValueError("the PCA codec is not fitted: call .fit(x_train) on training images first")
        digest = hashlib.sha256()
        for array in (self.mean, self.components, self.pmf, self.offsets, np.array([self.step])):
            digest.update(np.ascontiguousarray(array).tobytes())
        return {"model": digest.hexdigest()[:16], "n_components": self.n_components, "step": self.step}
