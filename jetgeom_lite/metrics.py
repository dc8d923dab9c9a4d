"""Metrics that judge a result against the truth: taggers (ROC, AUC) and generated jets.

Classification metrics take a score per jet (larger = more signal-like) and the true labels
(1 = signal, 0 = background). Labels are read only here, to judge a score that was made without
them.

Generated-jet metrics (chapter 6) compare a generated sample with a real one, after Kansal et
al. (arXiv:2211.10295): W1 of 1-d observables (:func:`wasserstein_1d`), FPD and KPD on IRC-safe
energy flow polynomials (:func:`irc_safe_features`), and EMD coverage/MMD (:func:`coverage_mmd`).
Jets are energyflow-style ``(pT, y, phi)`` rows, zero-padded ``(n_jets, M, 3)`` with a mask (or a
:class:`~jetgeom_lite.data.Jets`); decoder output goes through :func:`generated_jets` first. Every
resampling is seeded; always quote a real-vs-real value at the same sample size beside a result.

>>> import numpy as np
>>> from jetgeom_lite.metrics import roc_auc
>>> round(roc_auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])), 3)
0.75
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

__all__ = ["RocCurve", "roc_curve", "roc_auc", "AucEstimate", "bootstrap_auc"]


def _score_and_labels(score, labels) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (score, labels) pair: 1-d, same length, finite scores, labels in {0, 1}."""
    score = np.asarray(score, dtype=np.float64)
    labels = np.asarray(labels)
    if score.ndim != 1 or labels.ndim != 1:
        raise ValueError(f"score and labels must be 1-d arrays (one entry per jet); got shapes "
                         f"{score.shape} and {labels.shape}")
    if score.shape != labels.shape:
        raise ValueError(f"score and labels must have the same length; got {score.size} and {labels.size}")
    if not np.all(np.isfinite(score)):
        raise ValueError(f"score contains {int(np.sum(~np.isfinite(score)))} NaN or infinite values; "
                         "drop those jets or fix the scorer")
    if labels.dtype == bool:
        labels = labels.astype(np.int8)
    if not np.all((labels == 0) | (labels == 1)):
        raise ValueError("labels must be 0 (background) or 1 (signal)")
    labels = labels.astype(np.int8)
    n_signal = int(labels.sum())
    if n_signal == 0 or n_signal == labels.size:
        raise ValueError("labels must contain both classes (at least one 0 and one 1) to draw a ROC curve")
    return score, labels


@dataclass(frozen=True)
class RocCurve:
    """A ROC curve, one point per distinct threshold, from the strictest cut to the loosest.

    Attributes
    ----------
    signal_efficiency : ndarray, shape (k,)
        Fraction of signal jets with score >= threshold (true-positive rate).
    background_efficiency : ndarray, shape (k,)
        Fraction of background jets with score >= threshold (false-positive rate).
    thresholds : ndarray, shape (k,)
        The score cuts, decreasing.
    """

    signal_efficiency: np.ndarray
    background_efficiency: np.ndarray
    thresholds: np.ndarray

    @property
    def background_rejection(self) -> np.ndarray:
        """1 / background efficiency (inf where no background passes), the collider convention."""
        with np.errstate(divide="ignore"):
            return 1.0 / self.background_efficiency


def roc_curve(score, labels) -> RocCurve:
    """ROC curve of a score (larger = more signal-like) against true labels.

    Parameters
    ----------
    score : array_like, shape (n,)
        One finite score per jet.
    labels : array_like, shape (n,)
        1 for signal, 0 for background; both must occur.

    Returns
    -------
    RocCurve
        Efficiencies at every distinct threshold; tied scores form one point.

    Examples
    --------
    >>> curve = roc_curve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> curve.signal_efficiency.tolist(), curve.background_efficiency.tolist()
    ([0.5, 0.5, 1.0, 1.0], [0.0, 0.5, 0.5, 1.0])
    """
    score, labels = _score_and_labels(score, labels)
    order = np.argsort(-score, kind="stable")
    s, y = score[order], labels[order]
    # One point per distinct threshold: the last index of each run of equal scores.
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]
    tp = np.cumsum(y)[last]
    fp = np.cumsum(1 - y)[last]
    return RocCurve(signal_efficiency=tp / y.sum(), background_efficiency=fp / (y.size - y.sum()),
                    thresholds=s[last])


