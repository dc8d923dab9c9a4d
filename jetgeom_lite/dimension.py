"""Dimension from a beta sweep: how many directions the VAE resolves at resolution beta.

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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DimensionEstimate", "dimension_from_information", "dimension_from_resolution",
           "local_slopes"]


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
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise ValueError(f"window must be an integer of at least 2 sweep points, got {window!r}.")
    window = int(window)
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
