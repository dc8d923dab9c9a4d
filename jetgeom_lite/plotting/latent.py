"""Interactive latent explorer of chapter 4 (and 6): sliders on latent directions decode a jet live."""

from __future__ import annotations

__all__: list[str] = []
