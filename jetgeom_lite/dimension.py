"""Dimension from a beta sweep: how many directions the VAE resolves at resolution beta; and the
correlation dimension of a sample, the model-free count they are compared with.

Two measures (Collins, arXiv:2109.10919; REFERENCE.md section 3), each a derivative along a
monotonic sweep of beta:

- from information, :math:`D_1 = -\\,d\\mathrm{KL}/d\\ln\\beta`
  (:func:`dimension_from_information`);
- from resolution, :math:`D_2 = d\\langle|\\Delta x|^2\\rangle / d\\beta^2`
  (:func:`dimension_from_resolution`).

Why they count directions: a latent direction along which the decoder moves the output by
:math:`a z` with :math:`a \\gg \\beta` settles at posterior width :math:`\\sigma = \\beta / a`; it
costs :math:`\\ln(a/\\beta)` nats of KL and leaves :math:`\\beta^2` of squared distortion. Each
resolved direction therefore adds 1 to both derivatives; an unresolved one adds 0.

At the optimum the two are one number
-------------------------------------
If the VAE sits at the minimum :math:`L^*(\\beta)` of :math:`L = \\langle d^2\\rangle/(2\\beta^2) +
\\mathrm{KL}` at every beta, the envelope theorem gives :math:`dL^*/d\\ln\\beta = \\partial L/\\partial
\\ln\\beta = -\\langle d^2\\rangle/\\beta^2`; writing out the total derivative of ``L`` along the sweep,
this is exactly :math:`D_2 - D_1 = 0`. So D1 and D2 are not two independent measurements: a gap
between them says the sweep was not at a (local) optimum, e.g. an upward sweep with too few steps
per beta. Agreement is necessary, not sufficient: a model stuck with a direction switched off sits
at a constrained optimum and still gives D1 = D2.

How the derivatives are taken
-----------------------------
Sweep curves are noisy (each point is a separately trained model), and a plain two-point
difference doubles the noise of neighbouring points. Both functions fit a straight line by least
squares to each run of ``window`` consecutive sweep points and report its slope, in the variable in
which the ideal curve is a straight line: KL against :math:`\\ln\\beta` (ideal: :math:`-d\\ln\\beta +
c`), distortion against :math:`\\beta^2` (ideal: :math:`d\\beta^2 + c`). So the estimate is exact on
an ideal curve whatever the window, and a wider window only trades resolution in beta for less
noise (for ``window=3`` on an even grid the slope's variance is a quarter of the two-point
difference's). ``window=2`` is the plain finite difference. No smoothing is applied before, which
would bend the plateaus the measures are looking for.

The correlation dimension of a sample (no model)
------------------------------------------------
:func:`correlation_dimension` counts how the number of pairs closer than ``Q`` grows with ``Q``
(energyflow's demo; Grassberger and Procaccia 1983)::

    dim(Q) = Q d/dQ ln N(Q),    N(Q) = #{pairs i < j : d_ij < Q},

from any distances (EMDs from :func:`jetgeom_lite.emd.pairwise_emd`, Euclidean distances from
``scipy.spatial.distance.pdist``). It lived in :mod:`jetgeom_lite.emd` before; it is a dimension
estimate, so it lives here, and ``from jetgeom_lite.emd import correlation_dimension`` still works.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_fraction, check_integer, check_positive

__all__ = ["DimensionEstimate", "dimension_from_information", "dimension_from_resolution",
           "local_slopes", "CorrelationDimension", "correlation_dimension"]


@dataclass(frozen=True, eq=False)
class DimensionEstimate:
    """A dimension measure along a beta sweep.

    Attributes
    ----------
    beta : numpy.ndarray, shape (m - window + 1,)
        Where each estimate sits: the geometric mean of the betas in its window (the midpoint in
        :math:`\\ln\\beta` for ``window=2``, the middle sweep point for odd windows on a log grid).
        Same order as the input sweep, same unit as beta.
    dimension : numpy.ndarray, shape (m - window + 1,)
        :math:`D_1` or :math:`D_2` (dimensionless).
    measure : str
        ``"information"`` (D1) or ``"resolution"`` (D2).
    window : int
        Number of consecutive sweep points in each local fit.
    """

    beta: np.ndarray
    dimension: np.ndarray
    measure: str
    window: int


def _as_sweep(betas, values, name: str, window: int) -> tuple[np.ndarray, np.ndarray, int]:
    try:
        betas = np.asarray(betas, dtype=float)
        values = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"betas and {name} must be sequences of numbers.") from None
    if betas.ndim != 1 or values.ndim != 1:
        raise ValueError(f"betas and {name} must be 1-D, got shapes {betas.shape} and "
                         f"{values.shape}. For KL per latent direction, sum over directions first "
                         "(or call once per direction).")
    if betas.shape != values.shape:
        raise ValueError(f"betas has {betas.size} points but {name} has {values.size}; pass one "
                         f"{name} value per beta.")
    window = check_integer(window, "window", minimum=2, example="3")
    if betas.size < window:
        raise ValueError(f"a sweep of {betas.size} points is too short for window={window}; "
                         f"give at least {window} betas or a smaller window (>= 2).")
    if not np.all(np.isfinite(betas)) or np.any(betas <= 0):
        raise ValueError(f"every beta must be positive and finite (a resolution), got {betas}.")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values at betas "
                         f"{betas[~np.isfinite(values)]}; rerun or drop those sweep points.")
    steps = np.diff(betas)
    if not (np.all(steps > 0) or np.all(steps < 0)):
        raise ValueError("betas must be strictly monotonic (one sweep direction, no repeats): "
                         f"got {betas}. Split an up-and-down schedule into its two sweeps.")
    return betas, values, window


def local_slopes(x: np.ndarray, y: np.ndarray, window: int) -> np.ndarray:
    """Least-squares slope dy/dx over each run of ``window`` consecutive points.

    Parameters
    ----------
    x, y : numpy.ndarray, shape (m,)
    window : int
        ``2 <= window <= m``.

    Returns
    -------
    numpy.ndarray, shape (m - window + 1,)

    Examples
    --------
    >>> local_slopes(np.arange(5.0), 3 * np.arange(5.0) + 1, window=3)
    array([3., 3., 3.])
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    # Sliding windows as views, then the closed-form slope cov(x, y) / var(x) per window.
    xs = np.lib.stride_tricks.sliding_window_view(x, window)
    ys = np.lib.stride_tricks.sliding_window_view(y, window)
    dx = xs - xs.mean(axis=1, keepdims=True)
    dy = ys - ys.mean(axis=1, keepdims=True)
    return (dx * dy).sum(axis=1) / (dx * dx).sum(axis=1)


