"""Reproduce the pretrained weights shipped with the package: ``python -m jetgeom_lite.train wjets``.

The W-jet sweeps of chapter 4: a :func:`jetgeom_lite.jet_vae.make_jet_vae` model trained on
Pythia W jets in the paper's mass window 75 < m_J < 110 GeV (preprocessed as in the paper:
micro-jets of R = 0.07, at most 50, centred, pT normalised), over a log grid of beta from 100
to 2 GeV, twice, each from the same freshly initialised weights: **upward** (the paper's
direction: start at the finest beta, then warm-start each coarser beta from the last) and
**downward** (start at the coarsest, then finer). The two are independent and train in two
processes at once (``--jobs``); where they end at the same held-out loss (within 2%), that
beta passes the convergence test chapter 4 prints. After each beta the
weights are kept; at the end they are rounded to float16, and every metric in
``metadata.json`` is measured on the rounded weights, on held-out jets (another Pythia seed):

- KL per latent direction (nats), posterior widths, :math:`\\langle \\mathrm{EMD}^2\\rangle` by
  Sinkhorn (as in the loss),
- the mean exact EMD (POT) of the reconstruction from the posterior mean, and of a decoder fed
  shuffled codes (the baseline of a model that ignores its input),
- a small check (the first ``n_check`` held-out jets, fixed latent draws) that the tests
  recompute from the shipped files.

Usage::

    python -m jetgeom_lite.train wjets                       # the shipped settings (see benchmarks/README.md for the time)
    python -m jetgeom_lite.train wjets --out my_weights      # somewhere else (default ./jetgeom_weights/wjets)
    python -m jetgeom_lite.train wjets --full --device cuda  # larger model, more jets and betas
    python -m jetgeom_lite.train wjets --set n_train=300 --set n_betas=2 --out tiny   # a quick try

Load the result with ``load_pretrained_sweep("wjets", directory=...)``.

The top/QCD classifier of chapter 5 (``python -m jetgeom_lite.train topqcd``, see
:class:`TopQCDRecipe`): a :func:`jetgeom_lite.categorical.make_categorical_jet_vae` model with one
relaxed-Bernoulli unit, trained without labels on a 50/50 mix of top and QCD jets at
beta_hat = 50 GeV while the weight of the Bernoulli KL rises 0.01 -> 0.46 (then 1, to show the
collapse); beside it two more seeds, a 10% top mix, a finer beta (25 GeV), a supervised tagger with the
same trunk, and a Gaussian VAE trained on QCD only (the classic anomaly score). Every metric in its
``metadata.json`` is measured on the float16 weights, on 2,000 + 2,000 held-out jets. Load it
with ``jetgeom_lite.categorical.load_pretrained_classifier("topqcd")``.
"""

from __future__ import annotations

import argparse
import json
import os
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

__all__ = ["TrainingRecipe", "recipe", "wjets_tensors", "train_sweep", "TopQCDRecipe", "train_topqcd", "main"]


@dataclass(frozen=True)
class TrainingRecipe:
    """Every setting of a shipped sweep: data, model, schedule, seeds, evaluation.

    beta is dimensionless (a fraction of the jet pT, the unit of the normalised EMD with
    R = 0.8); the grid is given in GeV, ``beta_hat = pt_scale_GeV * beta``. ``mass_range_GeV``
    (default ``(75.0, 110.0)``, the paper's W window) keeps only jets with a mass inside it, through
    ``load_jets(..., mass_range=...)``; ``None`` keeps all.
    """

    name: str = "wjets"
    process: str = "W"
    n_train: int = 30_000
    train_seed: int = 2
    n_eval: int = 1000
    eval_seed: int = 1
    n_check: int = 200
    recluster_R: float = 0.07
    max_particles: int = 50
    pt_scale_GeV: float = 550.0
    beta_hat_max_GeV: float = 100.0
    beta_hat_min_GeV: float = 2.0
    n_betas: int = 11
    steps_per_beta: int = 3000
    steps_first_beta: int = 6000
    batch_size: int = 256
    lr: float = 1e-3
    lr_final_fraction: float = 0.1
    model_seed: int = 0
    seed: int = 0
    n_eval_samples: int = 8
    n_check_samples: int = 4
    # the decoder is wider than JetVAESettings' default: at 2 GeV it is what limits the loss
    # (benchmarks/README.md, "Choosing the W-jet model")
    model: JetVAESettings = field(default_factory=lambda: JetVAESettings(decoder_hidden=(256, 256, 256)))
    mass_range_GeV: tuple[float, float] | None = (75.0, 110.0)

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
    TrainingRecipe(), n_train=100_000, n_betas=21, steps_per_beta=6000, steps_first_beta=12000,
    model=JetVAESettings(latent_dim=16, particle_hidden=(128, 128, 128), jet_hidden=(256, 256),
                         decoder_hidden=(256, 256, 256)))}


