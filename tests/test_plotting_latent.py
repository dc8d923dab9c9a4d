"""Tests for jetgeom_lite.plotting.latent: decoding along latent directions, the strip, the explorer."""

from __future__ import annotations

import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

import jetgeom_lite.plotting as plotting  # noqa: E402
from jetgeom_lite.emd import emd  # noqa: E402
from jetgeom_lite.jet_vae import JetVAESettings, load_pretrained_sweep, make_jet_vae  # noqa: E402
from jetgeom_lite.plotting import latent  # noqa: E402
from jetgeom_lite.plotting.latent import (  # noqa: E402
    LatentWalk,
    decode_along,
    decoded_jet_mass,
    draw_latent_strip,
    latent_explorer,
)

SMALL = JetVAESettings(latent_dim=4, n_particles=12, particle_hidden=(8,), jet_hidden=(8,), decoder_hidden=(16,))


@pytest.fixture(scope="module")
def shipped():
    """The shipped upward W-jet sweep at 3 GeV (the model chapter 4 reads) and its KL per direction (nats)."""
    sweep = load_pretrained_sweep("wjets")
    index = int(np.argmin(np.abs(sweep.beta_hat("up") - 3.0)))
    kl = np.array(sweep.metadata["sweeps"]["up"]["metrics"]["kl_per_latent"])[index]
    return sweep.model("up", index), kl


def test_module_doctests():
    failures, tried = doctest.testmod(latent, optionflags=doctest.ELLIPSIS)
    assert tried >= 4 and failures == 0


def test_names_reexported_from_plotting():
    for name in latent.__all__:
        assert getattr(plotting, name) is getattr(latent, name)


# ---------------------------------------------------------------------------------- jet mass


def test_mass_of_two_massless_prongs_matches_closed_form():
    # m^2 = 2 pT1 pT2 (cosh dy - cos dphi) for two massless particles
    z1, z2, dy, dphi, scale = 0.7, 0.3, 0.12, 0.21, 540.0
    jet = np.array([[[z1, 0.05, -0.1], [z2, 0.05 + dy, -0.1 + dphi], [0.0, 0.0, 0.0]]])
    expected = np.sqrt(2 * (scale * z1) * (scale * z2) * (np.cosh(dy) - np.cos(dphi)))
    assert decoded_jet_mass(jet, pt_scale=scale)[0] == pytest.approx(expected, rel=1e-12)


def test_mass_ignores_padding_and_is_boost_invariant():
    rng = np.random.default_rng(3)
    jet = np.zeros((1, 6, 3))
    jet[0, :4] = np.column_stack([rng.dirichlet(np.ones(4)), rng.normal(0, 0.2, 4), rng.normal(0, 0.2, 4)])
    padded = jet.copy()
    padded[0, 4:] = [5.0, 3.0, 3.0]  # junk in masked rows must not count
    mask = np.array([[True] * 4 + [False] * 2])
    boosted = jet.copy()
    boosted[0, :4, 1] += 1.3  # a longitudinal boost shifts every rapidity; the mass is invariant
    boosted[0, :4, 2] += 0.7  # and so is a rotation in phi
    reference = decoded_jet_mass(jet)[0]
    assert reference > 0
    assert decoded_jet_mass(padded, mask)[0] == pytest.approx(reference, rel=1e-12)
    assert decoded_jet_mass(boosted)[0] == pytest.approx(reference, rel=1e-9)