def _window_centres(betas: np.ndarray, window: int) -> np.ndarray:
    logs = np.lib.stride_tricks.sliding_window_view(np.log(betas), window)
    return np.exp(logs.mean(axis=1))


def dimension_from_information(betas, kl, window: int = 3) -> DimensionEstimate:
    """Dimension from information, :math:`D_1 = -\\,d\\mathrm{KL}/d\\ln\\beta`, along a sweep.

    Parameters
    ----------
    betas : array_like, shape (m,)
        Strictly monotonic (increasing or decreasing), positive; any unit (the log removes it).
    kl : array_like, shape (m,)
        Total KL (nats) at each beta, e.g. ``BetaSweep.kl``.
    window : int
        Consecutive points per local linear fit of KL against ln beta (see the module notes).

    Returns
    -------
    DimensionEstimate
        ``m - window + 1`` values.

    Raises
    ------
    ValueError
        Non-positive or non-monotonic betas, a length mismatch, NaN, or fewer points than
        ``window``.

    Examples
    --------
    >>> betas = np.geomspace(1.0, 0.01, 9)
    >>> estimate = dimension_from_information(betas, -2.0 * np.log(betas) + 0.5)
    >>> np.round(estimate.dimension, 6)
    array([2., 2., 2., 2., 2., 2., 2.])
    """
    betas, kl, window = _as_sweep(betas, kl, "kl", window)
    return DimensionEstimate(beta=_window_centres(betas, window),
                             dimension=-local_slopes(np.log(betas), kl, window),
                             measure="information", window=window)


