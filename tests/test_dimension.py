"""D1 = -dKL/dln(beta) and D2 = d<d^2>/d(beta^2) on curves with a known answer, and bad input."""

import math

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform

from jetgeom_lite.dimension import (CorrelationDimension, correlation_dimension, dimension_from_information,
                                    dimension_from_resolution,
                                    local_slopes)

BETAS = np.geomspace(2.0, 0.002, 16)


@pytest.mark.parametrize("d", [1, 2, 3.5])
@pytest.mark.parametrize("window", [2, 3, 5])
def test_exact_curves_give_their_dimension(d, window):
    kl = -d * np.log(BETAS) + 0.7
    distortion = d * BETAS ** 2 + 0.04
    d1 = dimension_from_information(BETAS, kl, window=window)
    d2 = dimension_from_resolution(BETAS, distortion, window=window)
    assert d1.dimension.shape == d2.dimension.shape == (BETAS.size - window + 1,)
    np.testing.assert_allclose(d1.dimension, d, rtol=1e-10)
    np.testing.assert_allclose(d2.dimension, d, rtol=1e-9)
    assert d1.measure == "information" and d2.measure == "resolution" and d1.window == window


def test_step_in_dimension_is_located_in_beta():
    # Two resolved directions below beta = 0.1, one above (a linear-Gaussian VAE with scales 1 and 0.1).
    scales = np.array([1.0, 0.1])
    kl = np.sum(np.maximum(0.0, np.log(scales[None, :] / BETAS[:, None])), axis=1)
    distortion = np.sum(np.minimum(BETAS[:, None] ** 2, scales[None, :] ** 2), axis=1)
    d1 = dimension_from_information(BETAS, kl, window=2)
    d2 = dimension_from_resolution(BETAS, distortion, window=2)
    for estimate in (d1, d2):
        coarse = estimate.beta > 1.2  # windows that do not straddle a scale
        middle = (estimate.beta < 0.8) & (estimate.beta > 0.12)
        fine = estimate.beta < 0.08
        np.testing.assert_allclose(estimate.dimension[coarse], 0.0, atol=1e-12)
        np.testing.assert_allclose(estimate.dimension[middle], 1.0, atol=1e-9)
        np.testing.assert_allclose(estimate.dimension[fine], 2.0, atol=1e-9)


def test_window_two_is_the_plain_finite_difference_at_log_midpoints():
    rng = np.random.default_rng(0)
    kl = np.cumsum(rng.uniform(0, 1, BETAS.size))
    estimate = dimension_from_information(BETAS, kl, window=2)
    np.testing.assert_allclose(estimate.dimension, -np.diff(kl) / np.diff(np.log(BETAS)))
    np.testing.assert_allclose(estimate.beta, np.sqrt(BETAS[1:] * BETAS[:-1]))
    distortion = np.cumsum(rng.uniform(0, 1, BETAS.size))[::-1]
    estimate = dimension_from_resolution(BETAS, distortion, window=2)
    np.testing.assert_allclose(estimate.dimension, np.diff(distortion) / np.diff(BETAS ** 2))


def test_increasing_and_decreasing_sweeps_agree():
    kl = -2 * np.log(BETAS) + 0.1 * np.sin(7 * np.log(BETAS))
    down = dimension_from_information(BETAS, kl)
    up = dimension_from_information(BETAS[::-1], kl[::-1])
    np.testing.assert_allclose(up.dimension[::-1], down.dimension)
    np.testing.assert_allclose(up.beta[::-1], down.beta)
    assert down.beta[0] > down.beta[-1]  # results keep the sweep's order


