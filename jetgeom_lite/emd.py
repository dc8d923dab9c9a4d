"""Exact Earth Mover's Distance between jets, for one pair and for whole samples, and the
correlation dimension of the resulting metric space.

The EMD follows energyflow's convention (Komiske, Metodiev and Thaler, PRL 123 (2019) 041801;
arXiv:2004.04159 eq. 1.2-1.3): a jet is a set of particles with weights ``pT`` at points
``(y, phi)`` and

    EMD(E, E') = min_{f_ij >= 0} sum_ij f_ij (theta_ij / R)**beta + |sum_i pT_i - sum_j pT'_j|,
    sum_j f_ij <= pT_i,  sum_i f_ij <= pT'_j,  sum_ij f_ij = min(sum pT, sum pT'),

with ``theta_ij`` the distance in the ``(y, phi)`` plane, phi taken the shorter way round. The
energy-difference term is the same as balanced transport with one extra particle, carrying the
difference, at ground distance 1 from every particle; that is how it is solved here, with POT's
network simplex (the exact linear-programming solution, not an approximation). For the EMD to
be a metric, choose ``R`` at least half the largest distance between particles (R = 0.8 suits
centred jets of radius 0.8) and ``beta <= 1``.

Jets and masks, the same rule in :func:`emd`, :func:`pairwise_emd` and
:func:`jetgeom_lite.sinkhorn.sinkhorn_emd`: rows ``(pT, y, phi)``; a boolean mask (True for real
particles) says which rows are particles, and rows it excludes are never read (they may hold
anything); without a mask, rows with ``pT = 0`` are padding and every row must be finite. A
``Jets`` object carries its own mask.

The correlation dimension of the resulting metric space lives in :mod:`jetgeom_lite.dimension`
beside the other dimension estimates; ``from jetgeom_lite.emd import correlation_dimension``
keeps working (the name is re-exported here, as is :class:`CorrelationDimension`).
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ._validation import check_bool, check_jets, check_n_jobs, check_positive
# Re-exported: chapters and older code import these from here.
from .dimension import CorrelationDimension, correlation_dimension

__all__ = ["emd", "pairwise_emd", "CorrelationDimension", "correlation_dimension"]

_TWO_PI = 2.0 * math.pi
# POT's and energyflow's default cap on network-simplex iterations; jets of <= 200 particles
# converge far below it.
_MAX_ITERATIONS = 100_000
_OPTIMAL = 1  # POT's result code for an optimal solution
_RESULT_MESSAGES = {0: "the problem is infeasible", 2: "the problem is unbounded",
                    3: f"the solver stopped after {_MAX_ITERATIONS} iterations before reaching the optimum"}
# Jets per block of cost-matrix rows: big enough that numpy's per-call cost vanishes, small
# enough (~3 MB for 40-particle jets) to stay in cache.
_ROW_BLOCK = 256
# Pairs per parallel task: each task costs a few ms of scheduling, each pair ~0.1 ms.
_PAIRS_PER_TASK = 2000


# --------------------------------------------------------------------------------------------
# The solver
# --------------------------------------------------------------------------------------------


def _network_simplex() -> Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, float, int]]:
    """POT's network simplex as ``solve(a, b, M) -> (flow, cost, result_code)``.

    POT's compiled core ``emd_c`` is called directly: ``ot.emd2`` spends most of its time on
    argument checks and backend dispatch at 40 particles, and every input here is checked once
    per jet. If a future POT moves the core, the public ``ot.emd`` is used instead.
    """
    try:
        from ot.lp.emd_wrap import emd_c
    except ImportError:  # pragma: no cover - depends on POT's private layout
        import ot

        def solve(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, float, int]:
            flow, log = ot.emd(a, b, cost, numItermax=_MAX_ITERATIONS, log=True)
            return flow, float(log["cost"]), int(log.get("result_code", _OPTIMAL))
        return solve

    def solve(a: np.ndarray, b: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, float, int]:
        flow, total, _, _, code = emd_c(a, b, cost, _MAX_ITERATIONS, 1)
        return flow, total, code
    return solve


# Environment switches that keep POT from importing its optional backends, and a package POT
# imports when it is installed (geomloss, which imports torch).
_POT_BACKEND_SWITCHES = ("POT_BACKEND_DISABLE_PYTORCH", "POT_BACKEND_DISABLE_JAX", "POT_BACKEND_DISABLE_CUPY",
                         "POT_BACKEND_DISABLE_TENSORFLOW")
_POT_OPTIONAL_IMPORTS = ("geomloss",)


def _import_pot_without_backends() -> None:
    """Import POT in a worker process without its torch, jax, cupy and tensorflow backends.

    ``import ot`` imports torch (and geomloss, if installed) for POT's backends, which the
    network simplex does not use: +600 MB and seconds per worker process. In joblib's reusable
    loky workers that had run light jobs before (Pythia), loky read the jump as a memory leak
    and restarted the workers (issue 12). Only worker processes import POT this way: in the
    user's own process ``ot`` keeps its backends. Nothing happens if ``ot`` is already imported.
    """
    if "ot" in sys.modules:
        return
    saved = {key: os.environ.get(key) for key in _POT_BACKEND_SWITCHES}
    blocked = [name for name in _POT_OPTIONAL_IMPORTS if name not in sys.modules]
    try:
        os.environ.update(dict.fromkeys(_POT_BACKEND_SWITCHES, "1"))
        for name in blocked:
            sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
        import ot.lp  # noqa: F401
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _raise_for(code: int, what: str) -> None:
    raise RuntimeError(f"POT's network simplex failed for {what}: {_RESULT_MESSAGES.get(code, f'code {code}')}. "
                       "Check the jets (finite, pT >= 0); please report it if they are fine.")


# --------------------------------------------------------------------------------------------
# Checking and stacking jets
# --------------------------------------------------------------------------------------------


def _check_scale(R: Any, beta: Any) -> tuple[float, float]:
    return check_positive(R, "R", example="0.8"), check_positive(beta, "beta", example="1.0")


def _real_rows(jet: Any, name: str, mask: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """One jet checked by the package's jet rule: its real particles with pT > 0 as an (m, 3)
    float64 array, and their row indices in ``jet``."""
    if isinstance(jet, (str, bytes, dict)) or jet is None:
        raise TypeError(f"{name} must be an (M, 3) array of particles (pT, y, phi); got {type(jet).__name__}")
    try:
        array = np.asarray(jet, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be an (M, 3) numeric array of particles (pT, y, phi); "
                        f"could not convert it ({error})") from None
    if array.ndim != 2 or array.shape[1] != 3:
        raise ValueError(f"{name} must have shape (M, 3), one row (pT, y, phi) per particle; got shape {array.shape}"
                         + (" (a batch of jets? use pairwise_emd)" if array.ndim == 3 else ""))
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != array.shape[:1]:
            raise ValueError(f"the mask of {name} must have shape ({array.shape[0]},), one entry per row; "
                             f"got {mask.shape}")
        mask = mask[None]
    particles, valid = check_jets(array[None], mask, name, allow_empty_jets=True)
    rows = np.flatnonzero(valid[0] & (particles[0, :, 0] > 0))  # zero-pT particles carry nothing
    if rows.size == 0:
        raise ValueError(f"{name} is empty: it has no particle with pT > 0")
    return particles[0, rows], rows


def _particles(jet: Any, name: str, mask: Any = None) -> np.ndarray:
    """One jet as a checked (m, 3) float64 array of its real particles with pT > 0."""
    return _real_rows(jet, name, mask)[0]


def _jet_list(jets: Any, name: str, mask: Any = None) -> list[np.ndarray]:
    """A Jets-like object, an (n, M, 3) padded array or a sequence of (M_i, 3) arrays, checked."""
    if hasattr(jets, "particles") and hasattr(jets, "mask"):
        if mask is not None:
            raise ValueError(f"{name} is a Jets and carries its own mask; do not pass a mask for it as well")
        particles = np.asarray(jets.particles)
        own_mask = np.asarray(jets.mask, dtype=bool)
        if particles.ndim != 3 or particles.shape[2] != 3 or own_mask.shape != particles.shape[:2]:
            raise ValueError(f"{name}.particles must have shape (n, M, 3) and {name}.mask shape (n, M); "
                             f"got {particles.shape} and {own_mask.shape}")
        rows, masks = list(particles), list(own_mask)
    elif isinstance(jets, np.ndarray) and jets.ndim == 3:
        rows = list(jets)
        masks = [None] * len(rows) if mask is None else list(np.asarray(mask))
    elif isinstance(jets, (list, tuple)):
        rows = list(jets)
        masks = [None] * len(rows) if mask is None else list(mask)
    else:
        raise TypeError(f"{name} must be a Jets (from jetgeom_lite.data), an (n, M, 3) array or a list of (M_i, 3) "
                        f"arrays; got {type(jets).__name__}")
    if len(rows) == 0:
        raise ValueError(f"{name} holds no jets")
    if len(masks) != len(rows):
        raise ValueError(f"the mask for {name} has {len(masks)} rows for {len(rows)} jets")
    return [_particles(jet, f"{name}[{k}]", m) for k, (jet, m) in enumerate(zip(rows, masks))]


@dataclass(frozen=True)
class _Stacked:
    """Jets laid end to end, each followed by one extra slot for the energy difference.

    Stacking lets one numpy call build the ground distances of a column jet to a whole block
    of row jets; each pair's cost matrix is then a C-contiguous row slice, as POT needs, with
    no copy. The extra slot of each jet sits at distance 1 from everything.
    """

    weights: np.ndarray   # (P,) pT (or pT fraction); 0 in the extra slots
    y: np.ndarray         # (P,)
    phi: np.ndarray       # (P,) wrapped into [-pi, pi)
    offsets: np.ndarray   # (n + 1,) start of each jet; jet k occupies offsets[k]:offsets[k + 1]
    totals: np.ndarray    # (n,) sum of weights of each jet

    @property
    def n_jets(self) -> int:
        return len(self.totals)


def _stack(jets: Sequence[np.ndarray], norm: bool) -> _Stacked:
    sizes = np.array([len(jet) + 1 for jet in jets])
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    weights = np.zeros(offsets[-1])
    y = np.zeros(offsets[-1])
    phi = np.zeros(offsets[-1])
    totals = np.empty(len(jets))
    for k, jet in enumerate(jets):
        start, stop = offsets[k], offsets[k + 1] - 1
        # POT's network simplex finds the optimum ~12% sooner on real jets when the soft
        # particles come first (measured: 133 vs 151 us per 40-particle pair); the order is
        # otherwise irrelevant.
        jet = jet[np.argsort(jet[:, 0], kind="stable")]
        pt = jet[:, 0] / jet[:, 0].sum() if norm else jet[:, 0]
        weights[start:stop] = pt
        totals[k] = pt.sum()
        y[start:stop] = jet[:, 1]
        phi[start:stop] = np.remainder(jet[:, 2] + math.pi, _TWO_PI) - math.pi
    return _Stacked(weights, y, phi, offsets, totals)


def _stacking_order(particles: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Row indices (in the caller's jet) of the real particles in the order :func:`_stack` lays them out."""
    return rows[np.argsort(particles[:, 0], kind="stable")]


