"""A Gaussian VAE whose loss carries a unit: the information cost of describing data at resolution beta.

The loss (REFERENCE.md section 3, Collins arXiv:2109.10919)::

    L = < d(x, x_hat)^2 > / (2 beta^2) + sum_k KL_k,
    KL_k = 1/2 (mu_k^2 + sigma_k^2 - 1 - ln sigma_k^2)       [nats]

with ``d`` a distance between an input and its reconstruction (Euclidean for vectors, the EMD for
jets) and ``beta`` in the unit of ``d``. Three readings: beta prices information (a latent
direction is used only when it pays for itself in reconstruction), beta has the unit of the
distance, and beta is the resolution (latent sampling smears the output at scale ~beta).

The pieces are separate so that other data (jets) plug in without new training code:

- :class:`VAE` wraps any ``encoder(x, *extras) -> (mu, log_var)``, any ``decoder(z) -> x_hat`` and
  any ``distance(x, x_hat, *extras) -> squared distance per sample``. ``extras`` are further
  per-event tensors (a particle mask, say) that travel with ``x`` through batching.
- :func:`vae_loss` is the formula, on tensors.
- :func:`train_vae` trains at one beta; :func:`beta_sweep` anneals over a monotonic grid of beta,
  warm-starting each step from the last and recording KL per direction, distortion and the weights.
- :func:`make_mlp_vae` and :func:`make_mlp_autoencoder` build small models for vectors; the plain
  autoencoder is the same class with ``stochastic=False`` (no KL, no scale).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .environment import default_device

__all__ = [
    "VAE",
    "VAEOutput",
    "VAELoss",
    "VAEEvaluation",
    "TrainingHistory",
    "BetaSweep",
    "MLPEncoder",
    "MLPDecoder",
    "squared_euclidean_distance",
    "kl_per_latent",
    "vae_loss",
    "make_mlp_vae",
    "make_mlp_autoencoder",
    "train_vae",
    "train_autoencoder",
    "evaluate_vae",
    "beta_sweep",
    "decoded_posterior_samples",
    "decoded_posterior_covariance",
]

Batch = tuple[torch.Tensor, ...]

# --------------------------------------------------------------------------------------------
# building blocks


def squared_euclidean_distance(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distance per sample, summed over every axis but the first.

    Parameters
    ----------
    x, x_hat : torch.Tensor, shape (n, ...)
        Inputs and reconstructions, same shape.

    Returns
    -------
    torch.Tensor, shape (n,)
        :math:`|x - \\hat x|^2`, in the squared unit of ``x``.

    Examples
    --------
    >>> squared_euclidean_distance(torch.zeros(2, 3), torch.ones(2, 3))
    tensor([3., 3.])
    """
    if x.shape != x_hat.shape:
        raise ValueError(f"x has shape {tuple(x.shape)} but x_hat has shape {tuple(x_hat.shape)}; "
                         "the decoder must return the shape of the data.")
    return (x - x_hat).pow(2).flatten(1).sum(dim=1)


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


def _activation(name: str) -> nn.Module:
    table = {"silu": nn.SiLU, "tanh": nn.Tanh, "relu": nn.ReLU, "softplus": nn.Softplus,
             "gelu": nn.GELU, "leaky_relu": lambda: nn.LeakyReLU(0.1)}
    if name not in table:
        raise ValueError(f"activation {name!r} is unknown; choose one of {sorted(table)}.")
    return table[name]()