def test_noisy_curves_wider_window_is_closer():
    rng = np.random.default_rng(1)
    betas = np.geomspace(1.0, 0.001, 25)
    errors = {}
    for window in (2, 5):
        errors_w = []
        for _ in range(200):
            kl = -2 * np.log(betas) + 0.15 * rng.standard_normal(betas.size)
            distortion = (2 * betas ** 2 + 0.01) * (1 + 0.03 * rng.standard_normal(betas.size))
            d1 = dimension_from_information(betas, kl, window=window).dimension
            d2 = dimension_from_resolution(betas, distortion, window=window).dimension
            errors_w.append([np.mean(np.abs(d1 - 2)), np.median(d1), np.median(d2)])
        errors[window] = np.array(errors_w)
    # Unbiased: the median over points and trials sits at the truth.
    assert abs(np.median(errors[5][:, 1]) - 2) < 0.05
    assert abs(np.median(errors[5][:, 2]) - 2) < 0.15
    # And the wider local fit halves the scatter of the two-point difference at least.
    assert errors[5][:, 0].mean() < 0.5 * errors[2][:, 0].mean()


def test_local_slopes_is_least_squares():
    rng = np.random.default_rng(2)
    x = np.sort(rng.uniform(0, 1, 9))
    y = rng.standard_normal(9)
    slopes = local_slopes(x, y, window=4)
    expected = [np.polyfit(x[i:i + 4], y[i:i + 4], 1)[0] for i in range(6)]
    np.testing.assert_allclose(slopes, expected)


@pytest.mark.parametrize("function", [dimension_from_information, dimension_from_resolution])
def test_bad_input_is_refused_with_a_clear_message(function):
    good = np.ones(BETAS.size)
    with pytest.raises(ValueError, match="positive"):
        function(np.r_[BETAS[:-1], 0.0], good)
    with pytest.raises(ValueError, match="positive"):
        function(-BETAS, good)
    with pytest.raises(ValueError, match="monotonic"):
        function(np.r_[BETAS[:5], BETAS[3:]], np.ones(BETAS.size + 2))
    with pytest.raises(ValueError, match="monotonic"):
        function(np.r_[BETAS[:5], BETAS[4:]], np.ones(BETAS.size + 1))  # a repeated beta
    with pytest.raises(ValueError, match="points"):
        function(BETAS, good[:-1])
    with pytest.raises(ValueError, match="NaN"):
        function(BETAS, np.r_[good[:-1], np.nan])
    with pytest.raises(ValueError, match="too short"):
        function(BETAS[:2], good[:2], window=3)
    with pytest.raises(ValueError, match="window must be an integer >= 2"):
        function(BETAS, good, window=1)
    with pytest.raises(TypeError, match="window must be an integer"):
        function(BETAS, good, window=2.5)
    with pytest.raises(ValueError, match="1-D"):
        function(BETAS, np.ones((BETAS.size, 2)))
    with pytest.raises(TypeError):
        function(BETAS, ["a"] * BETAS.size)


# ---------------------------------------------------------------------------- correlation dimension
# (moved here from test_emd.py with the function)


@pytest.mark.parametrize("d, Q, tolerance", [(1, 0.01, 0.05), (2, 0.04, 0.1), (3, 0.06, 0.25)])
def test_correlation_dimension_of_uniform_points_in_a_cube(d, Q, tolerance):
    points = np.random.default_rng(d).random((2000, d))
    result = correlation_dimension(pdist(points), [Q, 2 * Q], log_width=0.4, n_bootstrap=20, seed=1)
    assert isinstance(result, CorrelationDimension)
    assert abs(result.dimension[0] - d) < tolerance
    assert np.all(result.lower <= result.dimension) and np.all(result.dimension <= result.upper)
    assert np.all(result.upper - result.lower > 0)
    assert result.n_points == 2000 and result.pair_counts[1] > result.pair_counts[0]


def test_correlation_dimension_square_and_condensed_agree():
    points = np.random.default_rng(5).random((300, 2))
    condensed = pdist(points)
    a = correlation_dimension(condensed, [0.1, 0.2], n_bootstrap=10, seed=3)
    b = correlation_dimension(squareform(condensed), [0.1, 0.2], n_bootstrap=10, seed=3)
    np.testing.assert_array_equal(a.dimension, b.dimension)
    np.testing.assert_array_equal(a.lower, b.lower)
    # N(Q) counts pairs strictly closer than Q
    assert a.pair_counts[0] == np.sum(condensed < 0.1)


