"""Local-first data loading for the course: Fashion-MNIST, MNIST, digits and scikit-image photographs.

Fashion-MNIST is looked up in this order: ``$COURSE_DATA_DIR``, the Debian package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``), Keras' cache
(``~/.keras/datasets/fashion-mnist``), then a download through Keras. Every file is checked
against the SHA-256 of its decompressed content, so a recompressed copy is accepted and a
truncated or corrupt one is named in a clear error.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import os
import zlib
from pathlib import Path

import numpy as np

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
DATA_DIR_ENV = "COURSE_DATA_DIR"

# SHA-256 of the *decompressed* idx files (the gzip wrapper differs between distributors).
FASHION_MNIST_FILES = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
MNIST_FILE = "mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

NATURAL_PHOTOS = (
    "astronaut", "camera", "chelsea", "coffee", "rocket", "hubble_deep_field",
    "moon", "coins", "page", "brick", "grass", "gravel", "text", "clock", "cell",
)
MEDICAL_IMAGES = ("retina", "immunohistochemistry", "microaneurysms")


class DataError(RuntimeError):
    """A data file was missing, truncated, corrupt or did not match its checksum."""


# ---------------------------------------------------------------------------
# Fashion-MNIST
# ---------------------------------------------------------------------------

def keras_cache_dir() -> Path:
    """Keras' dataset cache: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets"


def fashion_mnist_candidates() -> list[Path]:
    """Folders searched for the four Fashion-MNIST files, in order."""
    folders = []
    if os.environ.get(DATA_DIR_ENV):
        root = Path(os.environ[DATA_DIR_ENV]).expanduser()
        folders += [root / "fashion-mnist", root]
    folders += [DEBIAN_FASHION_DIR, keras_cache_dir() / "fashion-mnist"]
    return folders


def _find_fashion_dir() -> Path | None:
    for folder in fashion_mnist_candidates():
        if all((folder / name).is_file() for name in FASHION_MNIST_FILES):
            return folder
    return None


def _missing_data_message() -> str:
    searched = "\n".join(f"  - {folder}" for folder in fashion_mnist_candidates())
    files = ", ".join(FASHION_MNIST_FILES)
    return (
        "Fashion-MNIST was not found and could not be downloaded. Searched:\n"
        f"{searched}\n"
        "Fix it one of these ways:\n"
        "  1. Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
        f"  2. Put the four files ({files}) in a folder and set {DATA_DIR_ENV} to it,\n"
        "     e.g. export COURSE_DATA_DIR=$HOME/course-data\n"
        "  3. Connect to the internet once; Keras then caches the files in ~/.keras/datasets/fashion-mnist."
    )


def _read_gzip(path: Path) -> bytes:
    try:
        with gzip.open(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{path} is not a readable gzip file ({error}); it is truncated or corrupt. "
                        "Delete it and reinstall or re-download it.") from error


def _verify(path: Path, raw: bytes, expected_sha256: str) -> None:
    digest = hashlib.sha256(raw).hexdigest()
    if digest != expected_sha256:
        raise DataError(f"{path} has the wrong content (SHA-256 {digest[:12]}..., expected {expected_sha256[:12]}...): "
                        "the file is truncated, corrupt or a different data set. Delete it and reinstall or re-download it.")


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """Parse an IDX file (the MNIST format) into a uint8 array, checking header and length."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{source} is not an unsigned-byte IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{source} is truncated inside its header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    if len(raw) - header != expected:
        raise DataError(f"{source} holds {len(raw) - header} bytes of data but its header promises {expected} "
                        f"for shape {shape}: the file is truncated or corrupt")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _load_fashion_from(folder: Path) -> dict[str, np.ndarray]:
    """The four verified Fashion-MNIST arrays (read-only), parsed once per process while the files stay unchanged."""
    try:
        stamps = tuple((name, (folder / name).stat().st_size, (folder / name).stat().st_mtime_ns)
                       for name in FASHION_MNIST_FILES)
    except OSError:  # a missing file: read it anyway, to report exactly what is wrong
        return _read_fashion_from(folder)
    return _cached_fashion(str(folder), stamps)


@functools.lru_cache(maxsize=2)
def _cached_fashion(folder: str, stamps: tuple) -> dict[str, np.ndarray]:
    """Unzipping and checksumming take seconds: keyed by the files' sizes and times, so a changed file is re-read."""
    return _read_fashion_from(Path(folder))


