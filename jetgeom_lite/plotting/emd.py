"""Figures of the EMD metric space (chapter 2): transport plans, jet images, correlation
dimensions, error tails and the two-prong disk.

Jets are (pT [GeV], y, phi [rad]) rows as everywhere in the book. Functions draw into an ``Axes``
the caller made and return the artists they added; they never create figures or change global
state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .jets import _OTHER_COLORS, PROCESS_COLORS, PROCESS_LABELS, format_log_axis

__all__ = [
    "transport_lines",
    "jet_image_panel",
    "dimension_curves",
    "error_survival",
    "two_prong_disk",
]


def transport_lines(ax: Any, particles_a: np.ndarray, particles_b: np.ndarray, flow: np.ndarray, *,
                    max_width: float = 16.0, smallest: float = 0.002, color: str = "0.15") -> Any:
    """Draw an optimal-transport plan between two jets as lines of width proportional to the flow.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    particles_a, particles_b : ndarray, shapes (M, 3) and (M', 3)
        Rows ``(pT, y, phi [rad])`` of the two jets, in the coordinates the displays use
        (centred jets need no phi wrapping).
    flow : ndarray, shape (M, M')
        ``f_ij``, the pT moved from particle i of the first jet to particle j of the second
        (``emd(..., return_plan=True)``).
    max_width : float
        Line width (points) of the largest flow.
    smallest : float
        Flows below this fraction of the total are not drawn.
    color : str

    Returns
    -------
    matplotlib.collections.LineCollection
        Labelled for a legend.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> a = np.array([[0.5, 0.0, 0.0], [0.5, 0.2, 0.0]]); b = np.array([[1.0, 0.1, 0.1]])
    >>> len(transport_lines(ax, a, b, np.array([[0.5], [0.5]])).get_segments())
    2
    """
    from matplotlib.collections import LineCollection

    particles_a, particles_b = np.asarray(particles_a, float), np.asarray(particles_b, float)
    flow = np.asarray(flow, dtype=np.float64)
    if particles_a.ndim != 2 or particles_b.ndim != 2 or particles_a.shape[1] != 3 or particles_b.shape[1] != 3:
        raise ValueError("particles_a and particles_b must have shape (M, 3), rows (pT, y, phi)")
    if flow.shape != (len(particles_a), len(particles_b)):
        raise ValueError(f"flow must have shape (len(particles_a), len(particles_b)) = "
                         f"{(len(particles_a), len(particles_b))}; got {flow.shape}")
    if not np.all(np.isfinite(flow)) or np.any(flow < 0) or flow.sum() <= 0:
        raise ValueError("flow must be finite, non-negative and not all zero")
    rows, cols = np.nonzero(flow > smallest * flow.sum())
    ends = np.stack([particles_a[rows, 1:], particles_b[cols, 1:]], axis=1)  # (lines, 2, 2)
    widths = np.maximum(max_width * flow[rows, cols] / flow.max(), 0.7)
    lines = LineCollection(ends, linewidths=widths, colors=color, alpha=0.5, zorder=2.5, capstyle="round",
                           label="flow $f_{ij}$ (width $\\propto$ $p_T$ moved)")
    ax.add_collection(lines)
    return lines


def jet_image_panel(ax: Any, image: np.ndarray, edges: np.ndarray, *, vmin: float = 0.01,
                    vmax: float = 1.0) -> Any:
    """Show a jet image (pT fraction per pixel) on a logarithmic grey scale with its pixel grid.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    image : ndarray, shape (n_y, n_phi)
        pT fraction per pixel, indexed ``[y, phi]`` (``numpy.histogram2d`` of y and phi).
    edges : ndarray, shape (n + 1,)
        Pixel edges in radians, the same for y and phi.
    vmin, vmax : float
        Range of the colour scale (fractions of the jet pT); empty pixels stay white.

    Returns
    -------
    matplotlib.collections.QuadMesh
        Pass it to ``fig.colorbar`` for a colour bar.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> image = np.zeros((4, 4)); image[1, 2] = 1.0
    >>> mesh = jet_image_panel(ax, image, np.linspace(-0.2, 0.2, 5))
    >>> float(mesh.norm.vmax)
    1.0
    """
    from matplotlib.colors import LogNorm

    image, edges = np.asarray(image, dtype=np.float64), np.asarray(edges, dtype=np.float64)
    if image.ndim != 2 or image.shape != (len(edges) - 1, len(edges) - 1):
        raise ValueError(f"image must have shape (len(edges) - 1, len(edges) - 1) = "
                         f"{(len(edges) - 1, len(edges) - 1)}; got {image.shape}")
    if not 0 < vmin < vmax:
        raise ValueError(f"need 0 < vmin < vmax for a logarithmic scale; got vmin={vmin}, vmax={vmax}")
    shown = np.ma.masked_equal(image.T, 0)  # rows of the mesh are phi: y runs along x
    mesh = ax.pcolormesh(edges, edges, shown, cmap="Greys", norm=LogNorm(vmin=vmin, vmax=vmax))
    ax.set_xticks(edges, minor=True)
    ax.set_yticks(edges, minor=True)
    ax.grid(which="minor", color="0.88", linewidth=0.5)
    ax.set(aspect="equal", xlabel="rapidity $y$", ylabel=r"azimuth $\phi$ [rad]")
    return mesh


def dimension_curves(ax: Any, results: Mapping[str, Any], *, colors: Mapping[str, str] | None = None,
                     linestyles: Mapping[str, str] | None = None, band_alpha: float = 0.25,
                     pt_reference: float | None = None) -> dict[str, Any]:
    """Plot correlation dimensions against the distance scale Q, with their bootstrap bands.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    results : mapping of label to CorrelationDimension
        From :func:`jetgeom_lite.emd.correlation_dimension` with Q in GeV; labels that are
        process names get the book's colours and names.
    colors, linestyles : mapping of label to colour / line style, optional
    band_alpha : float
        Opacity of the bands (0 for none).
    pt_reference : float, optional
        A jet pT in GeV: adds a top axis with ``Q / pT`` (the normalised EMD).

    Returns
    -------
    dict of label to Line2D

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from types import SimpleNamespace
    >>> fig, ax = plt.subplots()
    >>> toy = SimpleNamespace(Q=np.array([10.0, 20.0]), dimension=np.array([2.0, 1.5]),
    ...                       lower=np.array([1.8, 1.4]), upper=np.array([2.2, 1.6]))
    >>> sorted(dimension_curves(ax, {"W": toy}))
    ['W']
    """
    if not isinstance(results, Mapping) or len(results) == 0:
        raise ValueError("results must be a non-empty mapping of label to CorrelationDimension")
    colors, linestyles = dict(colors or {}), dict(linestyles or {})
    others = iter(_OTHER_COLORS * (len(results) // len(_OTHER_COLORS) + 1))
    lines: dict[str, Any] = {}
    for label, result in results.items():
        for name in ("Q", "dimension", "lower", "upper"):
            if not hasattr(result, name):
                raise TypeError(f"results[{label!r}] has no attribute {name!r}; pass correlation_dimension(...)")
        color = colors.get(label) or PROCESS_COLORS.get(label) or next(others)
        if band_alpha > 0:
            ax.fill_between(result.Q, result.lower, result.upper, color=color, alpha=band_alpha, linewidth=0)
        (lines[label],) = ax.plot(result.Q, result.dimension, color=color, linewidth=2,
                                  linestyle=linestyles.get(label, "-"), label=PROCESS_LABELS.get(label, label))
    format_log_axis(ax, "x")
    ax.set(xlabel="distance scale $Q$ (EMD) [GeV]", ylabel=r"correlation dimension $\dim(Q)$")
    if pt_reference is not None:
        if not (np.isfinite(pt_reference) and pt_reference > 0):
            raise ValueError(f"pt_reference must be a positive pT in GeV; got {pt_reference!r}")
        top = ax.secondary_xaxis("top", functions=(lambda q: q / pt_reference, lambda x: x * pt_reference))
        top.set_xlabel(f"$Q / p_T^J$ (at $p_T^J$ = {pt_reference:.0f} GeV)")
    return lines


def error_survival(ax: Any, errors: Mapping[str, np.ndarray], *, colors: Mapping[str, str] | None = None,
                   floor: float = 1e-5) -> dict[str, Any]:
    """For each set of relative errors, the fraction of cases whose error exceeds x (log-log).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    errors : mapping of label to 1-D array
        Absolute relative errors, e.g. ``abs(approximate / exact - 1)``.
    colors : mapping of label to colour, optional
    floor : float
        Errors below this are drawn at it (a log axis has no zero).

    Returns
    -------
    dict of label to Line2D

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> line = error_survival(ax, {"eps = 0.1": np.array([0.01, 0.02, 0.04, 0.08])})["eps = 0.1"]
    >>> [float(v) for v in line.get_ydata()]
    [1.0, 0.75, 0.5, 0.25]
    """
    if not isinstance(errors, Mapping) or len(errors) == 0:
        raise ValueError("errors must be a non-empty mapping of label to a 1-D array of relative errors")
    colors = dict(colors or {})
    others = iter(_OTHER_COLORS * (len(errors) // len(_OTHER_COLORS) + 1))
    lines: dict[str, Any] = {}
    smallest = 1.0
    for label, values in errors.items():
        values = np.sort(np.abs(np.asarray(values, dtype=np.float64)))
        if values.ndim != 1 or len(values) == 0 or not np.all(np.isfinite(values)):
            raise ValueError(f"errors[{label!r}] must be a non-empty 1-D array of finite numbers")
        above = 1 - np.arange(len(values)) / len(values)  # share of cases with an error >= this one
        smallest = min(smallest, above[-1])
        (lines[label],) = ax.plot(np.maximum(values, floor), above, color=colors.get(label) or next(others),
                                  label=label)
    ax.set(xscale="log", yscale="log", ylim=(smallest, 1.05), xlabel="relative error |approximate / exact - 1|",
           ylabel="fraction of pairs with a larger error")
    return lines


def two_prong_disk(ax: Any, balance: np.ndarray, angle: np.ndarray, values: np.ndarray | None = None, *,
                   cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None,
                   size: float = 10.0) -> Any:
    """Place two-prong jets on the disk of momentum sharing b (radius) and orientation psi (angle).

    A jet whose softer prong carries a share ``b`` of the pT, in direction ``psi`` from the
    harder prong, sits at ``(b cos psi, b sin psi)``. The centre is a one-prong jet (no
    direction), the rim ``b = 1/2`` a symmetric decay, where ``psi`` and ``psi + pi`` are the
    same jet: opposite rim points are one point of the space (a projective plane).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    balance : ndarray, shape (n,)
        ``b`` in [0, 0.5] (``two_prongs(jets).pt_balance``).
    angle : ndarray, shape (n,)
        ``psi`` in radians (``two_prongs(jets).axis_angle``).
    values : ndarray, shape (n,), optional
        Colour of each jet (e.g. its EMD to a reference jet, in GeV); default one colour.
    cmap : str
    vmin, vmax : float, optional
        Colour range.
    size : float
        Marker area (points squared).

    Returns
    -------
    matplotlib.collections.PathCollection
        Pass it to ``fig.colorbar`` when ``values`` are given.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> points = two_prong_disk(ax, np.array([0.5, 0.25]), np.array([0.0, np.pi / 2]))
    >>> np.round(points.get_offsets(), 2).tolist()
    [[0.5, 0.0], [0.0, 0.25]]
    """
    balance, angle = np.asarray(balance, dtype=np.float64), np.asarray(angle, dtype=np.float64)
    if balance.ndim != 1 or balance.shape != angle.shape:
        raise ValueError(f"balance and angle must be 1-D arrays of the same length; got {balance.shape} "
                         f"and {angle.shape}")
    if not (np.all(np.isfinite(balance)) and np.all(np.isfinite(angle))):
        raise ValueError("balance and angle must be finite")
    if np.any(balance < 0) or np.any(balance > 0.5 + 1e-12):
        raise ValueError("balance must lie in [0, 0.5]: the softer prong's share of the pT")
    from matplotlib.patches import Circle

    ax.add_patch(Circle((0, 0), 0.5, fill=False, color="0.5", linewidth=1, linestyle="--"))
    kwargs: dict[str, Any] = {"s": size}
    if values is None:
        kwargs["color"] = PROCESS_COLORS["W"]
    else:
        values = np.asarray(values, dtype=np.float64)
        if values.shape != balance.shape:
            raise ValueError(f"values must have one number per jet, shape {balance.shape}; got {values.shape}")
        kwargs.update(c=values, cmap=cmap, vmin=vmin, vmax=vmax)
    points = ax.scatter(balance * np.cos(angle), balance * np.sin(angle), **kwargs)
    ax.set(aspect="equal", xlim=(-0.55, 0.55), ylim=(-0.55, 0.55),
           xlabel=r"$b \cos\psi$", ylabel=r"$b \sin\psi$")
    return points
