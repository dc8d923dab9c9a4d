"""The jet VAE: shapes, masks, the loss against its formula, training, shipped weights, bad input."""

import math
import shutil

import numpy as np
import pytest
import torch

from jetgeom_lite.data import load_jets, preprocess
from jetgeom_lite.emd import emd
from jetgeom_lite.jet_vae import (JetVAESettings, SquaredSinkhornEMD, jet_tensors, load_pretrained_sweep,
                                  make_jet_vae, pretrained_sweep_names, reconstruction_emd)
from jetgeom_lite.vae import evaluate_vae, kl_per_latent, train_vae

SMALL = JetVAESettings(latent_dim=4, n_particles=10, particle_hidden=(16, 16), jet_hidden=(16,),
                       decoder_hidden=(32, 32))


@pytest.fixture(scope="module")
def w_jets():
    """200 held-out W jets as the shipped sweep evaluates them (cache or a few seconds of Pythia)."""
    sweep = load_pretrained_sweep("wjets")
    data = sweep.metadata["data"]
    window = {} if data.get("mass_range_GeV") is None else {"mass_range": tuple(data["mass_range_GeV"])}
    jets = load_jets(data["process"], data["n_check"], seed=data["eval_seed"], progress=False, **window)
    return jet_tensors(preprocess(jets, center=data["center"], normalize=data["normalize"],
                                  recluster_R=data["recluster_R"], max_particles=data["max_particles"]))


def _toy_jets(n=6, m=12, seed=0):
    generator = np.random.default_rng(seed)
    x = np.zeros((n, m, 3), dtype=np.float32)
    mask = np.zeros((n, m), dtype=bool)
    for i in range(n):
        k = generator.integers(2, m)
        pt = generator.random(k) + 0.05
        x[i, :k, 0] = pt / pt.sum()
        x[i, :k, 1:] = generator.normal(scale=0.2, size=(k, 2))
        mask[i, :k] = True
    return torch.from_numpy(x), torch.from_numpy(mask)


# ------------------------------------------------------------------------------ shapes, masks


def test_shapes_and_decoded_pt_sums_to_one():
    model = make_jet_vae(SMALL, seed=0)
    x, mask = _toy_jets()
    out = model(x, mask)
    assert out.x_hat.shape == (6, 10, 3)
    assert out.mu.shape == out.log_var.shape == (6, 4)
    pt = out.x_hat[..., 0]
    assert bool((pt > 0).all())
    torch.testing.assert_close(pt.sum(dim=1), torch.ones(6))


def test_padding_and_particle_order_do_not_change_the_encoding():
    model = make_jet_vae(SMALL, seed=1).eval()
    x, mask = _toy_jets()
    mu, log_var = model.encode(x, mask)
    # junk in the padded rows, masked out
    junk = x.clone()
    junk[~mask] = torch.tensor([0.3, 0.5, -0.5])
    torch.testing.assert_close(model.encode(junk, mask)[0], mu)
    # more padding
    wider = torch.cat([x, torch.zeros(6, 7, 3)], dim=1)
    wider_mask = torch.cat([mask, torch.zeros(6, 7, dtype=torch.bool)], dim=1)
    torch.testing.assert_close(model.encode(wider, wider_mask)[1], log_var)
    # permuted particles
    order = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(model.encode(x[:, order], mask[:, order])[0], mu, rtol=1e-5, atol=1e-6)
    # without a mask, zero-pT rows are padding
    torch.testing.assert_close(model.encode(x)[0], mu)


def test_the_encoder_sees_the_jet():
    model = make_jet_vae(SMALL, seed=1).eval()
    x, mask = _toy_jets()
    moved = x.clone()
    moved[..., 2] += 0.3 * mask
    assert not torch.allclose(model.encode(moved, mask)[0], model.encode(x, mask)[0])


# ------------------------------------------------------------------------------ the loss