def _mlp(sizes: Sequence[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (size_in, size_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(size_in, size_out))
        if i < len(sizes) - 2:
            layers.append(_activation(activation))
    return nn.Sequential(*layers)


def _check_sizes(data_dim: int, latent_dim: int, hidden: Sequence[int]) -> tuple[int, ...]:
    for name, value in (("data_dim", data_dim), ("latent_dim", latent_dim)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    hidden = tuple(hidden)
    if any(isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1 for h in hidden):
        raise ValueError(f"hidden must be a sequence of positive layer widths, got {hidden!r}.")
    return hidden


class MLPEncoder(nn.Module):
    """Vector encoder: an MLP from ``data_dim`` to the posterior mean and log variance.

    Parameters
    ----------
    data_dim, latent_dim : int
    hidden : sequence of int
        Widths of the hidden layers.
    activation : str
        ``"silu"`` (default, smooth, so the decoded manifold is smooth), ``"tanh"``, ``"relu"``, ...
    stochastic : bool
        ``False`` returns only the mean (a plain autoencoder's encoder).

    Shapes: ``(n, data_dim) -> (mu, log_var)``, each ``(n, latent_dim)``.
    """

    def __init__(self, data_dim: int, latent_dim: int, hidden: Sequence[int] = (64, 64),
                 activation: str = "silu", stochastic: bool = True):
        super().__init__()
        hidden = _check_sizes(data_dim, latent_dim, hidden)
        self.stochastic = bool(stochastic)
        self.latent_dim = int(latent_dim)
        width_out = 2 * latent_dim if self.stochastic else latent_dim
        self.network = _mlp((data_dim, *hidden, width_out), activation)

    def forward(self, x: torch.Tensor):
        out = self.network(x)
        if not self.stochastic:
            return out
        mu, log_var = out.chunk(2, dim=-1)
        return mu, log_var


class MLPDecoder(nn.Module):
    """Vector decoder: an MLP from ``latent_dim`` to ``data_dim``. Shapes ``(n, k) -> (n, D)``."""

    def __init__(self, latent_dim: int, data_dim: int, hidden: Sequence[int] = (64, 64),
                 activation: str = "silu"):
        super().__init__()
        hidden = _check_sizes(data_dim, latent_dim, hidden)
        self.network = _mlp((latent_dim, *hidden, data_dim), activation)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.network(z)


@dataclass(frozen=True)
class VAEOutput:
    """One pass through a :class:`VAE`.

    Attributes
    ----------
    x_hat : torch.Tensor or object
        The decoder's output for ``z`` (shape of the data for vectors).
    z : torch.Tensor, shape (n, k)
        The latent code used: a posterior sample, or the mean.
    mu : torch.Tensor, shape (n, k)
    log_var : torch.Tensor or None, shape (n, k)
        ``None`` for a deterministic autoencoder.
    """

    x_hat: object
    z: torch.Tensor
    mu: torch.Tensor
    log_var: torch.Tensor | None


class VAE(nn.Module):
    """A Gaussian VAE (or, with ``stochastic=False``, a plain autoencoder) around any networks.

    Parameters
    ----------
    encoder : torch.nn.Module
        ``encoder(x, *extras) -> (mu, log_var)``, each ``(n, k)``; for ``stochastic=False`` it may
        return ``mu`` alone (a returned ``log_var`` is then ignored).
    decoder : torch.nn.Module
        ``decoder(z) -> x_hat``.
    distance : callable, optional
        ``distance(x, x_hat, *extras) -> (n,)`` *squared* distance per sample, differentiable in
        ``x_hat``. Default :func:`squared_euclidean_distance`. For jets: the squared Sinkhorn EMD.
    stochastic : bool
        ``True``: sample :math:`z = \\mu + \\sigma\\epsilon` and pay the KL. ``False``: a plain
        autoencoder, ``z = mu``, no KL.

    Examples
    --------
    >>> model = make_mlp_vae(data_dim=2, latent_dim=2, hidden=(16,), seed=0)
    >>> out = model(torch.zeros(5, 2))
    >>> out.x_hat.shape, out.mu.shape
    (torch.Size([5, 2]), torch.Size([5, 2]))
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module,
                 distance: Callable[..., torch.Tensor] | None = None, stochastic: bool = True):
        super().__init__()
        if not isinstance(encoder, nn.Module) or not isinstance(decoder, nn.Module):
            raise TypeError("encoder and decoder must be torch.nn.Module instances.")
        if distance is not None and not callable(distance):
            raise TypeError("distance must be a callable distance(x, x_hat, *extras) -> (n,).")
        self.encoder = encoder
        self.decoder = decoder
        # A module passed as distance (e.g. with its own buffers) is registered, a function kept as is.
        self.distance = distance if distance is not None else squared_euclidean_distance
        self.stochastic = bool(stochastic)

    def encode(self, x: torch.Tensor, *extras: torch.Tensor):
        """Posterior parameters ``(mu, log_var)``; ``log_var`` is ``None`` for an autoencoder."""
        out = self.encoder(x, *extras)
        if isinstance(out, (tuple, list)):
            if len(out) != 2:
                raise ValueError("the encoder must return (mu, log_var) or, for an autoencoder, mu; "
                                 f"it returned {len(out)} items.")
            mu, log_var = out
        else:
            if self.stochastic:
                raise ValueError("a stochastic VAE's encoder must return (mu, log_var); it returned "
                                 "one tensor. Pass stochastic=False for a plain autoencoder.")
            mu, log_var = out, None
        if not self.stochastic:
            log_var = None
        elif mu.shape != log_var.shape:
            raise ValueError(f"encoder returned mu {tuple(mu.shape)} and log_var "
                             f"{tuple(log_var.shape)}; they must match.")
        return mu, log_var

    def posterior(self, x: torch.Tensor, *extras: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior means and widths :math:`(\\mu, \\sigma)`, each ``(n, k)`` (sigma 0 for an AE)."""
        mu, log_var = self.encode(x, *extras)
        sigma = torch.zeros_like(mu) if log_var is None else (0.5 * log_var).exp()
        return mu, sigma

    def decode(self, z: torch.Tensor):
        """Decode latent codes ``(n, k)``."""
        return self.decoder(z)

    @staticmethod
    def sample_latent(mu: torch.Tensor, log_var: torch.Tensor | None,
                      generator: torch.Generator | None = None) -> torch.Tensor:
        """A posterior draw :math:`z = \\mu + \\sigma\\epsilon` (reparametrised); ``mu`` if no log_var."""
        if log_var is None:
            return mu
        epsilon = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + (0.5 * log_var).exp() * epsilon

    def forward(self, x: torch.Tensor, *extras: torch.Tensor, sample: bool = True,
                generator: torch.Generator | None = None) -> VAEOutput:
        """Encode, draw ``z`` (or take the mean when ``sample=False``), decode."""
        mu, log_var = self.encode(x, *extras)
        z = self.sample_latent(mu, log_var if sample else None, generator)
        return VAEOutput(x_hat=self.decode(z), z=z, mu=mu, log_var=log_var)

    def squared_distance(self, x: torch.Tensor, x_hat, *extras: torch.Tensor) -> torch.Tensor:
        """``distance(x, x_hat, *extras)``, checked to be one finite-or-not value per sample."""
        d2 = self.distance(x, x_hat, *extras)
        if not isinstance(d2, torch.Tensor) or d2.shape != (x.shape[0],):
            shape = tuple(d2.shape) if isinstance(d2, torch.Tensor) else type(d2).__name__
            raise ValueError(f"distance must return one squared distance per sample, shape "
                             f"({x.shape[0]},); got {shape}.")
        return d2

    def loss(self, batch: Batch, beta: float | None, generator: torch.Generator | None = None,
             n_samples: int = 1) -> VAELoss:
        """The loss of one batch ``(x, *extras)`` at ``beta``, averaging ``n_samples`` draws of z."""
        x, *extras = batch
        mu, log_var = self.encode(x, *extras)
        draws = n_samples if log_var is not None else 1  # an autoencoder's draws are all the same
        d2 = sum(self.squared_distance(x, self.decode(self.sample_latent(mu, log_var, generator)),
                                       *extras) for _ in range(draws))
        return vae_loss(d2 / draws, mu, log_var, beta)


# --------------------------------------------------------------------------------------------
# the loss


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
    """

    total: torch.Tensor
    distortion: torch.Tensor
    kl: torch.Tensor
    kl_per_latent: torch.Tensor


def _check_beta(beta) -> float:
    if isinstance(beta, torch.Tensor):
        beta = beta.item()
    try:
        beta = float(beta)
    except (TypeError, ValueError):
        raise TypeError(f"beta must be a positive number, got {type(beta).__name__}.") from None
    if not math.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be positive and finite (it is a length in the unit of the "
                         f"distance), got {beta}.")
    return beta


def vae_loss(squared_distance: torch.Tensor, mu: torch.Tensor, log_var: torch.Tensor | None,
             beta: float | None) -> VAELoss:
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

    Returns
    -------
    VAELoss

    Examples
    --------
    >>> loss = vae_loss(torch.tensor([0.5, 1.5]), torch.zeros(2, 1), torch.zeros(2, 1), beta=1.0)
    >>> float(loss.total), float(loss.distortion), float(loss.kl)
    (0.5, 1.0, 0.0)
    """
    if squared_distance.ndim != 1:
        raise ValueError(f"squared_distance must have shape (n,), got {tuple(squared_distance.shape)}.")
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
    return VAELoss(total=total, distortion=distortion, kl=kl_directions.sum(),
                   kl_per_latent=kl_directions)


# --------------------------------------------------------------------------------------------
# factories


def _seeded_build(seed: int | None, build: Callable[[], nn.Module]) -> nn.Module:
    if seed is None:
        return build()
    # fork_rng keeps the caller's global torch RNG untouched: no hidden global state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def make_mlp_vae(data_dim: int, latent_dim: int, hidden: Sequence[int] = (64, 64),
                 activation: str = "silu", seed: int | None = 0) -> VAE:
    """A VAE for vectors: MLP encoder and decoder, squared Euclidean distance.

    Parameters
    ----------
    data_dim : int
        ``D``, length of each data vector.
    latent_dim : int
        ``k``, number of latent directions. Give at least as many as the data could need; unused
        ones stay at the prior (KL 0).
    hidden : sequence of int
        Hidden layer widths, used for both encoder and decoder.
    activation : str
        See :class:`MLPEncoder`.
    seed : int or None
        Seed of the weight initialisation (``None``: torch's global RNG).

    Returns
    -------
    VAE

    Examples
    --------
    >>> model = make_mlp_vae(3, 3, hidden=(32, 32), seed=1)
    >>> sum(p.numel() for p in model.parameters())
    2665
    """
    return _seeded_build(seed, lambda: VAE(
        MLPEncoder(data_dim, latent_dim, hidden, activation, stochastic=True),
        MLPDecoder(latent_dim, data_dim, hidden, activation), stochastic=True))


def make_mlp_autoencoder(data_dim: int, latent_dim: int, hidden: Sequence[int] = (64, 64),
                         activation: str = "silu", seed: int | None = 0) -> VAE:
    """A plain (deterministic) autoencoder for vectors: the counter-example with no scale.

    Same networks as :func:`make_mlp_vae`, ``stochastic=False``: ``z = mu``, no KL, the loss is
    :math:`\\langle |x - \\hat x|^2\\rangle`. Train with :func:`train_autoencoder`.

    Examples
    --------
    >>> model = make_mlp_autoencoder(2, 1, hidden=(16,), seed=0)
    >>> model(torch.zeros(4, 2)).log_var is None
    True
    """
    return _seeded_build(seed, lambda: VAE(
        MLPEncoder(data_dim, latent_dim, hidden, activation, stochastic=False),
        MLPDecoder(latent_dim, data_dim, hidden, activation), stochastic=False))


# --------------------------------------------------------------------------------------------
# data handling


def _model_dtype(model: nn.Module) -> torch.dtype:
    for parameter in model.parameters():
        return parameter.dtype
    return torch.get_default_dtype()


def _as_batch(data, dtype: torch.dtype, device: str | torch.device, name: str = "data") -> Batch:
    """Turn ``x`` or ``(x, *extras)`` (numpy or torch) into a tuple of tensors on ``device``."""
    items = tuple(data) if isinstance(data, (tuple, list)) else (data,)
    if not items:
        raise ValueError(f"{name} is empty; pass an array x of shape (n, ...) or a tuple (x, *extras).")
    tensors = []
    for i, item in enumerate(items):
        if isinstance(item, np.ndarray):
            item = torch.from_numpy(np.ascontiguousarray(item))
        if not isinstance(item, torch.Tensor):
            raise TypeError(f"{name}[{i}] must be a numpy array or torch tensor, got "
                            f"{type(item).__name__}.")
        if item.is_floating_point():
            item = item.to(dtype)
        tensors.append(item.to(device))
    x = tensors[0]
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(f"{name}: x must have shape (n, ...) with n >= 1 samples, got "
                         f"{tuple(x.shape)}.")
    if not x.is_floating_point():
        raise TypeError(f"{name}: x must hold floating-point numbers, got {x.dtype}.")
    for i, item in enumerate(tensors[1:], start=1):
        if item.ndim == 0 or item.shape[0] != x.shape[0]:
            raise ValueError(f"{name}[{i}] has {tuple(item.shape)}; every extra must have the same "
                             f"first dimension as x ({x.shape[0]}).")
    for i, item in enumerate(tensors):
        if item.is_floating_point() and not bool(torch.isfinite(item).all()):
            raise ValueError(f"{name}[{i}] contains NaN or infinite values; clean the data first.")
    return tuple(tensors)


def _check_data_dim(model: nn.Module, x: torch.Tensor) -> None:
    encoder = getattr(model, "encoder", None)
    network = getattr(encoder, "network", None)
    if isinstance(network, nn.Sequential) and isinstance(network[0], nn.Linear) and x.ndim == 2:
        if network[0].in_features != x.shape[1]:
            raise ValueError(f"data has {x.shape[1]} columns but the model expects data_dim="
                             f"{network[0].in_features}.")


def _slice(batch: Batch, index: torch.Tensor | slice) -> Batch:
    return tuple(t[index] for t in batch)


class _BatchStream:
    """Endless mini-batches: a fresh seeded permutation each epoch; full batch when it fits."""

    def __init__(self, batch: Batch, batch_size: int | None, generator: torch.Generator):
        self.batch = batch
        self.n = batch[0].shape[0]
        if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) < 1):
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}.")
        self.batch_size = self.n if batch_size is None else min(int(batch_size), self.n)
        self.generator = generator
        self.order = None
        self.position = self.n

    def next(self) -> Batch:
        if self.batch_size == self.n:
            return self.batch
        if self.position + self.batch_size > self.n:  # drop the ragged tail; reshuffle
            self.order = torch.randperm(self.n, generator=self.generator).to(self.batch[0].device)
            self.position = 0
        index = self.order[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return _slice(self.batch, index)


# --------------------------------------------------------------------------------------------
# training


@dataclass(frozen=True)
class TrainingHistory:
    """What one call of :func:`train_vae` did.

    Attributes
    ----------
    beta : float or None
        The resolution trained at (``None`` for a plain autoencoder).
    loss, distortion, kl : numpy.ndarray, shape (steps,)
        Per optimiser step, on the mini-batch: total loss, :math:`\\langle d^2\\rangle`, KL (nats).
    seconds : float
        Wall time.
    device : str
    """

    beta: float | None
    loss: np.ndarray
    distortion: np.ndarray
    kl: np.ndarray
    seconds: float
    device: str


def _resolve_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    return torch.device(default_device() if device is None else device)


def _check_steps(steps, name: str) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"{name} must be a positive integer number of optimiser steps, got {steps!r}.")
    return int(steps)


