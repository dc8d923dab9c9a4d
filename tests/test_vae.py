"""The VAE: loss against its formula, training, determinism, sweeps, plug-in models, bad input."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from jetgeom_lite.toys import circle
from jetgeom_lite.vae import (VAE, beta_sweep, evaluate_vae, kl_per_latent, make_mlp_autoencoder,
                              make_mlp_vae, squared_euclidean_distance, train_autoencoder,
                              train_vae, vae_loss)


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny networks: threads only add overhead on a shared 2-core machine.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def ring():
    return circle(400, noise=0.05, seed=0).points


# ----------------------------------------------------------------------------------- the loss


def test_loss_matches_the_formula_by_hand():
    x = torch.tensor([[1.0, 2.0], [0.0, -1.0], [3.0, 0.5]])
    x_hat = torch.tensor([[0.5, 2.0], [1.0, -1.0], [3.0, 0.0]])
    mu = torch.tensor([[0.5, -1.0], [0.0, 0.0], [2.0, 0.1]])
    log_var = torch.tensor([[0.0, -2.0], [1.0, 0.0], [-1.0, 0.3]])
    beta = 0.7
    d2 = squared_euclidean_distance(x, x_hat)
    np.testing.assert_allclose(d2.numpy(), [0.25, 1.0, 0.25])
    loss = vae_loss(d2, mu, log_var, beta)
    # Written out number by number: KL_k = (mu^2 + sigma^2 - 1 - ln sigma^2) / 2.
    kl = np.zeros(2)
    for m, lv in zip(mu.numpy(), log_var.numpy()):
        kl += 0.5 * (m ** 2 + np.exp(lv) - 1 - lv)
    kl /= 3
    distortion = (0.25 + 1.0 + 0.25) / 3
    assert loss.distortion.item() == pytest.approx(distortion)
    np.testing.assert_allclose(loss.kl_per_latent.numpy(), kl, rtol=1e-6)
    assert loss.kl.item() == pytest.approx(kl.sum(), rel=1e-6)
    assert loss.total.item() == pytest.approx(distortion / (2 * beta ** 2) + kl.sum(), rel=1e-6)


def test_kl_is_zero_only_at_the_prior():
    assert kl_per_latent(torch.zeros(1, 3), torch.zeros(1, 3)).abs().max().item() == 0.0
    assert (kl_per_latent(torch.full((1, 3), 0.1), torch.full((1, 3), -0.2)) > 0).all()


def test_model_loss_is_the_formula_on_its_own_sample():
    model = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(1))
    loss = model.loss((x,), 0.3, generator=torch.Generator().manual_seed(5))
    mu, log_var = model.encode(x)
    epsilon = torch.randn(mu.shape, generator=torch.Generator().manual_seed(5))
    x_hat = model.decode(mu + (0.5 * log_var).exp() * epsilon)
    by_hand = ((x - x_hat) ** 2).sum(1).mean() / (2 * 0.3 ** 2) + kl_per_latent(mu, log_var).sum(1).mean()
    assert loss.total.item() == pytest.approx(by_hand.item(), rel=1e-6)


def test_beta_carries_the_unit_of_the_distance():
    # Scaling data and beta together by c leaves the optimum's KL unchanged: beta is a length.
    model = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    mu, log_var = torch.zeros(4, 2), torch.zeros(4, 2)
    d2 = torch.tensor([0.1, 0.2, 0.3, 0.4])
    for c in (10.0, 1e-3):
        a = vae_loss(d2, mu, log_var, 0.5).total
        b = vae_loss(d2 * c ** 2, mu, log_var, 0.5 * c).total
        assert a.item() == pytest.approx(b.item(), rel=1e-6)
    assert model.stochastic


def test_posterior_widths_are_the_spread_of_the_latent_draws():
    # Independent of how sigma is computed: the draws z ~ q(z|x) must scatter around mu with
    # standard deviation sigma (and an autoencoder's "draw" is mu itself, sigma 0).
    model = make_mlp_vae(3, 2, hidden=(8,), seed=0)
    x = torch.ones(1, 3)
    mu, sigma = model.posterior(x)
    _, log_var = model.encode(x)
    draws = torch.stack([model.sample_latent(mu, log_var, torch.Generator().manual_seed(k)) for k in range(4000)])
    np.testing.assert_allclose(draws.mean(0).detach().numpy(), mu.detach().numpy(), atol=4 * sigma.max().item() / 60)
    np.testing.assert_allclose(draws.std(0).detach().numpy(), sigma.detach().numpy(), rtol=0.05)
    assert mu.shape == sigma.shape == (1, 2)
    autoencoder = make_mlp_autoencoder(3, 2, hidden=(8,), seed=0)
    assert float(autoencoder.posterior(x)[1].abs().max()) == 0.0


# ----------------------------------------------------------------------------------- training


def test_short_training_lowers_the_loss(ring):
    model = make_mlp_vae(2, 2, hidden=(32,), seed=0)
    before = evaluate_vae(model, ring, beta=0.2, device="cpu")
    history = train_vae(model, ring, beta=0.2, steps=150, lr=1e-2, device="cpu", progress=False)
    after = evaluate_vae(model, ring, beta=0.2, device="cpu")
    assert history.loss.shape == (150,) and np.all(np.isfinite(history.loss))
    assert after.total < 0.7 * before.total
    assert history.loss[-10:].mean() < history.loss[:10].mean()
    assert history.beta == 0.2 and history.device == "cpu"


def test_linear_gaussian_data_gives_the_known_optimum():
    # For Gaussian data with standard deviations (1, 0.1) and beta = 0.3 the optimal VAE encodes
    # only the long direction, with KL = ln(1 / 0.3) nats, width sigma = 0.3 and
    # <d^2> = beta^2 + 0.1^2 (the short direction stays at the prior).
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1000, 2)) * [1.0, 0.1]
    model = make_mlp_vae(2, 2, hidden=(32,), seed=0)
    train_vae(model, x, beta=0.3, steps=600, lr=1e-2, device="cpu", progress=False)
    result = evaluate_vae(model, x, beta=0.3, n_samples=16, device="cpu")
    active, inactive = np.sort(result.kl_per_latent)[::-1]
    assert active == pytest.approx(math.log(1 / 0.3), abs=0.08)
    assert inactive < 0.02
    assert result.distortion == pytest.approx(0.3 ** 2 + 0.1 ** 2, rel=0.08)
    assert np.sort(result.sigma_per_latent)[0] == pytest.approx(0.3, rel=0.08)


def test_same_seed_same_numbers_other_seed_other_numbers(ring):
    def run(seed):
        model = make_mlp_vae(2, 2, hidden=(16,), seed=seed)
        sweep = beta_sweep(model, ring, [0.5, 0.2], steps_per_beta=20, batch_size=128,
                           seed=seed, device="cpu", progress=False)
        return sweep
    first, second, other = run(3), run(3), run(4)
    np.testing.assert_array_equal(first.kl_per_latent, second.kl_per_latent)
    np.testing.assert_array_equal(first.distortion, second.distortion)
    for key in first.states[-1]:
        torch.testing.assert_close(first.states[-1][key], second.states[-1][key], rtol=0, atol=0)
    assert not np.array_equal(first.distortion, other.distortion)


def test_global_torch_rng_is_left_alone(ring):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    model = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    train_vae(model, ring, beta=0.3, steps=3, device="cpu", progress=False)
    torch.testing.assert_close(torch.rand(3), expected)


def test_minibatches_cover_the_data(ring):
    model = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    history = train_vae(model, ring, beta=0.3, steps=7, batch_size=100, device="cpu",
                        progress=False)
    assert history.loss.shape == (7,)


# ----------------------------------------------------------------------------------- sweeps


def test_sweep_records_everything_and_warm_starts(ring):
    model = make_mlp_vae(2, 3, hidden=(16,), seed=0)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    betas = [1.0, 0.3, 0.1]
    seen = []
    sweep = beta_sweep(model, ring, betas, steps_per_beta=1, steps_first_beta=200, lr=1e-2,
                       device="cpu", progress=False,
                       on_beta_done=lambda i, b, m, e: seen.append((i, b, e.kl)))
    assert sweep.direction == "decreasing"
    np.testing.assert_array_equal(sweep.betas, betas)
    assert sweep.kl_per_latent.shape == sweep.sigma_per_latent.shape == (3, 3)
    for name in ("total", "distortion", "kl", "train_loss", "seconds"):
        assert getattr(sweep, name).shape == (3,)
    np.testing.assert_allclose(sweep.kl, sweep.kl_per_latent.sum(axis=1))
    assert [s[0] for s in seen] == [0, 1, 2] and seen[-1][2] == pytest.approx(sweep.kl[-1])
    # Warm start: after one step at the next beta the weights are within one Adam step (~lr) of
    # where the previous beta ended, far from the initial weights.
    key = "encoder.network.0.weight"
    moved = (sweep.states[0][key] - initial[key]).abs().max().item()
    step = (sweep.states[1][key] - sweep.states[0][key]).abs().max().item()
    assert moved > 0.2 and step < 2e-2
    # The model ends with the last beta's weights, and load_into restores an earlier one.
    torch.testing.assert_close(model.state_dict()[key], sweep.states[-1][key])
    sweep.load_into(model, 0)
    torch.testing.assert_close(model.state_dict()[key], sweep.states[0][key])
    assert sweep.index_of(0.29) == 1


def test_sweep_in_increasing_direction_and_decreasing_sweep_switches_directions_on():
    x = np.random.default_rng(0).standard_normal((600, 2)) * [1.0, 0.1]
    down = beta_sweep(make_mlp_vae(2, 2, hidden=(32,), seed=0), x, [3.0, 0.3, 0.03],
                      steps_per_beta=300, lr=1e-2, device="cpu", progress=False)
    up = beta_sweep(make_mlp_vae(2, 2, hidden=(32,), seed=0), x, [0.03, 0.3, 3.0],
                    steps_per_beta=300, lr=1e-2, device="cpu", progress=False)
    assert up.direction == "increasing" and down.direction == "decreasing"
    active = (down.kl_per_latent > 0.1).sum(axis=1)
    np.testing.assert_array_equal(active, [0, 1, 2])  # one at a time, in order of scale
    assert np.all(np.diff(down.kl) > 0) and np.all(np.diff(down.distortion) < 0)
    assert np.all(np.diff(up.kl) < 0)


@pytest.mark.parametrize("betas, match", [
    ([1.0, 0.5, 0.7], "monotonic"),
    ([0.1, 0.1, 0.01], "monotonic"),
    ([1.0, 0.0], "positive"),
    ([1.0, -0.5], "positive"),
    ([1.0, float("nan")], "positive"),
    ([], "at least one"),
])
def test_sweep_refuses_bad_betas(ring, betas, match):
    with pytest.raises(ValueError, match=match):
        beta_sweep(make_mlp_vae(2, 2, hidden=(8,)), ring, betas, steps_per_beta=1, device="cpu",
                   progress=False)


# ----------------------------------------------------------------------------------- plug-ins


class MaskedSetEncoder(nn.Module):
    """Per-element network, masked mean, then (mu, log_var): the shape of a jet encoder."""

    def __init__(self, latent_dim=2):
        super().__init__()
        self.element = nn.Sequential(nn.Linear(2, 16), nn.SiLU())
        self.head = nn.Linear(16, 2 * latent_dim)

    def forward(self, x, mask):
        h = self.element(x) * mask[..., None]
        pooled = h.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return self.head(pooled).chunk(2, dim=-1)


class SetDecoder(nn.Module):
    def __init__(self, latent_dim=2, size=5):
        super().__init__()
        self.size = size
        self.network = nn.Sequential(nn.Linear(latent_dim, 16), nn.SiLU(), nn.Linear(16, 2 * size))

    def forward(self, z):
        return self.network(z).view(-1, self.size, 2)


def masked_squared_distance(x, x_hat, mask):
    return ((x - x_hat) ** 2).sum(-1).mul(mask).sum(-1)


def test_a_set_model_with_mask_and_own_distance_trains_without_new_code():
    rng = np.random.default_rng(1)
    n, size = 300, 5
    centre = rng.standard_normal((n, 1, 2))
    x = (centre + 0.1 * rng.standard_normal((n, size, 2))).astype(np.float32)
    mask = rng.uniform(size=(n, size)) < 0.8
    mask[:, 0] = True
    x[~mask] = 0.0
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = VAE(MaskedSetEncoder(), SetDecoder(), distance=masked_squared_distance)
    seen_masks = []
    original = model.encoder.forward
    model.encoder.forward = lambda xs, m: (seen_masks.append(m.dtype), original(xs, m))[1]
    history = train_vae(model, (x, mask), beta=0.3, steps=120, batch_size=100, lr=1e-2,
                        device="cpu", progress=False)
    assert seen_masks[0] == torch.bool
    assert history.loss[-10:].mean() < 0.7 * history.loss[:10].mean()
    sweep = beta_sweep(model, (x, mask), [0.5, 0.2], steps_per_beta=10, device="cpu",
                       progress=False)
    assert np.all(np.isfinite(sweep.kl))


# ----------------------------------------------------------------------------------- autoencoder


def test_plain_autoencoder_is_deterministic_and_has_no_kl(ring):
    model = make_mlp_autoencoder(2, 1, hidden=(32,), seed=0)
    assert not model.stochastic
    x = torch.as_tensor(ring[:10], dtype=torch.float32)
    out1, out2 = model(x), model(x)
    assert out1.log_var is None
    torch.testing.assert_close(out1.x_hat, out2.x_hat)
    history = train_autoencoder(model, ring, steps=150, lr=1e-2, device="cpu", progress=False)
    assert history.loss[-10:].mean() < history.loss[:10].mean()
    np.testing.assert_array_equal(history.kl, 0.0)
    np.testing.assert_allclose(history.loss, history.distortion)  # loss is <|x - x_hat|^2> itself
    result = evaluate_vae(model, ring, n_samples=4)
    assert result.kl == 0.0 and result.n_samples == 1
    np.testing.assert_array_equal(result.sigma_per_latent, 0.0)
    with pytest.raises(TypeError, match="stochastic VAE"):
        beta_sweep(model, ring, [1.0, 0.1], progress=False, device="cpu")


# ----------------------------------------------------------------------------------- bad input


def test_bad_input_is_refused(ring):
    model = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    with pytest.raises(ValueError, match="columns"):
        train_vae(model, np.ones((10, 3)), beta=0.1, steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="NaN"):
        train_vae(model, np.full((10, 2), np.nan), beta=0.1, steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="positive"):
        train_vae(model, ring, beta=-1.0, steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="autoencoder"):
        train_vae(model, ring, beta=None, steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="first dimension"):
        train_vae(model, (ring, np.ones(3)), beta=0.1, steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="shape"):
        train_vae(model, ring[:, 0], beta=0.1, steps=1, device="cpu", progress=False)
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        train_vae(model, [[1.0, 2.0]], beta=0.1, steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="steps"):
        train_vae(model, ring, beta=0.1, steps=0, device="cpu", progress=False)
    with pytest.raises(ValueError, match="shape"):
        squared_euclidean_distance(torch.zeros(2, 3), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="data_dim must be an integer >= 1"):
        make_mlp_vae(0, 2)
    with pytest.raises(TypeError):
        train_vae(nn.Linear(2, 2), ring, beta=0.1, steps=1, progress=False)


def test_training_stops_on_nan_and_keeps_the_last_good_weights(ring):
    calls = {"n": 0}

    def distance_that_breaks(x, x_hat):
        calls["n"] += 1
        d2 = ((x - x_hat) ** 2).sum(1)
        return d2 * float("nan") if calls["n"] > 3 else d2

    model = VAE(make_mlp_vae(2, 2, hidden=(8,)).encoder, make_mlp_vae(2, 2, hidden=(8,)).decoder,
                distance=distance_that_breaks)
    with pytest.raises(FloatingPointError, match="step 3"):
        train_vae(model, ring, beta=0.1, steps=10, device="cpu", progress=False)
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_distance_must_return_one_value_per_sample(ring):
    model = VAE(make_mlp_vae(2, 2, hidden=(8,)).encoder, make_mlp_vae(2, 2, hidden=(8,)).decoder,
                distance=lambda x, x_hat: ((x - x_hat) ** 2).sum())
    with pytest.raises(ValueError, match="one squared distance per sample"):
        train_vae(model, ring, beta=0.1, steps=1, device="cpu", progress=False)


def test_decoded_posterior_covariance_of_a_linear_model_is_exact():
    """For a linear decoder x = A z + b the first-order covariance A diag(sigma^2) A^T is exact."""
    from jetgeom_lite.vae import decoded_posterior_covariance, decoded_posterior_samples

    model = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    linear = torch.nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[2.0, 0.0], [0.5, 0.1]]))
        linear.bias.zero_()
    model.decoder = linear
    x = np.array([[0.3, -0.2], [1.0, 0.5]])
    centres, covariances = decoded_posterior_covariance(model, x)
    with torch.no_grad():
        mu, sigma = model.posterior(torch.as_tensor(x, dtype=torch.float32))
    weight = linear.weight.detach().numpy()
    for k in range(len(x)):
        expected = weight @ np.diag(sigma[k].numpy() ** 2) @ weight.T
        np.testing.assert_allclose(covariances[k], expected, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(centres[k], weight @ mu[k].numpy(), rtol=1e-5, atol=1e-7)
    # and the decoded draws scatter with that covariance
    draws = decoded_posterior_samples(model, x, n_draws=20000, seed=3)
    assert draws.shape == (20000, 2, 2)
    np.testing.assert_allclose(np.cov(draws[:, 0].T), covariances[0], rtol=0.05, atol=1e-4)
    with pytest.raises(ValueError):
        decoded_posterior_samples(model, x, n_draws=0)


# ----------------------------------------------------------------------------------- batching and schedule
# Mutants that survived before: mini-batches that never shuffle, and no learning-rate schedule.


class _Recorder:
    """A distance that records which samples each training step saw (via an index extra)."""

    def __init__(self, optimizer=None):
        self.batches, self.lrs, self.optimizer = [], [], optimizer

    def __call__(self, x, x_hat, index):
        if not torch.is_grad_enabled():  # an evaluation pass, not a training step
            return ((x - x_hat) ** 2).sum(1)
        self.batches.append(index.tolist())
        if self.optimizer is not None:
            self.lrs.append(self.optimizer.param_groups[0]["lr"])
        return ((x - x_hat) ** 2).sum(1)


class _IgnoreExtras(nn.Module):
    def __init__(self, network):
        super().__init__()
        self.network = network

    def forward(self, x, *extras):
        return self.network(x)


def _recording_model(recorder):
    base = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    return VAE(_IgnoreExtras(base.encoder), base.decoder, distance=recorder)


def test_minibatches_are_reshuffled_every_epoch(ring):
    n, batch_size = 100, 20
    recorder = _Recorder()
    model = _recording_model(recorder)
    index = np.arange(n)
    train_vae(model, (ring[:n], index), beta=0.3, steps=15, batch_size=batch_size, device="cpu", progress=False)
    epochs = [sum(recorder.batches[e * 5:(e + 1) * 5], []) for e in range(3)]
    for epoch in epochs:  # each epoch sees every sample exactly once
        assert sorted(epoch) == list(range(n))
    # not in storage order, and a new order every epoch
    assert epochs[0] != list(range(n))
    assert epochs[0] != epochs[1] and epochs[1] != epochs[2]
    # the first batch is a random draw, not a block of neighbours
    assert sorted(recorder.batches[0]) != list(range(min(recorder.batches[0]), min(recorder.batches[0]) + batch_size))


def test_learning_rate_follows_a_half_cosine_and_is_restored(ring):
    steps, lr, fraction = 11, 0.01, 0.1
    recorder = _Recorder()
    model = _recording_model(recorder)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    recorder.optimizer = optimizer
    train_vae(model, (ring[:50], np.arange(50)), beta=0.3, steps=steps, optimizer=optimizer,
              lr_final_fraction=fraction, device="cpu", progress=False)
    # lr(s) = lr * (f + (1 - f) (1 + cos(pi s / (S - 1))) / 2): lr at the start, f * lr at the end
    expected = [lr * (fraction + (1 - fraction) * 0.5 * (1 + math.cos(math.pi * s / (steps - 1))))
                for s in range(steps)]
    np.testing.assert_allclose(recorder.lrs, expected, rtol=1e-12)
    assert recorder.lrs[0] == pytest.approx(lr) and recorder.lrs[-1] == pytest.approx(fraction * lr)
    assert optimizer.param_groups[0]["lr"] == lr  # restored on return
    # in a sweep the schedule restarts at every beta
    recorder.lrs.clear()
    beta_sweep(model, (ring[:50], np.arange(50)), [0.5, 0.3], steps_per_beta=5, steps_first_beta=5,
               optimizer=optimizer, lr_final_fraction=fraction, device="cpu", progress=False)
    assert recorder.lrs[0] == pytest.approx(lr) and recorder.lrs[5] == pytest.approx(lr)
    assert recorder.lrs[4] == pytest.approx(fraction * lr) and recorder.lrs[9] == pytest.approx(fraction * lr)


def test_constant_learning_rate_when_asked(ring):
    recorder = _Recorder()
    model = _recording_model(recorder)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    recorder.optimizer = optimizer
    train_vae(model, (ring[:50], np.arange(50)), beta=0.3, steps=5, optimizer=optimizer,
              lr_final_fraction=1.0, device="cpu", progress=False)
    assert recorder.lrs == [0.01] * 5


# ----------------------------------------------------------------------------------- bad input (issue 12)


def test_vae_loss_refuses_numpy_and_bad_distances():
    mu, log_var = torch.zeros(2, 1), torch.zeros(2, 1)
    with pytest.raises(TypeError, match="torch.Tensor.*torch.as_tensor"):
        vae_loss(np.array([0.5, 1.5]), mu, log_var, beta=1.0)
    with pytest.raises(TypeError, match="mu must be a torch.Tensor"):
        vae_loss(torch.tensor([0.5, 1.5]), np.zeros((2, 1)), log_var, beta=1.0)
    with pytest.raises(ValueError, match="negative"):
        vae_loss(torch.tensor([-1.0, 0.0]), mu, log_var, beta=1.0)
    with pytest.raises(ValueError, match="NaN"):
        vae_loss(torch.tensor([math.nan, 0.0]), mu, log_var, beta=1.0)
    with pytest.raises(ValueError, match="empty"):
        vae_loss(torch.zeros(0), torch.zeros(0, 1), torch.zeros(0, 1), beta=1.0)
    with pytest.raises(ValueError, match="log_var contains NaN"):
        vae_loss(torch.tensor([0.5, 1.5]), mu, torch.full((2, 1), math.nan), beta=1.0)


def test_numpy_scalars_are_numbers_and_bools_are_not(ring):
    d2, mu, log_var = torch.tensor([0.5, 1.5]), torch.zeros(2, 1), torch.zeros(2, 1)
    assert vae_loss(d2, mu, log_var, np.float32(0.5)).total.item() == pytest.approx(1.0 / (2 * 0.25), rel=1e-6)
    assert vae_loss(d2, mu, log_var, torch.tensor(0.5)).total.item() == pytest.approx(2.0)
    with pytest.raises(TypeError, match="beta"):
        vae_loss(d2, mu, log_var, True)
    with pytest.raises(TypeError, match="beta"):
        vae_loss(d2, mu, log_var, "0.5")
    model = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    history = train_vae(model, ring, beta=np.float32(0.2), steps=np.int64(2), lr=np.float32(1e-3),
                        device="cpu", progress=False)
    assert history.loss.shape == (2,)


def test_extra_kl_hook_adds_a_weighted_term():
    d2, mu, log_var = torch.tensor([0.5, 1.5]), torch.zeros(2, 1), torch.zeros(2, 1)
    extra = torch.tensor([[0.2, 0.4], [0.6, 0.0]])
    loss = vae_loss(d2, mu, log_var, 1.0, extra_kl=extra, extra_kl_weight=0.5)
    # distortion 1 / 2 + Gaussian KL 0 + 0.5 * (mean 0.4 + mean 0.2)
    assert loss.total.item() == pytest.approx(0.5 + 0.5 * 0.6)
    np.testing.assert_allclose(loss.extra_kl_per_latent.numpy(), [0.4, 0.2])
    assert loss.kl.item() == 0.0
    with pytest.raises(ValueError, match="extra_kl"):
        vae_loss(d2, mu, log_var, 1.0, extra_kl=torch.zeros(3, 2))
    with pytest.raises(ValueError, match="extra_kl_weight"):
        vae_loss(d2, mu, log_var, 1.0, extra_kl=extra, extra_kl_weight=-1.0)


def test_hidden_as_an_int_gets_a_clear_type_error():
    with pytest.raises(TypeError, match=r"hidden must be a sequence.*\(64,\)"):
        make_mlp_vae(2, 2, hidden=64)
    with pytest.raises(TypeError, match="hidden"):
        make_mlp_autoencoder(2, 1, hidden="64")
    with pytest.raises(ValueError, match=r"hidden\[1\]"):
        make_mlp_vae(2, 2, hidden=(8, 0))


def test_evaluate_refuses_a_zero_batch_size(ring):
    model = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    for bad in (0, -5):
        with pytest.raises(ValueError, match="batch_size"):
            evaluate_vae(model, ring, beta=0.1, batch_size=bad, device="cpu")
    with pytest.raises(TypeError, match="batch_size"):
        evaluate_vae(model, ring, beta=0.1, batch_size=10.5, device="cpu")
    with pytest.raises(ValueError, match="batch_size"):
        train_vae(model, ring, beta=0.1, steps=1, batch_size=0, device="cpu", progress=False)
    with pytest.raises(ValueError, match="eval_batch_size"):
        beta_sweep(model, ring, [0.5], steps_per_beta=1, eval_batch_size=0, device="cpu", progress=False)


def test_one_device_rule_training_never_moves_a_model_to_a_gpu_unasked(ring, monkeypatch):
    # Pretend a GPU is present: with device=None, training and evaluation both keep the model
    # where its parameters are (before, train_vae moved it to default_device() = "cuda").
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    model = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    history = train_vae(model, ring, beta=0.3, steps=2, progress=False)
    assert history.device == "cpu" and next(model.parameters()).device.type == "cpu"
    sweep = beta_sweep(model, ring, [0.5], steps_per_beta=1, progress=False)
    assert sweep.device == "cpu"
    assert evaluate_vae(model, ring, beta=0.3).n_events == len(ring)
    assert next(model.parameters()).device.type == "cpu"
    with pytest.raises(ValueError, match="device"):
        train_vae(model, ring, beta=0.3, steps=1, device="gpu-please", progress=False)
