"""Data: local-first data sets, array pipelines, low/high-resolution pairs, and simulated low-dose CT and microscopy."""
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
from course_utils.data.pipeline import binarised_dataset, extract_patches, make_dataset, split_validation, take_subset
from course_utils.data.resolution import (
    HELD_OUT_PHOTOS,
    TRAIN_PHOTOS,
    crop_to_multiple,
    downscale,
    low_high_pairs,
    sr_patch_dataset,
)
from course_utils.data.tomography import (
    CT_SEEDS,
    MICROSCOPY_TEST,
    MICROSCOPY_TRAIN,
    ct_pairs,
    fbp,
    low_dose,
    low_dose_fbp,
    microscopy_pairs,
    microscopy_test_pair,
    poisson_gaussian,
    project,
    random_ellipse_phantom,
    shepp_logan,
    shepp_logan_pair,
)

__all__ = [
    "CT_SEEDS", "DATA_DIR_ENV", "DEBIAN_FASHION_DIR", "FASHION_MNIST_CLASSES", "FASHION_MNIST_FILES", "HELD_OUT_PHOTOS",
    "MEDICAL_IMAGES", "MICROSCOPY_TEST", "MICROSCOPY_TRAIN", "NATURAL_PHOTOS", "TRAIN_PHOTOS", "DataError",
    "binarised_dataset", "crop_to_multiple", "ct_pairs", "downscale", "extract_patches", "fashion_mnist_candidates", "fbp",
    "keras_cache_dir", "load_digits", "load_fashion_mnist", "load_mnist", "load_skimage_image", "low_dose",
    "low_dose_fbp", "low_high_pairs", "make_dataset", "microscopy_pairs", "microscopy_test_pair", "parse_idx",
    "poisson_gaussian", "prepare_images", "project", "random_ellipse_phantom", "shepp_logan", "shepp_logan_pair",
    "split_validation", "sr_patch_dataset", "take_subset",
]
