"""Jets as data: real W, top and QCD jets from Pythia 8 and FastJet, cached, preprocessed.

A jet is an energy flow: a set of particles, each a row ``(pT [GeV], y, phi [rad])``. A batch of
jets is zero-padded to a common length ``M`` and carries a boolean mask, as in energyflow.

The generator settings follow the book's reference sheet: pp collisions at 13 TeV, anti-kT jets of
radius ``R`` on visible final-state particles, the leading jet kept when its pT lies in the window
and ``|eta| < eta_max``; W and top jets must lie within Delta R < 0.6 of the true W or top quark.

Event-level jet finding runs in C++ inside Pythia: its ``SlowJet`` class with ``useFJcore`` is
FastJet's own core (fjcore), so the jets are FastJet's anti-kT jets (``tests/test_data.py`` checks
them against the ``fastjet`` package particle by particle) while Python only touches the
constituents of jets that pass the cuts. Micro-jet reclustering and N-subjettiness use the
``fastjet`` package directly.

Examples
--------
>>> from jetgeom_lite.data import load_jets, preprocess
>>> w = load_jets("W", 200, seed=1)                   # doctest: +SKIP
>>> w.particles.shape[0], w.particles.shape[2]        # doctest: +SKIP
(200, 3)
>>> wp = preprocess(w, center=True, normalize=True, recluster_R=0.07, max_particles=50)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

# The private helpers every jet module shares live in ._jets.
from ._jets import _cluster_sequence, _quiet_stdout, _wrap_phi
from ._validation import check_bool, check_integer, check_jets, check_n_jobs, check_number, check_positive

__all__ = [
    "PROCESSES",
    "Jets",
    "generate_jets",
    "load_jets",
    "select_mass_window",
    "cache_dir",
    "preprocess",
    "read_qg_jets",
    "read_top_tagging",
    "read_jetnet",
    "pythia_settings",
]

#: Pythia 8 process settings for each process name (REFERENCE.md section 1).
PROCESSES: dict[str, tuple[str, ...]] = {
    "W": (
        "WeakBosonAndParton:qqbar2Wg = on",
        "WeakBosonAndParton:qg2Wq = on",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4 5",
    ),
    "top": (
        "Top:gg2ttbar = on",
        "Top:qqbar2ttbar = on",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4 5",
    ),
    "QCD": ("HardQCD:all = on",),
}

# PDG id of the particle a jet must be matched to; QCD jets are not matched.
_MATCH_PDG_ID = {"W": 24, "top": 6}
MATCH_DELTA_R = 0.6
# Jets are generated in chunks with one seed each, so n_jobs never changes the jets and a larger
# request extends a cached sample instead of replacing it.
CHUNK_SIZE = 100
# Version of the cache-file layout and of the generation recipe; bump it when either changes.
FORMAT_VERSION = 1
_BEAM_ENERGY_GEV = 6500.0
_PT_MIN_GEV, _PT_MAX_GEV = 100.0, 3000.0
_INVISIBLE_IDS = (12, 14, 16)


# --------------------------------------------------------------------------------------------
# The data container
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Jets:
    """A batch of jets as zero-padded particle arrays.

    Attributes
    ----------
    particles : ndarray, shape (n_jets, M, 3)
        Rows ``(pT, y, phi)``: pT in GeV (a fraction of the jet's pT sum after
        ``preprocess(normalize=True)``), rapidity y, azimuth phi in radians. Rows past a jet's
        multiplicity are zeros. Particles are sorted by decreasing pT.
    mask : ndarray of bool, shape (n_jets, M)
        True for real particles.
    pt, y, phi, mass : ndarray, shape (n_jets,)
        Jet transverse momentum [GeV], rapidity, azimuth [rad] and mass [GeV], from the full
        four-momenta of the generator (not changed by preprocessing).
    process : str
        ``"W"``, ``"top"``, ``"QCD"`` or the name of a public data set.
    settings : dict
        Every setting that made the jets (generator strings, cuts, seed, versions) and any
        preprocessing applied.
    labels : ndarray of int, shape (n_jets,), optional
        Truth labels where a sample mixes classes (1 = signal-like, see ``settings``).
    """

    particles: np.ndarray
    mask: np.ndarray
    pt: np.ndarray
    y: np.ndarray
    phi: np.ndarray
    mass: np.ndarray
    process: str
    settings: dict = field(default_factory=dict)
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        particles = np.asarray(self.particles, dtype=np.float64)
        mask = np.asarray(self.mask, dtype=bool)
        if particles.ndim != 3 or particles.shape[2] != 3:
            raise ValueError(f"particles must have shape (n_jets, M, 3) with rows (pT, y, phi); got {particles.shape}")
        if mask.shape != particles.shape[:2]:
            raise ValueError(f"mask must have shape {particles.shape[:2]} to match particles; got {mask.shape}")
        n = particles.shape[0]
        object.__setattr__(self, "particles", particles)
        object.__setattr__(self, "mask", mask)
        for name in ("pt", "y", "phi", "mass"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), one value per jet; got {values.shape}")
            object.__setattr__(self, name, values)
        if self.labels is not None:
            labels = np.asarray(self.labels)
            if labels.shape != (n,):
                raise ValueError(f"labels must have shape ({n},); got {labels.shape}")
            object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return self.particles.shape[0]

    def __getitem__(self, index: Any) -> "Jets":
        """Select jets by slice, integer array or boolean mask; always returns a ``Jets``."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 if int(index) != -1 else None)
        return replace(self, particles=self.particles[index], mask=self.mask[index], pt=self.pt[index],
                       y=self.y[index], phi=self.phi[index], mass=self.mass[index],
                       labels=None if self.labels is None else self.labels[index])

    def __repr__(self) -> str:
        return (f"Jets(process={self.process!r}, n_jets={len(self)}, max_particles={self.particles.shape[1]}, "
                f"median multiplicity={int(np.median(self.multiplicity)) if len(self) else 0})")

    @property
    def multiplicity(self) -> np.ndarray:
        """Number of particles in each jet, shape (n_jets,)."""
        return self.mask.sum(axis=1)

    def constituents(self) -> list[np.ndarray]:
        """The jets as a list of unpadded ``(M_i, 3)`` arrays of ``(pT, y, phi)``."""
        return [p[m] for p, m in zip(self.particles, self.mask)]

    @staticmethod
    def concatenate(parts: Sequence["Jets"]) -> "Jets":
        """Join batches of the same process, padding to the longest; settings of the first are kept."""
        if not parts:
            raise ValueError("nothing to concatenate: pass at least one Jets")
        width = max(p.particles.shape[1] for p in parts)
        particles = np.concatenate([_pad_to(p.particles, width) for p in parts])
        mask = np.concatenate([_pad_to(p.mask, width) for p in parts])
        labels = None if any(p.labels is None for p in parts) else np.concatenate([p.labels for p in parts])
        return Jets(particles, mask, np.concatenate([p.pt for p in parts]), np.concatenate([p.y for p in parts]),
                    np.concatenate([p.phi for p in parts]), np.concatenate([p.mass for p in parts]),
                    parts[0].process, dict(parts[0].settings), labels)