def test_squared_distance_on_a_hand_made_pair():
    # two half-pT particles 0.4 apart against one particle in the middle: each moves 0.2 / R
    a = torch.tensor([[[0.5, 0.0, 0.0], [0.5, 0.0, 0.4], [0.0, 0.0, 0.0]]], dtype=torch.float64)
    b = torch.tensor([[[1.0, 0.0, 0.2]]], dtype=torch.float64)
    d2 = SquaredSinkhornEMD(R=0.8, eps=0.005, n_iterations=60)(a, b, torch.tensor([[True, True, False]]))
    assert d2.shape == (1,)
    assert float(d2) == pytest.approx((2 * 0.5 * 0.2 / 0.8) ** 2, rel=1e-3)


def test_loss_matches_its_formula_with_the_exact_emd():
    settings = JetVAESettings(latent_dim=3, n_particles=6, particle_hidden=(8,), jet_hidden=(8,),
                              decoder_hidden=(16,), eps=0.005, n_iterations=80)
    model = make_jet_vae(settings, seed=3).double()
    x, mask = _toy_jets(n=4, m=8, seed=2)
    x = x.double()
    beta = 0.05
    loss = model.loss((x, mask), beta, generator=torch.Generator().manual_seed(7))
    # the same latent draw, by hand
    mu, log_var = model.encode(x, mask)
    z = model.sample_latent(mu, log_var, torch.Generator().manual_seed(7))
    x_hat = model.decode(z).detach().numpy()
    exact = np.array([emd(x[i][mask[i]].numpy(), x_hat[i], R=0.8) for i in range(4)])
    kl = kl_per_latent(mu, log_var).sum(dim=1).mean().item()
    expected = np.mean(exact ** 2) / (2 * beta ** 2) + kl
    assert loss.kl.item() == pytest.approx(kl, rel=1e-9)
    assert loss.distortion.item() == pytest.approx(np.mean(exact ** 2), rel=0.01)
    assert loss.total.item() == pytest.approx(expected, rel=0.01)


def test_gradient_reaches_every_parameter():
    model = make_jet_vae(SMALL, seed=0)
    x, mask = _toy_jets()
    model.loss((x, mask), 0.1).total.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


# ------------------------------------------------------------------------------ training


def test_short_training_lowers_the_loss(w_jets):
    x, mask = (t[:128] for t in w_jets)
    settings = JetVAESettings(latent_dim=4, particle_hidden=(32, 32), jet_hidden=(32,), decoder_hidden=(64, 64),
                              eps=0.05, n_iterations=20)
    model = make_jet_vae(settings, seed=0)
    beta = 0.02  # 11 GeV: fine enough that encoding pays
    before = evaluate_vae(model, (x, mask), beta, n_samples=1, device="cpu")
    train_vae(model, (x, mask), beta, steps=80, lr=1e-2, device="cpu", progress=False)
    after = evaluate_vae(model, (x, mask), beta, n_samples=1, device="cpu")
    assert after.total < 0.9 * before.total
    assert after.distortion < 0.85 * before.distortion
    assert after.kl > 0.1  # it started to encode


def test_reconstruction_emd_is_the_exact_emd(w_jets):
    model = make_jet_vae(SMALL, seed=0)
    x, mask = (t[:5] for t in w_jets)
    got = reconstruction_emd(model, x, mask)
    x_hat = model.decode(model.encode(x, mask)[0]).detach().double().numpy()
    expected = [emd(x[i][mask[i]].double().numpy(), x_hat[i], R=0.8, norm=True) for i in range(5)]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    shuffled = reconstruction_emd(model, x, mask, shuffle_seed=0)
    assert shuffled.shape == (5,) and not np.allclose(shuffled, got)


# ------------------------------------------------------------------------------ shipped weights


