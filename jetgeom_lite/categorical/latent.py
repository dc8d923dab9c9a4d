"""The relaxed Bernoulli (binary Concrete) latent: its KL in logit space and its sampler."""

from __future__ import annotations

import math

import torch

__all__ = ["DEFAULT_TEMPERATURE", "kl_relaxed_bernoulli", "kl_bernoulli", "relaxed_bernoulli_sample"]

DEFAULT_TEMPERATURE = 0.3  # Collins' value (utils/VAE_model_tools_cat.py)
_UNIFORM_EPS = 1e-6        # u is kept in (eps, 1 - eps): the logistic noise stays finite


# --------------------------------------------------------------------------------------------
# input checks


def _check_logits(log_alpha, name: str = "log_alpha") -> torch.Tensor:
    if not isinstance(log_alpha, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor of logits (log-odds), got {type(log_alpha).__name__}; "
                        "wrap numbers with torch.tensor(...).")
    if not log_alpha.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {log_alpha.dtype}.")
    if not bool(torch.isfinite(log_alpha.detach()).all()):
        raise ValueError(f"{name} contains NaN or infinite logits; the encoder diverged or the input is "
                         "broken (check the data, lower the learning rate).")
    return log_alpha


def _check_prior(prior_prob) -> float:
    try:
        value = float(prior_prob)
    except (TypeError, ValueError):
        raise TypeError(f"prior_prob must be a probability in (0, 1), got {type(prior_prob).__name__}.") from None
    if not (0.0 < value < 1.0):
        raise ValueError(f"prior_prob must be a probability strictly between 0 and 1, got {prior_prob!r}.")
    return value


def _check_temperature(temperature) -> float:
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise TypeError(f"temperature must be a positive number, got {type(temperature).__name__}.") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"temperature must be positive and finite (the author used 0.3), got {temperature!r}.")
    return value


def _check_alpha_weight(alpha_weight) -> float:
    try:
        value = float(alpha_weight)
    except (TypeError, ValueError):
        raise TypeError(f"alpha_weight must be a non-negative number, got {type(alpha_weight).__name__}.") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"alpha_weight (the weight alpha_w of the Bernoulli KL) must be >= 0 and finite, "
                         f"got {alpha_weight!r}; 1 is the ELBO, smaller values make the binary channel cheaper.")
    return value


# --------------------------------------------------------------------------------------------
# the relaxed Bernoulli latent


def kl_relaxed_bernoulli(log_alpha: torch.Tensor, prior_prob: float = 0.5) -> torch.Tensor:
    r"""KL of a binary Concrete unit to its prior, in logit space, per unit (nats, elementwise).

    Both the posterior and the prior logit-space variables are unit-scale logistic densities
    (divided by the same temperature, which cancels), so

    .. math:: \mathrm{KL} = d \coth(d/2) - 2 = |d| - 2 + \frac{2|d|}{e^{|d|} - 1},
              \quad d = \ln\alpha - \ln\frac{p}{1 - p}.

    It is :math:`d^2/6` near 0 (evaluated by its series for :math:`|d| < 0.1`, so the value and
    the gradient are smooth at 0) and grows like :math:`|d| - 2`: unlike the discrete
    Bernoulli KL (:func:`kl_bernoulli`, at most :math:`-\ln p`) it keeps charging for
    over-confident logits. Computed in float64, returned in the input's dtype.

    Parameters
    ----------
    log_alpha : torch.Tensor, any shape
        Logits (log-odds) of the units.
    prior_prob : float
        Prior probability of ``s = 1``, in (0, 1); 0.5 is a logit of 0.

    Returns
    -------
    torch.Tensor, shape of ``log_alpha``
        KL per unit, nats, differentiable.

    Examples
    --------
    >>> kl_relaxed_bernoulli(torch.tensor([0.0, 1.0, 3.0], dtype=torch.float64)).round(decimals=6).tolist()
    [0.0, 0.163953, 1.314374]
    """
    log_alpha = _check_logits(log_alpha)
    p = _check_prior(prior_prob)
    d = log_alpha.double() - math.log(p / (1.0 - p))
    a = d.abs()
    small = a < 0.1
    d2 = d * d
    # series of x coth(x/2) - 2 (Bernoulli numbers); truncation error < 1e-15 relative at |d| < 0.1
    series = d2 / 6 - d2 * d2 / 360 + d2 ** 3 / 15120 - d2 ** 4 / 604800
    safe = torch.where(small, torch.ones_like(a), a)  # keeps the unused branch (and its gradient) finite
    direct = safe - 2 + 2 * safe / torch.expm1(safe)
    return torch.where(small, series, direct).to(log_alpha.dtype)