def _pad_to(array: np.ndarray, width: int) -> np.ndarray:
    pad = [(0, 0)] * array.ndim
    pad[1] = (0, width - array.shape[1])
    return np.pad(array, pad)


# --------------------------------------------------------------------------------------------
# Generation with Pythia 8
# --------------------------------------------------------------------------------------------


def _check_process(process: str) -> str:
    if process not in PROCESSES:
        lowered = {name.lower(): name for name in PROCESSES}
        hint = f" Did you mean {lowered[process.lower()]!r}?" if isinstance(process, str) and process.lower() in lowered else ""
        raise ValueError(f"unknown process {process!r}; choose one of {sorted(PROCESSES)}.{hint}")
    return process


def _check_range(value: Any, name: str, unit: str = "GeV") -> tuple[float, float]:
    """A window ``(low, high)`` of two finite numbers with ``low < high``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be two numbers (low, high) in {unit}; got {value!r}")
    low, high = (check_number(v, f"{name}[{k}]") for k, v in enumerate(value))
    if not low < high:
        raise ValueError(f"{name} must satisfy low < high ({unit}); got {value!r}")
    return low, high


def _check_generation_settings(process: str, n: int, pt_range: tuple[float, float], R: float,
                               eta_max: float) -> tuple[float, float]:
    _check_process(process)
    check_integer(n, "n", minimum=1, example="500")
    try:
        low, high = _check_range(pt_range, "pt_range")
    except TypeError:
        raise ValueError(f"pt_range must be two numbers (low, high) in GeV; got {pt_range!r}") from None
    if low < _PT_MIN_GEV or high > _PT_MAX_GEV:
        raise ValueError(
            f"pt_range {pt_range!r} GeV is outside what these generator settings make: the hard process is "
            f"generated with pTHatMin = 0.9 x low, which is unreliable below {_PT_MIN_GEV:.0f} GeV, and 13 TeV "
            f"collisions give almost no jets above {_PT_MAX_GEV:.0f} GeV. Choose a window within "
            f"[{_PT_MIN_GEV:.0f}, {_PT_MAX_GEV:.0f}] GeV, e.g. (500, 600).")
    check_number(R, "jet radius R", low=0.0, high=2.0, low_open=True, example="0.8")
    check_positive(eta_max, "eta_max", example="2.0")
    return low, high


def pythia_settings(process: str, *, pt_range: tuple[float, float] = (500.0, 600.0), mpi: bool = False,
                    seed: int = 0) -> list[str]:
    """The Pythia 8 ``readString`` lines used for one chunk of jets.

    Parameters
    ----------
    process : {"W", "top", "QCD"}
    pt_range : (float, float)
        Jet pT window in GeV; the hard process starts at ``pTHatMin = 0.9 * low``.
    mpi : bool
        Multiparton interactions (underlying event). Off by default: 4-5x faster.
    seed : int
        Pythia's random seed, 1 <= seed <= 900000000.

    Examples
    --------
    >>> pythia_settings("QCD", seed=7)[:2]
    ['Beams:eCM = 13000', 'PhaseSpace:pTHatMin = 450']
    """
    _check_process(process)
    return [
        "Beams:eCM = 13000",
        f"PhaseSpace:pTHatMin = {0.9 * float(pt_range[0]):g}",
        *PROCESSES[process],
        f"PartonLevel:MPI = {'on' if mpi else 'off'}",
        "Random:setSeed = on",
        f"Random:seed = {int(seed)}",
        "Print:quiet = on",
        "Next:numberCount = 0",
    ]


def _chunk_seed(seed: int, chunk: int) -> int:
    """Pythia seed of one chunk, derived from the user's seed; independent of n_jobs."""
    state = np.random.SeedSequence([int(seed), int(chunk)]).generate_state(1, dtype=np.uint32)[0]
    return int(state % 900_000_000) + 1