def roc_auc(score, labels) -> float:
    """Area under the ROC curve: P(score of a random signal jet > that of a background jet).

    Computed from ranks (the Mann-Whitney U statistic), ties counted as one half:
    AUC = (sum of signal ranks - n_s (n_s + 1) / 2) / (n_s n_b). 0.5 is a random guess. The score
    is taken as it is: never report max(AUC, 1 - AUC), which would use the labels to pick a sign.

    Examples
    --------
    >>> roc_auc([0.0, 1.0, 2.0], [0, 1, 1])
    1.0
    >>> roc_auc([3.0, 3.0], [0, 1])
    0.5
    """
    score, labels = _score_and_labels(score, labels)
    ranks = rankdata(score)
    n_s = int(labels.sum())
    n_b = labels.size - n_s
    return float((ranks[labels == 1].sum() - n_s * (n_s + 1) / 2) / (n_s * n_b))


@dataclass(frozen=True)
class AucEstimate:
    """An AUC with its bootstrap standard error and 68% interval."""

    auc: float
    std: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.auc:.3f} +- {self.std:.3f}"


def bootstrap_auc(score, labels, n_resamples: int = 200, seed: int = 0) -> AucEstimate:
    """AUC with a bootstrap error: jets are resampled with replacement, classes kept at their size.

    Parameters
    ----------
    score, labels : array_like, shape (n,)
        As for :func:`roc_auc`.
    n_resamples : int
        Number of bootstrap samples (at least 10).
    seed : int
        Seed of the resampling.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.r_[np.zeros(500), np.ones(500)]
    >>> est = bootstrap_auc(rng.normal(labels, 1.0), labels, n_resamples=100)
    >>> 0.7 < est.auc < 0.8 and 0.005 < est.std < 0.03
    True
    """
    score, labels = _score_and_labels(score, labels)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 10:
        raise ValueError(f"n_resamples must be an integer >= 10; got {n_resamples!r}")
    rng = np.random.default_rng(seed)
    signal = np.flatnonzero(labels == 1)
    background = np.flatnonzero(labels == 0)
    values = np.empty(int(n_resamples))
    for k in range(int(n_resamples)):
        # Stratified: each resample keeps the class sizes, so every resample has both classes.
        index = np.r_[rng.choice(signal, signal.size), rng.choice(background, background.size)]
        values[k] = roc_auc(score[index], labels[index])
    low, high = np.percentile(values, [16, 84])
    return AucEstimate(auc=roc_auc(score, labels), std=float(values.std(ddof=1)), low=float(low),
                       high=float(high))


# --------------------------------------------------------------------------------------------
# Generated jets: distances between a generated sample and a real one
# --------------------------------------------------------------------------------------------
#
# jetnet's evaluation (Kansal et al. 2023) cannot be installed beside numpy 2, so the book has
# its own versions with the same definitions where it can (FPD, KPD, COV/MMD) and the differences
# stated: every resampling is seeded, W1 is computed on the full samples, FPD is not extrapolated
# to infinite samples (a book-sized sample of 1,000 jets is far below jetnet's 20,000 minimum), and
# every value must be read next to a real-vs-real floor at the same sample size.

__all__ += ["wasserstein_1d", "DistanceEstimate", "bootstrap_w1", "jet_mass", "generated_jets",
            "irc_safe_features", "IRC_SAFE_FEATURE_NAMES", "frechet_distance_gaussians",
            "frechet_physics_distance", "kernel_physics_distance", "CoverageMMD", "coverage_mmd"]


