"""Tests of jetgeom_lite.geometry against brute force, finite differences and closed forms."""

import doctest
import math

import numpy as np
import pytest

from jetgeom_lite import geometry
from jetgeom_lite.geometry import (LatentMetric, build_latent_metric, fisher_rao_distance,
                                   nearest_neighbour_temperature, select_centroids)


def _random_metric(seed=0, n=5, d=3, lam=0.3, tau=0.7, temperature=0.8):
    rng = np.random.default_rng(seed)
    return LatentMetric(rng.normal(size=(n, d)), rng.uniform(0.2, 1.0, size=(n, d)), temperature, lam, tau)


def _brute_force_matrix(metric, z):
    """G(z) summed as full d x d matrices, one centroid at a time (no logs, no vectorisation)."""
    d = metric.dim
    out = np.zeros((len(z), d, d))
    for n, point in enumerate(z):
        total = metric.lam * math.exp(-metric.tau * float(point @ point)) * np.eye(d)
        for c, s in zip(metric.centres, metric.sigmas):
            precision = np.diag(1.0 / s**2)
            offset = point - c
            total = total + precision * math.exp(-float(offset @ precision @ offset) / metric.temperature**2)
        out[n] = total
    return out


def test_module_doctests():
    failures, tried = doctest.testmod(geometry, optionflags=doctest.ELLIPSIS)
    assert tried > 5 and failures == 0


def test_metric_matches_brute_force_sum():
    metric = _random_metric()
    z = np.random.default_rng(1).normal(size=(9, 3)) * 1.5
    brute = _brute_force_matrix(metric, z)
    np.testing.assert_allclose(metric.matrix(z), brute, rtol=1e-12, atol=0)
    np.testing.assert_allclose(metric.log_volume(z), 0.5 * np.log(np.linalg.det(brute)), rtol=1e-12)


