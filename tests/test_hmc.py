"""Tests of jetgeom_lite.hmc: leapfrog invariants, known Gaussians, the intrinsic prior's closed forms."""

import doctest
import warnings

import numpy as np
import pytest

from jetgeom_lite import hmc
from jetgeom_lite.geometry import LatentMetric
from jetgeom_lite.hmc import (effective_sample_size, fit_gaussian_mixture, grouped_rhat, hmc_sample, leapfrog,
                              sample_aggregate_posterior, sample_intrinsic_prior, split_rhat)


def _standard_normal(z):
    return -0.5 * np.sum(z**2, axis=1)


def _standard_normal_grad(z):
    return -z


def _two_centroid_metric():
    return LatentMetric(np.array([[-3.0, 0.0], [3.0, 0.0]]), np.array([[0.05, 0.05], [0.5, 0.5]]),
                        temperature=1.0, lam=0.0, tau=0.0)


def test_module_doctests():
    failures, tried = doctest.testmod(hmc, optionflags=doctest.ELLIPSIS)
    assert tried > 5 and failures == 0


def test_leapfrog_is_reversible_to_round_off():
    metric = _two_centroid_metric()
    rng = np.random.default_rng(0)
    z0 = np.array([[-3.02, 0.01], [2.7, -0.3]])
    rho0 = rng.normal(size=z0.shape)
    step = np.array([[0.002], [0.02]])
    z1, rho1 = leapfrog(z0, rho0, metric.grad_log_volume, step, 25)
    z2, rho2 = leapfrog(z1, -rho1, metric.grad_log_volume, step, 25)
    np.testing.assert_allclose(z2, z0, atol=1e-12)
    np.testing.assert_allclose(-rho2, rho0, atol=1e-10)


def test_leapfrog_preserves_volume():
    metric = _two_centroid_metric()
    state = np.array([2.8, 0.2, 0.5, -1.0])

    def flow(x):
        z, rho = leapfrog(x[None, :2], x[None, 2:], metric.grad_log_volume, 0.03, 8)
        return np.r_[z[0], rho[0]]

    h = 1e-6
    jacobian = np.stack([(flow(state + h * e) - flow(state - h * e)) / (2 * h) for e in np.eye(4)], axis=1)
    assert np.linalg.det(jacobian) == pytest.approx(1.0, abs=1e-6)


def test_energy_error_is_second_order_in_the_step():
    rng = np.random.default_rng(1)
    z0, rho0 = rng.normal(size=(2000, 2)), rng.normal(size=(2000, 2))

    def mean_abs_error(step, n_steps):  # fixed trajectory length step * n_steps = 1
        z, rho = leapfrog(z0, rho0, _standard_normal_grad, step, n_steps)
        start = -_standard_normal(z0) + 0.5 * np.sum(rho0**2, axis=1)
        end = -_standard_normal(z) + 0.5 * np.sum(rho**2, axis=1)
        return np.mean(np.abs(end - start))

    assert 3.5 < mean_abs_error(0.1, 10) / mean_abs_error(0.05, 20) < 4.5


def test_recovers_standard_normal_variance_within_three_percent():
    # a momentum drawn at the wrong scale s would give variance s^2 (0.25 or 4) instead of 1
    result = hmc_sample(_standard_normal, _standard_normal_grad, np.zeros((2000, 1)), n_samples=150,
                        n_burn_in=150, seed=3)
    draws = result.flat()[:, 0]
    assert abs(draws.mean()) < 0.02
    assert draws.var() == pytest.approx(1.0, rel=0.03)
    assert 0.6 < result.accept_rate < 0.95
    assert result.samples.shape == (150, 2000, 1)


def test_recovers_a_correlated_gaussian():
    covariance = np.array([[1.0, 0.9], [0.9, 1.0]])
    precision = np.linalg.inv(covariance)
    result = hmc_sample(lambda z: -0.5 * np.einsum("ni,ij,nj->n", z, precision, z), lambda z: -z @ precision,
                        np.zeros((400, 2)), n_samples=300, n_burn_in=200, seed=4)
    np.testing.assert_allclose(np.cov(result.flat().T), covariance, atol=0.05)
    assert np.all(split_rhat(result.samples) < 1.02)


