"""Data handling shared by training, evaluation and sweeps: batches, devices, generators, step counts."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._validation import check_fraction, check_integer

Batch = tuple[torch.Tensor, ...]


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
        batch_size = _check_batch_size(batch_size)
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


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def _resolve_device(model: nn.Module, device: str | torch.device | None) -> torch.device:
    """The one device rule of the package: ``None`` keeps the model where its parameters are;
    anything else is where the model is moved. Nothing moves to a GPU unless asked."""
    if device is None:
        return _model_device(model)
    try:
        return torch.device(device)
    except (TypeError, RuntimeError) as error:
        raise ValueError(f"device must be None, 'cpu', 'cuda' or a torch.device; got {device!r} ({error}).") from None


def _check_steps(steps, name: str) -> int:
    return check_integer(steps, name, minimum=1, example="100")


def _check_batch_size(batch_size, name: str = "batch_size") -> int | None:
    if batch_size is None:
        return None
    return check_integer(batch_size, name, minimum=1, example="256")


def _check_fraction(value: float) -> float:
    return check_fraction(value, "lr_final_fraction", example="0.1")


def _make_generators(seed: int, device: torch.device) -> tuple[torch.Generator, torch.Generator]:
    batches = torch.Generator().manual_seed(int(seed))
    latent = torch.Generator(device=device).manual_seed(int(seed) + 1)
    return batches, latent