def _generate_chunk(process: str, n_jets: int, seed: int, pt_range: tuple[float, float], R: float,
                    eta_max: float, mpi: bool) -> dict[str, Any]:
    """Generate ``n_jets`` accepted jets with one Pythia instance. Runs in a worker process."""
    import pythia8mc

    start = time.perf_counter()
    pythia = pythia8mc.Pythia("", False)
    for line in pythia_settings(process, pt_range=pt_range, mpi=mpi, seed=seed):
        pythia.readString(line)
    initialised = pythia.init()
    # Pythia's own work (set-up, initialisation, event generation) is timed apart from ours.
    seconds_in_pythia = time.perf_counter() - start
    if not initialised:
        raise RuntimeError(f"Pythia failed to initialise for process {process!r}; settings: "
                           f"{pythia_settings(process, pt_range=pt_range, mpi=mpi, seed=seed)}")
    low, high = pt_range
    # anti-kT (power -1) on visible final-state particles (select 2) with true masses (massSet 2);
    # jets softer than 0.8 x low cannot lead inside the window, so fjcore never builds them.
    slow_jet = pythia8mc.SlowJet(-1, R, 0.8 * low, 25.0, 2, 2)
    match_id = _MATCH_PDG_ID.get(process)
    rows, jets = [], []
    n_events = 0
    with _quiet_stdout():  # fjcore prints its banner on first use
        while len(jets) < n_jets:
            n_events += 1
            start = time.perf_counter()
            generated = pythia.next()
            seconds_in_pythia += time.perf_counter() - start
            if not generated:
                continue
            event = pythia.event
            # A jet with |eta| < eta_max has |y| < eta_max, so a W / top further out than
            # eta_max + MATCH_DELTA_R in rapidity can never be matched: skip clustering.
            if match_id is not None and not _truth_within(event, match_id, eta_max + MATCH_DELTA_R):
                continue
            slow_jet.analyze(event)
            if slow_jet.sizeJet() == 0:
                continue
            pt = slow_jet.pT(0)
            if not (low < pt < high):
                continue
            four_momentum = slow_jet.p(0)
            if abs(four_momentum.eta()) >= eta_max:
                continue
            jet_y, jet_phi = slow_jet.y(0), slow_jet.phi(0)
            if match_id is not None and not _is_matched(event, match_id, jet_y, jet_phi):
                continue
            constituents = slow_jet.constituents(0)
            particles = np.array([(event[i].pT(), event[i].y(), event[i].phi()) for i in constituents])
            rows.append(particles[np.argsort(-particles[:, 0], kind="stable")])
            jets.append((pt, jet_y, jet_phi, slow_jet.m(0)))
    width = max(len(r) for r in rows)
    padded = np.zeros((n_jets, width, 3))
    mask = np.zeros((n_jets, width), dtype=bool)
    for k, r in enumerate(rows):
        padded[k, : len(r)] = r
        mask[k, : len(r)] = True
    jet_array = np.array(jets)
    return {"particles": padded, "mask": mask, "pt": jet_array[:, 0], "y": jet_array[:, 1],
            "phi": jet_array[:, 2], "mass": jet_array[:, 3], "n_events": n_events,
            "seconds_in_pythia": seconds_in_pythia}


def _truth_within(event: Any, pdg_id: int, max_abs_y: float) -> bool:
    """Whether a true W / top of the hard process lies within |y| < max_abs_y."""
    return any(abs(event[i].id()) == pdg_id and abs(event[event[i].iBotCopyId()].y()) < max_abs_y
               for i in (5, 6))


def _is_matched(event: Any, pdg_id: int, jet_y: float, jet_phi: float) -> bool:
    """Whether a true W / top (last copy before decay) lies within MATCH_DELTA_R of the jet."""
    for index in (5, 6):  # the two outgoing partons of the 2 -> 2 hard process
        if abs(event[index].id()) == pdg_id:
            truth = event[event[index].iBotCopyId()]
            if _delta_r(jet_y, jet_phi, truth.y(), truth.phi()) < MATCH_DELTA_R:
                return True
    return False


def _delta_r(y1: float, phi1: float, y2: float, phi2: float) -> float:
    dphi = (phi1 - phi2 + math.pi) % (2 * math.pi) - math.pi
    return math.hypot(y1 - y2, dphi)


def _run_chunks(process: str, chunks: Sequence[int], seed: int, pt_range: tuple[float, float], R: float,
                eta_max: float, mpi: bool, n_jobs: int, progress: bool) -> list[dict[str, Any]]:
    """Generate whole chunks (CHUNK_SIZE jets each), in parallel workers when n_jobs != 1."""
    from tqdm.auto import tqdm

    tasks = [(process, CHUNK_SIZE, _chunk_seed(seed, c), pt_range, R, eta_max, mpi) for c in chunks]
    bar = tqdm(total=len(tasks) * CHUNK_SIZE, desc=f"Pythia 8: {process} jets", unit="jet", disable=not progress)
    results: list[dict[str, Any]] = []
    try:
        if n_jobs == 1 or len(tasks) == 1:
            for task in tasks:
                results.append(_generate_chunk(*task))
                bar.update(CHUNK_SIZE)
        else:
            from joblib import Parallel, delayed

            ordered: dict[int, dict[str, Any]] = {}
            stream = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
                delayed(_indexed)(k, _generate_chunk, task) for k, task in enumerate(tasks))
            for k, result in stream:
                ordered[k] = result
                bar.update(CHUNK_SIZE)
            results = [ordered[k] for k in range(len(tasks))]
    finally:
        bar.close()
    return results


def _indexed(k: int, function: Any, args: tuple) -> tuple[int, Any]:
    return k, function(*args)