def recipe(name: str, full: bool = False) -> TrainingRecipe:
    """The recipe of a shipped sweep (``full=True``: the larger run of the chapter's full size)."""
    table = _FULL if full else _RECIPES
    if name not in table:
        raise ValueError(f"unknown sweep {name!r}; known: {sorted(table)}.")
    return table[name]


def wjets_tensors(recipe_: TrainingRecipe, n: int, seed: int, progress: bool = False):
    """``(particles, mask)`` of ``n`` jets of ``recipe_``, selected and preprocessed as the sweep trains on them.

    Pythia seed ``seed``, the recipe's mass window (``load_jets(..., mass_range=...)``), micro-jets
    of ``recluster_R``, at most ``max_particles``, centred and pT-normalised; tensors of shapes
    (n, M, 3) with rows (pT fraction, y, phi [rad]) and (n, M) as :func:`jetgeom_lite.jet_vae.jet_tensors`
    returns them. The training jets are ``wjets_tensors(r, r.n_train, r.train_seed)``, the held-out
    ones ``wjets_tensors(r, r.n_eval, r.eval_seed)``.

    Examples
    --------
    >>> particles, mask = wjets_tensors(recipe("wjets"), 5, seed=7)
    >>> tuple(particles.shape[::2]), bool(torch.allclose((particles[..., 0] * mask).sum(dim=1), torch.ones(5)))
    ((5, 3), True)
    """
    from .data import load_jets, preprocess

    window = {} if recipe_.mass_range_GeV is None else {"mass_range": recipe_.mass_range_GeV}
    jets = load_jets(recipe_.process, n, seed=seed, progress=progress, **window)
    return jet_tensors(preprocess(jets, center=True, normalize=True, recluster_R=recipe_.recluster_R,
                                  max_particles=recipe_.max_particles))


def _save_atomic(obj, path: Path) -> None:
    """``torch.save`` to a temporary name, then rename: a killed run never leaves half a file."""
    partial = path.with_name(path.name + ".partial")
    torch.save(obj, partial)
    partial.replace(path)


def _rounded(state: dict) -> dict:
    return {key: value.detach().to("cpu", torch.float16).clone() for key, value in state.items()}


SWEEP_DIRECTIONS = ("up", "down")


def _train_direction(recipe_: TrainingRecipe, direction: str, train, monitor, device: str, threads: int,
                     progress: bool) -> dict:
    """Train one sweep of ``recipe_`` from freshly built weights; float16 states and the record.

    ``"up"`` starts at the finest beta and climbs the grid (the paper's direction: every
    direction it can afford is on from the start and switches off as beta grows); ``"down"``
    starts at the coarsest and descends (directions must switch on, which is slow: a collapsed
    direction sits on a saddle). Both start from the same initial weights (``model_seed``).
    """
    torch.set_num_threads(int(threads))
    betas = recipe_.betas_down()[::-1] if direction == "up" else recipe_.betas_down()
    model = make_jet_vae(recipe_.model, seed=recipe_.model_seed)
    label = f"{direction}ward sweep"

    def report(index, beta, _model, evaluation):
        if not progress:
            return
        print(f"{label}: beta_hat {recipe_.pt_scale_GeV * beta:6.2f} GeV done ({index + 1}/{len(betas)}), "
              f"held-out loss {evaluation.distortion / (2 * beta ** 2) + evaluation.kl:7.2f} nats, "
              f"KL {evaluation.kl:5.2f}", flush=True)

    sweep = beta_sweep(model, train, betas, steps_per_beta=recipe_.steps_per_beta,
                       steps_first_beta=recipe_.steps_first_beta,
                       seed=recipe_.seed + (0 if direction == "down" else 10), batch_size=recipe_.batch_size,
                       lr=recipe_.lr, lr_final_fraction=recipe_.lr_final_fraction, eval_data=monitor,
                       n_eval_samples=1, device=device, progress=False, on_beta_done=report)
    return dict(betas=sweep.betas, train_loss=sweep.train_loss, seconds=sweep.seconds,
                states=[_rounded(state) for state in sweep.states])


