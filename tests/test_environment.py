"""Tests for jetgeom_lite.environment: the size switch, the device string and the printed line."""

from __future__ import annotations

import re
import sys

import pytest

from jetgeom_lite import __version__
from jetgeom_lite.environment import (ChapterSetup, chapter_setup, default_device, full_size_requested,
                                      threads_requested)


@pytest.mark.parametrize("word", ["1", "true", "TRUE", "Yes", " on ", "yes\n"])
def test_full_size_true_words(monkeypatch, word):
    monkeypatch.setenv("JETGEOM_FULL_SIZE", word)
    assert full_size_requested() is True


@pytest.mark.parametrize("word", ["", "0", "false", "False", "no", "OFF", "  "])
def test_full_size_false_words(monkeypatch, word):
    monkeypatch.setenv("JETGEOM_FULL_SIZE", word)
    assert full_size_requested() is False


def test_full_size_unset_means_small(monkeypatch):
    monkeypatch.delenv("JETGEOM_FULL_SIZE", raising=False)
    assert full_size_requested() is False


@pytest.mark.parametrize("word", ["2", "maybe", "full", "ture", "-1", "1.0"])
def test_full_size_garbage_raises_with_fix(monkeypatch, word):
    monkeypatch.setenv("JETGEOM_FULL_SIZE", word)
    with pytest.raises(ValueError) as excinfo:
        full_size_requested()
    message = str(excinfo.value)
    # The message names the variable, the bad word and how to fix it.
    assert "JETGEOM_FULL_SIZE" in message
    assert word.strip().lower() in message
    assert "1" in message and "0" in message


@pytest.mark.parametrize("explicit", [True, False])
def test_explicit_choice_beats_environment(monkeypatch, explicit):
    monkeypatch.setenv("JETGEOM_FULL_SIZE", "garbage")  # never read when a choice is given
    assert full_size_requested(explicit) is explicit


def test_default_device_matches_torch():
    torch = pytest.importorskip("torch")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert default_device() == expected


def test_default_device_without_torch(monkeypatch):
    # A None entry in sys.modules makes `import torch` raise ImportError.
    monkeypatch.setitem(sys.modules, "torch", None)
    assert default_device() == "cpu"


def test_chapter_setup_prints_one_line(monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    monkeypatch.delenv("JETGEOM_FULL_SIZE", raising=False)
    monkeypatch.delenv("JETGEOM_THREADS", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    before = torch.get_num_threads()
    setup = chapter_setup(seed=7)
    assert torch.get_num_threads() == before  # unset JETGEOM_THREADS leaves torch alone
    printed = capsys.readouterr().out
    assert printed.count("\n") == 1
    line = printed.strip()
    assert line == str(setup)
    plural = "" if before == 1 else "s"
    assert line == (f"jetgeom_lite {__version__} | device: {setup.device} ({before} CPU thread{plural}) | "
                    "default (small) size | seed 7")
    assert setup == ChapterSetup(device=default_device(), full_size=False, seed=7,
                                 version=__version__, on_colab=False, threads=before)


def test_chapter_setup_without_torch_prints_no_threads(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delenv("JETGEOM_THREADS", raising=False)
    setup = chapter_setup(full_size=False, seed=2)
    assert setup.threads is None
    assert "thread" not in capsys.readouterr().out


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_chapter_setup_sets_torch_threads(monkeypatch, capsys, how):
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    target = 2 if before == 1 else 1
    try:
        if how == "argument":
            monkeypatch.setenv("JETGEOM_THREADS", "7")  # the argument wins over the environment
            setup = chapter_setup(full_size=False, threads=target)
        else:
            monkeypatch.setenv("JETGEOM_THREADS", f" {target} ")
            setup = chapter_setup(full_size=False)
        assert torch.get_num_threads() == target
        assert setup.threads == target
        assert f"({target} CPU thread" in capsys.readouterr().out
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("word", ["0", "-1", "two", "1.5"])
def test_threads_environment_garbage_raises_with_fix(monkeypatch, word):
    monkeypatch.setenv("JETGEOM_THREADS", word)
    with pytest.raises(ValueError, match="JETGEOM_THREADS.*positive integer"):
        threads_requested()


@pytest.mark.parametrize("value", [0, -2, 1.0, True, "1"])
def test_threads_argument_garbage_raises_with_fix(value):
    with pytest.raises(ValueError, match="threads=.*positive integer"):
        threads_requested(value)


def test_threads_unset_means_keep_default(monkeypatch):
    monkeypatch.setenv("JETGEOM_THREADS", "")
    assert threads_requested() is None


def test_chapter_setup_full_size_from_environment(monkeypatch, capsys):
    monkeypatch.setenv("JETGEOM_FULL_SIZE", "1")
    setup = chapter_setup()
    assert setup.full_size is True
    assert setup.seed == 1
    assert "| full size |" in capsys.readouterr().out


def test_chapter_setup_bad_environment_raises_before_printing(monkeypatch, capsys):
    monkeypatch.setenv("JETGEOM_FULL_SIZE", "sometimes")
    with pytest.raises(ValueError, match="JETGEOM_FULL_SIZE"):
        chapter_setup()
    assert capsys.readouterr().out == ""


def test_chapter_setup_on_colab_is_reported(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", object())
    setup = chapter_setup(full_size=False, seed=3)
    assert setup.on_colab is True
    assert capsys.readouterr().out.rstrip("\n").endswith("| seed 3 | Colab")


def test_version_looks_like_a_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)*", __version__)


def test_setup_is_frozen():
    setup = ChapterSetup(device="cpu", full_size=False, seed=1, version="0", on_colab=False)
    with pytest.raises(AttributeError):
        setup.seed = 2  # type: ignore[misc]