def dimension_from_resolution(betas, distortion, window: int = 3) -> DimensionEstimate:
    """Dimension from resolution, :math:`D_2 = d\\langle|\\Delta x|^2\\rangle/d\\beta^2`, along a sweep.

    Parameters
    ----------
    betas : array_like, shape (m,)
        Strictly monotonic, positive, in the unit of the distance.
    distortion : array_like, shape (m,)
        :math:`\\langle|x - \\hat x|^2\\rangle` at each beta (squared unit of beta), e.g.
        ``BetaSweep.distortion``.
    window : int
        Consecutive points per local linear fit of the distortion against beta squared.

    Returns
    -------
    DimensionEstimate
        ``m - window + 1`` values.

    Raises
    ------
    ValueError
        As :func:`dimension_from_information`.

    Examples
    --------
    >>> betas = np.geomspace(1.0, 0.01, 9)
    >>> estimate = dimension_from_resolution(betas, 3.0 * betas**2 + 0.01)
    >>> np.round(estimate.dimension, 6)
    array([3., 3., 3., 3., 3., 3., 3.])
    """
    betas, distortion, window = _as_sweep(betas, distortion, "distortion", window)
    return DimensionEstimate(beta=_window_centres(betas, window),
                             dimension=local_slopes(betas ** 2, distortion, window),
                             measure="resolution", window=window)


# --------------------------------------------------------------------------------------------
# The correlation dimension of a sample (no model): the reference D1 and D2 are compared with
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CorrelationDimension:
    """The correlation dimension of a sample at a set of scales.

    Attributes
    ----------
    Q : ndarray, shape (K,)
        Scales, in the unit of the distances (GeV for raw-pT EMDs, a fraction of the jet pT for
        normalised ones).
    dimension : ndarray, shape (K,)
        ``dim(Q) = d ln N / d ln Q``; NaN where fewer than one pair lies below ``Q e^{-w/2}``.
    lower, upper : ndarray, shape (K,)
        Bootstrap band (central ``confidence`` interval) from resampling the points (jets).
    pair_counts : ndarray of int, shape (K,)
        ``N(Q)``, the number of pairs closer than ``Q``.
    n_points : int
        Number of points (jets) in the sample.
    n_bootstrap : int
    confidence : float
    log_width : float
        ``w``, the step in ``ln Q`` of the central finite difference.
    """

    Q: np.ndarray
    dimension: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    pair_counts: np.ndarray
    n_points: int
    n_bootstrap: int
    confidence: float
    log_width: float


