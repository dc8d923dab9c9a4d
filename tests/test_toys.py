"""Toy data: shapes, the stated truth, noise of the stated size, dimension seen in pair counts."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from jetgeom_lite import toys


def correlation_dimension(points: np.ndarray, q_low: float, q_high: float) -> float:
    """Slope of ln(number of pairs closer than Q) between two scales: Grassberger-Procaccia."""
    distances = pdist(points)
    pairs_low = np.count_nonzero(distances < q_low)
    pairs_high = np.count_nonzero(distances < q_high)
    assert pairs_low > 100, "too few pairs for a stable count; use more points or a larger Q"
    return np.log(pairs_high / pairs_low) / np.log(q_high / q_low)


def test_bananas_shape_truth_and_two_scales():
    sample = toys.bananas(4000, radius=2.0, arc_width=1.0, thickness=0.1, seed=3)
    assert sample.points.shape == (4000, 2) and sample.coordinates.shape == (4000, 2)
    assert sample.intrinsic_dimension == 2 and sample.ambient_dimension == 2
    along, across = sample.coordinates.T
    assert np.std(along) == pytest.approx(1.0, rel=0.05)
    assert np.std(across) == pytest.approx(0.1, rel=0.05)
    # The offset across the arc is the distance from the circle of curvature.
    centre = np.array([0.0, -2.0])
    np.testing.assert_allclose(np.linalg.norm(sample.points - centre, axis=1) - 2.0, across,
                               atol=1e-12)
    # It is curved: the mean of the points sits below the arc's top, at the inside of the bend.
    assert sample.points[:, 1].mean() < -0.1
    # One long and one short principal scale (the bend adds its sagitta to the short one).
    eigenvalues = np.linalg.eigvalsh(np.cov(sample.points.T))
    assert eigenvalues[1] / eigenvalues[0] > 5


def test_bananas_refuses_a_closed_ring():
    with pytest.raises(ValueError, match="arc_width"):
        toys.bananas(100, radius=0.5, arc_width=1.0)


@pytest.mark.parametrize("make, d, natural_dim", [
    (toys.circle, 1, 2), (toys.sphere, 2, 3), (toys.torus, 2, 3), (toys.wiggly_circle, 1, 2)])
def test_manifolds_shapes_and_stated_dimensions(make, d, natural_dim):
    sample = make(500, seed=1)
    assert sample.points.shape == (500, natural_dim)
    assert sample.coordinates.shape == (500, d)
    assert sample.intrinsic_dimension == d and sample.ambient_dimension == natural_dim
    assert sample.n_points == 500 and sample.description
    embedded = make(500, ambient_dimension=7, seed=1)
    assert embedded.points.shape == (500, 7) and embedded.ambient_dimension == 7
    again = make(500, ambient_dimension=7, seed=1)
    np.testing.assert_array_equal(embedded.points, again.points)
    other = make(500, ambient_dimension=7, seed=2)
    assert not np.allclose(embedded.points, other.points)


@pytest.mark.parametrize("make", [toys.circle, toys.sphere, toys.torus, toys.wiggly_circle,
                                  toys.bananas])
@pytest.mark.parametrize("ambient", [None, 6])
def test_noise_has_the_stated_scale_in_every_ambient_direction(make, ambient):
    clean = make(3000, noise=0.0, ambient_dimension=ambient, seed=4)
    noisy = make(3000, noise=0.03, ambient_dimension=ambient, seed=4)
    assert noisy.noise_scale == 0.03
    difference = noisy.points - clean.points  # the same seed draws the same clean points first
    np.testing.assert_allclose(difference.std(axis=0), 0.03, rtol=0.06)
    np.testing.assert_allclose(difference.mean(axis=0), 0.0, atol=0.003)


def test_clean_points_lie_on_their_manifolds():
    c = toys.circle(300, radius=2.0, noise=0.0, seed=0)
    np.testing.assert_allclose(np.linalg.norm(c.points, axis=1), 2.0)
    np.testing.assert_allclose(np.arctan2(c.points[:, 1], c.points[:, 0]) % (2 * np.pi),
                               c.coordinates[:, 0])
    s = toys.sphere(300, radius=1.5, noise=0.0, seed=0)
    np.testing.assert_allclose(np.linalg.norm(s.points, axis=1), 1.5)
    t = toys.torus(300, major_radius=1.0, minor_radius=0.3, noise=0.0, seed=0)
    rho = np.hypot(t.points[:, 0], t.points[:, 1])
    np.testing.assert_allclose((rho - 1.0) ** 2 + t.points[:, 2] ** 2, 0.09)
    w = toys.wiggly_circle(300, radius=1.0, amplitude=0.1, frequency=40, noise=0.0, seed=0)
    np.testing.assert_allclose(np.linalg.norm(w.points, axis=1),
                               1.0 + 0.1 * np.sin(40 * w.coordinates[:, 0]))
    assert w.scales["wavelength"] == pytest.approx(2 * np.pi / 40)
    assert w.scales["strand_spacing"] == pytest.approx(np.pi / 40)


@pytest.mark.parametrize("make", [toys.circle, toys.sphere, toys.torus, toys.bananas])
def test_embedding_keeps_distances_and_spans_the_natural_dimension(make):
    low = make(400, noise=0.0, seed=5)
    high = make(400, noise=0.0, ambient_dimension=9, seed=5)
    np.testing.assert_allclose(pdist(high.points), pdist(low.points), atol=1e-10)
    singular_values = np.linalg.svd(high.points, compute_uv=False)
    assert np.sum(singular_values > 1e-8 * singular_values[0]) == low.ambient_dimension


@pytest.mark.parametrize("dimension", [1, 2, 3, 5, 8, 32])
def test_random_rotation_is_a_rotation_never_a_reflection(dimension):
    for seed in range(20):  # an O(D) draw is a reflection for about half the seeds
        q = toys.random_rotation(dimension, seed=seed)
        np.testing.assert_allclose(q @ q.T, np.eye(dimension), atol=1e-12)
        assert np.linalg.det(q) == pytest.approx(1.0, abs=1e-10)


def test_random_rotation_is_uniform():
    """Haar on SO(3): the image of a fixed unit vector is uniform on the sphere, so each
    coordinate of it is uniform on [-1, 1] (Archimedes): mean 0, variance 1/3."""
    images = np.array([toys.random_rotation(3, seed=s)[:, 0] for s in range(3000)])
    np.testing.assert_allclose(images.mean(axis=0), 0.0, atol=0.04)
    np.testing.assert_allclose(images.var(axis=0), 1 / 3, atol=0.03)
    counts, _ = np.histogram(images[:, 2], bins=4, range=(-1, 1))
    np.testing.assert_allclose(counts / len(images), 0.25, atol=0.04)
    assert not np.allclose(toys.random_rotation(3, seed=1), toys.random_rotation(3, seed=2))


def test_random_rotation_refuses_bad_input():
    with pytest.raises(ValueError, match="dimension must be an integer >= 1"):
        toys.random_rotation(0)
    with pytest.raises(TypeError, match="dimension must be an integer"):
        toys.random_rotation(3.0)


@pytest.mark.parametrize("make, kwargs, q_low, q_high, expected", [
    (toys.circle, {"noise": 0.0}, 0.02, 0.2, 1.0),
    (toys.sphere, {"noise": 0.0}, 0.05, 0.3, 2.0),
    (toys.torus, {"noise": 0.0, "minor_radius": 0.4}, 0.05, 0.25, 2.0),
    # below the noise scale the noise fills every ambient direction
    (toys.circle, {"noise": 0.1, "ambient_dimension": 3}, 0.02, 0.06, 3.0),
    # the multi-scale toy: a circle from afar, ...
    (toys.wiggly_circle, {"noise": 0.0, "amplitude": 0.15, "frequency": 150}, 0.5, 1.0, 1.0),
    # ... a filled band between its strand spacing (0.021) and its width (0.3), ...
    (toys.wiggly_circle, {"noise": 0.0, "amplitude": 0.15, "frequency": 150}, 0.035, 0.12, 1.8),
    # ... a single strand up close
    (toys.wiggly_circle, {"noise": 0.0, "amplitude": 0.15, "frequency": 150}, 0.003, 0.012, 1.0),
])
def test_pair_counts_see_the_stated_dimension(make, kwargs, q_low, q_high, expected):
    sample = make(3000, seed=6, **kwargs)
    assert correlation_dimension(sample.points, q_low, q_high) == pytest.approx(expected, abs=0.3)


@pytest.mark.parametrize("call, error, match", [
    (lambda: toys.circle(0), ValueError, "n must be an integer >= 1"),
    (lambda: toys.circle(10.5), TypeError, "integer"),
    (lambda: toys.circle(10, radius=-1), ValueError, "radius"),
    (lambda: toys.circle(10, noise=np.nan), ValueError, "noise"),
    (lambda: toys.sphere(10, noise=-0.1), ValueError, "noise"),
    (lambda: toys.sphere(10, ambient_dimension=2), ValueError, "ambient_dimension"),
    (lambda: toys.torus(10, major_radius=1.0, minor_radius=1.0), ValueError, "minor_radius"),
    (lambda: toys.wiggly_circle(10, amplitude=2.0), ValueError, "amplitude"),
    (lambda: toys.wiggly_circle(10, frequency=0), ValueError, "frequency"),
    (lambda: toys.embed_in_ambient(np.ones(3), 5), ValueError, "shape"),
    (lambda: toys.embed_in_ambient(np.ones((3, 4)), 3), ValueError, "ambient_dimension"),
])
def test_bad_input_is_refused(call, error, match):
    with pytest.raises(error, match=match):
        call()