def test_mass_accepts_torch_and_rejects_bad_input():
    jet = torch.tensor([[[0.5, -0.1, 0.0], [0.5, 0.1, 0.0]]])
    assert decoded_jet_mass(jet)[0] > 0
    with pytest.raises(ValueError, match="pt_scale"):
        decoded_jet_mass(jet, pt_scale=-1.0)
    with pytest.raises(ValueError, match="shape"):
        decoded_jet_mass(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        decoded_jet_mass(np.array([[[np.nan, 0.0, 0.0]]]), np.array([[True]]))


# ---------------------------------------------------------------------------------- walking


def test_walk_along_a_direction_is_a_shift_of_the_base():
    # z0 + t e_k decoded from base z0 equals offset 0 decoded from base z0 + t e_k
    model = make_jet_vae(SMALL, seed=1)
    base = np.array([0.3, -0.2, 0.1, 0.5])
    walk = decode_along(model, 2, [-1.5, 0.0, 0.8], base=base)
    assert isinstance(walk, LatentWalk)
    assert walk.jets.shape == (3, 12, 3) and walk.mass.shape == (3,) and walk.pt_balance.shape == (3,)
    for t, jet in zip(walk.offsets, walk.jets):
        shifted = base.copy()
        shifted[2] += t
        alone = decode_along(model, 0, [0.0], base=shifted)
        np.testing.assert_allclose(alone.jets[0], jet, atol=1e-6)
    np.testing.assert_allclose(walk.jets[..., 0].sum(axis=1), 1.0, atol=1e-5)
    assert np.all((walk.pt_balance >= 0) & (walk.pt_balance <= 0.5))


def test_a_direction_the_decoder_ignores_leaves_the_jet_unchanged():
    model = make_jet_vae(SMALL, seed=2)
    first_layer = model.decoder.network[0]
    with torch.no_grad():
        first_layer.weight[:, 3] = 0.0  # the decoder never reads z_3
    ignored = decode_along(model, 3, [-3.0, 0.0, 3.0])
    used = decode_along(model, 1, [-3.0, 0.0, 3.0])
    np.testing.assert_allclose(ignored.jets[0], ignored.jets[2], atol=1e-7)
    assert np.abs(used.jets[0] - used.jets[2]).max() > 1e-3


def test_shipped_model_inactive_directions_barely_move_the_jet(shipped):
    model, kl = shipped
    inactive, active = np.flatnonzero(kl < 0.1), np.flatnonzero(kl > 1.0)
    assert inactive.size >= 3 and active.size >= 2

    def swing(k):  # exact EMD (fraction of pT_J) between the jets decoded at z_k = -2 and +2
        walk = decode_along(model, int(k), [-2.0, 2.0])
        return emd(walk.jets[0], walk.jets[1], R=0.8)

    assert max(swing(k) for k in inactive) < 0.02
    assert min(swing(k) for k in active) > 0.04


def test_shipped_model_decodes_w_like_jets_along_active_directions_only(shipped):
    # the origin decodes to a light blob (the average of all orientations); two units out along
    # every active direction the jet is W-like and heavy; along an unused direction nothing changes;
    # and one active direction (the sharing) runs from a single hard prong to two shared ones
    model, kl = shipped
    active, unused = np.flatnonzero(kl > 0.5), np.flatnonzero(kl < 0.05)
    assert 2 <= active.size <= 4 and unused.size >= 4
    walks = {int(k): decode_along(model, int(k), [-2.0, 0.0, 2.0]) for k in (*active, *unused)}
    for k in active:
        assert max(walks[k].mass[[0, 2]]) > walks[k].mass[1] + 25.0
    for k in unused:
        assert np.all(np.abs(walks[k].mass - walks[k].mass[1]) < 3.0)
        assert np.all(np.abs(walks[k].pt_balance - walks[k].pt_balance[1]) < 0.02)
    assert any(min(walks[k].pt_balance) < 0.1 and max(walks[k].pt_balance) > 0.3 for k in active)


def test_decode_along_rejects_bad_arguments():
    model = make_jet_vae(SMALL, seed=0)
    with pytest.raises(ValueError, match="direction"):
        decode_along(model, 4, [0.0])
    with pytest.raises(TypeError, match="direction"):
        decode_along(model, 1.0, [0.0])
    with pytest.raises(ValueError, match="offsets"):
        decode_along(model, 0, [])
    with pytest.raises(ValueError, match="offsets"):
        decode_along(model, 0, [0.0, np.nan])
    with pytest.raises(ValueError, match="base"):
        decode_along(model, 0, [0.0], base=np.zeros(3))
    with pytest.raises(TypeError, match="jet VAE"):
        decode_along(torch.nn.Linear(2, 2), 0, [0.0])


# ---------------------------------------------------------------------------------- the strip


def test_strip_has_the_requested_panels_each_with_the_decoded_jet():
    model = make_jet_vae(SMALL, seed=3)
    offsets = [-2.0, -1.0, 0.0, 1.0, 2.0]
    walks = [decode_along(model, k, offsets) for k in (0, 2, 3)]
    fig, axes = plt.subplots(3, 5, squeeze=False)
    try:
        artists = draw_latent_strip(axes, walks)
        assert len(artists) == 15
        for row, walk in enumerate(walks):
            for column in range(5):
                ax = axes[row, column]
                markers = [c for c in ax.collections if isinstance(c, PathCollection)]
                assert len(markers) == 1
                # the panel shows this walk's jet at this offset: positions match the decoded particles
                order = np.argsort(-walk.jets[column, :, 0], kind="stable")
                np.testing.assert_allclose(markers[0].get_offsets(), walk.jets[column, order, 1:], atol=1e-9)
                assert f"z_{{{walk.direction}}}" in ax.get_title()
                assert f"{offsets[column]:+.1f}" in ax.get_title()
                assert f"{walk.mass[column]:.0f} GeV" in ax.get_title()
        assert all(ax.get_xlabel() == "$y$" and "phi" in ax.get_ylabel() for ax in axes.flat)
    finally:
        plt.close(fig)


def test_strip_rejects_mismatched_axes_and_walks():
    model = make_jet_vae(SMALL, seed=3)
    walks = [decode_along(model, 0, [0.0, 1.0]), decode_along(model, 1, [0.0, 1.0])]
    fig, axes = plt.subplots(2, 3, squeeze=False)
    try:
        with pytest.raises(ValueError, match="shape"):
            draw_latent_strip(axes, walks)
        with pytest.raises(ValueError, match="same number of steps"):
            draw_latent_strip(axes, [walks[0], decode_along(model, 1, [0.0, 1.0, 2.0])])
        with pytest.raises(TypeError, match="LatentWalk"):
            draw_latent_strip(axes, [])
        with pytest.raises(ValueError, match="names"):
            draw_latent_strip(axes[:, :2], walks, names=["only one"])
    finally:
        plt.close(fig)


# ---------------------------------------------------------------------------------- the widget


def test_explorer_decodes_the_slider_code():
    pytest.importorskip("ipywidgets")
    model = make_jet_vae(SMALL, seed=4)
    explorer = latent_explorer(model, [1, 3], limits=[2.0, 1.0], names=["first", "second"])
    assert sorted(explorer.sliders) == [1, 3]
    assert explorer.sliders[1].description == "first"
    assert explorer.sliders[1].max == pytest.approx(2.0) and explorer.sliders[3].min == pytest.approx(-1.0)
    explorer.sliders[1].value = 1.5
    explorer.sliders[3].value = -0.5
    walk = explorer.update()
    expected = decode_along(model, 0, [0.0], base=np.array([0.0, 1.5, 0.0, -0.5]))
    np.testing.assert_allclose(walk.jets, expected.jets, atol=1e-6)
    assert walk.mass[0] == pytest.approx(expected.mass[0])
    with pytest.raises(ValueError, match="distinct"):
        latent_explorer(model, [1, 1])
    with pytest.raises(ValueError, match="names"):
        latent_explorer(model, [1, 3], names=["one"])
    with pytest.raises(ValueError, match="limits"):
        latent_explorer(model, [1], limits=-1.0)
