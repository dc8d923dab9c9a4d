r"""A binary latent beside the Gaussian one: unsupervised classification (chapter 5).

The VAE of chapters 3 and 4 with one addition, after the model in Collins' public code for
top/QCD jets (EMD_VAE, branch ``sdf_studies``; not in the paper): a few *relaxed Bernoulli*
(binary Concrete) units :math:`s_u \in (0, 1)` {Maddison et al., arXiv:1611.00712; Jang et al.,
arXiv:1611.01144}. The encoder's trunk gives logits :math:`\ln\alpha_u`; a sample is

.. math:: s_u = \sigma\big((\ln\alpha_u + \ln u - \ln(1-u)) / T\big),\quad u \sim U(0, 1),\quad T = 0.3,

the Gaussian head is conditioned on ``s`` (so the Gaussian directions a jet uses can depend on
its category) and the decoder reads :math:`[z, s]`. The loss, in nats,

.. math:: L = \frac{\langle \mathrm{EMD}^2\rangle}{2\beta^2} + \sum_k \mathrm{KL}_k
          + \alpha_w \sum_u \big[d_u \coth(d_u/2) - 2\big],\qquad d_u = \ln\alpha_u - \mathrm{logit}\,p_u,

where the last term is the KL of the logit-space variable (two unit-scale logistic densities;
it does not depend on ``T``) and :math:`\alpha_w` is annealed upwards during training.

Nothing here reads labels except the metrics in :mod:`jetgeom_lite.metrics`. The readout
(:func:`oriented_score`, :func:`unsupervised_score`) picks the unit with the largest mean KL and
its deterministic logit as the score, and orients it by a label-free rule: the side whose jets
cost more nats to describe at resolution beta (per-jet distortion / (2 beta^2) + Gaussian KL)
is the positive ("top", the more complex class) side.

Jet arrays follow the energyflow convention: rows ``(z, y, phi)`` with ``z`` the pT fraction,
zero-padded ``(n_jets, M, 3)`` batches with a boolean mask ``(n_jets, M)``.

Examples
--------
>>> import torch
>>> round(float(kl_relaxed_bernoulli(torch.tensor(3.0))), 6)      # 3 coth(1.5) - 2
1.314374
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .jet_vae import JetDecoder, JetVAESettings, SquaredSinkhornEMD, _check_jet_batch, _mlp
from .vae import VAE, squared_euclidean_distance, train_vae

__all__ = [
    "DEFAULT_TEMPERATURE",
    "kl_relaxed_bernoulli",
    "kl_bernoulli",
    "relaxed_bernoulli_sample",
    "CategoricalVAE",
    "CategoricalVAEOutput",
    "CategoricalVAELoss",
    "JetTrunk",
    "MLPTrunk",
    "make_categorical_jet_vae",
    "make_categorical_mlp_vae",
    "CategoricalTrainingHistory",
    "train_categorical_vae",
    "ClassifierScore",
    "oriented_score",
    "unsupervised_score",
    "categorical_reconstruction_emd",
    "decoded_movement",
    "dot_and_segment",
    "SetTagger",
    "train_set_tagger",
    "PretrainedClassifier",
    "load_pretrained_classifier",
]

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
        from .vae import vae_loss

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


# --------------------------------------------------------------------------------------------
# the label-free readout


ORIENTATION_RULE = ("the side of the unit's logit (log_alpha > 0 or < 0) whose jets cost more to describe, "
                    "mean of distortion/(2 beta^2) + Gaussian KL, is made positive")


@dataclass(frozen=True)
class ClassifierScore:
    """A label-free classifier score from a categorical VAE.

    Attributes
    ----------
    score : numpy.ndarray, shape (n,)
        ``orientation * log_alpha[:, unit]``; larger = the costlier (more complex) class.
    unit : int
        The binary unit used: the one with the largest mean KL on these data.
    orientation : int
        +1 or -1.
    orientation_rule : str
    kl_bern_per_unit : numpy.ndarray, shape (m,)
        Mean relaxed-Bernoulli KL of every unit on these data, nats.
    cost_per_jet : numpy.ndarray, shape (n,)
        The orientation statistic: per-sample cost in nats.
    log_alpha : numpy.ndarray, shape (n, m)
        All the logits.
    """

    score: np.ndarray
    unit: int
    orientation: int
    orientation_rule: str
    kl_bern_per_unit: np.ndarray
    cost_per_jet: np.ndarray
    log_alpha: np.ndarray


def oriented_score(log_alpha, cost_per_jet, prior_prob: float = 0.5) -> ClassifierScore:
    """The readout from logits and per-sample costs alone (no labels, no model).

    1. unit ``u*`` = argmax over units of the mean :func:`kl_relaxed_bernoulli`;
    2. score = ``log_alpha[:, u*]``;
    3. orientation: +1 if the samples with ``log_alpha[:, u*] > 0`` have the larger mean
       ``cost_per_jet`` than those with ``<= 0``, else -1 (if one side is empty, the split is
       taken at the median logit instead).

    Parameters
    ----------
    log_alpha : array_like, shape (n, m)
    cost_per_jet : array_like, shape (n,)
        nats per sample (e.g. distortion / (2 beta^2) + Gaussian KL).
    prior_prob : float

    Examples
    --------
    >>> logits = np.array([[2.0, 0.1], [-2.0, 0.0], [3.0, -0.1], [-1.0, 0.2]])
    >>> result = oriented_score(logits, np.array([1.0, 5.0, 1.5, 4.0]))
    >>> result.unit, result.orientation, result.score.tolist()
    (0, -1, [-2.0, 2.0, -3.0, 1.0])
    """
    logits = np.asarray(log_alpha, dtype=np.float64)
    cost = np.asarray(cost_per_jet, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] < 2:
        raise ValueError(f"log_alpha must have shape (n, m) with n >= 2 samples, got {logits.shape}.")
    if cost.shape != (logits.shape[0],):
        raise ValueError(f"cost_per_jet must have shape ({logits.shape[0]},), one cost per sample; got {cost.shape}.")
    if not np.all(np.isfinite(logits)):
        raise ValueError("log_alpha contains NaN or infinite logits.")
    if not np.all(np.isfinite(cost)):
        raise ValueError("cost_per_jet contains NaN or infinite values.")
    kl = kl_relaxed_bernoulli(torch.from_numpy(logits), prior_prob).mean(dim=0).numpy()
    unit = int(np.argmax(kl))
    chosen = logits[:, unit]
    positive = chosen > 0
    if positive.all() or not positive.any():
        positive = chosen > np.median(chosen)
    if positive.all() or not positive.any():
        raise ValueError("the chosen unit gives every sample the same logit; it carries no split to orient.")
    orientation = 1 if cost[positive].mean() > cost[~positive].mean() else -1
    return ClassifierScore(score=orientation * chosen, unit=unit, orientation=orientation,
                           orientation_rule=ORIENTATION_RULE, kl_bern_per_unit=kl, cost_per_jet=cost,
                           log_alpha=logits)


@torch.no_grad()
def _deterministic_pass(model: CategoricalVAE, data: tuple, batch_size: int):
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = data[0].shape[0]
    parts = []
    for i in range(0, n, batch_size):
        batch = tuple(t[i:i + batch_size].to(device) for t in data)
        out = model(*batch, sample=False)
        d2 = model.squared_distance(batch[0], out.x_hat, *batch[1:])
        parts.append((out.log_alpha.double().cpu(), out.mu.cpu(), out.log_var.cpu(), d2.double().cpu(),
                      _kl_gauss(out.mu, out.log_var).sum(dim=1).double().cpu()))
    model.train(was_training)
    return [torch.cat([p[j] for p in parts]).numpy() for j in range(5)]


def unsupervised_score(model: CategoricalVAE, particles: torch.Tensor, mask: torch.Tensor | None = None, *,
                       beta: float | None = None, batch_size: int = 2048) -> ClassifierScore:
    """The oriented per-jet score of a trained categorical VAE, made without labels.

    Encodes deterministically (the logits; ``s = 1[log_alpha > 0]``; ``z = mu``), computes each
    jet's cost :math:`\\mathrm{EMD}(x, \\mathrm{dec}(\\mu, s))^2/(2\\beta^2) + \\sum_k \\mathrm{KL}_k`
    (Sinkhorn EMD, as in the loss) and applies :func:`oriented_score`.

    Parameters
    ----------
    model : CategoricalVAE
    particles : torch.Tensor, shape (n, M, 3)
        Rows ``(z, y, phi)``, zero-padded (or, for a vector model, data of shape (n, d)).
    mask : torch.Tensor of bool, shape (n, M), optional
        True for real particles (``None`` for a vector model).
    beta : float, optional
        Resolution of the cost; default: the beta the model was trained at (``model.beta``).
    batch_size : int

    Returns
    -------
    ClassifierScore
    """
    if not isinstance(model, CategoricalVAE):
        raise TypeError(f"model must be a CategoricalVAE, got {type(model).__name__}.")
    if not isinstance(particles, torch.Tensor):
        raise TypeError(f"particles must be a torch tensor, got {type(particles).__name__}; use jet_tensors(jets).")
    if beta is None:
        beta = float(model.beta)
        if beta <= 0:
            raise ValueError("the model records no training beta (model.beta is 0); pass beta=...")
    elif not (math.isfinite(float(beta)) and float(beta) > 0):
        raise ValueError(f"beta must be positive and finite, got {beta!r}.")
    data = (particles,) if mask is None else (particles, mask)
    log_alpha, _, _, d2, kl = _deterministic_pass(model, data, batch_size)
    return oriented_score(log_alpha, d2 / (2 * float(beta) ** 2) + kl, model.prior_prob)


# --------------------------------------------------------------------------------------------
# evaluation helpers for jets


def _exact_emds(inputs: np.ndarray, keep: np.ndarray | None, outputs: np.ndarray, R: float) -> np.ndarray:
    from .emd import emd

    return np.array([emd(inputs[i][keep[i]] if keep is not None else inputs[i], outputs[i], R=R, norm=True)
                     for i in range(inputs.shape[0])])


@torch.no_grad()
def categorical_reconstruction_emd(model: CategoricalVAE, particles: torch.Tensor, mask: torch.Tensor, *,
                                   R: float = 0.8, shuffle_seed: int | None = None) -> np.ndarray:
    """Exact EMD (fraction of pT_J) between each jet and ``dec([mu, 1[log_alpha > 0]])``.

    With ``shuffle_seed`` the codes are permuted among the jets first: the baseline of a
    decoder that ignores which jet it was given. Shapes as in :func:`unsupervised_score`;
    returns ``(n,)``.
    """
    mask = _check_jet_batch(particles, mask, "particles")
    was_training = model.training
    model.eval()
    codes = model.code(particles, mask)
    if shuffle_seed is not None:
        codes = codes[torch.randperm(codes.shape[0], generator=torch.Generator().manual_seed(int(shuffle_seed)))]
    decoded = model.decode(codes)
    model.train(was_training)
    return _exact_emds(particles.double().numpy(), mask.numpy(), decoded.double().numpy(), R)


@torch.no_grad()
def decoded_movement(model: CategoricalVAE, particles: torch.Tensor, mask: torch.Tensor, *, step: float = 1.0,
                     R: float = 0.8) -> np.ndarray:
    """How far the decoded jet moves (exact EMD, fraction of pT_J) when one Gaussian direction moves.

    For every jet, its code ``[mu, s]`` and the code with ``z_k`` moved by ``step`` (the prior's
    sigma, 1, by default) are decoded and compared; averaged over the jets given.

    Returns
    -------
    numpy.ndarray, shape (k,)
        Mean EMD per Gaussian direction.
    """
    mask = _check_jet_batch(particles, mask, "particles")
    model.eval()
    codes = model.code(particles, mask)
    base = model.decode(codes).double().numpy()
    moved = []
    for k in range(model.latent_dim):
        shifted = codes.clone()
        shifted[:, k] += step
        other = model.decode(shifted).double().numpy()
        moved.append(_exact_emds(base, None, other, R).mean())
    return np.array(moved)


# --------------------------------------------------------------------------------------------
# the toy


def dot_and_segment(n_per_component: int, *, width: float = 0.05, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two components of different intrinsic dimension in the plane, mixed and shuffled.

    A "dot" ``N((-2, 0), width^2 I)`` (dimension 0 at scales above ``width``) and a "segment"
    ``N((2, 0), diag(1, width^2))`` (dimension 1). Labels: 1 = segment, 0 = dot.

    Returns
    -------
    points : numpy.ndarray, shape (2 n, 2), float32
    labels : numpy.ndarray, shape (2 n,), int

    Examples
    --------
    >>> x, y = dot_and_segment(3, seed=0)
    >>> x.shape, int(y.sum())
    ((6, 2), 3)
    """
    if isinstance(n_per_component, bool) or not isinstance(n_per_component, (int, np.integer)) or n_per_component < 1:
        raise ValueError(f"n_per_component must be a positive integer, got {n_per_component!r}.")
    if not (math.isfinite(width) and width > 0):
        raise ValueError(f"width must be positive, got {width!r}.")
    rng = np.random.default_rng(seed)
    n = int(n_per_component)
    dot = rng.normal([-2.0, 0.0], width, size=(n, 2))
    segment = np.column_stack([2.0 + rng.normal(0.0, 1.0, n), rng.normal(0.0, width, n)])
    points = np.concatenate([dot, segment]).astype(np.float32)
    labels = np.r_[np.zeros(n, dtype=int), np.ones(n, dtype=int)]
    order = rng.permutation(2 * n)
    return points[order], labels[order]


