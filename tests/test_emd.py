"""Tests for jetgeom_lite.emd: exact EMD, pairwise EMD (serial, loky, Dask) and the correlation dimension."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import ot
import pytest

from jetgeom_lite.emd import CorrelationDimension, correlation_dimension, emd, pairwise_emd


def two_prong_jet(rng: np.random.Generator, n_particles: int | None = None, centre: tuple[float, float] = (0.0, 0.0),
                  pt_total: float = 550.0) -> np.ndarray:
    """A jet-like particle cloud: two hard prongs, collinear spray around each, a soft halo.

    Not physics (the tests need no generator), but with the features that make EMD problems
    realistic: a few hard particles, many soft ones, prongs at a random angle and spread.
    """
    n = n_particles or int(rng.integers(15, 45))
    prong_angle = rng.uniform(0, 2 * math.pi)
    separation = rng.uniform(0.1, 0.4)
    share = rng.uniform(0.2, 0.5)
    prong = rng.random(n) < 0.5
    offset = 0.5 * separation * np.stack([np.cos(prong_angle), np.sin(prong_angle)])
    position = np.where(prong[:, None], offset, -offset) + rng.normal(0, 0.04, (n, 2))
    halo = rng.random(n) < 0.2
    position[halo] = rng.normal(0, 0.3, (halo.sum(), 2))
    pt = rng.exponential(1.0, n) * np.where(prong, share, 1 - share) * np.where(halo, 0.1, 1.0)
    pt *= pt_total / pt.sum()
    return np.column_stack([pt, position[:, 0] + centre[0], position[:, 1] + centre[1]])


def direct_pot_emd(a: np.ndarray, b: np.ndarray, R: float = 0.8, beta: float = 1.0, norm: bool = False) -> float:
    """EMD written out the plain way: explicit extra particle, then ot.emd2."""
    a, b = a[a[:, 0] > 0], b[b[:, 0] > 0]
    pa, pb = a[:, 0].copy(), b[:, 0].copy()
    if norm:
        pa, pb = pa / pa.sum(), pb / pb.sum()
    dphi = np.angle(np.exp(1j * (a[:, None, 2] - b[None, :, 2])))
    cost = (np.hypot(a[:, None, 1] - b[None, :, 1], dphi) / R) ** beta
    difference = pb.sum() - pa.sum()
    if difference > 0:
        pa, cost = np.append(pa, difference), np.vstack([cost, np.ones(len(pb))])
    elif difference < 0:
        pb, cost = np.append(pb, -difference), np.hstack([cost, np.ones((len(pa), 1))])
    return float(ot.emd2(pa, pb, np.ascontiguousarray(cost), numItermax=1_000_000))


@pytest.fixture(scope="module")
def sample() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [two_prong_jet(rng, centre=tuple(rng.normal(0, 0.05, 2)), pt_total=rng.uniform(500, 600))
            for _ in range(24)]


# ---------------------------------------------------------------------------- hand-computable cases


@pytest.mark.parametrize("shift", [(0.3, 0.0), (0.0, 0.3), (0.18, -0.24)])
@pytest.mark.parametrize("R", [0.4, 0.8, 1.0])
def test_one_particle_moved_costs_pt_times_distance_over_R(shift, R):
    a = np.array([[120.0, 0.1, 0.2]])
    b = np.array([[120.0, 0.1 + shift[0], 0.2 + shift[1]]])
    assert emd(a, b, R=R) == pytest.approx(120.0 * math.hypot(*shift) / R, rel=1e-12)


def test_beta_raises_the_angle_to_a_power():
    a, b = np.array([[10.0, 0.0, 0.0]]), np.array([[10.0, 0.4, 0.0]])
    assert emd(a, b, R=0.8, beta=2.0) == pytest.approx(10.0 * 0.5 ** 2, rel=1e-12)
    assert emd(a, b, R=0.8, beta=0.5) == pytest.approx(10.0 * 0.5 ** 0.5, rel=1e-12)


def test_unequal_totals_add_the_energy_difference():
    a = np.array([[100.0, 0.0, 0.0]])
    assert emd(a, np.array([[60.0, 0.0, 0.0]])) == pytest.approx(40.0, rel=1e-12)
    # 60 GeV moves 0.4 / 0.8, the other 40 GeV is unmatched: 30 + 40
    assert emd(a, np.array([[60.0, 0.0, 0.4]])) == pytest.approx(70.0, rel=1e-12)
    # normalised, the same pair only moves
    assert emd(a, np.array([[60.0, 0.0, 0.4]]), norm=True) == pytest.approx(0.5, rel=1e-12)


def test_two_particles_split_between_two_targets():
    a = np.array([[30.0, 0.0, 0.0], [10.0, 0.0, 0.8]])
    b = np.array([[20.0, 0.0, 0.0], [20.0, 0.0, 0.8]])
    # 20 stays, 10 moves by R from 0 to 0.8
    assert emd(a, b, R=0.8) == pytest.approx(10.0, rel=1e-12)


def test_phi_is_taken_the_shorter_way_round():
    a = np.array([[50.0, 0.0, math.pi - 0.1]])
    b = np.array([[50.0, 0.0, -math.pi + 0.1]])
    assert emd(a, b, R=0.8) == pytest.approx(50.0 * 0.2 / 0.8, rel=1e-9)
    # angles outside [-pi, pi) describe the same directions
    c = np.array([[50.0, 0.0, 0.1 + 2 * math.pi]])
    assert emd(c, np.array([[50.0, 0.0, 0.1]])) == pytest.approx(0.0, abs=1e-9)
    jet = two_prong_jet(np.random.default_rng(3), centre=(0.0, math.pi - 0.05))
    wrapped = jet.copy()
    wrapped[:, 2] = np.angle(np.exp(1j * wrapped[:, 2]))
    assert np.any(wrapped[:, 2] < 0) and np.any(wrapped[:, 2] > 0)  # the jet straddles phi = pi
    other = two_prong_jet(np.random.default_rng(4), centre=(0.0, -math.pi + 0.05))
    assert emd(jet, other) == pytest.approx(emd(wrapped, other), rel=1e-12)
    assert emd(jet, other) == pytest.approx(direct_pot_emd(jet, other), rel=1e-12)


# ---------------------------------------------------------------------------- reference solvers


@pytest.mark.parametrize("norm", [False, True])
@pytest.mark.parametrize("R, beta", [(0.8, 1.0), (0.4, 1.0), (1.0, 0.5), (0.8, 2.0)])
def test_agrees_with_a_direct_ot_emd2_solve(sample, norm, R, beta):
    for a, b in zip(sample[:6], sample[6:12]):
        assert emd(a, b, R=R, beta=beta, norm=norm) == pytest.approx(direct_pot_emd(a, b, R, beta, norm), rel=1e-12)


def test_agrees_with_energyflow(sample):
    energyflow = pytest.importorskip("energyflow")
    for norm in (False, True):
        for a, b in zip(sample[:5], sample[5:10]):
            reference = energyflow.emd.emd(a, b, R=0.8, norm=norm, periodic_phi=True)
            assert emd(a, b, R=0.8, norm=norm) == pytest.approx(reference, rel=1e-9)


def test_flow_is_an_optimal_transport_plan(sample):
    a, b = sample[0], sample[1]
    padded = np.vstack([a, np.zeros((5, 3))])
    value, flow = emd(padded, b, R=0.8, return_plan=True)
    assert flow.shape == (len(padded), len(b))
    assert np.all(flow >= 0) and np.all(flow[len(a):] == 0)
    assert np.all(flow.sum(axis=1)[: len(a)] <= a[:, 0] + 1e-9)
    assert np.all(flow.sum(axis=0) <= b[:, 0] + 1e-9)
    assert flow.sum() == pytest.approx(min(a[:, 0].sum(), b[:, 0].sum()), rel=1e-12)
    dphi = np.angle(np.exp(1j * (a[:, None, 2] - b[None, :, 2])))
    theta = np.hypot(a[:, None, 1] - b[None, :, 1], dphi)
    moved = (flow[: len(a)] * theta / 0.8).sum()
    assert value == pytest.approx(moved + abs(a[:, 0].sum() - b[:, 0].sum()), rel=1e-12)


def test_padding_rows_are_ignored(sample):
    a, b = sample[2], sample[3]
    padded = np.vstack([a, np.zeros((7, 3))])
    assert emd(padded, b) == pytest.approx(emd(a, b), rel=1e-14)


# ---------------------------------------------------------------------------- metric properties


def test_symmetric_and_zero_on_itself(sample):
    for a, b in zip(sample[:8], sample[8:16]):
        assert emd(a, b) == pytest.approx(emd(b, a), rel=1e-12)
        assert emd(a, a) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("norm", [False, True])
def test_triangle_inequality_on_a_sample(sample, norm):
    distances = pairwise_emd(sample, norm=norm, n_jobs=1, progress=False)
    # d(i, k) <= d(i, j) + d(j, k) for every triple, vectorised
    through = distances[:, :, None] + distances[None, :, :]
    slack = through - distances[:, None, :]
    assert slack.min() >= -1e-9 * distances.max()


# ---------------------------------------------------------------------------- all pairs


def test_pairwise_matches_single_pairs_and_input_forms(sample):
    distances = pairwise_emd(sample, R=0.8, n_jobs=1, progress=False)
    n = len(sample)
    assert distances.shape == (n, n)
    assert np.array_equal(distances, distances.T) and np.all(np.diag(distances) == 0)
    for i, j in [(0, 1), (3, 17), (22, 23), (5, 9)]:
        assert distances[i, j] == pytest.approx(emd(sample[i], sample[j]), rel=1e-12)
    width = max(len(jet) for jet in sample)
    padded = np.zeros((n, width, 3))
    mask = np.zeros((n, width), dtype=bool)
    for k, jet in enumerate(sample):
        padded[k, : len(jet)], mask[k, : len(jet)] = jet, True
    jets_like = SimpleNamespace(particles=padded, mask=mask)
    np.testing.assert_allclose(pairwise_emd(jets_like, n_jobs=1, progress=False), distances, rtol=1e-13)
    np.testing.assert_allclose(pairwise_emd(padded, n_jobs=1, progress=False), distances, rtol=1e-13)


def test_pairwise_between_two_samples(sample):
    left, right = sample[:5], sample[5:12]
    distances = pairwise_emd(left, right, norm=True, beta=0.5, n_jobs=1, progress=False)
    assert distances.shape == (5, 7)
    expected = [[emd(a, b, norm=True, beta=0.5) for b in right] for a in left]
    np.testing.assert_allclose(distances, expected, rtol=1e-12)


@pytest.fixture(scope="module")
def larger_sample() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    return [two_prong_jet(rng, n_particles=int(rng.integers(5, 15))) for _ in range(110)]


def test_pairwise_in_worker_processes_gives_the_same_numbers(larger_sample):
    serial = pairwise_emd(larger_sample, n_jobs=1, progress=False)
    parallel = pairwise_emd(larger_sample, n_jobs=2, progress=False)
    assert np.array_equal(serial, parallel)


def test_pairwise_on_a_dask_cluster_gives_the_same_numbers(larger_sample):
    distributed = pytest.importorskip("dask.distributed")
    import joblib

    serial = pairwise_emd(larger_sample, larger_sample[:40], n_jobs=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's notes about ports and thread pools
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster, distributed.Client(cluster) as client:
            with joblib.parallel_config(backend="dask"), distributed.get_task_stream(client) as stream:
                on_dask = pairwise_emd(larger_sample, larger_sample[:40], progress=False)
            # the blocks really ran as tasks on the cluster
            assert len(stream.data) >= 2
    assert np.array_equal(serial, on_dask)


def test_progress_bar_counts_every_pair(sample, capsys):
    pairwise_emd(sample[:6], n_jobs=1, progress=True)
    assert "15/15" in capsys.readouterr().err


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("jet, message", [
    (np.zeros((0, 3)), "empty"),
    (np.zeros((4, 3)), "empty"),
    (np.array([[1.0, np.nan, 0.0]]), "NaN"),
    (np.array([[np.inf, 0.0, 0.0]]), "inf"),
    (np.array([[1.0, 0.0, 0.0], [-0.5, 0.1, 0.1]]), "negative pT"),
    (np.ones((4, 2)), r"shape \(M, 3\)"),
    (np.ones(3), r"shape \(M, 3\)"),
    (np.ones((2, 4, 3)), "pairwise_emd"),
])
def test_bad_jets_are_refused_clearly(jet, message):
    good = np.array([[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=message):
        emd(jet, good)
    with pytest.raises(ValueError, match=message):
        emd(good, jet)


def test_wrong_types_are_refused():
    good = np.array([[1.0, 0.0, 0.0]])
    with pytest.raises(TypeError, match="jet_a"):
        emd("jet", good)
    with pytest.raises(TypeError, match="jet_b"):
        emd(good, [["a", "b", "c"]])
    with pytest.raises(TypeError, match="R must be"):
        emd(good, good, R="0.8")
    with pytest.raises(TypeError, match="Jets"):
        pairwise_emd({"jets": 1})


@pytest.mark.parametrize("R, beta", [(0.0, 1.0), (-0.8, 1.0), (math.nan, 1.0), (math.inf, 1.0), (0.8, 0.0),
                                     (0.8, -1.0)])
def test_non_positive_scales_are_refused(R, beta):
    good = np.array([[1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="positive"):
        emd(good, good, R=R, beta=beta)
    with pytest.raises(ValueError, match="positive"):
        pairwise_emd([good, good], R=R, beta=beta, progress=False)


def test_pairwise_names_the_bad_jet(sample):
    bad = sample[:4] + [np.array([[1.0, 0.0, np.nan]])]
    with pytest.raises(ValueError, match=r"jets\[4\].*NaN"):
        pairwise_emd(bad, progress=False)
    with pytest.raises(ValueError, match=r"others\[1\].*empty"):
        pairwise_emd(sample[:3], [sample[0], np.zeros((3, 3))], progress=False)
    with pytest.raises(ValueError, match="no jets"):
        pairwise_emd([], progress=False)
    with pytest.raises(ValueError, match="mask"):
        pairwise_emd(SimpleNamespace(particles=np.ones((3, 4, 3)), mask=np.ones((3, 5), bool)), progress=False)


# ---------------------------------------------------------------------------- correlation dimension
# The correlation dimension moved to jetgeom_lite.dimension (tests in test_dimension.py); the old
# import keeps working.


def test_correlation_dimension_is_still_importable_from_emd():
    import jetgeom_lite.dimension as dimension
    assert correlation_dimension is dimension.correlation_dimension
    assert CorrelationDimension is dimension.CorrelationDimension


# ---------------------------------------------------------------------------- one rule for arguments (issue 12)


def test_norm_and_return_plan_must_be_booleans():
    a, b = np.array([[100.0, 0.0, 0.0]]), np.array([[60.0, 0.0, 0.4]])
    with pytest.raises(TypeError, match="norm must be True or False, got str 'no'"):
        emd(a, b, norm="no")  # used to normalise, "no" being truthy
    with pytest.raises(TypeError, match="norm must be True or False"):
        pairwise_emd([a, b], norm="no", progress=False)
    with pytest.raises(TypeError, match="return_plan must be True or False"):
        emd(a, b, return_plan="yes")


def test_return_plan_is_the_one_name():
    a = np.array([[50.0, 0.0, 0.0], [50.0, 0.0, 0.4]])
    b = np.array([[100.0, 0.0, 0.2]])
    value, plan = emd(a, b, R=0.8, return_plan=True)
    assert value == pytest.approx(100 * 0.2 / 0.8)
    np.testing.assert_allclose(plan, [[50.0], [50.0]])
    with pytest.raises(TypeError, match="return_flow"):
        emd(a, b, R=0.8, return_flow=True)


def test_numpy_scalars_are_numbers_everywhere():
    a, b = np.array([[100.0, 0.0, 0.0]]), np.array([[100.0, 0.0, 0.4]])
    assert emd(a, b, R=np.float32(0.8), beta=np.float64(1.0)) == pytest.approx(50.0)
    assert pairwise_emd([a, b], R=np.float32(0.8), progress=False)[0, 1] == pytest.approx(50.0)
    with pytest.raises(TypeError, match="R must be a number"):
        emd(a, b, R="0.8")
    with pytest.raises(TypeError, match="R must be a number"):
        emd(a, b, R=True)


def test_n_jobs_is_checked_before_joblib_sees_it(sample):
    with pytest.raises(TypeError, match="n_jobs must be an integer number of worker processes"):
        pairwise_emd(sample[:3], n_jobs="two", progress=False)
    with pytest.raises(ValueError, match="n_jobs must not be 0"):
        pairwise_emd(sample[:3], n_jobs=0, progress=False)
    np.testing.assert_array_equal(pairwise_emd(sample[:3], n_jobs=None, progress=False),
                                  pairwise_emd(sample[:3], n_jobs=1, progress=False))


def test_masks_follow_the_one_rule_padding_is_never_read(sample):
    """With a mask, masked-out rows may hold anything (NaN); without one, zero-pT rows are padding."""
    a, b = sample[0], sample[1]
    junk = np.array([[np.nan, np.inf, 3.0], [-7.0, 0.0, 0.0]])
    padded_a = np.concatenate([a, junk])
    mask_a = np.r_[np.ones(len(a), bool), np.zeros(2, bool)]
    expected = emd(a, b, R=0.8)
    assert emd(padded_a, b, mask_a=mask_a, R=0.8) == pytest.approx(expected, rel=1e-12)
    value, plan = emd(padded_a, b, mask_a=mask_a, R=0.8, return_plan=True)
    assert plan.shape == (len(padded_a), len(b)) and np.all(plan[len(a):] == 0)
    with pytest.raises(ValueError, match="no mask says which rows are padding"):
        emd(padded_a, b, R=0.8)
    with pytest.raises(ValueError, match="mask of jet_a must have shape"):
        emd(padded_a, b, mask_a=mask_a[:-1], R=0.8)
    # the same rule for pairwise_emd on padded arrays
    width = max(len(a), len(b)) + 2
    batch = np.full((2, width, 3), np.nan)
    mask = np.zeros((2, width), bool)
    for k, jet in enumerate((a, b)):
        batch[k, :len(jet)], mask[k, :len(jet)] = jet, True
    distances = pairwise_emd(batch, mask=mask, R=0.8, progress=False)
    assert distances[0, 1] == pytest.approx(expected, rel=1e-12)
    cross = pairwise_emd(batch, batch, mask=mask, mask_others=mask, R=0.8, progress=False)
    assert cross[0, 1] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="mask_others was given without others"):
        pairwise_emd(batch, mask=mask, mask_others=mask, progress=False)


def test_worker_processes_import_pot_without_torch():
    """Issue 12: loky workers that import POT must not pull in torch (600 MB, seconds)."""
    import subprocess
    import sys

    script = (
        "import os, sys, joblib, numpy as np\n"
        "from jetgeom_lite.emd import pairwise_emd, _import_pot_without_backends\n"
        "rng = np.random.default_rng(0)\n"
        "jets = [np.c_[rng.exponential(1.0, 8), rng.normal(0, 0.2, (8, 2))] for _ in range(120)]\n"
        "pairwise_emd(jets, n_jobs=2, progress=False)\n"  # 7140 pairs: several tasks, in workers
        "def state(_):\n"
        "    return os.getpid(), 'ot' in sys.modules, 'torch' in sys.modules, 'geomloss' in sys.modules, "
        "os.environ.get('POT_BACKEND_DISABLE_PYTORCH')\n"
        "states = set(joblib.Parallel(n_jobs=2)(joblib.delayed(state)(k) for k in range(8)))\n"
        "print(sorted(states))\n"
        "assert all(s[0] != os.getpid() for s in states), 'no worker process ran'\n"
        "assert any(s[1] for s in states), 'no worker imported POT'\n"
        "assert not any(s[2] or s[3] for s in states), 'a worker imported torch or geomloss'\n"
        "assert all(s[4] is None for s in states), 'the environment switch leaked'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
