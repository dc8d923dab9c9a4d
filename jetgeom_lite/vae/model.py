"""The model: a VAE around any encoder, decoder and distance; small MLP networks for vectors.

:class:`VAE` wraps any ``encoder(x, *extras) -> (mu, log_var)``, any ``decoder(z) -> x_hat`` and any
``distance(x, x_hat, *extras) -> squared distance per sample``. ``extras`` are further per-event
tensors (a particle mask, say) that travel with ``x`` through batching.
"""

from __future__ import annotations

import math

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._validation import check_integer
from .loss import VAELoss, kl_per_latent, vae_loss

__all__ = ["VAE", "VAEOutput", "MLPEncoder", "MLPDecoder", "squared_euclidean_distance", "make_mlp_vae",
           "make_mlp_autoencoder"]

Batch = tuple[torch.Tensor, ...]


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
    check_integer(data_dim, "data_dim", minimum=1)
    check_integer(latent_dim, "latent_dim", minimum=1)
    return _check_hidden(hidden)


def _check_hidden(hidden, name: str = "hidden") -> tuple[int, ...]:
    if isinstance(hidden, (int, np.integer)) and not isinstance(hidden, bool):
        raise TypeError(f"{name} must be a sequence of layer widths, one per hidden layer, e.g. {name}=({hidden},) "
                        f"for one layer or {name}=({hidden}, {hidden}) for two; got the integer {hidden}.")
    if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
        raise TypeError(f"{name} must be a sequence of layer widths such as (64, 64); got {type(hidden).__name__}.")
    return tuple(check_integer(h, f"{name}[{i}]", minimum=1, example="64") for i, h in enumerate(hidden))


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

    @torch.no_grad()
    def evaluation_terms(self, batch: Batch, n_samples: int, generator: torch.Generator | None = None):
        """What :func:`~jetgeom_lite.vae.evaluate_vae` sums over one chunk ``(x, *extras)``.

        The hook for other latent types: a subclass returns the same three things for its code.

        Returns
        -------
        d2_terms : list of float
            Per latent draw, the chunk's summed squared distance divided by the number of draws.
        kl_sum : torch.Tensor, shape (k,), float64, CPU
            KL of each direction summed over the chunk (zeros for an autoencoder).
        log_sigma_sum : torch.Tensor, shape (k,), float64, CPU
            :math:`\\ln\\sigma_k` summed over the chunk (-inf for an autoencoder).
        """
        x, *extras = batch
        mu, log_var = self.encode(x, *extras)
        draws = n_samples if log_var is not None else 1
        d2_terms = []
        for _ in range(draws):
            z = self.sample_latent(mu, log_var, generator)
            d2_terms.append(self.squared_distance(x, self.decode(z), *extras).double().sum().item() / draws)
        if log_var is None:
            kl_sum = torch.zeros(mu.shape[1], dtype=torch.float64)
            log_sigma_sum = torch.full((mu.shape[1],), -math.inf, dtype=torch.float64)
        else:
            kl_sum = kl_per_latent(mu, log_var).double().sum(dim=0).cpu()
            log_sigma_sum = (0.5 * log_var).double().sum(dim=0).cpu()
        return d2_terms, kl_sum, log_sigma_sum

    def loss(self, batch: Batch, beta: float | None, generator: torch.Generator | None = None,
             n_samples: int = 1) -> VAELoss:
        """The loss of one batch ``(x, *extras)`` at ``beta``, averaging ``n_samples`` draws of z."""
        x, *extras = batch
        mu, log_var = self.encode(x, *extras)
        draws = n_samples if log_var is not None else 1  # an autoencoder's draws are all the same
        d2 = sum(self.squared_distance(x, self.decode(self.sample_latent(mu, log_var, generator)),
                                       *extras) for _ in range(draws))
        return vae_loss(d2 / draws, mu, log_var, beta)


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
