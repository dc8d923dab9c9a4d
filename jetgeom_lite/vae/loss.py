"""The loss: squared distance over 2 beta^2 plus the KL of each latent direction, in nats.

:math:`L = \\langle d^2\\rangle / (2\\beta^2) + \\sum_k \\mathrm{KL}_k`. :func:`vae_loss` is the formula on
tensors; a second latent type adds its own KL term through ``extra_kl`` (see :func:`vae_loss`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._validation import check_nonnegative, check_positive

__all__ = ["VAELoss", "kl_per_latent", "vae_loss"]


def kl_per_latent(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL divergence of each posterior direction from the unit Gaussian prior, per sample.

    :math:`\\mathrm{KL}_k = \\tfrac12(\\mu_k^2 + \\sigma_k^2 - 1 - \\ln\\sigma_k^2)` in nats.

    Parameters
    ----------
    mu, log_var : torch.Tensor, shape (n, k)
        Posterior means and log variances :math:`\\ln\\sigma_k^2`.

    Returns
    -------
    torch.Tensor, shape (n, k)

    Examples
    --------
    >>> kl_per_latent(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.0, 0.0]]))
    tensor([[0.0000, 0.5000]])
    """
    return 0.5 * (mu.pow(2) + log_var.exp() - 1.0 - log_var)


@dataclass(frozen=True)
class VAELoss:
    """The VAE loss of a batch and its parts (tensors, differentiable).

    Attributes
    ----------
    total : torch.Tensor, scalar
        :math:`\\langle d^2\\rangle / (2\\beta^2) + \\mathrm{KL}` (dimensionless); for an autoencoder
        trained without beta, :math:`\\langle d^2\\rangle` itself.
    distortion : torch.Tensor, scalar
        :math:`\\langle d^2\\rangle`, batch mean of the squared distance (squared unit of beta).
    kl : torch.Tensor, scalar
        Total KL, summed over directions, batch mean, nats.
    kl_per_latent : torch.Tensor, shape (k,)
        KL of each direction, batch mean, nats (zeros for an autoencoder).
    extra_kl_per_latent : torch.Tensor, shape (k',), or None
        KL of a second latent's directions (batch mean, nats, unweighted); ``None`` without one.
    """

    total: torch.Tensor
    distortion: torch.Tensor
    kl: torch.Tensor
    kl_per_latent: torch.Tensor
    extra_kl_per_latent: torch.Tensor | None = None


def _check_beta(beta) -> float:
    """beta as a float: a positive, finite length in the unit of the distance (numpy scalars and
    0-d tensors accepted)."""
    return check_positive(beta, "beta", example="0.1")


class NonFiniteLossError(ValueError, FloatingPointError):
    """A NaN or infinite input to the loss: a ValueError for bad data, a FloatingPointError for
    the training loop (which stops and keeps the weights of the last good step)."""


def _check_loss_inputs(squared_distance, mu, log_var) -> None:
    for name, value in (("squared_distance", squared_distance), ("mu", mu), ("log_var", log_var)):
        if value is None and name == "log_var":
            continue
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}; vae_loss works on "
                            f"tensors (to keep gradients): convert with torch.as_tensor({name}, dtype=torch.float32).")
    if squared_distance.ndim != 1:
        raise ValueError(f"squared_distance must have shape (n,), got {tuple(squared_distance.shape)}.")
    if squared_distance.shape[0] == 0:
        raise ValueError("the batch is empty (squared_distance has shape (0,)); a loss needs at least one sample.")
    values = squared_distance.detach()
    if not bool(torch.isfinite(values).all()):
        raise NonFiniteLossError("squared_distance contains NaN or inf; check the data and the distance "
                         "(for jets: are they preprocessed and normalised?).")
    if bool((values < 0).any()):
        raise ValueError(f"squared_distance has negative entries (min {float(values.min()):.3g}); it must be a "
                         "squared distance d(x, x_hat)**2 >= 0, not a distance difference or a log-likelihood.")
    for name, value in (("mu", mu), ("log_var", log_var)):
        if value is not None and not bool(torch.isfinite(value.detach()).all()):
            raise NonFiniteLossError(f"{name} contains NaN or inf; the encoder produced non-finite posterior parameters.")


