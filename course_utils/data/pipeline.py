"""Array plumbing shared by every chapter: seeded subsets, random patches and tf.data pipelines."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


def take_subset(arrays: Iterable[np.ndarray], size: int | None, seed: int = 0) -> tuple[np.ndarray, ...]:
    """The same seeded random subset of ``size`` rows from each array (all rows, shuffled, when None)."""
    arrays = tuple(arrays)
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"arrays must have the same length, got {sorted(lengths)}")
    n = lengths.pop()
    size = n if size is None else int(size)
    if not 0 < size <= n:
        raise ValueError(f"subset size must be between 1 and {n}, got {size}")
    index = np.random.default_rng(seed).permutation(n)[:size]
    return tuple(a[index] for a in arrays)


def split_validation(arrays: Iterable[np.ndarray], fraction: float = 0.1,
                     seed: int = 0) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """Carve a seeded validation split from training arrays: ((train...), (validation...)); the test set stays unread."""
    arrays = tuple(arrays)
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"arrays must have the same length, got {sorted(lengths)}")
    train, val = validation_indices(lengths.pop(), fraction, seed)
    return tuple(a[train] for a in arrays), tuple(a[val] for a in arrays)


def validation_indices(n: int, fraction: float = 0.1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The row numbers ``split_validation`` gives to training and to validation, for ``n`` rows: (train, val)."""
    n_val = round(n * fraction)
    if not 0 < n_val < n:
        raise ValueError(f"a fraction of {fraction} of {n} rows leaves no training or no validation rows")
    order = np.random.default_rng(seed).permutation(n)
    return order[n_val:], order[:n_val]


def make_dataset(inputs: np.ndarray, targets: np.ndarray | None = None, batch_size: int = 128,
                 shuffle: bool = True, seed: int = 0):
    """A tf.data pipeline: shuffle (seeded), batch, prefetch. For an autoencoder pass ``targets=inputs``."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(inputs if targets is None else (inputs, targets))
    if shuffle:
        dataset = dataset.shuffle(min(len(inputs), 10_000), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def binarised_dataset(images: np.ndarray, labels: np.ndarray | None = None, batch_size: int = 128, seed: int = 0):
    """A tf.data pipeline that binarises afresh on every pass: pixel = 1 with probability its grey level (chapter 06).

    Dynamic binarisation (each epoch sees new 0/1 images drawn from the same probabilities) is the standard
    protocol for Bernoulli likelihoods on grey-level images; it also acts as data augmentation. ``labels``,
    if given, ride along as targets (a conditional VAE).
    """
    import tensorflow as tf

    images = np.asarray(images, dtype=np.float32)
    if images.size == 0 or images.min() < 0.0 or images.max() > 1.0:
        raise ValueError("binarised_dataset needs a non-empty array of grey levels in [0, 1] (scale by 1/255 first)")
    batches = make_dataset(images, labels, batch_size=batch_size, seed=seed)
    # one stateless seed pair per batch, new on every pass (an op-level seed would repeat the same bits each epoch)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def draw(batch, pair):
        x = batch[0] if labels is not None else batch
        bits = tf.cast(tf.random.stateless_uniform(tf.shape(x), seed=pair) < x, x.dtype)  # (batch, h, w, c)
        return (bits, batch[1]) if labels is not None else bits

    return tf.data.Dataset.zip(batches, seeds).map(draw, num_parallel_calls=tf.data.AUTOTUNE)


def extract_patches(images: Sequence[np.ndarray], size: int, count: int, seed: int = 0,
                    indices: Sequence[int] | None = None) -> np.ndarray:
    """Cut ``count`` random ``size`` x ``size`` patches from (h, w, c) images: (count, size, size, c), seeded.

    With ``indices``, only those patches of the same seeded draw are cut, in that order: (len(indices), size, size, c),
    so a subset costs only its own memory.
    """
    images = list(images)
    if not images:
        raise ValueError("extract_patches needs at least one image")
    channels = {im.shape[-1] for im in images}
    if len(channels) != 1 or any(im.ndim != 3 for im in images):
        raise ValueError(f"all images must be (h, w, c) with the same c; got shapes {[im.shape for im in images]}")
    too_small = [im.shape for im in images if im.shape[0] < size or im.shape[1] < size]
    if too_small:
        raise ValueError(f"patch size {size} is larger than images of shape {too_small}")
    wanted = np.arange(count) if indices is None else np.asarray(indices, dtype=int)
    if wanted.ndim != 1 or (wanted.size and (wanted.min() < 0 or wanted.max() >= count)):
        raise ValueError(f"indices must be a 1-D sequence of patch numbers in [0, {count}), got {indices!r:.80}")
    slots: dict[int, list[int]] = {}
    for slot, i in enumerate(wanted):
        slots.setdefault(int(i), []).append(slot)
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(images), size=count)
    patches = np.empty((len(wanted), size, size, channels.pop()), dtype=np.float32)
    for i, k in enumerate(which):
        h, w, _ = images[k].shape
        top, left = rng.integers(0, h - size + 1), rng.integers(0, w - size + 1)  # drawn for every patch
        for slot in slots.get(i, ()):
            patches[slot] = images[k][top:top + size, left:left + size]
    return patches
