"""Tests of jetgeom_lite.data: real Pythia 8 jets, the cache, preprocessing and the readers."""

from __future__ import annotations

import json
import multiprocessing
import os
import zipfile

import numpy as np
import pytest

from jetgeom_lite import data
from jetgeom_lite.data import (CHUNK_SIZE, Jets, generate_jets, load_jets, preprocess, read_jetnet, read_qg_jets,
                               read_top_tagging)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """Small samples of each process, generated once for the module (about 10 s on one core)."""
    return {
        "W": generate_jets("W", 200, seed=11, progress=False),
        "top": generate_jets("top", 200, seed=11, progress=False),
        "QCD": generate_jets("QCD", 300, seed=11, progress=False),
    }


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JETGEOM_DATA", str(tmp_path))
    return tmp_path


# ---------------------------------------------------------------------------------------------
# Physics on small samples
# ---------------------------------------------------------------------------------------------


def test_w_jet_mass_peaks_at_the_w_mass(samples):
    assert 70 < np.median(samples["W"].mass) < 90


def test_top_jet_mass_has_a_peak_at_the_top_mass(samples):
    counts, edges = np.histogram(samples["top"].mass, bins=np.arange(0, 300, 10))
    peak = 0.5 * (edges[counts.argmax()] + edges[counts.argmax() + 1])
    assert 160 <= peak <= 185


def test_qcd_jets_are_lighter(samples):
    assert np.median(samples["QCD"].mass) < 70
    assert np.median(samples["QCD"].mass) < np.median(samples["W"].mass)


@pytest.mark.parametrize("process", ["W", "top", "QCD"])
def test_jets_pass_the_cuts_and_the_arrays_are_consistent(samples, process):
    jets = samples[process]
    assert jets.particles.shape[0] == len(jets) and jets.particles.shape[2] == 3
    assert np.all((jets.pt > 500) & (jets.pt < 600))
    # the jet's own pT from its constituents agrees with the stored jet pT (massive vs massless)
    pt, y, phi = (jets.particles[..., k] for k in range(3))
    px, py = (pt * np.cos(phi) * jets.mask).sum(1), (pt * np.sin(phi) * jets.mask).sum(1)
    np.testing.assert_allclose(np.hypot(px, py), jets.pt, rtol=1e-3)
    # padding is zero, particles sorted by pT, particles within R of the axis (anti-kT jets are
    # cones but for merged hard prongs, which can reach a little past R)
    assert np.all(jets.particles[~jets.mask] == 0)
    assert np.all(np.diff(np.where(jets.mask, pt, -1), axis=1) <= 0)
    dphi = (phi - jets.phi[:, None] + np.pi) % (2 * np.pi) - np.pi
    distance = np.hypot(y - jets.y[:, None], dphi)[jets.mask]
    assert np.quantile(distance, 0.99) < 0.8 and distance.max() < 1.6
    assert jets.settings["process"] == process and jets.settings["seed"] == 11


def test_multiplicities_are_ordered_w_qcd_top(samples):
    w, qcd, top = (np.median(samples[p].multiplicity) for p in ("W", "QCD", "top"))
    assert w < qcd < top


def test_slowjet_leading_jet_equals_fastjet_clustering():
    """The C++ jet finder used for speed gives FastJet's anti-kT jets exactly."""
    import fastjet
    import pythia8mc

    pythia = pythia8mc.Pythia("", False)
    for line in data.pythia_settings("QCD", seed=5):
        pythia.readString(line)
    pythia.init()
    slow_jet = pythia8mc.SlowJet(-1, 0.8, 400.0, 25.0, 2, 2)
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, 0.8)
    compared = 0
    with data._quiet_stdout():
        for _ in range(25):
            pythia.next()
            event = pythia.event
            slow_jet.analyze(event)
            visible = [fastjet.PseudoJet(p.px(), p.py(), p.pz(), p.e()) for p in event if p.isFinal() and p.isVisible()]
            jets = fastjet.sorted_by_pt(definition(visible))
            if slow_jet.sizeJet() == 0 or jets[0].pt() < 400:
                continue
            compared += 1
            assert slow_jet.pT(0) == pytest.approx(jets[0].pt(), rel=1e-9)
            assert slow_jet.m(0) == pytest.approx(jets[0].m(), rel=1e-6, abs=1e-6)
            assert len(slow_jet.constituents(0)) == len(jets[0].constituents())
    assert compared > 5


