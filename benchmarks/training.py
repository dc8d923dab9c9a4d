"""How fast does the W-jet VAE train, and how long does `python -m jetgeom_lite.train wjets` take?

1. Training throughput: jets per second through one optimiser step (encode, sample, decode,
   squared Sinkhorn EMD, backward, Adam) of the shipped model at the shipped batch size, on CPU
   and, when one is present, on the GPU; and the share of each step spent in the Sinkhorn
   distance (forward + backward) against the networks.
2. The reproduction command: by default an extrapolation from the measured throughput (steps of
   the shipped recipe x seconds per step, plus the measured evaluation time per beta, scaled from
   one beta), printed next to the run time recorded in the shipped metadata. ``--reproduce`` runs
   the whole command into a temporary folder and times it (about 31 minutes on 2 CPU cores) and
   compares its metrics with the shipped ones.

    python benchmarks/training.py                 # ~1 minute

The numbers measured on the book's 2-core build machine are in benchmarks/README.md: one step of
the shipped 208k-parameter model (batch 256, Sinkhorn eps 0.02 / 30 iterations) takes about 54 ms
on one thread, 60% of it in the Sinkhorn distance, and the whole training command took 31 minutes
with the two sweeps in two processes. Two threads are faster on an idle machine but collapse on
a busy one (thread oversubscription: up to 40 times slower per step while other jobs ran), which
is why the command uses one thread per process.

    python benchmarks/training.py --gpu           # also on CUDA, if present
    python benchmarks/training.py --reproduce     # the full command, timed
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import torch

from jetgeom_lite.jet_vae import load_pretrained_sweep, make_jet_vae, reconstruction_emd
from jetgeom_lite.train import recipe, train_sweep, wjets_tensors
from jetgeom_lite.vae import evaluate_vae


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def throughput(particles, mask, device: str, batch_size: int, steps: int, beta: float) -> dict:
    """Seconds per optimiser step, jets per second, and the Sinkhorn share of a step."""
    shipped = recipe("wjets")
    model = make_jet_vae(shipped.model, seed=0).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=shipped.lr, foreach=True)
    generator = torch.Generator().manual_seed(0)
    x, m = particles.to(device), mask.to(device)

    def batch():
        index = torch.randint(0, x.shape[0], (batch_size,), generator=generator).to(device)
        return x[index], m[index]

    for _ in range(5):  # warm-up (allocator, kernels)
        loss = model.loss(batch(), beta)
        optimizer.zero_grad(); loss.total.backward(); optimizer.step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        loss = model.loss(batch(), beta)
        optimizer.zero_grad(); loss.total.backward(); optimizer.step()
    _sync(device)
    per_step = (time.perf_counter() - start) / steps

    # the distance alone, forward + backward, on decoded jets
    xb, mb = batch()
    with torch.no_grad():
        decoded = model.decode(model.encode(xb, mb)[0])
    decoded.requires_grad_(True)
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        model.distance(xb, decoded, mb).sum().backward()
    _sync(device)
    distance = (time.perf_counter() - start) / steps
    label = device if device == "cuda" else f"cpu x{torch.get_num_threads()}"
    return dict(device=label, seconds_per_step=per_step, jets_per_second=batch_size / per_step,
                sinkhorn_share=distance / per_step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=60, help="timed optimiser steps per device")
    parser.add_argument("--gpu", action="store_true", help="also time on CUDA when present")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="CPU thread counts to time (the training command uses 1)")
    parser.add_argument("--reproduce", action="store_true", help="run and time the full training command")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="time a changed recipe, as in `python -m jetgeom_lite.train --set`")
    args = parser.parse_args()

    shipped = recipe("wjets")
    if args.overrides:
        from jetgeom_lite.train import _parse_overrides

        shipped = shipped.with_overrides(_parse_overrides(args.overrides))
    print(f"torch {torch.__version__}; model: "
          f"{sum(p.numel() for p in make_jet_vae(shipped.model).parameters()):,} parameters, "
          f"Sinkhorn eps {shipped.model.eps} / {shipped.model.n_iterations} iterations, batch {shipped.batch_size}")
    particles, mask = wjets_tensors(shipped, 2000, shipped.train_seed)
    beta = float(shipped.betas_down()[len(shipped.betas_down()) // 2])
    devices = ["cpu"] + (["cuda"] if args.gpu and torch.cuda.is_available() else [])
    if args.gpu and not torch.cuda.is_available():
        print("no GPU visible to torch: CPU only")
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        rows.append(throughput(particles, mask, "cpu", shipped.batch_size, args.steps, beta))
    torch.set_num_threads(min(args.threads))
    rows += [throughput(particles, mask, device, shipped.batch_size, args.steps, beta) for device in devices[1:]]
    print(f"\n{'device':8} {'ms/step':>9} {'jets/s':>9} {'Sinkhorn share':>15}")
    for row in rows:
        print(f"{row['device']:8} {1e3 * row['seconds_per_step']:9.1f} {row['jets_per_second']:9.0f} "
              f"{row['sinkhorn_share']:15.0%}")

    # two sweeps of n_betas each, from scratch, trained at once in two processes (--jobs 2)
    n_betas_total = 2 * shipped.n_betas
    total_steps = shipped.steps_first_beta + (shipped.n_betas - 1) * shipped.steps_per_beta
    # evaluation of one beta, as train_sweep does it (rounded weights, held-out jets)
    held_out = wjets_tensors(shipped, shipped.n_eval, shipped.eval_seed)
    model = make_jet_vae(shipped.model, seed=0).eval()
    start = time.perf_counter()
    evaluate_vae(model, held_out, beta, n_samples=shipped.n_eval_samples, device="cpu", batch_size=1000)
    reconstruction_emd(model, *held_out)
    reconstruction_emd(model, *held_out, shuffle_seed=0)
    evaluation = time.perf_counter() - start
    for row in rows:
        estimate = total_steps * row["seconds_per_step"] + n_betas_total * evaluation
        print(f"\nextrapolated `python -m jetgeom_lite.train wjets` on {row['device']}: {total_steps} steps per sweep "
              f"(both sweeps at once, one per core) x {1e3 * row['seconds_per_step']:.0f} ms + {n_betas_total} "
              f"evaluations x {evaluation:.1f} s (CPU) = {estimate / 60:.1f} min (plus loading the jets; two "
              f"processes on two cores run each step somewhat slower than one alone)")
    try:
        recorded = load_pretrained_sweep("wjets").metadata["timing"]
        print(f"recorded in the shipped metadata: {recorded['total_seconds'] / 60:.1f} min in all, "
              f"{recorded['train_seconds'] / 60:.1f} min training, on {recorded['device']} with "
              f"{recorded['torch_threads']} threads")
    except ValueError as error:
        print(f"no shipped sweep to compare with: {error}")

    if args.reproduce:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            metadata = train_sweep(shipped, folder, progress=True, jobs=2, threads=1)
            seconds = time.perf_counter() - start
        shipped_metadata = load_pretrained_sweep("wjets").metadata
        print(f"\nfull command: {seconds / 60:.1f} min on {metadata['timing']['device']}")
        for direction in ("down", "up"):
            new = np.array(metadata["sweeps"][direction]["metrics"]["kl"])
            old = np.array(shipped_metadata["sweeps"][direction]["metrics"]["kl"])
            print(f"{direction}: largest |KL - shipped KL| = {np.max(np.abs(new - old)):.3g} nats")


if __name__ == "__main__":
    main()
