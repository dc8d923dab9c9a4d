"""Tests of the toy-VAE figures (jetgeom_lite.plotting.vae), against closed forms."""

import base64
import doctest
import struct

import matplotlib
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import jetgeom_lite.plotting.vae as plotting_vae
from jetgeom_lite.plotting import (covariance_ellipse, draw_decoded_grid, draw_information_price,
                                   draw_kl_per_direction, draw_posterior_ellipses, format_log_axis,
                                   load_state, sweep_slider)
from jetgeom_lite.vae import beta_sweep, make_mlp_vae

matplotlib.use("Agg")

WEIGHT = np.array([[2.0, 0.3], [0.5, -0.8]])  # a linear decoder x_hat = A z + b
BIAS = np.array([0.1, -0.2])


def linear_model(seed=0):
    """An MLP encoder with a linear decoder, for which the decoded posterior is exactly Gaussian."""
    model = make_mlp_vae(2, 2, hidden=(8,), seed=seed)
    linear = torch.nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(WEIGHT, dtype=torch.float32))
        linear.bias.copy_(torch.as_tensor(BIAS, dtype=torch.float32))
    model.decoder = linear
    return model.eval()


def boundary(ellipse):
    """Points on the drawn ellipse, in data coordinates (the unit circle's on-curve vertices:
    every third one, the others are Bezier control points)."""
    on_curve = ellipse.get_path().vertices[0:25:3]
    assert np.allclose(np.hypot(*on_curve.T), 1.0)
    return ellipse.get_patch_transform().transform(on_curve)


def mahalanobis_squared(points, centre, covariance):
    offsets = points - centre
    return np.einsum("ni,ij,nj->n", offsets, np.linalg.inv(covariance), offsets)


@pytest.mark.parametrize("n_std", [1.0, 2.0])
def test_covariance_ellipse_has_the_axes_and_angle_of_a_known_covariance(n_std):
    angle = np.radians(30.0)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    covariance = rotation @ np.diag([4.0, 1.0]) @ rotation.T  # sd 2 along 30 degrees, 1 across
    ellipse = covariance_ellipse((1.0, -1.0), covariance, n_std=n_std)
    assert ellipse.width == pytest.approx(2 * 2.0 * n_std)
    assert ellipse.height == pytest.approx(2 * 1.0 * n_std)
    assert ellipse.angle % 180 == pytest.approx(30.0)
    # every point of the drawn curve is n_std standard deviations from the centre
    distance = mahalanobis_squared(boundary(ellipse), np.array([1.0, -1.0]), covariance)
    np.testing.assert_allclose(distance, n_std**2, rtol=1e-6)


