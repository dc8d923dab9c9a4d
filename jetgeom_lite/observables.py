"""Jet observables the book compares its learnt representations with.

N-subjettiness (Thaler and Van Tilburg 2011) with winner-takes-all exclusive-kT axes, and the geometry of a jet's
two hardest prongs, both computed with FastJet on each jet's particles (treated as massless,
rows ``(pT [GeV], y, phi [rad])``).

    tau_N = sum_i pT_i min_k (Delta R_ik)**beta / (sum_i pT_i R0**beta)

Small tau21 = tau2 / tau1 means two-prong (W-like); small tau32 = tau3 / tau2 means three-prong
(top-like).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from ._jets import _cluster_sequence, _quiet_stdout, _wrap_phi
from ._validation import check_jets, check_positive
from .data import Jets

__all__ = ["NSubjettiness", "nsubjettiness", "TwoProngs", "two_prongs", "ThirdEmission", "third_emission"]


def _exclusive_subjets(jets: Jets, n_subjets: int, rows: np.ndarray,
                       winner_takes_all: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pT, y, phi of exclusive-kT subjets, each of shape (len(rows), n_subjets).

    With ``winner_takes_all`` the subjet direction follows its harder branch (WTA axes), which
    keeps N-subjettiness axes on the radiation and is insensitive to soft recoil.
    """
    import awkward as ak
    import fastjet

    # A radius far beyond any jet makes the beam distance irrelevant, as FastJet's
    # max_allowable_R does in fjcontrib's exclusive-jet axes.
    sequence = _cluster_sequence(jets, fastjet.kt_algorithm, 10.0, rows,
                                 fastjet.WTA_pt_scheme if winner_takes_all else None)
    format_warning = warnings.formatwarning
    with warnings.catch_warnings(), _quiet_stdout():
        # fastjet 3.5 warns about non-kT algorithms even for kT and replaces formatwarning
        warnings.simplefilter("ignore", UserWarning)
        subjets = sequence.exclusive_jets(n_jets=n_subjets)
    warnings.formatwarning = format_warning
    px, py, pz, energy = (ak.to_numpy(subjets[c]).reshape(len(rows), n_subjets) for c in ("px", "py", "pz", "E"))
    return np.hypot(px, py), 0.5 * np.log((energy + pz) / (energy - pz)), np.arctan2(py, px)


def _check_jets(jets: Jets) -> Jets:
    """The jets, checked by the package's one jet rule, padding rows set to zero."""
    if not isinstance(jets, Jets):
        raise TypeError(f"expected a Jets (from load_jets or a reader); got {type(jets).__name__}")
    if len(jets) == 0:
        raise ValueError("no jets given: the sample is empty")
    particles, mask = check_jets(jets.particles, jets.mask, "jets.particles", allow_empty_jets=True)
    return replace(jets, particles=particles, mask=mask)


def _tau(jets: Jets, n_axes: int, beta: float, R0: float) -> np.ndarray:
    tau = np.zeros(len(jets))
    multiplicity = jets.multiplicity
    rows = np.flatnonzero(multiplicity > n_axes)  # with <= N particles every particle is an axis
    if len(rows) == 0:
        return tau
    _, axis_y, axis_phi = _exclusive_subjets(jets, n_axes, rows, winner_takes_all=True)
    particles, mask = jets.particles[rows], jets.mask[rows]
    dy = particles[:, :, None, 1] - axis_y[:, None, :]
    dphi = _wrap_phi(particles[:, :, None, 2] - axis_phi[:, None, :])
    nearest = np.sqrt(dy**2 + dphi**2).min(axis=2)
    pt = particles[..., 0] * mask
    tau[rows] = (pt * nearest**beta).sum(axis=1) / (pt.sum(axis=1) * R0**beta)
    return tau


