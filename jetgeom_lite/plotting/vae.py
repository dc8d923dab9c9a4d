"""Toy-VAE figures of chapter 3."""

from __future__ import annotations

__all__: list[str] = []
