"""Evaluation: losses and image-quality metrics, classical baselines, whole-photo super-resolution scores,
code quality (sparsity, linear probe, Jacobian norm: representation.py), embeddings and retrieval (embedding.py),
anomaly scores, thresholds and detection reports (anomaly.py), the mixture-of-Bernoullis likelihood baseline
(mixture.py)."""
from course_utils.evaluation.mixture import BernoulliMixture

__all__ = ["BernoulliMixture"]