def train_sweep(recipe_: TrainingRecipe, out: str | Path, *, device: str | None = None,
                progress: bool = True, jobs: int = 1, threads: int | None = None) -> dict:
    """Train both sweeps of ``recipe_``, write ``up.pt``, ``down.pt`` and ``metadata.json`` to ``out``.

    The upward and the downward sweep start from the same initial weights and are independent,
    so with ``jobs=2`` they train in two processes at once (each with ``threads`` torch threads,
    default the current count); the weights are the same bits either way on a CPU. Returns the
    metadata (also written to ``out/metadata.json``).
    """
    start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from .environment import default_device

    jobs = check_integer(jobs, "jobs", minimum=1, example="2")
    threads = torch.get_num_threads() if threads is None else check_integer(threads, "threads", minimum=1)
    device = default_device() if device is None else str(device)
    train = wjets_tensors(recipe_, recipe_.n_train, recipe_.train_seed, progress)
    held_out = wjets_tensors(recipe_, recipe_.n_eval, recipe_.eval_seed, progress)
    sweep_monitor = tuple(t[:300] for t in held_out)
    n_parameters = sum(p.numel() for p in make_jet_vae(recipe_.model, seed=recipe_.model_seed).parameters())
    t_train = time.perf_counter()
    arguments = [(recipe_, direction, train, sweep_monitor, device, threads, progress)
                 for direction in SWEEP_DIRECTIONS]
    if jobs > 1 and device == "cpu":
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=min(jobs, len(arguments)),
                                 mp_context=multiprocessing.get_context("spawn")) as pool:
            trained = dict(zip(SWEEP_DIRECTIONS, pool.map(_train_direction, *zip(*arguments))))
    else:
        trained = {direction: _train_direction(*args) for direction, args in zip(SWEEP_DIRECTIONS, arguments)}
    torch.set_num_threads(threads)
    train_seconds = time.perf_counter() - t_train

    sweeps = {}
    check = tuple(t[:recipe_.n_check] for t in held_out)
    for direction in SWEEP_DIRECTIONS:
        sweep = trained[direction]
        states = sweep["states"]
        file = f"{direction}.pt"
        _save_atomic(states, out / file)
        rows = []
        for beta, state in zip(sweep["betas"], states):
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
            file=file, betas=sweep["betas"].tolist(),
            beta_hat_GeV=(recipe_.pt_scale_GeV * sweep["betas"]).tolist(),
            train_loss=sweep["train_loss"].tolist(), seconds=sweep["seconds"].tolist(),
            metrics={key: [row[key] for row in rows] for key in rows[0]})
        if progress:
            print(f"{direction}: beta_hat [GeV] " + " ".join(f"{b:6.1f}" for b in recipe_.pt_scale_GeV * sweep["betas"]))
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
                  mass_range_GeV=None if recipe_.mass_range_GeV is None else list(recipe_.mass_range_GeV),
                  median_train_multiplicity=float(train[1].sum(dim=1).float().median())),
        evaluation=dict(n_eval_samples=recipe_.n_eval_samples, n_check_samples=recipe_.n_check_samples,
                        evaluation_seed=0, shuffle_seed=0, weights_dtype="float16"),
        sweeps=sweeps,
        timing=dict(train_seconds=train_seconds, total_seconds=total_seconds, device=device, jobs=jobs,
                    torch_threads=threads, torch=torch.__version__, python=platform.python_version(),
                    cpu_count=os.cpu_count()))
    partial = out / "metadata.json.partial"
    partial.write_text(json.dumps(metadata, indent=1))
    partial.replace(out / "metadata.json")
    return metadata


# --------------------------------------------------------------------------------------------
# chapter 5: the top/QCD categorical VAE and its references