def test_no_banner_reaches_the_output():
    """In a fresh process (the banners print once per process) nothing but our line is printed."""
    import subprocess
    import sys

    script = ("from jetgeom_lite.data import generate_jets, preprocess\n"
              "from jetgeom_lite.observables import nsubjettiness\n"
              "jets = generate_jets('W', 5, seed=2, progress=False)\n"
              "nsubjettiness(preprocess(jets, recluster_R=0.07))\n"
              "print('done')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "done", result.stdout
    assert "FastJet" not in result.stderr and "PYTHIA" not in result.stderr


# ---------------------------------------------------------------------------------------------
# Determinism and parallel workers
# ---------------------------------------------------------------------------------------------


def test_same_seed_same_jets_whatever_n_jobs():
    serial = generate_jets("QCD", CHUNK_SIZE + 20, seed=4, n_jobs=1, progress=False)
    parallel = generate_jets("QCD", CHUNK_SIZE + 20, seed=4, n_jobs=2, progress=False)
    np.testing.assert_array_equal(serial.particles, parallel.particles)
    np.testing.assert_array_equal(serial.mass, parallel.mass)


def test_different_seeds_give_different_jets():
    a = generate_jets("QCD", 10, seed=1, progress=False)
    b = generate_jets("QCD", 10, seed=2, progress=False)
    assert not np.array_equal(a.pt, b.pt)


# ---------------------------------------------------------------------------------------------
# The cache
# ---------------------------------------------------------------------------------------------


def _cache_file(folder):
    files = [f for f in os.listdir(folder) if f.endswith(".npz")]
    assert len(files) == 1, files
    return folder / files[0]


def test_cache_is_reused_and_extended(cache, monkeypatch):
    first = load_jets("QCD", 30, seed=3, n_jobs=1, progress=False)
    fewer = load_jets("QCD", 10, seed=3, n_jobs=1, progress=False)
    np.testing.assert_array_equal(fewer.pt, first.pt[:10])

    more = load_jets("QCD", CHUNK_SIZE + 30, seed=3, n_jobs=1, progress=False)
    np.testing.assert_array_equal(more.pt[:30], first.pt)
    assert len(more) == CHUNK_SIZE + 30

    def no_generation(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(data, "_run_chunks", no_generation)
    again = load_jets("QCD", CHUNK_SIZE + 30, seed=3, progress=False)
    np.testing.assert_array_equal(again.particles, more.particles)
    assert again.settings["pythia_version"] and again.settings["n_events"] >= CHUNK_SIZE + 30


def test_cache_file_carries_settings_versions_and_checksum(cache):
    load_jets("W", 10, seed=5, n_jobs=1, progress=False)
    with np.load(_cache_file(cache)) as archive:
        metadata = json.loads(str(archive["metadata"]))
    assert metadata["settings"]["process"] == "W"
    assert metadata["settings"]["pythia_version"].startswith("8.")
    assert len(metadata["checksum"]) == 64
    assert not [f for f in os.listdir(cache) if f.endswith(".tmp")]


def test_truncated_cache_is_reported_and_regenerated(cache):
    original = load_jets("QCD", 20, seed=6, n_jobs=1, progress=False)
    path = _cache_file(cache)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.warns(RuntimeWarning, match="cannot be read"):
        again = load_jets("QCD", 20, seed=6, n_jobs=1, progress=False)
    np.testing.assert_array_equal(again.particles, original.particles)
    load_jets("QCD", 20, seed=6, n_jobs=1, progress=False)  # and it is healthy again: no warning


def test_tampered_cache_fails_its_checksum(cache):
    load_jets("QCD", 20, seed=7, n_jobs=1, progress=False)
    path = _cache_file(cache)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["mass"] = arrays["mass"] + 1.0
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    with pytest.warns(RuntimeWarning, match="checksum"):
        again = load_jets("QCD", 20, seed=7, n_jobs=1, progress=False)
    np.testing.assert_array_equal(again.mass, arrays["mass"][:20] - 1.0)


def test_cache_made_with_other_settings_is_detected(cache):
    load_jets("QCD", 20, seed=8, n_jobs=1, progress=False)
    path = _cache_file(cache)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    metadata = json.loads(str(arrays["metadata"]))
    metadata["settings"]["mpi"] = True
    arrays["metadata"] = np.array(json.dumps(metadata))
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    with pytest.warns(RuntimeWarning, match="other settings"):
        load_jets("QCD", 20, seed=8, n_jobs=1, progress=False)


def test_garbage_cache_file_is_detected(cache):
    load_jets("QCD", 5, seed=9, n_jobs=1, progress=False)
    _cache_file(cache).write_bytes(b"not a numpy archive")
    with pytest.warns(RuntimeWarning, match="cannot be read"):
        load_jets("QCD", 5, seed=9, n_jobs=1, progress=False)


def test_a_failed_write_leaves_no_file_behind(cache, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", broken)
    with pytest.raises(OSError, match="disk full"):
        load_jets("QCD", 5, seed=10, n_jobs=1, progress=False)
    assert [f for f in os.listdir(cache) if not f.endswith(".lock")] == []


def _load_in_process(folder: str, queue) -> None:
    os.environ["JETGEOM_DATA"] = folder
    jets = load_jets("QCD", 40, seed=12, n_jobs=1, progress=False)
    queue.put(jets.particles.sum())


def test_two_processes_asking_at_once_share_one_good_file(cache):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_load_in_process, args=(str(cache), queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=300)
        assert worker.exitcode == 0
    sums = [queue.get(timeout=5), queue.get(timeout=5)]
    assert sums[0] == sums[1]
    with zipfile.ZipFile(_cache_file(cache)) as archive:
        assert archive.testzip() is None
    assert not [f for f in os.listdir(cache) if f.endswith(".tmp")]


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"process": "Z"}, "unknown process"),
    ({"process": "w"}, "Did you mean 'W'"),
    ({"n": 0}, "n must be an integer >= 1"),
    ({"n": -5}, "n must be an integer >= 1"),
    ({"pt_range": (600, 500)}, "low < high"),
    ({"pt_range": (20, 40)}, "outside what these generator settings make"),
    ({"pt_range": (5000, 7000)}, "outside what these generator settings make"),
    ({"pt_range": "high"}, "two numbers"),
    ({"R": 0.0}, "radius R"),
    ({"R": -0.4}, "radius R"),
    ({"eta_max": 0}, "eta_max"),
])
def test_bad_generation_settings_are_refused(kwargs, message):
    arguments = {"process": "W", "n": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_jets(arguments.pop("process"), arguments.pop("n"), progress=False, **arguments)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"n": 2.5}, TypeError, "n must be an integer"),
    ({"n": True}, TypeError, "n must be an integer"),
    ({"n_jobs": "two"}, TypeError, "n_jobs must be an integer"),
    ({"n_jobs": 0}, ValueError, "n_jobs must not be 0"),
    ({"R": "0.8"}, TypeError, "jet radius R must be a number"),
])
def test_bad_generation_types_are_refused(kwargs, error, message):
    arguments = {"process": "W", "n": 10, **kwargs}
    with pytest.raises(error, match=message):
        generate_jets(arguments.pop("process"), arguments.pop("n"), progress=False, **arguments)


