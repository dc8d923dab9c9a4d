"""Walk a jet VAE's latent space: decode jets along latent directions, as a strip or live with sliders.

A latent direction means whatever the decoder does with it. The functions here decode codes
:math:`z = z_0 + t\\,e_k` along a direction :math:`e_k` and describe the decoded jets with two
observables of the book: the jet mass (particles treated as massless) and the prong balance
:math:`b = p_{T,\\rm soft}/(p_{T,\\rm hard} + p_{T,\\rm soft})` of
:func:`jetgeom_lite.observables.two_prongs`.

- :func:`decode_along`: the decoded jets along one direction, with their mass and balance, as a
  :class:`LatentWalk` (no widgets, no figures).
- :func:`decoded_jet_mass`: the mass of zero-padded jets from massless constituents.
- :func:`draw_latent_strip`: a row of event displays per walk, into axes the caller made (the
  static picture of the explorer, for the rendered page where no kernel runs).
- :func:`latent_explorer`: ipywidgets sliders (one per direction) that decode a jet live as an
  event display and print its mass and balance. Written for ipywidgets 7 (Colab) and 8 alike:
  ``FloatSlider.observe`` and an ``Output`` widget into which each frame is explicitly
  ``display``-ed as a PNG, so no matplotlib backend has to cooperate with the widget.

Jets follow the energyflow convention: rows ``(pT, y, phi)``; decoded jets carry pT fractions
(summing to 1), and ``pt_scale`` [GeV] turns them into GeV for the mass.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .._validation import check_integer, check_jets, check_positive
from .jets import PROCESS_COLORS, event_display

__all__ = ["LatentWalk", "decode_along", "decoded_jet_mass", "decoded_as_jets", "draw_latent_strip",
           "LatentExplorer", "latent_explorer"]


@dataclass(frozen=True)
class LatentWalk:
    """Jets decoded along one latent direction, :math:`z = z_0 + t\\,e_k`.

    Attributes
    ----------
    direction : int
        The latent index ``k``.
    offsets : ndarray, shape (n_steps,)
        The steps ``t``, in units of the latent code (the prior has unit width).
    base : ndarray, shape (latent_dim,)
        The code ``z_0`` the walk starts from.
    jets : ndarray, shape (n_steps, n_particles, 3)
        Decoded particles ``(z, y, phi)``: pT fractions summing to one, angles in radians from the
        jet's centre.
    mass : ndarray, shape (n_steps,)
        Jet mass of each decoded jet [GeV] at ``pt_scale``.
    pt_balance : ndarray, shape (n_steps,)
        Prong balance ``b`` in [0, 0.5] of each decoded jet.
    pt_scale : float
        Jet pT [GeV] used for the mass.
    """

    direction: int
    offsets: np.ndarray
    base: np.ndarray
    jets: np.ndarray
    mass: np.ndarray
    pt_balance: np.ndarray
    pt_scale: float


def decoded_jet_mass(particles: Any, mask: Any = None, *, pt_scale: float = 550.0) -> np.ndarray:
    """Mass of each jet from its constituents, treated as massless [GeV].

    :math:`m^2 = (\\sum_i E_i)^2 - |\\sum_i \\vec p_i|^2` with :math:`E_i = p_{T,i}\\cosh y_i`,
    :math:`\\vec p_i = p_{T,i}(\\cos\\phi_i, \\sin\\phi_i, \\sinh y_i)` and
    :math:`p_{T,i} = \\mathrm{pt\\_scale}\\cdot z_i` for normalised jets.

    Parameters
    ----------
    particles : array_like or torch.Tensor, shape (n_jets, M, 3)
        Rows ``(pT, y, phi)``, zero-padded; pT a fraction of the jet pT (normalised jets, e.g. a
        decoder's output) or in GeV with ``pt_scale=1``.
    mask : array_like of bool, shape (n_jets, M), optional
        True for real particles; default ``pT > 0``.
    pt_scale : float
        GeV per unit of pT in ``particles`` (the book uses 550 GeV, the middle of its window).

    Returns
    -------
    ndarray, shape (n_jets,)
        Jet masses [GeV].

    Examples
    --------
    Two equal massless prongs 0.3 apart in rapidity, at 550 GeV in total:
    :math:`m^2 = 2\\,p_{T1}p_{T2}(\\cosh\\Delta y - 1)`.

    >>> jet = np.array([[[0.5, -0.15, 0.0], [0.5, 0.15, 0.0]]])
    >>> round(float(decoded_jet_mass(jet)[0]), 2)
    82.81
    """
    particles, mask = check_jets(particles, mask, "particles")
    scale = check_positive(pt_scale, "pt_scale", example="550.0")
    pt = scale * particles[..., 0] * mask
    y, phi = particles[..., 1], particles[..., 2]
    energy = (pt * np.cosh(y)).sum(axis=1)
    px, py, pz = (pt * np.cos(phi)).sum(axis=1), (pt * np.sin(phi)).sum(axis=1), (pt * np.sinh(y)).sum(axis=1)
    return np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0))


def decoded_as_jets(particles: Any, *, pt_scale: float = 550.0, process: str = "decoded"):
    """Wrap decoded (or any normalised) jets as :class:`jetgeom_lite.data.Jets` with pT in GeV.

    So that the observables of :mod:`jetgeom_lite.observables` (``two_prongs``,
    ``nsubjettiness``) can measure what a decoder made. pT fractions are multiplied by
    ``pt_scale``; the jet's pT is set to ``pt_scale``, its (y, phi) to the origin (decoded jets
    are centred) and its mass to :func:`decoded_jet_mass`.

    Parameters
    ----------
    particles : array_like or torch.Tensor, shape (n_jets, M, 3)
        Rows ``(pT fraction, y, phi)``; rows with pT = 0 count as padding.
    pt_scale : float
        Jet pT [GeV].
    process : str
        The ``process`` recorded on the result.

    Returns
    -------
    jetgeom_lite.data.Jets

    Examples
    --------
    >>> from jetgeom_lite.observables import two_prongs
    >>> jets = decoded_as_jets(np.array([[[0.7, -0.1, 0.0], [0.3, 0.2, 0.0]]]))
    >>> round(float(two_prongs(jets).pt_balance[0]), 2), float(jets.particles[0, 0, 0])
    (0.3, 385.0)
    """
    from ..data import Jets

    values, mask = check_jets(particles, None, "particles")
    scale = check_positive(pt_scale, "pt_scale", example="550.0")
    n = values.shape[0]
    in_gev = values.copy()
    in_gev[..., 0] *= scale
    return Jets(particles=in_gev, mask=mask, pt=np.full(n, scale), y=np.zeros(n), phi=np.zeros(n),
                mass=decoded_jet_mass(values, mask, pt_scale=scale), process=str(process))


def _prong_balance(jets: np.ndarray, pt_scale: float) -> np.ndarray:
    """Prong balance b of decoded jets, by two exclusive-kT subjets."""
    from ..observables import two_prongs

    return two_prongs(decoded_as_jets(jets, pt_scale=pt_scale)).pt_balance


def _decode(model: Any, codes: np.ndarray) -> np.ndarray:
    import torch

    parameter = next(model.parameters())
    with torch.no_grad():
        decoded = model.decode(torch.as_tensor(codes, dtype=parameter.dtype, device=parameter.device))
    return decoded.detach().cpu().double().numpy()


def _latent_dim(model: Any) -> int:
    for name in ("decoder", "encoder"):
        settings = getattr(getattr(model, name, None), "settings", None)
        if settings is not None and hasattr(settings, "latent_dim"):
            return int(settings.latent_dim)
    raise TypeError("model must be a jet VAE from jetgeom_lite.jet_vae.make_jet_vae (or a loaded sweep's "
                    f".model(...)); got {type(model).__name__} without decoder settings.")


def decode_along(model: Any, direction: int, offsets: Sequence[float], *, base: Any = None,
                 pt_scale: float = 550.0) -> LatentWalk:
    """Decode jets along one latent direction: :math:`\\hat x(z_0 + t\\,e_k)` for each offset ``t``.

    Parameters
    ----------
    model : jetgeom_lite.vae.VAE
        A jet VAE (:func:`jetgeom_lite.jet_vae.make_jet_vae`); only its decoder is used.
    direction : int
        The latent index ``k``, ``0 <= k < latent_dim``.
    offsets : sequence of float, shape (n_steps,)
        Steps ``t`` along ``e_k``, in units of the latent code (the prior N(0, 1) has unit width).
    base : array_like, shape (latent_dim,), optional
        The starting code ``z_0`` (default: the origin, the prior's mean).
    pt_scale : float
        Jet pT [GeV] for the masses (550 GeV in the book).

    Returns
    -------
    LatentWalk
        Decoded jets ``(n_steps, n_particles, 3)`` with their masses [GeV] and prong balances.

    Examples
    --------
    >>> from jetgeom_lite.jet_vae import make_jet_vae
    >>> walk = decode_along(make_jet_vae(seed=0), 2, [-1.0, 0.0, 1.0])
    >>> walk.jets.shape, walk.mass.shape
    ((3, 50, 3), (3,))
    >>> bool(np.allclose(walk.jets[..., 0].sum(axis=1), 1.0))   # pT fractions sum to one
    True
    """
    latent_dim = _latent_dim(model)
    direction = check_integer(direction, "direction", minimum=0, maximum=latent_dim - 1, example="0")
    steps = np.asarray(offsets, dtype=np.float64)
    if steps.ndim != 1 or steps.size == 0 or not np.all(np.isfinite(steps)):
        raise ValueError(f"offsets must be a non-empty 1-D sequence of finite numbers (steps in units of z); "
                         f"got {offsets!r}.")
    start = np.zeros(latent_dim) if base is None else np.asarray(base, dtype=np.float64)
    if start.shape != (latent_dim,) or not np.all(np.isfinite(start)):
        raise ValueError(f"base must be a finite code of shape ({latent_dim},); got shape {start.shape}.")
    scale = check_positive(pt_scale, "pt_scale", example="550.0")
    codes = np.repeat(start[None], steps.size, axis=0)
    codes[:, direction] += steps
    jets = _decode(model, codes)
    return LatentWalk(direction=direction, offsets=steps, base=start.copy(), jets=jets,
                      mass=decoded_jet_mass(jets, pt_scale=scale), pt_balance=_prong_balance(jets, scale),
                      pt_scale=scale)


def draw_latent_strip(axes: Any, walks: Sequence[LatentWalk], *, names: Sequence[str] | None = None,
                      color: str = PROCESS_COLORS["W"], limit: float = 0.45, total_area: float = 600.0,
                      label_observables: bool = True, fontsize: float = 8.0) -> list:
    """Draw each walk as a row of event displays: ``axes[row, column]`` shows ``walks[row].jets[column]``.

    The static twin of :func:`latent_explorer`: the rendered page shows this strip where a
    live kernel would show sliders. Every panel is in the (y, phi) plane, marker area
    proportional to pT, with its own axis labels; its title gives the offset and, with
    ``label_observables``, the decoded jet's mass [GeV] and prong balance.

    Parameters
    ----------
    axes : array of matplotlib Axes, shape (len(walks), n_steps)
        Made by the caller (e.g. ``plt.subplots(len(walks), n_steps, squeeze=False)``).
    walks : sequence of LatentWalk
        All with the same number of steps.
    names : sequence of str, optional
        How each walk's coordinate is written in the titles (math text allowed), e.g.
        ``["$z_1$", "$z_2$"]``; default ``$z_k$`` with the model's index ``k``.
    color : str
        Marker colour (default: the book's colour of W jets).
    limit : float
        Half-width of every panel in y and phi [rad].
    total_area : float
        Sum of the marker areas of one jet (points squared).
    label_observables : bool
        Put mass and balance in the panel titles.
    fontsize : float
        Of titles and axis labels.

    Returns
    -------
    list of matplotlib.collections.PathCollection
        The markers of every panel, row by row.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from jetgeom_lite.jet_vae import make_jet_vae
    >>> walk = decode_along(make_jet_vae(seed=0), 1, [-1.0, 1.0])
    >>> fig, axes = plt.subplots(1, 2, squeeze=False)
    >>> len(draw_latent_strip(axes, [walk]))
    2
    """
    grid = np.asarray(axes, dtype=object)
    if grid.ndim == 1:
        grid = grid[None] if len(walks) == 1 else grid[:, None]
    walks = list(walks)
    if not walks or not all(isinstance(w, LatentWalk) for w in walks):
        raise TypeError("walks must be a non-empty sequence of LatentWalk (from decode_along).")
    n_steps = {w.offsets.size for w in walks}
    if len(n_steps) != 1:
        raise ValueError(f"every walk needs the same number of steps to fill a grid; got {sorted(n_steps)}.")
    if grid.shape != (len(walks), n_steps.pop()):
        raise ValueError(f"axes must have shape (len(walks), n_steps) = ({len(walks)}, {walks[0].offsets.size}); "
                         f"got {grid.shape}. Make them with plt.subplots(n_walks, n_steps, squeeze=False).")
    if names is None:
        names = [f"$z_{{{w.direction}}}$" for w in walks]
    elif len(names) != len(walks):
        raise ValueError(f"names must give one label per walk ({len(walks)}); got {len(names)}.")
    half = check_positive(limit, "limit", example="0.45")
    size = check_positive(fontsize, "fontsize", example="8.0")
    artists = []
    for row, (walk, name) in enumerate(zip(walks, names)):
        for column, (offset, jet) in enumerate(zip(walk.offsets, walk.jets)):
            ax = grid[row, column]
            artists.append(event_display(ax, jet, R=0.8, centre=(0.0, 0.0), color=color, total_area=total_area,
                                         show_circle=False))
            ax.set_xlim(-half, half)
            ax.set_ylim(-half, half)
            title = f"{name} {offset:+.1f}"
            if label_observables:
                title += f"\n$m$ = {walk.mass[column]:.0f} GeV, $b$ = {walk.pt_balance[column]:.2f}"
            ax.set_title(title, fontsize=size)
            ax.set_xlabel("$y$", fontsize=size, labelpad=1)
            ax.set_ylabel(r"$\phi$ [rad]", fontsize=size, labelpad=1)
            ax.tick_params(labelsize=size - 1)
    return artists


@dataclass(frozen=True, eq=False)
class LatentExplorer:
    """The widgets of :func:`latent_explorer`.

    Attributes
    ----------
    widget : ipywidgets.VBox
        Sliders above the output; ``display(explorer.widget)`` shows it.
    sliders : dict of int to ipywidgets.FloatSlider
        One per latent direction, keyed by its index.
    output : ipywidgets.Output
        Where each decoded jet is displayed.
    update : callable
        ``update()`` decodes the sliders' code and redraws; returns the :class:`LatentWalk`
        of that single code (for tests and scripts).
    """

    widget: Any
    sliders: dict
    output: Any
    update: Any

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _frame_png(walk: LatentWalk, code: np.ndarray, titles: dict, color: str, limit: float) -> bytes:
    """One decoded jet as a PNG, drawn on a Figure that pyplot never sees (no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4.2, 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    event_display(ax, walk.jets[0], R=0.8, centre=(0.0, 0.0), color=color, total_area=900, show_circle=False)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_title(", ".join(f"{name} = {code[k]:+.2f}" for k, name in titles.items()), fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def latent_explorer(model: Any, directions: Sequence[int], *, limits: Any = 3.0, base: Any = None,
                    names: Sequence[str] | None = None, pt_scale: float = 550.0, color: str = PROCESS_COLORS["W"], limit: float = 0.45,
                    continuous_update: bool = False) -> LatentExplorer:
    """Sliders on latent directions that decode a jet live, with its mass and prong balance.

    Works with ipywidgets 7 (Colab) and 8: each slider's ``observe`` redraws into an
    ``Output`` widget by displaying a PNG explicitly (no ``plt.show`` inside the widget, whose
    capture differs between versions). In a rendered page without a kernel the widget cannot
    run: show :func:`draw_latent_strip` of :func:`decode_along` next to it.

    Parameters
    ----------
    model : jetgeom_lite.vae.VAE
        A jet VAE; only its decoder is used.
    directions : sequence of int
        Latent indices that get a slider (the active ones).
    limits : float or sequence of float
        Half-range of each slider, in units of z (e.g. twice the spread of the posterior means).
    base : array_like, shape (latent_dim,), optional
        The code of the directions without a slider (default 0) and the sliders' start.
    names : sequence of str, optional
        Slider labels, one per direction (plain text, e.g. ``["z1", "z2"]``); default ``z_k``
        with the model's index ``k``.
    pt_scale : float
        Jet pT [GeV] for the mass.
    color : str
        Marker colour (default: the book's colour of W jets).
    limit : float
        Half-width of the event display [rad].
    continuous_update : bool
        Redraw while dragging (smooth on a fast machine) or only on release (default).

    Returns
    -------
    LatentExplorer
        Display it (``display(explorer)`` or as a cell's last value).

    Raises
    ------
    ImportError
        If ipywidgets is not installed (``pip install ipywidgets``).
    """
    try:
        import ipywidgets as widgets
    except ImportError as error:  # the book's extra installs it; Colab ships it
        raise ImportError("the latent explorer needs ipywidgets: pip install ipywidgets "
                          "(or look at draw_latent_strip, its static twin)") from error
    from IPython.display import Image, display

    latent_dim = _latent_dim(model)
    chosen = [check_integer(k, "directions", minimum=0, maximum=latent_dim - 1, example="[4, 5]")
              for k in directions]
    if not chosen or len(set(chosen)) != len(chosen):
        raise ValueError(f"directions must be distinct latent indices, at least one; got {list(directions)!r}.")
    ranges = np.broadcast_to(np.asarray(limits, dtype=np.float64), (len(chosen),))
    if not np.all(np.isfinite(ranges)) or np.any(ranges <= 0):
        raise ValueError(f"limits must be positive half-ranges in units of z, one or one per direction; got {limits!r}.")
    start = np.zeros(latent_dim) if base is None else np.asarray(base, dtype=np.float64)
    if start.shape != (latent_dim,) or not np.all(np.isfinite(start)):
        raise ValueError(f"base must be a finite code of shape ({latent_dim},); got shape {start.shape}.")
    scale = check_positive(pt_scale, "pt_scale", example="550.0")
    half = check_positive(limit, "limit", example="0.45")
    labels = [f"z_{k}" for k in chosen] if names is None else [str(n) for n in names]
    if len(labels) != len(chosen):
        raise ValueError(f"names must give one label per direction ({len(chosen)}); got {len(labels)}.")

    sliders = {k: widgets.FloatSlider(value=float(np.clip(start[k], -r, r)), min=-float(r), max=float(r),
                                      step=float(r) / 50, description=label, continuous_update=continuous_update,
                                      readout_format=".2f")
               for k, r, label in zip(chosen, ranges, labels)}
    titles = dict(zip(chosen, labels))
    output = widgets.Output()

    def update(change: Any = None) -> LatentWalk:
        code = start.copy()
        for k, slider in sliders.items():
            code[k] = slider.value
        walk = decode_along(model, chosen[0], [0.0], base=code, pt_scale=scale)
        png = _frame_png(walk, code, titles, color, half)
        with output:
            output.clear_output(wait=True)
            display(Image(data=png, format="png"))
            print(f"decoded jet: mass {walk.mass[0]:.1f} GeV at pT = {scale:.0f} GeV, "
                  f"prong balance b = {walk.pt_balance[0]:.2f}")
        return walk

    for slider in sliders.values():
        slider.observe(update, names="value")
    update()
    box = widgets.VBox([*sliders.values(), output])
    return LatentExplorer(widget=box, sliders=sliders, output=output, update=update)