def _check_fraction(value: float) -> float:
    value = float(value)
    if not (0 < value <= 1):
        raise ValueError(f"lr_final_fraction must be in (0, 1], got {value}.")
    return value


def _make_generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    batches = torch.Generator().manual_seed(int(seed))
    latent = torch.Generator(device=device).manual_seed(int(seed) + 1)
    return batches, latent


def _gradient_norm(parameters: list[torch.Tensor], grad_clip: float | None) -> float:
    if grad_clip is not None:
        return torch.nn.utils.clip_grad_norm_(parameters, max_norm=float(grad_clip)).item()
    if hasattr(torch.nn.utils, "get_total_norm"):  # torch >= 2.6: the norm without clipping work
        return torch.nn.utils.get_total_norm([p.grad for p in parameters if p.grad is not None]).item()
    return torch.nn.utils.clip_grad_norm_(parameters, max_norm=math.inf).item()


def _run_steps(model: VAE, stream: _BatchStream, beta: float | None, steps: int,
               optimizer: torch.optim.Optimizer, latent_generator: torch.Generator,
               grad_clip: float | None, bar, label: str,
               lr_final_fraction: float = 1.0) -> tuple[np.ndarray, ...]:
    """The training loop shared by train_vae, train_autoencoder and beta_sweep.

    The learning rate falls from its set value to ``lr_final_fraction`` of it along a half cosine,
    and is restored afterwards: the weights settle at the end of each stage, so the KL and
    distortion recorded there are not blurred by the optimiser's own jitter. The loss and the
    gradient norm are checked before every update, so a NaN stops training with the weights of
    the last good step.
    """
    base_lrs = [group["lr"] for group in optimizer.param_groups]
    record = np.empty((3, steps))  # loss, distortion, KL per step
    parameters = [p for p in model.parameters() if p.requires_grad]
    model.train()
    try:
        for step in range(steps):
            factor = lr_final_fraction + (1 - lr_final_fraction) * 0.5 * (
                1 + math.cos(math.pi * step / max(steps - 1, 1)))
            for group, base in zip(optimizer.param_groups, base_lrs):
                group["lr"] = base * factor
            loss = model.loss(stream.next(), beta, generator=latent_generator)
            value = loss.total.item()
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"the loss became {value} at step {step} of {label}; training stopped before "
                    "the weights were spoilt. Lower the learning rate, set grad_clip, or check "
                    "the data and the distance for NaN.")
            optimizer.zero_grad(set_to_none=True)
            loss.total.backward()
            norm = _gradient_norm(parameters, grad_clip)
            if not math.isfinite(norm):
                raise FloatingPointError(
                    f"the gradient became {norm} at step {step} of {label}; training stopped "
                    "before the weights were spoilt. Lower the learning rate or set grad_clip.")
            optimizer.step()
            record[:, step] = value, loss.distortion.item(), loss.kl.item()
            if bar is not None:
                bar.update(1)
                if step % 50 == 0 or step == steps - 1:
                    bar.set_postfix_str(f"{label} loss {value:.4g} KL {record[2, step]:.3g}",
                                        refresh=False)
    finally:
        for group, base in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base
    return record[0], record[1], record[2]


