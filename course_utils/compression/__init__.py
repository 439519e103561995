"""Learned image compression's package part (chapter 07): range coding, the byte format, baseline codecs, BD-rate."""
from __future__ import annotations

from course_utils.compression.baselines import (
    ImageCodec,
    JpegCodec,
    PcaCodec,
    WebpCodec,
    check_images,
    jpeg_payload_bytes,
)
from course_utils.compression.container import (
    FORMAT_VERSION,
    CorruptStreamError,
    container_overhead_bytes,
    pack,
    unpack,
)
from course_utils.compression.entropy_coding import (
    InvalidStreamError,
    code_length_bits,
    decode_symbols,
    encode_symbols,
)
from course_utils.compression.learned import LearnedCodec, digest_in_new_process, images_digest
from course_utils.compression.rd import bd_rate, psnr, rd_curve, rd_points, ssim

__all__ = [
    "FORMAT_VERSION",
    "CorruptStreamError",
    "ImageCodec",
    "InvalidStreamError",
    "JpegCodec",
    "LearnedCodec",
    "PcaCodec",
    "WebpCodec",
    "bd_rate",
    "check_images",
    "code_length_bits",
    "container_overhead_bytes",
    "decode_symbols",
    "digest_in_new_process",
    "encode_symbols",
    "images_digest",
    "jpeg_payload_bytes",
    "pack",
    "psnr",
    "rd_curve",
    "rd_points",
    "ssim",
    "unpack",
]