def test_unwritable_cache_folder_says_how_to_fix_it(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("JETGEOM_DATA", str(blocker / "jets"))
    with pytest.raises(OSError, match="JETGEOM_DATA"):
        load_jets("W", 10, progress=False)


# ---------------------------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------------------------


def test_preprocess_centres_normalises_and_keeps_orientation(samples):
    raw = samples["W"]
    done = preprocess(raw, center=True, normalize=True)
    z, y, phi = (done.particles[..., k] for k in range(3))
    np.testing.assert_allclose(z.sum(axis=1), 1.0)
    np.testing.assert_allclose((z * y).sum(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose((z * phi).sum(axis=1), 0.0, atol=1e-12)
    # a shift, never a rotation: differences between the two hardest particles are unchanged
    raw_dphi = (raw.particles[:, 1, 2] - raw.particles[:, 0, 2] + np.pi) % (2 * np.pi) - np.pi
    np.testing.assert_allclose(done.particles[:, 1, 1] - done.particles[:, 0, 1],
                               raw.particles[:, 1, 1] - raw.particles[:, 0, 1], atol=1e-12)
    np.testing.assert_allclose(done.particles[:, 1, 2] - done.particles[:, 0, 2], raw_dphi, atol=1e-12)
    np.testing.assert_array_equal(done.mass, raw.mass)
    assert done.settings["preprocessing"]["center"] is True


def test_centring_wraps_phi_for_jets_across_the_boundary():
    particles = np.array([[[100.0, 0.1, np.pi - 0.05], [50.0, -0.1, -np.pi + 0.05]]])
    jets = Jets(particles, np.ones((1, 2), bool), [150.0], [0.0], [np.pi], [10.0], "toy")
    done = preprocess(jets)
    assert np.all(np.abs(done.particles[0, :, 2]) < 0.1)


def test_micro_jets_merge_particles_and_keep_momentum(samples):
    raw = samples["top"]
    micro = preprocess(raw, center=False, normalize=False, recluster_R=0.07)
    assert np.all(micro.multiplicity <= raw.multiplicity)
    assert np.median(micro.multiplicity) < 0.8 * np.median(raw.multiplicity)

    def vector_sum(jets):
        pt, phi = jets.particles[..., 0] * jets.mask, jets.particles[..., 2]
        return (pt * np.cos(phi)).sum(1), (pt * np.sin(phi)).sum(1)

    for before, after in zip(vector_sum(raw), vector_sum(micro)):
        np.testing.assert_allclose(after, before, rtol=1e-9, atol=1e-6)


def test_keep_the_hardest_particles(samples):
    done = preprocess(samples["top"], recluster_R=0.07, max_particles=50)
    assert done.particles.shape[1] == 50
    np.testing.assert_allclose(done.particles[..., 0].sum(1), 1.0)


@pytest.mark.parametrize("change, message", [
    (lambda p: p.__setitem__((0, 0, 0), np.nan), "NaN"),
    (lambda p: p.__setitem__((0, 0, 0), -1.0), "negative pT"),
])
def test_preprocess_refuses_bad_particles(samples, change, message):
    particles = samples["W"].particles[:3].copy()
    change(particles)
    jets = Jets(particles, samples["W"].mask[:3], *(getattr(samples["W"], a)[:3] for a in ("pt", "y", "phi", "mass")), "W")
    with pytest.raises(ValueError, match=message):
        preprocess(jets)


def test_preprocess_refuses_empty_jets_and_double_use(samples):
    w = samples["W"][:3]
    empty = Jets(w.particles, np.zeros_like(w.mask), w.pt, w.y, w.phi, w.mass, "W")
    with pytest.raises(ValueError, match="without any real particle"):
        preprocess(empty)
    with pytest.raises(ValueError, match="already preprocessed"):
        preprocess(preprocess(w))
    with pytest.raises(ValueError, match="recluster_R"):
        preprocess(w, recluster_R=-0.1)
    with pytest.raises(ValueError, match="max_particles"):
        preprocess(w, max_particles=0)
    with pytest.raises(TypeError, match="Jets"):
        preprocess(w.particles)


def test_jets_container_checks_shapes():
    with pytest.raises(ValueError, match=r"\(n_jets, M, 3\)"):
        Jets(np.zeros((2, 5)), np.zeros((2, 5), bool), [1, 1], [0, 0], [0, 0], [1, 1], "x")
    with pytest.raises(ValueError, match="mask"):
        Jets(np.zeros((2, 5, 3)), np.zeros((2, 4), bool), [1, 1], [0, 0], [0, 0], [1, 1], "x")
    with pytest.raises(ValueError, match="pt must have shape"):
        Jets(np.zeros((2, 5, 3)), np.zeros((2, 5), bool), [1], [0, 0], [0, 0], [1, 1], "x")


def test_indexing_and_constituents(samples):
    w = samples["W"]
    assert len(w[:5]) == 5 and len(w[3]) == 1
    assert len(w[w.mass > 80]) == int((w.mass > 80).sum())
    lists = w[:4].constituents()
    assert [len(c) for c in lists] == list(w.multiplicity[:4])


# ---------------------------------------------------------------------------------------------
# Readers of public data sets (files written here in their published layouts)
# ---------------------------------------------------------------------------------------------


def test_read_qg_jets(tmp_path):
    rng = np.random.default_rng(0)
    features = np.zeros((4, 6, 4))
    for k, count in enumerate([6, 3, 5, 2]):
        features[k, :count, 0] = np.sort(rng.uniform(1, 100, count))[::-1]
        features[k, :count, 1] = rng.normal(0, 0.2, count)
        features[k, :count, 2] = rng.uniform(0, 2 * np.pi, count)
        features[k, :count, 3] = 211
    path = tmp_path / "QG_jets.npz"
    np.savez_compressed(path, X=features, y=np.array([1, 0, 1, 0]))
    jets = read_qg_jets(path, n=3)
    assert len(jets) == 3 and list(jets.labels) == [1, 0, 1]
    np.testing.assert_array_equal(jets.multiplicity, [6, 3, 5])
    assert np.all(jets.particles[..., 2] >= -np.pi) and np.all(jets.particles[..., 2] < np.pi)
    np.testing.assert_allclose(np.cos(jets.particles[0, :, 2]), np.cos(features[0, :, 2]))


def test_read_top_tagging_pandas_fixed_layout(tmp_path):
    import h5py

    n, m = 3, 200
    rng = np.random.default_rng(1)
    columns, values = [], []
    momenta = np.zeros((n, m, 4))
    for i in range(m):
        for c in ("E", "PX", "PY", "PZ"):
            columns.append(f"{c}_{i}")
    pt = rng.uniform(10, 100, (n, 4))
    phi, eta = rng.uniform(-np.pi, np.pi, (n, 4)), rng.normal(0, 0.3, (n, 4))
    momenta[:, :4] = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)
    block0 = momenta.reshape(n, m * 4).astype(np.float32)
    with h5py.File(tmp_path / "test.h5", "w") as handle:
        group = handle.create_group("table")
        group["axis0"] = np.array([c.encode() for c in columns + ["ttv", "is_signal_new"]])
        group["axis1"] = np.arange(n)
        group["block0_items"] = np.array([c.encode() for c in columns])
        group["block0_values"] = block0
        group["block1_items"] = np.array([b"ttv", b"is_signal_new"])
        group["block1_values"] = np.array([[0, 1], [0, 0], [1, 1]], dtype=np.int64)
    jets = read_top_tagging(tmp_path / "test.h5")
    assert list(jets.labels) == [1, 0, 1]
    np.testing.assert_array_equal(jets.multiplicity, [4, 4, 4])
    np.testing.assert_allclose(np.sort(jets.particles[:, :4, 0], axis=1), np.sort(pt, axis=1), rtol=1e-5)
    with pytest.raises(ValueError, match="table"):
        with h5py.File(tmp_path / "empty.h5", "w"):
            pass
        read_top_tagging(tmp_path / "empty.h5")


def test_read_jetnet_arrays_and_file(tmp_path):
    import h5py

    features = np.zeros((2, 30, 4))
    features[0, :3] = [[0.1, 0.0, 0.5, 1], [-0.1, 0.05, 0.3, 1], [0.0, -0.1, 0.2, 1]]
    features[1, :2] = [[0.0, 0.0, 0.9, 1], [0.2, 0.2, 0.1, 1]]
    jet = np.array([[1, 1000.0, 0.5, 90.0, 3], [0, 800.0, -1.0, 40.0, 2]])
    jets = read_jetnet(features, jet)
    np.testing.assert_allclose(jets.particles[0, 0], [500.0, 0.6, 0.0])
    np.testing.assert_array_equal(jets.multiplicity, [3, 2])
    assert list(jets.labels) == [1, 0]
    with h5py.File(tmp_path / "g.hdf5", "w") as handle:
        handle["particle_features"] = features
        handle["jet_features"] = jet
    np.testing.assert_allclose(read_jetnet(tmp_path / "g.hdf5").particles, jets.particles)
    with pytest.raises(ValueError, match=r"\(n, M, 4\)"):
        read_jetnet(features[..., :3])


def test_no_banner_reaches_a_notebook():
    """Jupyter forwards file descriptor 1 to the notebook: FastJet's banner must not get there."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    code = ("from jetgeom_lite.data import generate_jets, preprocess\n"
            "from jetgeom_lite.observables import nsubjettiness\n"
            "jets = generate_jets('W', 5, seed=2, n_jobs=1, progress=False)\n"
            "tau = nsubjettiness(preprocess(jets, recluster_R=0.07))\n"
            "print('done')")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3").execute()
    text = "".join(output.get("text", "") for output in notebook.cells[0].outputs)
    assert text.strip() == "done", text


# ---------------------------------------------------------------------------------------------
# Bad input to preprocess (issue 12) and the mass window (issue 8)
# ---------------------------------------------------------------------------------------------


def test_preprocess_ignores_nan_in_masked_padding(samples):
    w = samples["W"][:20]
    assert np.any(~w.mask[:, -1])  # some jets have padding
    dirty = w.particles.copy()
    dirty[~w.mask] = np.nan
    junk = Jets(dirty, w.mask, w.pt, w.y, w.phi, w.mass, "W", dict(w.settings))
    for options in ({}, {"recluster_R": 0.07, "max_particles": 50}):
        clean, done = preprocess(w, **options), preprocess(junk, **options)
        assert np.all(np.isfinite(done.particles))
        np.testing.assert_array_equal(done.particles, clean.particles)
        np.testing.assert_array_equal(done.mask, clean.mask)


def test_preprocess_refuses_a_jet_with_zero_total_pt(samples):
    w = samples["W"][:3]
    particles = w.particles.copy()
    particles[1, :, 0] = 0.0  # every real particle of jet 1 has pT = 0
    zero = Jets(particles, w.mask, w.pt, w.y, w.phi, w.mass, "W")
    with pytest.raises(ValueError, match=r"jets \[1\] have zero total pT.*remove them"):
        preprocess(zero, recluster_R=None)
    with pytest.raises(TypeError, match="center must be True or False"):
        preprocess(w, center="yes")
    with pytest.raises(TypeError, match="max_particles must be an integer"):
        preprocess(w, max_particles=50.0)


def test_select_mass_window_keeps_exactly_the_jets_inside(samples):
    w = samples["W"]
    selected = data.select_mass_window(w, (75, 110))
    inside = (w.mass > 75) & (w.mass < 110)
    assert len(selected) == inside.sum() and 0 < len(selected) < len(w)
    np.testing.assert_array_equal(selected.mass, w.mass[inside])
    np.testing.assert_array_equal(selected.particles, w.particles[inside])
    assert selected.settings["mass_range"] == [75.0, 110.0]
    with pytest.raises(ValueError, match="low < high"):
        data.select_mass_window(w, (110, 75))
    with pytest.raises(ValueError, match="two numbers"):
        data.select_mass_window(w, 75)


def test_load_jets_with_a_mass_window(cache, samples):
    """The first n jets of the same sample that lie in the window; cached without confusion."""
    windowed = load_jets("W", 100, seed=11, mass_range=(75, 110), progress=False)
    assert len(windowed) == 100
    assert np.all((windowed.mass > 75) & (windowed.mass < 110))
    assert windowed.settings["mass_range"] == [75.0, 110.0]
    # independent: the unwindowed jets of the same seed (generated without the cache), cut by hand
    reference = samples["W"]
    expected = reference[np.flatnonzero((reference.mass > 75) & (reference.mass < 110))[:100]]
    np.testing.assert_array_equal(windowed.mass, expected.mass)
    np.testing.assert_array_equal(windowed.particles[:, :expected.particles.shape[1]],
                                  expected.particles[:, :windowed.particles.shape[1]])
    # an unwindowed request after it is not served the windowed jets, and vice versa
    plain = load_jets("W", 200, seed=11, progress=False)
    np.testing.assert_array_equal(plain.mass, reference.mass)
    assert "mass_range" not in plain.settings and np.any((plain.mass <= 75) | (plain.mass >= 110))
    again = load_jets("W", 100, seed=11, mass_range=(75, 110), progress=False)
    np.testing.assert_array_equal(again.mass, windowed.mass)
    other = load_jets("W", 50, seed=11, mass_range=(65, 95), progress=False)
    assert np.all((other.mass > 65) & (other.mass < 95)) and other.settings["mass_range"] == [65.0, 95.0]
    assert len(list(cache.glob("W_*.npz"))) == 1  # one file of unselected jets serves every window


def test_load_jets_refuses_a_window_that_keeps_nothing(cache):
    with pytest.raises(ValueError, match="keeps 0 of .* in GeV"):
        load_jets("W", 10, seed=5, mass_range=(0.075, 0.110), progress=False)  # TeV by mistake
    with pytest.raises(ValueError, match="low < high"):
        load_jets("W", 10, seed=5, mass_range=(110, 75), progress=False)
