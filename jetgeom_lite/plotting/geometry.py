"""Latent-geometry figures of chapter 6: metric maps and HMC traces.

Functions draw into an ``Axes`` the caller made and return the artists they added.
"""

from __future__ import annotations

import numpy as np

__all__ = ["draw_log_volume_map", "draw_hmc_traces"]


def draw_log_volume_map(ax, metric, *, plane=(0, 1), fixed=None, extent=(-2.5, 2.5, -2.5, 2.5), n_grid: int = 200,
                        vmin: float | None = None, cmap: str = "magma", **style):
    r"""Map of :math:`\log\sqrt{\det G(z)}` on a plane of the latent space (others held at ``fixed``).

    Parameters
    ----------
    ax : matplotlib Axes
    metric : jetgeom_lite.geometry.LatentMetric
    plane : (int, int)
        The two metric directions on the x and y axes.
    fixed : array_like, shape (d,), optional
        Values of the other directions (default 0); ignored for d = 2.
    extent : (xmin, xmax, ymin, ymax)
        In latent units.
    n_grid : int
        Grid points per axis.
    vmin : float, optional
        Lower end of the colour scale (default: the 2nd percentile of the map).
    cmap : str
    **style
        Passed to ``ax.imshow``.

    Returns
    -------
    matplotlib.image.AxesImage
        Give it to ``fig.colorbar``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from jetgeom_lite.geometry import LatentMetric
    >>> metric = LatentMetric(np.array([[0.0, 1.0]]), np.array([[0.2, 0.4]]), 1.0, 1e-3, 0.5)
    >>> fig, ax = plt.subplots()
    >>> image = draw_log_volume_map(ax, metric, n_grid=20)
    >>> image.get_array().shape
    (20, 20)
    """
    i, j = plane
    d = metric.dim
    base = np.zeros(d) if fixed is None else np.asarray(fixed, dtype=float)
    if base.shape != (d,):
        raise ValueError(f"fixed must have shape ({d},); got {base.shape}")
    xs = np.linspace(extent[0], extent[1], n_grid)
    ys = np.linspace(extent[2], extent[3], n_grid)
    grid_x, grid_y = np.meshgrid(xs, ys)
    points = np.tile(base, (grid_x.size, 1))
    points[:, i], points[:, j] = grid_x.ravel(), grid_y.ravel()
    values = metric.log_volume(points).reshape(grid_x.shape)
    low = np.percentile(values, 2) if vmin is None else vmin
    image = ax.imshow(values, origin="lower", extent=extent, cmap=cmap, vmin=low, aspect="auto", **style)
    ax.set_xlabel(f"$z_{i}$ (metric direction {i})")
    ax.set_ylabel(f"$z_{j}$ (metric direction {j})")
    return image


def draw_hmc_traces(ax, samples, *, chains=(0, 1, 2, 3), direction: int = 0, **style):
    """Traces of a few chains in one latent direction: sample index on x, value on y.

    Parameters
    ----------
    ax : matplotlib Axes
    samples : array_like, shape (n_samples, n_chains, d)
        ``HMCResult.samples``.
    chains : sequence of int
    direction : int
    **style
        Passed to ``ax.plot``.

    Returns
    -------
    list of Line2D
    """
    samples = np.asarray(samples)
    lines = []
    for chain in chains:
        lines += ax.plot(samples[:, chain, direction], lw=0.8, label=f"chain {chain}", **style)
    ax.set_xlabel("kept HMC state (after burn-in)")
    ax.set_ylabel(f"$z_{direction}$ [latent units]")
    return lines