def test_step_size_adapts_to_the_target_acceptance():
    result = hmc_sample(_standard_normal, _standard_normal_grad, np.zeros((200, 10)), n_samples=50,
                        n_burn_in=200, step_size=5.0, target_accept=0.75, seed=5)
    assert abs(result.accept_rate - 0.75) < 0.1
    assert result.step_size < 5.0 and result.step_size_history[0] == pytest.approx(5.0)


def test_same_seed_same_samples():
    kwargs = dict(n_samples=20, n_burn_in=20, seed=6)
    a = hmc_sample(_standard_normal, _standard_normal_grad, np.zeros((10, 2)), **kwargs)
    b = hmc_sample(_standard_normal, _standard_normal_grad, np.zeros((10, 2)), **kwargs)
    c = hmc_sample(_standard_normal, _standard_normal_grad, np.zeros((10, 2)), **{**kwargs, "seed": 7})
    np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)


def test_divergent_trajectories_are_rejected_not_propagated():
    # a density whose gradient explodes: every trajectory with a large step diverges
    result = hmc_sample(lambda z: -np.sum(z**4, axis=1), lambda z: -4 * z**3, np.full((20, 1), 0.5),
                        n_samples=10, n_burn_in=0, step_size=3.0, adapt_step_size=False, seed=0)
    assert np.all(np.isfinite(result.samples))
    assert result.n_divergent > 0


def test_intrinsic_prior_without_centroids_is_the_gaussian_of_the_regulariser():
    metric = LatentMetric(np.empty((0, 2)), np.empty((0, 2)), temperature=1.0, lam=0.1, tau=0.5)
    draws = sample_intrinsic_prior(metric, 100, n_chains=600, n_burn_in=100, seed=7).flat()   # N(0, I/(tau d))
    np.testing.assert_allclose(draws.mean(axis=0), 0.0, atol=0.03)
    np.testing.assert_allclose(draws.var(axis=0), 1.0, rtol=0.05)


def test_intrinsic_prior_of_one_centroid_is_its_posterior_rescaled():
    centre, sigma, temperature = np.array([1.0, -2.0]), np.array([0.3, 1.2]), 0.8
    metric = LatentMetric(centre[None], sigma[None], temperature, 0.0, 0.0)
    result = sample_intrinsic_prior(metric, 100, n_chains=600, n_burn_in=100, seed=8)
    draws = result.flat()
    np.testing.assert_allclose(draws.mean(axis=0), centre, atol=0.01 * 2)
    np.testing.assert_allclose(draws.var(axis=0), temperature**2 * sigma**2 / 2, rtol=0.05)   # T^2 sigma^2 / d
    # scale covariance: everything (and the step) times 10 gives variances times 100
    scaled = LatentMetric(10 * centre[None], 10 * sigma[None], temperature, 0.0, 0.0)
    draws10 = sample_intrinsic_prior(scaled, 100, n_chains=600, n_burn_in=100, seed=8).flat()
    np.testing.assert_allclose(draws10.var(axis=0), 100 * temperature**2 * sigma**2 / 2, rtol=0.05)


def test_two_isolated_centroids_keep_the_weights_of_the_starts():
    metric = _two_centroid_metric()
    result = sample_intrinsic_prior(metric, 60, n_chains=1000, n_burn_in=100, seed=9)
    draws = result.flat()
    left = draws[:, 0] < 0
    assert left.mean() == pytest.approx(0.5, abs=0.03)
    np.testing.assert_allclose(draws[left].var(axis=0), 0.05**2 / 2, rtol=0.08)
    np.testing.assert_allclose(draws[~left].var(axis=0), 0.5**2 / 2, rtol=0.08)
    # farther than 3 T from both centres (in their own sigma): a tail of probability e^{-9} per peak in d = 2
    assert metric.escaped(draws).mean() < 1e-3


