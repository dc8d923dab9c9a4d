"""The label-free readout, evaluation helpers for jets, the dot-and-segment toy and the supervised ceiling."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..jet_vae import JetVAESettings, _check_jet_batch
from .latent import kl_relaxed_bernoulli
from .model import CategoricalVAE, JetTrunk, _kl_gauss, _seeded

__all__ = ["ORIENTATION_RULE", "ClassifierScore", "oriented_score", "unsupervised_score", "categorical_reconstruction_emd",
           "decoded_movement", "dot_and_segment", "SetTagger", "train_set_tagger"]


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
    from ..emd import emd

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
