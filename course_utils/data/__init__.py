"""Data: local-first data sets, array pipelines, and low/high-resolution pairs."""
from course_utils.data.datasets import (
    DATA_DIR_ENV,
    DEBIAN_FASHION_DIR,
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_FILES,
    MEDICAL_IMAGES,
    NATURAL_PHOTOS,
    DataError,
    fashion_mnist_candidates,
    keras_cache_dir,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_skimage_image,
    parse_idx,
    prepare_images,
)
from course_utils.data.pipeline import extract_patches, make_dataset, split_validation, take_subset
from course_utils.data.resolution import (
    HELD_OUT_PHOTOS,
    TRAIN_PHOTOS,
    crop_to_multiple,
    downscale,
    low_high_pairs,
    sr_patch_dataset,
)

__all__ = [
    "DATA_DIR_ENV", "DEBIAN_FASHION_DIR", "FASHION_MNIST_CLASSES", "FASHION_MNIST_FILES", "HELD_OUT_PHOTOS",
    "MEDICAL_IMAGES", "NATURAL_PHOTOS", "TRAIN_PHOTOS", "DataError", "crop_to_multiple", "downscale",
    "extract_patches", "fashion_mnist_candidates", "keras_cache_dir", "load_digits", "load_fashion_mnist",
    "load_mnist", "load_skimage_image", "low_high_pairs", "make_dataset", "parse_idx", "prepare_images",
    "split_validation", "sr_patch_dataset", "take_subset",
]
