"""Where a chapter runs: device, package version and the size switch, printed in one line.

Every chapter's setup cell calls :func:`chapter_setup`, so readers on Colab, a laptop or the
book's build machine see the same three facts before anything heavy runs.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

__all__ = ["ChapterSetup", "chapter_setup", "default_device", "full_size_requested"]

_TRUE_WORDS = {"1", "true", "yes", "on"}
_FALSE_WORDS = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class ChapterSetup:
    """What a chapter's setup cell decided.

    Attributes
    ----------
    device : str
        ``"cuda"`` when a GPU is visible to torch, else ``"cpu"``.
    full_size : bool
        ``True`` for the full-size run (large samples, training from scratch), ``False`` for the
        default small run that uses shipped pretrained weights.
    seed : int
        The seed the chapter passes to every random step.
    version : str
        The version of ``jetgeom_lite`` in use.
    on_colab : bool
        Whether the notebook runs on Google Colab.
    """

    device: str
    full_size: bool
    seed: int
    version: str
    on_colab: bool

    def __str__(self) -> str:
        size = "full size" if self.full_size else "default (small) size"
        return (f"jetgeom_lite {self.version} | device: {self.device} | {size} | seed {self.seed}"
                + (" | Colab" if self.on_colab else ""))


def default_device() -> str:
    """Return ``"cuda"`` when torch sees a GPU, else ``"cpu"``.

    Examples
    --------
    >>> default_device() in {"cpu", "cuda"}
    True
    """
    try:
        import torch
    except ImportError:  # the EMD chapters run without torch
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def full_size_requested(value: bool | None = None) -> bool:
    """Resolve the full-size switch.

    Parameters
    ----------
    value : bool or None
        An explicit choice wins. ``None`` reads the environment variable ``JETGEOM_FULL_SIZE``
        (``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``; unset means small).

    Raises
    ------
    ValueError
        If ``JETGEOM_FULL_SIZE`` holds a word that is neither true nor false.
    """
    if value is not None:
        return bool(value)
    word = os.environ.get("JETGEOM_FULL_SIZE", "").strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    raise ValueError(f"JETGEOM_FULL_SIZE={word!r} is not understood; set it to 1 (full size) or 0 (small).")


def chapter_setup(full_size: bool | None = None, seed: int = 1) -> ChapterSetup:
    """Decide device and size for a chapter and print them.

    Parameters
    ----------
    full_size : bool or None
        ``True`` for the full-size run; ``None`` defers to ``JETGEOM_FULL_SIZE`` (default small).
    seed : int
        Seed for every random step of the chapter.

    Returns
    -------
    ChapterSetup

    Examples
    --------
    >>> setup = chapter_setup(full_size=False, seed=1)  # doctest: +ELLIPSIS
    jetgeom_lite ... | device: ... | default (small) size | seed 1...
    """
    from . import __version__

    setup = ChapterSetup(device=default_device(), full_size=full_size_requested(full_size),
                         seed=int(seed), version=__version__, on_colab="google.colab" in sys.modules)
    print(setup)
    return setup