def _ground_distances(out: np.ndarray, y_rows: np.ndarray, phi_rows: np.ndarray, y_cols: np.ndarray,
                      phi_cols: np.ndarray, R: float, beta: float) -> None:
    """Fill ``out[:, :-1]`` with (theta / R)**beta and the last column with 1."""
    body = out[:, :-1]
    np.subtract(y_rows[:, None], y_cols[None, :], out=body)
    np.square(body, out=body)
    # Both phi lie in [-pi, pi), so |dphi| < 2 pi and the shorter way round is min(d, 2 pi - d).
    dphi = np.abs(phi_rows[:, None] - phi_cols[None, :])
    np.minimum(dphi, _TWO_PI - dphi, out=dphi)
    body += dphi * dphi
    np.sqrt(body, out=body)
    body *= 1.0 / R
    if beta != 1.0:
        np.power(body, beta, out=body)
    out[:, -1] = 1.0


# --------------------------------------------------------------------------------------------
# One pair
# --------------------------------------------------------------------------------------------


def emd(jet_a: Any, jet_b: Any, *, mask_a: Any = None, mask_b: Any = None, R: float = 0.8, beta: float = 1.0,
        norm: bool = False, return_plan: bool = False) -> float | tuple[float, np.ndarray]:
    """Exact Earth Mover's Distance between two jets, in energyflow's convention.

        EMD = min_f sum_ij f_ij (theta_ij / R)**beta + |sum_i pT_i - sum_j pT'_j|

    Parameters
    ----------
    jet_a, jet_b : array_like, shapes (M_a, 3) and (M_b, 3)
        Particles as rows ``(pT [GeV or fraction], y, phi [rad])``; phi is taken the shorter way
        round the circle. Zero-pT rows are padding (and carry nothing).
    mask_a, mask_b : array_like of bool, shapes (M_a,) and (M_b,), optional
        True for real particles; rows outside the mask are never read (they may hold NaN).
        The package's one mask rule (see the module docstring).
    R : float
        Angular scale of the ground distance, in radians (the jet radius, 0.8, by default).
    beta : float
        Angular exponent of the ground distance.
    norm : bool
        Divide each jet's pT by its pT sum first, so both sum to 1 and the energy-difference
        term vanishes; the EMD is then a fraction of the jet pT. Must be ``True`` or ``False``.
    return_plan : bool
        Also return the optimal transport plan (the same name as in
        :func:`jetgeom_lite.sinkhorn.sinkhorn_emd`; energyflow calls it the flow).

    Returns
    -------
    float
        The EMD, in the unit of pT (GeV, or a fraction of the jet pT with ``norm=True``).
    ndarray, shape (M_a, M_b)
        Only with ``return_plan``: the flow ``f_ij`` between particle ``i`` of ``jet_a`` and
        ``j`` of ``jet_b`` (zero on padding rows). Its total is ``min(sum pT, sum pT')``; the
        unmatched ``|sum pT - sum pT'|`` is not part of it.

    Raises
    ------
    TypeError, ValueError
        For a jet that is not an (M, 3) numeric array, is empty, holds NaN or inf, or has
        negative pT; for ``R`` or ``beta`` that are not positive.

    Examples
    --------
    >>> a = np.array([[100.0, 0.0, 0.0]])
    >>> b = np.array([[100.0, 0.0, 0.4]])          # the same particle moved by 0.4 in phi
    >>> round(emd(a, b, R=0.8), 12)                 # pT * distance / R
    50.0
    >>> round(emd(a, np.array([[60.0, 0.0, 0.0]])), 12)   # nothing moves, 40 GeV unmatched
    40.0
    """
    R, beta = _check_scale(R, beta)
    norm = check_bool(norm, "norm")
    return_plan = check_bool(return_plan, "return_plan")
    (a, rows_a), (b, rows_b) = _real_rows(jet_a, "jet_a", mask_a), _real_rows(jet_b, "jet_b", mask_b)
    stacked_a, stacked_b = _stack([a], norm), _stack([b], norm)
    weights_a, weights_b = stacked_a.weights.copy(), stacked_b.weights.copy()
    difference = stacked_b.totals[0] - stacked_a.totals[0]
    weights_a[-1], weights_b[-1] = max(difference, 0.0), max(-difference, 0.0)
    cost = np.empty((len(a) + 1, len(b) + 1))
    _ground_distances(cost, stacked_a.y, stacked_a.phi, stacked_b.y[:-1], stacked_b.phi[:-1], R, beta)
    cost[-1, :] = 1.0
    flow, value, code = _network_simplex()(weights_a, weights_b, cost)
    if code != _OPTIMAL:
        _raise_for(code, "this pair of jets")
    if not return_plan:
        return float(value)
    full = np.zeros((np.shape(jet_a)[0], np.shape(jet_b)[0]))
    # rows and columns of the flow follow _stack's order: real particles by increasing pT
    rows, cols = _stacking_order(a, rows_a), _stacking_order(b, rows_b)
    full[np.ix_(rows, cols)] = flow[:-1, :-1]
    return float(value), full


