"""Evaluation: losses and image-quality metrics, classical baselines, whole-photo super-resolution scores."""