@pytest.mark.parametrize("lam, tau", [(0.3, 0.7), (0.0, 0.0), (0.1, 0.0), (1e-3, 1 / 3)])
def test_gradient_matches_central_differences(lam, tau):
    metric = _random_metric(seed=2, lam=lam, tau=tau)
    z = np.random.default_rng(3).normal(size=(12, 3)) * 2.0
    h = 1e-6
    numeric = np.stack([(metric.log_volume(z + h * e) - metric.log_volume(z - h * e)) / (2 * h)
                        for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(metric.grad_log_volume(z), numeric, atol=1e-6)


def test_log_volume_stays_finite_far_from_every_centroid():
    # w_i underflows to 0 in floating point; the log-space sum must not give -inf or NaN
    metric = _random_metric(lam=0.0, tau=0.0)
    z = np.array([[40.0, -30.0, 25.0]])
    value, gradient = metric.log_volume(z), metric.grad_log_volume(z)
    assert np.isfinite(value).all() and np.isfinite(gradient).all()
    # far away the nearest centroid (in Mahalanobis distance) dominates every G_kk:
    # log volume = (d/2) log w_nearest + 0.5 sum_k log m_nearest,k
    log_w = -np.sum((z - metric.centres) ** 2 / metric.sigmas**2, axis=1) / metric.temperature**2
    nearest = log_w.argmax()
    assert value[0] == pytest.approx(1.5 * log_w[nearest] + np.sum(np.log(1 / metric.sigmas[nearest])), rel=1e-9)


def test_single_centroid_at_its_centre_and_no_centroid():
    sigma = np.array([0.3, 1.2, 0.05])
    centre = np.array([[1.0, -2.0, 0.5]])
    one = LatentMetric(centre, sigma[None], temperature=0.8, lam=0.0, tau=0.0)
    assert one.log_volume(centre)[0] == pytest.approx(np.sum(np.log(1 / sigma)), abs=1e-12)
    empty = LatentMetric(np.empty((0, 2)), np.empty((0, 2)), temperature=1.0, lam=0.1, tau=0.5)
    z = np.array([[0.3, -1.1], [2.0, 0.5]])
    expected = (2 / 2) * math.log(0.1) - 0.5 * 2 * np.sum(z**2, axis=1) / 2
    np.testing.assert_allclose(empty.log_volume(z), expected, atol=1e-12)


def _grid(limit, n, d=2):
    axis = np.linspace(-limit, limit, n)
    mesh = np.meshgrid(*([axis] * d), indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1), (axis[1] - axis[0]) ** d


def test_isolated_centroids_carry_equal_mass_whatever_their_widths():
    metric = LatentMetric(np.array([[-3.0, 0.0], [3.0, 0.0]]), np.array([[0.05, 0.05], [0.5, 0.5]]),
                          temperature=1.0, lam=0.0, tau=0.0)
    points, cell = _grid(8.0, 1601)
    density = np.exp(metric.log_volume(points)) * cell
    assert density.sum() == pytest.approx(2 * (2 * np.pi * 1.0 / 2), rel=2e-3)    # 2 (2 pi T^2 / d)^(d/2)
    assert density[points[:, 0] < 0].sum() / density.sum() == pytest.approx(0.5, abs=2e-3)


@pytest.mark.parametrize("k", [2, 4])
def test_coincident_centroids_are_weighted_super_additively(k):
    sigma = 0.3
    one = LatentMetric(np.zeros((1, 3)), np.full((1, 3), sigma), temperature=1.0, lam=0.0, tau=0.0)
    many = LatentMetric(np.zeros((k, 3)), np.full((k, 3), sigma), temperature=1.0, lam=0.0, tau=0.0)
    points, cell = _grid(1.5, 121, d=3)
    ratio = np.exp(many.log_volume(points)).sum() / np.exp(one.log_volume(points)).sum()
    assert ratio == pytest.approx(k**1.5, rel=5e-3)


def test_scale_covariance_without_regulariser():
    metric = _random_metric(seed=4, lam=0.0, tau=0.0)
    a = 7.0
    scaled = LatentMetric(a * metric.centres, a * metric.sigmas, metric.temperature, 0.0, 0.0)
    z = np.random.default_rng(5).normal(size=(6, 3))
    np.testing.assert_allclose(scaled.log_volume(a * z), metric.log_volume(z) - 3 * math.log(a), atol=1e-12)


def test_background_mass_ratio_against_quadrature():
    metric = LatentMetric(np.zeros((1, 2)), np.full((1, 2), 0.05), temperature=1.0, lam=1e-3, tau=1.0)
    assert metric.background_mass_ratio() == pytest.approx(1e-3, rel=1e-12)
    # split the quadrature: the regulariser alone, and one centroid alone
    points, cell = _grid(8.0, 1601)
    background = LatentMetric(np.empty((0, 2)), np.empty((0, 2)), 1.0, 1e-3, 1.0)
    data = LatentMetric(metric.centres, metric.sigmas, 1.0, 0.0, 0.0)
    ratio = np.exp(background.log_volume(points)).sum() / np.exp(data.log_volume(points)).sum()
    assert ratio == pytest.approx(1e-3, rel=0.05)
    assert LatentMetric(np.zeros((1, 2)), np.ones((1, 2)), 1.0, 1.0, 0.0).background_mass_ratio() == math.inf
    assert LatentMetric(np.zeros((1, 2)), np.ones((1, 2)), 1.0, 0.0, 0.0).background_mass_ratio() == 0.0


def test_temperature_rules():
    points = np.array([[0.0], [1.0], [3.0]])
    assert nearest_neighbour_temperature(points, "max") == 2.0
    assert nearest_neighbour_temperature(points, "median") == 1.0
    with pytest.raises(ValueError, match="rule"):
        nearest_neighbour_temperature(points, "mean")
    with pytest.raises(ValueError, match="at least 2"):
        nearest_neighbour_temperature(points[:1])


def test_fisher_rao_distance_closed_forms():
    assert float(fisher_rao_distance([0.0], [1.3], [0.0], [2.6])) == pytest.approx(math.sqrt(2) * math.log(2), abs=1e-9)
    sigma, shift = 0.4, 1e-3 * 0.4
    assert float(fisher_rao_distance([0.0], [sigma], [shift], [sigma])) == pytest.approx(shift / sigma, rel=1e-4)
    # independent directions add in quadrature, and the distance is symmetric
    d1 = fisher_rao_distance([0.0], [1.0], [1.0], [2.0])
    d2 = fisher_rao_distance([0.5], [0.3], [0.0], [0.3])
    both = fisher_rao_distance([0.0, 0.5], [1.0, 0.3], [1.0, 0.0], [2.0, 0.3])
    assert float(both) == pytest.approx(math.hypot(float(d1), float(d2)), rel=1e-12)
    assert float(fisher_rao_distance([1.0, 0.0], [2.0, 0.3], [0.0, 0.5], [1.0, 0.3])) == pytest.approx(float(both))


def test_curve_length_of_a_straight_line_in_a_constant_metric():
    metric = LatentMetric(np.empty((0, 2)), np.empty((0, 2)), temperature=1.0, lam=9.0, tau=0.0)
    path = np.linspace([0.0, 0.0], [3.0, 4.0], 11)
    assert metric.curve_length(path) == pytest.approx(3.0 * 5.0, rel=1e-12)


def test_kmedoids_finds_separated_groups_and_is_seeded():
    rng = np.random.default_rng(0)
    groups = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    mu = np.concatenate([g + rng.normal(scale=0.3, size=(40, 2)) for g in groups])
    chosen = select_centroids(mu, 3, seed=1)
    assert sorted(np.round(mu[chosen] / 10).astype(int).tolist()) == sorted(np.round(groups / 10).astype(int).tolist())
    # the medoid of each group is the member with the smallest summed distance to the others
    for index in chosen:
        members = mu[np.linalg.norm(mu - mu[index], axis=1) < 3]
        sums = np.linalg.norm(members[:, None] - members[None], axis=2).sum(1)
        assert np.allclose(members[sums.argmin()], mu[index])
    np.testing.assert_array_equal(chosen, select_centroids(mu, 3, seed=1))
    np.testing.assert_array_equal(select_centroids(mu, 4, method="first"), np.arange(4))


def test_build_latent_metric_defaults_and_warning():
    rng = np.random.default_rng(0)
    mu, log_var = rng.normal(size=(300, 4)), np.full((300, 4), -3.0)
    metric = build_latent_metric(mu, log_var, n_centroids=30, directions=[1, 3], seed=0)
    assert metric.dim == 2 and metric.n_centres == 30 and metric.tau == 0.5
    np.testing.assert_allclose(metric.sigmas, math.exp(-1.5))
    assert metric.temperature == pytest.approx(nearest_neighbour_temperature(metric.centres, "median"))
    assert set(map(tuple, metric.centres)) <= set(map(tuple, mu[:, [1, 3]]))
    with pytest.warns(UserWarning, match="regulariser"):
        build_latent_metric(mu, log_var, n_centroids=30, lam=10.0, tau=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"sigmas": -np.ones((2, 2))}, "sigmas"),
    ({"sigmas": np.ones((2, 3))}, "shape"),
    ({"temperature": 0.0}, "temperature"),
    ({"temperature": -1.0}, "temperature"),
    ({"lam": -0.1}, "lam"),
    ({"tau": float("nan")}, "tau"),
    ({"centres": np.array([[0.0, np.nan], [1.0, 1.0]])}, "centres"),
])
def test_bad_metric_input_is_refused(kwargs, match):
    args = {"centres": np.zeros((2, 2)), "sigmas": np.ones((2, 2)), "temperature": 1.0, "lam": 0.1, "tau": 0.5}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        LatentMetric(**args)