# --------------------------------------------------------------------------------------------
# All pairs
# --------------------------------------------------------------------------------------------


def _emd_columns(rows: _Stacked, cols: _Stacked, columns: Sequence[int], symmetric: bool, R: float,
                 beta: float, caller_pid: int | None = None) -> list[tuple[int, np.ndarray]]:
    """EMDs of each column jet to the row jets (to rows ``< column`` when ``symmetric``).

    Runs in a joblib worker (a thread, a process or a Dask worker), so it only takes plain
    arrays and returns plain arrays. In a process other than ``caller_pid`` (a worker), POT is
    imported without its backends (torch...).
    """
    if caller_pid is not None and os.getpid() != caller_pid:
        _import_pot_without_backends()
    solve = _network_simplex()
    # The extra slots are written per pair, so each task works on its own copy.
    row_weights = rows.weights.copy()
    row_offsets = rows.offsets.tolist()
    row_totals = rows.totals.tolist()
    results = []
    for column in columns:
        n_rows = column if symmetric else rows.n_jets
        values = np.empty(n_rows)
        c_start, c_stop = int(cols.offsets[column]), int(cols.offsets[column + 1])
        col_weights = cols.weights[c_start:c_stop].copy()
        col_total = float(cols.totals[column])
        col_y, col_phi = cols.y[c_start:c_stop - 1], cols.phi[c_start:c_stop - 1]
        for block_start in range(0, n_rows, _ROW_BLOCK):
            block_stop = min(block_start + _ROW_BLOCK, n_rows)
            r_start, r_stop = row_offsets[block_start], row_offsets[block_stop]
            cost = np.empty((r_stop - r_start, c_stop - c_start))
            _ground_distances(cost, rows.y[r_start:r_stop], rows.phi[r_start:r_stop], col_y, col_phi, R, beta)
            cost[np.asarray(row_offsets[block_start + 1:block_stop + 1]) - 1 - r_start] = 1.0
            for i in range(block_start, block_stop):
                start, stop = row_offsets[i], row_offsets[i + 1]
                difference = col_total - row_totals[i]
                if difference > 0.0:
                    row_weights[stop - 1], col_weights[-1] = difference, 0.0
                else:
                    row_weights[stop - 1], col_weights[-1] = 0.0, -difference
                _, value, code = solve(row_weights[start:stop], col_weights, cost[start - r_start:stop - r_start])
                if code != _OPTIMAL:
                    _raise_for(code, f"jets {i} and {column}")
                values[i] = value
        results.append((int(column), values))
    return results