@dataclass(frozen=True)
class TopQCDRecipe:
    """Every setting of the shipped top/QCD classifier (chapter 5).

    Training jets: ``n_train_per_class`` top and as many QCD jets (Pythia seed ``train_seed``),
    mixed and shuffled, labels never shown to the VAE. Held-out jets: ``n_eval_per_class`` of
    each (seed ``eval_seed``). beta_hat = ``beta_hat_GeV`` (beta = beta_hat / pt_scale_GeV);
    alpha_w rises through ``alpha_weights`` (Collins' anneal to 0.46), ``steps_per_weight`` Adam
    steps each; the main run continues at ``alpha_continue`` to show the collapse of the unit.
    """

    name: str = "topqcd"
    n_train_per_class: int = 3000
    train_seed: int = 2
    n_eval_per_class: int = 2000
    eval_seed: int = 1
    recluster_R: float = 0.07
    max_particles: int = 50
    pt_scale_GeV: float = 550.0
    beta_hat_GeV: float = 50.0
    n_binary: int = 1
    temperature: float = 0.3
    prior_prob: float = 0.5
    alpha_weights: tuple = tuple(float(a) for a in np.geomspace(0.01, 0.46, 5))
    alpha_continue: float = 1.0
    steps_per_weight: int = 400
    batch_size: int = 256
    lr: float = 1e-3
    lr_final_fraction: float = 0.1
    seeds: tuple = (0, 1, 2)
    top_fraction_low: float = 0.1
    beta_hat_variants_GeV: tuple = (25.0,)
    qcd_vae_beta_hat_GeV: float = 20.0
    qcd_vae_steps: int = 2000
    tagger_steps: int = 1500
    mass_window_GeV: tuple = (140.0, 200.0)
    model: JetVAESettings = field(default_factory=JetVAESettings)

    @property
    def beta(self) -> float:
        """beta (fraction of pT_J) of the main run."""
        return self.beta_hat_GeV / self.pt_scale_GeV

    def to_dict(self) -> dict:
        values = asdict(self)
        values["model"] = self.model.to_dict()
        return values


TOPQCD_PARTS = ("main", "seeds", "variants", "betas")


def topqcd_jets(recipe_: TopQCDRecipe, n: int, seed: int, progress: bool = False):
    """``(particles, mask, labels, (top, qcd))``: n top then n QCD jets, preprocessed; labels 1 = top."""
    from .data import Jets, load_jets, preprocess

    top = load_jets("top", n, seed=seed, progress=progress)
    qcd = load_jets("QCD", n, seed=seed, progress=progress)
    prepared = preprocess(Jets.concatenate([top, qcd]), center=True, normalize=True,
                          recluster_R=recipe_.recluster_R, max_particles=recipe_.max_particles)
    particles, mask = jet_tensors(prepared)
    labels = np.r_[np.ones(len(top), dtype=int), np.zeros(len(qcd), dtype=int)]
    return particles, mask, labels, (top, qcd)


def topqcd_training_set(recipe_: TopQCDRecipe, top_fraction: float = 0.5, progress: bool = False):
    """The unlabelled training mix: every QCD jet and enough tops for ``top_fraction``, shuffled.

    Returns ``(particles, mask, labels)``; the labels are for the supervised reference only.
    """
    particles, mask, labels, _ = topqcd_jets(recipe_, recipe_.n_train_per_class, recipe_.train_seed, progress)
    n = recipe_.n_train_per_class
    n_top = n if top_fraction == 0.5 else int(round(n * top_fraction / (1 - top_fraction)))
    keep = np.r_[np.arange(n_top), n + np.arange(n)]
    order = np.random.default_rng(recipe_.train_seed).permutation(keep.size)
    keep = torch.as_tensor(keep[order])
    return particles[keep], mask[keep], labels[keep.numpy()]


def _rounded_any(state: dict) -> dict:
    return {k: v.detach().to("cpu", torch.float16).clone() if v.is_floating_point() else v.clone()
            for k, v in state.items()}


