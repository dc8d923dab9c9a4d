r"""Hamiltonian Monte Carlo for latent densities, many chains at once, and the intrinsic prior.

HMC samples :math:`\pi(z)` by adding a momentum :math:`\rho` and following the Hamiltonian
:math:`H(z, \rho) = -\log\pi(z) + \tfrac12 |\rho|^2` (identity mass) with the leapfrog integrator,
then accepting the end point with probability :math:`\min(1, e^{-\Delta H})` (Neal 2011). Three rules
this module keeps, each of which a reference implementation of the intrinsic prior breaks (book,
chapter 6):

- the momentum is drawn from :math:`N(0, I)`, the distribution the kinetic energy
  :math:`\tfrac12|\rho|^2` defines; a draw at scale :math:`s` would sample :math:`\pi^{1/s^2}`;
- the step size is adapted only during burn-in (dual averaging towards a target acceptance),
  then frozen, and jittered per trajectory so a trajectory cannot lock onto half a period;
- trajectories that diverge (non-finite or :math:`|\Delta H| > 1000`) are rejected and counted,
  never propagated as NaN.

Chains are rows of one numpy array: ``initial`` has shape (n_chains, d), and ``log_density`` and
``grad_log_density`` take (n, d) and return (n,) and (n, d). Diagnostics (ESS, split R-hat) come
from ArviZ (Kumar et al. 2019; Vehtari et al. 2021).

>>> import numpy as np
>>> result = hmc_sample(lambda z: -0.5 * (z**2).sum(1), lambda z: -z, np.zeros((100, 1)),
...                     n_samples=200, n_burn_in=100, seed=0)
>>> result.samples.shape, 0.6 < result.accept_rate < 0.95
((200, 100, 1), True)
>>> bool(abs(result.samples.var() - 1.0) < 0.05)
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validation import check_integer
from .geometry import LatentMetric

__all__ = [
    "leapfrog",
    "HMCResult",
    "hmc_sample",
    "sample_intrinsic_prior",
    "effective_sample_size",
    "split_rhat",
]

Density = Callable[[np.ndarray], np.ndarray]
_DIVERGENCE = 1000.0


def leapfrog(z: Any, rho: Any, grad_log_density: Density, step_size: Any, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Leapfrog (velocity Verlet) steps for :math:`H = -\log\pi(z) + \tfrac12|\rho|^2`.

    :math:`\rho \leftarrow \rho + \tfrac{\epsilon}{2}\nabla\log\pi(z)`, :math:`z \leftarrow z + \epsilon\rho`,
    :math:`\rho \leftarrow \rho + \tfrac{\epsilon}{2}\nabla\log\pi(z)`, ``n_steps`` times (the inner
    half kicks merged). Reversible and volume preserving; the energy error is O(step^2).

    Parameters
    ----------
    z, rho : array_like, shape (n, d)
        Positions and momenta (latent units).
    grad_log_density : callable
        (n, d) -> (n, d), the gradient of log pi.
    step_size : float or array_like of shape (n, 1)
        One step for all chains, or one per chain.
    n_steps : int

    Returns
    -------
    z, rho : ndarray, shape (n, d)
        New arrays; the inputs are not changed.

    Examples
    --------
    >>> z, rho = leapfrog(np.array([[1.0]]), np.array([[0.0]]), lambda z: -z, 0.1, 10)
    >>> bool(abs(0.5 * (z**2 + rho**2).sum() - 0.5) < 1e-3)          # energy nearly kept
    True
    """
    n_steps = check_integer(n_steps, "n_steps", minimum=1)
    z = np.array(z, dtype=np.float64)
    rho = np.array(rho, dtype=np.float64)
    if z.ndim != 2 or rho.shape != z.shape:
        raise ValueError(f"z and rho must have the same shape (n, d); got {z.shape} and {rho.shape}")
    step = np.asarray(step_size, dtype=np.float64)
    rho += 0.5 * step * grad_log_density(z)
    for k in range(int(n_steps)):
        z += step * rho
        gradient = grad_log_density(z)
        rho += (step if k < n_steps - 1 else 0.5 * step) * gradient
    return z, rho