# --------------------------------------------------------------------------------------------
# the supervised ceiling: the same trunk, a logit, labels


class SetTagger(nn.Module):
    """The categorical VAE's jet trunk with one output logit: the supervised reference.

    Shapes: ``x (n, M, 3)``, ``mask (n, M)`` -> logit ``(n,)``.
    """

    def __init__(self, settings: JetVAESettings | None = None):
        super().__init__()
        self.trunk = JetTrunk(JetVAESettings() if settings is None else settings)
        self.output = nn.Linear(self.trunk.width, 1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.output(self.trunk(x, mask))[:, 0]


def train_set_tagger(particles: torch.Tensor, mask: torch.Tensor, labels, *, settings: JetVAESettings | None = None,
                     steps: int = 1500, batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
                     progress: bool = True) -> tuple[SetTagger, np.ndarray]:
    """Train a :class:`SetTagger` with labels (binary cross-entropy, Adam); the ceiling of chapter 5.

    Returns the model (eval mode) and the loss per step, shape ``(steps,)``.
    """
    mask = _check_jet_batch(particles, mask, "particles")
    y = torch.as_tensor(np.asarray(labels), dtype=particles.dtype)
    if y.shape != (particles.shape[0],) or not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("labels must be 0/1, one per jet.")
    model = _seeded(seed, lambda: SetTagger(settings))
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(int(seed))
    losses = np.empty(int(steps))
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=int(steps), desc="supervised tagger", leave=False)
    model.train()
    for step in range(int(steps)):
        index = torch.randint(0, particles.shape[0], (batch_size,), generator=generator)
        logit = model(particles[index], mask[index])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses[step] = loss.item()
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return model.eval(), losses


