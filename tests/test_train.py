"""`python -m jetgeom_lite.train`: a tiny recipe end to end, its files, and bit-identical reruns."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from jetgeom_lite.data import load_jets, preprocess
from jetgeom_lite.jet_vae import jet_tensors, load_pretrained_sweep
from jetgeom_lite.train import TrainingRecipe, main, recipe
from jetgeom_lite.vae import evaluate_vae

# A few hundred jets, 2 betas, a few steps, a tiny network: seconds, not minutes.
TINY = ["n_train=200", "n_eval=40", "n_check=20", "n_betas=2", "steps_per_beta=3", "steps_first_beta=4",
        "batch_size=64", "max_particles=20", "n_eval_samples=1", "n_check_samples=2",
        "beta_hat_max_GeV=60", "beta_hat_min_GeV=20",
        "model.latent_dim=2", "model.n_particles=20", "model.particle_hidden=[8]", "model.jet_hidden=[8]",
        "model.decoder_hidden=[16]", "model.n_iterations=10"]


def _run(out, jobs):
    arguments = [sys.executable, "-m", "jetgeom_lite.train", "wjets", "--out", str(out), "--no-progress",
                 "--device", "cpu", "--threads", "1", "--jobs", str(jobs)]
    for item in TINY:
        arguments += ["--set", item]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run(arguments, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    stdout = _run(root / "first", jobs=2)   # the two sweeps in two processes at once
    _run(root / "second", jobs=1)           # one after the other: the same bits
    return root / "first", root / "second", stdout


def _without_timing(metadata):
    metadata = json.loads(json.dumps(metadata))
    metadata.pop("timing")
    for sweep in metadata["sweeps"].values():
        sweep.pop("seconds")
    return metadata


def test_tiny_recipe_writes_files_that_load(two_runs):
    first, _, stdout = two_runs
    assert sorted(p.name for p in first.iterdir()) == ["down.pt", "metadata.json", "up.pt"]
    assert "wrote" in stdout and "metadata.json" in stdout
    sweep = load_pretrained_sweep("wjets", directory=first)
    assert sweep.settings.latent_dim == 2 and sweep.settings.n_particles == 20
    # down: 60 -> 20 GeV on a log grid of 2; up: the same grid from the finest beta, both from scratch
    np.testing.assert_allclose(sweep.beta_hat("down"), [60.0, 20.0])
    np.testing.assert_allclose(sweep.beta_hat("up"), [20.0, 60.0])
    assert len(sweep.states["down"]) == 2 and len(sweep.states["up"]) == 2
    for state in torch.load(first / "down.pt", weights_only=True):
        assert all(value.dtype == torch.float16 for value in state.values())
    metadata = json.loads((first / "metadata.json").read_text())
    assert metadata["recipe"]["n_train"] == 200 and metadata["data"]["n_train"] == 200


def test_recorded_check_metrics_are_recomputed_from_the_files(two_runs):
    """The metadata's check numbers, measured again here from the written weights and fresh jets."""
    first, _, _ = two_runs
    sweep = load_pretrained_sweep("wjets", directory=first)
    data = sweep.metadata["data"]
    window = {} if data["mass_range_GeV"] is None else {"mass_range": tuple(data["mass_range_GeV"])}
    jets = load_jets(data["process"], data["n_check"], seed=data["eval_seed"], progress=False, **window)
    check = jet_tensors(preprocess(jets, center=True, normalize=True, recluster_R=data["recluster_R"],
                                   max_particles=data["max_particles"]))
    for direction in ("down", "up"):
        record = sweep.metadata["sweeps"][direction]["metrics"]
        for index, beta in enumerate(sweep.betas[direction]):
            result = evaluate_vae(sweep.model(direction, index), check, beta, n_samples=2, seed=0, device="cpu",
                                  batch_size=1000)
            assert result.kl == pytest.approx(record["check_kl"][index], rel=1e-6, abs=1e-9)
            assert result.distortion == pytest.approx(record["check_distortion"][index], rel=1e-6)


