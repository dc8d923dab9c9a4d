"""Tests of the generated-jet metrics in jetgeom_lite.metrics against independent computations."""

import doctest

import numpy as np
import pytest
from scipy.stats import wasserstein_distance

from jetgeom_lite import metrics
from jetgeom_lite.emd import emd
from jetgeom_lite.metrics import (bootstrap_w1, coverage_mmd, frechet_distance_gaussians, frechet_physics_distance,
                                  generated_jets, irc_safe_features, jet_mass, kernel_physics_distance,
                                  wasserstein_1d)


def test_module_doctests():
    failures, tried = doctest.testmod(metrics, optionflags=doctest.ELLIPSIS)
    assert tried > 10 and failures == 0


def test_w1_matches_scipy_on_unequal_samples():
    rng = np.random.default_rng(0)
    for n, m in ((50, 70), (500, 13), (1, 9)):
        a, b = rng.gamma(2.0, 3.0, n), rng.normal(5.0, 2.0, m)
        assert wasserstein_1d(a, b) == pytest.approx(wasserstein_distance(a, b), rel=1e-12, abs=1e-12)
    est = bootstrap_w1(rng.normal(size=400), rng.normal(size=400) + 3.0, seed=1)
    assert est.value == pytest.approx(3.0, abs=0.2) and est.std > 0


def test_jet_mass_of_two_massless_particles():
    # m^2 = 2 pT1 pT2 (cosh dy - cos dphi) for massless particles
    jets = np.zeros((2, 3, 3))
    jets[0, :2] = [[0.7, 0.1, 0.2], [0.3, -0.2, -0.1]]
    jets[1, :1] = [[1.0, 0.0, 0.0]]
    expected = np.sqrt(2 * 0.7 * 0.3 * (np.cosh(0.3) - np.cos(0.3))) * 550.0
    np.testing.assert_allclose(jet_mass(jets), [expected, 0.0], rtol=1e-12, atol=1e-9)


def test_features_against_explicit_loops():
    rng = np.random.default_rng(2)
    particles = np.zeros((3, 6, 3))
    for j in range(3):
        particles[j, :5, 0] = rng.exponential(1.0, 5)
        particles[j, :5, 1:] = rng.normal(0, 0.3, (5, 2))
    features = irc_safe_features(particles)
    for j in range(3):
        p = particles[j, :5]
        z = p[:, 0] / p[:, 0].sum()
        theta = np.hypot(p[:, None, 1] - p[None, :, 1], p[:, None, 2] - p[None, :, 2])
        r = range(5)
        expected = [sum(z[a] * z[b] * theta[a, b] ** 0.5 for a in r for b in r),
                    sum(z[a] * z[b] * theta[a, b] for a in r for b in r),
                    sum(z[a] * z[b] * theta[a, b] ** 2 for a in r for b in r),
                    sum(z[a] * z[b] * z[c] * theta[a, b] * theta[b, c] for a in r for b in r for c in r),
                    sum(z[a] * z[b] * z[c] * theta[a, b] * theta[b, c] * theta[c, a] for a in r for b in r for c in r),
                    sum(z[a] * z[b] * z[c] * z[e] * theta[a, b] * theta[b, c] * theta[c, e]
                        for a in r for b in r for c in r for e in r),
                    sum(z[a] * z[b] * z[c] * z[e] * theta[b, a] * theta[b, c] * theta[b, e]
                        for a in r for b in r for c in r for e in r)]
        np.testing.assert_allclose(features[j], expected, rtol=1e-10)


def test_features_are_collinear_and_soft_safe():
    jet = np.array([[[0.6, 0.0, 0.0], [0.4, 0.25, 0.1], [0.0, 0.0, 0.0]]])
    split = np.array([[[0.3, 0.0, 0.0], [0.3, 0.0, 0.0], [0.4, 0.25, 0.1]]])      # a collinear split
    soft = jet.copy()
    soft[0, 2] = [1e-9, 0.5, -0.4]                                                 # a soft particle
    np.testing.assert_allclose(irc_safe_features(split), irc_safe_features(jet), rtol=1e-12)
    np.testing.assert_allclose(irc_safe_features(soft), irc_safe_features(jet), rtol=1e-6, atol=1e-8)