def _jets_from_chunks(process: str, results: Sequence[dict[str, Any]], settings: dict) -> Jets:
    width = max(r["particles"].shape[1] for r in results)
    jets = Jets(
        particles=np.concatenate([_pad_to(r["particles"], width) for r in results]),
        mask=np.concatenate([_pad_to(r["mask"], width) for r in results]),
        pt=np.concatenate([r["pt"] for r in results]),
        y=np.concatenate([r["y"] for r in results]),
        phi=np.concatenate([r["phi"] for r in results]),
        mass=np.concatenate([r["mass"] for r in results]),
        process=process,
        settings=dict(settings, n_events=int(sum(r["n_events"] for r in results))),
    )
    return jets


def _generation_settings(process: str, pt_range: tuple[float, float], R: float, eta_max: float, mpi: bool,
                         seed: int) -> dict[str, Any]:
    import fastjet
    import pythia8mc

    return {
        "process": process,
        "pt_range": [float(pt_range[0]), float(pt_range[1])],
        "R": float(R),
        "eta_max": float(eta_max),
        "mpi": bool(mpi),
        "seed": int(seed),
        "chunk_size": CHUNK_SIZE,
        "match_delta_r": MATCH_DELTA_R if process in _MATCH_PDG_ID else None,
        "jet_algorithm": f"anti-kT, R = {R:g}, visible final-state particles, leading jet",
        "pythia_settings": pythia_settings(process, pt_range=pt_range, mpi=mpi, seed=0)[:-3],
        "pythia_version": _package_version("pythia8mc"),
        "fastjet_version": _package_version("fastjet"),
        "format_version": FORMAT_VERSION,
    }