def _train_topqcd_part(recipe_: TopQCDRecipe, part: str, out: Path, progress: bool) -> dict:
    """Train one part of the topqcd recipe; write its weight files; return its record."""
    from . import categorical as cat
    from .vae import train_vae

    start = time.perf_counter()
    record: dict = {}

    def categorical_run(top_fraction: float, beta: float, seed: int, continue_: bool):
        p, m, _ = topqcd_training_set(recipe_, top_fraction)
        model = cat.make_categorical_jet_vae(recipe_.model, n_binary=recipe_.n_binary,
                                             temperature=recipe_.temperature, prior_prob=recipe_.prior_prob,
                                             seed=seed)
        weights = list(recipe_.alpha_weights) + ([recipe_.alpha_continue] if continue_ else [])
        return cat.train_categorical_vae(model, (p, m), beta, alpha_weights=weights,
                                         steps_per_weight=recipe_.steps_per_weight, batch_size=recipe_.batch_size,
                                         lr=recipe_.lr, lr_final_fraction=recipe_.lr_final_fraction, seed=seed,
                                         device="cpu", progress=progress)

    if part == "main":
        h = categorical_run(0.5, recipe_.beta, recipe_.seeds[0], True)
        torch.save([_rounded_any(s) for s in h.states], out / "main.pt")
        record["main"] = dict(file="main.pt", alpha_weights=h.alpha_weights.tolist(), seconds=h.seconds.tolist(),
                              loss_per_stage=h.loss.mean(axis=1).tolist(),
                              train_loss=h.loss[:, ::10].tolist(), train_kl=h.kl[:, ::10].tolist())
    elif part == "seeds":
        for seed in recipe_.seeds[1:]:
            h = categorical_run(0.5, recipe_.beta, seed, False)
            torch.save([_rounded_any(h.states[-1])], out / f"seed{seed}.pt")
            record[f"seed{seed}"] = dict(file=f"seed{seed}.pt", seconds=h.seconds.tolist())
    elif part == "variants":
        h = categorical_run(recipe_.top_fraction_low, recipe_.beta, recipe_.seeds[0], False)
        torch.save([_rounded_any(h.states[-1])], out / "top10.pt")
        record["top10"] = dict(file="top10.pt", seconds=h.seconds.tolist())
        p, m, y = topqcd_training_set(recipe_, 0.5)
        t = time.perf_counter()
        tagger, losses = cat.train_set_tagger(p, m, y, settings=recipe_.model, steps=recipe_.tagger_steps, seed=0,
                                              progress=progress)
        torch.save([_rounded_any(tagger.state_dict())], out / "supervised.pt")
        record["supervised"] = dict(file="supervised.pt", seconds=time.perf_counter() - t,
                                    train_loss=losses[::10].tolist())
        qcd = torch.as_tensor(y == 0)
        vae = make_jet_vae(recipe_.model, seed=0)
        t = time.perf_counter()
        hv = train_vae(vae, (p[qcd], m[qcd]), recipe_.qcd_vae_beta_hat_GeV / recipe_.pt_scale_GeV,
                       steps=recipe_.qcd_vae_steps, batch_size=recipe_.batch_size, lr=recipe_.lr, seed=0,
                       device="cpu", progress=progress)
        torch.save([_rounded_any(vae.state_dict())], out / "qcd_vae.pt")
        record["qcd_vae"] = dict(file="qcd_vae.pt", seconds=time.perf_counter() - t,
                                 train_loss=hv.loss[::10].tolist())
    elif part == "betas":
        for beta_hat in recipe_.beta_hat_variants_GeV:
            h = categorical_run(0.5, beta_hat / recipe_.pt_scale_GeV, recipe_.seeds[0], False)
            name = f"beta{int(beta_hat)}"
            torch.save([_rounded_any(h.states[-1])], out / f"{name}.pt")
            record[name] = dict(file=f"{name}.pt", beta_hat_GeV=beta_hat, seconds=h.seconds.tolist())
    else:
        raise ValueError(f"unknown part {part!r}; parts: {TOPQCD_PARTS}.")
    record["_seconds"] = time.perf_counter() - start
    (out / f"part_{part}.json").write_text(json.dumps(record))
    return record