def test_covariance_ellipse_refuses_bad_covariances():
    with pytest.raises(ValueError, match="shape"):
        covariance_ellipse((0, 0), np.eye(3))
    with pytest.raises(ValueError, match="symmetric"):
        covariance_ellipse((0, 0), [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="semi-definite"):
        covariance_ellipse((0, 0), [[1.0, 0.0], [0.0, -1.0]])
    with pytest.raises(ValueError, match="n_std"):
        covariance_ellipse((0, 0), np.eye(2), n_std=0)


def test_posterior_ellipses_of_a_linear_decoder_are_the_exact_decoded_posterior():
    model = linear_model()
    points = np.array([[0.5, -0.3], [-1.0, 0.8], [0.2, 0.1]])
    ax = Figure().add_subplot()
    ellipses = draw_posterior_ellipses(ax, model, points)
    assert len(ellipses) == len(points)
    with torch.no_grad():
        mu, sigma = model.posterior(torch.as_tensor(points, dtype=torch.float32))
    for ellipse, m, s in zip(ellipses, mu.numpy(), sigma.numpy()):
        centre = WEIGHT @ m + BIAS
        covariance = WEIGHT @ np.diag(s**2) @ WEIGHT.T  # z ~ N(mu, diag sigma^2) through A
        np.testing.assert_allclose(ellipse.center, centre, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(mahalanobis_squared(boundary(ellipse), centre, covariance), 1.0,
                                   rtol=1e-3)
    assert len(ax.lines) == len(points)  # the links from points to centres
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        draw_posterior_ellipses(ax, model, np.zeros(4))


def test_decoded_grid_of_a_linear_decoder_is_a_grid_of_straight_lines():
    model = linear_model()
    ax = Figure().add_subplot()
    lines = draw_decoded_grid(ax, model, order=[1, 0], low=-1.0, high=[1.0, 3.0], n_levels=3,
                              n_points=11)
    assert len(lines) == 6
    levels = {0: np.linspace(-1.0, 1.0, 3), 1: np.linspace(-1.0, 3.0, 3)}
    for rank, k in enumerate([1, 0]):
        other = 1 - k
        for level, line in zip(levels[other], lines[3 * rank: 3 * rank + 3]):
            z = np.empty((11, 2))
            z[:, k] = np.linspace(-1.0, [1.0, 3.0][k], 11)
            z[:, other] = level
            expected = z @ WEIGHT.T + BIAS
            np.testing.assert_allclose(np.column_stack(line.get_data()), expected, rtol=1e-5,
                                       atol=1e-6)
            assert line.get_color() == plotting_vae.LATENT_COLORS[rank]
    assert [line.get_label() for line in lines if not line.get_label().startswith("_")] == \
        ["$z_1$ varies", "$z_2$ varies"]
    with pytest.raises(ValueError, match="order"):
        draw_decoded_grid(ax, model, order=[2])
    with pytest.raises(ValueError, match="high must be above low"):
        draw_decoded_grid(ax, model, low=1.0, high=1.0)


@pytest.fixture(scope="module")
def small_sweep():
    x = np.random.default_rng(1).normal(size=(64, 2))
    return beta_sweep(make_mlp_vae(2, 2, hidden=(8,), seed=3), x, [1.0, 0.3, 0.1],
                      steps_per_beta=3, steps_first_beta=3, progress=False, device="cpu")


def test_load_state_returns_the_saved_weights(small_sweep):
    for index in (0, 2, -1):
        model = load_state(small_sweep, index, 2, 2, hidden=(8,))
        assert not model.training
        saved = small_sweep.states[index % 3]
        for name, value in model.state_dict().items():
            torch.testing.assert_close(value, saved[name])
    assert not torch.equal(load_state(small_sweep, 0, 2, 2, (8,)).decoder.network[0].weight,
                           load_state(small_sweep, 2, 2, 2, (8,)).decoder.network[0].weight)
    with pytest.raises(ValueError, match="index"):
        load_state(small_sweep, 3, 2, 2, hidden=(8,))
    with pytest.raises(ValueError, match="sizes the sweep was trained with"):
        load_state(small_sweep, 0, 2, 2, hidden=(16,))
    with pytest.raises(TypeError, match="BetaSweep"):
        load_state({"betas": [1.0]}, 0, 2, 2)


def test_log_axis_ticks_read_as_plain_numbers():
    ax = Figure().add_subplot()
    ax.plot([0.004, 2.0], [0, 1])
    format_log_axis(ax)
    assert ax.get_xscale() == "log"
    formatter = ax.xaxis.get_major_formatter()
    assert [formatter(v) for v in (0.001, 0.01, 0.1, 1.0, 10.0)] == ["0.001", "0.01", "0.1", "1",
                                                                      "10"]
    with pytest.raises(ValueError, match="axis"):
        format_log_axis(ax, "z")


def test_information_price_curves_meet_where_the_direction_switches_on():
    ratio = np.array([0.3, 0.5, 1.0, 2.0, 5.0, 10.0])
    off, on = draw_information_price(Figure().add_subplot(), ratio)
    np.testing.assert_allclose(off.get_ydata(), ratio**2 / 2)
    r_on = np.asarray(on.get_xdata())
    assert r_on.min() == pytest.approx(1.0)
    # linear VAE: on-branch loss 1/2 + ln(s/beta), equal to the off-branch s^2/(2 beta^2) at s = beta
    np.testing.assert_allclose(on.get_ydata(), 0.5 + np.log(r_on))
    assert on.get_ydata()[0] == pytest.approx(0.5)
    assert np.all(np.asarray(on.get_ydata())[1:] < (r_on**2 / 2)[1:])  # on is cheaper below s


def test_kl_price_lines_follow_log_s_over_beta():
    betas = np.array([2.0, 0.5, 0.1])
    lines = draw_kl_per_direction(Figure().add_subplot(), betas, np.zeros((3, 2)),
                                  scales=[1.0, 0.15])
    beta_line, price = lines[2].get_data()
    np.testing.assert_allclose(price, np.where(beta_line < 1.0, np.log(1.0 / beta_line), 0.0),
                               atol=1e-12)
    with pytest.raises(ValueError, match="kl_per_latent"):
        draw_kl_per_direction(Figure().add_subplot(), betas, np.zeros((2, 2)))


def test_posterior_draw_circles_sit_on_the_cloud_means_with_radius_two_beta():
    draws = np.random.default_rng(0).normal(size=(400, 3, 2)) * 0.05 + np.array([[0, 0], [1, 2],
                                                                                   [-1, 0.5]])
    circles = plotting_vae.draw_posterior_draws(Figure().add_subplot(), draws, beta=0.05)
    for j, circle in enumerate(circles):
        np.testing.assert_allclose(circle.center, draws[:, j].mean(axis=0))
        assert circle.get_radius() == pytest.approx(0.1)
    with pytest.raises(ValueError, match="shape"):
        plotting_vae.draw_posterior_draws(Figure().add_subplot(), draws[0], beta=0.05)


def png_size(encoded):
    """Width and height from a base64 PNG's IHDR chunk."""
    raw = base64.b64decode(encoded)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


def test_slider_puts_each_figure_into_its_own_output_area():
    pytest.importorskip("ipywidgets")
    calls = []

    def make_figure(index):
        calls.append(index)
        return Figure(figsize=(2 + index, 1))  # a figure whose size tells the index

    box = sweep_slider([1.0, 0.3, 0.1], make_figure, dpi=50)
    slider, output = box.children
    assert calls == [0]
    assert len(output.outputs) == 1 and png_size(output.outputs[0]["data"]["image/png"]) == (100, 50)
    slider.value = 2
    assert calls == [0, 2]
    assert len(output.outputs) == 1  # replaced, not appended
    assert png_size(output.outputs[0]["data"]["image/png"]) == (200, 50)
    assert [label for label, _ in slider.options] == ["1", "0.3", "0.1"]
    with pytest.raises(ValueError, match="value"):
        sweep_slider([1.0], make_figure, value=1)
    with pytest.raises(TypeError, match="make_figure"):
        sweep_slider([1.0], None)


def test_docstring_examples_run():
    result = doctest.testmod(plotting_vae, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 5 and result.failed == 0
