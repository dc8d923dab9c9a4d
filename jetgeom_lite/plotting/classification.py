"""Classification figures of chapter 5: ROC curves and score histograms."""

from __future__ import annotations

__all__: list[str] = []