def evaluate_topqcd(recipe_: TopQCDRecipe, out: str | Path, progress: bool = False) -> dict:
    """Measure every shipped model of ``out`` on the held-out jets; write and return ``metadata.json``.

    Needs the ``part_*.json`` records and weight files of the parts trained (missing parts are
    left out of the metadata). All numbers use the float16 weights as shipped.
    """
    from . import categorical as cat
    from .metrics import roc_auc
    from .observables import nsubjettiness

    out = Path(out)
    parts = {}
    for part in TOPQCD_PARTS:
        path = out / f"part_{part}.json"
        if path.is_file():
            parts[part] = json.loads(path.read_text())
    if "main" not in parts:
        raise ValueError(f"no part_main.json in {out}; train the main part first.")
    particles, mask, labels, (top, qcd) = topqcd_jets(recipe_, recipe_.n_eval_per_class, recipe_.eval_seed, progress)
    metadata: dict = dict(name=recipe_.name, kind="categorical", recipe=recipe_.to_dict(),
                          model=recipe_.model.to_dict(), n_binary=recipe_.n_binary,
                          temperature=recipe_.temperature, prior_prob=recipe_.prior_prob,
                          pt_scale_GeV=recipe_.pt_scale_GeV, readout_stage=len(recipe_.alpha_weights) - 1)
    mass = np.r_[top.mass, qcd.mass]
    tau32 = np.r_[nsubjettiness(top).tau32, nsubjettiness(qcd).tau32]
    low, high = recipe_.mass_window_GeV
    window = (mass > low) & (mass < high)
    metadata["baselines"] = dict(mass=roc_auc(mass, labels), minus_tau32=roc_auc(-tau32, labels),
                                 window_and_tau32=roc_auc(2.0 * window - tau32, labels))

    def categorical_metrics(state: dict, beta: float) -> dict:
        model = cat.make_categorical_jet_vae(recipe_.model, n_binary=recipe_.n_binary,
                                             temperature=recipe_.temperature, prior_prob=recipe_.prior_prob,
                                             seed=None)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        model.eval()
        result = cat.unsupervised_score(model, particles, mask, beta=beta)
        log_alpha, mu, log_var, d2, kl = cat._deterministic_pass(model, (particles, mask), 2048)
        kl_gauss = 0.5 * (mu ** 2 + np.exp(log_var) - 1 - log_var)
        positive = result.score > 0
        return dict(unit=result.unit, orientation=result.orientation, auc=roc_auc(result.score, labels),
                    kl_bern_per_unit=result.kl_bern_per_unit.tolist(),
                    kl_gauss_per_latent=kl_gauss.mean(axis=0).tolist(), distortion_sinkhorn=float(d2.mean()),
                    auc_distortion=roc_auc(d2, labels), auc_cost=roc_auc(result.cost_per_jet, labels),
                    positive_fraction=float(positive.mean()),
                    top_purity_positive=float(labels[positive].mean()) if positive.any() else float("nan"))

    beta = recipe_.beta
    states = torch.load(out / "main.pt", weights_only=True)
    main = [categorical_metrics(state, beta) for state in states]
    metadata["main"] = dict(parts["main"]["main"], beta_hat_GeV=recipe_.beta_hat_GeV,
                            metrics={key: [row[key] for row in main] for key in main[0]})
    readout = cat.make_categorical_jet_vae(recipe_.model, n_binary=recipe_.n_binary, seed=None)
    readout.load_state_dict({k: v.float() for k, v in states[metadata["readout_stage"]].items()})
    readout.eval()
    exact = cat.categorical_reconstruction_emd(readout, particles, mask, R=recipe_.model.R)
    shuffled = cat.categorical_reconstruction_emd(readout, particles, mask, R=recipe_.model.R, shuffle_seed=0)
    metadata["main"]["exact_emd_mean"] = float(exact.mean())
    metadata["main"]["shuffled_emd_mean"] = float(shuffled.mean())
    metadata["main"]["auc_exact_emd"] = roc_auc(exact, labels)
    variants = {}
    for part in ("seeds", "variants", "betas"):
        for name, record in parts.get(part, {}).items():
            if name.startswith("_") or name in ("supervised", "qcd_vae"):
                continue
            variant_beta = record.get("beta_hat_GeV", recipe_.beta_hat_GeV) / recipe_.pt_scale_GeV
            state = torch.load(out / record["file"], weights_only=True)[0]
            variants[name] = dict(record, metrics=categorical_metrics(state, variant_beta),
                                  beta_hat_GeV=variant_beta * recipe_.pt_scale_GeV)
    metadata["variants"] = variants
    if "variants" in parts:
        tagger = cat.SetTagger(recipe_.model)
        tagger.load_state_dict({k: v.float() for k, v in torch.load(out / "supervised.pt", weights_only=True)[0].items()})
        tagger.eval()
        with torch.no_grad():
            logit = tagger(particles, mask).numpy()
        metadata["supervised"] = dict(parts["variants"]["supervised"], auc=roc_auc(logit, labels))
        vae = make_jet_vae(recipe_.model, seed=None)
        vae.load_state_dict({k: v.float() for k, v in torch.load(out / "qcd_vae.pt", weights_only=True)[0].items()})
        vae.eval()
        anomaly = reconstruction_emd(vae, particles, mask, R=recipe_.model.R)
        metadata["qcd_vae"] = dict(parts["variants"]["qcd_vae"], beta_hat_GeV=recipe_.qcd_vae_beta_hat_GeV,
                                   auc=roc_auc(anomaly, labels))
    metadata["timing"] = dict(parts={k: v["_seconds"] for k, v in parts.items()}, device="cpu",
                              torch_threads=torch.get_num_threads(), torch=torch.__version__,
                              python=platform.python_version())
    (out / "metadata.json").write_text(json.dumps(metadata, indent=1))
    return metadata