# --------------------------------------------------------------------------------------------
# shipped weights


@dataclass(frozen=True, eq=False)
class PretrainedClassifier:
    """The shipped top/QCD models of chapter 5 and their metadata (``python -m jetgeom_lite.train topqcd``).

    Attributes
    ----------
    name : str
    settings : JetVAESettings
        Architecture of the trunk, Gaussian latent (``latent_dim``) and decoder.
    metadata : dict
        Recipe, timings and every metric measured on held-out jets.
    folder : pathlib.Path
    """

    name: str
    settings: JetVAESettings
    metadata: dict
    folder: object

    def _states(self, file: str) -> list:
        path = self.folder / file
        if not path.is_file():
            raise ValueError(f"weights file {file!r} of {self.name!r} is missing; re-install the package or re-run "
                             "`python -m jetgeom_lite.train topqcd`.")
        return torch.load(path, map_location="cpu", weights_only=True)

    def _categorical(self, state: dict, beta_hat: float) -> CategoricalVAE:
        meta = self.metadata
        model = make_categorical_jet_vae(self.settings, n_binary=meta["n_binary"], temperature=meta["temperature"],
                                         prior_prob=meta["prior_prob"], seed=None)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        model.beta.fill_(beta_hat / meta["pt_scale_GeV"])  # exact, not the float16 copy
        return model.eval()

    def stages(self) -> np.ndarray:
        """alpha_w after each stage of the main run."""
        return np.asarray(self.metadata["main"]["alpha_weights"])

    def model(self, stage: int | None = None) -> CategoricalVAE:
        """The main run after ``stage`` (default: the read-out stage, alpha_w = 0.46), eval mode."""
        states = self._states(self.metadata["main"]["file"])
        stage = self.metadata["readout_stage"] if stage is None else stage
        if isinstance(stage, bool) or not isinstance(stage, (int, np.integer)) or not -len(states) <= stage < len(states):
            raise ValueError(f"stage must be an integer in [0, {len(states)}), got {stage!r}.")
        return self._categorical(states[int(stage)], self.metadata["main"]["beta_hat_GeV"])

    def variant_names(self) -> list[str]:
        return sorted(self.metadata.get("variants", {}))

    def variant(self, name: str) -> CategoricalVAE:
        """A robustness variant (``"seed1"``, ``"seed2"``, ``"top10"``, ``"beta25"``, ...), at its read-out stage."""
        variants = self.metadata.get("variants", {})
        if name not in variants:
            raise ValueError(f"no variant {name!r}; available: {sorted(variants)}.")
        return self._categorical(self._states(variants[name]["file"])[0], variants[name]["beta_hat_GeV"])

    def supervised(self) -> "SetTagger":
        """The supervised tagger with the same trunk (the ceiling), eval mode."""
        tagger = SetTagger(self.settings)
        tagger.load_state_dict({k: v.float() for k, v in self._states(self.metadata["supervised"]["file"])[0].items()})
        return tagger.eval()

    def qcd_vae(self):
        """The Gaussian jet VAE trained on QCD jets only (the classic anomaly score), eval mode."""
        from .jet_vae import make_jet_vae

        vae = make_jet_vae(self.settings, seed=None)
        vae.load_state_dict({k: v.float() for k, v in self._states(self.metadata["qcd_vae"]["file"])[0].items()})
        return vae.eval()