def test_a_rerun_with_the_same_seed_is_bit_identical_in_one_or_two_processes(two_runs):
    first, second, _ = two_runs
    for name in ("down.pt", "up.pt"):
        a = torch.load(first / name, weights_only=True)
        b = torch.load(second / name, weights_only=True)
        assert len(a) == len(b)
        for state_a, state_b in zip(a, b):
            assert state_a.keys() == state_b.keys()
            for key in state_a:
                assert torch.equal(state_a[key], state_b[key]), (name, key)
    meta_a = json.loads((first / "metadata.json").read_text())
    meta_b = json.loads((second / "metadata.json").read_text())
    assert _without_timing(meta_a) == _without_timing(meta_b)


def test_overrides_and_bad_settings():
    tiny = recipe("wjets").with_overrides({"n_train": 300, "model.latent_dim": 3, "mass_range_GeV": [75, 110]})
    assert tiny.n_train == 300 and tiny.model.latent_dim == 3 and tiny.mass_range_GeV == (75.0, 110.0)
    assert recipe("wjets").n_train == 30_000  # the shipped recipe is untouched
    with pytest.raises(ValueError, match="unknown recipe setting 'n_trian'"):
        recipe("wjets").with_overrides({"n_trian": 3})
    with pytest.raises(ValueError, match="unknown model setting"):
        recipe("wjets").with_overrides({"model.width": 3})
    with pytest.raises(ValueError, match="n_betas"):
        TrainingRecipe(n_betas=0)
    with pytest.raises(ValueError, match="n_check"):
        TrainingRecipe(n_eval=10, n_check=20)
    with pytest.raises(ValueError, match="mass_range_GeV"):
        TrainingRecipe(mass_range_GeV=(110.0, 75.0))
    with pytest.raises(SystemExit):
        main(["wjets", "--set", "n_train"])
    with pytest.raises(SystemExit):
        main(["nosuchsweep"])


# ---------------------------------------------------------------------------------------------
# chapter 5: the shipped top/QCD classifier


def test_shipped_topqcd_files_are_small_load_safely_and_match_their_metadata():
    from pathlib import Path

    from jetgeom_lite import categorical as cat
    from jetgeom_lite.metrics import roc_auc
    from jetgeom_lite.train import TopQCDRecipe, topqcd_jets

    shipped = cat.load_pretrained_classifier("topqcd")
    assert isinstance(load_pretrained_sweep("topqcd"), cat.PretrainedClassifier)
    folder = Path(shipped.folder)
    assert sum(p.stat().st_size for p in folder.iterdir()) < 10 * 2 ** 20
    for path in folder.glob("*.pt"):
        torch.load(path, weights_only=True)  # plain tensors only
    meta = shipped.metadata
    assert meta["recipe"] == TopQCDRecipe().to_dict() | {"alpha_weights": list(TopQCDRecipe().alpha_weights),
                                                        "seeds": list(TopQCDRecipe().seeds),
                                                        "beta_hat_variants_GeV": list(TopQCDRecipe().beta_hat_variants_GeV),
                                                        "mass_window_GeV": list(TopQCDRecipe().mass_window_GeV)}
    # the read-out stage's numbers are recomputed from the files on the same held-out jets
    particles, mask, labels, _ = topqcd_jets(TopQCDRecipe(), meta["recipe"]["n_eval_per_class"],
                                             meta["recipe"]["eval_seed"])
    result = cat.unsupervised_score(shipped.model(), particles, mask)
    stage = meta["readout_stage"]
    assert result.orientation == meta["main"]["metrics"]["orientation"][stage]
    assert roc_auc(result.score, labels) == pytest.approx(meta["main"]["metrics"]["auc"][stage], abs=1e-9)
    assert result.kl_bern_per_unit.tolist() == pytest.approx(meta["main"]["metrics"]["kl_bern_per_unit"][stage],
                                                             rel=1e-5)