def test_bad_points_and_encoder_outputs_are_refused():
    metric = _random_metric()
    with pytest.raises(ValueError, match="shape"):
        metric.log_volume(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        metric.grad_log_volume(np.array([[0.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="lam must be > 0"):
        LatentMetric(np.empty((0, 2)), np.empty((0, 2)), 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="log_var"):
        build_latent_metric(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="directions"):
        build_latent_metric(np.zeros((10, 2)), np.zeros((10, 2)), n_centroids=3, directions=[5])
    with pytest.raises(ValueError, match="sigma"):
        fisher_rao_distance([0.0], [-1.0], [0.0], [1.0])


def test_plotting_functions_draw_the_metric_and_traces():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jetgeom_lite.plotting import draw_hmc_traces, draw_log_volume_map
    from jetgeom_lite.plotting import geometry as plotting_geometry

    assert doctest.testmod(plotting_geometry).failed == 0
    metric = _random_metric()
    fig, (left, right) = plt.subplots(1, 2)
    image = draw_log_volume_map(left, metric, plane=(0, 2), fixed=[0.0, 0.3, 0.0], n_grid=15)
    # the map holds the log volume at its grid points (lower left corner: x and y at their minima)
    expected = metric.log_volume(np.array([[-2.5, 0.3, -2.5]]))[0]
    assert image.get_array()[0, 0] == pytest.approx(expected)
    lines = draw_hmc_traces(right, np.zeros((10, 5, 2)), chains=(0, 3), direction=1)
    assert len(lines) == 2
    plt.close(fig)