def _progress_bar(total: int, description: str, progress: bool):
    if not progress:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, desc=description, leave=False)


def train_vae(model: VAE, data, beta: float | None, *, steps: int = 1000,
              batch_size: int | None = None, lr: float = 3e-3,
              optimizer: torch.optim.Optimizer | None = None, seed: int = 0,
              device: str | torch.device | None = None, grad_clip: float | None = None,
              lr_final_fraction: float = 0.1, progress: bool = True) -> TrainingHistory:
    """Train a VAE at one fixed beta with Adam (in place).

    Minimises :math:`\\langle d(x, \\hat x)^2\\rangle / (2\\beta^2) + \\mathrm{KL}`.

    Parameters
    ----------
    model : VAE
    data : array or tensor of shape (n, ...), or a tuple ``(x, *extras)``
        ``extras`` (e.g. a particle mask) are batched with ``x`` and passed to the encoder and the
        distance. numpy float arrays are converted to the model's dtype.
    beta : float or None
        Resolution, in the unit of the distance. ``None`` only for a plain autoencoder.
    steps : int
        Optimiser steps.
    batch_size : int or None
        ``None``: full batch (fastest for toys of a few thousand points).
    lr : float
        Adam learning rate (ignored when ``optimizer`` is given).
    optimizer : torch.optim.Optimizer, optional
        Reuse an optimiser (e.g. to keep Adam's moments across calls).
    seed : int
        Seeds the batch order and the latent draws: the same seed, model and data give the same
        numbers (on CPU; GPU kernels may differ in the last bits).
    device : str or torch.device, optional
        Default :func:`jetgeom_lite.environment.default_device`. The model is moved there.
    grad_clip : float, optional
        Clip the gradient norm to this value.
    lr_final_fraction : float
        The learning rate decays along a half cosine to this fraction of ``lr`` by the last step
        (1 keeps it constant); it is restored on return.
    progress : bool
        Show a ``tqdm.auto`` bar.

    Returns
    -------
    TrainingHistory

    Raises
    ------
    FloatingPointError
        If the loss or gradient stops being finite (the weights are left at the last good step).

    Examples
    --------
    >>> from jetgeom_lite.toys import circle
    >>> model = make_mlp_vae(2, 2, hidden=(16,), seed=0)
    >>> history = train_vae(model, circle(200, seed=0).points, beta=0.1, steps=20, device="cpu",
    ...                     progress=False)
    >>> history.loss.shape
    (20,)
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a jetgeom_lite.vae.VAE, got {type(model).__name__}.")
    if beta is not None:
        beta = _check_beta(beta)
    elif model.stochastic:
        raise ValueError("beta=None is only for a plain autoencoder; give the VAE a resolution beta.")
    steps = _check_steps(steps, "steps")
    target = _resolve_device(model, device)
    model.to(target)
    batch = _as_batch(data, _model_dtype(model), target)
    _check_data_dim(model, batch[0])
    batch_generator, latent_generator = _make_generators(seed, target)
    stream = _BatchStream(batch, batch_size, batch_generator)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    label = "autoencoder" if beta is None else f"beta={beta:.3g}"
    bar = _progress_bar(steps, f"training {label}", progress)
    start = time.perf_counter()
    try:
        losses, distortions, kls = _run_steps(model, stream, beta, steps, optimizer,
                                              latent_generator, grad_clip, bar, label,
                                              _check_fraction(lr_final_fraction))
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    return TrainingHistory(beta=beta, loss=losses, distortion=distortions, kl=kls,
                           seconds=time.perf_counter() - start, device=str(target))


def train_autoencoder(model: VAE, data, *, steps: int = 1000, batch_size: int | None = None,
                      lr: float = 3e-3, seed: int = 0, device: str | torch.device | None = None,
                      progress: bool = True) -> TrainingHistory:
    """Train a plain autoencoder (``stochastic=False``) on :math:`\\langle|x - \\hat x|^2\\rangle`.

    The same loop as :func:`train_vae` with no beta: nothing sets a scale, so nothing says which
    details are worth encoding. See :func:`train_vae` for the parameters.

    Examples
    --------
    >>> from jetgeom_lite.toys import circle
    >>> model = make_mlp_autoencoder(2, 1, hidden=(16,), seed=0)
    >>> train_autoencoder(model, circle(100).points, steps=5, device="cpu", progress=False).beta is None
    True
    """
    if not isinstance(model, VAE) or model.stochastic:
        raise TypeError("train_autoencoder needs a VAE built with stochastic=False "
                        "(make_mlp_autoencoder); train a VAE with train_vae(model, data, beta).")
    return train_vae(model, data, None, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                     device=device, progress=progress)


# --------------------------------------------------------------------------------------------
# evaluation


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
        x, *extras = chunk
        mu, log_var = model.encode(x, *extras)
        draws = n_samples if log_var is not None else 1
        for _ in range(draws):
            z = model.sample_latent(mu, log_var, generator)
            d2_total += model.squared_distance(x, model.decode(z), *extras).double().sum().item() / draws
        if log_var is None:
            kl_chunk = torch.zeros(mu.shape[1], dtype=torch.float64)
            log_sigma_chunk = torch.full((mu.shape[1],), -math.inf, dtype=torch.float64)
        else:
            kl_chunk = kl_per_latent(mu, log_var).double().sum(dim=0).cpu()
            log_sigma_chunk = (0.5 * log_var).double().sum(dim=0).cpu()
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
        Default: where the model's parameters are.

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
    if device is None:
        parameter = next(model.parameters(), None)
        target = parameter.device if parameter is not None else torch.device("cpu")
    else:
        target = torch.device(device)
        model.to(target)
    batch = _as_batch(data, _model_dtype(model), target)
    _check_data_dim(model, batch[0])
    generator = torch.Generator(device=target).manual_seed(int(seed) + 2)
    return _evaluate(model, batch, beta, n_samples, int(batch_size), generator)


# --------------------------------------------------------------------------------------------
# beta sweeps


@dataclass(frozen=True, eq=False)
class BetaSweep:
    """A monotonic beta sweep, one row per beta, in the order trained.

    Attributes
    ----------
    betas : numpy.ndarray, shape (m,)
        The resolutions, in the unit of the distance.
    direction : str
        ``"decreasing"`` (from coarse to fine: directions switch on) or ``"increasing"``.
    total, distortion, kl : numpy.ndarray, shape (m,)
        Evaluated loss, :math:`\\langle d^2\\rangle` (squared unit of beta) and total KL (nats).
    kl_per_latent, sigma_per_latent : numpy.ndarray, shape (m, k)
        KL of each latent direction (nats) and the geometric-mean posterior width.
    train_loss : numpy.ndarray, shape (m,)
        Mean mini-batch loss over the last tenth of the steps at each beta.
    seconds : numpy.ndarray, shape (m,)
        Training plus evaluation time per beta.
    states : tuple of dict
        ``state_dict`` copies (on CPU) after each beta; load one with :meth:`load_into`.
    n_eval_samples : int
    device : str
    """

    betas: np.ndarray
    direction: str
    total: np.ndarray
    distortion: np.ndarray
    kl: np.ndarray
    kl_per_latent: np.ndarray
    sigma_per_latent: np.ndarray
    train_loss: np.ndarray
    seconds: np.ndarray
    states: tuple
    n_eval_samples: int
    device: str

    def load_into(self, model: nn.Module, index: int) -> nn.Module:
        """Load the weights saved after ``betas[index]`` into ``model`` and return it."""
        model.load_state_dict(self.states[index])
        return model

    def index_of(self, beta: float) -> int:
        """Index of the sweep's beta nearest to ``beta`` in log scale."""
        return int(np.argmin(np.abs(np.log(self.betas) - np.log(_check_beta(beta)))))


