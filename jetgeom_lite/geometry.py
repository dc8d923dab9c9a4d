r"""Latent geometry: the posterior widths of encoded events as a Riemannian metric on the latent space.

Each event's posterior :math:`q(z|x_i) = N(\mu_i, \mathrm{diag}\,\sigma_i^2)` is a point of a statistical
manifold; seen as a function of its mean, its Fisher information is :math:`M_i = \mathrm{diag}(1/\sigma_i^2)`.
Chadebec and Allassonniere (NeurIPS 2022, arXiv:2209.07370) stitch these local metrics into one
smooth metric field over the latent space, which the poster of chapter 6 follows:

.. math::

    G(z) = \sum_i M_i\, w_i(z) + \lambda\, e^{-\tau \|z\|^2} I, \qquad
    w_i(z) = \exp\big(-(z - c_i)^\top M_i (z - c_i) / T^2\big),

with centroids :math:`c_i` (a subset of the encoded means), a temperature :math:`T` and a small
regulariser :math:`\lambda e^{-\tau|z|^2}` that keeps :math:`G` invertible far from the data. Every
:math:`M_i` is diagonal, so :math:`G` is diagonal and

.. math::

    \log\sqrt{\det G(z)} = \tfrac12 \sum_k \log G_{kk}(z),

computed here in float64 with the largest term factored out (as in log-sum-exp), never with
``det`` and never clamped (the reference codes do both, and get the gradient wrong: see the
book's chapter 6). The
*intrinsic prior* :math:`\pi(z) \propto \sqrt{\det G(z)}` is sampled by :mod:`jetgeom_lite.hmc`.

Latent coordinates are dimensionless (the VAE's prior is N(0, I)); all arrays are numpy float64.

>>> import numpy as np
>>> metric = LatentMetric(np.zeros((1, 2)), np.full((1, 2), 0.5), temperature=1.0, lam=0.0, tau=0.0)
>>> metric.log_volume(np.zeros((1, 2))).round(6)     # log(1/0.5) per direction, two directions
array([1.386294])
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import check_finite_array, check_number

__all__ = [
    "LatentMetric",
    "nearest_neighbour_temperature",
    "select_centroids",
    "build_latent_metric",
    "fisher_rao_distance",
]

# memory cap for the (n points, N centroids, d) intermediate arrays
_CHUNK_ELEMENTS = 2_000_000


def _finite_array(value: Any, name: str, ndim: int) -> np.ndarray:
    """``value`` as a float64 array of ``ndim`` dimensions with finite entries (may be empty)."""
    return check_finite_array(value, name, ndim=ndim, min_size=0)


def _finite_scalar(value: Any, name: str, *, positive: bool = False) -> float:
    """A finite number, > 0 with ``positive``, else >= 0."""
    return check_number(value, name, low=0.0, low_open=positive, example="1.0" if positive else "0.0")


@dataclass(frozen=True, eq=False)
class LatentMetric:
    r"""The metric field :math:`G(z) = \sum_i \mathrm{diag}(1/\sigma_i^2)\, w_i(z) + \lambda e^{-\tau|z|^2} I`.

    Attributes
    ----------
    centres : ndarray, shape (N, d)
        Centroids :math:`c_i` in latent units; ``N`` may be 0 (then only the regulariser is left).
    sigmas : ndarray, shape (N, d)
        Posterior widths :math:`\sigma_{ik} > 0` of the same events.
    temperature : float
        :math:`T > 0`: the RBF weight :math:`w_i` falls to :math:`e^{-1}` at a Mahalanobis distance
        :math:`T` from :math:`c_i`.
    lam : float
        :math:`\lambda \ge 0`, the regulariser's strength (``lam = 0`` needs at least one centroid).
    tau : float
        :math:`\tau \ge 0`, the regulariser's decay; :math:`\tau = 1/d` makes the regulariser alone
        sample N(0, I).

    Examples
    --------
    >>> m = LatentMetric(np.array([[0.0], [2.0]]), np.array([[0.1], [1.0]]), temperature=1.0, lam=1e-3, tau=1.0)
    >>> m.dim, m.n_centres
    (1, 2)
    >>> m.diagonal(np.array([[0.0]])).round(3)      # 1/0.1^2 + exp(-4) / 1^2 + 1e-3
    array([[100.019]])
    """

    centres: np.ndarray
    sigmas: np.ndarray
    temperature: float
    lam: float
    tau: float

    def __post_init__(self) -> None:
        centres = _finite_array(self.centres, "centres", 2)
        sigmas = _finite_array(self.sigmas, "sigmas", 2)
        if sigmas.shape != centres.shape:
            raise ValueError(f"sigmas must have the shape of centres, {centres.shape}; got {sigmas.shape}")
        if centres.shape[1] == 0:
            raise ValueError("centres must have at least one latent direction (shape (N, d) with d >= 1)")
        if np.any(sigmas <= 0):
            raise ValueError(f"sigmas must be > 0 (posterior widths); {int(np.sum(sigmas <= 0))} are not. "
                             "Pass sigma = exp(0.5 * log_var), not log_var")
        temperature = _finite_scalar(self.temperature, "temperature", positive=True)
        lam = _finite_scalar(self.lam, "lam")
        tau = _finite_scalar(self.tau, "tau")
        if centres.shape[0] == 0 and lam == 0:
            raise ValueError("with no centres, lam must be > 0: otherwise G(z) = 0 everywhere")
        for name, value in (("centres", centres), ("sigmas", sigmas)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        object.__setattr__(self, "temperature", temperature)
        object.__setattr__(self, "lam", lam)
        object.__setattr__(self, "tau", tau)

    # ---------------------------------------------------------------- basic facts
    @property
    def dim(self) -> int:
        """Latent dimension d."""
        return int(self.centres.shape[1])

    @property
    def n_centres(self) -> int:
        """Number of centroids N."""
        return int(self.centres.shape[0])

    def _points(self, z: Any) -> np.ndarray:
        z = _finite_array(z, "z", 2)
        if z.shape[1] != self.dim:
            raise ValueError(f"z must have shape (n, {self.dim}) to match the metric's {self.dim} directions; "
                             f"got {z.shape}")
        return z

    def _chunks(self, n: int):
        size = max(1, _CHUNK_ELEMENTS // max(1, self.n_centres * self.dim))
        for start in range(0, n, size):
            yield slice(start, min(n, start + size))

    def _log_terms(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
        """The field at z (n, d), factored so nothing under- or overflows.

        With a shift S_n = max(max_i log w_i, log background): ``scaled`` = e^{log w - S} (n, N),
        ``background`` = e^{log background - S} (n,) or None, and G_kk e^{-S} = scaled @ m + background
        (n, d), which is >= min m_ik or >= 1, never 0. Returns (log_w, S, scaled, background, G e^{-S}).
        """
        precision = self.sigmas**-2.0                                      # (N, d)
        offset = z[:, None, :] - self.centres[None, :, :]                  # (n, N, d)
        log_w = -np.einsum("nik,ik->ni", offset * offset, precision) / self.temperature**2
        shift = log_w.max(axis=1) if self.n_centres else np.full(z.shape[0], -np.inf)
        log_background = None
        if self.lam > 0:
            log_background = math.log(self.lam) - self.tau * np.einsum("nk,nk->n", z, z)
            shift = np.maximum(shift, log_background)
        scaled = np.exp(log_w - shift[:, None])
        g_scaled = scaled @ precision
        background = None
        if log_background is not None:
            background = np.exp(log_background - shift)
            g_scaled = g_scaled + background[:, None]
        return log_w, shift, scaled, background, g_scaled

    # ---------------------------------------------------------------- the field
    def log_diagonal(self, z: Any) -> np.ndarray:
        r"""log G_kk(z), shape (n, d), computed in log space (never underflows to -inf).

        Parameters
        ----------
        z : array_like, shape (n, d)
        """
        z = self._points(z)
        out = np.empty_like(z)
        for part in self._chunks(z.shape[0]):
            _, shift, _, _, g_scaled = self._log_terms(z[part])
            out[part] = shift[:, None] + np.log(g_scaled)
        return out

    def diagonal(self, z: Any) -> np.ndarray:
        r"""The diagonal of G(z), shape (n, d), in units of 1 / latent unit squared."""
        return np.exp(self.log_diagonal(z))

    def matrix(self, z: Any) -> np.ndarray:
        """G(z) as full matrices, shape (n, d, d) (diagonal)."""
        diagonal = self.diagonal(z)
        return diagonal[:, :, None] * np.eye(self.dim)[None]

    def weights(self, z: Any) -> np.ndarray:
        r"""RBF weights :math:`w_i(z)`, shape (n, N), each in (0, 1]."""
        z = self._points(z)
        out = np.empty((z.shape[0], self.n_centres))
        for part in self._chunks(z.shape[0]):
            out[part] = np.exp(self._log_terms(z[part])[0])
        return out

    def log_volume(self, z: Any) -> np.ndarray:
        r"""log sqrt det G(z) = 0.5 sum_k log G_kk(z), shape (n,), float64 (the intrinsic prior's log density).

        Examples
        --------
        >>> m = LatentMetric(np.empty((0, 2)), np.empty((0, 2)), temperature=1.0, lam=0.1, tau=0.5)
        >>> bool(np.isclose(m.log_volume(np.zeros((1, 2)))[0], np.log(0.1)))   # (d/2) log lam at z = 0
        True
        """
        return 0.5 * self.log_diagonal(z).sum(axis=1)

    def grad_log_volume(self, z: Any) -> np.ndarray:
        r"""Analytic gradient of :meth:`log_volume`, shape (n, d).

        With responsibilities :math:`r_{ik} = m_{ik} w_i / G_{kk}` and :math:`r_{bk} = \lambda e^{-\tau|z|^2}/G_{kk}`:

        .. math::

            \partial_j \log\sqrt{\det G} = -\sum_i \Big(\sum_k r_{ik}\Big) m_{ij} (z_j - c_{ij}) / T^2
                                          - \tau z_j \sum_k r_{bk}.
        """
        z = self._points(z)
        out = np.empty_like(z)
        precision = self.sigmas**-2.0
        weighted_centres = precision * self.centres
        for part in self._chunks(z.shape[0]):
            zp = z[part]
            _, _, scaled, background, g_scaled = self._log_terms(zp)
            inverse = 1.0 / g_scaled                                          # (n, d)
            share = scaled * (inverse @ precision.T)                          # sum_k r_ik, (n, N)
            gradient = -(share @ precision * zp - share @ weighted_centres) / self.temperature**2
            if background is not None:
                gradient -= self.tau * (background * inverse.sum(axis=1))[:, None] * zp
            out[part] = gradient
        return out

    # ---------------------------------------------------------------- global facts
    def background_mass_ratio(self) -> float:
        r"""Mass of the regulariser's part of :math:`\sqrt{\det G}` over the data's, for isolated centroids.

        :math:`\int \lambda^{d/2} e^{-\tau d |z|^2/2} dz \,/\, N (2\pi T^2/d)^{d/2}
        = (1/N)\,(\lambda/(\tau T^2))^{d/2}`: keep it far below 1, or the "uniform" prior is mostly
        regulariser (infinite for ``tau = 0 < lam`` or ``N = 0``; 0 for ``lam = 0``).

        Examples
        --------
        >>> round(LatentMetric(np.zeros((1, 2)), np.ones((1, 2)), 1.0, 1e-3, 1.0).background_mass_ratio(), 12)
        0.001
        """
        if self.lam == 0:
            return 0.0
        if self.tau == 0 or self.n_centres == 0:
            return math.inf
        return float((self.lam / (self.tau * self.temperature**2)) ** (0.5 * self.dim) / self.n_centres)

    def escaped(self, z: Any, n_widths: float = 3.0) -> np.ndarray:
        r"""True where z is farther than ``n_widths`` :math:`T` (Mahalanobis, in each centroid's own
        :math:`\sigma_i`) from every centroid, i.e. every :math:`w_i(z) < e^{-n_{\rm widths}^2}`: a sample
        that escaped to the regulariser. Shape (n,), bool."""
        z = self._points(z)
        if self.n_centres == 0:
            return np.ones(z.shape[0], bool)
        limit = -float(n_widths) ** 2
        out = np.empty(z.shape[0], bool)
        for part in self._chunks(z.shape[0]):
            out[part] = self._log_terms(z[part])[0].max(axis=1) < limit
        return out

    def nearest_centre(self, z: Any) -> np.ndarray:
        """Index of the centroid with the largest weight w_i(z), shape (n,), int."""
        z = self._points(z)
        if self.n_centres == 0:
            raise ValueError("the metric has no centres")
        out = np.empty(z.shape[0], np.int64)
        for part in self._chunks(z.shape[0]):
            out[part] = self._log_terms(z[part])[0].argmax(axis=1)
        return out

    def curve_length(self, path: Any) -> float:
        r"""Riemannian length of a polygonal latent path, :math:`\sum_j \sqrt{\Delta z_j^\top G(\bar z_j) \Delta z_j}`.

        Parameters
        ----------
        path : array_like, shape (m, d)
            Points along the path, m >= 2; G is evaluated at each segment's midpoint, so a finer
            path gives a better approximation of the length of the curve.

        Returns
        -------
        float
            Dimensionless (latent units times sqrt(G)).

        Examples
        --------
        >>> m = LatentMetric(np.empty((0, 1)), np.empty((0, 1)), temperature=1.0, lam=4.0, tau=0.0)
        >>> m.curve_length(np.array([[0.0], [3.0]]))        # sqrt(4) * 3
        6.0
        """
        path = self._points(path)
        if path.shape[0] < 2:
            raise ValueError(f"path needs at least 2 points; got {path.shape[0]}")
        step = np.diff(path, axis=0)
        middle = 0.5 * (path[1:] + path[:-1])
        return float(np.sqrt(np.sum(self.diagonal(middle) * step**2, axis=1)).sum())


def _nearest_neighbour_distances(points: np.ndarray) -> np.ndarray:
    """Euclidean distance from each point to its nearest other point, shape (N,)."""
    from scipy.spatial import cKDTree

    distance, _ = cKDTree(points).query(points, k=2)
    return distance[:, 1]


def nearest_neighbour_temperature(centres: Any, rule: str = "max") -> float:
    r"""Temperature from the centroids' nearest-neighbour distances :math:`d_i = \min_{j\ne i}\|c_i - c_j\|`.

    Parameters
    ----------
    centres : array_like, shape (N, d), N >= 2
    rule : {"max", "median"}
        ``"max"``: :math:`T = \max_i d_i`, the rule of Chadebec and Allassonniere's code (set by the most
        isolated centroid). ``"median"``: the median, the book's choice (robust to one outlier jet).

    Examples
    --------
    >>> points = np.array([[0.0], [1.0], [3.0]])
    >>> nearest_neighbour_temperature(points), nearest_neighbour_temperature(points, "median")
    (2.0, 1.0)
    """
    centres = _finite_array(centres, "centres", 2)
    if centres.shape[0] < 2:
        raise ValueError(f"the temperature needs at least 2 centres; got {centres.shape[0]}")
    distances = _nearest_neighbour_distances(centres)
    if rule == "max":
        value = float(distances.max())
    elif rule == "median":
        value = float(np.median(distances))
    else:
        raise ValueError(f"rule must be 'max' (the paper's) or 'median' (the book's); got {rule!r}")
    if value <= 0:
        raise ValueError("the centres' nearest-neighbour distance is 0 (duplicate centres); remove duplicates")
    return value


def select_centroids(mu: Any, n_centroids: int, *, method: str = "kmedoids", seed: int = 0,
                     max_iter: int = 50) -> np.ndarray:
    r"""Choose ``n_centroids`` of the encoded means as centroids; returns their indices.

    Parameters
    ----------
    mu : array_like, shape (n, d)
        Posterior means.
    n_centroids : int
        ``1 <= n_centroids <= n``.
    method : {"kmedoids", "first"}
        ``"kmedoids"``: alternating k-medoids in Euclidean distance (k-means++ start, then each
        cluster's medoid and reassignment until nothing changes), seeded; ``"first"``: the first
        ``n_centroids`` means (as the pythae port does).
    seed : int
    max_iter : int

    Returns
    -------
    ndarray of int, shape (n_centroids,)

    Examples
    --------
    >>> mu = np.r_[np.zeros((5, 1)), np.full((5, 1), 10.0)] + np.arange(10)[:, None] * 0.01
    >>> sorted(mu[select_centroids(mu, 2), 0].round(2).tolist())     # one medoid per group
    [0.02, 10.07]
    """
    mu = _finite_array(mu, "mu", 2)
    n = mu.shape[0]
    if isinstance(n_centroids, bool) or not isinstance(n_centroids, (int, np.integer)) or not 1 <= n_centroids <= n:
        raise ValueError(f"n_centroids must be an integer in [1, {n}]; got {n_centroids!r}")
    k = int(n_centroids)
    if method == "first":
        return np.arange(k)
    if method != "kmedoids":
        raise ValueError(f"method must be 'kmedoids' or 'first'; got {method!r}")
    rng = np.random.default_rng(seed)
    # k-means++ start: each new medoid drawn with probability proportional to the squared distance
    medoids = [int(rng.integers(n))]
    nearest = np.sum((mu - mu[medoids[0]]) ** 2, axis=1)
    for _ in range(1, k):
        total = nearest.sum()
        choice = int(rng.choice(n, p=nearest / total)) if total > 0 else int(rng.integers(n))
        medoids.append(choice)
        nearest = np.minimum(nearest, np.sum((mu - mu[choice]) ** 2, axis=1))
    medoids = np.array(medoids)
    from scipy.spatial import cKDTree

    for _ in range(int(max_iter)):
        labels = cKDTree(mu[medoids]).query(mu)[1]
        updated = medoids.copy()
        for cluster in range(k):
            members = np.flatnonzero(labels == cluster)
            if members.size == 0:
                continue
            inner = np.sqrt(np.sum((mu[members, None, :] - mu[None, members, :]) ** 2, axis=2))
            updated[cluster] = members[int(np.argmin(inner.sum(axis=1)))]
        if np.array_equal(updated, medoids):
            break
        medoids = updated
    return medoids


def build_latent_metric(mu: Any, log_var: Any, *, n_centroids: int | None = 100, method: str = "kmedoids",
                        directions: Any = None, temperature: float | str = "median", lam: float = 1e-3,
                        tau: float | None = None, seed: int = 0, max_background_ratio: float = 0.01) -> LatentMetric:
    r"""The metric field of a VAE from its encoder outputs.

    Parameters
    ----------
    mu, log_var : array_like (numpy or torch), shape (n, D)
        Posterior means and log variances of encoded events.
    n_centroids : int or None
        Number of centroids (``None``: every event is a centroid).
    method : {"kmedoids", "first"}
        How the centroids are chosen (:func:`select_centroids`).
    directions : sequence of int, optional
        Build the metric on these latent directions only (e.g. the active ones, KL > 0.1 nats);
        the metric's ``d`` is then ``len(directions)``. Default: all D.
    temperature : float or {"median", "max"}
        A number, or the rule of :func:`nearest_neighbour_temperature` applied to the centroids
        (``"median"`` is the book's default, ``"max"`` the paper's).
    lam : float
        Regulariser strength :math:`\lambda`.
    tau : float, optional
        Regulariser decay; default ``1/d``, so the regulariser alone is exactly N(0, I), the VAE's prior.
    seed : int
        Seed of the k-medoids start.
    max_background_ratio : float
        Warn (``UserWarning``) if :meth:`LatentMetric.background_mass_ratio` exceeds it.

    Returns
    -------
    LatentMetric

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> mu, log_var = rng.normal(size=(200, 3)), np.full((200, 3), -4.0)
    >>> metric = build_latent_metric(mu, log_var, n_centroids=20, directions=[0, 2])
    >>> metric.dim, metric.n_centres, metric.tau
    (2, 20, 0.5)
    """
    mu = _finite_array(_to_numpy(mu), "mu", 2)
    log_var = _finite_array(_to_numpy(log_var), "log_var", 2)
    if log_var.shape != mu.shape:
        raise ValueError(f"log_var must have the shape of mu, {mu.shape}; got {log_var.shape}")
    if directions is not None:
        directions = np.atleast_1d(np.asarray(directions))
        if directions.dtype.kind not in "iu" or directions.size == 0 or directions.min() < 0 \
                or directions.max() >= mu.shape[1] or len(set(directions.tolist())) != directions.size:
            raise ValueError(f"directions must be distinct indices in [0, {mu.shape[1]}); got {directions!r}")
        mu, log_var = mu[:, directions], log_var[:, directions]
    n = mu.shape[0]
    chosen = np.arange(n) if n_centroids is None else select_centroids(mu, n_centroids, method=method, seed=seed)
    centres, sigmas = mu[chosen], np.exp(0.5 * log_var[chosen])
    if isinstance(temperature, str):
        temperature = nearest_neighbour_temperature(centres, temperature)
    d = centres.shape[1]
    metric = LatentMetric(centres, sigmas, temperature=temperature, lam=lam, tau=1.0 / d if tau is None else tau)
    ratio = metric.background_mass_ratio()
    if ratio > max_background_ratio:
        warnings.warn(f"the regulariser holds {ratio:.3g} times the data's mass (> {max_background_ratio}); "
                      "lower lam or raise tau, or the intrinsic prior is mostly regulariser", UserWarning,
                      stacklevel=2)
    return metric


def _to_numpy(value: Any) -> Any:
    if hasattr(value, "detach"):
        return value.detach().cpu().double().numpy()
    return value


def fisher_rao_distance(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> np.ndarray:
    r"""Fisher-Rao distance between diagonal Gaussians N(mu1, diag sigma1^2) and N(mu2, diag sigma2^2).

    The Fisher metric of the family, :math:`ds^2 = \sum_k (d\mu_k^2 + 2\, d\sigma_k^2)/\sigma_k^2`, is a
    product of hyperbolic half-planes, so the distance is closed-form per coordinate:

    .. math::

        d = \sqrt{\sum_k d_k^2}, \qquad d_k = \sqrt2\, \mathrm{arccosh}\Big(1 +
        \frac{(\mu_{1k}-\mu_{2k})^2/2 + (\sigma_{1k}-\sigma_{2k})^2}{2\sigma_{1k}\sigma_{2k}}\Big).

    Parameters
    ----------
    mu1, sigma1, mu2, sigma2 : array_like, broadcastable, shape (..., d)
        Means and widths (> 0), in latent units.

    Returns
    -------
    ndarray, shape (...)
        Dimensionless.

    Examples
    --------
    >>> float(fisher_rao_distance([0.0], [1.0], [0.0], [2.0])).__round__(6)     # sqrt(2) ln 2
    0.980258
    """
    arrays = []
    for name, value in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        array = np.asarray(value, dtype=np.float64)
        if array.ndim == 0:
            raise ValueError(f"{name} must have a last axis of latent directions, shape (..., d)")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinite values")
        arrays.append(array)
    m1, s1, m2, s2 = arrays
    if np.any(s1 <= 0) or np.any(s2 <= 0):
        raise ValueError("sigma1 and sigma2 must be > 0 (widths, not log variances)")
    try:
        m1, s1, m2, s2 = np.broadcast_arrays(m1, s1, m2, s2)
    except ValueError as error:
        raise ValueError(f"mu1, sigma1, mu2, sigma2 must broadcast together; got shapes "
                         f"{[a.shape for a in arrays]}") from error
    # arccosh(1 + x) = log1p(x + sqrt(x (x + 2))), accurate for small x
    x = (0.5 * (m1 - m2) ** 2 + (s1 - s2) ** 2) / (2.0 * s1 * s2)
    per_direction = math.sqrt(2.0) * np.log1p(x + np.sqrt(x * (x + 2.0)))
    return np.sqrt(np.sum(per_direction**2, axis=-1))
