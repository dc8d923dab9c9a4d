"""Where a chapter runs: device, threads, package version and the size switch, in one line.

Every chapter's setup cell calls :func:`chapter_setup`, so readers on Colab, a laptop or the
book's build machine see the same facts before anything heavy runs.

Why the thread count is printed (and can be set): torch runs its CPU kernels on OpenMP threads,
one per core by default, and OpenMP threads *spin* while they wait for each other. The batched
Sinkhorn kernels of chapter 2 are hundreds of tiny parallel regions; on a machine whose cores are
busy with other work, every region waits for a thread that is not scheduled. Measured on the
book's 2-core build machine under a load of ~5: forward + backward ``sinkhorn_emd`` ran at
84-192 pairs/s with 2 torch threads, 1,000-1,600 pairs/s with 1 thread, and 1,300-3,600 with 2
threads and ``OMP_WAIT_POLICY=PASSIVE`` (against 8,600 with 2 threads on an idle machine). So on
a shared machine set ``JETGEOM_THREADS=1`` (or ``chapter_setup(threads=1)``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

__all__ = ["ChapterSetup", "chapter_setup", "default_device", "full_size_requested", "threads_requested"]

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
    threads : int or None
        torch's CPU threads after the setup (``None`` when torch is not installed).
    """

    device: str
    full_size: bool
    seed: int
    version: str
    on_colab: bool
    threads: int | None = None

    def __str__(self) -> str:
        size = "full size" if self.full_size else "default (small) size"
        threads = "" if self.threads is None else f" ({self.threads} CPU thread{'s' * (self.threads != 1)})"
        return (f"jetgeom_lite {self.version} | device: {self.device}{threads} | {size} | seed {self.seed}"
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


def threads_requested(value: int | None = None) -> int | None:
    """Resolve the CPU thread count for torch.

    Parameters
    ----------
    value : int or None
        An explicit count (at least 1) wins. ``None`` reads ``JETGEOM_THREADS`` (a positive
        integer); unset or empty means "leave torch's default" and returns ``None``.

    Raises
    ------
    ValueError
        If the count, or ``JETGEOM_THREADS``, is not a positive integer.

    Examples
    --------
    >>> threads_requested(1)
    1
    """
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"threads={value!r} must be a positive integer, e.g. threads=1, "
                             "or None to keep torch's default.")
        return value
    word = os.environ.get("JETGEOM_THREADS", "").strip()
    if not word:
        return None
    if not word.isdigit() or int(word) < 1:
        raise ValueError(f"JETGEOM_THREADS={word!r} is not understood; set it to a positive integer "
                         "(1 on a shared machine) or leave it unset for torch's default.")
    return int(word)


def chapter_setup(full_size: bool | None = None, seed: int = 1, threads: int | None = None) -> ChapterSetup:
    """Decide device, CPU threads and size for a chapter and print them.

    Parameters
    ----------
    full_size : bool or None
        ``True`` for the full-size run; ``None`` defers to ``JETGEOM_FULL_SIZE`` (default small).
    seed : int
        Seed for every random step of the chapter.
    threads : int or None
        torch's CPU threads (``torch.set_num_threads``); ``None`` defers to ``JETGEOM_THREADS``,
        and when that is unset keeps torch's default (one per core). Use 1 on a machine whose
        cores other jobs are using (see the module docstring for why and what it costs).

    Returns
    -------
    ChapterSetup

    Examples
    --------
    >>> setup = chapter_setup(full_size=False, seed=1)  # doctest: +ELLIPSIS
    jetgeom_lite ... | device: ... | default (small) size | seed 1...
    """
    from . import __version__

    size = full_size_requested(full_size)
    wanted = threads_requested(threads)
    try:
        import torch
    except ImportError:  # the EMD chapters run without torch
        torch = None
    if torch is not None and wanted is not None:
        torch.set_num_threads(wanted)
    setup = ChapterSetup(device=default_device(), full_size=size, seed=int(seed), version=__version__,
                         on_colab="google.colab" in sys.modules,
                         threads=None if torch is None else torch.get_num_threads())
    print(setup)
    return setup