def _parameter_count(settings):
    """Weights + biases of every Linear layer, counted from the widths alone."""
    def mlp(sizes):
        return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    return (mlp((3, *settings.particle_hidden))
            + mlp((settings.particle_hidden[-1], *settings.jet_hidden, 2 * settings.latent_dim))
            + mlp((settings.latent_dim, *settings.decoder_hidden, 3 * settings.n_particles)))


def test_shipped_sweep_is_listed_and_consistent(w_jets):
    assert "wjets" in pretrained_sweep_names()
    sweep = load_pretrained_sweep("wjets")
    down, up = sweep.betas["down"], sweep.betas["up"]
    # two sweeps over one grid, each from scratch: down from coarse to fine, up from fine to coarse
    assert np.all(np.diff(down) < 0) and np.all(np.diff(up) > 0)
    np.testing.assert_allclose(up, down[::-1])
    assert sweep.metadata["data"]["mass_range_GeV"] == [75.0, 110.0]  # the paper's W window
    # beta_hat = pT_J * beta in GeV, with the book's pT_J = 550 GeV (the middle of 500-600 GeV)
    np.testing.assert_allclose(sweep.beta_hat("down"), 550.0 * down)
    np.testing.assert_allclose(np.diff(np.log(down)), np.log(down[1] / down[0]))  # a log grid
    model = sweep.model("down", -1)
    assert sum(p.numel() for p in model.parameters()) == _parameter_count(sweep.settings)
    # the model learns something, measured here: the finest beta reconstructs far better than
    # shuffled codes, and it encodes more than the coarsest
    x, mask = (t[:60] for t in w_jets)
    assert reconstruction_emd(model, x, mask).mean() < 0.8 * reconstruction_emd(model, x, mask, shuffle_seed=0).mean()
    coarse = evaluate_vae(sweep.model("down", 0), (x, mask), down[0], n_samples=1, device="cpu")
    fine = evaluate_vae(model, (x, mask), down[-1], n_samples=1, device="cpu")
    assert fine.kl > coarse.kl + 1.0


@pytest.mark.parametrize("direction, index", [("down", 0), ("down", -1), ("up", 0), ("up", -2)])
def test_shipped_weights_reproduce_their_recorded_metrics(w_jets, direction, index):
    sweep = load_pretrained_sweep("wjets")
    record = sweep.metadata["sweeps"][direction]
    beta = sweep.betas[direction][index]
    model = sweep.model(direction, index)
    check = evaluate_vae(model, w_jets, beta, n_samples=sweep.metadata["evaluation"]["n_check_samples"],
                         seed=sweep.metadata["evaluation"]["evaluation_seed"], device="cpu", batch_size=1000)
    assert check.kl == pytest.approx(record["metrics"]["check_kl"][index], rel=2e-3, abs=2e-3)
    assert check.distortion == pytest.approx(record["metrics"]["check_distortion"][index], rel=5e-3)


def test_missing_or_mismatched_weight_files_are_reported(tmp_path):
    load_pretrained_sweep("wjets")  # the shipped files load
    source = tmp_path / "copy"
    shutil.copytree(str(sweep_folder()), source)
    (source / "up.pt").unlink()
    with pytest.raises(ValueError, match="missing"):
        load_pretrained_sweep("wjets", directory=source)
    torch.save(torch.load(source / "down.pt", weights_only=True)[:3], source / "up.pt")
    with pytest.raises(ValueError, match="do not belong together"):
        load_pretrained_sweep("wjets", directory=source)
    with pytest.raises(ValueError, match="describes sweep"):
        load_pretrained_sweep("topjets", directory=source)
    with pytest.raises(ValueError, match="metadata.json"):
        load_pretrained_sweep("wjets", directory=tmp_path)


def sweep_folder():
    from importlib import resources
    return resources.files("jetgeom_lite") / "weights" / "wjets"


# ------------------------------------------------------------------------------ bad input