def load_pretrained_classifier(name: str = "topqcd", directory=None) -> PretrainedClassifier:
    """Load the shipped categorical jet VAE of chapter 5 and its references.

    Parameters
    ----------
    name : str
        ``"topqcd"``.
    directory : str or Path, optional
        Load from here instead of the package (the output of ``python -m jetgeom_lite.train topqcd``).

    Examples
    --------
    >>> shipped = load_pretrained_classifier("topqcd")          # doctest: +SKIP
    >>> model = shipped.model()        # alpha_w = 0.46, the read-out stage  # doctest: +SKIP
    """
    import json
    from pathlib import Path

    from .jet_vae import _weights_root

    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}.")
    folder = _weights_root() / name if directory is None else Path(directory)
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        raise ValueError(f"no shipped classifier {name!r} (no metadata.json in its folder); train it with "
                         f"`python -m jetgeom_lite.train {name}` and pass directory=...")
    metadata = json.loads(meta_path.read_text())
    if metadata.get("kind") != "categorical" or metadata.get("name") != name:
        raise ValueError(f"{meta_path.name} in the folder of {name!r} does not describe a categorical classifier "
                         f"named {name!r}.")
    return PretrainedClassifier(name=name, settings=JetVAESettings.from_dict(metadata["model"]), metadata=metadata,
                                folder=folder)