@dataclass(frozen=True)
class NSubjettiness:
    """N-subjettiness of each jet, all arrays of shape (n_jets,), dimensionless."""

    tau1: np.ndarray
    tau2: np.ndarray
    tau3: np.ndarray

    @property
    def tau21(self) -> np.ndarray:
        """tau2 / tau1: small for two-prong jets (0 where tau1 = 0)."""
        return np.divide(self.tau2, self.tau1, out=np.zeros_like(self.tau2), where=self.tau1 > 0)

    @property
    def tau32(self) -> np.ndarray:
        """tau3 / tau2: small for three-prong jets (0 where tau2 = 0)."""
        return np.divide(self.tau3, self.tau2, out=np.zeros_like(self.tau3), where=self.tau2 > 0)


def nsubjettiness(jets: Jets, *, beta: float = 1.0, R0: float | None = None) -> NSubjettiness:
    """N-subjettiness tau_1, tau_2, tau_3 with winner-takes-all exclusive-kT axes.

    Parameters
    ----------
    jets : Jets
        Raw or preprocessed jets (the ratios do not depend on the pT normalisation).
    beta : float
        Angular exponent (1 is the standard choice).
    R0 : float, optional
        Characteristic radius; defaults to the jets' clustering radius (0.8).

    Returns
    -------
    NSubjettiness
        ``tau1``, ``tau2``, ``tau3`` and the ratios ``tau21``, ``tau32``.

    Examples
    --------
    >>> from jetgeom_lite.data import load_jets
    >>> w = load_jets("W", 100, seed=1, progress=False)      # doctest: +SKIP
    >>> float(np.median(nsubjettiness(w).tau21)) < 0.6       # doctest: +SKIP
    True
    """
    jets = _check_jets(jets)
    beta = check_positive(beta, "beta")
    radius = check_positive(jets.settings.get("R", 0.8) if R0 is None else R0, "R0", example="0.8")
    return NSubjettiness(*(_tau(jets, n, float(beta), radius) for n in (1, 2, 3)))


@dataclass(frozen=True)
class TwoProngs:
    """The two hardest (exclusive-kT) prongs of each jet, arrays of shape (n_jets,).

    Attributes
    ----------
    axis_angle : ndarray
        Direction in the (y, phi) plane from the harder to the softer prong, atan2(dphi, dy),
        radians in (-pi, pi].
    pt_balance : ndarray
        pT of the softer prong over the sum of both, in [0, 0.5]; at 0.5 the direction loses its
        sign (opposite angles describe the same jet).
    separation : ndarray
        Delta R between the prongs, radians.
    """

    axis_angle: np.ndarray
    pt_balance: np.ndarray
    separation: np.ndarray


def two_prongs(jets: Jets) -> TwoProngs:
    """Decluster each jet into two exclusive-kT subjets and describe the pair.

    Parameters
    ----------
    jets : Jets
        Every jet needs at least two particles.

    Returns
    -------
    TwoProngs

    Examples
    --------
    >>> from jetgeom_lite.data import load_jets
    >>> prongs = two_prongs(load_jets("W", 100, seed=1, progress=False))   # doctest: +SKIP
    >>> bool((prongs.pt_balance <= 0.5).all())                            # doctest: +SKIP
    True
    """
    jets = _check_jets(jets)
    if np.any(jets.multiplicity < 2):
        raise ValueError("two_prongs needs at least two particles in every jet")
    prong_pt, prong_y, prong_phi = _exclusive_subjets(jets, 2, np.arange(len(jets)))
    harder = np.argmax(prong_pt, axis=1)
    softer = 1 - harder
    pick = np.arange(len(jets))
    dy = prong_y[pick, softer] - prong_y[pick, harder]
    dphi = _wrap_phi(prong_phi[pick, softer] - prong_phi[pick, harder])
    balance = prong_pt[pick, softer] / prong_pt.sum(axis=1)
    return TwoProngs(axis_angle=np.arctan2(dphi, dy), pt_balance=balance, separation=np.hypot(dy, dphi))


