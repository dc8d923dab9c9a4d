"""Jet generation throughput: accepted jets per second and the share of time outside Pythia.

Compares, on one core and the same seeds, two ways to make the same jets:

* ``jetgeom_lite``: what ``generate_jets`` runs. Event-level anti-kT clustering happens in C++
  (Pythia's SlowJet with FastJet's core, fjcore); Python touches only the constituents of jets
  that pass the cuts.
* ``naive loop``: the textbook way: loop in Python over every particle of every event, build
  ``fastjet.PseudoJet`` objects, cluster with the ``fastjet`` package, then cut.

"Inside Pythia" is Pythia's own work: constructing and initialising the generator and
``Pythia.next()``. Everything else (clustering, cuts, truth matching, copying particles) is
outside.

    python benchmarks/generation.py            # 300 jets per process, about a minute
    python benchmarks/generation.py --jets 1000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from jetgeom_lite import data


def naive_chunk(process: str, n_jets: int, seed: int) -> dict:
    """Generate jets with a Python loop over all particles and per-event FastJet clustering."""
    import fastjet
    import pythia8mc

    start = time.perf_counter()
    pythia = pythia8mc.Pythia("", False)
    for line in data.pythia_settings(process, seed=seed):
        pythia.readString(line)
    pythia.init()
    inside = time.perf_counter() - start
    definition = fastjet.JetDefinition(fastjet.antikt_algorithm, 0.8)
    match_id = data._MATCH_PDG_ID.get(process)
    accepted, masses = 0, []
    with data._quiet_stdout():
        while accepted < n_jets:
            start = time.perf_counter()
            ok = pythia.next()
            inside += time.perf_counter() - start
            if not ok:
                continue
            event = pythia.event
            visible = [fastjet.PseudoJet(p.px(), p.py(), p.pz(), p.e()) for p in event if p.isFinal() and p.isVisible()]
            jets = fastjet.sorted_by_pt(definition(visible))
            if not jets or not (500 < jets[0].pt() < 600) or abs(jets[0].eta()) >= 2.0:
                continue
            if match_id is not None and not data._is_matched(event, match_id, jets[0].rap(), jets[0].phi_std()):
                continue
            _ = np.array([(c.pt(), c.rap(), c.phi_std()) for c in jets[0].constituents()])
            masses.append(jets[0].m())
            accepted += 1
    return {"seconds_in_pythia": inside, "mass": np.array(masses)}


def measure(function, *args) -> tuple[float, dict]:
    start = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jets", type=int, default=300, help="accepted jets per process and method")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    # warm the imports and shared libraries so neither method pays for them
    data._generate_chunk("QCD", 2, 99, (500.0, 600.0), 0.8, 2.0, False)
    naive_chunk("QCD", 2, 99)

    print(f"{args.jets} accepted jets per process, one core, MPI off, 500-600 GeV, anti-kT R = 0.8\n")
    header = (f"{'process':8s} {'method':14s} {'jets/s':>8s} {'outside Pythia':>15s} "
              f"{'median mass [GeV]':>18s}")
    print(header)
    print("-" * len(header))
    for process in ("W", "top", "QCD"):
        seed = data._chunk_seed(args.seed, 0)
        fast_time, fast = measure(data._generate_chunk, process, args.jets, seed, (500.0, 600.0), 0.8, 2.0, False)
        slow_time, slow = measure(naive_chunk, process, args.jets, seed)
        for name, seconds, result in (("jetgeom_lite", fast_time, fast), ("naive loop", slow_time, slow)):
            share = 1 - result["seconds_in_pythia"] / seconds
            print(f"{process:8s} {name:14s} {args.jets / seconds:8.0f} {share:14.0%} "
                  f"{np.median(result['mass']):18.1f}")
        print(f"{'':8s} {'speed-up':14s} {slow_time / fast_time:8.2f}x")


if __name__ == "__main__":
    main()