def _sample_1d(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d array of values; got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains {int(np.sum(~np.isfinite(array)))} NaN or infinite values")
    return array


def wasserstein_1d(a, b) -> float:
    r"""Wasserstein-1 distance between two 1-d samples, :math:`\int |F_a(x) - F_b(x)|\,dx`.

    Parameters
    ----------
    a, b : array_like, shapes (n,) and (m,)
        Values of one observable (e.g. jet mass in GeV); the result has their unit.

    Examples
    --------
    >>> wasserstein_1d([0.0, 1.0, 3.0], [5.0, 6.0, 8.0])        # a pure shift by 5
    5.0
    """
    a, b = _sample_1d(a, "a"), _sample_1d(b, "b")
    points = np.sort(np.concatenate([a, b]))
    widths = np.diff(points)
    # empirical CDFs on each interval between consecutive pooled points
    cdf_a = np.searchsorted(np.sort(a), points[:-1], side="right") / a.size
    cdf_b = np.searchsorted(np.sort(b), points[:-1], side="right") / b.size
    return float(np.sum(np.abs(cdf_a - cdf_b) * widths))


@dataclass(frozen=True)
class DistanceEstimate:
    """A distance between two samples with its spread over resamples (same unit as the distance)."""

    value: float
    std: float

    def __str__(self) -> str:
        return f"{self.value:.3g} +- {self.std:.2g}"


def bootstrap_w1(a, b, n_resamples: int = 20, seed: int = 0) -> DistanceEstimate:
    """W1 of the full samples, with the standard deviation of W1 over bootstrap resamples of both.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> est = bootstrap_w1(rng.normal(0, 1, 2000), rng.normal(0.5, 1, 2000))
    >>> bool(abs(est.value - 0.5) < 0.1 and 0.005 < est.std < 0.05)
    True
    """
    a, b = _sample_1d(a, "a"), _sample_1d(b, "b")
    rng = np.random.default_rng(seed)
    values = [wasserstein_1d(rng.choice(a, a.size), rng.choice(b, b.size)) for _ in range(int(n_resamples))]
    return DistanceEstimate(wasserstein_1d(a, b), float(np.std(values, ddof=1)))


def _particles_and_mask(jets, mask=None) -> tuple[np.ndarray, np.ndarray]:
    """(particles, mask) from a Jets or from arrays ((n, M, 3) rows (pT, y, phi), mask or pT > 0)."""
    from .data import Jets

    if isinstance(jets, Jets):
        return jets.particles, jets.mask
    particles = np.asarray(jets, dtype=np.float64)
    if particles.ndim != 3 or particles.shape[2] != 3:
        raise ValueError(f"jets must be a Jets or an array of shape (n_jets, M, 3) with rows (pT, y, phi); "
                         f"got shape {particles.shape}")
    mask = particles[..., 0] > 0 if mask is None else np.asarray(mask, dtype=bool)
    if mask.shape != particles.shape[:2]:
        raise ValueError(f"mask must have shape {particles.shape[:2]}; got {mask.shape}")
    if not np.all(np.isfinite(particles[mask])):
        raise ValueError("particles contain NaN or infinite values")
    return particles, mask


def jet_mass(jets, mask=None, *, pt_scale: float = 550.0) -> np.ndarray:
    r"""Jet mass [GeV] from massless particles, :math:`m^2 = (\sum_i p_i)^2`, with pT multiplied by ``pt_scale``.

    Parameters
    ----------
    jets : Jets or array_like, shape (n, M, 3)
        Rows (pT, y, phi), zero-padded (with ``mask`` or pT = 0 as padding); normalised jets
        (pT fractions) with ``pt_scale`` = the jet pT in GeV, or raw jets with ``pt_scale = 1``.
    mask : array_like of bool, shape (n, M), optional
    pt_scale : float

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> jet = np.array([[[0.5, 0.0, 0.1], [0.5, 0.0, -0.1]]])   # two halves 0.2 apart
    >>> float(jet_mass(jet, pt_scale=100.0)[0].round(3))            # sqrt(2 * 50 * 50 * (1 - cos 0.2))
    9.983
    """
    particles, mask = _particles_and_mask(jets, mask)
    pt = particles[..., 0] * mask * float(pt_scale)
    y, phi = particles[..., 1], particles[..., 2]
    energy, pz = (pt * np.cosh(y)).sum(1), (pt * np.sinh(y)).sum(1)
    px, py = (pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1)
    return np.sqrt(np.maximum(energy**2 - px**2 - py**2 - pz**2, 0.0))


def generated_jets(particles, *, pt_scale: float = 550.0, min_fraction: float = 1e-3,
                   recluster_R: float | None = 0.07, max_particles: int = 50):
    r"""Decoded jets as a preprocessed :class:`~jetgeom_lite.data.Jets`, comparable with real ones.

    A softmax decoder always emits every particle with pT > 0. Particles below ``min_fraction`` of
    the jet pT are dropped, the rest are scaled to GeV, reclustered into anti-kT micro-jets of
    ``recluster_R`` (as the real jets were), centred and normalised again by
    :func:`jetgeom_lite.data.preprocess`.

    Parameters
    ----------
    particles : array_like, shape (n, M, 3)
        Decoder output, rows (pT fraction, y, phi).
    pt_scale : float
        Jet pT in GeV assigned to every decoded jet.
    min_fraction : float
        Drop particles softer than this fraction of the jet pT (before reclustering).
    recluster_R : float or None
        Micro-jet radius; ``None`` keeps the (surviving) particles.
    max_particles : int

    Returns
    -------
    jetgeom_lite.data.Jets
        Normalised, centred, process ``"generated"``; ``mass`` from the massless particles.
    """
    from .data import Jets, _jet_kinematics, preprocess

    particles = np.asarray(particles, dtype=np.float64)
    if particles.ndim != 3 or particles.shape[2] != 3:
        raise ValueError(f"particles must have shape (n_jets, M, 3) with rows (pT, y, phi); got {particles.shape}")
    if not np.all(np.isfinite(particles)):
        raise ValueError("particles contain NaN or infinite values")
    if not 0 <= min_fraction < 1:
        raise ValueError(f"min_fraction must be in [0, 1); got {min_fraction!r}")
    fraction = particles[..., 0] / particles[..., 0].sum(axis=1, keepdims=True)
    keep = fraction >= min_fraction
    keep[np.arange(len(keep)), fraction.argmax(axis=1)] = True        # never an empty jet
    order = np.argsort(-np.where(keep, fraction, -1.0), axis=1, kind="stable")
    raw = np.take_along_axis(particles, order[..., None], axis=1).copy()
    mask = np.take_along_axis(keep, order, axis=1)
    raw[..., 0] = np.take_along_axis(fraction, order, axis=1) * float(pt_scale)
    raw[~mask] = 0.0
    jet_pt, jet_y, jet_phi, mass = _jet_kinematics(raw, mask)
    jets = Jets(raw, mask, jet_pt, jet_y, jet_phi, mass, "generated", {"R": 0.8})
    return preprocess(jets, center=True, normalize=True, recluster_R=recluster_R, max_particles=max_particles)


IRC_SAFE_FEATURE_NAMES = ("EFP 1 edge, beta=1/2", "EFP 1 edge", "EFP double edge", "EFP 2-edge path",
                          "EFP triangle", "EFP 3-edge path", "EFP 3-edge star")


def irc_safe_features(jets, mask=None) -> np.ndarray:
    r"""A small IRC-safe feature vector per jet: energy flow polynomials of up to three edges.

    With pT fractions :math:`z_i` and :math:`\theta_{ij} = \Delta R_{ij}` (radians), sums over all
    particle indices (EFP convention, Komiske, Metodiev and Thaler 2018), :math:`v_j = \sum_i \theta_{ji} z_i`:

    ========================  =====================================================
    1 edge, beta = 1/2        :math:`\sum_{ij} z_i z_j \theta_{ij}^{1/2}`
    1 edge                    :math:`\sum_{ij} z_i z_j \theta_{ij}`
    double edge               :math:`\sum_{ij} z_i z_j \theta_{ij}^2` (:math:`\approx 2 m^2/p_T^2`)
    2-edge path               :math:`\sum_{ijk} z_i z_j z_k \theta_{ij}\theta_{jk} = \sum_j z_j v_j^2`
    triangle                  :math:`\sum_{ijk} z_i z_j z_k \theta_{ij}\theta_{jk}\theta_{ki}`
    3-edge path               :math:`\sum_{ijkl} z_i z_j z_k z_l \theta_{ij}\theta_{jk}\theta_{kl}`
    3-edge star               :math:`\sum_j z_j v_j^3`
    ========================  =====================================================

    These stand in for the 36 EFPs of degree <= 4 that jetnet takes from energyflow (not
    installable beside numpy 2); every one is infrared and collinear safe, so a decoder's many
    soft or split particles do not change it.

    Parameters
    ----------
    jets : Jets or array_like, shape (n, M, 3)
        Rows (pT, y, phi), zero-padded; pT is normalised per jet here.
    mask : array_like of bool, shape (n, M), optional

    Returns
    -------
    ndarray, shape (n, 7)
        In the order of ``IRC_SAFE_FEATURE_NAMES``.

    Examples
    --------
    >>> pair = np.array([[[0.5, 0.0, 0.0], [0.5, 0.3, 0.0]]])
    >>> irc_safe_features(pair)[0, 1:3].round(4)          # 2 * 0.25 * 0.3 and 2 * 0.25 * 0.09
    array([0.15 , 0.045])
    """
    particles, mask = _particles_and_mask(jets, mask)
    pt = np.where(mask, particles[..., 0], 0.0)
    total = pt.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("every jet needs a positive pT sum")
    z = pt / total
    dy = particles[:, :, None, 1] - particles[:, None, :, 1]
    dphi = np.mod(particles[:, :, None, 2] - particles[:, None, :, 2] + np.pi, 2 * np.pi) - np.pi
    theta = np.sqrt(dy**2 + dphi**2) * (mask[:, :, None] & mask[:, None, :])
    zz = z[:, :, None] * z[:, None, :]
    v = np.einsum("nji,ni->nj", theta, z)
    za = z[:, :, None] * theta                                           # D A
    triangle = np.einsum("nii->n", za @ za @ za)
    u = z * v
    return np.stack([(zz * np.sqrt(theta)).sum((1, 2)), (zz * theta).sum((1, 2)), (zz * theta**2).sum((1, 2)),
                     (z * v**2).sum(1), triangle, np.einsum("ni,nij,nj->n", u, theta, u), (z * v**3).sum(1)],
                    axis=1)


def _features(x, name: str) -> np.ndarray:
    array = np.asarray(x, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(f"{name} must have shape (n >= 2, n_features); got {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def frechet_distance_gaussians(mean1, cov1, mean2, cov2) -> float:
    r"""Fréchet (2-Wasserstein squared) distance between Gaussians,
    :math:`|\mu_1-\mu_2|^2 + \mathrm{Tr}(\Sigma_1 + \Sigma_2 - 2(\Sigma_1\Sigma_2)^{1/2})`.

    Examples
    --------
    >>> frechet_distance_gaussians([0.0], [[1.0]], [3.0], [[4.0]])       # 3^2 + (1 - 2)^2
    10.0
    """
    from scipy.linalg import sqrtm

    m1, m2 = np.atleast_1d(np.asarray(mean1, float)), np.atleast_1d(np.asarray(mean2, float))
    c1, c2 = np.atleast_2d(np.asarray(cov1, float)), np.atleast_2d(np.asarray(cov2, float))
    d = m1.size
    if m2.shape != (d,) or c1.shape != (d, d) or c2.shape != (d, d):
        raise ValueError(f"means must be (d,) and covariances (d, d) with the same d; got {m1.shape}, {c1.shape}, "
                         f"{m2.shape}, {c2.shape}")
    root = sqrtm(c1 @ c2)
    if not np.all(np.isfinite(root)):
        # near-singular product: regularise both covariances slightly, as jetnet does
        offset = 1e-6 * np.eye(d)
        root = sqrtm((c1 + offset) @ (c2 + offset))
    value = np.sum((m1 - m2) ** 2) + np.trace(c1) + np.trace(c2) - 2.0 * np.trace(root.real)
    return float(value)


def _normalise(real: np.ndarray, generated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # jetnet's convention: divide every feature by its largest |value| in the real sample
    scale = np.abs(real).max(axis=0)
    scale[scale == 0] = 1.0
    return real / scale, generated / scale


def frechet_physics_distance(real_features, generated_features, *, normalise: bool = True,
                             n_resamples: int = 20, seed: int = 0) -> DistanceEstimate:
    r"""FPD: the Fréchet distance between Gaussians fitted to real and generated feature vectors.

    Computed on the full samples (jetnet extrapolates in 1/N to infinite samples from 20k-50k
    jets; book-sized samples cannot), with the standard deviation over bootstrap resamples. A
    finite sample has a positive bias of order d/N: compare with real vs real at the same N.

    Parameters
    ----------
    real_features, generated_features : array_like, shapes (n, f) and (m, f)
    normalise : bool
        Divide each feature by its max |value| in the real sample (jetnet's convention).
    n_resamples : int
    seed : int

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(500, 3))
    >>> frechet_physics_distance(x, x).value < 1e-8
    True
    """
    real, generated = _features(real_features, "real_features"), _features(generated_features, "generated_features")
    if real.shape[1] != generated.shape[1]:
        raise ValueError(f"real and generated features differ in length: {real.shape[1]} and {generated.shape[1]}")
    if normalise:
        real, generated = _normalise(real, generated)

    def distance(a: np.ndarray, b: np.ndarray) -> float:
        return frechet_distance_gaussians(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))

    rng = np.random.default_rng(seed)
    values = [distance(real[rng.integers(len(real), size=len(real))],
                       generated[rng.integers(len(generated), size=len(generated))]) for _ in range(int(n_resamples))]
    return DistanceEstimate(max(distance(real, generated), 0.0), float(np.std(values, ddof=1)))


def _poly_mmd2_unbiased(x: np.ndarray, y: np.ndarray, degree: int) -> float:
    """Unbiased MMD^2 with the kernel (x.y / d + 1)^degree."""
    d = x.shape[1]
    kxx = (x @ x.T / d + 1.0) ** degree
    kyy = (y @ y.T / d + 1.0) ** degree
    kxy = (x @ y.T / d + 1.0) ** degree
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def kernel_physics_distance(real_features, generated_features, *, n_batches: int = 10, batch_size: int | None = None,
                            degree: int = 4, normalise: bool = True, seed: int = 0) -> DistanceEstimate:
    r"""KPD: unbiased MMD² with the polynomial kernel :math:`(x\cdot y/f + 1)^4` (jetnet's, after KID).

    Each batch draws ``batch_size`` jets *without* replacement from each sample (jetnet draws with
    replacement, which puts duplicates off the diagonal and biases the unbiased estimator). Returns
    the median over batches and half the 16-84% range. Can be negative: 0 means "indistinguishable".

    Parameters
    ----------
    real_features, generated_features : array_like, shapes (n, f) and (m, f)
    n_batches : int
    batch_size : int, optional
        Default: half the smaller sample, at most 5,000.
    degree : int
    normalise : bool
    seed : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> same = kernel_physics_distance(rng.normal(size=(800, 3)), rng.normal(size=(800, 3)))
    >>> shifted = kernel_physics_distance(rng.normal(size=(800, 3)), rng.normal(1.0, 1.0, size=(800, 3)))
    >>> bool(abs(same.value) < 3 * same.std + 1e-3 < shifted.value)
    True
    """
    real, generated = _features(real_features, "real_features"), _features(generated_features, "generated_features")
    if real.shape[1] != generated.shape[1]:
        raise ValueError(f"real and generated features differ in length: {real.shape[1]} and {generated.shape[1]}")
    if normalise:
        real, generated = _normalise(real, generated)
    size = min(len(real), len(generated), 10_000) // 2 if batch_size is None else int(batch_size)
    if not 2 <= size <= min(len(real), len(generated)):
        raise ValueError(f"batch_size must be in [2, {min(len(real), len(generated))}]; got {batch_size!r}")
    rng = np.random.default_rng(seed)
    values = np.array([_poly_mmd2_unbiased(real[rng.choice(len(real), size, replace=False)],
                                           generated[rng.choice(len(generated), size, replace=False)], int(degree))
                       for _ in range(int(n_batches))])
    low, high = np.percentile(values, [16, 84])
    return DistanceEstimate(float(np.median(values)), float(0.5 * (high - low)))


@dataclass(frozen=True)
class CoverageMMD:
    """EMD-based coverage and minimum matching distance (jetnet's ``cov_mmd`` definitions).

    Attributes
    ----------
    coverage, coverage_std : float
        Fraction of real jets that are the nearest real jet of some generated jet (1 = every real
        jet is matched; a generator that collapses onto few jets covers little).
    mmd, mmd_std : float
        Mean over real jets of the EMD to their nearest generated jet (fraction of pT_J with
        normalised jets; multiply by pT_J for GeV).
    """

    coverage: float
    coverage_std: float
    mmd: float
    mmd_std: float


def coverage_mmd(real, generated, *, n_eval: int = 100, n_batches: int = 10, R: float = 0.8, seed: int = 0,
                 n_jobs: int | None = 1) -> CoverageMMD:
    r"""Coverage and MMD of a generated sample against a real one, with exact EMDs.

    In each of ``n_batches`` batches, ``n_eval`` jets are drawn without replacement from each
    sample and all EMDs between them computed (:func:`jetgeom_lite.emd.pairwise_emd`, pT
    normalised, radius ``R``). MMD = mean over the real jets of the EMD to the nearest generated
    jet; COV = number of distinct real jets that are some generated jet's nearest, / ``n_eval``.

    Parameters
    ----------
    real, generated : Jets, or arrays (n, M, 3) with rows (pT, y, phi)
    n_eval, n_batches : int
    R : float
    seed : int
    n_jobs : int or None
        Workers of :func:`~jetgeom_lite.emd.pairwise_emd`.

    Returns
    -------
    CoverageMMD
    """
    from .emd import pairwise_emd

    real_particles, real_mask = _particles_and_mask(real)
    gen_particles, gen_mask = _particles_and_mask(generated)
    n_eval, n_batches = int(n_eval), int(n_batches)
    if not 1 <= n_eval <= min(len(real_particles), len(gen_particles)):
        raise ValueError(f"n_eval must be in [1, {min(len(real_particles), len(gen_particles))}]; got {n_eval}")
    rng = np.random.default_rng(seed)
    coverage, mmd = [], []
    for _ in range(n_batches):
        pick_real = rng.choice(len(real_particles), n_eval, replace=False)
        pick_gen = rng.choice(len(gen_particles), n_eval, replace=False)
        real_list = [p[m] for p, m in zip(real_particles[pick_real], real_mask[pick_real])]
        gen_list = [p[m] for p, m in zip(gen_particles[pick_gen], gen_mask[pick_gen])]
        distances = pairwise_emd(gen_list, real_list, R=R, norm=True, n_jobs=n_jobs, progress=False)  # (gen, real)
        mmd.append(distances.min(axis=0).mean())
        coverage.append(np.unique(distances.argmin(axis=1)).size / n_eval)
    return CoverageMMD(float(np.mean(coverage)), float(np.std(coverage)), float(np.mean(mmd)), float(np.std(mmd)))
