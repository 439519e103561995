"""A trained neural codec behind the baselines' protocol: latents rounded, clipped and range-coded (chapter 07).

The model provides ``encode_latents(images) -> y`` (n, h, w, c) before quantisation,
``decode_latents(y_hat) -> images`` (n, h, w, 1) in [0, 1], ``entropy_model.pmf_table() -> (pmf (c, L), offsets
(c,))`` and ``get_weights()`` (any ``keras.Model``). Each image's latent symbols (h*w, c) are one record, coded with
the channel tables, so its bits are the image's whole file: ``file_bits == payload_bits``. The stream records a
fingerprint of the weights and tables, so bytes written by one model never decode silently through another; the
latent shape follows from the image shape, so the decoder finds it by encoding one blank image. With
``refine_steps`` the encoder's latents are refined per image first (``models.codec.refine_latents``): slower
encoding, the same decoder and format. With a ``context`` model (``models.context.ContextEntropyModel``, fitted on the
training images' symbols) each image's flattened symbols are coded slice by slice with the Gaussians it predicts
from the slices before, instead of the channel tables; the decoder recomputes those Gaussians from what it has
decoded, in batches of the same images as the encoder's.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np

from course_utils.compression.baselines import ImageCodec, check_images
from course_utils.compression.entropy_coding import (
    GaussianDecoder,
    InvalidStreamError,
    decode_symbols,
    encode_gaussian,
    encode_symbols,
)

BATCH_SIZE = 256  # images per call of the model's transforms, in compress and decompress alike


class LearnedCodec(ImageCodec):
    """``compress``/``decompress`` for a trained codec model: round, clip to the tables' support, range-code (ch. 07)."""

    name = "learned"

    def __init__(self, model, batch_size: int = BATCH_SIZE, refine_steps: int = 0, refine_rate: float = 0.02,
                 refine_seed: int = 0, context=None):
        for attribute in ("encode_latents", "decode_latents", "entropy_model", "get_weights"):
            if not hasattr(model, attribute):
                raise ValueError(f"the model has no {attribute!r}: LearnedCodec needs encode_latents, decode_latents, "
                                 "entropy_model.pmf_table() and get_weights (a trained chapter 07 codec model)")
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if int(refine_steps) != refine_steps or refine_steps < 0:
            raise ValueError(f"refine_steps must be a whole number >= 0 (0: the encoder's latents), got {refine_steps!r}")
        if refine_steps and not all(hasattr(model, a) for a in ("lmbda", "decoder", "pixels")):
            raise ValueError("refine_steps needs the model's lmbda, decoder and pixels (a RateDistortionCodec of "
                             "course_utils.models)")
        if context is not None and not all(hasattr(context, a) for a in ("coding_parameters", "slices", "dims")):
            raise ValueError("context must be a fitted models.context.ContextEntropyModel (or None for the channel "
                             "tables)")
        self.model, self.batch_size, self.context = model, int(batch_size), context
        self.refine = {"steps": int(refine_steps), "learning_rate": float(refine_rate), "seed": int(refine_seed)}

    def table(self) -> tuple[np.ndarray, np.ndarray]:
        """The model's symbol table: pmf (c, L) float64 and offsets (c,) int64."""
        pmf, offsets = self.model.entropy_model.pmf_table()
        return np.asarray(pmf, dtype=np.float64), np.asarray(offsets).astype(np.int64)

    def quantise(self, images) -> np.ndarray:
        """Integer latent symbols (n, h, w, c): round(encode_latents(images)), refined first if ``refine_steps``,
        clipped to the support (chapter 07)."""
        images, (pmf, offsets) = check_images(images), self.table()
        latents = np.concatenate([np.asarray(self.model.encode_latents(images[i:i + self.batch_size]))
                                  for i in range(0, len(images), self.batch_size)])  # (n, h, w, c)
        if self.refine["steps"]:
            from course_utils.models.codec import refine_latents

            latents = refine_latents(self.model, images, latents, batch_size=self.batch_size, context=self.context,
                                     **self.refine)
        if latents.ndim != 4 or latents.shape[-1] != len(pmf):
            raise ValueError(f"encode_latents must give (n, h, w, {len(pmf)}) latents, one channel per pmf row, "
                             f"got shape {latents.shape}")
        return np.clip(np.round(latents), offsets, offsets + pmf.shape[1] - 1).astype(np.int64)

    def support(self) -> tuple[int, int]:
        """The lowest and highest symbol of any channel's table: the context model's coding range."""
        pmf, offsets = self.table()
        return int(offsets.min()), int(offsets.max() + pmf.shape[1] - 1)

    def _encode_batch(self, images: np.ndarray) -> list[bytes]:
        pmf, offsets = self.table()
        symbols = self.quantise(images)  # (n, h, w, c)
        if self.context is None:
            return [encode_symbols(s.reshape(-1, s.shape[-1]), pmf, offsets) for s in symbols]
        flat = symbols.reshape(len(symbols), -1)  # (n, d)
        self._check_context(flat.shape[1])
        low, high = self.support()
        records = []
        for start in range(0, len(flat), self.batch_size):
            batch = flat[start:start + self.batch_size]  # (b, d)
            parts = [self.context.coding_parameters(batch, k) for k in range(len(self.context.slices))]
            loc, scale = (np.concatenate(p, axis=1) for p in zip(*parts))  # (b, d) each
            records += [encode_gaussian(s, m, v, low, high) for s, m, v in zip(batch, loc, scale)]
        return records

    def _check_context(self, dims: int) -> None:
        if dims != self.context.dims:
            raise ValueError(f"the context model codes {self.context.dims} symbols per image but this codec's latents "
                             f"have {dims}: fit the context model on this codec's symbols")

    def _decode_context(self, records: list[bytes], dims: int) -> np.ndarray:
        """Symbols (n, d) decoded slice by slice, each slice's Gaussians predicted from the slices already decoded."""
        self._check_context(dims)
        low, high = self.support()
        flat = np.zeros((len(records), dims), dtype=np.int64)
        for start in range(0, len(records), self.batch_size):  # each slice is predicted for a whole batch at once
            batch = records[start:start + self.batch_size]
            decoders = [GaussianDecoder(r, low, high) for r in batch]
            symbols = flat[start:start + len(batch)]  # (b, d), a view filled in place
            parts = []
            for k in range(len(self.context.slices)):
                lo, hi = int(self.context.bounds[k]), int(self.context.bounds[k + 1])
                loc, scale = self.context.coding_parameters(symbols, k)  # (b, slice size) each
                parts.append((loc, scale))
                for i, decoder in enumerate(decoders):
                    symbols[i, lo:hi] = decoder.decode(loc[i], scale[i])
            loc, scale = (np.concatenate(p, axis=1) for p in zip(*parts))
            for i, record in enumerate(batch):
                if encode_gaussian(symbols[i], loc[i], scale[i], low, high) != bytes(record):
                    raise InvalidStreamError(f"record {start + i} is not a stream this codec's context model wrote: the "
                                             "data was altered or truncated, or is decoded with another model")
        return flat

    def _decode_batch(self, records: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
        pmf, offsets = self.table()
        probe = np.zeros((1, *shape[1:]), dtype=np.float32)  # one blank image tells the latent shape
        latent_shape = np.asarray(self.model.encode_latents(probe)).shape[1:]  # (h, w, c)
        rows = int(np.prod(latent_shape[:-1]))
        if self.context is None:
            symbols = np.stack([decode_symbols(r, pmf, offsets, rows) for r in records])  # (n, h*w, c)
        else:
            symbols = self._decode_context(records, int(np.prod(latent_shape)))  # (n, h*w*c)
        latents = symbols.reshape(len(records), *latent_shape).astype(np.float32)  # (n, h, w, c)
        images = [np.asarray(self.model.decode_latents(latents[i:i + self.batch_size]))
                  for i in range(0, len(latents), self.batch_size)]
        return np.concatenate(images).reshape(shape)  # (n, h, w, 1)

    def _extra(self) -> dict:
        pmf, offsets = self.table()
        digest = hashlib.sha256()
        context = [] if self.context is None else self.context.get_weights()
        for array in (pmf, offsets, *self.model.get_weights(), *context):
            digest.update(np.ascontiguousarray(array).tobytes())
        return {"model": digest.hexdigest()[:16]}


def images_digest(images) -> str:
    """The first 16 hex digits of the SHA-256 of images' float32 bytes: equal digests mean bit-identical images."""
    return hashlib.sha256(np.ascontiguousarray(images, dtype=np.float32).tobytes()).hexdigest()[:16]


DECODE_SCRIPT = """
import sys
import keras
import course_utils.models.codec, course_utils.models.context  # register the codec's classes with Keras
from course_utils.compression.learned import LearnedCodec, images_digest
context = keras.saving.load_model(sys.argv[3]) if len(sys.argv) > 3 else None
codec = LearnedCodec(keras.saving.load_model(sys.argv[1]), context=context)
with open(sys.argv[2], "rb") as stream:
    print(images_digest(codec.decompress(stream.read())))
"""


def digest_in_new_process(model_path: str | Path, data_path: str | Path, timeout_s: float = 300,
                          context_path: str | Path | None = None) -> str:
    """Decode the bytes in ``data_path`` with the codec saved at ``model_path`` (and the context model saved at
    ``context_path``, if given) in a fresh Python process (ch. 07).

    Returns that process's ``images_digest``; compared with this process's, it shows the bytes decode the same way
    on another run. Raises RuntimeError with the other process's last error line if it fails.
    """
    command = [sys.executable, "-c", DECODE_SCRIPT, str(model_path), str(data_path)]
    command += [] if context_path is None else [str(context_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode or not lines:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"decoding in a new process failed (exit code {result.returncode}): {last}")
    return lines[-1]
