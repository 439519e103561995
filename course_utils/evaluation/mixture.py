"""A mixture of Bernoullis fitted by EM: the classical likelihood baseline beside the VAE (chapter 06).

The model is p(x) = sum_k pi_k prod_d mu_kd^x_d (1 - mu_kd)^(1 - x_d) over binary vectors x, so log p(x)
is exact: a logsumexp over the K components. EM alternates the E-step (responsibilities r_ik, computed
in log space) and the M-step, which finds the maximum a posteriori parameters under a small symmetric
prior: Beta(1 + a, 1 + a) on every pixel probability and Dirichlet(1 + a) on the weights, with
a = ``pseudo_count``. So mu_kd = (sum_i r_ik x_id + a) / (N_k + 2a) never reaches 0 or 1 and a pixel never
seen on gives a finite log-likelihood. Each EM step raises the log posterior (the log-likelihood plus
the log prior), which ``objective_history_`` records.
"""
from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

CHUNK = 8192  # rows per E-step block: 8192 x 784 float64 is 51 MB
TINY = 1e-30  # responsibilities below this count as 0 in the M-step


class BernoulliMixture:
    """A mixture of ``n_components`` products of Bernoullis, fitted by MAP-EM in NumPy (chapter 06).

    ``fit`` takes binary images or grey levels in [0, 1]. Each component's log-likelihood
    x . log mu + (1 - x) . log(1 - mu) is linear in x, so on a grey image it equals its expectation over
    the image's binarisations (x_d is the probability that pixel d is on), and the M-step's counts are
    the expected counts. Fitting grey levels thus fits the expectation over binarisations without
    drawing any; the mixture's objective on them is a lower bound (Jensen) on the expected
    log-likelihood of the binarised images. ``log_likelihood`` scores binary images only.
    """

    def __init__(self, n_components: int = 50, max_iter: int = 100, tol: float = 1e-3, pseudo_count: float = 1.0,
                 seed: int = 0):
        if int(n_components) < 1 or int(max_iter) < 1:
            raise ValueError(f"n_components and max_iter must be at least 1, got n_components={n_components}, "
                             f"max_iter={max_iter}")
        if not float(tol) >= 0.0:
            raise ValueError(f"tol is the smallest gain in nats per example worth another EM step; must be >= 0, "
                             f"got {tol}")
        if not float(pseudo_count) > 0.0:
            raise ValueError(f"pseudo_count is the prior's extra count that keeps probabilities off 0 and 1; must be "
                             f"> 0 (1 is Laplace smoothing), got {pseudo_count}")
        self.n_components, self.max_iter = int(n_components), int(max_iter)
        self.tol, self.pseudo_count, self.seed = float(tol), float(pseudo_count), int(seed)
        self.weights_: np.ndarray | None = None  # (K,)
        self.probabilities_: np.ndarray | None = None  # (K, D)
        self.input_shape_: tuple[int, ...] = ()
        self.log_likelihood_history_: list[float] = []
        self.objective_history_: list[float] = []
        self.n_iter_, self.converged_ = 0, False

    # -- data checks -------------------------------------------------------------------------------------------

    def _flat(self, x, binary: bool) -> np.ndarray:
        """``x`` as (n, D) float32 after checking its shape and values."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim < 2 or len(x) == 0:
            raise ValueError(f"x must be a non-empty batch (n, ...) of images or vectors, got shape {x.shape}")
        if self.probabilities_ is not None and x.shape[1:] != self.input_shape_:
            shape = ", ".join(map(str, self.input_shape_))
            raise ValueError(f"x must have the shape the mixture was fitted on, (n, {shape}), got {x.shape}")
        if binary and not np.isin(x, (0.0, 1.0)).all():
            raise ValueError("log_likelihood needs binary data (0 or 1): pass binarise(x, seed), a fixed "
                             "binarisation, not grey levels")
        if not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0:
            raise ValueError("x must hold values in [0, 1] (binary, or grey levels scaled by 1/255)")
        return x.reshape(len(x), -1)

    def _check_fitted(self) -> None:
        if self.probabilities_ is None:
            raise ValueError("this BernoulliMixture is not fitted yet: call fit(x_train) first")

    # -- EM ----------------------------------------------------------------------------------------------------

    def _log_joint(self, x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """log pi_k + log p(x_i | k) for every example and component: (n, D) -> (n, K), float64.

        The products x . log(mu / (1 - mu)) run in ``dtype``: float32 while fitting (fast, about 1e-4 nats of
        round-off per example), float64 for the reported log-likelihoods.
        """
        log_mu, log_not_mu = np.log(self.probabilities_), np.log1p(-self.probabilities_)  # (K, D) each
        log_odds = (log_mu - log_not_mu).T.astype(dtype)  # (D, K)
        blocks = [x[i:i + CHUNK].astype(dtype, copy=False) @ log_odds
                  for i in range(0, len(x), CHUNK)]  # (chunk, K) each
        return np.concatenate(blocks).astype(np.float64) + log_not_mu.sum(axis=1) + np.log(self.weights_)  # (n, K)

    def _initial_probabilities(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """k-means++ seeding (each next example drawn with odds its squared distance to the nearest chosen one),
        each seed averaged with the data mean: (K, D), inside (0, 1)."""
        picks = [int(rng.integers(len(x)))]
        nearest = np.square(x - x[picks[0]]).sum(axis=1)  # (n,)
        for _ in range(self.n_components - 1):
            odds = nearest / nearest.sum() if nearest.sum() > 0 else None  # identical data: uniform draws
            picks.append(int(rng.choice(len(x), p=odds)))
            nearest = np.minimum(nearest, np.square(x - x[picks[-1]]).sum(axis=1))
        seeds = x[picks].astype(np.float64)  # (K, D)
        return np.clip(0.5 * seeds + 0.5 * x.mean(axis=0, dtype=np.float64), 0.01, 0.99)

    def _log_prior(self) -> float:
        """log Beta(1 + a, 1 + a) of every probability plus log Dirichlet(1 + a) of the weights, up to a constant."""
        mu, a = self.probabilities_, self.pseudo_count
        return float(a * (np.log(mu).sum() + np.log1p(-mu).sum() + np.log(self.weights_).sum()))

    def _e_step(self, x: np.ndarray) -> np.ndarray:
        """Responsibilities p(k | x_i) (n, K); records the mean log-likelihood and objective per example."""
        log_joint = self._log_joint(x, np.float32)  # (n, K)
        top = log_joint.max(axis=1, keepdims=True)  # (n, 1)
        joint = np.exp(log_joint - top)  # (n, K), the largest term of each row is 1: logsumexp by hand
        total = joint.sum(axis=1, keepdims=True)  # (n, 1)
        log_px = np.log(total) + top  # (n, 1)
        self.log_likelihood_history_.append(float(log_px.mean()))
        self.objective_history_.append(float(log_px.mean()) + self._log_prior() / len(x))
        return joint / total

    def _m_step(self, x: np.ndarray, responsibilities: np.ndarray) -> None:
        """MAP weights and pixel probabilities from responsibilities (n, K)."""
        a = self.pseudo_count
        counts = responsibilities.sum(axis=0)  # (K,)
        # responsibilities below 1e-30 become 0 in float32 rather than denormals, which slow the product tenfold
        weights = np.where(responsibilities < TINY, 0.0, responsibilities).astype(np.float32)  # (n, K)
        on = (x.T @ weights).T.astype(np.float64)  # (K, D) expected counts of pixels on
        on = np.clip(on, 0.0, counts[:, None])  # float32 round-off must not push a probability past 1
        self.probabilities_ = (on + a) / (counts[:, None] + 2.0 * a)  # (K, D)
        self.weights_ = (counts + a) / (len(x) + self.n_components * a)  # (K,)

    def fit(self, x) -> BernoulliMixture:
        """EM on (n, ...) binary images or grey levels in [0, 1] until the objective gains < tol; returns self."""
        self.probabilities_ = None
        shape = tuple(np.shape(x)[1:])
        x = self._flat(x, binary=False)
        if len(x) < self.n_components:
            raise ValueError(f"fit needs at least n_components = {self.n_components} examples, got {len(x)}")
        rng = np.random.default_rng(self.seed)
        self.input_shape_ = shape
        self.probabilities_ = self._initial_probabilities(x, rng)
        self.weights_ = np.full(self.n_components, 1.0 / self.n_components)
        self.log_likelihood_history_, self.objective_history_, self.converged_, self.n_iter_ = [], [], False, 0
        responsibilities = self._e_step(x)
        while self.n_iter_ < self.max_iter and not self.converged_:
            self._m_step(x, responsibilities)
            responsibilities = self._e_step(x)
            self.n_iter_ += 1
            self.converged_ = self.objective_history_[-1] - self.objective_history_[-2] < self.tol
        return self

    # -- using the fitted mixture ------------------------------------------------------------------------------

    def log_likelihood(self, x) -> np.ndarray:
        """Exact log p(x) in nats for each binary example: (n, ...) -> (n,) float64."""
        self._check_fitted()
        return logsumexp(self._log_joint(self._flat(x, binary=True)), axis=1)

    def responsibilities(self, x) -> np.ndarray:
        """p(k | x) for each example and component: (n, ...) -> (n, K), rows summing to 1."""
        self._check_fitted()
        log_joint = self._log_joint(self._flat(x, binary=False))  # (n, K)
        return np.exp(log_joint - logsumexp(log_joint, axis=1, keepdims=True))

    def sample(self, n: int, seed: int = 0, binary: bool = True) -> np.ndarray:
        """n draws: a component k ~ pi, then x ~ Bernoulli(mu_k) (binary) or mu_k itself (``binary=False``)."""
        self._check_fitted()
        if int(n) < 1:
            raise ValueError(f"n is the number of samples and must be at least 1, got {n}")
        rng = np.random.default_rng(seed)
        components = rng.choice(self.n_components, size=int(n), p=self.weights_)  # (n,)
        mu = self.probabilities_[components]  # (n, D)
        out = (rng.random(mu.shape) < mu) if binary else mu
        return out.astype(np.float32).reshape((int(n), *self.input_shape_))

    @property
    def means_(self) -> np.ndarray:
        """The component means mu_k as images: (K, *input_shape), pixel probabilities."""
        self._check_fitted()
        return self.probabilities_.reshape((self.n_components, *self.input_shape_))


__all__ = ["BernoulliMixture"]