def test_ess_and_rhat_agree_with_known_chains():
    rng = np.random.default_rng(10)
    iid = rng.normal(size=(4000, 4, 1))
    assert effective_sample_size(iid)[0] == pytest.approx(16000, rel=0.1)
    rho, n = 0.9, 4000
    ar = np.zeros((n, 4))
    noise = rng.normal(size=(n, 4)) * np.sqrt(1 - rho**2)
    for t in range(1, n):
        ar[t] = rho * ar[t - 1] + noise[t]
    assert effective_sample_size(ar[..., None])[0] == pytest.approx(4 * n * (1 - rho) / (1 + rho), rel=0.15)
    stuck = iid + np.array([0.0, 0.0, 5.0, 5.0])[None, :, None]
    assert split_rhat(iid)[0] < 1.01 and split_rhat(stuck)[0] > 1.5
    assert grouped_rhat(stuck, [0, 0, 1, 1]).max() < 1.01


def test_comparison_priors():
    rng = np.random.default_rng(11)
    x = np.r_[rng.multivariate_normal([-4, 0], [[1, 0.5], [0.5, 1]], 600), rng.normal(3, 0.5, (400, 2))]
    mixture = fit_gaussian_mixture(x, 2, seed=0)
    order = np.argsort(mixture.means[:, 0])
    np.testing.assert_allclose(mixture.weights[order], [0.6, 0.4], atol=0.02)
    np.testing.assert_allclose(mixture.covariances[order[0]], [[1, 0.5], [0.5, 1]], atol=0.15)
    draws = mixture.sample(20000, seed=1)
    assert np.mean(draws[:, 0] < 0) == pytest.approx(0.6, abs=0.02)
    z = sample_aggregate_posterior(np.array([[0.0, 5.0]]), np.log([[4.0, 0.01]]), 20000, seed=2)
    np.testing.assert_allclose(z.mean(axis=0), [0.0, 5.0], atol=0.05)
    np.testing.assert_allclose(z.var(axis=0), [4.0, 0.01], rtol=0.05)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="initial"):
        hmc_sample(_standard_normal, _standard_normal_grad, np.zeros(3), n_samples=5)
    with pytest.raises(ValueError, match="NaN"):
        hmc_sample(_standard_normal, _standard_normal_grad, np.array([[np.nan]]), n_samples=5)
    with pytest.raises(ValueError, match="step_size"):
        hmc_sample(_standard_normal, _standard_normal_grad, np.zeros((2, 1)), n_samples=5, step_size=-1.0)
    with pytest.raises(ValueError, match="target_accept"):
        hmc_sample(_standard_normal, _standard_normal_grad, np.zeros((2, 1)), n_samples=5, target_accept=1.5)
    with pytest.raises(ValueError, match="log_density"):
        hmc_sample(lambda z: np.zeros(len(z) + 1), _standard_normal_grad, np.zeros((2, 1)), n_samples=5)
    with pytest.raises(ValueError, match="not finite"):
        hmc_sample(lambda z: np.full(len(z), -np.inf), _standard_normal_grad, np.zeros((2, 1)), n_samples=5)
    with pytest.raises(TypeError, match="log_density"):
        hmc_sample(None, _standard_normal_grad, np.zeros((2, 1)), n_samples=5)
    with pytest.raises(ValueError, match="n_steps"):
        leapfrog(np.zeros((1, 1)), np.zeros((1, 1)), _standard_normal_grad, 0.1, 0)
    with pytest.raises(ValueError, match="start"):
        sample_intrinsic_prior(_two_centroid_metric(), 5, n_chains=3, start=np.zeros((2, 2)))
    with pytest.raises(TypeError, match="LatentMetric"):
        sample_intrinsic_prior("metric", 5)
    with pytest.raises(ValueError, match="groups"):
        grouped_rhat(np.zeros((10, 3, 1)), [0, 1])
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # the ArviZ import warning is silenced inside the module
        effective_sample_size(np.random.default_rng(0).normal(size=(10, 2, 1)))
