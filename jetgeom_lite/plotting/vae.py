"""Toy-VAE figures of chapter 3: decoded manifolds, posterior ellipses, beta sweeps, a slider.

A toy VAE maps points ``x`` of shape ``(N, n)`` (``n`` ambient coordinates, lengths in the toy's
unit ``u``) to a Gaussian posterior over ``K`` latent directions. The figures here show

- the *decoded manifold*: the decoder's image of latent grid lines, one colour per direction;
- the *posterior ellipse* of a point: :math:`J\\,\\mathrm{diag}(\\sigma^2)\\,J^T` around
  :math:`\\hat x(\\mu)`, with :math:`J = \\partial\\hat x/\\partial z`, the outputs one posterior
  standard deviation reaches (computed by :func:`jetgeom_lite.vae.decoded_posterior_covariance`);
- quantities along a beta sweep (:class:`jetgeom_lite.vae.BetaSweep`), on log axes labelled in
  plain numbers of the data's unit;
- :func:`sweep_slider`, an ipywidgets slider over a sweep that works with ipywidgets 7 and 8.

Functions draw into an ``Axes`` the caller made and return the artists they added; they never
create pyplot figures or change global state.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.patches import Ellipse

from ..vae import VAE, BetaSweep, decoded_posterior_covariance, make_mlp_vae
from .jets import format_log_axis

__all__ = [
    "LATENT_COLORS",
    "load_state",
    "covariance_ellipse",
    "draw_decoded_grid",
    "draw_posterior_ellipses",
    "draw_state",
    "draw_posterior_draws",
    "draw_sweep_frame",
    "draw_information_price",
    "draw_kl_per_direction",
    "draw_dimension_measures",
    "sweep_slider",
]

#: One colour per latent direction, in order of information (Okabe-Ito: blue, vermillion,
#: bluish green, reddish purple).
LATENT_COLORS: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")


def load_state(sweep: BetaSweep, index: int, data_dim: int, latent_dim: int,
               hidden: Sequence[int] = (64, 64), activation: str = "silu") -> VAE:
    """The model saved at ``sweep.betas[index]``, in a fresh MLP VAE on the CPU, in eval mode.

    Parameters
    ----------
    sweep : BetaSweep
        From :func:`jetgeom_lite.vae.beta_sweep` of a :func:`~jetgeom_lite.vae.make_mlp_vae` model.
    index : int
        Which beta (``-1``: the last one trained).
    data_dim, latent_dim : int
        ``n`` and ``K`` of the swept model.
    hidden : sequence of int
        Its hidden layer widths.
    activation : str
        Its activation.

    Returns
    -------
    VAE

    Examples
    --------
    >>> from jetgeom_lite.vae import beta_sweep
    >>> x = np.random.default_rng(0).normal(size=(64, 2))
    >>> sweep = beta_sweep(make_mlp_vae(2, 2, hidden=(8,), seed=0), x, [1.0, 0.5],
    ...                    steps_per_beta=2, steps_first_beta=2, progress=False, device="cpu")
    >>> load_state(sweep, -1, 2, 2, hidden=(8,)).training
    False
    """
    if not isinstance(sweep, BetaSweep):
        raise TypeError(f"sweep must be a jetgeom_lite.vae.BetaSweep, got {type(sweep).__name__}.")
    count = len(sweep.betas)
    if not isinstance(index, (int, np.integer)) or not -count <= int(index) < count:
        raise ValueError(f"index must be an integer in [-{count}, {count}) for a sweep of {count} "
                         f"betas, got {index!r}; use sweep.index_of(beta) to find one.")
    model = make_mlp_vae(data_dim, latent_dim, hidden=hidden, activation=activation, seed=0)
    try:
        sweep.load_into(model, int(index) % count)
    except RuntimeError as error:
        raise ValueError("the saved weights do not fit make_mlp_vae(data_dim, latent_dim, hidden, "
                         "activation): pass the sizes the sweep was trained with.") from error
    return model.cpu().eval()


def covariance_ellipse(centre: Sequence[float], covariance: np.ndarray, n_std: float = 1.0,
                       **style: Any) -> Ellipse:
    """The ellipse of a 2-D Gaussian: principal axes along the eigenvectors of ``covariance``.

    Full axes are :math:`2\\,n_\\mathrm{std}\\sqrt{\\lambda_{1,2}}` (``width`` along the larger
    eigenvalue), ``angle`` is that eigenvector's angle from the first axis, in degrees.

    Parameters
    ----------
    centre : (2,) array_like
        In the data's unit.
    covariance : (2, 2) array_like
        Symmetric, positive semi-definite, in the data's unit squared.
    n_std : float
        How many standard deviations the ellipse reaches.
    **style
        Passed to :class:`matplotlib.patches.Ellipse` (default: no fill, black edge).

    Returns
    -------
    matplotlib.patches.Ellipse

    Examples
    --------
    >>> e = covariance_ellipse((0, 0), np.diag([0.25, 4.0]))
    >>> float(e.width), float(e.height), float(e.angle) % 180
    (4.0, 1.0, 90.0)
    """
    covariance = np.asarray(covariance, dtype=float)
    if covariance.shape != (2, 2):
        raise ValueError(f"covariance must have shape (2, 2), got {covariance.shape}; "
                         "take the block of the two plotted coordinates.")
    if not np.all(np.isfinite(covariance)) or not np.allclose(covariance, covariance.T, atol=1e-12,
                                                              rtol=1e-6):
        raise ValueError("covariance must be finite and symmetric.")
    if not n_std > 0:
        raise ValueError(f"n_std must be positive, got {n_std}.")
    variances, vectors = np.linalg.eigh(covariance)
    scale = max(float(np.abs(variances).max()), 1e-300)
    if variances[0] < -1e-9 * scale:
        raise ValueError(f"covariance must be positive semi-definite; eigenvalues {variances}.")
    widths = 2.0 * n_std * np.sqrt(np.clip(variances[::-1], 0.0, None))
    angle = np.degrees(np.arctan2(vectors[1, 1], vectors[0, 1]))
    style = {"facecolor": "none", "edgecolor": "k", "linewidth": 1.0, **style}
    return Ellipse(tuple(np.asarray(centre, dtype=float)[:2]), float(widths[0]), float(widths[1]),
                   angle=float(angle), **style)


def draw_decoded_grid(ax: Any, model: VAE, order: Sequence[int] | None = None,
                      low: float | Sequence[float] = -2.0, high: float | Sequence[float] = 2.0,
                      n_levels: int = 5, n_points: int = 81,
                      colors: Sequence[str] = LATENT_COLORS) -> list:
    """The decoder's image of latent grid lines: the decoded manifold, one colour per direction.

    For each latent direction ``k`` (in ``order``), ``n_levels`` lines along which :math:`z_k`
    runs from ``low[k]`` to ``high[k]`` while every other direction :math:`j` sits at one of
    ``n_levels`` values evenly spaced in ``[low[j], high[j]]``. The first two output coordinates
    are drawn.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    model : VAE
        A vector model (posterior of ``K`` directions, outputs ``(N, n)`` with ``n >= 2``).
    order : sequence of int, optional
        Latent directions to draw, in the order of their colours (default: all, ``0..K-1``).
    low, high : float or (K,) array_like
        Range of each latent direction (default -2 to 2: the prior's two standard deviations).
    n_levels, n_points : int
        Lines per direction and points per line.
    colors : sequence of str
        One colour per entry of ``order``.

    Returns
    -------
    list of matplotlib.lines.Line2D
        ``n_levels`` lines per direction, direction by direction.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> len(draw_decoded_grid(ax, make_mlp_vae(2, 2, hidden=(8,), seed=0)))
    10
    """
    latent_dim = _latent_dim(model)
    order = list(range(latent_dim)) if order is None else [int(k) for k in order]
    if any(not 0 <= k < latent_dim for k in order):
        raise ValueError(f"order must hold latent directions in [0, {latent_dim}), got {order}.")
    if len(colors) < len(order):
        raise ValueError(f"colors has {len(colors)} entries for {len(order)} directions.")
    low = np.broadcast_to(np.asarray(low, dtype=float), (latent_dim,))
    high = np.broadcast_to(np.asarray(high, dtype=float), (latent_dim,))
    if np.any(high <= low):
        raise ValueError("high must be above low in every latent direction.")
    if n_levels < 1 or n_points < 2:
        raise ValueError("n_levels must be at least 1 and n_points at least 2.")
    dtype = next(model.parameters()).dtype
    lines = []
    for rank, k in enumerate(order):
        for level in range(n_levels):
            z = np.empty((n_points, latent_dim))
            for j in range(latent_dim):
                z[:, j] = np.linspace(low[j], high[j], n_levels)[level] if n_levels > 1 else \
                    0.5 * (low[j] + high[j])
            z[:, k] = np.linspace(low[k], high[k], n_points)
            with torch.no_grad():
                curve = model.decode(torch.as_tensor(z, dtype=dtype)).cpu().numpy()
            label = f"$z_{rank + 1}$ varies" if level == n_levels // 2 else None
            lines += ax.plot(curve[:, 0], curve[:, 1], color=colors[rank], linewidth=1.0,
                             label=label)
    return lines


def _latent_dim(model: VAE) -> int:
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a jetgeom_lite.vae.VAE, got {type(model).__name__}.")
    dim = getattr(model.encoder, "latent_dim", None)
    if dim is None:
        raise ValueError("cannot tell the number of latent directions: the encoder has no "
                         "latent_dim attribute (use make_mlp_vae models).")
    return int(dim)


def draw_posterior_ellipses(ax: Any, model: VAE, points: np.ndarray, n_std: float = 1.0,
                            link: bool = True) -> list:
    """Posterior ellipses of ``points`` in data space, each joined to its point by a thin line.

    The ellipse of a point ``x`` is :math:`J\\,\\mathrm{diag}(\\sigma^2)\\,J^T` around
    :math:`\\hat x(\\mu(x))` (first order, :func:`jetgeom_lite.vae.decoded_posterior_covariance`),
    drawn by :func:`covariance_ellipse`: the reconstructions ``n_std`` posterior standard
    deviations reach.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    model : VAE
        A stochastic vector model with ``n = 2`` outputs.
    points : (N, 2) array_like
        Data points, in the data's unit.
    n_std : float
    link : bool
        Draw the line from each data point to its ellipse's centre.

    Returns
    -------
    list of matplotlib.patches.Ellipse
        One per point, in order.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> len(draw_posterior_ellipses(ax, make_mlp_vae(2, 2, hidden=(8,), seed=0), np.zeros((3, 2))))
    3
    """
    points = np.asarray(points, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must have shape (N, 2), got {points.shape}.")
    centres, covariances = decoded_posterior_covariance(model, points)
    ellipses = []
    for point, centre, covariance in zip(points, centres, covariances):
        # symmetrise: float32 round-off in J diag(sigma^2) J^T
        ellipses.append(ax.add_patch(covariance_ellipse(centre, 0.5 * (covariance + covariance.T),
                                                        n_std)))
        if link:
            ax.plot(*np.stack([point, centre]).T, color="k", linewidth=0.5, alpha=0.6)
    return ellipses


def draw_state(ax: Any, model: VAE, points: np.ndarray, coordinate: np.ndarray,
               order: Sequence[int] | None = None, n_ellipses: int = 10, every: int = 1,
               xlim: tuple[float, float] = (-2.6, 2.6),
               ylim: tuple[float, float] = (-1.9, 0.9)) -> list:
    """One state of a 2-D toy VAE: data (grey), decoded manifold, posterior ellipses.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    model : VAE
        A stochastic model with ``n = 2`` inputs.
    points : (N, 2) array_like
        The data, in u.
    coordinate : (N,) array_like
        An intrinsic coordinate of each point (e.g. the position along the banana's arc); the
        ellipses are drawn for ``n_ellipses`` points evenly spread in its rank order.
    order : sequence of int, optional
        Latent directions in the order of their colours (most informative first).
    n_ellipses : int
    every : int
        Draw every ``every``-th data point (lighter pages).
    xlim, ylim : (float, float)
        Axis limits in u.

    Returns
    -------
    list
        The artists added: the data, the grid lines, the ellipses.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> x = np.random.default_rng(0).normal(size=(100, 2))
    >>> artists = draw_state(ax, make_mlp_vae(2, 2, hidden=(8,), seed=0), x, x[:, 0], n_ellipses=4)
    >>> ax.get_xlabel()
    '$x_1$ [u]'
    """
    points = np.asarray(points, dtype=float)
    coordinate = np.asarray(coordinate, dtype=float)
    if points.ndim != 2 or points.shape[1] != 2 or coordinate.shape != (len(points),):
        raise ValueError(f"points must be (N, 2) and coordinate (N,); got {points.shape} and "
                         f"{coordinate.shape}.")
    if not 1 <= n_ellipses <= len(points):
        raise ValueError(f"n_ellipses must be between 1 and the number of points, got {n_ellipses}.")
    artists = [ax.scatter(*points[::every].T, s=2, color="0.75", rasterized=True)]
    artists += draw_decoded_grid(ax, model, order)
    margin = min(40, len(points) // 10)
    ranked = np.argsort(coordinate)[np.linspace(margin, len(points) - 1 - margin,
                                                n_ellipses).astype(int)]
    artists += draw_posterior_ellipses(ax, model, points[ranked])
    ax.set(xlabel="$x_1$ [u]", ylabel="$x_2$ [u]", aspect="equal", xlim=xlim, ylim=ylim)
    return artists


def draw_posterior_draws(ax: Any, draws: np.ndarray, beta: float, radius_in_beta: float = 2.0,
                         colors: Sequence[str] = LATENT_COLORS) -> list:
    """Decoded posterior draws of a few points, each cloud in its colour, with a circle of radius
    ``radius_in_beta * beta`` around the cloud's mean: the resolution statement at a glance.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    draws : (n_draws, P, 2) array_like
        From :func:`jetgeom_lite.vae.decoded_posterior_samples`, in u.
    beta : float
        The model's resolution, in u.
    radius_in_beta : float
        Circle radius in units of beta (2: a Gaussian smear of beta per direction puts 95% of
        the draws inside in one dimension, 86% in two).
    colors : sequence of str
        One per point.

    Returns
    -------
    list of matplotlib.patches.Circle
        One per point, in order.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> circles = draw_posterior_draws(Figure().add_subplot(), np.zeros((5, 2, 2)), beta=0.1)
    >>> float(circles[0].get_radius())
    0.2
    """
    from matplotlib.patches import Circle

    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 3 or draws.shape[2] != 2:
        raise ValueError(f"draws must have shape (n_draws, P, 2), got {draws.shape}.")
    if len(colors) < draws.shape[1]:
        raise ValueError(f"colors has {len(colors)} entries for {draws.shape[1]} points.")
    if not beta > 0 or not radius_in_beta > 0:
        raise ValueError("beta and radius_in_beta must be positive.")
    circles = []
    for j in range(draws.shape[1]):
        ax.scatter(*draws[:, j].T, s=4, color=colors[j], alpha=0.6)
        circles.append(ax.add_patch(Circle(tuple(draws[:, j].mean(axis=0)), radius_in_beta * beta,
                                           fill=False, color="k", linewidth=1)))
    return circles


def draw_kl_per_direction(ax: Any, betas: np.ndarray, kl_per_latent: np.ndarray,
                          scales: Sequence[float] | None = None, marker: str = "o-",
                          label: str = "KL$_{k}$", **style: Any) -> list:
    """KL of each latent direction along a sweep, with the linear model's price if ``scales``.

    The price of a Gaussian direction of scale :math:`s` is :math:`\\ln(s/\\beta)` nats for
    :math:`\\beta < s` and 0 above (dashed, same colour).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    betas : (m,) array_like
        Resolutions in u.
    kl_per_latent : (m, K) array_like
        Nats, columns in the order of their colours (most informative first).
    scales : sequence of float, optional
        One scale per column, in u.
    marker : str
        Matplotlib format of the measured curves.
    label : str
        Legend label, ``{k}`` replaced by the direction's rank (1, 2, ...).
    **style
        Passed to the measured curves.

    Returns
    -------
    list of matplotlib.lines.Line2D

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> len(draw_kl_per_direction(ax, [1.0, 0.1], [[0.0, 0.0], [2.3, 0.1]], scales=[1.0, 0.15]))
    4
    """
    betas = np.asarray(betas, dtype=float)
    kl_per_latent = np.asarray(kl_per_latent, dtype=float)
    if kl_per_latent.ndim != 2 or len(kl_per_latent) != len(betas):
        raise ValueError(f"kl_per_latent must be (len(betas), K); got {kl_per_latent.shape} for "
                         f"{len(betas)} betas.")
    if kl_per_latent.shape[1] > len(LATENT_COLORS):
        raise ValueError(f"at most {len(LATENT_COLORS)} directions can be coloured; pass the "
                         "leading columns only.")
    lines = []
    for rank in range(kl_per_latent.shape[1]):
        lines += ax.plot(betas, kl_per_latent[:, rank], marker, color=LATENT_COLORS[rank],
                         label=label.format(k=rank + 1), **style)
    if scales is not None:
        line = np.geomspace(betas.min(), betas.max(), 200)
        for rank, scale in enumerate(scales):
            lines += ax.plot(line, np.log(np.clip(scale / line, 1.0, None)), "--",
                             color=LATENT_COLORS[rank], linewidth=1,
                             label=f"$\\ln(s/\\beta)$, $s$ = {scale:g} u")
    format_log_axis(ax)
    ax.set(xlabel="$\\beta$ [u]", ylabel="KL per direction [nats]")
    return lines


def draw_sweep_frame(ax_data: Any, ax_kl: Any, sweep: BetaSweep, index: int, model: VAE,
                     points: np.ndarray, coordinate: np.ndarray, order: Sequence[int],
                     n_ellipses: int = 8, every: int = 2) -> None:
    """One frame of the banana sweep: the state at ``sweep.betas[index]`` and the KL curves.

    Clears both axes first, so it serves an animation or a slider.

    Parameters
    ----------
    ax_data, ax_kl : matplotlib.axes.Axes
    sweep : BetaSweep
    index : int
    model : VAE
        The state at ``index`` (:func:`load_state`).
    points, coordinate, order, n_ellipses, every
        As in :func:`draw_state`.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from jetgeom_lite.vae import beta_sweep
    >>> x = np.random.default_rng(0).normal(size=(64, 2))
    >>> sweep = beta_sweep(make_mlp_vae(2, 2, hidden=(8,), seed=0), x, [1.0, 0.5],
    ...                    steps_per_beta=2, steps_first_beta=2, progress=False, device="cpu")
    >>> fig = Figure(); ax_data, ax_kl = fig.subplots(1, 2)
    >>> draw_sweep_frame(ax_data, ax_kl, sweep, 1, load_state(sweep, 1, 2, 2, (8,)), x, x[:, 0],
    ...                  [0, 1])
    >>> ax_data.get_title()
    '$\\\\beta$ = 0.5 u'
    """
    ax_data.clear()
    ax_kl.clear()
    draw_state(ax_data, model, points, coordinate, order, n_ellipses=n_ellipses, every=every)
    ax_data.set_title(f"$\\beta$ = {sweep.betas[index]:.2g} u")
    draw_kl_per_direction(ax_kl, sweep.betas, sweep.kl_per_latent[:, list(order)], markersize=3)
    ax_kl.axvline(sweep.betas[index], color="k", linewidth=1)
    top = max(1.0, 1.1 * float(sweep.kl_per_latent.max()))
    ax_kl.set(ylim=(-0.05 * top, top))
    ax_kl.legend(loc="upper right")


def draw_information_price(ax: Any, ratio: np.ndarray | None = None) -> list:
    """Loss of one Gaussian direction of scale ``s`` in a linear VAE, off and on, against s/beta.

    Off: :math:`s^2/2\\beta^2` (the whole variance paid as distortion). On (only for
    :math:`\\beta < s`): :math:`\\tfrac12 + \\ln(s/\\beta)`, of which :math:`\\ln(s/\\beta)` is KL.
    The two meet at :math:`s = \\beta`, both :math:`\\tfrac12`.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    ratio : array_like, optional
        Values of :math:`s/\\beta` (default 0.3 to 10).

    Returns
    -------
    list of matplotlib.lines.Line2D
        ``[off, on]``.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> off, on = draw_information_price(Figure().add_subplot(), np.array([0.5, 1.0, 2.0]))
    >>> on.get_ydata().tolist() == [0.5, 0.5 + np.log(2.0)]
    True
    """
    ratio = np.geomspace(0.3, 10, 200) if ratio is None else np.asarray(ratio, dtype=float)
    if ratio.ndim != 1 or np.any(ratio <= 0):
        raise ValueError("ratio must be a 1-D array of positive values of s / beta.")
    on = ratio >= 1
    off_line, = ax.plot(ratio, ratio**2 / 2, color="0.3", label="off: $s^2/2\\beta^2$")
    on_line, = ax.plot(ratio[on], 0.5 + np.log(ratio[on]), color=LATENT_COLORS[0],
                       label="on: $\\frac{1}{2} + \\ln(s/\\beta)$ (of which KL $= \\ln(s/\\beta)$)")
    ax.axvline(1, color="0.6", linestyle=":")
    format_log_axis(ax, "x")
    format_log_axis(ax, "y")
    ax.set(xlabel="$s / \\beta$ (scale over resolution, no unit)",
           ylabel="loss of one direction [nats]")
    return [off_line, on_line]


def draw_dimension_measures(ax: Any, d1: Any, d2: Any,
                            bands: Sequence[tuple[float, float, float]] = ()) -> list:
    """:math:`D_1` (circles) and :math:`D_2` (squares) along a sweep, with bands of the truth.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    d1, d2 : DimensionEstimate
        From :func:`jetgeom_lite.dimension.dimension_from_information` and
        :func:`~jetgeom_lite.dimension.dimension_from_resolution` (``.beta`` in u).
    bands : sequence of (beta_low, beta_high, count)
        Grey bands at ``count`` between the two resolutions, where the truth is sharp.

    Returns
    -------
    list of matplotlib.lines.Line2D
        ``[D1, D2]``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from matplotlib.figure import Figure
    >>> d = SimpleNamespace(beta=np.array([1.0, 0.1]), dimension=np.array([0.0, 1.0]))
    >>> len(draw_dimension_measures(Figure().add_subplot(), d, d, [(0.05, 0.2, 1)]))
    2
    """
    for low, high, count in bands:
        if not 0 < low < high:
            raise ValueError(f"a band needs 0 < beta_low < beta_high, got ({low}, {high}).")
        ax.fill_between([low, high], count - 0.1, count + 0.1, color="0.85", linewidth=0)
    line_1, = ax.plot(d1.beta, d1.dimension, "o-", color=LATENT_COLORS[0],
                      label="$D_1$ (information)")
    line_2, = ax.plot(d2.beta, d2.dimension, "s--", color=LATENT_COLORS[1], markerfacecolor="none",
                      label="$D_2$ (resolution)")
    format_log_axis(ax)
    ax.set(xlabel="$\\beta$ [u]", ylabel="dimension (count of directions)")
    return [line_1, line_2]


def _figure_png(figure: Any, dpi: float) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def sweep_slider(betas: Sequence[float], make_figure: Callable[[int], Any], *,
                 description: str = "beta [u]", dpi: float = 80, value: int = 0):
    """A slider over the betas of a sweep that redraws a figure below itself (ipywidgets 7 and 8).

    Moving the slider calls ``make_figure(index)`` and puts the figure, as a PNG, into the
    slider's own :class:`ipywidgets.Output` by setting its ``outputs``: no output capture, no
    pyplot, so the figure lands in the slider's area with ipywidgets 7 (Colab) and 8 alike.

    Parameters
    ----------
    betas : sequence of float
        The sweep's resolutions, in the order of their indices.
    make_figure : callable
        ``make_figure(index) -> matplotlib.figure.Figure`` (build it with
        ``matplotlib.figure.Figure``, not pyplot, so nothing else shows it).
    description : str
        The slider's label.
    dpi : float
        Resolution of the PNG.
    value : int
        The index shown first.

    Returns
    -------
    ipywidgets.VBox
        ``children = (slider, output)``; display it.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> box = sweep_slider([1.0, 0.1], lambda index: Figure(figsize=(2, 1)))
    >>> box.children[1].outputs[0]["data"]["image/png"][:8]
    'iVBORw0K'
    """
    try:
        import ipywidgets as widgets
    except ImportError as error:  # optional: the book shows an animation instead
        raise ImportError("the slider needs ipywidgets: pip install ipywidgets") from error
    betas = np.asarray(betas, dtype=float)
    if betas.ndim != 1 or len(betas) == 0:
        raise ValueError("betas must be a non-empty 1-D sequence.")
    if not callable(make_figure):
        raise TypeError("make_figure must be a callable make_figure(index) -> Figure.")
    if not 0 <= value < len(betas):
        raise ValueError(f"value must be an index in [0, {len(betas)}), got {value}.")
    slider = widgets.SelectionSlider(options=[(f"{beta:.3g}", index)
                                              for index, beta in enumerate(betas)],
                                     value=value, description=description,
                                     continuous_update=False)
    output = widgets.Output()

    def redraw(change: Any = None) -> None:
        figure = make_figure(slider.value)
        png = base64.b64encode(_figure_png(figure, dpi)).decode("ascii")
        output.outputs = ({"output_type": "display_data", "metadata": {},
                           "data": {"image/png": png,
                                    "text/plain": f"<figure at beta = {betas[slider.value]:.3g}>"}},)

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, output])
