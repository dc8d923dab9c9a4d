"""Tests of jetgeom_lite.observables on hand-made jets with known answers and on real jets."""

import numpy as np
import pytest

from jetgeom_lite.data import Jets, generate_jets
from jetgeom_lite.observables import nsubjettiness, third_emission, two_prongs


def _jets(rows):
    """Jets from lists of (pT, y, phi) rows, zero-padded."""
    width = max(len(r) for r in rows)
    particles = np.zeros((len(rows), width, 3))
    mask = np.zeros((len(rows), width), bool)
    for k, r in enumerate(rows):
        particles[k, : len(r)] = r
        mask[k, : len(r)] = True
    ones = np.ones(len(rows))
    return Jets(particles, mask, ones, 0 * ones, 0 * ones, ones, "toy", {"R": 0.8})


def test_two_particles_have_zero_tau2_and_tau1_by_hand():
    # two particles 0.4 apart in y: the winner-takes-all axis sits on the harder one
    jets = _jets([[(300.0, 0.0, 0.0), (100.0, 0.4, 0.0)]])
    result = nsubjettiness(jets)
    assert result.tau2[0] == pytest.approx(0.0, abs=1e-12)
    assert result.tau21[0] == pytest.approx(0.0, abs=1e-12)
    assert result.tau1[0] == pytest.approx(100 * 0.4 / (400 * 0.8), rel=1e-9)


def test_tau_decreases_with_more_axes_and_ratios_separate_processes():
    w = generate_jets("W", 60, seed=21, progress=False)
    qcd = generate_jets("QCD", 60, seed=21, progress=False)
    top = generate_jets("top", 60, seed=21, progress=False)
    for jets in (w, qcd, top):
        tau = nsubjettiness(jets)
        assert np.all(tau.tau2 <= tau.tau1 + 1e-12) and np.all(tau.tau3 <= tau.tau2 + 1e-12)
    assert np.median(nsubjettiness(w).tau21) < np.median(nsubjettiness(qcd).tau21)
    assert np.median(nsubjettiness(top).tau32) < np.median(nsubjettiness(qcd).tau32)


def test_two_prongs_direction_balance_and_separation():
    jets = _jets([[(300.0, 0.0, 0.0), (100.0, 0.0, 0.3)],
                  [(100.0, 0.2, 0.1), (300.0, -0.1, 0.1)]])
    prongs = two_prongs(jets)
    np.testing.assert_allclose(prongs.pt_balance, [0.25, 0.25])
    np.testing.assert_allclose(prongs.separation, [0.3, 0.3], rtol=1e-9)
    # from the harder to the softer prong: +phi in the first jet, +y in the second
    np.testing.assert_allclose(prongs.axis_angle, [np.pi / 2, 0.0], atol=1e-9)


def test_two_prongs_wraps_phi():
    jets = _jets([[(300.0, 0.0, np.pi - 0.05), (100.0, 0.0, -np.pi + 0.05)]])
    prongs = two_prongs(jets)
    assert prongs.separation[0] == pytest.approx(0.1, rel=1e-6)
    assert prongs.axis_angle[0] == pytest.approx(np.pi / 2, abs=1e-6)


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match="Jets"):
        nsubjettiness(np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="at least two particles"):
        two_prongs(_jets([[(100.0, 0.0, 0.0)]]))
    bad = _jets([[(100.0, 0.0, 0.0), (np.nan, 0.1, 0.0)]])
    with pytest.raises(ValueError, match="NaN"):
        nsubjettiness(bad)
    with pytest.raises(ValueError, match="beta"):
        nsubjettiness(_jets([[(100.0, 0.0, 0.0), (10.0, 0.1, 0.0)]]), beta=0)


def test_masked_padding_is_never_read():
    clean = _jets([[(300.0, 0.0, 0.0), (100.0, 0.4, 0.0), (50.0, 0.1, 0.2)],
                   [(300.0, 0.0, 0.0), (100.0, 0.0, 0.3)]])
    dirty_particles = clean.particles.copy()
    dirty_particles[~clean.mask] = np.nan
    dirty = Jets(dirty_particles, clean.mask, clean.pt, clean.y, clean.phi, clean.mass, "toy", {"R": 0.8})
    for name in ("tau1", "tau2", "tau3"):
        np.testing.assert_array_equal(getattr(nsubjettiness(dirty), name), getattr(nsubjettiness(clean), name))
    np.testing.assert_array_equal(two_prongs(dirty).separation, two_prongs(clean).separation)


def test_numpy_numbers_are_numbers():
    jets = _jets([[(300.0, 0.0, 0.0), (100.0, 0.4, 0.0)]])
    by_numpy = nsubjettiness(jets, beta=np.float32(1.0), R0=np.float64(0.8))
    assert by_numpy.tau1[0] == pytest.approx(100 * 0.4 / (400 * 0.8), rel=1e-9)
    with pytest.raises(TypeError, match="R0 must be a number"):
        nsubjettiness(jets, R0="0.8")


def test_third_emission_position_and_fraction_by_hand():
    # prongs: 300 GeV at the origin, 100 GeV at y = 0.3, so their pT-weighted centre is at y = 0.075;
    # a 1 GeV emission (too soft to move a prong by more than ~1e-3 rad) placed by hand around it
    prongs = [(300.0, 0.0, 0.0), (100.0, 0.3, 0.0)]
    jets = _jets([prongs + [(1.0, 0.075, 0.3)],      # above the centre: +90 degrees from the axis
                  prongs + [(1.0, 0.075, -0.3)],     # below: -90 degrees
                  prongs + [(1.0, 0.6, 0.0)],        # beyond the softer prong: 0
                  prongs + [(1.0, -0.3, 0.0)]])      # beyond the harder prong: 180 degrees
    third = third_emission(jets)
    np.testing.assert_allclose(third.pt_fraction, 1 / 401, rtol=1e-6)
    np.testing.assert_allclose(third.angle[:3], [np.pi / 2, -np.pi / 2, 0.0], atol=0.02)
    assert abs(third.angle[3]) == pytest.approx(np.pi, abs=0.02)
    np.testing.assert_allclose(third.distance, [np.hypot(0.075, 0.3), np.hypot(0.075, 0.3), 0.3, 0.3], atol=0.01)


def test_third_emission_wraps_phi_and_refuses_two_particle_jets():
    shifted = _jets([[(300.0, 0.0, np.pi - 0.05), (100.0, 0.3, np.pi - 0.05), (1.0, 0.075, -np.pi + 0.25)]])
    assert third_emission(shifted).angle[0] == pytest.approx(np.pi / 2, abs=0.02)
    with pytest.raises(ValueError, match="at least three particles"):
        third_emission(_jets([[(300.0, 0.0, 0.0), (100.0, 0.3, 0.0)]]))
