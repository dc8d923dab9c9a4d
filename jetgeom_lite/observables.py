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

__all__ = ["NSubjettiness", "nsubjettiness", "TwoProngs", "two_prongs"]


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