@dataclass(frozen=True, eq=False)
class HMCResult:
    """Samples and diagnostics of :func:`hmc_sample`.

    Attributes
    ----------
    samples : ndarray, shape (n_samples, n_chains, d)
        States kept after burn-in (every ``thin``-th trajectory).
    accept_prob : ndarray, shape (n_samples * thin, n_chains)
        Metropolis acceptance probability of every trajectory after burn-in.
    energy_error : ndarray, shape (n_burn_in + n_samples * thin, n_chains)
        :math:`H_{\\rm end} - H_{\\rm start}` of every trajectory (inf where it diverged).
    step_size : float
        Leapfrog step after adaptation (before ``step_scale``; each trajectory jitters it).
    step_size_history : ndarray, shape (n_burn_in,)
        The step used in each burn-in trajectory.
    chain_step_sizes : ndarray, shape (n_chains,)
        The step of each chain after adaptation (``step_size`` times ``step_scale``).
    n_leapfrog, n_burn_in, thin, seed : int
    n_divergent : int
        Trajectories after burn-in rejected as divergent.
    """

    samples: np.ndarray
    accept_prob: np.ndarray
    energy_error: np.ndarray
    step_size: float
    step_size_history: np.ndarray
    chain_step_sizes: np.ndarray
    n_leapfrog: int
    n_burn_in: int
    thin: int
    seed: int
    n_divergent: int

    @property
    def accept_rate(self) -> float:
        """Mean acceptance probability after burn-in."""
        return float(self.accept_prob.mean())

    def flat(self) -> np.ndarray:
        """All kept samples as one array, shape (n_samples * n_chains, d)."""
        return self.samples.reshape(-1, self.samples.shape[-1])

    def diagnostics(self) -> dict:
        """Acceptance, divergences, mean |energy error| after burn-in, and per-direction ESS and split R-hat."""
        kept_errors = self.energy_error[self.n_burn_in:]
        finite = kept_errors[np.isfinite(kept_errors)]
        return {"accept_rate": self.accept_rate, "n_divergent": self.n_divergent,
                "mean_abs_energy_error": float(np.abs(finite).mean()) if finite.size else math.nan,
                "step_size": self.step_size, "ess": effective_sample_size(self.samples),
                "rhat": split_rhat(self.samples)}


def _check_callable(function: Any, name: str) -> None:
    if not callable(function):
        raise TypeError(f"{name} must be a function (n, d) -> array; got {type(function).__name__}")


def _positive_int(value: Any, name: str, minimum: int = 1) -> int:
    return check_integer(value, name, minimum=minimum)


