"""Reproduce the pretrained weights shipped with the package: ``python -m jetgeom_lite.train wjets``.

The W-jet sweep of chapter 4: a :func:`jetgeom_lite.jet_vae.make_jet_vae` model trained on
Pythia W jets (preprocessed as in the paper: micro-jets of R = 0.07, at most 50, centred, pT
normalised), annealed down a log grid of beta (coarse to fine, warm-starting each beta from
the last) and then back up from where it ended (to show hysteresis). After each beta the
weights are kept; at the end they are rounded to float16, and every metric in
``metadata.json`` is measured on the rounded weights, on held-out jets (another Pythia seed):

- KL per latent direction (nats), posterior widths, :math:`\\langle \\mathrm{EMD}^2\\rangle` by
  Sinkhorn (as in the loss),
- the mean exact EMD (POT) of the reconstruction from the posterior mean, and of a decoder fed
  shuffled codes (the baseline of a model that ignores its input),
- a small check (the first ``n_check`` held-out jets, fixed latent draws) that the tests
  recompute from the shipped files.

Usage::

    python -m jetgeom_lite.train wjets                       # the shipped settings (~10 min on one CPU core)
    python -m jetgeom_lite.train wjets --out my_weights      # somewhere else (default ./jetgeom_weights/wjets)
    python -m jetgeom_lite.train wjets --full --device cuda  # larger model, more jets and betas
    python -m jetgeom_lite.train wjets --set n_train=300 --set n_betas=2 --out tiny   # a quick try

Load the result with ``load_pretrained_sweep("wjets", directory=...)``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ._validation import check_fraction, check_integer, check_positive
from .jet_vae import JetVAESettings, jet_tensors, make_jet_vae, reconstruction_emd
from .vae import beta_sweep, evaluate_vae

__all__ = ["TrainingRecipe", "recipe", "train_sweep", "main"]


@dataclass(frozen=True)
class TrainingRecipe:
    """Every setting of a shipped sweep: data, model, schedule, seeds, evaluation.

    beta is dimensionless (a fraction of the jet pT, the unit of the normalised EMD with
    R = 0.8); the grid is given in GeV, ``beta_hat = pt_scale_GeV * beta``. ``mass_range_GeV``
    (e.g. ``(75.0, 110.0)``, the paper's W window) keeps only jets with a mass inside it, through
    ``load_jets(..., mass_range=...)``; ``None`` keeps all (the shipped sweep).
    """

    name: str = "wjets"
    process: str = "W"
    n_train: int = 10_000
    train_seed: int = 2
    n_eval: int = 1000
    eval_seed: int = 1
    n_check: int = 200
    recluster_R: float = 0.07
    max_particles: int = 50
    pt_scale_GeV: float = 550.0
    beta_hat_max_GeV: float = 100.0
    beta_hat_min_GeV: float = 3.0
    n_betas: int = 11
    steps_per_beta: int = 300
    steps_first_beta: int = 600
    batch_size: int = 256
    lr: float = 1e-3
    lr_final_fraction: float = 0.1
    model_seed: int = 0
    seed: int = 0
    n_eval_samples: int = 8
    n_check_samples: int = 4
    model: JetVAESettings = field(default_factory=JetVAESettings)
    mass_range_GeV: tuple[float, float] | None = None

    def __post_init__(self):
        for name in ("n_train", "n_eval", "n_check", "max_particles", "n_betas", "steps_per_beta", "steps_first_beta",
                     "batch_size", "n_eval_samples", "n_check_samples"):
            object.__setattr__(self, name, check_integer(getattr(self, name), name, minimum=1))
        for name in ("train_seed", "eval_seed", "model_seed", "seed"):
            object.__setattr__(self, name, check_integer(getattr(self, name), name))
        for name in ("recluster_R", "pt_scale_GeV", "beta_hat_max_GeV", "beta_hat_min_GeV", "lr"):
            object.__setattr__(self, name, check_positive(getattr(self, name), name))
        object.__setattr__(self, "lr_final_fraction", check_fraction(self.lr_final_fraction, "lr_final_fraction"))
        if self.n_check > self.n_eval:
            raise ValueError(f"n_check ({self.n_check}) must not exceed n_eval ({self.n_eval}): the check jets are "
                             "the first n_check held-out jets.")
        if self.n_betas > 1 and not self.beta_hat_max_GeV > self.beta_hat_min_GeV:
            raise ValueError(f"beta_hat_max_GeV ({self.beta_hat_max_GeV}) must exceed beta_hat_min_GeV "
                             f"({self.beta_hat_min_GeV}): the downward sweep runs from coarse to fine.")
        if self.mass_range_GeV is not None:
            low, high = (check_positive(v, "mass_range_GeV") for v in self.mass_range_GeV)
            if not low < high:
                raise ValueError(f"mass_range_GeV must be (low, high) with low < high, got {self.mass_range_GeV}.")
            object.__setattr__(self, "mass_range_GeV", (low, high))
        if not isinstance(self.model, JetVAESettings):
            raise TypeError(f"model must be a JetVAESettings, got {type(self.model).__name__}.")

    def with_overrides(self, overrides: dict) -> "TrainingRecipe":
        """A copy with some fields replaced; ``"model.latent_dim"`` style keys reach the model settings.

        Examples
        --------
        >>> tiny = recipe("wjets").with_overrides({"n_train": 200, "model.latent_dim": 2})
        >>> tiny.n_train, tiny.model.latent_dim
        (200, 2)
        """
        top, model = {}, {}
        for key, value in overrides.items():
            if key.startswith("model."):
                field_name = key[len("model."):]
                if field_name not in JetVAESettings.__dataclass_fields__:
                    raise ValueError(f"unknown model setting {field_name!r}; known: "
                                     f"{sorted(JetVAESettings.__dataclass_fields__)}.")
                model[field_name] = tuple(value) if isinstance(value, list) else value
            elif key in self.__dataclass_fields__ and key != "model":
                top[key] = tuple(value) if isinstance(value, list) else value
            else:
                known = sorted(k for k in self.__dataclass_fields__ if k != "model")
                raise ValueError(f"unknown recipe setting {key!r}; known: {known} and model.<setting>.")
        if model:
            top["model"] = replace(self.model, **model)
        return replace(self, **top)

    def betas_down(self) -> np.ndarray:
        """The downward grid of beta (dimensionless), coarse to fine."""
        return np.geomspace(self.beta_hat_max_GeV, self.beta_hat_min_GeV, self.n_betas) / self.pt_scale_GeV

    def to_dict(self) -> dict:
        values = asdict(self)
        values["model"] = self.model.to_dict()
        return values


_RECIPES = {"wjets": TrainingRecipe()}
_FULL = {"wjets": replace(
    TrainingRecipe(), n_train=50_000, n_betas=21, steps_per_beta=1500, steps_first_beta=3000,
    model=JetVAESettings(latent_dim=16, particle_hidden=(128, 128, 128), jet_hidden=(256, 256),
                         decoder_hidden=(256, 256, 256)))}


def recipe(name: str, full: bool = False) -> TrainingRecipe:
    """The recipe of a shipped sweep (``full=True``: the larger run of the chapter's full size)."""
    table = _FULL if full else _RECIPES
    if name not in table:
        raise ValueError(f"unknown sweep {name!r}; known: {sorted(table)}.")
    return table[name]


def _jets(recipe_: TrainingRecipe, n: int, seed: int, progress: bool):
    from .data import load_jets, preprocess

    window = {} if recipe_.mass_range_GeV is None else {"mass_range": recipe_.mass_range_GeV}
    jets = load_jets(recipe_.process, n, seed=seed, progress=progress, **window)
    return jet_tensors(preprocess(jets, center=True, normalize=True, recluster_R=recipe_.recluster_R,
                                  max_particles=recipe_.max_particles))


def _rounded(state: dict) -> dict:
    return {key: value.detach().to("cpu", torch.float16).clone() for key, value in state.items()}


def train_sweep(recipe_: TrainingRecipe, out: str | Path, *, device: str | None = None,
                progress: bool = True) -> dict:
    """Train both sweeps of ``recipe_``, write ``down.pt``, ``up.pt`` and ``metadata.json`` to ``out``.

    Returns the metadata (also written to ``out/metadata.json``).
    """
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from .environment import default_device

    device = default_device() if device is None else str(device)
    train = _jets(recipe_, recipe_.n_train, recipe_.train_seed, progress)
    held_out = _jets(recipe_, recipe_.n_eval, recipe_.eval_seed, progress)
    sweep_monitor = tuple(t[:300] for t in held_out)
    model = make_jet_vae(recipe_.model, seed=recipe_.model_seed)
    n_parameters = sum(p.numel() for p in model.parameters())
    betas_down = recipe_.betas_down()
    betas_up = betas_down[::-1][1:]  # from the end state upwards; the finest beta is shared
    common = dict(batch_size=recipe_.batch_size, lr=recipe_.lr, lr_final_fraction=recipe_.lr_final_fraction,
                  eval_data=sweep_monitor, n_eval_samples=1, device=device, progress=progress)
    t_train = time.perf_counter()
    down = beta_sweep(model, train, betas_down, steps_per_beta=recipe_.steps_per_beta,
                      steps_first_beta=recipe_.steps_first_beta, seed=recipe_.seed, **common)
    up = beta_sweep(model, train, betas_up, steps_per_beta=recipe_.steps_per_beta,
                    steps_first_beta=recipe_.steps_per_beta, seed=recipe_.seed + 10, **common)
    train_seconds = time.perf_counter() - t_train

    sweeps = {}
    check = tuple(t[:recipe_.n_check] for t in held_out)
    for direction, sweep in (("down", down), ("up", up)):
        states = [_rounded(state) for state in sweep.states]
        file = f"{direction}.pt"
        torch.save(states, out / file)
        rows = []
        for beta, state in zip(sweep.betas, states):
            evaluated = make_jet_vae(recipe_.model, seed=None)
            evaluated.load_state_dict({k: v.float() for k, v in state.items()})
            evaluated.eval()
            full = evaluate_vae(evaluated, held_out, float(beta), n_samples=recipe_.n_eval_samples, seed=0,
                                device="cpu", batch_size=1000)
            small = evaluate_vae(evaluated, check, float(beta), n_samples=recipe_.n_check_samples, seed=0,
                                 device="cpu", batch_size=1000)
            exact = reconstruction_emd(evaluated, *held_out, R=recipe_.model.R)
            shuffled = reconstruction_emd(evaluated, *held_out, R=recipe_.model.R, shuffle_seed=0)
            rows.append(dict(
                kl=full.kl, kl_per_latent=full.kl_per_latent.tolist(),
                sigma_per_latent=full.sigma_per_latent.tolist(), distortion_sinkhorn=full.distortion,
                exact_emd_mean=float(exact.mean()), exact_emd_median=float(np.median(exact)),
                shuffled_emd_mean=float(shuffled.mean()),
                check_kl=small.kl, check_distortion=small.distortion))
        sweeps[direction] = dict(
            file=file, betas=sweep.betas.tolist(), beta_hat_GeV=(recipe_.pt_scale_GeV * sweep.betas).tolist(),
            train_loss=sweep.train_loss.tolist(), seconds=sweep.seconds.tolist(),
            metrics={key: [row[key] for row in rows] for key in rows[0]})
        if progress:
            print(f"{direction}: beta_hat [GeV] " + " ".join(f"{b:6.1f}" for b in recipe_.pt_scale_GeV * sweep.betas))
            print(f"{'':6}KL [nats]     " + " ".join(f"{r['kl']:6.2f}" for r in rows))
            print(f"{'':6}exact EMD     " + " ".join(f"{r['exact_emd_mean']:6.3f}" for r in rows))
    total_seconds = time.perf_counter() - start
    metadata = dict(
        name=recipe_.name, recipe=recipe_.to_dict(), model=recipe_.model.to_dict(),
        n_parameters=int(n_parameters),
        data=dict(process=recipe_.process, n_train=recipe_.n_train, train_seed=recipe_.train_seed,
                  n_eval=recipe_.n_eval, eval_seed=recipe_.eval_seed, n_check=recipe_.n_check,
                  recluster_R=recipe_.recluster_R, max_particles=recipe_.max_particles, center=True,
                  normalize=True, pt_scale_GeV=recipe_.pt_scale_GeV,
                  median_train_multiplicity=float(train[1].sum(dim=1).float().median())),
        evaluation=dict(n_eval_samples=recipe_.n_eval_samples, n_check_samples=recipe_.n_check_samples,
                        evaluation_seed=0, shuffle_seed=0, weights_dtype="float16"),
        sweeps=sweeps,
        timing=dict(train_seconds=train_seconds, total_seconds=total_seconds, device=device,
                    torch_threads=torch.get_num_threads(), torch=torch.__version__, python=platform.python_version()))
    (out / "metadata.json").write_text(json.dumps(metadata, indent=1))
    return metadata


def _parse_overrides(items: list[str]) -> dict:
    overrides = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}.")
        try:
            overrides[key.strip()] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key.strip()] = text
    return overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jetgeom_lite.train",
                                     description="Reproduce the pretrained beta sweeps shipped with jetgeom_lite.")
    parser.add_argument("name", help="which sweep: " + ", ".join(sorted(_RECIPES)))
    parser.add_argument("--full", action="store_true", help="the larger full-size run")
    parser.add_argument("--out", default=None, help="output folder (default ./jetgeom_weights/NAME)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch (default 1: the shipped weights were made with 1, and a "
                             "small model gains little from more while several threads slow down badly "
                             "on a busy machine; results match to rounding only at the same count)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="change one recipe setting, e.g. --set n_train=500 --set model.latent_dim=4 "
                             "(values are read as JSON: numbers, [lists]); repeatable")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    try:
        chosen = recipe(args.name, args.full)
        chosen = chosen.with_overrides(_parse_overrides(args.overrides)) if args.overrides else chosen
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    out = Path(args.out) if args.out else Path("jetgeom_weights") / args.name
    start = time.perf_counter()
    metadata = train_sweep(chosen, out, device=args.device, progress=not args.no_progress)
    seconds = time.perf_counter() - start
    print(f"wrote {out / 'metadata.json'} and {len(metadata['sweeps'])} weight files; "
          f"run time {seconds / 60:.1f} min ({seconds:.0f} s) on {metadata['timing']['device']} "
          f"with {metadata['timing']['torch_threads']} torch threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