def _package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def generate_jets(process: str, n: int, *, pt_range: tuple[float, float] = (500.0, 600.0), R: float = 0.8,
                  eta_max: float = 2.0, mpi: bool = False, seed: int = 0, n_jobs: int | None = -1,
                  progress: bool = True) -> Jets:
    """Generate jets with Pythia 8 and anti-kT clustering (no cache; see :func:`load_jets`).

    Parameters
    ----------
    process : {"W", "top", "QCD"}
        W -> qq' jets from ``q qbar -> W g`` and ``q g -> W q``; hadronic top jets from ``t tbar``;
        light-quark and gluon jets from all hard QCD 2 -> 2 processes.
    n : int
        Number of jets (> 0).
    pt_range : (float, float)
        Window on the leading jet's pT, GeV.
    R : float
        Anti-kT radius.
    eta_max : float
        Cut on the leading jet's pseudorapidity.
    mpi : bool
        Multiparton interactions; off by default (4-5x faster).
    seed : int
        Same seed, same jets, whatever ``n_jobs``.
    n_jobs : int or None
        Worker processes, joblib's convention as everywhere in the package: -1 (default) every
        core, 1 or None in this process. A single chunk of jets always runs in this process.
    progress : bool
        Show a ``tqdm`` progress bar.

    Returns
    -------
    Jets
        ``particles`` of shape (n, M, 3) in GeV and radians, jet pT / y / phi / mass, settings.

    Examples
    --------
    >>> jets = generate_jets("W", 100, seed=3, progress=False)   # doctest: +SKIP
    >>> 70 < float(np.median(jets.mass)) < 90                    # doctest: +SKIP
    True
    """
    pt_range = _check_generation_settings(process, n, pt_range, R, eta_max)
    n_jobs = check_n_jobs(n_jobs)
    n_chunks = -(-int(n) // CHUNK_SIZE)
    settings = _generation_settings(process, pt_range, R, eta_max, mpi, seed)
    results = _run_chunks(process, range(n_chunks), seed, pt_range, R, eta_max, mpi, n_jobs, progress)
    return _jets_from_chunks(process, results, settings)[: int(n)]


# --------------------------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Folder of cached jets: ``$JETGEOM_DATA`` if set, else the user's cache folder.

    Raises
    ------
    OSError
        If the folder cannot be created or written, with a hint to set ``JETGEOM_DATA``.
    """
    folder = os.environ.get("JETGEOM_DATA")
    if folder:
        path = Path(folder).expanduser()
    else:
        from platformdirs import user_cache_dir

        path = Path(user_cache_dir("jetgeom")) / "jets"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise OSError(f"cannot write to the jet cache folder {path} ({error.strerror or error}); "
                      f"set the environment variable JETGEOM_DATA to a writable folder.") from error
    return path


_ARRAYS = ("particles", "mask", "pt", "y", "phi", "mass")


def _checksum(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in _ARRAYS:
        array = np.ascontiguousarray(arrays[name])
        digest.update(name.encode())
        digest.update(str(array.dtype).encode() + str(array.shape).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _cache_key(settings: dict) -> str:
    keyed = {k: v for k, v in settings.items() if k not in ("n_events", "fastjet_version")}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:16]


def _write_cache(path: Path, jets: Jets) -> None:
    """Write atomically: a temporary file in the same folder, fsync, then rename over ``path``."""
    arrays = {name: getattr(jets, name) for name in _ARRAYS}
    metadata = {"settings": jets.settings, "n_jets": len(jets), "checksum": _checksum(arrays),
                "jetgeom_lite": _package_version("jetgeom-lite"), "numpy": np.__version__}
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.stem + ".", suffix=".tmp", delete=False)
    try:
        with handle:
            np.savez_compressed(handle, metadata=np.array(json.dumps(metadata)), **arrays)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise


class CacheError(ValueError):
    """A cache file is truncated, corrupt or made with other settings."""


def _read_cache(path: Path, settings: dict) -> Jets:
    try:
        with np.load(path, allow_pickle=False) as archive:
            metadata = json.loads(str(archive["metadata"]))
            arrays = {name: archive[name] for name in _ARRAYS}
    except Exception as error:  # zipfile, zlib, json and key errors all mean an unreadable file
        raise CacheError(f"cannot be read ({type(error).__name__}: {error})") from None
    if _checksum(arrays) != metadata.get("checksum"):
        raise CacheError("its checksum does not match its contents")
    stored = {k: v for k, v in metadata.get("settings", {}).items() if k not in ("n_events", "fastjet_version")}
    wanted = {k: v for k, v in settings.items() if k not in ("n_events", "fastjet_version")}
    if stored != wanted:
        changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        raise CacheError(f"it was made with other settings (differs in {changed})")
    return Jets(**arrays, process=settings["process"], settings=metadata["settings"])


# A mass window that keeps fewer than this fraction of the jets is most likely a mistake (wrong unit?).
_MIN_WINDOW_ACCEPTANCE = 0.01


def select_mass_window(jets: Jets, mass_range: tuple[float, float]) -> Jets:
    """The jets whose mass lies strictly inside ``mass_range`` (GeV), in their original order.

    ``low < m_J < high`` with ``m_J`` the jet mass from the generator's four-momenta
    (``jets.mass``, unchanged by preprocessing). The paper's W selection is ``(75, 110)``.
    ``settings["mass_range"]`` records the window.

    Parameters
    ----------
    jets : Jets
    mass_range : (float, float)
        ``(low, high)`` in GeV.

    Returns
    -------
    Jets

    Examples
    --------
    >>> jets = Jets(np.ones((3, 1, 3)), np.ones((3, 1), bool), np.ones(3), np.zeros(3), np.zeros(3),
    ...             np.array([60.0, 80.0, 100.0]), "W")
    >>> select_mass_window(jets, (75, 110)).mass.tolist()
    [80.0, 100.0]
    """
    if not isinstance(jets, Jets):
        raise TypeError(f"jets must be a Jets (from load_jets or a reader); got {type(jets).__name__}")
    low, high = _check_range(mass_range, "mass_range")
    inside = (jets.mass > low) & (jets.mass < high)
    selected = jets[np.flatnonzero(inside)]
    return replace(selected, settings=dict(selected.settings, mass_range=[low, high]))


def load_jets(process: str, n: int, *, seed: int = 0, pt_range: tuple[float, float] = (500.0, 600.0),
              R: float = 0.8, eta_max: float = 2.0, mpi: bool = False,
              mass_range: tuple[float, float] | None = None, n_jobs: int | None = -1,
              progress: bool = True) -> Jets:
    """Load ``n`` jets from the cache, generating (and caching) whatever is missing.

    The cache file is keyed by every generation setting (not by ``n``): a request for fewer
    jets than a file holds returns its first ``n``; a request for more generates only the
    missing chunks, and the first ``n`` jets are the same whatever was asked before. Files are
    written atomically with a SHA-256 checksum and locked while written, so two processes asking
    at once do not corrupt them; a truncated, corrupt or mismatched file is reported with a
    warning and regenerated.

    With ``mass_range`` the result is the first ``n`` jets of that same sample whose mass lies
    inside the window (:func:`select_mass_window`); as many more chunks are generated as the
    window needs. The cache keeps the unselected jets, so a windowed and an unwindowed request
    share one file and can never be confused: the window is applied after reading, every time,
    and recorded in ``settings["mass_range"]``.

    Parameters
    ----------
    process, n, seed, pt_range, R, eta_max, mpi, n_jobs, progress
        As in :func:`generate_jets` (``n_jobs=-1``: every core).
    mass_range : (float, float), optional
        Keep only jets with ``low < m_J < high`` (GeV), e.g. ``(75, 110)``, the paper's W
        selection (it kept 602k of 862k jets there; about 70% of our W jets pass).

    Returns
    -------
    Jets

    Raises
    ------
    ValueError
        Bad settings, or a window that keeps under 1% of the jets (wrong unit?).

    Examples
    --------
    >>> qcd = load_jets("QCD", 300, seed=2)     # doctest: +SKIP
    >>> qcd.particles.shape[0]                  # doctest: +SKIP
    300
    >>> w = load_jets("W", 300, seed=2, mass_range=(75, 110))     # doctest: +SKIP
    >>> bool(((w.mass > 75) & (w.mass < 110)).all())               # doctest: +SKIP
    True
    """
    pt_range = _check_generation_settings(process, n, pt_range, R, eta_max)
    n_jobs = check_n_jobs(n_jobs)
    check_bool(mpi, "mpi")
    seed = check_integer(seed, "seed")
    if mass_range is None:
        return _load_unselected(process, int(n), seed, pt_range, R, eta_max, mpi, n_jobs, progress)
    low, high = _check_range(mass_range, "mass_range")
    n_raw = int(n)
    while True:
        raw = _load_unselected(process, n_raw, seed, pt_range, R, eta_max, mpi, n_jobs, progress)
        inside = np.flatnonzero((raw.mass > low) & (raw.mass < high))
        if len(inside) >= n:
            selected = raw[inside[: int(n)]]
            return replace(selected, settings=dict(selected.settings, mass_range=[low, high]))
        acceptance = len(inside) / len(raw)
        if (len(raw) >= 10 * CHUNK_SIZE and acceptance < _MIN_WINDOW_ACCEPTANCE) or (
                len(raw) >= 2 * CHUNK_SIZE and len(inside) == 0):
            raise ValueError(f"mass_range {mass_range!r} GeV keeps {len(inside)} of {len(raw)} {process} jets; "
                             f"the window is in GeV and should contain the jets' mass peak, e.g. (75, 110) for W "
                             f"(median mass here {np.median(raw.mass):.1f} GeV).")
        missing = int(n) - len(inside)
        # generate what the acceptance so far says is missing, plus 10% and one chunk of margin
        n_raw = len(raw) + int(math.ceil(1.1 * missing / max(acceptance, _MIN_WINDOW_ACCEPTANCE))) + CHUNK_SIZE


def _load_unselected(process: str, n: int, seed: int, pt_range: tuple[float, float], R: float, eta_max: float,
                     mpi: bool, n_jobs: int, progress: bool) -> Jets:
    """The first ``n`` jets of the cached sample (no mass window), generating missing chunks."""
    from filelock import FileLock

    settings = _generation_settings(process, pt_range, R, eta_max, mpi, seed)
    path = cache_dir() / f"{process}_{_cache_key(settings)}.npz"
    with FileLock(str(path) + ".lock"):
        cached: Jets | None = None
        if path.exists():
            try:
                cached = _read_cache(path, settings)
            except CacheError as problem:
                warnings.warn(f"The cached jet file {path.name} in {path.parent} {problem}; it is deleted and "
                              f"the jets are generated again.", RuntimeWarning, stacklevel=2)
                path.unlink(missing_ok=True)
        if cached is not None and len(cached) >= n:
            return cached[: int(n)]
        have_chunks = 0 if cached is None else len(cached) // CHUNK_SIZE
        need_chunks = -(-int(n) // CHUNK_SIZE)
        results = _run_chunks(process, range(have_chunks, need_chunks), seed, pt_range, R, eta_max, mpi,
                              n_jobs, progress)
        fresh = _jets_from_chunks(process, results, settings)
        if cached is not None:
            total_events = cached.settings.get("n_events", 0) + fresh.settings["n_events"]
            fresh = Jets.concatenate([cached[: have_chunks * CHUNK_SIZE], fresh])
            fresh = replace(fresh, settings=dict(fresh.settings, n_events=total_events))
        _write_cache(path, fresh)
        return fresh[: int(n)]


# --------------------------------------------------------------------------------------------
# Preprocessing
# --------------------------------------------------------------------------------------------


def _recluster(jets: Jets, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Anti-kT micro-jets of each jet's particles (treated as massless), with FastJet."""
    import awkward as ak
    import fastjet

    with _quiet_stdout():  # FastJet prints its banner when it first clusters, which may be here
        micro = _cluster_sequence(jets, fastjet.antikt_algorithm, radius).inclusive_jets()
    px, py, pz, energy = (ak.to_list(micro[c]) for c in ("px", "py", "pz", "E"))
    width = max(len(row) for row in px)
    particles = np.zeros((len(jets), width, 3))
    mask = np.zeros((len(jets), width), dtype=bool)
    for k in range(len(jets)):
        jpx, jpy, jpz, je = (np.asarray(v, dtype=np.float64) for v in (px[k], py[k], pz[k], energy[k]))
        jpt = np.hypot(jpx, jpy)
        jy = 0.5 * np.log((je + jpz) / (je - jpz))
        order = np.argsort(-jpt, kind="stable")
        particles[k, : len(jpt)] = np.stack([jpt, jy, np.arctan2(jpy, jpx)], axis=1)[order]
        mask[k, : len(jpt)] = True
    return particles, mask


def preprocess(jets: Jets, *, center: bool = True, normalize: bool = True, recluster_R: float | None = None,
               max_particles: int | None = None) -> Jets:
    """Prepare jets for distances and learning, in the paper's order.

    1. ``recluster_R``: recluster each jet's particles into anti-kT micro-jets of that radius
       (FastJet), which merges collinear splittings the EMD barely sees.
    2. ``max_particles``: keep the hardest N particles (or micro-jets).
    3. ``center``: shift (y, phi) so the pT-weighted centroid sits at (0, 0), with phi wrapped
       around the jet axis first. Jets are never rotated: the orientation of the prongs is
       physics the VAE should learn.
    4. ``normalize``: divide pT by the jet's scalar pT sum, so each jet sums to 1.

    Parameters
    ----------
    jets : Jets
        Raw jets, pT in GeV.
    center, normalize : bool
    recluster_R : float, optional
        Micro-jet radius (the paper uses 0.07); ``None`` keeps the particles.
    max_particles : int, optional
        Keep at most this many, zero-padding shorter jets (the paper uses 50).

    Returns
    -------
    Jets
        Same jets; ``particles`` of shape (n, min(M', max_particles), 3); jet-level pT, y, phi
        and mass unchanged; ``settings["preprocessing"]`` records what was done.

    Examples
    --------
    >>> w = load_jets("W", 100, seed=1, progress=False)                  # doctest: +SKIP
    >>> wp = preprocess(w, recluster_R=0.07, max_particles=50)           # doctest: +SKIP
    >>> np.allclose(wp.particles[..., 0].sum(axis=1), 1.0)               # doctest: +SKIP
    True
    """
    if not isinstance(jets, Jets):
        raise TypeError(f"preprocess expects a Jets (from load_jets or a reader); got {type(jets).__name__}")
    if len(jets) == 0:
        raise ValueError("no jets to preprocess: the sample is empty")
    if jets.settings.get("preprocessing"):
        raise ValueError("these jets are already preprocessed; preprocess the raw jets once, with all options")
    center, normalize = check_bool(center, "center"), check_bool(normalize, "normalize")
    if recluster_R is not None:
        recluster_R = check_positive(recluster_R, "recluster_R", example="0.07")
    if max_particles is not None:
        max_particles = check_integer(max_particles, "max_particles", minimum=1, example="50")
    # real particles checked (finite, pT >= 0, at least one per jet); padding rows, never read,
    # may hold anything and are set to zero here
    particles, mask = check_jets(jets.particles, jets.mask, "jets.particles")
    totals = np.where(mask, particles[..., 0], 0.0).sum(axis=1)
    if np.any(totals <= 0):
        zero = np.flatnonzero(totals <= 0)[:5].tolist()
        raise ValueError(f"jets {zero} have zero total pT (every real particle has pT = 0), so they have no "
                         "centre and cannot be normalised; remove them, e.g. jets[jets.particles[..., 0].sum(1) > 0].")
    jets = replace(jets, particles=particles, mask=mask)

    if recluster_R is not None:
        particles, mask = _recluster(jets, float(recluster_R))
    else:
        particles, mask = jets.particles.copy(), jets.mask.copy()
    if max_particles is not None and particles.shape[1] > max_particles:
        particles, mask = particles[:, : int(max_particles)].copy(), mask[:, : int(max_particles)].copy()
    weights = particles[..., 0] * mask
    if center:
        total = weights.sum(axis=1, keepdims=True)
        phi_about_axis = _wrap_phi(particles[..., 2] - jets.phi[:, None])
        y_centre = (weights * particles[..., 1]).sum(axis=1, keepdims=True) / total
        phi_centre = (weights * phi_about_axis).sum(axis=1, keepdims=True) / total
        particles[..., 1] = np.where(mask, particles[..., 1] - y_centre, 0.0)
        particles[..., 2] = np.where(mask, _wrap_phi(phi_about_axis - phi_centre), 0.0)
    if normalize:
        particles[..., 0] = weights / weights.sum(axis=1, keepdims=True)
    record = {"center": bool(center), "normalize": bool(normalize),
              "recluster_R": None if recluster_R is None else float(recluster_R),
              "max_particles": None if max_particles is None else int(max_particles)}
    return replace(jets, particles=particles, mask=mask, settings=dict(jets.settings, preprocessing=record))


# --------------------------------------------------------------------------------------------
# Readers for public data sets a reader may have on disk
# --------------------------------------------------------------------------------------------


def _from_four_momenta(energy: np.ndarray, px: np.ndarray, py: np.ndarray, pz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n, M) four-momentum components to zero-padded (pT, y, phi) particles sorted by pT."""
    mask = energy > 0
    pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.where(mask, 0.5 * np.log((energy + pz) / (energy - pz)), 0.0)
    phi = np.where(mask, np.arctan2(py, px), 0.0)
    particles = np.stack([np.where(mask, pt, 0.0), y, phi], axis=-1)
    order = np.argsort(-particles[..., 0], axis=1, kind="stable")
    return np.take_along_axis(particles, order[..., None], axis=1), np.take_along_axis(mask, order, axis=1)


def _jet_kinematics(particles: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Jet pT, y, phi, mass [GeV] from massless constituents."""
    pt, y, phi = (particles[..., k] * mask for k in range(3))
    px, py = (pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1)
    pz, energy = (pt * np.sinh(y)).sum(1), (pt * np.cosh(y)).sum(1)
    jet_pt = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        jet_y = np.where(energy > 0, 0.5 * np.log((energy + pz) / (energy - pz)), 0.0)
    mass = np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0))
    return jet_pt, jet_y, np.arctan2(py, px), mass