def hmc_sample(log_density: Density, grad_log_density: Density, initial: Any, *, n_samples: int,
               n_burn_in: int = 200, step_size: float = 0.1, n_leapfrog: int = 10, step_jitter: float = 0.2,
               thin: int = 1, adapt_step_size: bool = True, step_scale: Any = None,
               target_accept: float = 0.75, seed: int = 0, progress: bool = False) -> HMCResult:
    r"""Sample :math:`\pi(z)` with HMC, all chains in one array.

    Parameters
    ----------
    log_density : callable
        (n, d) -> (n,): :math:`\log\pi(z)` up to a constant.
    grad_log_density : callable
        (n, d) -> (n, d): its gradient.
    initial : array_like, shape (n_chains, d)
        Starting points, one per chain (finite, log density finite there).
    n_samples : int
        States kept per chain after burn-in.
    n_burn_in : int
        Trajectories discarded first; the step size adapts during these.
    step_size : float
        Initial leapfrog step (latent units).
    n_leapfrog : int
        Leapfrog steps per trajectory.
    step_jitter : float
        Each trajectory uses step * U(1 - jitter, 1 + jitter), per chain, in [0, 1).
    thin : int
        Keep every ``thin``-th state.
    adapt_step_size : bool
        Dual averaging (Hoffman and Gelman 2014) of log step towards ``target_accept`` (the mean
        acceptance probability over chains) during burn-in; the averaged step is then frozen.
    step_scale : array_like of shape (n_chains,), optional
        A fixed positive factor per chain multiplying the (adapted) step: for targets whose chains
        stay in peaks of very different widths, like the intrinsic prior, each chain gets a step
        in proportion to its peak's width; the adaptation then tunes one common factor. Default 1.
    target_accept : float
        In (0, 1); 0.75 by default.
    seed : int
    progress : bool
        A ``tqdm.auto`` bar over trajectories.

    Returns
    -------
    HMCResult

    Raises
    ------
    ValueError
        Bad shapes, non-finite starts or log densities, or settings out of range.
    """
    _check_callable(log_density, "log_density")
    _check_callable(grad_log_density, "grad_log_density")
    z = np.array(initial, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 1 or z.shape[1] < 1:
        raise ValueError(f"initial must have shape (n_chains, d); got {z.shape}")
    if not np.all(np.isfinite(z)):
        raise ValueError("initial contains NaN or infinite values")
    n_samples = _positive_int(n_samples, "n_samples")
    n_burn_in = _positive_int(n_burn_in, "n_burn_in", 0)
    n_leapfrog = _positive_int(n_leapfrog, "n_leapfrog")
    thin = _positive_int(thin, "thin")
    if isinstance(step_size, bool) or not (isinstance(step_size, (int, float, np.number)) and math.isfinite(step_size)
                                           and step_size > 0):
        raise ValueError(f"step_size must be a finite number > 0; got {step_size!r}")
    if not (isinstance(step_jitter, (int, float, np.number)) and 0 <= step_jitter < 1):
        raise ValueError(f"step_jitter must be in [0, 1); got {step_jitter!r}")
    if not (isinstance(target_accept, (int, float, np.number)) and 0 < target_accept < 1):
        raise ValueError(f"target_accept must be in (0, 1); got {target_accept!r}")

    n_chains, d = z.shape
    log_p = np.asarray(log_density(z), dtype=np.float64)
    if log_p.shape != (n_chains,):
        raise ValueError(f"log_density must return shape (n,) = ({n_chains},); got {log_p.shape}")
    if not np.all(np.isfinite(log_p)):
        raise ValueError(f"log_density is not finite at {int(np.sum(~np.isfinite(log_p)))} starting points")
    gradient_check = np.asarray(grad_log_density(z))
    if gradient_check.shape != z.shape:
        raise ValueError(f"grad_log_density must return shape {z.shape}; got {gradient_check.shape}")

    rng = np.random.default_rng(seed)
    n_total = n_burn_in + n_samples * thin
    samples = np.empty((n_samples, n_chains, d))
    accept_prob = np.empty((n_samples * thin, n_chains))
    energy_error = np.empty((n_total, n_chains))
    history = np.empty(n_burn_in)
    # dual averaging state (Hoffman and Gelman 2014, algorithm 5)
    if step_scale is None:
        scale = np.ones(n_chains)
    else:
        scale = np.asarray(step_scale, dtype=np.float64)
        if scale.shape != (n_chains,) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError(f"step_scale must hold one positive factor per chain, shape ({n_chains},)")
    log_step = math.log(step_size)
    log_step_bar = log_step
    h_bar = 0.0
    shrink_target, gamma, t0, kappa = math.log(10 * step_size), 0.05, 10.0, 0.75
    n_divergent = 0

    from tqdm.auto import tqdm

    for t in tqdm(range(n_total), disable=not progress, desc="HMC", unit="traj"):
        burning = t < n_burn_in
        step = math.exp(log_step if (burning or not adapt_step_size) else log_step_bar)
        steps = (step * scale)[:, None] * rng.uniform(1 - step_jitter, 1 + step_jitter, size=(n_chains, 1))
        rho = rng.standard_normal((n_chains, d))           # N(0, I): the kinetic energy's own distribution
        with np.errstate(over="ignore", invalid="ignore"):
            z_new, rho_new = leapfrog(z, rho, grad_log_density, steps, n_leapfrog)
            finite = np.all(np.isfinite(z_new), axis=1) & np.all(np.isfinite(rho_new), axis=1)
            log_p_new = np.full(n_chains, -np.inf)
            if finite.any():
                log_p_new[finite] = log_density(z_new[finite])
            delta_h = (-log_p_new + 0.5 * np.sum(rho_new**2, axis=1)) - (-log_p + 0.5 * np.sum(rho**2, axis=1))
        divergent = ~np.isfinite(delta_h) | (delta_h > _DIVERGENCE)
        delta_h = np.where(divergent, np.inf, delta_h)
        probability = np.exp(-np.maximum(delta_h, 0.0))
        accept = rng.uniform(size=n_chains) < probability
        z = np.where(accept[:, None], z_new, z)
        log_p = np.where(accept, log_p_new, log_p)
        energy_error[t] = delta_h
        if burning:
            history[t] = step
            if adapt_step_size:
                m = t + 1
                h_bar = (1 - 1 / (m + t0)) * h_bar + (target_accept - probability.mean()) / (m + t0)
                log_step = shrink_target - math.sqrt(m) / gamma * h_bar
                weight = m**-kappa
                log_step_bar = weight * log_step + (1 - weight) * log_step_bar
        else:
            n_divergent += int(divergent.sum())
            k = t - n_burn_in
            accept_prob[k] = probability
            if (k + 1) % thin == 0:
                samples[(k + 1) // thin - 1] = z
    final_step = math.exp(log_step_bar if adapt_step_size else log_step)
    return HMCResult(samples=samples, accept_prob=accept_prob, energy_error=energy_error,
                     step_size=final_step, step_size_history=history, chain_step_sizes=final_step * scale, n_leapfrog=n_leapfrog, n_burn_in=n_burn_in, thin=thin,
                     seed=int(seed), n_divergent=n_divergent)


def sample_intrinsic_prior(metric: LatentMetric, n_samples: int, *, n_chains: int = 200, start: Any = "centres",
                           step_size: float | None = None, seed: int = 0, **hmc_kwargs: Any) -> HMCResult:
    r"""Sample the intrinsic prior :math:`\pi(z) \propto \sqrt{\det G(z)}` of a :class:`LatentMetric` by HMC.

    Parameters
    ----------
    metric : LatentMetric
    n_samples : int
        States kept per chain.
    n_chains : int
        Chains, run together.
    start : "centres" or array_like of shape (n_chains, d)
        ``"centres"``: each chain starts at a centroid drawn uniformly (with replacement), which
        matches the equal mass every isolated centroid carries; HMC rarely crosses between
        isolated peaks, so the mixture weights come from the starts.
    step_size : float, optional
        Initial step; default half the median start-peak width (or
        :math:`0.5/\sqrt{\tau d}` with no centroids); adapted during burn-in.
    seed : int
    **hmc_kwargs
        Passed to :func:`hmc_sample` (``n_burn_in``, ``n_leapfrog``, ``thin``, ``target_accept``, ...).
        ``step_scale`` defaults to each chain's start-peak width :math:`T \min_k\sigma_{ik}/\sqrt d`
        over the median one: peaks of precise and vague events differ in width by factors of 10.

    Returns
    -------
    HMCResult

    Examples
    --------
    >>> m = LatentMetric(np.array([[1.0, -2.0]]), np.array([[0.3, 1.2]]), temperature=0.8, lam=0.0, tau=0.0)
    >>> result = sample_intrinsic_prior(m, 100, n_chains=200, seed=1)
    >>> np.round(result.flat().mean(axis=0), 1)                       # N(c, T^2 sigma^2 / d)
    array([ 1., -2.])
    """
    if not isinstance(metric, LatentMetric):
        raise TypeError(f"metric must be a LatentMetric; got {type(metric).__name__}")
    n_chains = _positive_int(n_chains, "n_chains")
    rng = np.random.default_rng(seed)
    scale = None
    if isinstance(start, str):
        if start != "centres":
            raise ValueError(f"start must be 'centres' or an array of shape (n_chains, d); got {start!r}")
        if metric.n_centres == 0:
            width = 1.0 / math.sqrt(max(metric.tau, 1e-12) * metric.dim)
            initial = rng.normal(scale=width, size=(n_chains, metric.dim))
        else:
            initial = metric.centres[rng.integers(metric.n_centres, size=n_chains)]
    else:
        initial = np.asarray(start, dtype=np.float64)
        if initial.shape != (n_chains, metric.dim):
            raise ValueError(f"start must have shape (n_chains, d) = ({n_chains}, {metric.dim}); got {initial.shape}")
        if not np.all(np.isfinite(initial)):
            raise ValueError("start contains NaN or infinite values")
    if metric.n_centres:
        # each chain stays near its start, in a peak of width T sigma_i / sqrt(d) (narrowest direction):
        # its step is scaled by that width, and one common factor is adapted
        widths = metric.temperature * metric.sigmas[metric.nearest_centre(initial)].min(axis=1) / math.sqrt(metric.dim)
        scale = widths / np.median(widths)
        hmc_kwargs.setdefault("step_scale", scale)
    if step_size is None:
        if metric.n_centres:
            step_size = 0.5 * float(np.median(widths))
        else:
            step_size = 0.5 / math.sqrt(max(metric.tau, 1e-12) * metric.dim)
    return hmc_sample(metric.log_volume, metric.grad_log_volume, initial, n_samples=n_samples,
                      step_size=step_size, seed=seed, **hmc_kwargs)


def _per_direction(samples: Any, function: Callable) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 3 or samples.shape[0] < 4 or samples.shape[1] < 1:
        raise ValueError(f"samples must have shape (n_samples >= 4, n_chains, d); got {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise ValueError("samples contain NaN or infinite values")
    with warnings.catch_warnings():
        # arviz 0.23 warns on import about its coming 1.0 refactor; the functions used here are stable
        warnings.simplefilter("ignore", FutureWarning)
        import arviz

        return np.array([float(function(arviz, samples[:, :, k].T)) for k in range(samples.shape[2])])


def effective_sample_size(samples: Any) -> np.ndarray:
    """Bulk effective sample size per direction over all chains (ArviZ ``ess``, rank-normalised).

    Parameters
    ----------
    samples : array_like, shape (n_samples, n_chains, d)

    Returns
    -------
    ndarray, shape (d,)

    Examples
    --------
    >>> draws = np.random.default_rng(0).normal(size=(1000, 4, 1))
    >>> bool(3500 < effective_sample_size(draws)[0] < 4500)
    True
    """
    return _per_direction(samples, lambda az, x: az.ess(x, method="bulk"))


def split_rhat(samples: Any) -> np.ndarray:
    """Rank-normalised split R-hat per direction (Vehtari et al. 2021, ArviZ ``rhat``); < 1.01 to 1.05 is mixed.

    Parameters
    ----------
    samples : array_like, shape (n_samples, n_chains, d)

    Returns
    -------
    ndarray, shape (d,)

    Examples
    --------
    >>> draws = np.random.default_rng(0).normal(size=(1000, 4, 1))
    >>> bool(split_rhat(draws)[0] < 1.01)
    True
    """
    return _per_direction(samples, lambda az, x: az.rhat(x, method="rank"))


# --------------------------------------------------------------------------------------------
# Other latent priors the intrinsic prior is compared with
# --------------------------------------------------------------------------------------------

__all__ += ["grouped_rhat", "GaussianMixture", "fit_gaussian_mixture", "sample_aggregate_posterior"]


def grouped_rhat(samples: Any, groups: Any) -> np.ndarray:
    """Split R-hat within each group of chains (e.g. chains started at the same centroid).

    When the target has isolated peaks and chains never cross between them, R-hat over all
    chains only says that the chains started in different peaks. R-hat within a group of chains
    that share a start says whether they agree on the peak they explore.

    Parameters
    ----------
    samples : array_like, shape (n_samples, n_chains, d)
    groups : array_like of int, shape (n_chains,)
        Group label per chain; every group needs at least 2 chains.

    Returns
    -------
    ndarray, shape (n_groups, d)
        In the order of ``np.unique(groups)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> draws = rng.normal(size=(500, 4, 1)) + np.array([0, 0, 50, 50])[None, :, None]   # two far peaks
    >>> bool(split_rhat(draws)[0] > 1.5), bool(grouped_rhat(draws, [0, 0, 1, 1]).max() < 1.02)
    (True, True)
    """
    samples = np.asarray(samples, dtype=np.float64)
    groups = np.asarray(groups)
    if samples.ndim != 3 or groups.shape != (samples.shape[1],):
        raise ValueError(f"groups must have one label per chain, shape ({samples.shape[1] if samples.ndim == 3 else '?'},); "
                         f"got {groups.shape}")
    labels, counts = np.unique(groups, return_counts=True)
    if counts.min() < 2:
        raise ValueError("every group needs at least 2 chains for R-hat")
    return np.stack([split_rhat(samples[:, groups == label]) for label in labels])


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """A Gaussian mixture with full covariances (the paper's baseline prior, 10 components on the means).

    Attributes
    ----------
    weights : ndarray, shape (K,)
    means : ndarray, shape (K, d)
    covariances : ndarray, shape (K, d, d)
    log_likelihood : float
        Mean log-likelihood per point of the data it was fitted to.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    log_likelihood: float

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """n draws, shape (n, d)."""
        rng = np.random.default_rng(seed)
        component = rng.choice(len(self.weights), size=int(n), p=self.weights)
        noise = rng.standard_normal((int(n), self.means.shape[1]))
        factors = np.linalg.cholesky(self.covariances)
        return self.means[component] + np.einsum("nij,nj->ni", factors[component], noise)


def fit_gaussian_mixture(x: Any, n_components: int = 10, *, seed: int = 0, max_iter: int = 500, tol: float = 1e-6,
                         reg_covar: float = 1e-6) -> GaussianMixture:
    """Fit a full-covariance Gaussian mixture by expectation-maximisation (k-means++-style start).

    Parameters
    ----------
    x : array_like, shape (n, d)
    n_components : int
    seed : int
    max_iter : int
    tol : float
        Stop when the mean log-likelihood improves by less.
    reg_covar : float
        Added to every covariance's diagonal, so no component collapses onto a point.

    Returns
    -------
    GaussianMixture

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = np.r_[rng.normal(-3, 0.5, (300, 1)), rng.normal(2, 1.0, (700, 1))]
    >>> mix = fit_gaussian_mixture(x, 2, seed=0)
    >>> order = np.argsort(mix.means[:, 0])
    >>> mix.weights[order].round(1).tolist(), mix.means[order, 0].round(0).tolist()
    ([0.3, 0.7], [-3.0, 2.0])
    """
    from scipy.special import logsumexp

    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a finite array of shape (n, d); got shape {x.shape}")
    n, d = x.shape
    k = _positive_int(n_components, "n_components")
    if n < 2 * k:
        raise ValueError(f"need at least 2 points per component: {n} points for {k} components")
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(n)]]
    for _ in range(1, k):
        distance = np.min([np.sum((x - c) ** 2, axis=1) for c in centres], axis=0)
        centres.append(x[rng.choice(n, p=distance / distance.sum())])
    means = np.array(centres)
    covariances = np.repeat(np.cov(x.T).reshape(d, d)[None] + reg_covar * np.eye(d), k, axis=0)
    weights = np.full(k, 1.0 / k)
    previous = -np.inf
    for _ in range(int(max_iter)):
        factors = np.linalg.cholesky(covariances)
        solved = np.linalg.solve(factors[None], (x[:, None, :] - means[None])[..., None])[..., 0]   # (n, k, d)
        log_det = 2 * np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)
        log_prob = np.log(weights) - 0.5 * (np.sum(solved**2, axis=2) + log_det + d * np.log(2 * np.pi))
        total = logsumexp(log_prob, axis=1)
        resp = np.exp(log_prob - total[:, None])
        mean_ll = float(total.mean())
        if mean_ll - previous < tol:
            break
        previous = mean_ll
        counts = resp.sum(axis=0) + 1e-12
        weights = counts / n
        means = resp.T @ x / counts[:, None]
        centred = x[:, None, :] - means[None]
        covariances = np.einsum("nk,nki,nkj->kij", resp, centred, centred) / counts[:, None, None] + reg_covar * np.eye(d)
    return GaussianMixture(weights=weights, means=means, covariances=covariances, log_likelihood=mean_ll)


def sample_aggregate_posterior(mu: Any, log_var: Any, n: int, *, seed: int = 0) -> np.ndarray:
    r"""Draws from the aggregate posterior :math:`q(z) = \frac1N \sum_i N(\mu_i, \mathrm{diag}\,\sigma_i^2)`.

    Parameters
    ----------
    mu, log_var : array_like, shape (N, d)
        Encoder outputs of N events.
    n : int
    seed : int

    Returns
    -------
    ndarray, shape (n, d)

    Examples
    --------
    >>> z = sample_aggregate_posterior(np.array([[0.0], [10.0]]), np.log([[0.01], [0.01]]), 1000)
    >>> bool(abs((z[:, 0] > 5).mean() - 0.5) < 0.05)
    True
    """
    mu = np.asarray(mu, dtype=np.float64)
    log_var = np.asarray(log_var, dtype=np.float64)
    if mu.ndim != 2 or log_var.shape != mu.shape:
        raise ValueError(f"mu and log_var must have the same shape (N, d); got {mu.shape} and {log_var.shape}")
    if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(log_var))):
        raise ValueError("mu and log_var must be finite")
    rng = np.random.default_rng(seed)
    pick = rng.integers(len(mu), size=int(n))
    return mu[pick] + np.exp(0.5 * log_var[pick]) * rng.standard_normal((int(n), mu.shape[1]))
