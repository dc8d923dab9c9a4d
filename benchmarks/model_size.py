"""Which W-jet VAE to ship: three sizes trained from scratch at beta_hat = 2 GeV, side by side.

The finest resolution of the shipped sweep is where the model's size matters most: there the loss
is almost all distortion (the decoder cannot draw what the code could tell it). This script
trains each candidate on the shipped recipe's data (W jets in 75-110 GeV, micro-jets, centred)
with the shipped batch size and learning rate, at a constant learning rate, and prints the
held-out loss, its distortion part and the KL of each latent direction every ``--every`` steps,
with the time per step, so that the candidates can be compared at equal steps and at equal time.

    python benchmarks/model_size.py                  # 1,500 steps each, about 6 minutes on 1 core
    python benchmarks/model_size.py --steps 6000     # longer

The numbers measured for the book are in benchmarks/README.md ("Choosing the W-jet model").
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from jetgeom_lite.jet_vae import JetVAESettings, make_jet_vae
from jetgeom_lite.train import recipe, wjets_tensors
from jetgeom_lite.vae import evaluate_vae, train_vae

CANDIDATES = {
    "JetVAESettings() (89k)": JetVAESettings(),
    "decoder (256, 256, 256) (208k)": JetVAESettings(decoder_hidden=(256, 256, 256)),
    "all layers doubled (309k)": JetVAESettings(particle_hidden=(128, 128, 128), jet_hidden=(256, 256),
                                                decoder_hidden=(256, 256, 256)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--beta-hat", type=float, default=2.0, help="resolution in GeV (default 2)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--every", type=int, default=500)
    args = parser.parse_args()
    torch.set_num_threads(1)
    shipped = recipe("wjets")

    train = wjets_tensors(shipped, shipped.n_train, shipped.train_seed)
    held_out = wjets_tensors(shipped, shipped.n_eval, shipped.eval_seed)
    beta = args.beta_hat / shipped.pt_scale_GeV
    for name, settings in CANDIDATES.items():
        model = make_jet_vae(settings, seed=shipped.model_seed)
        optimizer = torch.optim.Adam(model.parameters(), lr=shipped.lr, foreach=True)
        print(f"\n{name}: {sum(p.numel() for p in model.parameters()):,} parameters, beta_hat = {args.beta_hat} GeV")
        seconds = 0.0
        for chunk in range(args.steps // args.every):
            history = train_vae(model, train, beta, steps=args.every, batch_size=shipped.batch_size,
                                optimizer=optimizer, seed=chunk, lr_final_fraction=1.0, progress=False)
            seconds += history.seconds
            result = evaluate_vae(model, held_out, beta, n_samples=4, seed=0, batch_size=1000)
            print(f"  {(chunk + 1) * args.every:6d} steps ({1e3 * seconds / ((chunk + 1) * args.every):.0f} ms/step): "
                  f"held-out loss {result.total:6.2f} nats = distortion {result.distortion / (2 * beta**2):6.2f} "
                  f"+ KL {result.kl:5.2f}; KL per direction " + " ".join(f"{v:.2f}" for v in
                                                                        np.sort(result.kl_per_latent)[::-1]))


if __name__ == "__main__":
    main()
