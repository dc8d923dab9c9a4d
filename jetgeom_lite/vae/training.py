"""Training at one beta: one loop (:func:`_run_steps`) shared by :func:`train_vae`,
:func:`train_autoencoder` and :func:`jetgeom_lite.vae.beta_sweep`.

The loop only calls ``model.loss(batch, beta, generator=...)`` and reads ``.total``,
``.distortion`` and ``.kl`` of the result: any model whose ``loss`` returns a
:class:`~jetgeom_lite.vae.VAELoss` trains here (the hook for other latent types).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_integer, check_positive
from ._batches import (_as_batch, _BatchStream, _check_data_dim, _check_fraction, _check_steps, _make_generators,
                       _model_dtype, _resolve_device)
from .loss import NonFiniteLossError, _check_beta
from .model import VAE, make_mlp_autoencoder, make_mlp_vae  # noqa: F401  (doctests)

__all__ = ["TrainingHistory", "train_vae", "train_autoencoder"]


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
            try:
                loss = model.loss(stream.next(), beta, generator=latent_generator)
            except NonFiniteLossError as error:
                raise FloatingPointError(
                    f"the loss became non-finite at step {step} of {label} ({error}); training stopped "
                    "before the weights were spoilt. Lower the learning rate, set grad_clip, or check "
                    "the data and the distance for NaN.") from error
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


def _check_training_numbers(lr, grad_clip, seed) -> None:
    check_positive(lr, "lr", example="1e-3")
    if grad_clip is not None:
        check_positive(grad_clip, "grad_clip", example="10.0")
    check_integer(seed, "seed", example="0")


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
        Default: where the model's parameters are, as in :func:`evaluate_vae` (nothing moves to a
        GPU unless asked). Otherwise the model is moved there.
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
    _check_training_numbers(lr, grad_clip, seed)
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
