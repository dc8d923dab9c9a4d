"""Evaluation of a trained model: loss terms on a data set, decoded posterior draws and ellipses."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_integer
from ._batches import Batch, _as_batch, _check_data_dim, _check_steps, _model_dtype, _resolve_device, _slice
from .loss import _check_beta
from .model import VAE, make_mlp_vae  # noqa: F401  (doctests)

__all__ = ["VAEEvaluation", "evaluate_vae", "decoded_posterior_samples", "decoded_posterior_covariance"]


@dataclass(frozen=True)
class VAEEvaluation:
    """Loss terms of a trained model on a data set (numbers, not tensors).

    Attributes
    ----------
    beta : float or None
    total : float
        Loss at ``beta`` (nan when ``beta`` is None and the model is a VAE).
    distortion : float
        :math:`\\langle d^2\\rangle` averaged over events and ``n_samples`` latent draws.
    kl : float
        Total KL, nats (exact, no sampling).
    kl_per_latent : numpy.ndarray, shape (k,)
        Mean KL of each direction, nats.
    sigma_per_latent : numpy.ndarray, shape (k,)
        Geometric mean over events of the posterior width :math:`\\sigma_k` (0 for an autoencoder).
    n_events, n_samples : int
    """

    beta: float | None
    total: float
    distortion: float
    kl: float
    kl_per_latent: np.ndarray
    sigma_per_latent: np.ndarray
    n_events: int
    n_samples: int


@torch.no_grad()
def _evaluate(model: VAE, batch: Batch, beta: float | None, n_samples: int, batch_size: int,
              generator: torch.Generator) -> VAEEvaluation:
    was_training = model.training
    model.eval()
    n = batch[0].shape[0]
    d2_total = 0.0
    kl_total = None
    log_sigma_total = None
    for start in range(0, n, batch_size):
        chunk = _slice(batch, slice(start, start + batch_size))
        d2_terms, kl_chunk, log_sigma_chunk = model.evaluation_terms(chunk, n_samples, generator)
        for term in d2_terms:
            d2_total += term
        kl_total = kl_chunk if kl_total is None else kl_total + kl_chunk
        log_sigma_total = log_sigma_chunk if log_sigma_total is None else log_sigma_total + log_sigma_chunk
    model.train(was_training)
    distortion = d2_total / n
    kl_directions = (kl_total / n).numpy()
    kl = float(kl_directions.sum())
    if beta is None:
        total = distortion if not model.stochastic else math.nan
    else:
        total = distortion / (2 * beta ** 2) + kl
    if not (math.isfinite(distortion) and math.isfinite(kl)):
        raise FloatingPointError(f"evaluation gave distortion {distortion} and KL {kl}; the model "
                                 "or the distance produces NaN/inf on this data.")
    return VAEEvaluation(beta=beta, total=float(total), distortion=float(distortion), kl=kl,
                         kl_per_latent=kl_directions, sigma_per_latent=np.exp((log_sigma_total / n).numpy()),
                         n_events=int(n), n_samples=int(n_samples if model.stochastic else 1))


def evaluate_vae(model: VAE, data, beta: float | None = None, *, n_samples: int = 8,
                 batch_size: int = 4096, seed: int = 0,
                 device: str | torch.device | None = None) -> VAEEvaluation:
    """Distortion, KL per direction and posterior widths of a model on a data set.

    :math:`\\langle d^2\\rangle` is averaged over ``n_samples`` latent draws per event (it is a noisy
    estimate otherwise); the KL is exact.

    Parameters
    ----------
    model : VAE
    data : array, tensor or tuple ``(x, *extras)``
    beta : float or None
        Only used to report ``total``.
    n_samples : int
        Latent draws per event.
    batch_size : int
        Events per forward pass (memory only; the result does not depend on it beyond rounding).
    seed : int
    device : optional
        Default: where the model's parameters are (the package's one device rule: nothing is
        moved unless asked).

    Returns
    -------
    VAEEvaluation

    Examples
    --------
    >>> model = make_mlp_vae(2, 2, hidden=(8,), seed=0)
    >>> evaluate_vae(model, np.zeros((10, 2)), beta=1.0, device="cpu").kl_per_latent.shape
    (2,)
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a jetgeom_lite.vae.VAE, got {type(model).__name__}.")
    if beta is not None:
        beta = _check_beta(beta)
    n_samples = _check_steps(n_samples, "n_samples")
    batch_size = check_integer(batch_size, "batch_size", minimum=1, example="4096")
    seed = check_integer(seed, "seed")
    target = _resolve_device(model, device)
    model.to(target)
    batch = _as_batch(data, _model_dtype(model), target)
    _check_data_dim(model, batch[0])
    generator = torch.Generator(device=target).manual_seed(int(seed) + 2)
    return _evaluate(model, batch, beta, n_samples, batch_size, generator)