def _condensed(distances: Any) -> tuple[np.ndarray, int]:
    """Distances as the condensed upper triangle (i < j, row by row) and the number of points."""
    if isinstance(distances, (str, bytes, dict)) or distances is None:
        raise TypeError(f"distances must be a condensed (1-D) or square (n, n) array; got {type(distances).__name__}")
    try:
        array = np.asarray(distances, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("distances must be a numeric condensed (1-D) or square (n, n) array") from None
    if array.ndim == 2:
        n = array.shape[0]
        if array.shape != (n, n):
            raise ValueError(f"a 2-D distance matrix must be square (n, n) (the distances within one sample); got "
                             f"{array.shape}. For distances between two samples, pass each sample's own matrix.")
        if not np.all(np.isfinite(array)):
            raise ValueError("distances contain NaN or inf")
        if not np.allclose(array, array.T, rtol=1e-9, atol=0.0) or np.any(np.diag(array) != 0):
            raise ValueError("a square distance matrix must be symmetric with zeros on the diagonal")
        condensed = array[np.triu_indices(n, 1)]
    elif array.ndim == 1:
        condensed = array
        n = int(round((1 + math.sqrt(1 + 8 * len(array))) / 2))
        if n * (n - 1) // 2 != len(array):
            raise ValueError(f"a condensed distance array must have length n (n - 1) / 2 for some n; got {len(array)}")
        if not np.all(np.isfinite(condensed)):
            raise ValueError("distances contain NaN or inf")
    else:
        raise ValueError(f"distances must be condensed (1-D) or square (n, n); got {array.ndim} dimensions")
    if n < 2:
        raise ValueError("the correlation dimension needs at least two points (one pair)")
    if np.any(condensed < 0):
        raise ValueError("distances must be >= 0")
    return condensed, n


def correlation_dimension(distances: Any, Q: Any, *, log_width: float = 0.2, n_bootstrap: int = 100,
                          confidence: float = 0.68, seed: int = 0) -> CorrelationDimension:
    """Correlation dimension ``dim(Q) = Q d/dQ ln N(Q)`` of a sample, with a bootstrap band.

    ``N(Q)`` counts the pairs i < j with distance below ``Q``; the derivative is the central
    difference ``[ln N(Q e^{w/2}) - ln N(Q e^{-w/2})] / w`` in ``ln Q``, which stays stable
    where counts are small and does not depend on how the ``Q`` grid is spaced.

    Parameters
    ----------
    distances : ndarray, shape (n (n - 1) / 2,) or (n, n)
        Condensed upper triangle (``scipy.spatial.distance.pdist`` order) or a symmetric matrix
        with zero diagonal, e.g. from :func:`jetgeom_lite.emd.pairwise_emd`.
    Q : float or array_like, shape (K,)
        Positive scales, in the unit of the distances.
    log_width : float
        Step ``w`` of the finite difference in ``ln Q`` (0.2: counts at 0.905 Q and 1.105 Q).
    n_bootstrap : int
        Bootstrap replicas; 0 for none (the band is then the estimate itself).
    confidence : float
        Probability content of the central band (0.68 ~ one standard deviation).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    CorrelationDimension

    Notes
    -----
    The bootstrap resamples the points (jets), with replacement, not the pairs: pairs share
    jets, so they are not independent. A jet drawn ``c_k`` times contributes ``c_k c_l`` copies
    of the pair (k, l), and pairs of a jet with its own copies are left out (they would add
    pairs at distance zero).

    Examples
    --------
    >>> from scipy.spatial.distance import pdist
    >>> points = np.random.default_rng(1).random((800, 2))     # uniform in the unit square
    >>> result = correlation_dimension(pdist(points), [0.05], n_bootstrap=20)
    >>> bool(abs(result.dimension[0] - 2) < 0.2)
    True
    """
    condensed, n = _condensed(distances)
    if Q is None or isinstance(Q, (str, bytes)):
        raise TypeError(f"Q must be a positive number or a 1-D array of them, in the unit of the distances; "
                        f"got {type(Q).__name__}")
    try:
        scales = np.atleast_1d(np.asarray(Q, dtype=np.float64))
    except (TypeError, ValueError):
        raise TypeError("Q must be a positive number or a 1-D array of them, in the unit of the distances") from None
    if scales.ndim != 1 or scales.size == 0:
        raise ValueError(f"Q must be a positive number or a 1-D array of them; got shape {scales.shape}")
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError("Q must be positive and finite")
    log_width = check_positive(log_width, "log_width", example="0.2")
    n_bootstrap = check_integer(n_bootstrap, "n_bootstrap", minimum=0, example="100")
    confidence = check_fraction(confidence, "confidence", allow_one=False, example="0.68")
    seed = check_integer(seed, "seed", example="0")

    order = np.argsort(condensed, kind="stable")
    sorted_distances = condensed[order]
    low_edges = scales * math.exp(-log_width / 2)
    high_edges = scales * math.exp(log_width / 2)
    # N(q) = number of pairs with distance strictly below q
    positions = [np.searchsorted(sorted_distances, edges, side="left") for edges in (low_edges, high_edges, scales)]

    def dimension_from(cumulative: np.ndarray) -> np.ndarray:
        below = np.concatenate([[0.0], cumulative])
        low, high = below[positions[0]], below[positions[1]]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(low > 0, (np.log(high) - np.log(np.where(low > 0, low, 1.0))) / log_width, np.nan)

    ones = np.ones(len(condensed))
    dimension = dimension_from(np.cumsum(ones))
    if np.any(np.isnan(dimension)):
        warnings.warn(f"no pair lies below Q e^(-w/2) for Q = {scales[np.isnan(dimension)].tolist()}; dim(Q) is NaN "
                      "there. Use larger Q or more jets.", RuntimeWarning, stacklevel=2)

    lower, upper = dimension.copy(), dimension.copy()
    if n_bootstrap > 0:
        rows, cols = np.triu_indices(n, 1)
        rows, cols = rows[order].astype(np.int32), cols[order].astype(np.int32)
        rng = np.random.default_rng(seed)
        replicas = np.empty((int(n_bootstrap), len(scales)))
        for k in range(int(n_bootstrap)):
            draws = np.bincount(rng.integers(0, n, size=n), minlength=n).astype(np.float64)
            replicas[k] = dimension_from(np.cumsum(draws[rows] * draws[cols]))
        tail = (1 - confidence) / 2 * 100
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: already warned above
            lower, upper = np.nanpercentile(replicas, [tail, 100 - tail], axis=0)
    return CorrelationDimension(Q=scales, dimension=dimension, lower=lower, upper=upper,
                                pair_counts=positions[2].astype(np.int64), n_points=n,
                                n_bootstrap=int(n_bootstrap), confidence=float(confidence),
                                log_width=float(log_width))