def _check_sweep_betas(betas) -> tuple[np.ndarray, str]:
    betas = np.asarray(betas, dtype=float)
    if betas.ndim != 1 or betas.size < 1:
        raise ValueError(f"betas must be a 1-D sequence of at least one value, got shape {betas.shape}.")
    if not np.all(np.isfinite(betas)) or np.any(betas <= 0):
        raise ValueError(f"every beta must be positive and finite, got {betas}.")
    if betas.size == 1:
        return betas, "decreasing"
    steps = np.diff(betas)
    if np.all(steps < 0):
        return betas, "decreasing"
    if np.all(steps > 0):
        return betas, "increasing"
    raise ValueError("betas must be strictly monotonic (all increasing or all decreasing) so that "
                     f"each step warm-starts from its neighbour; got {betas}. Sort them, e.g. "
                     "np.geomspace(1.0, 0.01, 12) for an annealing sweep.")


def beta_sweep(model: VAE, data, betas: Sequence[float], *, steps_per_beta: int = 300,
               steps_first_beta: int | None = None, batch_size: int | None = None,
               lr: float = 3e-3, optimizer: torch.optim.Optimizer | None = None, seed: int = 0,
               eval_data=None, n_eval_samples: int = 8, eval_batch_size: int = 4096,
               device: str | torch.device | None = None, grad_clip: float | None = None,
               lr_final_fraction: float = 0.1, progress: bool = True,
               on_beta_done: Callable[[int, float, VAE, VAEEvaluation], None] | None = None,
               ) -> BetaSweep:
    """Anneal a VAE over a monotonic grid of beta, warm-starting each beta from the previous one.

    At each beta: train ``steps_per_beta`` Adam steps (one optimiser throughout, so its moments
    carry over), evaluate KL per direction and :math:`\\langle d^2\\rangle` on ``eval_data`` with
    ``n_eval_samples`` latent draws per event, and keep a copy of the weights. Sweeping down
    (decreasing beta) switches latent directions on one by one; sweeping up switches them off;
    the two need not agree (hysteresis).

    Parameters
    ----------
    model : VAE
        Trained in place; it ends with the weights of the last beta.
    data : array, tensor or tuple ``(x, *extras)``
        Training data.
    betas : sequence of float, shape (m,)
        Strictly monotonic, positive, in the unit of the distance. Log-spaced grids suit the
        dimension measures of :mod:`jetgeom_lite.dimension`.
    steps_per_beta : int
        Optimiser steps at each beta after the first.
    steps_first_beta : int, optional
        Steps at the first beta (from the initial weights); default ``3 * steps_per_beta``.
    batch_size : int or None
        ``None``: full batch.
    lr : float
        Adam learning rate (ignored if ``optimizer`` is given).
    optimizer : torch.optim.Optimizer, optional
    seed : int
        Seeds batching and latent draws (the model's initial weights are seeded where it is built).
    eval_data : optional
        Held-out data for the recorded KL and distortion; default the training data.
    n_eval_samples : int
        Latent draws per event in the evaluation.
    eval_batch_size : int
    device : str or torch.device, optional
        Default :func:`jetgeom_lite.environment.default_device`.
    grad_clip : float, optional
    lr_final_fraction : float
        Within each beta the learning rate decays along a half cosine from ``lr`` to this fraction
        of it, then starts again at ``lr`` for the next beta (1 keeps it constant).
    progress : bool
        One ``tqdm.auto`` bar over all steps of the sweep.
    on_beta_done : callable, optional
        ``on_beta_done(index, beta, model, evaluation)`` after each beta (e.g. to save a checkpoint).

    Returns
    -------
    BetaSweep

    Raises
    ------
    ValueError
        If betas are not positive, finite and strictly monotonic.
    FloatingPointError
        If training produces NaN/inf.

    Notes
    -----
    Measured on toys (``benchmarks/toy_dimension.py``, 2000 points, MLP 64x64, 14 betas from 3 to
    0.005): with the defaults a downward sweep agrees with a 1000-steps-per-beta one to about 1%
    in KL on the plateau, and D1 = D2 (see :mod:`jetgeom_lite.dimension`) to within ~0.05. An
    upward sweep relaxes more slowly (posterior widths must grow with beta): at 300 steps per
    beta it lags, shows D1 well above D2, and at the top can reconstruct worse than encoding
    nothing; at 1000 steps it matches the downward sweep on the plateau. A collapsed direction
    is a saddle whose unstable curvature is weak for small scales, so in a downward sweep a
    direction of scale s switches on late (around s/3 for s = 0.1 of a unit-size toy), and one
    30 times below the leading scale did not switch on at all in 6000 steps.

    Examples
    --------
    >>> from jetgeom_lite.toys import circle
    >>> model = make_mlp_vae(2, 2, hidden=(16,), seed=0)
    >>> sweep = beta_sweep(model, circle(300, seed=0).points, [1.0, 0.3, 0.1], steps_per_beta=20,
    ...                    device="cpu", progress=False)
    >>> sweep.direction, sweep.kl_per_latent.shape, len(sweep.states)
    ('decreasing', (3, 2), 3)
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a jetgeom_lite.vae.VAE, got {type(model).__name__}.")
    if not model.stochastic:
        raise TypeError("a beta sweep needs a stochastic VAE; a plain autoencoder has no beta.")
    betas, direction = _check_sweep_betas(betas)
    steps_per_beta = _check_steps(steps_per_beta, "steps_per_beta")
    steps_first = 3 * steps_per_beta if steps_first_beta is None else _check_steps(
        steps_first_beta, "steps_first_beta")
    target = _resolve_device(model, device)
    model.to(target)
    dtype = _model_dtype(model)
    batch = _as_batch(data, dtype, target)
    _check_data_dim(model, batch[0])
    eval_batch = batch if eval_data is None else _as_batch(eval_data, dtype, target, "eval_data")
    if eval_data is not None:
        _check_data_dim(model, eval_batch[0])
    n_eval_samples = _check_steps(n_eval_samples, "n_eval_samples")
    fraction = _check_fraction(lr_final_fraction)
    batch_generator, latent_generator = _make_generators(seed, target)
    eval_generator = torch.Generator(device=target).manual_seed(int(seed) + 2)
    stream = _BatchStream(batch, batch_size, batch_generator)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)

    rows = []
    total_steps = steps_first + steps_per_beta * (len(betas) - 1)
    bar = _progress_bar(total_steps, f"beta sweep ({direction})", progress)
    try:
        for index, beta in enumerate(betas):
            start = time.perf_counter()
            steps = steps_first if index == 0 else steps_per_beta
            losses, _, _ = _run_steps(model, stream, float(beta), steps, optimizer,
                                      latent_generator, grad_clip, bar,
                                      f"beta={beta:.3g} ({index + 1}/{len(betas)})", fraction)
            evaluation = _evaluate(model, eval_batch, float(beta), n_eval_samples,
                                   int(eval_batch_size), eval_generator)
            state = {key: value.detach().to("cpu", copy=True)
                     for key, value in model.state_dict().items()}
            tail = max(1, steps // 10)
            rows.append((evaluation, float(np.mean(losses[-tail:])), state,
                         time.perf_counter() - start))
            if on_beta_done is not None:
                on_beta_done(index, float(beta), model, evaluation)
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    evaluations = [row[0] for row in rows]
    return BetaSweep(
        betas=betas.copy(), direction=direction,
        total=np.array([e.total for e in evaluations]),
        distortion=np.array([e.distortion for e in evaluations]),
        kl=np.array([e.kl for e in evaluations]),
        kl_per_latent=np.stack([e.kl_per_latent for e in evaluations]),
        sigma_per_latent=np.stack([e.sigma_per_latent for e in evaluations]),
        train_loss=np.array([row[1] for row in rows]),
        seconds=np.array([row[3] for row in rows]),
        states=tuple(row[2] for row in rows), n_eval_samples=n_eval_samples, device=str(target))