def _read_fashion_from(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for name, sha in FASHION_MNIST_FILES.items():
        path = folder / name
        raw = _read_gzip(path)
        _verify(path, raw, sha)
        arrays[name] = parse_idx(raw, str(path))
    return arrays


def _download_fashion_mnist() -> Path | None:
    """Let Keras download Fashion-MNIST into its cache; None when offline."""
    try:
        import keras

        keras.datasets.fashion_mnist.load_data()
    except Exception:  # noqa: BLE001 - offline or blocked, in many forms: the caller reports what to do
        return None
    return _find_fashion_dir()


def prepare_images(images: np.ndarray) -> np.ndarray:
    """Scale uint8 images (n, h, w) into float32 [0, 1] with a channel axis: (n, h, w, 1)."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"expected uint8 pixels in 0..255, got dtype {images.dtype}")
    return (images.astype(np.float32) / 255.0)[..., np.newaxis]  # (n, h, w, 1)


def load_fashion_mnist(download: bool = True, raw: bool = False):
    """Fashion-MNIST as ``(x_train, y_train), (x_test, y_test)``: float32 (n, 28, 28, 1) in [0, 1], uint8 labels.

    ``raw=True`` returns the images as stored: uint8 (n, 28, 28) in 0..255.
    """
    folder = _find_fashion_dir() or (_download_fashion_mnist() if download else None)
    if folder is None:
        raise DataError(_missing_data_message())
    arrays = _load_fashion_from(folder)
    scale = (lambda images: images.copy()) if raw else prepare_images
    x_train = scale(arrays["train-images-idx3-ubyte.gz"])  # (60000, 28, 28, 1)
    x_test = scale(arrays["t10k-images-idx3-ubyte.gz"])  # (10000, 28, 28, 1)
    y_train = arrays["train-labels-idx1-ubyte.gz"].copy()
    y_test = arrays["t10k-labels-idx1-ubyte.gz"].copy()
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DataError(f"Fashion-MNIST in {folder}: image and label counts differ")
    return (x_train, y_train), (x_test, y_test)


# ---------------------------------------------------------------------------
# MNIST, digits, scikit-image photographs
# ---------------------------------------------------------------------------

def load_mnist(download: bool = True):
    """MNIST like ``load_fashion_mnist``, from ``$COURSE_DATA_DIR/mnist.npz``, Keras' cache, or a download."""
    candidates = [keras_cache_dir() / MNIST_FILE]
    if os.environ.get(DATA_DIR_ENV):
        candidates.insert(0, Path(os.environ[DATA_DIR_ENV]).expanduser() / MNIST_FILE)
    path = next((p for p in candidates if p.is_file()), None)
    if path is None and download:
        try:
            import keras

            path = Path(keras.utils.get_file(MNIST_FILE, "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
                                             + MNIST_FILE, file_hash=MNIST_SHA256))
        except Exception:  # noqa: BLE001 - offline or blocked, in many forms: the caller reports what to do
            path = None
    if path is None:
        places = "\n".join(f"  - {p}" for p in candidates)
        raise DataError(f"MNIST ({MNIST_FILE}) was not found and could not be downloaded. Searched:\n{places}\n"
                        f"Put {MNIST_FILE} in one of those places (or set {DATA_DIR_ENV}), or connect once so Keras "
                        "can cache it. Fashion-MNIST (Debian: dataset-fashion-mnist) works offline instead.")
    _verify(path, path.read_bytes(), MNIST_SHA256)
    with np.load(path, allow_pickle=False) as data:
        return ((prepare_images(data["x_train"]), data["y_train"].astype(np.uint8)),
                (prepare_images(data["x_test"]), data["y_test"].astype(np.uint8)))


def load_digits():
    """scikit-learn's 8x8 digits: float32 images (1797, 8, 8, 1) in [0, 1] and their labels (works offline)."""
    from sklearn.datasets import load_digits as sk_digits

    digits = sk_digits()
    images = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]  # (1797, 8, 8, 1)
    return images, digits.target.astype(np.uint8)


def load_skimage_image(name: str, gray: bool = False) -> np.ndarray:
    """A photograph bundled with scikit-image as float32 (h, w, c) in [0, 1]; ``gray`` gives c == 1."""
    import skimage.data
    from skimage.color import rgb2gray

    known = NATURAL_PHOTOS + MEDICAL_IMAGES
    if name not in known:
        raise ValueError(f"unknown image {name!r}; choose one of {', '.join(known)}")
    image = np.asarray(getattr(skimage.data, name)())
    image = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
    if gray and image.ndim == 3:
        image = rgb2gray(image).astype(np.float32)
    if image.ndim == 2:
        image = image[..., np.newaxis]  # (h, w, 1)
    return np.clip(image, 0.0, 1.0)
