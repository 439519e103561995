"""Two-sample statistics: does a set of codes look like a draw from the prior? (chapter 09)

The maximum mean discrepancy (Gretton et al. 2012) compares two samples through a kernel: MMD^2 is zero
exactly when the two distributions are equal (for a characteristic kernel such as the Gaussian one), and
its unbiased estimate scatters around zero when they are. A permutation test turns it into a p-value:
shuffle which points belong to which sample, recompute, and count how often chance does as well.
"""
from __future__ import annotations

import numpy as np


def unbiased_mmd2_from_kernels(k_xx: np.ndarray, k_yy: np.ndarray, k_xy: np.ndarray) -> float:
    """Unbiased MMD^2 from the three kernel matrices (n, n), (m, m), (n, m): the diagonals k(x, x) left out."""
    n, m = len(k_xx), len(k_yy)
    if n < 2 or m < 2:
        raise ValueError(f"MMD needs at least 2 points in each sample, got {n} and {m}")
    within_x = (k_xx.sum() - np.trace(k_xx)) / (n * (n - 1))
    within_y = (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within_x + within_y - 2.0 * k_xy.mean())


def _points(values, name: str) -> np.ndarray:
    points = np.asarray(values, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None]
    if points.ndim != 2 or len(points) < 2 or not np.all(np.isfinite(points)):
        raise ValueError(f"{name} must be finite points of shape (n, d) with n >= 2, got shape {points.shape}")
    return points


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|a_i - b_j|^2 for every pair: (n, d), (m, d) -> (n, m), clipped at 0 against round-off."""
    return np.maximum((a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :], 0.0)


def _gaussian_gram(a: np.ndarray, b: np.ndarray, h: float) -> np.ndarray:
    """exp(-|a_i - b_j|^2 / (2 h^2)) for every pair: (n, d), (m, d) -> (n, m)."""
    return np.exp(-squared_distances(a, b) / (2 * h * h))


def median_bandwidth(x, y, max_points: int = 1000, seed: int = 0) -> float:
    """The median heuristic: the median distance between points of the pooled sample (at most ``max_points``)."""
    pooled = np.concatenate([_points(x, "x"), _points(y, "y")])
    rng = np.random.default_rng(seed)
    if len(pooled) > max_points:
        pooled = pooled[rng.choice(len(pooled), max_points, replace=False)]
    distances = np.sqrt(squared_distances(pooled, pooled)[np.triu_indices(len(pooled), k=1)])
    return float(np.median(distances[distances > 0])) if np.any(distances > 0) else 1.0


def mmd2(x, y, bandwidth: float | None = None) -> float:
    """Unbiased MMD^2 between samples x (n, d) and y (m, d) with the Gaussian kernel exp(-|a - b|^2 / (2 h^2)).

    ``bandwidth`` h defaults to the median heuristic on the pooled sample.
    """
    x, y = _points(x, "x"), _points(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    h = median_bandwidth(x, y) if bandwidth is None else float(bandwidth)
    if h <= 0:
        raise ValueError(f"bandwidth must be positive, got {h}")
    return unbiased_mmd2_from_kernels(_gaussian_gram(x, x, h), _gaussian_gram(y, y, h), _gaussian_gram(x, y, h))


def mmd_test(x, y, n_permutations: int = 200, bandwidth: float | None = None, seed: int = 0) -> dict[str, float]:
    """MMD^2 of x and y and its permutation-test p-value: the share of label shufflings with an MMD^2 at least as large.

    Returns ``mmd2``, ``p_value`` = (1 + count) / (1 + n_permutations), the ``bandwidth`` used (median heuristic
    by default, fixed across permutations) and ``n_permutations``.
    """
    x, y = _points(x, "x"), _points(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    if int(n_permutations) < 1:
        raise ValueError(f"n_permutations must be at least 1, got {n_permutations}")
    h = median_bandwidth(x, y, seed=seed) if bandwidth is None else float(bandwidth)
    pooled = np.concatenate([x, y])
    gram = _gaussian_gram(pooled, pooled, h)  # (n + m, n + m)
    n, m = len(x), len(y)
    rng = np.random.default_rng(seed)
    orders = [np.arange(n + m)] + [rng.permutation(n + m) for _ in range(int(n_permutations))]
    members = np.zeros((n + m, len(orders)))  # column j: 1 for the points that play x in shuffling j
    for j, order in enumerate(orders):
        members[order[:n], j] = 1.0
    others = 1.0 - members
    gram_members = gram @ members  # (n + m, P + 1)
    sum_xx = np.einsum("ij,ij->j", members, gram_members)
    sum_xy = np.einsum("ij,ij->j", others, gram_members)
    sum_yy = np.einsum("ij,ij->j", others, gram @ others)
    diagonal = np.diag(gram)  # all ones for the Gaussian kernel, kept general
    values = ((sum_xx - diagonal @ members) / (n * (n - 1)) + (sum_yy - diagonal @ others) / (m * (m - 1))
              - 2.0 * sum_xy / (n * m))  # (P + 1,)
    observed, shuffled = float(values[0]), values[1:]
    p_value = (1.0 + float(np.sum(shuffled >= observed))) / (1.0 + len(shuffled))
    return {"mmd2": observed, "p_value": p_value, "bandwidth": h, "n_permutations": int(n_permutations)}


__all__ = ["median_bandwidth", "mmd2", "mmd_test", "squared_distances", "unbiased_mmd2_from_kernels"]
