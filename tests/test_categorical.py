"""Tests of the binary latent (chapter 5): the logit-space KL, the relaxed sampler, the readout."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from jetgeom_lite import categorical as cat
from jetgeom_lite.metrics import roc_auc


def logistic_kl_by_quadrature(mean_q: float, mean_p: float) -> float:
    """KL(Logistic(mean_q, 1) || Logistic(mean_p, 1)) by numerical integration (independent of the closed form)."""
    def integrand(x):
        return stats.logistic.pdf(x, loc=mean_q) * (stats.logistic.logpdf(x, loc=mean_q)
                                                     - stats.logistic.logpdf(x, loc=mean_p))
    value, _ = integrate.quad(integrand, mean_q - 60, mean_q + 60, points=[mean_q, mean_p], limit=400,
                              epsabs=1e-14, epsrel=1e-12)
    return value


# ---------------------------------------------------------------------------------------------
# the KL


@pytest.mark.parametrize("d", [0.1, 1.0, 3.0, 7.0, -2.5, 15.0])
def test_relaxed_kl_matches_numerical_integration(d):
    value = float(cat.kl_relaxed_bernoulli(torch.tensor(d, dtype=torch.float64)))
    assert value == pytest.approx(logistic_kl_by_quadrature(d, 0.0), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("prior", [0.05, 0.3, 0.9])
def test_relaxed_kl_with_a_non_uniform_prior(prior):
    log_alpha = torch.tensor([-3.0, 0.2, 2.0], dtype=torch.float64)
    values = cat.kl_relaxed_bernoulli(log_alpha, prior_prob=prior)
    logit = math.log(prior / (1 - prior))
    expected = [logistic_kl_by_quadrature(float(a), logit) for a in log_alpha]
    np.testing.assert_allclose(values.numpy(), expected, rtol=1e-8, atol=1e-12)


def test_relaxed_kl_small_d_branch_is_smooth_symmetric_and_nonnegative():
    d = torch.tensor([-1e-6, 1e-6, -0.05, 0.05, 0.0999999, 0.1, 0.1000001], dtype=torch.float64)
    kl = cat.kl_relaxed_bernoulli(d)
    np.testing.assert_allclose(kl[:2].numpy(), 1e-12 / 6, rtol=1e-9)
    assert kl[2] == kl[3]
    assert bool((kl >= 0).all())
    # across the switch between the series and the closed form: continuous to float64 precision
    assert float(kl[6] - kl[4]) == pytest.approx(2e-7 * 0.1 / 3, rel=1e-3)  # slope d/3 at d = 0.1
    # the closed form itself, evaluated with mpmath-free high precision via quadrature, agrees at 0.05
    assert float(kl[3]) == pytest.approx(logistic_kl_by_quadrature(0.05, 0.0), rel=1e-7)


def test_relaxed_kl_gradient_is_finite_at_zero_and_matches_the_series():
    d = torch.tensor([0.0, 1e-8, 0.01, 2.0], dtype=torch.float64, requires_grad=True)
    cat.kl_relaxed_bernoulli(d).sum().backward()
    assert bool(torch.isfinite(d.grad).all())
    assert float(d.grad[0]) == 0.0
    assert float(d.grad[2]) == pytest.approx(0.01 / 3, rel=1e-4)
    # d/dd [d coth(d/2)] = coth(d/2) - d / (2 sinh^2(d/2))
    assert float(d.grad[3]) == pytest.approx(1 / math.tanh(1.0) - 2.0 / (2 * math.sinh(1.0) ** 2), rel=1e-10)


def test_relaxed_kl_keeps_dtype_and_shape_and_grows_linearly():
    log_alpha = torch.tensor([[40.0, -40.0], [0.5, 0.0]], dtype=torch.float32)
    kl = cat.kl_relaxed_bernoulli(log_alpha)
    assert kl.dtype == torch.float32 and kl.shape == (2, 2)
    assert float(kl[0, 0]) == pytest.approx(38.0, rel=1e-6)  # |d| - 2 for large |d|
    assert float(kl[0, 1]) == pytest.approx(38.0, rel=1e-6)


@pytest.mark.parametrize("temperature", [0.3, 1.0])
def test_relaxed_kl_matches_monte_carlo_at_any_temperature(temperature):
    # the logit-space samples y ~ Logistic(a / T, 1 / T); the prior's ~ Logistic(0, 1 / T)
    a = 3.0
    g = torch.Generator().manual_seed(7)
    _, y = cat.relaxed_bernoulli_sample(torch.full((100_000,), a, dtype=torch.float64), temperature, g,
                                        return_logit=True)
    y = y.numpy()
    scale = 1 / temperature
    log_ratio = stats.logistic.logpdf(y, loc=a / temperature, scale=scale) - stats.logistic.logpdf(y, scale=scale)
    assert log_ratio.mean() == pytest.approx(float(cat.kl_relaxed_bernoulli(torch.tensor(a))), rel=0.02)


def test_discrete_bernoulli_kl():
    q = 1 / (1 + math.exp(-3.0))
    expected = q * math.log(q / 0.5) + (1 - q) * math.log((1 - q) / 0.5)
    assert float(cat.kl_bernoulli(torch.tensor(3.0, dtype=torch.float64))) == pytest.approx(expected, rel=1e-12)
    assert float(cat.kl_bernoulli(torch.tensor(80.0, dtype=torch.float64))) == pytest.approx(math.log(2), rel=1e-9)
    q = 1 / (1 + math.exp(1.0))
    expected = q * math.log(q / 0.2) + (1 - q) * math.log((1 - q) / 0.8)
    assert float(cat.kl_bernoulli(torch.tensor(-1.0, dtype=torch.float64), 0.2)) == pytest.approx(expected)


# ---------------------------------------------------------------------------------------------
# the sampler


def test_relaxed_sampler_statistics():
    n, a, t = 100_000, 1.3, 0.3
    g = torch.Generator().manual_seed(0)
    s, y = cat.relaxed_bernoulli_sample(torch.full((n,), a, dtype=torch.float64), t, g, return_logit=True)
    sigmoid = 1 / (1 + math.exp(-a))
    assert float((y > 0).double().mean()) == pytest.approx(sigmoid, abs=0.005)
    assert float((s > 0.5).double().mean()) == pytest.approx(sigmoid, abs=0.005)
    assert float(y.mean()) == pytest.approx(a / t, abs=0.06)
    assert float(y.var()) == pytest.approx(math.pi ** 2 / (3 * t * t), rel=0.02)
    assert bool(((s >= 0) & (s <= 1)).all())
    # low temperature: most draws sit near 0 or 1
    assert float(((s < 0.05) | (s > 0.95)).double().mean()) > 0.7


def test_relaxed_sampler_is_reproducible_and_hard_mode_is_the_sign():
    log_alpha = torch.tensor([-2.0, 0.5, 3.0])
    s1 = cat.relaxed_bernoulli_sample(log_alpha, 0.3, torch.Generator().manual_seed(1))
    s2 = cat.relaxed_bernoulli_sample(log_alpha, 0.3, torch.Generator().manual_seed(1))
    assert torch.equal(s1, s2)
    assert cat.relaxed_bernoulli_sample(log_alpha, 0.3, hard=True).tolist() == [0.0, 1.0, 1.0]


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("temperature", [0.0, -0.3, float("nan"), float("inf")])
def test_bad_temperature(temperature):
    with pytest.raises(ValueError, match="temperature"):
        cat.relaxed_bernoulli_sample(torch.zeros(3), temperature)


def test_nan_logits_are_refused():
    bad = torch.tensor([0.0, float("nan")])
    with pytest.raises(ValueError, match="NaN"):
        cat.kl_relaxed_bernoulli(bad)
    with pytest.raises(ValueError, match="NaN"):
        cat.relaxed_bernoulli_sample(bad, 0.3)
    with pytest.raises(ValueError, match="NaN"):
        cat.kl_bernoulli(bad)
    with pytest.raises(TypeError, match="tensor"):
        cat.kl_relaxed_bernoulli([0.0, 1.0])


@pytest.mark.parametrize("prior", [0.0, 1.0, -0.1, 2.0])
def test_bad_prior(prior):
    with pytest.raises(ValueError, match="prior_prob"):
        cat.kl_relaxed_bernoulli(torch.zeros(2), prior)


def test_negative_alpha_weight_is_refused():
    model = cat.make_categorical_mlp_vae(2, 1, hidden=(8,), seed=0)
    with pytest.raises(ValueError, match="alpha_weight"):
        model.set_alpha_weight(-0.1)
    with pytest.raises(ValueError, match="alpha_weight"):
        cat.train_categorical_vae(model, torch.zeros(10, 2), 0.1, alpha_weights=(0.1, -1.0), steps_per_weight=1,
                                  device="cpu", progress=False)


# ---------------------------------------------------------------------------------------------
# the model and its loss


def test_loss_is_distortion_plus_gaussian_kl_plus_weighted_bernoulli_kl():
    torch.manual_seed(0)
    model = cat.make_categorical_mlp_vae(3, 2, n_binary=2, hidden=(16,), seed=3)
    model.set_alpha_weight(0.37)
    x = torch.randn(64, 3)
    beta = 0.4
    with torch.no_grad():
        loss = model.loss((x,), beta, generator=torch.Generator().manual_seed(5))
        out = model(x, generator=torch.Generator().manual_seed(5))
    d2 = ((x - out.x_hat) ** 2).sum(dim=1).mean()
    sigma2 = out.log_var.exp()
    kl_gauss = (0.5 * (out.mu ** 2 + sigma2 - 1 - out.log_var)).sum(dim=1).mean()
    d = out.log_alpha.double()
    kl_bern = (d / torch.tanh(d / 2) - 2).sum(dim=1).mean()
    assert float(loss.distortion) == pytest.approx(float(d2), rel=1e-5)
    assert float(loss.kl_gauss) == pytest.approx(float(kl_gauss), rel=1e-5)
    assert float(loss.kl_bern) == pytest.approx(float(kl_bern), rel=1e-5)
    assert float(loss.total) == pytest.approx(float(d2) / (2 * beta ** 2) + float(kl_gauss) + 0.37 * float(kl_bern),
                                              rel=1e-5)


def test_gaussian_head_is_conditioned_on_the_binary_code():
    model = cat.make_categorical_mlp_vae(2, 2, n_binary=1, hidden=(16,), seed=0)
    x = torch.randn(4, 2)
    h = model.trunk(x)
    out0 = model.head(torch.cat([h, torch.zeros(4, 1)], dim=1))
    out1 = model.head(torch.cat([h, torch.ones(4, 1)], dim=1))
    assert not torch.allclose(out0, out1)
    with pytest.raises(ValueError, match="codes must have shape"):
        model.decode(torch.zeros(3, 2))


def test_jet_model_shapes_and_code():
    model = cat.make_categorical_jet_vae(n_binary=2, seed=0)
    x = torch.zeros(3, 50, 3)
    x[:, 0, 0] = 0.6
    x[:, 1, 0] = 0.4
    x[:, 1, 1] = 0.1
    mask = x[..., 0] > 0
    code = model.code(x, mask)
    assert code.shape == (3, 10)
    assert set(code[:, 8:].flatten().tolist()) <= {0.0, 1.0}
    assert model.decode(code).shape == (3, 50, 3)


# ---------------------------------------------------------------------------------------------
# the label-free readout


def toy_logits_and_costs(flip: bool, swap_units: bool, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.ones(500, dtype=int), np.zeros(500, dtype=int)]
    informative = np.where(labels == 1, 3.0, -3.0) + rng.normal(0, 1.5, labels.size)
    informative = -informative if flip else informative
    quiet = rng.normal(0, 0.3, labels.size)  # an almost unused unit (small KL)
    logits = np.column_stack([quiet, informative] if swap_units else [informative, quiet])
    # the complex class (label 1) costs more nats to describe
    cost = np.where(labels == 1, 6.0, 2.0) + rng.normal(0, 1.0, labels.size)
    return logits, cost, labels


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("swap_units", [False, True])
def test_readout_picks_the_informative_unit_and_the_right_side(flip, swap_units):
    logits, cost, labels = toy_logits_and_costs(flip, swap_units)
    result = cat.oriented_score(logits, cost)
    assert result.unit == (1 if swap_units else 0)
    assert result.orientation == (-1 if flip else 1)
    assert roc_auc(result.score, labels) > 0.95
    assert result.kl_bern_per_unit[result.unit] > 5 * result.kl_bern_per_unit[1 - result.unit]


def test_readout_bad_input():
    with pytest.raises(ValueError, match="cost_per_jet"):
        cat.oriented_score(np.zeros((5, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        cat.oriented_score(np.array([[0.0], [np.nan]]), np.zeros(2))
    with pytest.raises(ValueError, match="same logit"):
        cat.oriented_score(np.ones((4, 1)), np.arange(4.0))


def test_trained_toy_dot_versus_segment_is_split_without_labels():
    """Two components of different intrinsic dimension: the unit splits them, the rule orients it."""
    x, labels = cat.dot_and_segment(600, seed=0)
    model = cat.make_categorical_mlp_vae(2, 2, n_binary=1, hidden=(32, 32), seed=0)
    cat.train_categorical_vae(model, torch.from_numpy(x), 0.1, alpha_weights=(0.01, 0.05, 0.2),
                              steps_per_weight=300, batch_size=None, lr=3e-3, seed=0, device="cpu",
                              progress=False)
    result = cat.unsupervised_score(model, torch.from_numpy(x))
    assert roc_auc(result.score, labels) > 0.95
    with pytest.raises(ValueError, match="beta"):
        cat.unsupervised_score(model, torch.from_numpy(x), beta=-1.0)


# ---------------------------------------------------------------------------------------------
# figures


def test_rejection_curve_draws_one_over_background_efficiency():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jetgeom_lite.plotting import draw_rejection_curve, draw_score_histogram

    labels = np.r_[np.ones(4), np.zeros(4)]
    score = np.array([0.9, 0.8, 0.3, 0.7, 0.6, 0.2, 0.1, 0.05])
    fig, ax = plt.subplots()
    (line,) = draw_rejection_curve(ax, score, labels, label="toy", min_efficiency=0.0)
    x, y = line.get_data()
    # by hand: cuts at 0.7 keep tops {0.9, 0.8, 0.7} and QCD none -> not drawn (eps_B = 0); at 0.6: eps_S 0.75,
    # eps_B 0.25 -> rejection 4; at 0.3: eps_S 1, eps_B 0.25 -> 4; then eps_B 0.5, 0.75, 1
    np.testing.assert_allclose(x, [0.75, 1.0, 1.0, 1.0, 1.0])
    np.testing.assert_allclose(y, [4.0, 4.0, 2.0, 4 / 3, 1.0])
    assert ax.get_yscale() == "log"
    ax.clear()
    artists = draw_score_histogram(ax, score, labels, bins=4)
    assert len(artists) == 2
    plt.close(fig)