def test_correlation_dimension_warns_where_no_pair_is_close():
    points = np.random.default_rng(6).random((50, 2))
    with pytest.warns(RuntimeWarning, match="no pair"):
        result = correlation_dimension(pdist(points), [1e-6, 0.3], n_bootstrap=5)
    assert math.isnan(result.dimension[0]) and math.isfinite(result.dimension[1])


@pytest.mark.parametrize("distances, Q, message", [
    (np.ones((3, 4)), 0.1, "square"),
    (np.array([[0.0, 1.0], [2.0, 0.0]]), 0.1, "symmetric"),
    (np.ones(4), 0.1, "length"),
    (np.array([1.0, -1.0, 1.0]), 0.1, ">= 0"),
    (np.array([1.0, np.nan, 1.0]), 0.1, "NaN"),
    (np.ones(3), 0.0, "positive"),
    (np.ones(3), [0.1, -0.2], "positive"),
    (np.ones((2, 2, 2)), 0.1, "dimensions"),
])
def test_correlation_dimension_bad_input(distances, Q, message):
    with pytest.raises(ValueError, match=message):
        correlation_dimension(distances, Q, n_bootstrap=0)


def test_correlation_dimension_refuses_bad_settings_by_name():
    distances = pdist(np.random.default_rng(0).random((20, 2)))
    with pytest.raises(TypeError, match="confidence must be a number"):
        correlation_dimension(distances, 0.3, confidence=None)
    with pytest.raises(ValueError, match="confidence must lie in"):
        correlation_dimension(distances, 0.3, confidence=1.0)
    with pytest.raises(TypeError, match="n_bootstrap must be an integer"):
        correlation_dimension(distances, 0.3, n_bootstrap=2.5)
    with pytest.raises(ValueError, match="n_bootstrap must be an integer >= 0"):
        correlation_dimension(distances, 0.3, n_bootstrap=-1)
    with pytest.raises(ValueError, match="log_width must be positive"):
        correlation_dimension(distances, 0.3, log_width=0)
    with pytest.raises(TypeError, match="Q must be a positive number"):
        correlation_dimension(distances, None)
    # numpy scalars are numbers here as everywhere
    result = correlation_dimension(distances, np.float32(0.3), log_width=np.float32(0.4),
                                   n_bootstrap=np.int64(3), confidence=np.float32(0.68))
    assert result.n_bootstrap == 3 and result.confidence == pytest.approx(0.68)


def _scale_mixture(n, seed):
    """2-D Gaussian points with a random scale each: dense hubs and isolated points, so that how
    many neighbours a point has varies a lot from point to point."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 2)) * np.exp(rng.standard_normal((n, 1)))


def test_bootstrap_band_matches_the_spread_over_independent_samples():
    """The band must be as wide as dim(Q) really scatters between independent samples.

    Pairs share points, so they are not independent; resampling points (jets) keeps that, while
    resampling pairs as if independent gives a band about three times too narrow on this sample
    (where the number of neighbours varies strongly between points).
    """
    n, Q = 200, [1.0]
    independent = [correlation_dimension(pdist(_scale_mixture(n, 100 + k)), Q, n_bootstrap=0).dimension[0]
                   for k in range(100)]
    spread = np.std(independent, ddof=1)  # the truth, by brute force
    for seed in range(3):
        result = correlation_dimension(pdist(_scale_mixture(n, seed)), Q, n_bootstrap=300, seed=seed)
        half_width = (result.upper[0] - result.lower[0]) / 2  # the 68% band: about one sigma
        assert 0.6 * spread < half_width < 1.8 * spread, (half_width, spread)
