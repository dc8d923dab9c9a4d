"""Why the shipped downward sweep lags the upward one: continue it at one beta and watch the gap.

Takes the downward sweep's weights at ``--beta-hat`` (default 9.6 GeV, where its held-out loss is
15% above the upward sweep's), trains them on for ``--rounds`` more stages of the shipped recipe's
``steps_per_beta`` steps each (same data, batch, learning-rate schedule), and prints the held-out
loss, KL per direction and the gap to the upward sweep's loss after each stage. If the gap closes
with steps, the lag is under-training (a collapsed direction leaving its saddle), not a second
solution of the loss.

    python benchmarks/downward_lag.py                   # 3 stages of 3,000 steps, ~10 min on 1 core
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from jetgeom_lite.jet_vae import load_pretrained_sweep
from jetgeom_lite.train import recipe, wjets_tensors
from jetgeom_lite.vae import evaluate_vae, train_vae


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beta-hat", type=float, default=9.6, help="GeV; the nearest point of the grid is used")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    shipped = recipe("wjets")
    sweep = load_pretrained_sweep("wjets")

    train = wjets_tensors(shipped, shipped.n_train, shipped.train_seed)
    held_out = wjets_tensors(shipped, shipped.n_eval, shipped.eval_seed)
    index = {name: int(np.argmin(np.abs(sweep.beta_hat(name) - args.beta_hat))) for name in ("down", "up")}
    beta = float(sweep.betas["down"][index["down"]])

    def loss(model):
        result = evaluate_vae(model, held_out, beta, n_samples=shipped.n_eval_samples, seed=0, batch_size=1000)
        return result.total, np.sort(result.kl_per_latent)[::-1]

    target, kl_up = loss(sweep.model("up", index["up"]))
    model = sweep.model("down", index["down"])
    current, kl = loss(model)
    print(f"beta_hat = {shipped.pt_scale_GeV * beta:.1f} GeV; upward sweep: {target:.2f} nats, KL "
          + " ".join(f"{v:.2f}" for v in kl_up[:4]))
    print(f"downward sweep as shipped: {current:.2f} nats ({current / target - 1:+.1%}), KL "
          + " ".join(f"{v:.2f}" for v in kl[:4]))
    optimizer = torch.optim.Adam(model.parameters(), lr=shipped.lr, foreach=True)
    for round_ in range(1, args.rounds + 1):
        train_vae(model, train, beta, steps=shipped.steps_per_beta, batch_size=shipped.batch_size,
                  optimizer=optimizer, seed=100 + round_, lr_final_fraction=shipped.lr_final_fraction,
                  progress=False)
        current, kl = loss(model)
        print(f"  + {round_ * shipped.steps_per_beta:,} steps: {current:.2f} nats ({current / target - 1:+.1%}), KL "
              + " ".join(f"{v:.2f}" for v in kl[:4]))


if __name__ == "__main__":
    main()
