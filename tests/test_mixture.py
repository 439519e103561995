"""The mixture of Bernoullis (chapter 06 baseline): EM's monotone objective, recovery of known components, exact
log-likelihoods against brute force and against normalisation over every binary vector, samples, bad input."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from course_utils.evaluation.mixture import BernoulliMixture

TRUE_WEIGHTS = np.array([0.5, 0.3, 0.2])


def true_probabilities(d: int = 24) -> np.ndarray:
    """Three well separated components over d pixels: each is on (0.9) on its own third and off (0.05) elsewhere."""
    mu = np.full((3, d), 0.05)
    for k in range(3):
        mu[k, k * d // 3:(k + 1) * d // 3] = 0.9
    return mu


def synthetic(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Binary vectors from the true mixture, shaped (n, 4, 6, 1) like images, and their components."""
    rng = np.random.default_rng(seed)
    mu = true_probabilities()
    components = rng.choice(3, size=n, p=TRUE_WEIGHTS)
    x = (rng.random((n, mu.shape[1])) < mu[components]).astype(np.float32)
    return x.reshape(n, 4, 6, 1), components


def test_em_objective_and_log_likelihood_never_decrease():
    x, _ = synthetic(600)
    grey = np.random.default_rng(1).random((200, 8))
    for data, pseudo_count in ((x, 1.0), (x, 1e-6), (grey, 0.5)):
        model = BernoulliMixture(4, max_iter=40, tol=0.0, pseudo_count=pseudo_count, seed=3).fit(data)
        assert len(model.objective_history_) == len(model.log_likelihood_history_) == model.n_iter_ + 1 > 5
        # EM stops at a fixed point, where float32 round-off (about 1e-7 nats here) makes the gain negative
        assert np.all(np.diff(model.objective_history_) >= -1e-5), "MAP-EM must never lower the log posterior"
        if pseudo_count < 1e-3:  # with a vanishing prior the objective is the log-likelihood itself
            assert np.all(np.diff(model.log_likelihood_history_) >= -1e-5)
        assert model.objective_history_[-1] > model.objective_history_[0] + 0.1


def test_recovers_known_components_and_weights():
    x, components = synthetic(3000)
    model = BernoulliMixture(3, max_iter=200, tol=1e-6, seed=0).fit(x)
    assert model.converged_ and model.means_.shape == (3, 4, 6, 1)
    fitted = model.means_.reshape(3, -1)
    order = [int(np.argmin(np.abs(fitted - row).sum(axis=1))) for row in true_probabilities()]
    assert sorted(order) == [0, 1, 2], "each true component must match a different fitted one"
    np.testing.assert_allclose(fitted[order], true_probabilities(), atol=0.04)
    np.testing.assert_allclose(model.weights_[order], TRUE_WEIGHTS, atol=0.03)
    assigned = np.argmax(model.responsibilities(x), axis=1)
    assert np.mean(np.asarray(order)[components] == assigned) > 0.99


def test_log_likelihood_equals_a_brute_force_sum_over_components():
    x, _ = synthetic(300)
    model = BernoulliMixture(5, max_iter=10, seed=1).fit(x)
    test = synthetic(7, seed=9)[0]
    mu, pi = model.probabilities_, model.weights_
    expected = []
    for row in test.reshape(7, -1):
        total = 0.0
        for k in range(5):
            total += pi[k] * math.prod(m if v == 1.0 else 1.0 - m for v, m in zip(row, mu[k]))
        expected.append(math.log(total))
    np.testing.assert_allclose(model.log_likelihood(test), expected, rtol=1e-12)


def test_probabilities_sum_to_one_over_every_binary_vector():
    rng = np.random.default_rng(2)
    model = BernoulliMixture(6, max_iter=15, pseudo_count=0.3, seed=2).fit(rng.random((100, 10)))
    every = np.array(list(itertools.product((0.0, 1.0), repeat=10)))  # (1024, 10): all of {0, 1}^10
    assert np.exp(model.log_likelihood(every)).sum() == pytest.approx(1.0, abs=1e-12)


def test_one_component_is_the_smoothed_mean_of_grey_levels():
    x = np.random.default_rng(3).random((50, 5))
    model = BernoulliMixture(1, pseudo_count=2.0).fit(x)
    np.testing.assert_allclose(model.means_[0], (x.sum(axis=0) + 2.0) / (50 + 4.0), rtol=1e-6)
    assert model.weights_ == pytest.approx([1.0])


def test_samples_follow_the_mixture_and_are_seeded():
    x, _ = synthetic(2000)
    model = BernoulliMixture(3, max_iter=100, seed=0).fit(x)
    samples = model.sample(20_000, seed=5)
    assert samples.shape == (20_000, 4, 6, 1) and samples.dtype == np.float32 and np.isin(samples, (0.0, 1.0)).all()
    expected_mean = model.weights_ @ model.probabilities_  # (D,): E[x] = sum_k pi_k mu_k
    standard_error = 0.5 / math.sqrt(20_000)  # the largest a Bernoulli mean's can be
    np.testing.assert_allclose(samples.reshape(20_000, -1).mean(axis=0), expected_mean, atol=4 * standard_error)
    np.testing.assert_array_equal(model.sample(5, seed=5), model.sample(5, seed=5))
    means = model.sample(50, seed=1, binary=False).reshape(50, -1)
    assert all(np.isclose(model.probabilities_, row).all(axis=1).any() for row in means)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_components=0), "n_components and max_iter must be at least 1"),
    (dict(max_iter=0), "n_components and max_iter must be at least 1"),
    (dict(tol=-1.0), "tol .* must be >= 0"),
    (dict(pseudo_count=0.0), "pseudo_count .* must be > 0"),
])
def test_bad_settings_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BernoulliMixture(**kwargs)


def test_bad_data_raise_clear_errors():
    x, _ = synthetic(100)
    with pytest.raises(ValueError, match="not fitted yet: call fit"):
        BernoulliMixture(2).log_likelihood(x)
    with pytest.raises(ValueError, match=r"values in \[0, 1\]"):
        BernoulliMixture(2).fit(x * 255)
    with pytest.raises(ValueError, match="non-empty batch"):
        BernoulliMixture(2).fit(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="at least n_components = 200 examples, got 100"):
        BernoulliMixture(200).fit(x)
    model = BernoulliMixture(2, max_iter=5).fit(x)
    with pytest.raises(ValueError, match="needs binary data .* binarise"):
        model.log_likelihood(x * 0.5)
    with pytest.raises(ValueError, match=r"shape the mixture was fitted on, \(n, 4, 6, 1\), got \(3, 24\)"):
        model.log_likelihood(x[:3].reshape(3, 24))
    with pytest.raises(ValueError, match="at least 1"):
        model.sample(0)