def vae_loss(squared_distance: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor | None,
             beta: float | None, *, extra_kl: torch.Tensor | None = None,
             extra_kl_weight: float = 1.0) -> VAELoss:
    """The VAE loss from per-sample squared distances and posterior parameters.

    :math:`L = \\langle d^2\\rangle / (2\\beta^2) + \\sum_k \\langle \\mathrm{KL}_k\\rangle`,
    :math:`\\mathrm{KL}_k = \\tfrac12(\\mu_k^2 + \\sigma_k^2 - 1 - \\ln\\sigma_k^2)`.

    Parameters
    ----------
    squared_distance : torch.Tensor, shape (n,)
        :math:`d(x, \\hat x)^2` per sample, in the squared unit of beta.
    mu : torch.Tensor, shape (n, k)
    log_var : torch.Tensor, shape (n, k), or None
        ``None`` for a plain autoencoder (no KL).
    beta : float or None
        Resolution, in the unit of the distance. ``None`` only for an autoencoder, whose loss is
        then :math:`\\langle d^2\\rangle`.
    extra_kl : torch.Tensor, shape (n, k'), optional
        KL per sample and direction of a second latent (e.g. relaxed-Bernoulli directions), nats.
        Its batch mean per direction is added to the total with weight ``extra_kl_weight``
        (:math:`\\alpha_w`): :math:`L = \\langle d^2\\rangle/(2\\beta^2) + \\mathrm{KL}_\\mathrm{gauss}
        + \\alpha_w \\mathrm{KL}_\\mathrm{extra}`; it is reported in ``VAELoss.extra_kl_per_latent``
        and not included in ``kl``.
    extra_kl_weight : float
        :math:`\\alpha_w >= 0`.

    Returns
    -------
    VAELoss

    Raises
    ------
    TypeError
        Inputs that are not torch tensors (numpy arrays: convert with ``torch.as_tensor``).
    ValueError
        An empty batch, a negative, NaN or infinite squared distance, non-finite mu or log_var,
        or wrong shapes.

    Examples
    --------
    >>> loss = vae_loss(torch.tensor([0.5, 1.5]), torch.zeros(2, 1), torch.zeros(2, 1), beta=1.0)
    >>> float(loss.total), float(loss.distortion), float(loss.kl)
    (0.5, 1.0, 0.0)
    """
    _check_loss_inputs(squared_distance, mu, log_var)
    if mu.ndim != 2 or mu.shape[0] != squared_distance.shape[0]:
        raise ValueError(f"mu must have shape (n, k) with n={squared_distance.shape[0]}, "
                         f"got {tuple(mu.shape)}.")
    distortion = squared_distance.mean()
    if log_var is None:
        kl_directions = torch.zeros(mu.shape[1], dtype=mu.dtype, device=mu.device)
        if beta is None:
            total = distortion
        else:
            total = distortion / (2 * _check_beta(beta) ** 2)
    else:
        if log_var.shape != mu.shape:
            raise ValueError(f"log_var {tuple(log_var.shape)} must have the shape of mu "
                             f"{tuple(mu.shape)}.")
        if beta is None:
            raise ValueError("a VAE needs beta (its resolution, in the unit of the distance); "
                             "only a plain autoencoder (log_var=None) trains without it.")
        kl_directions = kl_per_latent(mu, log_var).mean(dim=0)
        total = distortion / (2 * _check_beta(beta) ** 2) + kl_directions.sum()
    if extra_kl is None:
        return VAELoss(total=total, distortion=distortion, kl=kl_directions.sum(),
                       kl_per_latent=kl_directions)
    if not isinstance(extra_kl, torch.Tensor) or extra_kl.ndim != 2 or extra_kl.shape[0] != mu.shape[0]:
        shape = tuple(extra_kl.shape) if isinstance(extra_kl, torch.Tensor) else type(extra_kl).__name__
        raise ValueError(f"extra_kl must be a tensor of shape (n={mu.shape[0]}, k'), the KL per sample and "
                         f"direction of the second latent; got {shape}.")
    weight = check_nonnegative(extra_kl_weight, "extra_kl_weight")
    extra_directions = extra_kl.mean(dim=0)
    return VAELoss(total=total + weight * extra_directions.sum(), distortion=distortion, kl=kl_directions.sum(),
                   kl_per_latent=kl_directions, extra_kl_per_latent=extra_directions)
