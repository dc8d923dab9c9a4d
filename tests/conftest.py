"""Shared test set-up: every test run gets its own, empty jet cache.

Tests generate small jet samples; written into a shared cache they would leave files in the
user's cache folder (``platformdirs``), or in ``_build/jetgeom_data`` that the chapters read, and a
stale or broken cache could make a test pass or fail for reasons outside the code under test. So
``JETGEOM_DATA`` points at a fresh temporary folder for the whole run, always (also when the
Makefile has set it for the chapters), and the folder is removed at the end. Child processes
started by a test inherit it. Doctests run in the same pytest process (``make test`` runs
``pytest tests --doctest-modules jetgeom_lite``) get the same folder.

Keep this file free of heavy imports: the energyflow cross-check runs ``tests/test_emd.py`` in a
small environment without torch or Pythia (``scripts/energyflow_check.sh``).
"""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_SAVED_KEY = "_jetgeom_saved_environment"


def pytest_configure(config: pytest.Config) -> None:
    folder = tempfile.mkdtemp(prefix="jetgeom-test-jets-")
    setattr(config, _SAVED_KEY, (os.environ.get("JETGEOM_DATA"), folder))
    os.environ["JETGEOM_DATA"] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    saved = getattr(config, _SAVED_KEY, None)
    if saved is None:
        return
    previous, folder = saved
    if previous is None:
        os.environ.pop("JETGEOM_DATA", None)
    else:
        os.environ["JETGEOM_DATA"] = previous
    shutil.rmtree(folder, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    saved = getattr(config, _SAVED_KEY, None)
    return f"jet cache of this run (JETGEOM_DATA): {saved[1]}" if saved else ""