def test_frechet_distance_closed_forms():
    # commuting (diagonal) covariances: |dmu|^2 + sum_k (s1_k - s2_k)^2
    assert frechet_distance_gaussians([0, 1], np.diag([4.0, 1.0]), [3, 1], np.diag([1.0, 9.0])) == pytest.approx(
        9 + (2 - 1) ** 2 + (1 - 3) ** 2, rel=1e-12)
    # a rotated copy of the same covariance at the same mean: 0
    rotation = np.array([[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]])
    cov = rotation @ np.diag([2.0, 0.5]) @ rotation.T
    assert frechet_distance_gaussians([1, 1], cov, [1, 1], cov) == pytest.approx(0.0, abs=1e-10)
    x = np.random.default_rng(3).normal(size=(400, 4))
    assert frechet_physics_distance(x, x).value == pytest.approx(0.0, abs=1e-9)
    # a sample shifted by a known amount: the mean term dominates (no normalisation)
    shifted = frechet_physics_distance(x, x + 0.5, normalise=False)
    assert shifted.value == pytest.approx(4 * 0.25, rel=1e-6)


def _brute_force_mmd2(x, y, degree=4):
    d = x.shape[1]
    k = lambda a, b: (a @ b / d + 1.0) ** degree  # noqa: E731
    m, n = len(x), len(y)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_kpd_is_the_unbiased_polynomial_mmd():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(30, 3)), rng.normal(0.3, 1.0, size=(30, 3))
    # batch = whole sample: every batch is the same permutation-invariant statistic
    est = kernel_physics_distance(x, y, n_batches=3, batch_size=30, normalise=False)
    assert est.value == pytest.approx(_brute_force_mmd2(x, y), rel=1e-10)
    assert est.std == pytest.approx(0.0, abs=1e-12)


def test_coverage_and_mmd_against_a_brute_force_emd_loop():
    rng = np.random.default_rng(5)

    def sample(n):
        jets = np.zeros((n, 4, 3))
        jets[:, :, 0] = rng.exponential(1.0, (n, 4))
        jets[:, :, 1:] = rng.normal(0, 0.2, (n, 4, 2))
        return jets

    real, gen = sample(12), sample(12)
    result = coverage_mmd(real, gen, n_eval=12, n_batches=1, seed=0)
    distances = np.array([[emd(g, r, R=0.8, norm=True) for r in real] for g in gen])
    assert result.mmd == pytest.approx(distances.min(axis=0).mean(), rel=1e-9)
    assert result.coverage == pytest.approx(len(set(distances.argmin(axis=1))) / 12)
    identical = coverage_mmd(real, real, n_eval=12, n_batches=1, seed=0)
    assert identical.coverage == 1.0 and identical.mmd == pytest.approx(0.0, abs=1e-9)


def test_generated_jets_drop_soft_particles_and_recluster():
    jets = np.zeros((2, 50, 3))
    jets[:, :, 0] = 1e-5
    jets[:, 0] = [0.6, 0.0, 0.0]
    jets[:, 1] = [0.3999, 0.3, 0.0]
    jets[:, 2] = [0.0001 * 0.5, 0.3 + 0.01, 0.0]
    generated = generated_jets(jets, min_fraction=1e-3, recluster_R=0.07)
    assert generated.multiplicity.tolist() == [2, 2]
    np.testing.assert_allclose(generated.particles[..., 0].sum(axis=1), 1.0)
    assert generated.settings["preprocessing"]["recluster_R"] == 0.07
    kept = generated_jets(jets, min_fraction=0.0, recluster_R=None)
    assert kept.multiplicity.tolist() == [50, 50]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        wasserstein_1d([0.0, np.nan], [1.0])
    with pytest.raises(ValueError, match="shape"):
        jet_mass(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="features differ"):
        frechet_physics_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="batch_size"):
        kernel_physics_distance(np.ones((5, 2)), np.ones((5, 2)), batch_size=10)
    with pytest.raises(ValueError, match="n_eval"):
        coverage_mmd(np.ones((3, 2, 3)), np.ones((3, 2, 3)), n_eval=5)
    with pytest.raises(ValueError, match="min_fraction"):
        generated_jets(np.ones((2, 3, 3)), min_fraction=1.5)