def test_bad_inputs_raise_clear_errors():
    model = make_jet_vae(SMALL, seed=0)
    x, mask = _toy_jets()
    with pytest.raises(ValueError, match=r"\(n_jets, M, 3\)"):
        model.encode(x[..., :2], mask)
    with pytest.raises(ValueError, match="mask must be"):
        model.encode(x, mask[:, :5])
    nan = x.clone()
    nan[0, 0, 1] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        model.encode(nan, mask)
    negative = x.clone()
    negative[0, 0, 0] = -0.1
    with pytest.raises(ValueError, match="negative"):
        model.encode(negative, mask)
    with pytest.raises(ValueError, match="no real particle"):
        model.encode(x, torch.zeros_like(mask))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model.encode(x.numpy(), mask)
    with pytest.raises(ValueError, match="z must be"):
        model.decode(torch.zeros(3, 5))
    for beta in (0.0, -0.1, math.nan):
        with pytest.raises(ValueError, match="beta"):
            model.loss((x, mask), beta)


def test_bad_settings_names_and_data():
    with pytest.raises(ValueError, match="latent_dim"):
        JetVAESettings(latent_dim=0)
    with pytest.raises(ValueError, match="eps"):
        JetVAESettings(eps=-1.0)
    with pytest.raises(ValueError, match="decoder_hidden"):
        JetVAESettings(decoder_hidden=())
    with pytest.raises(ValueError, match="no shipped sweep named 'qcd'"):
        load_pretrained_sweep("qcd")
    with pytest.raises(TypeError, match="JetVAESettings"):
        make_jet_vae({"latent_dim": 2})
    with pytest.raises(TypeError, match="Jets"):
        jet_tensors(np.zeros((2, 3, 3)))
    sweep = load_pretrained_sweep("wjets")
    with pytest.raises(ValueError, match="direction"):
        sweep.model("sideways", 0)
    with pytest.raises(ValueError, match="index"):
        sweep.model("down", 99)


def test_unnormalised_jets_are_refused():
    jets = load_jets("W", 5, seed=1, progress=False)
    with pytest.raises(ValueError, match="normalize=True"):
        jet_tensors(preprocess(jets, normalize=False))
    with pytest.raises(ValueError, match="normalize=True"):
        jet_tensors(jets)


def test_settings_refuse_zero_iterations_at_construction():
    with pytest.raises(ValueError, match="n_iterations"):
        JetVAESettings(n_iterations=0)
    with pytest.raises(TypeError, match="n_iterations"):
        JetVAESettings(n_iterations=2.5)
    with pytest.raises(TypeError, match="particle_hidden"):
        JetVAESettings(particle_hidden=64)
    # numpy numbers are numbers
    settings = JetVAESettings(eps=np.float32(0.05), latent_dim=np.int64(3))
    assert settings.latent_dim == 3 and type(settings.latent_dim) is int
    assert settings.eps == pytest.approx(0.05) and type(settings.eps) is float


def test_a_float64_batch_gets_an_error_naming_the_dtype():
    model = make_jet_vae(SMALL, seed=0)
    x, mask = _toy_jets()
    with pytest.raises(TypeError, match="float64.*x.to"):
        model.encode(x.double(), mask)
    # train_vae and evaluate_vae convert numpy/float64 data to the model's dtype themselves
    result = evaluate_vae(model, (x.double(), mask), 0.1, n_samples=1, device="cpu")
    assert np.isfinite(result.total)


def test_unnormalised_jets_are_named_as_such_by_the_loss():
    """pT in GeV: the error says 'not normalised', not 'NaN in the reconstruction'."""
    model = make_jet_vae(SMALL, seed=0)
    x, mask = _toy_jets()
    in_gev = x * 550.0
    with pytest.raises(ValueError, match="not normalised.*normalize=True"):
        model.loss((in_gev, mask), 0.1)
    with pytest.raises(ValueError, match="not normalised"):
        train_vae(model, (in_gev, mask), 0.1, steps=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="not normalised"):
        SquaredSinkhornEMD()(in_gev, model.decode(torch.zeros(6, 4)), mask)