def _limit(n: int | None, total: int) -> int:
    if n is None:
        return total
    return min(check_integer(n, "n", minimum=1, example="1000"), total)


def read_qg_jets(path: str | os.PathLike, n: int | None = None) -> Jets:
    """Read one of energyflow's quark/gluon files (``QG_jets*.npz``, Komiske et al. 2019).

    Each file holds ``X`` of shape (n, M, 4) with rows (pT [GeV], y, phi, pdgid), zero-padded,
    and ``y`` with 1 for quark and 0 for gluon jets (Pythia 8, 500-550 GeV, anti-kT R = 0.4).

    Parameters
    ----------
    path : path-like
        The ``.npz`` file, as downloaded by ``energyflow.qg_jets.load`` when online.
    n : int, optional
        Read only the first n jets.

    Returns
    -------
    Jets
        ``process="qg_jets"``, ``labels`` 1 = quark, 0 = gluon.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            features, labels = archive["X"], archive["y"]
    except KeyError as error:
        raise ValueError(f"{path} is not an energyflow qg_jets file: it lacks the array {error}") from None
    if features.ndim != 3 or features.shape[2] < 3:
        raise ValueError(f"{path}: X must have shape (n, M, 4) with rows (pT, y, phi, pid); got {features.shape}")
    count = _limit(n, len(features))
    features = features[:count, :, :3].astype(np.float64)
    mask = features[..., 0] > 0
    # energyflow's files store phi in [0, 2 pi); the book uses [-pi, pi)
    features[..., 2] = np.where(mask, _wrap_phi(features[..., 2]), 0.0)
    pt, y, phi, mass = _jet_kinematics(features, mask)
    return Jets(features, mask, pt, y, phi, mass, "qg_jets",
                {"source": str(path.name), "labels": "1 = quark, 0 = gluon", "R": 0.4}, labels[:count].astype(int))


def read_top_tagging(path: str | os.PathLike, n: int | None = None, *, max_particles: int = 200) -> Jets:
    """Read the top-tagging reference set (Kasieczka et al. 2019) from its pandas HDF5 file.

    The files (``train.h5``, ``val.h5``, ``test.h5``) hold one table, key ``"table"``, in pandas'
    fixed format: columns ``E_i, PX_i, PY_i, PZ_i`` for the 200 hardest constituents (GeV, zero
    when absent) and ``is_signal_new`` (1 = top, 0 = QCD). Read with h5py, no PyTables needed.

    Parameters
    ----------
    path : path-like
    n : int, optional
        Read only the first n jets.
    max_particles : int
        Constituents to read per jet (at most 200).

    Returns
    -------
    Jets
        ``process="top_tagging"``, ``labels`` 1 = top, 0 = QCD.
    """
    import h5py

    path = Path(path)
    with h5py.File(path, "r") as handle:
        if "table" not in handle:
            raise ValueError(f"{path} has no 'table' group; is it a top-tagging reference file (pandas fixed format)?")
        group = handle["table"]
        columns: dict[str, tuple[str, int]] = {}
        blocks = sorted(k[: -len("_items")] for k in group if k.startswith("block") and k.endswith("_items"))
        for block in blocks:
            for position, name in enumerate(group[block + "_items"][()]):
                columns[name.decode() if isinstance(name, bytes) else str(name)] = (block, position)
        needed = [f"{c}_{i}" for i in range(min(max_particles, 200)) for c in ("E", "PX", "PY", "PZ")]
        missing = [c for c in needed[:4] + ["is_signal_new"] if c not in columns]
        if missing:
            raise ValueError(f"{path}: columns {missing} are missing; not a top-tagging reference table")
        total = group["axis1"].shape[0]
        count = _limit(n, total)
        cache: dict[str, np.ndarray] = {}

        def column(name: str) -> np.ndarray:
            block, position = columns[name]
            if block not in cache:
                cache[block] = group[block + "_values"][:count]
            return cache[block][:, position]

        width = sum(1 for i in range(min(max_particles, 200)) if f"E_{i}" in columns)
        parts = {c: np.stack([column(f"{c}_{i}") for i in range(width)], axis=1).astype(np.float64)
                 for c in ("E", "PX", "PY", "PZ")}
        labels = column("is_signal_new").astype(int)
    particles, mask = _from_four_momenta(parts["E"], parts["PX"], parts["PY"], parts["PZ"])
    pt, y, phi, mass = _jet_kinematics(particles, mask)
    return Jets(particles, mask, pt, y, phi, mass, "top_tagging",
                {"source": str(path.name), "labels": "1 = top, 0 = QCD", "R": 0.8}, labels)


def read_jetnet(particle_features: np.ndarray | str | os.PathLike, jet_features: np.ndarray | None = None, *,
                n: int | None = None) -> Jets:
    """Read JetNet-style arrays (Kansal et al. 2021) into ``Jets``.

    JetNet stores particle features ``(etarel, phirel, ptrel, mask)`` of shape (n, 30, 4) and jet
    features ``(type, pt, eta, mass, num_particles)`` of shape (n, 5). Particles are massless, so
    y = eta.

    Parameters
    ----------
    particle_features : ndarray or path-like
        The (n, M, 4) array, or an ``.hdf5``/``.h5`` file with datasets ``particle_features`` and
        ``jet_features`` (JetNet's file layout) or an ``.npz`` with the same keys.
    jet_features : ndarray, optional
        The (n, 5) array. Without it pT stays relative (``ptrel``) and jet y/phi are 0.
    n : int, optional
        Read only the first n jets.

    Returns
    -------
    Jets
        ``process="jetnet"``; ``labels`` is JetNet's jet type where given.
    """
    if isinstance(particle_features, (str, os.PathLike)):
        path = Path(particle_features)
        if path.suffix in (".h5", ".hdf5"):
            import h5py

            with h5py.File(path, "r") as handle:
                if "particle_features" not in handle:
                    raise ValueError(f"{path} has no 'particle_features' dataset; not a JetNet file")
                particle_features = handle["particle_features"][()]
                jet_features = handle["jet_features"][()] if "jet_features" in handle else jet_features
        else:
            with np.load(path, allow_pickle=False) as archive:
                if "particle_features" not in archive:
                    raise ValueError(f"{path} has no 'particle_features' array; not a JetNet file")
                particle_features = archive["particle_features"]
                jet_features = archive["jet_features"] if "jet_features" in archive else jet_features
    features = np.asarray(particle_features, dtype=np.float64)
    if features.ndim != 3 or features.shape[2] != 4:
        raise ValueError(f"particle_features must have shape (n, M, 4) = (etarel, phirel, ptrel, mask); got {features.shape}")
    count = _limit(n, len(features))
    features = features[:count]
    mask = features[..., 3] > 0.5
    eta_rel, phi_rel, pt_rel = features[..., 0], features[..., 1], features[..., 2]
    labels = None
    if jet_features is not None:
        jet = np.asarray(jet_features, dtype=np.float64)[:count]
        if jet.ndim != 2 or jet.shape[1] < 3 or len(jet) != count:
            raise ValueError(f"jet_features must have shape ({count}, 5) = (type, pt, eta, mass, num_particles); got {jet.shape}")
        pt_scale, eta_shift = jet[:, 1:2], jet[:, 2:3]
        labels = jet[:, 0].astype(int)
    else:
        pt_scale, eta_shift = np.ones((count, 1)), np.zeros((count, 1))
    particles = np.stack([pt_rel * pt_scale, eta_rel + eta_shift, phi_rel], axis=-1) * mask[..., None]
    if np.any(particles[..., 0][mask] < 0):
        raise ValueError("particle_features hold negative ptrel for real particles; the file is not JetNet-style")
    order = np.argsort(-particles[..., 0], axis=1, kind="stable")
    particles = np.take_along_axis(particles, order[..., None], axis=1)
    mask = np.take_along_axis(mask, order, axis=1)
    pt, y, phi, mass = _jet_kinematics(particles, mask)
    return Jets(particles, mask, pt, y, phi, mass, "jetnet",
                {"source": "JetNet-style arrays", "relative_pt": jet_features is None}, labels)
