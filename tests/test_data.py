"""Data loaders: the real Fashion-MNIST, local-first lookup, checksums and clear errors."""
from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from course_utils import data
from course_utils.data import DataError, datasets


@pytest.fixture
def no_local_data(tmp_path, monkeypatch):
    """Hide every real copy of the data: empty COURSE_DATA_DIR, Debian folder and Keras cache."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "course-data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    return tmp_path


@pytest.fixture
def real_fashion_dir() -> Path:
    """The folder where the real Fashion-MNIST files were found (before any are hidden)."""
    folder = datasets._find_fashion_dir()
    assert folder is not None, "Fashion-MNIST must be installed for the tests (apt-get install dataset-fashion-mnist)"
    return folder


@pytest.fixture
def copied_data(real_fashion_dir, no_local_data):
    """A copy of the real Fashion-MNIST files in $COURSE_DATA_DIR (the first place searched)."""
    target = no_local_data / "course-data"
    target.mkdir()
    for name in data.FASHION_MNIST_FILES:
        shutil.copy(real_fashion_dir / name, target / name)
    return target


def test_real_fashion_mnist_shapes_and_range():
    (x_train, y_train), (x_test, y_test) = data.load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28, 1) and x_test.shape == (10000, 28, 28, 1)
    assert x_train.dtype == np.float32 and y_train.dtype == np.uint8
    assert float(x_train.min()) == 0.0 and float(x_train.max()) == 1.0
    assert np.array_equal(np.bincount(y_train), np.full(10, 6000))
    assert np.array_equal(np.bincount(y_test), np.full(10, 1000))
    assert len(data.FASHION_MNIST_CLASSES) == 10


def test_raw_images_are_uint8_as_stored():
    (raw, _), _ = data.load_fashion_mnist(raw=True)
    (scaled, _), _ = data.load_fashion_mnist()
    assert raw.shape == (60000, 28, 28) and raw.dtype == np.uint8
    assert np.allclose(raw[:10] / 255.0, scaled[:10, ..., 0])


def test_course_data_dir_is_searched_first(copied_data):
    assert datasets._find_fashion_dir() == copied_data
    (x_train, _), (x_test, _) = data.load_fashion_mnist(download=False)
    assert len(x_train) == 60000 and len(x_test) == 10000


def test_nothing_found_offline_names_the_fix(no_local_data):
    with pytest.raises(DataError) as caught:
        data.load_fashion_mnist(download=False)
    message = str(caught.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "COURSE_DATA_DIR" in message and "train-images-idx3-ubyte.gz" in message
    assert str(no_local_data / "course-data") in message


def test_failed_download_gives_the_same_clear_error(no_local_data, monkeypatch):
    monkeypatch.setattr(datasets, "_download_fashion_mnist", lambda: None)
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        data.load_fashion_mnist(download=True)


def test_truncated_file_is_named(copied_data):
    path = copied_data / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(DataError) as caught:
        data.load_fashion_mnist(download=False)
    assert str(path) in str(caught.value) and "truncated or corrupt" in str(caught.value)


def test_corrupt_content_fails_the_checksum(copied_data):
    path = copied_data / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="wrong content") as caught:
        data.load_fashion_mnist(download=False)
    assert str(path) in str(caught.value)


def test_recompressed_files_are_accepted(copied_data):
    path = copied_data / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes()), compresslevel=1))
    _, (_, y_test) = data.load_fashion_mnist(download=False)
    assert len(y_test) == 10000


@pytest.mark.parametrize("raw, problem", [
    (b"\x00\x00\x09\x01" + (3).to_bytes(4, "big") + b"abc", "magic"),
    (b"\x00\x00\x08\x02" + (3).to_bytes(4, "big"), "header"),
    (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc", "promises 5"),
])
def test_parse_idx_rejects_bad_files(raw, problem):
    with pytest.raises(DataError, match=problem):
        data.parse_idx(raw, "x.idx")


def test_parse_idx_reads_shape():
    raw = b"\x00\x00\x08\x02" + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(6))
    assert data.parse_idx(raw).tolist() == [[0, 1, 2], [3, 4, 5]]


def test_mnist_missing_offline_says_where_to_put_it(no_local_data):
    with pytest.raises(DataError, match="mnist.npz"):
        data.load_mnist(download=False)


def test_mnist_with_wrong_checksum_is_rejected(no_local_data):
    folder = no_local_data / "course-data"
    folder.mkdir()
    np.savez(folder / "mnist.npz", x_train=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(DataError, match="wrong content"):
        data.load_mnist(download=False)


def test_digits_are_scaled_images():
    images, labels = data.load_digits()
    assert images.shape == (1797, 8, 8, 1) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() == 1.0 and set(labels) == set(range(10))


@pytest.mark.parametrize("name", data.NATURAL_PHOTOS + data.MEDICAL_IMAGES)
def test_bundled_images_load_offline(name):
    image = data.load_skimage_image(name)
    assert image.ndim == 3 and image.shape[-1] in (1, 3) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert data.load_skimage_image(name, gray=True).shape == image.shape[:2] + (1,)


def test_unknown_image_lists_the_choices():
    with pytest.raises(ValueError, match="astronaut"):
        data.load_skimage_image("nope")


def test_extract_patches_is_seeded_and_sized():
    images = [np.random.default_rng(0).random((40, 50, 1), dtype=np.float32)]
    first = data.extract_patches(images, size=16, count=7, seed=3)
    assert first.shape == (7, 16, 16, 1)
    assert np.array_equal(first, data.extract_patches(images, size=16, count=7, seed=3))
    with pytest.raises(ValueError, match="larger than"):
        data.extract_patches(images, size=64, count=1)


def test_extract_patches_cuts_a_subset_of_the_same_draw():
    images = [np.random.default_rng(0).random((40, 50, 1), dtype=np.float32),
              np.random.default_rng(1).random((30, 30, 1), dtype=np.float32)]
    every = data.extract_patches(images, size=16, count=9, seed=3)
    some = data.extract_patches(images, size=16, count=9, seed=3, indices=[8, 0, 8, 4])
    np.testing.assert_array_equal(some, every[[8, 0, 8, 4]])
    with pytest.raises(ValueError, match=r"indices must .* \[0, 9\)"):
        data.extract_patches(images, size=16, count=9, indices=[9])


def test_split_validation_uses_the_rows_validation_indices_names():
    x = np.arange(50) * 3
    (train,), (val,) = data.split_validation([x], 0.2, seed=4)
    train_rows, val_rows = data.pipeline.validation_indices(50, 0.2, seed=4)
    np.testing.assert_array_equal(train, x[train_rows])
    np.testing.assert_array_equal(val, x[val_rows])
    assert sorted(np.concatenate([train_rows, val_rows])) == list(range(50))


def test_take_subset_keeps_pairs_together():
    x = np.arange(100)
    y = np.arange(100) * 10
    xs, ys = data.take_subset((x, y), 20, seed=1)
    assert len(xs) == 20 and np.array_equal(ys, xs * 10)
    assert np.array_equal(xs, data.take_subset((x, y), 20, seed=1)[0])
    assert len(data.take_subset((x,), None)[0]) == 100
    with pytest.raises(ValueError, match="between 1 and 100"):
        data.take_subset((x,), 101)
    with pytest.raises(ValueError, match="same length"):
        data.take_subset((x, y[:5]), 3)


def test_make_dataset_batches_pairs():
    x = np.zeros((10, 4, 4, 1), np.float32)
    batches = list(data.make_dataset(x, x, batch_size=4, seed=0))
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert batches[0][1].shape == (4, 4, 4, 1)


def test_prepare_images():
    out = data.prepare_images(np.array([[[0, 255]]], np.uint8))
    assert out.shape == (1, 1, 2, 1) and out.dtype == np.float32 and out.max() == 1.0
    with pytest.raises(TypeError, match="uint8"):
        data.prepare_images(np.zeros((1, 2, 2), np.float32))


def test_split_validation_is_seeded_disjoint_and_complete():
    x, y = np.arange(100).reshape(50, 2), np.arange(50)
    (x_tr, y_tr), (x_val, y_val) = data.split_validation((x, y), fraction=0.2, seed=3)
    assert len(x_val) == 10 and len(x_tr) == 40 and np.array_equal(x_tr[:, 0] // 2, y_tr)
    assert sorted(np.concatenate([y_tr, y_val]).tolist()) == list(range(50))
    again = data.split_validation((x, y), fraction=0.2, seed=3)
    assert np.array_equal(again[1][1], y_val)
    with pytest.raises(ValueError, match="no training or no validation"):
        data.split_validation((x,), fraction=0.0)
    with pytest.raises(ValueError, match="same length"):
        data.split_validation((x, y[:3]))


def test_binarised_dataset_draws_fresh_bits_with_the_grey_levels_as_probabilities():
    pytest.importorskip("tensorflow")
    grey = np.full((256, 4, 4, 1), 0.25, dtype=np.float32)
    grey[:, 0, 0, 0] = 0.0  # never on
    grey[:, 1, 1, 0] = 1.0  # always on
    labels = np.arange(256)
    dataset = data.binarised_dataset(grey, labels, batch_size=256, seed=0)
    first, second = (next(iter(dataset)) for _ in range(2))
    bits, seen_labels = (np.asarray(t) for t in first)
    assert set(np.unique(bits)) == {0.0, 1.0} and sorted(seen_labels) == list(range(256))
    assert (bits[:, 0, 0] == 0).all() and (bits[:, 1, 1] == 1).all()
    assert abs(bits.mean() - (0.25 * 14 + 1) / 16) < 0.03  # 256 x 14 draws at p = 0.25 (4.7 standard errors)
    assert not np.array_equal(bits, np.asarray(second[0]))  # a new binarisation on the next pass
    with pytest.raises(ValueError, match="grey levels in \\[0, 1\\]"):
        data.binarised_dataset(grey * 255)


def test_a_file_changed_after_a_first_load_is_read_and_checked_again(copied_data):
    (x_train, _), _ = data.load_fashion_mnist(download=False)
    x_train[:] = 0.0  # the caller's copy: the cache must not share it
    (again, _), _ = data.load_fashion_mnist(download=False)
    assert again.max() == 1.0
    path = copied_data / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] = (raw[100] + 1) % 10
    path.write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(DataError, match="wrong content"):
        data.load_fashion_mnist(download=False)