def decoded_posterior_samples(model: VAE, x, n_draws: int, seed: int = 0) -> np.ndarray:
    r"""Decode ``n_draws`` posterior draws of each input: how the latent noise smears outputs.

    Parameters
    ----------
    model : VAE
        A trained model taking vectors (no extras).
    x : array_like, shape (n, D)
        Inputs in the data's unit.
    n_draws : int
        Draws of :math:`z \sim q(z|x)` per input.
    seed : int
        Seed of the draws.

    Returns
    -------
    ndarray, shape (n_draws, n, D)
        Decoded draws; their spread around the mean is the model's resolution, ~beta per
        encoded direction.

    Examples
    --------
    >>> model = make_mlp_vae(2, 2, seed=0)
    >>> decoded_posterior_samples(model, np.zeros((3, 2)), n_draws=5).shape
    (5, 3, 2)
    """
    n_draws = _check_steps(n_draws, "n_draws")
    x = torch.as_tensor(np.asarray(x), dtype=_model_dtype(model), device=next(model.parameters()).device)
    generator = torch.Generator(device=x.device).manual_seed(int(seed))
    with torch.no_grad():
        mu, log_var = model.encode(x)
        z = model.sample_latent(mu.repeat(n_draws, 1), None if log_var is None else log_var.repeat(n_draws, 1),
                                generator)
        return model.decode(z).reshape(n_draws, len(x), -1).cpu().numpy()


def decoded_posterior_covariance(model: VAE, x) -> tuple[np.ndarray, np.ndarray]:
    r"""The posterior of each input pushed through the decoder, to first order.

    :math:`\hat x(\mu)` and :math:`J\,\mathrm{diag}(\sigma^2)\,J^T` with
    :math:`J = \partial \hat x / \partial z` at :math:`z = \mu`: the ellipse of outputs that one
    posterior standard deviation reaches.

    Parameters
    ----------
    model : VAE
        A trained stochastic model taking vectors (no extras).
    x : array_like, shape (n, D)

    Returns
    -------
    centres : ndarray, shape (n, D)
    covariances : ndarray, shape (n, D, D)
        In the squared unit of the data.

    Examples
    --------
    >>> model = make_mlp_vae(2, 2, seed=0)
    >>> centres, covariances = decoded_posterior_covariance(model, np.zeros((4, 2)))
    >>> covariances.shape
    (4, 2, 2)
    """
    x = torch.as_tensor(np.asarray(x), dtype=_model_dtype(model), device=next(model.parameters()).device)
    with torch.no_grad():
        mu, sigma = model.posterior(x)
        centres = model.decode(mu)
    jacobian = torch.func.vmap(torch.func.jacrev(model.decode))(mu)  # (n, D, k)
    covariances = jacobian @ torch.diag_embed(sigma**2) @ jacobian.transpose(1, 2)
    return centres.cpu().numpy(), covariances.detach().cpu().numpy()