def _split_columns(pairs_per_column: np.ndarray, n_tasks: int) -> list[np.ndarray]:
    """Split column indices into ``n_tasks`` contiguous runs of roughly equal pair counts."""
    cumulative = np.cumsum(pairs_per_column)
    targets = cumulative[-1] * np.arange(1, n_tasks) / n_tasks
    cuts = np.searchsorted(cumulative, targets)
    runs = np.split(np.arange(len(pairs_per_column)), np.unique(cuts + 1))
    return [run for run in runs if len(run) and pairs_per_column[run].sum() > 0]


def pairwise_emd(jets: Any, others: Any = None, *, mask: Any = None, mask_others: Any = None, R: float = 0.8,
                 beta: float = 1.0, norm: bool = False, n_jobs: int | None = -1, progress: bool = True) -> np.ndarray:
    """Exact EMDs between all pairs of jets, computed in parallel blocks with joblib.

    Each jet is checked once; per column jet, the ground distances to a block of row jets are
    built in one numpy call, and POT's network simplex solves each pair with no further
    checks or copies. Blocks of pairs run through :class:`joblib.Parallel` (worker processes
    by default, since POT holds the GIL while it solves; a problem of one block runs in this
    process), so the same call runs on a Dask cluster inside
    ``with joblib.parallel_config(backend="dask"): ...`` once a ``dask.distributed.Client``
    exists.

    Parameters
    ----------
    jets : Jets, ndarray of shape (n, M, 3), or list of (M_i, 3) arrays
        Particles as rows ``(pT, y, phi)``; a ``Jets`` uses its mask, arrays ``mask`` or, without
        it, their zero-pT rows as padding (the package's one mask rule, see the module docstring).
    others : same types as ``jets``, optional
        A second sample. Without it, the distances within ``jets`` (each pair solved once).
    mask, mask_others : array_like of bool, shape (n, M), optional
        True for real particles of ``jets`` / ``others`` given as arrays.
    R, beta, norm
        As in :func:`emd`.
    n_jobs : int or None
        Workers, in joblib's convention as everywhere in the package: -1 (default) every core
        (or every worker of a Dask cluster), 1 or None in this process. Worker processes import
        POT without its torch backend (see ``_import_pot_without_backends``).
    progress : bool
        Show a ``tqdm.auto`` progress bar over the pairs.

    Returns
    -------
    ndarray of float64
        Shape (n, n) without ``others``: the full symmetric matrix with zeros on the diagonal
        (``scipy.spatial.distance.squareform`` turns it into the condensed form). Shape
        (n, n_others) with ``others``: entry (i, j) is EMD(jets[i], others[j]).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sample = [np.c_[rng.exponential(50.0, 20), rng.normal(0, 0.2, (20, 2))] for _ in range(5)]
    >>> distances = pairwise_emd(sample, progress=False)
    >>> distances.shape, bool(np.allclose(distances, distances.T))
    ((5, 5), True)
    >>> bool(np.isclose(distances[0, 1], emd(sample[0], sample[1])))
    True
    """
    import joblib
    from tqdm.auto import tqdm

    R, beta = _check_scale(R, beta)
    norm = check_bool(norm, "norm")
    n_jobs = check_n_jobs(n_jobs)
    if others is None and mask_others is not None:
        raise ValueError("mask_others was given without others")
    rows = _stack(_jet_list(jets, "jets", mask), norm)
    symmetric = others is None
    cols = rows if symmetric else _stack(_jet_list(others, "others", mask_others), norm)
    n_rows, n_cols = rows.n_jets, cols.n_jets
    pairs_per_column = np.arange(n_cols) if symmetric else np.full(n_cols, n_rows)
    total_pairs = int(pairs_per_column.sum())
    distances = np.zeros((n_rows, n_cols))
    if total_pairs == 0:
        return distances

    n_workers = max(1, joblib.effective_n_jobs(n_jobs))
    n_tasks = int(np.clip(total_pairs // _PAIRS_PER_TASK, 1, max(64, 8 * n_workers)))
    tasks = _split_columns(pairs_per_column, n_tasks)
    if len(tasks) == 1:  # starting workers would cost more than the whole problem
        results = (_emd_columns(rows, cols, task, symmetric, R, beta) for task in tasks)
    else:
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        results = parallel(joblib.delayed(_emd_columns)(rows, cols, task, symmetric, R, beta, os.getpid())
                           for task in tasks)
    with tqdm(total=total_pairs, disable=not progress, unit="pair", desc="EMD pairs") as bar:
        for task_result in results:
            for column, values in task_result:
                distances[: len(values), column] = values
                bar.update(len(values))
    if symmetric:
        distances += distances.T
    return distances
