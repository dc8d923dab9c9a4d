"""The categorical VAE: a jet (or vector) trunk, binary and Gaussian latents, and its training."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..jet_vae import JetDecoder, JetVAESettings, SquaredSinkhornEMD, _check_jet_batch, _mlp
from ..vae import VAE, squared_euclidean_distance, train_vae
from .latent import (DEFAULT_TEMPERATURE, _check_alpha_weight, _check_logits, _check_prior, _check_temperature,
                     kl_relaxed_bernoulli, relaxed_bernoulli_sample)

__all__ = ["CategoricalVAE", "CategoricalVAEOutput", "CategoricalVAELoss", "JetTrunk", "MLPTrunk", "make_categorical_jet_vae",
           "make_categorical_mlp_vae", "ALPHA_SCHEDULE", "CategoricalTrainingHistory", "train_categorical_vae"]


# --------------------------------------------------------------------------------------------
# the model


class MLPTrunk(nn.Module):
    """Trunk for vectors: an MLP ``(n, data_dim) -> (n, hidden[-1])`` with a final activation."""

    def __init__(self, data_dim: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        sizes = (int(data_dim), *(int(h) for h in hidden))
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.SiLU()]
        self.network = nn.Sequential(*layers)
        self.width = sizes[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)


class JetTrunk(nn.Module):
    """The jet encoder's body: per-particle network, pT-weighted sum, jet network (with activation).

    The same pooling as :class:`jetgeom_lite.jet_vae.JetEncoder`
    (:math:`h = F(\\sum_i z_i \\Phi(z_i, y_i/s, \\phi_i/s))`), stopping before the posterior head.
    Shapes: ``x (n, M, 3)``, ``mask (n, M)`` -> ``(n, jet_hidden[-1])``.
    """

    def __init__(self, settings: JetVAESettings):
        super().__init__()
        self.settings = settings
        widths = settings.particle_hidden
        self.particle_network = _mlp((3, *widths), final_activation=True)
        self.jet_network = _mlp((widths[-1], *settings.jet_hidden), final_activation=True)
        self.width = settings.jet_hidden[-1]
        self.register_buffer("input_scale", torch.tensor([1.0, 1.0 / settings.angular_scale,
                                                          1.0 / settings.angular_scale]), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = _check_jet_batch(x, mask)
        width = int(torch.nonzero(mask.any(dim=0)).max()) + 1
        x, mask = x[:, :width], mask[:, :width]
        features = self.particle_network(x * self.input_scale.to(x.dtype))
        weights = torch.where(mask, x[..., 0], torch.zeros_like(x[..., 0]))
        return self.jet_network((features * weights[..., None]).sum(dim=1))


@dataclass(frozen=True)
class CategoricalVAEOutput:
    """One pass through a :class:`CategoricalVAE`.

    Attributes
    ----------
    x_hat : torch.Tensor
        Decoded ``[z, s]``.
    z : torch.Tensor, shape (n, k)
        Gaussian code used (a draw, or ``mu``).
    mu, log_var : torch.Tensor, shape (n, k)
        Gaussian posterior given ``s``.
    log_alpha : torch.Tensor, shape (n, m)
        Logits of the binary units (deterministic, the classifier score).
    s : torch.Tensor, shape (n, m)
        Binary code used: a relaxed draw, or ``1[log_alpha > 0]``.
    """

    x_hat: torch.Tensor
    z: torch.Tensor
    mu: torch.Tensor
    log_var: torch.Tensor
    log_alpha: torch.Tensor
    s: torch.Tensor


@dataclass(frozen=True)
class CategoricalVAELoss:
    """The loss of a batch and its parts (tensors; ``total`` is differentiable).

    Attributes
    ----------
    total : scalar
        :math:`\\langle d^2\\rangle/(2\\beta^2) + \\mathrm{KL}_{\\rm gauss} + \\alpha_w \\mathrm{KL}_{\\rm bern}`.
    distortion : scalar
        :math:`\\langle d^2\\rangle` (squared unit of beta).
    kl : scalar
        Unweighted information, Gaussian + Bernoulli, nats (the training record's KL column).
    kl_gauss, kl_bern : scalar
        nats, batch means.
    kl_per_latent : (k,)
        Gaussian KL per direction, nats.
    kl_bern_per_unit : (m,)
        Bernoulli KL per unit, nats.
    """

    total: torch.Tensor
    distortion: torch.Tensor
    kl: torch.Tensor
    kl_gauss: torch.Tensor
    kl_bern: torch.Tensor
    kl_per_latent: torch.Tensor
    kl_bern_per_unit: torch.Tensor


def _kl_gauss(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    return 0.5 * (mu * mu + log_var.exp() - 1.0 - log_var)


class CategoricalVAE(VAE):
    """A VAE with ``m`` relaxed-Bernoulli units beside ``k`` Gaussian directions.

    ``trunk(x, *extras) -> h``; ``log_alpha = Linear(h)``; ``s`` a relaxed draw (hard
    ``1[log_alpha > 0]`` when not sampling); ``(mu, log_var) = head([h, s])``; the decoder
    reads ``[z, s]``. It is a :class:`jetgeom_lite.vae.VAE`, so :func:`jetgeom_lite.vae.train_vae`
    trains it (its :meth:`loss` adds ``alpha_weight`` times the Bernoulli KL).

    Parameters
    ----------
    trunk : nn.Module
        With an integer attribute ``width``.
    decoder : nn.Module
        ``decoder(code) -> x_hat`` for codes of shape ``(n, k + m)``.
    distance : callable
        Squared distance per sample, ``distance(x, x_hat, *extras) -> (n,)``.
    latent_dim : int
        k, Gaussian directions.
    n_binary : int
        m, binary units.
    temperature : float
        Of the relaxed draws (0.3).
    prior_prob : float
        Prior probability of ``s = 1`` for every unit.
    head_hidden : int, optional
        Width of the Gaussian head's hidden layer (default: the trunk's width).

    Buffers ``alpha_weight`` (the current weight of the Bernoulli KL, set by
    :meth:`set_alpha_weight`) and ``beta`` (the resolution it was last trained at, 0 if never)
    travel with the ``state_dict``.
    """

    def __init__(self, trunk: nn.Module, decoder: nn.Module, distance, latent_dim: int, n_binary: int,
                 temperature: float = DEFAULT_TEMPERATURE, prior_prob: float = 0.5,
                 head_hidden: int | None = None):
        width = getattr(trunk, "width", None)
        if not isinstance(width, int):
            raise TypeError("trunk must have an integer attribute `width` (its output size).")
        for name, value in (("latent_dim", latent_dim), ("n_binary", n_binary)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        head_hidden = width if head_hidden is None else int(head_hidden)
        head = nn.Sequential(nn.Linear(width + n_binary, head_hidden), nn.LeakyReLU(0.1),
                             nn.Linear(head_hidden, 2 * latent_dim))
        super().__init__(trunk, decoder, distance, stochastic=True)
        self.logits = nn.Linear(width, int(n_binary))
        self.head = head
        self.latent_dim, self.n_binary = int(latent_dim), int(n_binary)
        self.temperature = _check_temperature(temperature)
        self.prior_prob = _check_prior(prior_prob)
        self.register_buffer("alpha_weight", torch.tensor(1.0, dtype=torch.float64))
        self.register_buffer("beta", torch.tensor(0.0, dtype=torch.float64))

    @property
    def trunk(self) -> nn.Module:
        return self.encoder

    def set_alpha_weight(self, alpha_weight: float) -> None:
        """Set the weight alpha_w of the Bernoulli KL in :meth:`loss` (>= 0; 1 is the ELBO)."""
        self.alpha_weight.fill_(_check_alpha_weight(alpha_weight))

    def bernoulli_logits(self, x: torch.Tensor, *extras: torch.Tensor) -> torch.Tensor:
        """Deterministic logits ``log_alpha``, shape ``(n, m)``."""
        return self.logits(self.encoder(x, *extras))

    def _posterior(self, x, extras, sample: bool, generator):
        h = self.encoder(x, *extras)
        log_alpha = _check_logits(self.logits(h), "the encoder's logits")
        s = relaxed_bernoulli_sample(log_alpha, self.temperature, generator, hard=not sample)
        mu, log_var = self.head(torch.cat([h, s], dim=-1)).chunk(2, dim=-1)
        return mu, log_var, log_alpha, s

    def encode(self, x: torch.Tensor, *extras: torch.Tensor):
        """Gaussian posterior ``(mu, log_var)`` given the hard binary code ``1[log_alpha > 0]``."""
        mu, log_var, _, _ = self._posterior(x, extras, False, None)
        return mu, log_var

    def code(self, x: torch.Tensor, *extras: torch.Tensor) -> torch.Tensor:
        """The deterministic code ``[mu, 1[log_alpha > 0]]``, shape ``(n, k + m)``; decode it."""
        mu, _, _, s = self._posterior(x, extras, False, None)
        return torch.cat([mu, s], dim=-1)

    def decode(self, code: torch.Tensor):
        """Decode codes ``[z, s]`` of shape ``(n, k + m)``."""
        if not isinstance(code, torch.Tensor) or code.ndim != 2 or code.shape[1] != self.latent_dim + self.n_binary:
            shape = tuple(code.shape) if isinstance(code, torch.Tensor) else type(code).__name__
            raise ValueError(f"codes must have shape (n, {self.latent_dim + self.n_binary}) = [z ({self.latent_dim}), "
                             f"s ({self.n_binary})]; got {shape}. Use model.code(x, ...) for the codes of data.")
        return self.decoder(code)

    def forward(self, x: torch.Tensor, *extras: torch.Tensor, sample: bool = True,
                generator: torch.Generator | None = None) -> CategoricalVAEOutput:
        """Encode, draw ``s`` then ``z`` (or take ``1[log_alpha>0]`` and ``mu``), decode ``[z, s]``."""
        mu, log_var, log_alpha, s = self._posterior(x, extras, sample, generator)
        z = self.sample_latent(mu, log_var if sample else None, generator)
        return CategoricalVAEOutput(x_hat=self.decoder(torch.cat([z, s], dim=-1)), z=z, mu=mu, log_var=log_var,
                                    log_alpha=log_alpha, s=s)

    def loss(self, batch, beta: float | None, generator: torch.Generator | None = None,
             n_samples: int = 1) -> CategoricalVAELoss:
        """The loss of one batch ``(x, *extras)`` at ``beta`` with the current ``alpha_weight``."""
        from ..vae import vae_loss

        x, *extras = batch
        if beta is None:
            raise ValueError("a categorical VAE needs beta, its resolution in the unit of the distance.")
        out = self.forward(x, *extras, sample=True, generator=generator)
        d2 = self.squared_distance(x, out.x_hat, *extras)
        # the package's loss with its hook for a second latent: + alpha_w * sum_u <KL_u>
        parts = vae_loss(d2, out.mu, out.log_var, beta, extra_kl=kl_relaxed_bernoulli(out.log_alpha, self.prior_prob),
                         extra_kl_weight=float(self.alpha_weight))
        kl_bern = parts.extra_kl_per_latent.sum()
        return CategoricalVAELoss(total=parts.total, distortion=parts.distortion, kl=parts.kl + kl_bern,
                                  kl_gauss=parts.kl, kl_bern=kl_bern, kl_per_latent=parts.kl_per_latent,
                                  kl_bern_per_unit=parts.extra_kl_per_latent)


def _seeded(seed: int | None, build):
    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def make_categorical_jet_vae(settings: JetVAESettings | None = None, n_binary: int = 1,
                             temperature: float = DEFAULT_TEMPERATURE, prior_prob: float = 0.5,
                             seed: int | None = 0) -> CategoricalVAE:
    """A categorical jet VAE: :class:`JetTrunk`, k Gaussian + m binary units, :class:`JetDecoder` of ``[z, s]``.

    ``settings.latent_dim`` is k; the decoder reads k + m numbers; the distance is the squared
    Sinkhorn EMD of the settings (R = 0.8). Jets as in :func:`jetgeom_lite.jet_vae.jet_tensors`.

    Examples
    --------
    >>> model = make_categorical_jet_vae(n_binary=1, seed=0)
    >>> x = torch.zeros(2, 50, 3); x[:, 0, 0] = 1.0
    >>> out = model(x, x[..., 0] > 0, sample=False)
    >>> tuple(out.x_hat.shape), tuple(out.mu.shape), tuple(out.log_alpha.shape)
    ((2, 50, 3), (2, 8), (2, 1))
    """
    settings = JetVAESettings() if settings is None else settings
    if not isinstance(settings, JetVAESettings):
        raise TypeError(f"settings must be a JetVAESettings, got {type(settings).__name__}.")

    def build():
        decoder = JetDecoder(replace(settings, latent_dim=settings.latent_dim + int(n_binary)))
        return CategoricalVAE(JetTrunk(settings), decoder,
                              SquaredSinkhornEMD(settings.R, settings.eps, settings.n_iterations),
                              latent_dim=settings.latent_dim, n_binary=n_binary, temperature=temperature,
                              prior_prob=prior_prob)

    return _seeded(seed, build)


def make_categorical_mlp_vae(data_dim: int, latent_dim: int, n_binary: int = 1, hidden: Sequence[int] = (64, 64),
                             temperature: float = DEFAULT_TEMPERATURE, prior_prob: float = 0.5,
                             seed: int | None = 0) -> CategoricalVAE:
    """A categorical VAE for vectors (toys): MLP trunk and decoder (SiLU), squared Euclidean distance.

    Examples
    --------
    >>> model = make_categorical_mlp_vae(2, 2, n_binary=1, hidden=(16,), seed=0)
    >>> model(torch.zeros(5, 2)).x_hat.shape
    torch.Size([5, 2])
    """
    def build():
        sizes = (latent_dim + n_binary, *hidden, data_dim)
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.SiLU())
        return CategoricalVAE(MLPTrunk(data_dim, hidden), nn.Sequential(*layers), squared_euclidean_distance,
                              latent_dim=latent_dim, n_binary=n_binary, temperature=temperature,
                              prior_prob=prior_prob)

    return _seeded(seed, build)


# --------------------------------------------------------------------------------------------
# training: the package's train_vae, once per alpha_w


#: Collins' anneal of alpha_w up to his studied checkpoint (0.46), in five geometric steps.
ALPHA_SCHEDULE = tuple(float(a) for a in np.geomspace(0.01, 0.46, 5))


@dataclass(frozen=True, eq=False)
class CategoricalTrainingHistory:
    """What :func:`train_categorical_vae` did, one entry per alpha_w stage.

    Attributes
    ----------
    beta : float
    alpha_weights : numpy.ndarray, shape (n_stages,)
    loss, distortion, kl : numpy.ndarray, shape (n_stages, steps)
        Per step on the mini-batch (kl: Gaussian + Bernoulli, unweighted, nats).
    states : tuple of dict
        The model's ``state_dict`` (CPU copies) at the end of every stage.
    seconds : numpy.ndarray, shape (n_stages,)
    """

    beta: float
    alpha_weights: np.ndarray
    loss: np.ndarray
    distortion: np.ndarray
    kl: np.ndarray
    states: tuple
    seconds: np.ndarray


def train_categorical_vae(model: CategoricalVAE, data, beta: float, *,
                          alpha_weights: Sequence[float] = ALPHA_SCHEDULE, steps_per_weight: int = 600,
                          batch_size: int | None = 256, lr: float = 1e-3, lr_final_fraction: float = 0.1,
                          seed: int = 0, device: str | torch.device | None = None,
                          progress: bool = True) -> CategoricalTrainingHistory:
    """Train at fixed ``beta`` while alpha_w rises through ``alpha_weights`` (in place).

    Each stage is one call of :func:`jetgeom_lite.vae.train_vae` (the package's only training
    loop) with the same Adam optimiser, ``steps_per_weight`` steps, a half-cosine learning-rate
    decay within the stage, and the seed ``seed + stage``.

    Parameters
    ----------
    model : CategoricalVAE
    data : tensor or tuple ``(x, *extras)``
        E.g. ``(particles, mask)`` from :func:`jetgeom_lite.jet_vae.jet_tensors`. No labels.
    beta : float
        Resolution, in the unit of the distance.
    alpha_weights : sequence of float
        Non-negative weights of the Bernoulli KL, in the order trained.

    Returns
    -------
    CategoricalTrainingHistory

    Examples
    --------
    >>> from jetgeom_lite.categorical import dot_and_segment
    >>> x, _ = dot_and_segment(100, seed=0)
    >>> model = make_categorical_mlp_vae(2, 2, hidden=(16,), seed=0)
    >>> h = train_categorical_vae(model, x, 0.1, alpha_weights=(0.1, 1.0), steps_per_weight=5,
    ...                           device="cpu", progress=False)
    >>> h.loss.shape, len(h.states)
    ((2, 5), 2)
    """
    if not isinstance(model, CategoricalVAE):
        raise TypeError(f"model must be a CategoricalVAE, got {type(model).__name__}.")
    weights = [_check_alpha_weight(a) for a in alpha_weights]
    if not weights:
        raise ValueError("alpha_weights is empty; give at least one weight of the Bernoulli KL.")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, foreach=True)
    records, states, seconds = [], [], []
    for stage, weight in enumerate(weights):
        model.set_alpha_weight(weight)
        history = train_vae(model, data, beta, steps=steps_per_weight, batch_size=batch_size, optimizer=optimizer,
                            seed=seed + stage, device=device, lr_final_fraction=lr_final_fraction,
                            progress=progress)
        model.beta.fill_(float(beta))
        records.append((history.loss, history.distortion, history.kl))
        states.append({k: v.detach().to("cpu").clone() for k, v in model.state_dict().items()})
        seconds.append(history.seconds)
    loss, distortion, kl = (np.stack([r[i] for r in records]) for i in range(3))
    return CategoricalTrainingHistory(beta=float(beta), alpha_weights=np.array(weights), loss=loss,
                                      distortion=distortion, kl=kl, states=tuple(states),
                                      seconds=np.array(seconds))
