"""A trained neural codec behind the baselines' protocol: latents rounded, clipped and range-coded (chapter 07).

The model provides ``encode_latents(images) -> y`` (n, h, w, c) before quantisation,
``decode_latents(y_hat) -> images`` (n, h, w, 1) in [0, 1], ``entropy_model.pmf_table() -> (pmf (c, L), offsets
(c,))`` and ``get_weights()`` (any ``keras.Model``). Each image's latent symbols (h*w, c) are one record, coded with
the channel tables, so its bits are the image's whole file: ``file_bits == payload_bits``. The stream records a
fingerprint of the weights and tables, so bytes written by one model never decode silently through another; the
latent shape follows from the image shape, so the decoder finds it by encoding one blank image. With
``refine_steps`` the encoder's latents are refined per image first (``models.codec.refine_latents``): slower
encoding, the same decoder and format.
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np

from course_utils.compression.baselines import ImageCodec, check_images
from course_utils.compression.entropy_coding import decode_symbols, encode_symbols

BATCH_SIZE = 256  # images per call of the model's transforms, in compress and decompress alike


class LearnedCodec(ImageCodec):
    """``compress``/``decompress`` for a trained codec model: round, clip to the tables' support, range-code (ch. 07)."""

    name = "learned"

    def __init__(self, model, batch_size: int = BATCH_SIZE, refine_steps: int = 0, refine_rate: float = 0.02,
                 refine_seed: int = 0):
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
        self.model, self.batch_size = model, int(batch_size)
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

            latents = refine_latents(self.model, images, latents, batch_size=self.batch_size, **self.refine)
        if latents.ndim != 4 or latents.shape[-1] != len(pmf):
            raise ValueError(f"encode_latents must give (n, h, w, {len(pmf)}) latents, one channel per pmf row, "
                             f"got shape {latents.shape}")
        return np.clip(np.round(latents), offsets, offsets + pmf.shape[1] - 1).astype(np.int64)

    def _encode_batch(self, images: np.ndarray) -> list[bytes]:
        pmf, offsets = self.table()
        return [encode_symbols(s.reshape(-1, s.shape[-1]), pmf, offsets) for s in self.quantise(images)]

    def _decode_batch(self, records: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
        pmf, offsets = self.table()
        probe = np.zeros((1, *shape[1:]), dtype=np.float32)  # one blank image tells the latent shape
        latent_shape = np.asarray(self.model.encode_latents(probe)).shape[1:]  # (h, w, c)
        rows = int(np.prod(latent_shape[:-1]))
        symbols = np.stack([decode_symbols(r, pmf, offsets, rows) for r in records])  # (n, h*w, c)
        latents = symbols.reshape(len(records), *latent_shape).astype(np.float32)  # (n, h, w, c)
        images = [np.asarray(self.model.decode_latents(latents[i:i + self.batch_size]))
                  for i in range(0, len(latents), self.batch_size)]
        return np.concatenate(images).reshape(shape)  # (n, h, w, 1)

    def _extra(self) -> dict:
        pmf, offsets = self.table()
        digest = hashlib.sha256()
        for array in (pmf, offsets, *self.model.get_weights()):
            digest.update(np.ascontiguousarray(array).tobytes())
        return {"model": digest.hexdigest()[:16]}


def images_digest(images) -> str:
    """The first 16 hex digits of the SHA-256 of images' float32 bytes: equal digests mean bit-identical images."""
    return hashlib.sha256(np.ascontiguousarray(images, dtype=np.float32).tobytes()).hexdigest()[:16]


DECODE_SCRIPT = """
import sys
import keras
import course_utils.models.codec  # registers the codec's classes with Keras
from course_utils.compression.learned import LearnedCodec, images_digest
codec = LearnedCodec(keras.saving.load_model(sys.argv[1]))
with open(sys.argv[2], "rb") as stream:
    print(images_digest(codec.decompress(stream.read())))
"""


def digest_in_new_process(model_path: str | Path, data_path: str | Path, timeout_s: float = 300) -> str:
    """Decode the bytes in ``data_path`` with the codec saved at ``model_path`` in a fresh Python process (ch. 07).

    Returns that process's ``images_digest``; compared with this process's, it shows the bytes decode the same way
    on another run. Raises RuntimeError with the other process's last error line if it fails.
    """
    command = [sys.executable, "-c", DECODE_SCRIPT, str(model_path), str(data_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
    lines = result.stdout.strip().splitlines()
    if result.returncode or not lines:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise RuntimeError(f"decoding in a new process failed (exit code {result.returncode}): {last}")
    return lines[-1]
