"""Figures every chapter shares: event displays, histogram comparisons, one colour per process.

Jets are drawn in the (y, phi) plane with marker *area* proportional to pT, so the eye weighs
particles the way the Earth Mover's Distance does. Each process keeps one colour across the
book (:data:`PROCESS_COLORS`, from the Okabe-Ito palette, readable with colour-blindness), and
:data:`BOOK_STYLE` sets readable font sizes::

    import matplotlib.pyplot as plt
    from jetgeom_lite.plotting import BOOK_STYLE, event_display
    plt.style.use(BOOK_STYLE)
    fig, ax = plt.subplots()
    event_display(ax, jets[0])          # one jet from load_jets(...)

Functions draw into an ``Axes`` the caller made and return the artists they added; they never
create figures or change global state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from types import MappingProxyType
from typing import Any

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .._jets import _wrap_phi
from ..data import Jets

__all__ = [
    "BOOK_STYLE",
    "PROCESS_COLORS",
    "PROCESS_LABELS",
    "process_color",
    "format_log_axis",
    "event_display",
    "compare_histograms",
    "mark_values",
    "SettingsTable",
    "settings_table",
]

#: One colour per process for the whole book (Okabe-Ito: blue, vermillion, bluish green).
PROCESS_COLORS: Mapping[str, str] = MappingProxyType({"W": "#0072B2", "top": "#D55E00", "QCD": "#009E73"})

#: How legends and titles name each process.
PROCESS_LABELS: Mapping[str, str] = MappingProxyType({"W": "W jets", "top": "top jets", "QCD": "QCD jets"})

# Colours for labels that are not processes, after the three process colours (Okabe-Ito).
_OTHER_COLORS = ("#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")

#: Matplotlib settings for the book's figures: ``plt.style.use(BOOK_STYLE)``.
BOOK_STYLE: Mapping[str, Any] = MappingProxyType({
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "figure.constrained_layout.use": True,
    # sized for figures about 9 inches wide, which the rendered book shrinks to its text width
    "font.size": 12,
    "axes.titlesize": 12,
    "axes.labelsize": 13,
    "xtick.labelsize": 11,
    "ytick.labelsize": 11,
    "legend.fontsize": 11,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
})


def process_color(process: str) -> str:
    """The book's colour for a process.

    Parameters
    ----------
    process : {"W", "top", "QCD"}

    Returns
    -------
    str
        A hex colour string.

    Examples
    --------
    >>> process_color("W")
    '#0072B2'
    """
    if process not in PROCESS_COLORS:
        raise ValueError(f"no book colour for process {process!r}; choose one of {list(PROCESS_COLORS)} "
                         f"or pass a matplotlib colour yourself")
    return PROCESS_COLORS[process]


def _plain_number(value: float, _position: Any = None) -> str:
    return f"{value:g}"


def format_log_axis(ax: Any, axis: str = "x") -> None:
    """Put ``axis`` of ``ax`` on a log scale with tick labels as plain numbers (0.01, 0.1, 1).

    The book quotes numbers as "0.01 u" or "100 GeV", not as powers of ten: the ticks say the same.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    axis : {"x", "y"}

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> ax = Figure().add_subplot()
    >>> ax.plot([0.01, 1.0], [0, 1]); format_log_axis(ax)  # doctest: +ELLIPSIS
    [...]
    >>> ax.xaxis.get_major_formatter()(0.01)
    '0.01'
    """
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}.")
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_major_locator(LogLocator(base=10.0))
    target.set_major_formatter(FuncFormatter(_plain_number))
    target.set_minor_formatter(NullFormatter())


def _one_jet(particles: np.ndarray | Jets, mask: np.ndarray | None, centre: tuple[float, float] | None,
             R: float | None) -> tuple[np.ndarray, tuple[float, float] | None, float, bool]:
    """Unpadded ``(M, 3)`` particles, the centre to draw (or None), the radius of one jet, and
    whether the centre is a centroid rather than the jet axis."""
    is_centroid = False
    if isinstance(particles, Jets):
        if len(particles) != 1:
            raise ValueError(f"event_display draws one jet; got a Jets of {len(particles)} jets. "
                             f"Select one, e.g. jets[0].")
        if mask is not None:
            raise ValueError("a Jets carries its own mask; do not pass mask with it")
        jet = particles
        particles, mask = jet.particles[0], jet.mask[0]
        if centre is None:
            # preprocess(center=True) moved the centroid to (0, 0); raw jets carry their axis
            centred = bool(jet.settings.get("preprocessing", {}).get("center"))
            centre = (0.0, 0.0) if centred else (float(jet.y[0]), float(jet.phi[0]))
            is_centroid = centred
        if R is None:
            R = float(jet.settings.get("R", 0.8))
    particles = np.asarray(particles, dtype=np.float64)
    if particles.ndim != 2 or particles.shape[1] != 3:
        raise ValueError(f"particles of one jet must have shape (M, 3) with rows (pT, y, phi); got {particles.shape}. "
                         f"For a batch, pass one jet: particles[k], mask[k].")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != particles.shape[:1]:
            raise ValueError(f"mask must be a boolean array of shape ({particles.shape[0]},); "
                             f"got dtype {mask.dtype} and shape {mask.shape}")
        particles = particles[mask]
    if len(particles) == 0:
        raise ValueError("the jet has no particles to draw (empty jet or all-False mask)")
    if not np.all(np.isfinite(particles)):
        raise ValueError("particles contain NaN or inf; clean the jet before drawing it")
    if np.any(particles[:, 0] < 0):
        raise ValueError("particles have negative pT; rows must be (pT, y, phi) with pT >= 0")
    if particles[:, 0].sum() <= 0:
        raise ValueError("the jet's pT sum is zero; marker areas proportional to pT would all vanish")
    R = 0.8 if R is None else R
    if not (isinstance(R, (int, float, np.floating)) and math.isfinite(R) and R > 0):
        raise ValueError(f"R must be a positive jet radius in radians; got {R!r}")
    return particles, centre, float(R), is_centroid or centre is None


def event_display(ax: Any, particles: np.ndarray | Jets, mask: np.ndarray | None = None, *, R: float | None = None,
                  centre: tuple[float, float] | None = None, color: str | None = None, label: str | None = None,
                  total_area: float = 2000.0, show_axis: bool = True, show_circle: bool = True) -> Any:
    """Draw one jet in the (y, phi) plane with marker area proportional to pT.

    The marker of particle i has area ``total_area * pT_i / sum_j pT_j`` (points squared), so a
    jet's total ink does not depend on whether pT is in GeV or normalised. Angles are drawn
    relative to ``centre`` with phi wrapped, so a jet near phi = +-pi is not cut in two.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    particles : ndarray of shape (M, 3), or a Jets holding one jet
        Rows ``(pT [GeV or fraction], y, phi [rad])``. A ``Jets`` of length one (``jets[k]``)
        brings its mask, its radius and its axis.
    mask : ndarray of bool, shape (M,), optional
        True for real particles (padding rows are False).
    R : float, optional
        Jet radius in radians for the circle; a ``Jets`` supplies its own, else 0.8.
    centre : (float, float), optional
        ``(y, phi)`` of the jet axis, marked with a cross and the centre of the circle. Default:
        the jet's axis for a raw ``Jets``, (0, 0) for a centred one, else the pT-weighted
        centroid of the particles.
    color : str, optional
        Marker colour; default the book's colour of the jet's process, else black.
    label : str, optional
        Legend label of the particles; with it the cross gets a legend entry too ("jet axis", or
        "pT-weighted centroid" when that is what the centre is).
    total_area : float
        Sum of all marker areas, points squared.
    show_axis, show_circle : bool
        Mark the centre with a cross; draw the circle of radius R around it.

    Returns
    -------
    matplotlib.collections.PathCollection
        The particles' markers.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> jet = np.array([[300.0, 0.1, 1.0], [200.0, -0.2, 1.3], [5.0, 0.4, 0.7]])
    >>> markers = event_display(ax, jet, label="a toy jet")
    >>> [round(float(a)) for a in markers.get_sizes()]
    [1188, 792, 20]
    """
    process = particles.process if isinstance(particles, Jets) else None
    particles, centre, R, is_centroid = _one_jet(particles, mask, centre, R)
    if not (math.isfinite(total_area) and total_area > 0):
        raise ValueError(f"total_area must be a positive number of points squared; got {total_area!r}")
    pt, y, phi = particles[:, 0], particles[:, 1], particles[:, 2]
    if centre is None:
        # centroid with phi measured from the hardest particle, so wrapping cannot pull it apart
        reference = phi[np.argmax(pt)]
        centre = (float(np.average(y, weights=pt)),
                  float(_wrap_phi(reference + np.average(_wrap_phi(phi - reference), weights=pt))))
    centre_y, centre_phi = (float(c) for c in centre)
    if not (math.isfinite(centre_y) and math.isfinite(centre_phi)):
        raise ValueError(f"centre must be two finite numbers (y, phi); got {centre!r}")
    phi_drawn = centre_phi + _wrap_phi(phi - centre_phi)
    if color is None:
        color = PROCESS_COLORS.get(process, "black") if process is not None else "black"
    order = np.argsort(-pt, kind="stable")  # hard particles first, so soft ones stay visible on top
    markers = ax.scatter(y[order], phi_drawn[order], s=total_area * pt[order] / pt.sum(), c=color, alpha=0.55,
                         edgecolors="white", linewidths=0.4, label=label, zorder=2)
    if show_circle:
        from matplotlib.patches import Circle

        ax.add_patch(Circle((centre_y, centre_phi), R, fill=False, linestyle="--", linewidth=1.0, color="0.5",
                            zorder=1))
    if show_axis:
        ax.plot([centre_y], [centre_phi], marker="+", markersize=12, markeredgewidth=1.8, color="black",
                linestyle="none", zorder=3,
                label=None if label is None else ("$p_T$-weighted centroid" if is_centroid else "jet axis"))
    margin = 1.15 * R
    ax.set_xlim(centre_y - margin, centre_y + margin)
    ax.set_ylim(centre_phi - margin, centre_phi + margin)
    ax.set_aspect("equal")
    ax.set_xlabel("rapidity $y$")
    ax.set_ylabel(r"azimuth $\phi$ [rad]")
    return markers


def _check_bins(bins: int | np.ndarray) -> int | np.ndarray:
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        if bins < 1:
            raise ValueError(f"bins must be a positive number of bins or increasing bin edges; got {bins}")
        return int(bins)
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError("bins must be a positive number of bins or a 1-D array of at least two increasing, "
                         "finite bin edges")
    return edges


def compare_histograms(ax: Any, samples: Mapping[str, np.ndarray], bins: int | np.ndarray, xlabel: str, *,
                       normalize: bool = True, colors: Mapping[str, str] | None = None,
                       linestyles: Mapping[str, str] | None = None, ylabel: str | None = None,
                       linewidth: float = 2.0, legend: bool = True, legend_loc: str = "best") -> dict[str, Any]:
    """Overlay step histograms of one quantity for several samples.

    With ``normalize=True`` each histogram shows the fraction of that sample's jets per bin
    (weights 1/n), so samples of different sizes compare directly and jets outside the bins
    still count in n.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    samples : mapping of label to 1-D array
        Values per sample, e.g. ``{"W": w.mass, "top": top.mass}`` in the unit of ``xlabel``.
        Labels that are process names get the book's process colour and name.
    bins : int or 1-D array
        Number of bins, or increasing bin edges (same unit as the values).
    xlabel : str
        Axis label with the unit, e.g. ``"jet mass $m_J$ [GeV]"``.
    normalize : bool
        Fraction of jets per bin (True) or counts (False).
    colors : mapping of label to colour, optional
        Overrides the default colours.
    linestyles : mapping of label to matplotlib line style, optional
        E.g. ``{"micro-jets": "--"}``; default solid.
    ylabel : str, optional
        Default ``"fraction of jets per bin"`` or ``"jets per bin"``.
    linewidth : float
    legend : bool
        Add a legend.
    legend_loc : str
        A matplotlib legend location, or ``"above"``: one row above the axes, off the data.

    Returns
    -------
    dict of label to list of matplotlib patches
        The histogram artists, one entry per sample.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> drawn = compare_histograms(ax, {"W": [80.0, 82.0, 79.0], "QCD": [40.0, 90.0]},
    ...                            np.linspace(0, 200, 21), "jet mass $m_J$ [GeV]")
    >>> sorted(drawn)
    ['QCD', 'W']
    """
    if not isinstance(samples, Mapping):
        raise TypeError(f"samples must be a mapping of label to values, e.g. {{'W': w.mass}}; "
                        f"got {type(samples).__name__}")
    if len(samples) == 0:
        raise ValueError("samples is empty: pass at least one {label: values}")
    if not isinstance(xlabel, str) or not xlabel:
        raise ValueError("xlabel must be a non-empty string naming the quantity and its unit")
    bins = _check_bins(bins)
    from matplotlib.lines import Line2D

    colors, linestyles = dict(colors or {}), dict(linestyles or {})
    handles: list[Any] = []
    others = iter(_OTHER_COLORS * (len(samples) // len(_OTHER_COLORS) + 1))
    drawn: dict[str, Any] = {}
    for label, values in samples.items():
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1:
            raise ValueError(f"values of {label!r} must be 1-D, one number per jet; got shape {values.shape}")
        if len(values) == 0:
            raise ValueError(f"sample {label!r} is empty")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"sample {label!r} contains NaN or inf; remove or fix those jets first")
        color = colors.get(label) or PROCESS_COLORS.get(label) or next(others)
        linestyle = linestyles.get(label, "-")
        weights = np.full(len(values), 1.0 / len(values)) if normalize else None
        _, _, patches = ax.hist(values, bins=bins, weights=weights, histtype="step", linewidth=linewidth,
                                color=color, linestyle=linestyle)
        drawn[label] = list(patches)
        # a line, not the outline of a box, is what a step histogram looks like in the legend
        handles.append(Line2D([], [], color=color, linestyle=linestyle, linewidth=linewidth,
                              label=PROCESS_LABELS.get(label, str(label))))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel if ylabel is not None else ("fraction of jets per bin" if normalize else "jets per bin"))
    if legend:
        _legend(ax, handles, legend_loc)
    return drawn


def _legend(ax: Any, handles: list[Any], where: str) -> Any:
    if where == "above":  # one row just above the axes: never on the data
        return ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(handles),
                         borderaxespad=0.2, handlelength=1.5, columnspacing=1.0)
    return ax.legend(handles=handles, loc=where)


def mark_values(ax: Any, positions: Mapping[str, float], *, colors: Mapping[str, str] | None = None,
                height: float = 0.98) -> list[Any]:
    """Mark reference values on the x axis with dotted vertical lines, each named at its top.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    positions : mapping of text to x value
        E.g. ``{"$m_W$": 80.4, "$m_t$": 172.7}`` in the unit of the x axis.
    colors : mapping of text to colour, optional
        Default dark grey.
    height : float
        Height of the text, as a fraction of the axes (0 bottom, 1 top).

    Returns
    -------
    list
        The lines and texts added.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(); ax.set_xlim(0, 300)
    (0.0, 300.0)
    >>> len(mark_values(ax, {"$m_W$": 80.4}))
    2
    """
    if not isinstance(positions, Mapping) or len(positions) == 0:
        raise ValueError("positions must be a non-empty mapping of text to x value, e.g. {'$m_W$': 80.4}")
    colors = dict(colors or {})
    added: list[Any] = []
    span = np.diff(ax.get_xlim())[0]
    for text, x in positions.items():
        x = float(x)
        if not np.isfinite(x):
            raise ValueError(f"position of {text!r} must be a finite number; got {x}")
        color = colors.get(text, "0.3")
        added.append(ax.axvline(x, color=color, linestyle=":", linewidth=1.2))
        added.append(ax.text(x + 0.01 * span, height, text, color=color, va="top",
                             transform=ax.get_xaxis_transform()))
    return added


def _pythia_value(lines: list[str], key: str) -> str | None:
    for line in lines:
        name, _, value = line.partition("=")
        if name.strip() == key:
            return value.strip()
    return None


@dataclass(frozen=True, repr=False)
class SettingsTable:
    """Generator settings of some samples, one column per sample; shows as a table in notebooks.

    Attributes
    ----------
    columns : tuple of str
        Column headings (the samples).
    rows : tuple of (str, tuple of tuple of str)
        ``(setting, cells)``; each cell is a tuple of text lines, one cell per column.
    code_rows : frozenset of str
        Settings whose lines are Pythia ``readString`` lines, shown in code font.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[tuple[str, ...], ...]], ...]
    code_rows: frozenset[str] = frozenset()

    def to_markdown(self) -> str:
        """The table in Markdown (pipes inside cells escaped, lines joined by ``<br>``)."""
        def cell(lines: tuple[str, ...], code: bool) -> str:
            shown = [f"`{line}`" if code else line.replace("|", "\\|") for line in lines]
            return "<br>".join(shown)

        out = ["| setting | " + " | ".join(self.columns) + " |", "|---" * (len(self.columns) + 1) + "|"]
        for setting, cells in self.rows:
            code = setting in self.code_rows
            out.append(f"| {setting} | " + " | ".join(cell(c, code) for c in cells) + " |")
        return "\n".join(out)

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def _repr_html_(self) -> str:
        # HTML as well as Markdown: Jupyter Book renders a notebook's Markdown output as CommonMark,
        # which has no tables, and prefers text/html when both are there.
        def cell(lines: tuple[str, ...], code: bool) -> str:
            shown = [f"<code>{escape(line)}</code>" if code else escape(line) for line in lines]
            return "<br>".join(shown)

        head = "".join(f"<th>{escape(c)}</th>" for c in ("setting", *self.columns))
        body = "".join(
            f"<tr><th style='text-align:left'>{escape(setting)}</th>"
            + "".join(f"<td style='text-align:left'>{cell(c, setting in self.code_rows)}</td>" for c in cells)
            + "</tr>"
            for setting, cells in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:  # a terminal shows the Markdown table
        return self.to_markdown()


_HARD_PROCESS_ROW = "hard process (Pythia 8 settings)"


def settings_table(samples: Mapping[str, Jets]) -> SettingsTable:
    """The generator and jet settings of some samples, side by side.

    Parameters
    ----------
    samples : mapping of label to Jets
        Jets made by :func:`jetgeom_lite.data.load_jets` or ``generate_jets`` (their
        ``settings`` hold the Pythia lines and cuts). Process names as labels become "W jets" etc.

    Returns
    -------
    SettingsTable
        Shows as a table when it is the last expression of a notebook cell; ``str()`` or
        ``to_markdown()`` gives Markdown.

    Examples
    --------
    >>> from jetgeom_lite.data import load_jets
    >>> settings_table({"W": load_jets("W", 100, seed=1)})   # doctest: +SKIP
    """
    if not isinstance(samples, Mapping) or len(samples) == 0:
        raise ValueError("samples must be a non-empty mapping of label to Jets, e.g. {'W': w, 'top': top}")
    # Lines shown in rows of their own, or per chunk (seeds) and so no setting a reader chooses.
    shown_apart = ("Beams:eCM", "PhaseSpace:pTHatMin", "PartonLevel:MPI", "Random:setSeed", "Random:seed",
                   "Print:quiet", "Next:numberCount")
    columns: list[dict[str, tuple[str, ...]]] = []
    for label, jets in samples.items():
        if not isinstance(jets, Jets):
            raise TypeError(f"samples[{label!r}] must be a Jets; got {type(jets).__name__}")
        settings = jets.settings
        lines = list(settings.get("pythia_settings", []))
        if not lines:
            raise ValueError(f"samples[{label!r}] carries no generator settings (was it read from a public file?)")
        energy = _pythia_value(lines, "Beams:eCM")
        low, high = settings.get("pt_range", (float("nan"), float("nan")))
        match = settings.get("match_delta_r")
        columns.append({
            "collisions": (f"pp, √s = {float(energy) / 1000:g} TeV" if energy else "?",),
            _HARD_PROCESS_ROW: tuple(line for line in lines if line.partition("=")[0].strip() not in shown_apart),
            "hard-process threshold pTHatMin [GeV]": (_pythia_value(lines, "PhaseSpace:pTHatMin") or "?",),
            "multiparton interactions (underlying event)": (_pythia_value(lines, "PartonLevel:MPI") or "?",),
            "jets": (str(settings.get("jet_algorithm", "?")),),
            "jet window": (f"{low:g} < pT < {high:g} GeV, |η| < {settings.get('eta_max', float('nan')):g}",),
            "truth matching": ("none" if match is None else f"true W / top within ΔR < {match:g}",),
            "seed": (str(settings.get("seed", "?")),),
            "versions": (f"pythia8mc {settings.get('pythia_version', '?')}",
                         f"fastjet {settings.get('fastjet_version', '?')}"),
        })
    settings_names = list(columns[0])
    return SettingsTable(
        columns=tuple(PROCESS_LABELS.get(str(label), str(label)) for label in samples),
        rows=tuple((name, tuple(column[name] for column in columns)) for name in settings_names),
        code_rows=frozenset({_HARD_PROCESS_ROW}),
    )