def train_topqcd(recipe_: TopQCDRecipe, out: str | Path, *, parts=TOPQCD_PARTS, progress: bool = True) -> dict:
    """Train the chosen parts of the topqcd recipe on the CPU, then evaluate; returns the metadata.

    Parts: ``"main"`` (seed 0, with the continuation to alpha_w = 1), ``"seeds"`` (seeds 1, 2),
    ``"variants"`` (10% tops, the supervised tagger, the QCD-only Gaussian VAE), ``"betas"``
    (the other beta of ``beta_hat_variants_GeV``). Parts may run in separate processes (``--part``) and be evaluated together
    (``--part evaluate``); the weights are the same bits either way (CPU, one thread).
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for part in parts:
        _train_topqcd_part(recipe_, part, out, progress)
    return evaluate_topqcd(recipe_, out, progress)


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
    parser.add_argument("name", help="which sweep: " + ", ".join(sorted(_RECIPES)) + ", topqcd")
    parser.add_argument("--part", default=None, choices=[*TOPQCD_PARTS, "evaluate"],
                        help="topqcd only: train one part (or only evaluate the parts in --out)")
    parser.add_argument("--full", action="store_true", help="the larger full-size run")
    parser.add_argument("--out", default=None, help="output folder (default ./jetgeom_weights/NAME)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for torch (default 1: the shipped weights were made with 1, and a "
                             "small model gains little from more while several threads slow down badly "
                             "on a busy machine; results match to rounding only at the same count)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="wjets: train the upward and the downward sweep in this many processes at once "
                             "(default 2 where there are 2 cores; the weights are the same bits either way)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                        help="change one recipe setting, e.g. --set n_train=500 --set model.latent_dim=4 "
                             "(values are read as JSON: numbers, [lists]); repeatable")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    torch.set_num_threads(args.threads)
    if args.name == "topqcd":
        out = Path(args.out) if args.out else Path("jetgeom_weights") / args.name
        start = time.perf_counter()
        chosen = TopQCDRecipe()
        if args.part == "evaluate":
            evaluate_topqcd(chosen, out)
        else:
            train_topqcd(chosen, out, parts=TOPQCD_PARTS if args.part is None else (args.part,),
                         progress=not args.no_progress)
        print(f"wrote {out / 'metadata.json'}; run time {(time.perf_counter() - start) / 60:.1f} min")
        return 0
    try:
        chosen = recipe(args.name, args.full)
        chosen = chosen.with_overrides(_parse_overrides(args.overrides)) if args.overrides else chosen
    except (ValueError, TypeError) as error:
        parser.error(str(error))
    out = Path(args.out) if args.out else Path("jetgeom_weights") / args.name
    start = time.perf_counter()
    metadata = train_sweep(chosen, out, device=args.device, progress=not args.no_progress, jobs=args.jobs,
                           threads=args.threads)
    seconds = time.perf_counter() - start
    print(f"wrote {out / 'metadata.json'} and {len(metadata['sweeps'])} weight files; "
          f"run time {seconds / 60:.1f} min ({seconds:.0f} s) on {metadata['timing']['device']} "
          f"with {metadata['timing']['torch_threads']} torch threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
