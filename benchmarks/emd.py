"""Exact and Sinkhorn EMD on real W jets, against the reference tools, in one run.

Prints two tables:

1. All-pairs exact EMD on raw W jets (pT in GeV, energyflow's convention, R = 0.8, phi
   periodic): pairs per second and values of ``jetgeom_lite.emd.pairwise_emd``, of
   ``energyflow.emd.emds`` and ``wasserstein.PairwiseEMDYPhi`` (where importable, or from a
   separate interpreter given by ``--reference-python``, since both need numpy < 2), and of a
   plain ``ot.emd2`` loop; with ratios and the largest relative difference of the values.
2. Sinkhorn on preprocessed W jets (anti-kT R = 0.07 micro-jets, at most 50, centred, pT
   fractions), pairs of different jets: pairs per second forward and forward+backward and the
   median / 95th-percentile relative error against the exact EMD, for several eps, beside
   POT's batch solver (``ot.solve_batch``) and geomloss (``SamplesLoss("sinkhorn")``: its
   value, and the transport cost of its plan).

Default run (about 2 minutes on 2 cores)::

    python benchmarks/emd.py --reference-python /tmp/efvenv/bin/python

where ``/tmp/efvenv`` is a virtual environment with ``"numpy<2" energyflow wasserstein`` (see
benchmarks/README.md). ``--n-jets 2000 --n-pairs 4096`` for a bigger run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

R = 0.8


# ---------------------------------------------------------------------------------------------
# Reference tools (this part also runs inside the numpy<2 interpreter, so it imports nothing else)
# ---------------------------------------------------------------------------------------------


def reference_timings(jets: list[np.ndarray], threads: int) -> dict:
    """energyflow.emd.emds and wasserstein.PairwiseEMDYPhi on the same jets: seconds and matrices."""
    results = {}
    try:
        import wasserstein
        pairwise = wasserstein.PairwiseEMDYPhi(R=R, beta=1.0, norm=False, num_threads=threads, print_every=0,
                                               verbose=0)
        start = time.perf_counter()
        pairwise(jets)
        seconds = time.perf_counter() - start
        results["wasserstein"] = (seconds, pairwise.emds(), f"wasserstein {wasserstein.__version__}")
    except ImportError:
        pass
    try:
        import energyflow
        start = time.perf_counter()
        matrix = energyflow.emd.emds(jets, R=R, norm=False, periodic_phi=True, n_jobs=threads, verbose=0)
        seconds = time.perf_counter() - start
        results["energyflow"] = (seconds, matrix, f"energyflow {energyflow.__version__}")
    except ImportError:
        pass
    return results


def reference_worker(input_path: str, output_path: str, threads: int) -> None:
    data = np.load(input_path)
    jets = [np.ascontiguousarray(data[f"jet{k}"]) for k in range(int(data["n"]))]
    results = reference_timings(jets, threads)
    np.savez(output_path, **{f"{name}_matrix": matrix for name, (_, matrix, _) in results.items()},
             info=json.dumps({name: (seconds, label) for name, (seconds, _, label) in results.items()}),
             numpy=np.__version__)


def references_elsewhere(python: str, jets: list[np.ndarray], threads: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        source, target = os.path.join(folder, "jets.npz"), os.path.join(folder, "out.npz")
        np.savez(source, n=len(jets), **{f"jet{k}": jet for k, jet in enumerate(jets)})
        subprocess.run([python, os.path.abspath(__file__), "--reference-worker", source, target, str(threads)],
                       check=True)
        data = np.load(target)
        info = json.loads(str(data["info"]))
        return {name: (seconds, data[f"{name}_matrix"], f"{label}, numpy {data['numpy']}")
                for name, (seconds, label) in info.items()}


# ---------------------------------------------------------------------------------------------
# Exact EMD table
# ---------------------------------------------------------------------------------------------


def plain_pot_loop(jets: list[np.ndarray], n_pairs: int) -> tuple[float, list[tuple[int, int, float]]]:
    """ot.emd2 per pair with the cost matrix built per pair, as a newcomer would write it."""
    import ot

    pairs = [(i, j) for j in range(len(jets)) for i in range(j)][:n_pairs]
    values = []
    start = time.perf_counter()
    for i, j in pairs:
        a, b = jets[i], jets[j]
        dphi = np.abs(a[:, None, 2] - b[None, :, 2])
        dphi = np.minimum(dphi, 2 * np.pi - dphi)
        cost = np.sqrt((a[:, None, 1] - b[None, :, 1]) ** 2 + dphi ** 2) / R
        weights_a, weights_b = a[:, 0].copy(), b[:, 0].copy()
        difference = weights_b.sum() - weights_a.sum()
        if difference > 0:
            weights_a, cost = np.append(weights_a, difference), np.vstack([cost, np.ones(len(b))])
        else:
            weights_b, cost = np.append(weights_b, -difference), np.hstack([cost, np.ones((len(a), 1))])
        values.append((i, j, float(ot.emd2(weights_a, weights_b, cost))))
    return time.perf_counter() - start, values


def exact_table(args: argparse.Namespace) -> None:
    from jetgeom_lite.data import load_jets
    from jetgeom_lite.emd import pairwise_emd

    jets_object = load_jets("W", args.n_jets, seed=0, progress=False)
    jets = [np.ascontiguousarray(jet) for jet in jets_object.constituents()]
    n_pairs = len(jets) * (len(jets) - 1) // 2
    print(f"\n== Exact EMD, all pairs of {len(jets)} raw W jets ({n_pairs} pairs), median "
          f"{int(np.median([len(j) for j in jets]))} particles, R = {R}, pT in GeV, {args.threads} cores ==")

    pairwise_emd(jets[:60], n_jobs=args.threads, progress=False)  # start the worker processes once
    # The machine may be shared: alternate the tools and keep each one's best time.
    ours_seconds, best_references = float("inf"), {}
    for _ in range(args.repeats):
        start = time.perf_counter()
        ours = pairwise_emd(jets, n_jobs=args.threads, progress=False)
        ours_seconds = min(ours_seconds, time.perf_counter() - start)
        references: dict = {}
        try:
            references = reference_timings(jets, args.threads)
        except Exception as problem:  # pragma: no cover - depends on the interpreter
            print(f"  (energyflow/wasserstein here failed: {problem})")
        if not references and args.reference_python:
            references = references_elsewhere(args.reference_python, jets, args.threads)
        for name, result in references.items():
            if name not in best_references or result[0] < best_references[name][0]:
                best_references[name] = result
    rows = [("jetgeom_lite pairwise_emd", ours_seconds, n_pairs, 0.0, "")]
    for name in ("wasserstein", "energyflow"):
        if name in best_references:
            seconds, matrix, label = best_references[name]
            difference = np.max(np.abs(matrix - ours)[ours > 0] / ours[ours > 0])
            rows.append((f"{label}", seconds, n_pairs, difference, ""))
        else:
            rows.append((name, float("nan"), 0, float("nan"), "not installed (pass --reference-python)"))

    loop_seconds, loop_values = plain_pot_loop(jets, args.loop_pairs)
    difference = max(abs(value - ours[i, j]) / ours[i, j] for i, j, value in loop_values)
    rows.append((f"plain ot.emd2 loop (1 core, {len(loop_values)} pairs)", loop_seconds, len(loop_values),
                 difference, ""))

    ours_rate = n_pairs / ours_seconds
    print(f"({load_note()} after the run)")
    print(f"{'tool':58s} {'pairs/s':>9s} {'ours / it':>9s} {'max rel diff':>13s}")
    for name, seconds, pairs, difference, note in rows:
        if note:
            print(f"{name:58s} {'-':>9s} {'-':>9s} {'-':>13s}  {note}")
            continue
        rate = pairs / seconds
        print(f"{name:58s} {rate:9.0f} {ours_rate / rate:9.2f} {difference:13.1e}")


# ---------------------------------------------------------------------------------------------
# Sinkhorn table
# ---------------------------------------------------------------------------------------------


def load_note() -> str:
    """The 1-minute load average: other work on the machine slows every row alike."""
    try:
        return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs"
    except OSError:  # pragma: no cover - not on every platform
        return "load average unknown"


def timed(function, repeats: int = 3) -> tuple[float, object]:
    """Best of a few runs (the machine is shared), and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def sinkhorn_table(args: argparse.Namespace) -> None:
    import torch

    from jetgeom_lite.data import load_jets, preprocess
    from jetgeom_lite.emd import emd
    from jetgeom_lite.sinkhorn import ground_cost, sinkhorn_emd

    torch.set_num_threads(args.threads)
    raw = load_jets("W", max(args.n_jets, 2 * args.batch), seed=0, progress=False)
    jets = preprocess(raw, recluster_R=0.07, max_particles=50)
    rng = np.random.default_rng(0)
    n_pairs = args.n_pairs
    first = rng.integers(0, len(jets), n_pairs)
    second = (first + rng.integers(1, len(jets), n_pairs)) % len(jets)
    width = 50
    particles = np.zeros((len(jets), width, 3))
    particles[:, : jets.particles.shape[1]] = jets.particles
    mask = np.zeros((len(jets), width), dtype=bool)
    mask[:, : jets.mask.shape[1]] = jets.mask
    exact = np.array([emd(particles[i], particles[j], R=R) for i, j in zip(first, second)])
    device = "cuda" if (args.gpu and torch.cuda.is_available()) else "cpu"
    print(f"\n== Sinkhorn vs exact EMD: {n_pairs} pairs of different preprocessed W jets (micro-jets R = 0.07, "
          f"<= 50, padded to {width}; median {int(np.median(jets.mask.sum(1)))} real), median exact EMD "
          f"{np.median(exact):.3f}; {device}, {args.threads} threads, batch {args.batch}, float32 ==")

    def batches(dtype):
        for start in range(0, n_pairs, args.batch):
            index = slice(start, start + args.batch)
            yield (torch.tensor(particles[first[index]], dtype=dtype, device=device),
                   torch.tensor(particles[second[index]], dtype=dtype, device=device),
                   torch.tensor(mask[first[index]], device=device), torch.tensor(mask[second[index]], device=device))

    data32 = list(batches(torch.float32))

    def errors(values: np.ndarray) -> tuple[float, float, float]:
        signed = values / exact - 1
        relative = np.abs(signed)
        return float(np.median(relative)), float(np.percentile(relative, 95)), float(np.median(signed))

    def run_ours(eps: float, iterations: int, gradient: str | None) -> np.ndarray:
        out = []
        for xa, xb, ma, mb in data32:
            if gradient is None:
                with torch.no_grad():
                    out.append(sinkhorn_emd(xa, xb, ma, mb, R=R, eps=eps, n_iterations=iterations))
            else:
                xa = xa.clone().requires_grad_(True)
                value = sinkhorn_emd(xa, xb, ma, mb, R=R, eps=eps, n_iterations=iterations, gradient=gradient)
                value.sum().backward()
                out.append(value.detach())
        if device == "cuda":
            torch.cuda.synchronize()
        return torch.cat(out).double().cpu().numpy()

    run_ours(0.02, 30, "last")  # first calls pay for torch's lazy set-up
    rows = []
    for eps, iterations in [(0.1, 20), (0.05, 20), (0.02, 30), (0.01, 40), (0.005, 60)]:
        forward_seconds, _ = timed(lambda: run_ours(eps, iterations, None))
        backward_seconds, values = timed(lambda: run_ours(eps, iterations, "last"))
        rows.append(("jetgeom_lite sinkhorn_emd, gradient='last'", eps, iterations,
                     n_pairs / forward_seconds, n_pairs / backward_seconds, *errors(values)))
    eps, iterations = 0.02, 30
    backward_seconds, values = timed(lambda: run_ours(eps, iterations, "unrolled"), repeats=2)
    rows.append(("jetgeom_lite sinkhorn_emd, gradient='unrolled'", eps, iterations, float("nan"),
                 n_pairs / backward_seconds, *errors(values)))

    # POT's batch solver on the same cost matrices (balanced: these jets' pT sum to 1)
    try:
        import ot

        costs = [ground_cost(xa, xb, R=R) for xa, xb, _, _ in data32]
        weights = [(xa[..., 0] * ma, xb[..., 0] * mb) for xa, xb, ma, mb in data32]

        def run_pot(eps: float, iterations: int, grad: str) -> np.ndarray:
            out = []
            for cost, (a, b), (xa, xb, ma, mb) in zip(costs, weights, data32):
                if grad == "detach":
                    result = ot.solve_batch(M=cost, reg=eps, a=a, b=b, max_iter=iterations, tol=0.0,
                                            method="log_sinkhorn", grad="detach")
                    out.append(result.value_linear)
                else:
                    xa = xa.clone().requires_grad_(True)
                    result = ot.solve_batch(M=ground_cost(xa, xb, R=R), reg=eps, a=xa[..., 0] * ma, b=b,
                                            max_iter=iterations, tol=0.0, method="log_sinkhorn", grad=grad)
                    result.value_linear.sum().backward()
                    out.append(result.value_linear.detach())
            return torch.cat(out).double().numpy()

        for eps, iterations in [(0.02, 30), (0.02, 200)]:
            forward_seconds, _ = timed(lambda: run_pot(eps, iterations, "detach"))
            repeats = 2 if iterations < 100 else 1  # 200 plain iterations take a while
            backward_seconds, values = timed(lambda: run_pot(eps, iterations, "last_step"), repeats=repeats)
            rows.append((f"POT {ot.__version__} solve_batch log_sinkhorn, last_step", eps, iterations,
                         n_pairs / forward_seconds, n_pairs / backward_seconds, *errors(values)))
    except Exception as problem:  # pragma: no cover - depends on the POT version
        print(f"  (POT batch solver unavailable: {problem})")

    # geomloss: cost |x - y| in radians, so blur = eps * R; its value is an entropic objective
    try:
        import geomloss

        for debias in (False, True):
            loss = geomloss.SamplesLoss("sinkhorn", p=1, blur=0.02 * R, scaling=0.9, debias=debias,
                                        backend="tensorized")

            def run_geomloss(with_grad: bool, loss=loss) -> np.ndarray:
                out = []
                for xa, xb, ma, mb in data32:
                    positions = xa[..., 1:].clone().requires_grad_(with_grad)
                    value = loss(xa[..., 0] * ma, positions, xb[..., 0] * mb, xb[..., 1:]) / R
                    if with_grad:
                        value.sum().backward()
                    out.append(value.detach())
                return torch.cat(out).double().numpy()

            forward_seconds, values = timed(lambda: run_geomloss(False))
            backward_seconds, _ = timed(lambda: run_geomloss(True))
            rows.append((f"geomloss {geomloss.__version__} value, debias={debias}", 0.02, "eps-sc.",
                         n_pairs / forward_seconds, n_pairs / backward_seconds, *errors(values)))
        # the transport cost of geomloss's plan, from its potentials
        plan_loss = geomloss.SamplesLoss("sinkhorn", p=1, blur=0.02 * R, scaling=0.9, debias=False,
                                         potentials=True, backend="tensorized")
        values, marginal_error = [], 0.0
        for xa, xb, ma, mb in data32:
            a, b = xa[..., 0] * ma, xb[..., 0] * mb
            f, g = plan_loss(a, xa[..., 1:], b, xb[..., 1:])
            cost = ground_cost(xa, xb, R=R)
            eps_geomloss = 0.02  # blur**p in radians, divided by R
            plan = a[:, :, None] * b[:, None, :] * torch.exp((f[:, :, None] + g[:, None, :]) / (eps_geomloss * R)
                                                            - cost / eps_geomloss)
            values.append((plan * cost).sum(dim=(1, 2)).double())
            marginal_error = max(marginal_error, float((plan.sum(dim=2) - a).abs().max()))
        rows.append(("geomloss transport cost of its plan", 0.02, "eps-sc.", float("nan"), float("nan"),
                     *errors(torch.cat(values).numpy())))
        print(f"  geomloss (scaling 0.9): its plan's largest row-marginal error is {marginal_error:.3f} (pT fraction)")
    except ImportError:
        rows.append(("geomloss: not installed", float("nan"), "-", float("nan"), float("nan"), float("nan"),
                     float("nan"), float("nan")))

    print(f"({load_note()} after the run)")
    print("errors relative to the exact EMD: median and 95th percentile of |value / exact - 1|, and the median "
          "signed error (bias)")
    print(f"{'method':52s} {'eps':>6s} {'iter':>7s} {'fwd pairs/s':>11s} {'fwd+bwd':>8s} {'median':>7s} "
          f"{'95%':>7s} {'bias':>7s}")
    for name, eps, iterations, forward, backward, median, p95, bias in rows:
        forward_text = "-" if np.isnan(forward) else f"{forward:.0f}"
        backward_text = "-" if np.isnan(backward) else f"{backward:.0f}"
        print(f"{name:52s} {eps:6.3f} {str(iterations):>7s} {forward_text:>11s} {backward_text:>8s} "
              f"{100 * median:6.2f}% {100 * p95:6.2f}% {100 * bias:+6.2f}%")


# ---------------------------------------------------------------------------------------------


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--reference-worker":
        reference_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n-jets", type=int, default=500, help="raw W jets for the all-pairs table")
    parser.add_argument("--loop-pairs", type=int, default=3000, help="pairs for the plain ot.emd2 loop")
    parser.add_argument("--n-pairs", type=int, default=512, help="jet pairs for the Sinkhorn table")
    parser.add_argument("--batch", type=int, default=256, help="Sinkhorn batch size")
    parser.add_argument("--threads", type=int, default=2, help="cores / torch threads")
    parser.add_argument("--repeats", type=int, default=2, help="alternating timings of the exact tools (best kept)")
    parser.add_argument("--reference-python", default=None,
                        help="an interpreter with energyflow and wasserstein (numpy < 2)")
    parser.add_argument("--gpu", action="store_true", help="run the Sinkhorn table on CUDA if present")
    parser.add_argument("--skip-exact", action="store_true")
    parser.add_argument("--skip-sinkhorn", action="store_true")
    args = parser.parse_args()
    import platform

    import torch
    print(f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs visible")
    if not args.skip_exact:
        exact_table(args)
    if not args.skip_sinkhorn:
        sinkhorn_table(args)


if __name__ == "__main__":
    main()