def kl_bernoulli(log_alpha: torch.Tensor, prior_prob: float = 0.5) -> torch.Tensor:
    r"""KL of a *discrete* Bernoulli ``q = sigmoid(log_alpha)`` to ``Bernoulli(p)``, nats, elementwise.

    :math:`q\ln(q/p) + (1-q)\ln((1-q)/(1-p))`, written with log-sigmoids (no log 0). Bounded by
    :math:`-\ln\min(p, 1-p)` (ln 2 at p = 0.5): the price a hard binary latent would pay. For
    comparison with :func:`kl_relaxed_bernoulli`, which the relaxed model's loss uses.

    Examples
    --------
    >>> round(float(kl_bernoulli(torch.tensor(3.0))), 6)
    0.502282
    """
    log_alpha = _check_logits(log_alpha)
    p = _check_prior(prior_prob)
    x = log_alpha.double()
    q = torch.sigmoid(x)
    value = (q * (torch.nn.functional.logsigmoid(x) - math.log(p))
             + (1 - q) * (torch.nn.functional.logsigmoid(-x) - math.log1p(-p)))
    return value.to(log_alpha.dtype)


def relaxed_bernoulli_sample(log_alpha: torch.Tensor, temperature: float,
                             generator: torch.Generator | None = None, *, hard: bool = False,
                             return_logit: bool = False):
    r"""A reparametrised draw of binary Concrete units, :math:`s = \sigma(y)`.

    :math:`y = (\ln\alpha + \ln u - \ln(1 - u)) / T`, :math:`u \sim U(\epsilon, 1-\epsilon)`,
    :math:`\epsilon = 10^{-6}`. Since :math:`\ln u - \ln(1-u)` is standard logistic,
    :math:`P(s > 1/2) = P(y > 0) = \sigma(\ln\alpha)` at every temperature; as :math:`T \to 0`
    the draws become exactly 0 or 1. Never take the log of ``s`` (it saturates to 0 or 1 in
    floating point); use ``y`` (``return_logit=True``).

    Parameters
    ----------
    log_alpha : torch.Tensor, any shape
        Logits (log-odds) of the units; finite.
    temperature : float
        T > 0 (0.3 in the author's code).
    generator : torch.Generator, optional
        Source of the uniform noise (on the device of ``log_alpha``).
    hard : bool
        Return the deterministic ``1[log_alpha > 0]`` instead of a draw (evaluation).
    return_logit : bool
        Also return ``y``, the pre-sigmoid sample.

    Returns
    -------
    s : torch.Tensor, shape of ``log_alpha``
    y : torch.Tensor, shape of ``log_alpha`` (only with ``return_logit``)

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> s = relaxed_bernoulli_sample(torch.full((20000,), 1.3), 0.3, g)
    >>> abs(float((s > 0.5).float().mean()) - float(torch.sigmoid(torch.tensor(1.3)))) < 0.015
    True
    """
    log_alpha = _check_logits(log_alpha)
    temperature = _check_temperature(temperature)
    if hard:
        s = (log_alpha > 0).to(log_alpha.dtype)
        y = torch.where(log_alpha > 0, torch.full_like(log_alpha, math.inf), torch.full_like(log_alpha, -math.inf))
        return (s, y) if return_logit else s
    u = torch.rand(log_alpha.shape, generator=generator, dtype=log_alpha.dtype, device=log_alpha.device)
    u = u.clamp(_UNIFORM_EPS, 1 - _UNIFORM_EPS)
    y = (log_alpha + torch.log(u) - torch.log1p(-u)) / temperature
    s = torch.sigmoid(y)
    return (s, y) if return_logit else s
