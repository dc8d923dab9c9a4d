"""Classification figures of chapter 5: ROC curves and score histograms.

Scores are per jet, larger = more signal-like (top); labels 1 = signal, 0 = background. Labels
are read here only to draw how well a score made without them separates the classes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["draw_rejection_curve", "draw_score_histogram"]


def draw_rejection_curve(ax, score, labels, *, label: str, min_efficiency: float = 0.05, **style):
    """Background rejection ``1/eps_B`` against signal efficiency ``eps_S`` (log y axis).

    Parameters
    ----------
    ax : matplotlib Axes
    score, labels : array_like, shape (n,)
        As for :func:`jetgeom_lite.metrics.roc_curve`.
    label : str
        Legend entry (the AUC is a good thing to put in it).
    min_efficiency : float
        Points below this signal efficiency are not drawn (a handful of jets: noise).
    **style
        Passed to ``ax.plot``.

    Returns
    -------
    list of Line2D
    """
    from ..metrics import roc_curve

    curve = roc_curve(score, labels)
    keep = (curve.signal_efficiency >= min_efficiency) & (curve.background_efficiency > 0)
    lines = ax.plot(curve.signal_efficiency[keep], curve.background_rejection[keep], label=label, **style)
    ax.set_yscale("log")
    ax.set_xlabel(r"signal (top) efficiency $\varepsilon_S$")
    ax.set_ylabel(r"background (QCD) rejection $1/\varepsilon_B$")
    ax.set_xlim(0, 1)
    return lines


def draw_score_histogram(ax, score, labels, *, bins=40, names=("QCD", "top"), colors=None, xlabel: str = "score",
                         what: str = "jets"):
    """Histograms of a score per true class, each normalised to unit area.

    The legend names each class and counts its members (``what``: "jets", or "points" for a toy).

    Returns the list of patches objects ``ax.hist`` made (background first).
    """
    score = np.asarray(score, dtype=float)
    labels = np.asarray(labels)
    edges = np.histogram_bin_edges(score, bins=bins)
    colors = colors or ("tab:blue", "tab:red")
    artists = []
    for value, name, color in zip((0, 1), names, colors):
        artists.append(ax.hist(score[labels == value], bins=edges, density=True, histtype="stepfilled", alpha=0.35,
                               color=color, label=f"{name} ({int(np.sum(labels == value))} {what})")[2])
        ax.hist(score[labels == value], bins=edges, density=True, histtype="step", color=color, lw=1.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("density")
    return artists
