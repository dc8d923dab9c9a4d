"""Private helpers shared by the jet modules (data, observables, plotting): one home, one rule.

- :func:`_wrap_phi`: azimuth into ``[-pi, pi)`` (the same function as
  :func:`jetgeom_lite._validation.wrap_phi`).
- :func:`_quiet_stdout`: silence C/C++ writes to stdout (FastJet's banner).
- :func:`_cluster_sequence`: one FastJet ``ClusterSequence`` over many jets' particles.

Jet arrays follow the package convention: rows ``(pT [GeV], y, phi [rad])``, zero-padded to
``(n_jets, M, 3)`` with a boolean mask ``(n_jets, M)``, True for real particles.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator

import numpy as np

from ._validation import wrap_phi as _wrap_phi  # noqa: F401  (re-exported for the jet modules)


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C/C++ writes to stdout (FastJet's banner) without hiding Python output.

    C++ writes to file descriptor 1 whatever Python's ``sys.stdout`` is; Jupyter kernels
    forward that descriptor to the notebook, so it is descriptor 1 that is redirected.
    """
    with contextlib.suppress(AttributeError, ValueError):
        sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            try:
                yield
            finally:
                os.dup2(saved, 1)
    finally:
        os.close(saved)


def _cluster_sequence(jets: Any, algorithm: Any, radius: float, rows: np.ndarray | None = None,
                      recombination: Any = None) -> Any:
    """One FastJet ClusterSequence over the (massless) real particles of many jets at once.

    ``jets`` is anything with ``particles (n, M, 3)`` and ``mask (n, M)`` (a ``Jets``); padding
    rows are never read.
    """
    import awkward as ak
    import fastjet

    rows = np.arange(len(jets.particles)) if rows is None else rows
    particles = [jets.particles[k][jets.mask[k]] for k in rows]
    pt, y, phi = (ak.Array([p[:, c] for p in particles]) for c in range(3))
    momenta = ak.zip({"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(y), "E": pt * np.cosh(y)})
    with _quiet_stdout():  # FastJet prints a banner on its first clustering
        definition = (fastjet.JetDefinition(algorithm, radius) if recombination is None
                      else fastjet.JetDefinition(algorithm, radius, recombination))
        return fastjet.ClusterSequence(momenta, definition)