@dataclass(frozen=True)
class ThirdEmission:
    """The softest of three exclusive-kT subjets: a jet's third emission, beside its two prongs.

    Attributes, each of shape (n,)
    ----------
    pt_fraction : numpy.ndarray
        pT of the third subjet over the jet's scalar pT sum (0 for an exact two-prong jet).
    angle : numpy.ndarray
        Radians in (-pi, pi]: the direction of the third subjet seen from the two prongs'
        pT-weighted centre, measured from the prong axis (harder -> softer prong of
        :func:`two_prongs`); 0 means beyond the softer prong, pi beyond the harder one.
    distance : numpy.ndarray
        Angular distance (radians) of the third subjet from the nearer of the two prongs.
    """

    pt_fraction: np.ndarray
    angle: np.ndarray
    distance: np.ndarray


def third_emission(jets: Jets) -> ThirdEmission:
    """Decluster each jet into three exclusive-kT subjets and locate the softest against the prongs.

    The two prongs are those of :func:`two_prongs` (two exclusive-kT subjets); the third
    emission is the softest subjet of the three-subjet declustering. Rows ``(pT [GeV], y,
    phi [rad])``; pT may be in GeV or fractions (only ratios are used).

    Parameters
    ----------
    jets : Jets
        Every jet needs at least three particles.

    Returns
    -------
    ThirdEmission

    Raises
    ------
    ValueError
        If a jet has fewer than three particles (select them first, e.g. ``jets[jets.multiplicity >= 3]``).

    Examples
    --------
    >>> from jetgeom_lite.data import Jets
    >>> p = np.array([[[50.0, 0.1, 0.0], [49.0, -0.1, 0.0], [1.0, 0.0, 0.2]]])
    >>> one = np.ones(1)
    >>> third = third_emission(Jets(p, np.ones((1, 3), bool), 100 * one, 0 * one, 0 * one, 0 * one, "toy", {}))
    >>> round(float(third.pt_fraction[0]), 2), round(float(abs(third.angle[0])), 1)    # about pi / 2
    (0.01, 1.6)
    """
    jets = _check_jets(jets)
    if np.any(jets.multiplicity < 3):
        raise ValueError(f"third_emission needs at least three particles in every jet; "
                         f"{int(np.sum(jets.multiplicity < 3))} jets have fewer: select them first, "
                         "e.g. jets[jets.multiplicity >= 3].")
    rows = np.arange(len(jets))
    prong_pt, prong_y, prong_phi = _exclusive_subjets(jets, 2, rows)
    three_pt, three_y, three_phi = _exclusive_subjets(jets, 3, rows)
    harder = np.argmax(prong_pt, axis=1)
    softer = 1 - harder
    third = np.argmin(three_pt, axis=1)
    # work in (y, phi) relative to the harder prong, phi the short way round
    axis_y = prong_y[rows, softer] - prong_y[rows, harder]
    axis_phi = _wrap_phi(prong_phi[rows, softer] - prong_phi[rows, harder])
    weight = prong_pt[rows, softer] / prong_pt.sum(axis=1)
    centre_y, centre_phi = weight * axis_y, weight * axis_phi
    emission_y = three_y[rows, third] - prong_y[rows, harder]
    emission_phi = _wrap_phi(three_phi[rows, third] - prong_phi[rows, harder])
    to_y, to_phi = emission_y - centre_y, emission_phi - centre_phi
    angle = np.arctan2(axis_y * to_phi - axis_phi * to_y, axis_y * to_y + axis_phi * to_phi)
    distance = np.minimum(np.hypot(emission_y, emission_phi), np.hypot(emission_y - axis_y, emission_phi - axis_phi))
    total = np.where(jets.mask, jets.particles[..., 0], 0.0).sum(axis=1)
    return ThirdEmission(pt_fraction=three_pt[rows, third] / total, angle=angle, distance=distance)
