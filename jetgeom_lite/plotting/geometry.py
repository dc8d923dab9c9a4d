"""Latent-geometry figures of chapter 6: metric maps and HMC traces."""

from __future__ import annotations

__all__: list[str] = []
