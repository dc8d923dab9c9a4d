"""A VAE for jets: a set encoder, a decoder to 50 particles, and the squared Sinkhorn EMD as distance.

The generic machinery (loss, training, beta sweeps) lives in :mod:`jetgeom_lite.vae`; this
module supplies the three jet-specific pieces it plugs together (after Collins,
arXiv:2109.10919, with networks small enough to train on a laptop CPU):

- :class:`JetEncoder`: each particle ``(z_i, y_i, phi_i)`` goes through the same small network;
  the outputs of the real particles are summed with their pT fractions as weights (padding
  contributes nothing, so the code does not depend on how a jet is padded or ordered, and a
  soft particle changes it by O(its pT fraction)) and a second network turns the sum into the
  posterior ``(mu, log_var)`` of ``latent_dim`` Gaussian directions, more than the data need.
  The per-particle network sees ``z_i`` itself, so the encoder alone is *not* collinear safe
  (see "IRC safety" below).
- :class:`JetDecoder`: a network from ``z`` to exactly ``n_particles`` particles: pT by a softmax
  over the particles (so the jet's pT sums to 1), ``y`` and ``phi`` linear (the jets are
  centred, so ``phi`` never needs to wrap).
- :class:`SquaredSinkhornEMD`: ``EMD(x, x_hat)**2`` per jet from
  :func:`jetgeom_lite.sinkhorn.sinkhorn_emd` with ``R = 0.8``, the book's EMD convention, so the
  distance is a fraction of the jet pT and ``beta_hat = pT_J * beta`` is in GeV.

:func:`make_jet_vae` builds the model from a :class:`JetVAESettings`; :func:`jet_tensors` turns
preprocessed :class:`~jetgeom_lite.data.Jets` into the ``(particles, mask)`` pair every function
here takes; :func:`reconstruction_emd` measures reconstructions with the exact EMD;
:func:`load_pretrained_sweep` loads the weights shipped with the package (made by
``python -m jetgeom_lite.train wjets``, see :mod:`jetgeom_lite.train`).

IRC safety (where it comes from)
--------------------------------
The EMD is infrared and collinear (IRC) safe. The encoder is safe against soft emissions (a
particle of pT fraction ``z`` enters the pooled sum with weight ``z``, so it moves the code by
O(z)), but not on its own against collinear splits: :math:`\\Phi` takes ``z_i`` as an input,
so a particle split into two halves at the same ``(y, phi)`` gives
:math:`2 \\cdot \\tfrac{z}{2}\\Phi(\\tfrac{z}{2}, y, \\phi) = z\\,\\Phi(\\tfrac{z}{2}, y, \\phi) \\ne z\\,\\Phi(z, y, \\phi)` (splitting the hardest
particle of 200 preprocessed W jets moves ``mu`` of a freshly built model by a median 1.8% of
``|mu|``). The pipeline is collinear safe because of the
preprocessing: :func:`jetgeom_lite.data.preprocess` with ``recluster_R=0.07`` (as used for
every model here) reclusters each jet into micro-jets of radius 0.07, which merges two
collinear halves back into one particle before the encoder sees them. Skip the reclustering
and the code is no longer collinear safe. ``tests/test_irc_safety.py`` checks both statements
through the whole chain raw jet -> preprocess -> encoder. An encoder of the energy-flow form
:math:`\\sum_i z_i \\Phi(y_i, \\phi_i)` (no ``z_i`` inside :math:`\\Phi`) would be safe by itself.

Example::

    sweep = load_pretrained_sweep("wjets")
    model = sweep.model("up", 0)                     # the upward sweep starts at its finest beta, 2 GeV
    particles, mask = jet_tensors(preprocess(load_jets("W", 100, seed=1), recluster_R=0.07,
                                             max_particles=50))
    mu, log_var = model.encode(particles, mask)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ._validation import check_integer, check_jet_tensors, check_positive
from .sinkhorn import sinkhorn_emd
from .vae import VAE
from .vae.model import _check_hidden

__all__ = [
    "JetVAESettings",
    "JetEncoder",
    "JetDecoder",
    "SquaredSinkhornEMD",
    "make_jet_vae",
    "jet_tensors",
    "PretrainedSweep",
    "load_pretrained_sweep",
    "pretrained_sweep_names",
    "reconstruction_emd",
]


# --------------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class JetVAESettings:
    """Everything that fixes a jet VAE's architecture and distance.

    Attributes
    ----------
    latent_dim : int
        Gaussian latent directions (more than the data need; unused ones stay at KL = 0).
    n_particles : int
        Particles the decoder emits (the preprocessing keeps at most this many).
    particle_hidden : tuple of int
        Widths of the per-particle network; its last width is the pooled feature size.
    jet_hidden : tuple of int
        Widths of the network after pooling.
    decoder_hidden : tuple of int
        Widths of the decoder.
    R : float
        Angular scale of the EMD, radians (0.8, as everywhere in the book).
    angular_scale : float
        Typical particle angle from the jet centre (radians): the networks see ``(y, phi) /
        angular_scale`` and the decoder's raw outputs are multiplied by it, so both work with
        numbers of order one (W prongs sit ~0.15 from the centre at pT ~ 550 GeV).
    eps : float
        Sinkhorn regularisation, in units of ``R``.
    n_iterations : int
        Sinkhorn iterations (with eps-scaling from 1.0, halving each iteration).
    """

    latent_dim: int = 8
    n_particles: int = 50
    particle_hidden: tuple[int, ...] = (64, 64, 64)
    jet_hidden: tuple[int, ...] = (128, 128)
    decoder_hidden: tuple[int, ...] = (128, 128, 128)
    R: float = 0.8
    eps: float = 0.02
    n_iterations: int = 30
    angular_scale: float = 0.2

    def __post_init__(self):
        for name in ("latent_dim", "n_particles", "n_iterations"):
            object.__setattr__(self, name, check_integer(getattr(self, name), name, minimum=1))
        for name in ("particle_hidden", "jet_hidden", "decoder_hidden"):
            widths = _check_hidden(getattr(self, name), name)
            if not widths:
                raise ValueError(f"{name} must hold at least one layer width, e.g. (64,); got ().")
            object.__setattr__(self, name, widths)
        for name in ("R", "eps", "angular_scale"):
            object.__setattr__(self, name, check_positive(getattr(self, name), name))

    def to_dict(self) -> dict:
        """Plain JSON-ready dictionary (tuples become lists)."""
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> "JetVAESettings":
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown JetVAESettings fields {sorted(unknown)}.")
        return cls(**{key: tuple(value) if isinstance(value, list) else value for key, value in values.items()})


def _mlp(sizes, final_activation: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (size_in, size_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(size_in, size_out))
        if final_activation or i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.1))
    return nn.Sequential(*layers)


# How far a jet's summed pT fractions may be from 1 (float32 sums of 50 fractions are within 1e-6).
_NORMALISATION_TOLERANCE = 1e-3


def _check_jet_batch(x: torch.Tensor, mask: torch.Tensor | None, name: str = "x",
                     dtype: torch.dtype | None = None) -> torch.Tensor:
    """Check a batch ``(n, M, 3)`` of normalised jets and return its boolean mask.

    The jets must be preprocessed with ``normalize=True``: the real particles' pT fractions of
    each jet sum to 1 (jets in GeV would otherwise reach the loss as NaN or as a distance of
    hundreds, and the error would seem to be the reconstruction's).
    """
    x, mask = check_jet_tensors(x, mask, name, dtype=dtype)
    sums = torch.where(mask, x.detach()[..., 0], torch.zeros_like(x.detach()[..., 0])).sum(dim=1)
    off = (sums - 1).abs() > _NORMALISATION_TOLERANCE
    if bool(off.any()):
        first = int(torch.nonzero(off)[0, 0])
        raise ValueError(f"{name} is not normalised: the pT of jet {first} sums to {float(sums[first]):.4g}, not 1 "
                         "(pT in GeV?). The jet VAE takes pT fractions: pass the jets through "
                         "preprocess(jets, normalize=True, ...) and jet_tensors(...) first.")
    return mask


class JetEncoder(nn.Module):
    """Set encoder: per-particle network, pT-weighted masked sum, jet network, Gaussian posterior.

    :math:`h = \\sum_{i\\,\\mathrm{real}} z_i\\, \\Phi(z_i, y_i / s, \\phi_i / s)`, then
    :math:`(\\mu, \\ln\\sigma^2) = F(h)`, with ``s`` the ``angular_scale``. Weighting the sum
    by the pT fractions :math:`z_i` (as in energy flow networks) makes the code infrared safe: a
    particle of fraction ``z`` moves it by O(z). It is not collinear safe by itself, because
    :math:`\\Phi` also sees ``z_i``: a collinear split changes the code unless the jets were
    reclustered into micro-jets first (``preprocess(recluster_R=0.07)``, as for every model in
    the book), which merges the two halves back (module docstring, "IRC safety"). (The paper sums unweighted features, scaled by 1/sqrt(width); with a network as
    small as this one the unweighted sum trained far more slowly, because the many soft
    particles drown the few hard ones that carry the two-prong structure.) Padded rows are
    never looked at.

    Shapes: ``x (n, M, 3)``, ``mask (n, M)`` -> ``mu, log_var`` each ``(n, latent_dim)``.
    """

    def __init__(self, settings: JetVAESettings):
        super().__init__()
        self.settings = settings
        widths = settings.particle_hidden
        self.particle_network = _mlp((3, *widths), final_activation=True)
        self.jet_network = _mlp((widths[-1], *settings.jet_hidden, 2 * settings.latent_dim),
                                final_activation=False)
        self.register_buffer("input_scale", torch.tensor([1.0, 1.0 / settings.angular_scale,
                                                          1.0 / settings.angular_scale]), persistent=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        mask = _check_jet_batch(x, mask, dtype=next(self.particle_network.parameters()).dtype)
        # trailing padding shared by the whole batch costs time and changes nothing: drop it
        width = int(torch.nonzero(mask.any(dim=0)).max()) + 1
        x, mask = x[:, :width], mask[:, :width]
        features = self.particle_network(x * self.input_scale.to(x.dtype))
        weights = torch.where(mask, x[..., 0], torch.zeros_like(x[..., 0]))
        pooled = (features * weights[..., None]).sum(dim=1)
        mu, log_var = self.jet_network(pooled).chunk(2, dim=-1)
        return mu, log_var


class JetDecoder(nn.Module):
    """Decoder from a latent code to exactly ``n_particles`` particles ``(z, y, phi)``.

    pT fractions by a softmax over the particles (:math:`\\sum_i z_i = 1`), y and phi linear.
    Shapes: ``z (n, latent_dim)`` -> ``(n, n_particles, 3)``.
    """

    def __init__(self, settings: JetVAESettings):
        super().__init__()
        self.settings = settings
        self.network = _mlp((settings.latent_dim, *settings.decoder_hidden, 3 * settings.n_particles),
                            final_activation=False)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if not isinstance(z, torch.Tensor) or z.ndim != 2 or z.shape[1] != self.settings.latent_dim:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"z must be a tensor of shape (n, {self.settings.latent_dim}); got {shape}.")
        out = self.network(z).view(z.shape[0], self.settings.n_particles, 3)
        pt = torch.softmax(out[..., 0], dim=-1)
        scale = self.settings.angular_scale
        return torch.stack([pt, scale * out[..., 1], scale * out[..., 2]], dim=-1)


class SquaredSinkhornEMD(nn.Module):
    """``EMD(x, x_hat)**2`` per jet, by Sinkhorn, for the VAE loss (a fraction of pT_J, squared).

    Every decoded particle is real (softmax pT > 0); the input's padding is masked out.
    Gradients use ``gradient="last"`` (see :mod:`jetgeom_lite.sinkhorn`).

    Examples
    --------
    >>> d2 = SquaredSinkhornEMD(R=0.8, eps=0.02, n_iterations=30)
    >>> a = torch.tensor([[[1.0, 0.0, 0.0]]]); b = torch.tensor([[[1.0, 0.0, 0.4]]])
    >>> round(float(d2(a, b, torch.tensor([[True]]))), 3)       # (0.4 / 0.8)**2
    0.25
    """

    def __init__(self, R: float = 0.8, eps: float = 0.02, n_iterations: int = 30):
        super().__init__()
        self.R, self.eps, self.n_iterations = float(R), float(eps), int(n_iterations)

    def forward(self, x: torch.Tensor, x_hat: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        mask = _check_jet_batch(x, mask, "x (the input jets)")
        emd = sinkhorn_emd(x, x_hat, mask, None, R=self.R, eps=self.eps, n_iterations=self.n_iterations,
                           gradient="last")
        return emd * emd


def make_jet_vae(settings: JetVAESettings | None = None, seed: int | None = 0) -> VAE:
    """A jet VAE: :class:`JetEncoder`, :class:`JetDecoder`, :class:`SquaredSinkhornEMD`.

    Parameters
    ----------
    settings : JetVAESettings, optional
        Default: ``JetVAESettings()`` (8 latent directions, 50 particles, 89k parameters).
    seed : int or None
        Seed of the weight initialisation (the caller's global RNG is left untouched).

    Returns
    -------
    jetgeom_lite.vae.VAE
        Call it as ``model(particles, mask)``; train with ``data=(particles, mask)``.

    Examples
    --------
    >>> model = make_jet_vae(seed=0)
    >>> x = torch.zeros(2, 50, 3); x[:, 0, 0] = 1.0
    >>> out = model(x, x[..., 0] > 0)
    >>> tuple(out.x_hat.shape), tuple(out.mu.shape)
    ((2, 50, 3), (2, 8))
    """
    settings = JetVAESettings() if settings is None else settings
    if not isinstance(settings, JetVAESettings):
        raise TypeError(f"settings must be a JetVAESettings, got {type(settings).__name__}.")

    def build() -> VAE:
        return VAE(JetEncoder(settings), JetDecoder(settings),
                   SquaredSinkhornEMD(settings.R, settings.eps, settings.n_iterations), stochastic=True)

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return build()


def jet_tensors(jets, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """``(particles, mask)`` tensors of preprocessed jets, the data a jet VAE takes.

    Parameters
    ----------
    jets : jetgeom_lite.data.Jets
        From :func:`jetgeom_lite.data.preprocess` with ``normalize=True`` (pT sums to 1).
    dtype : torch.dtype

    Returns
    -------
    particles : torch.Tensor, shape (n, M, 3)
        Rows ``(z, y, phi)``.
    mask : torch.Tensor of bool, shape (n, M)
    """
    from .data import Jets

    if not isinstance(jets, Jets):
        raise TypeError(f"jet_tensors expects Jets (from load_jets + preprocess); got {type(jets).__name__}.")
    record = jets.settings.get("preprocessing") or {}
    if not record.get("normalize"):
        raise ValueError("the jets are not normalised; call preprocess(jets, normalize=True, ...) first "
                         "(the VAE's decoder emits pT fractions that sum to 1).")
    particles = torch.as_tensor(np.where(jets.mask[..., None], jets.particles, 0.0), dtype=dtype)
    mask = torch.as_tensor(jets.mask, dtype=torch.bool)
    _check_jet_batch(particles, mask, "jets.particles")
    return particles, mask


@torch.no_grad()
def reconstruction_emd(model: VAE, particles: torch.Tensor, mask: torch.Tensor, *, R: float = 0.8,
                       shuffle_seed: int | None = None, batch_size: int = 2048) -> np.ndarray:
    r"""Exact EMD (POT) between each jet and its reconstruction from the posterior mean.

    :math:`\mathrm{EMD}(x_i, \mathrm{dec}(\mu(x_i)))`, a fraction of the jet pT. With
    ``shuffle_seed`` the codes are permuted among the jets first, :math:`\mathrm{dec}(\mu(x_{\pi(i)}))`:
    the baseline of a decoder that ignores which jet it was given.

    Parameters
    ----------
    model : VAE
        A jet VAE.
    particles, mask : torch.Tensor, shapes (n, M, 3) and (n, M)
        From :func:`jet_tensors`.
    R : float
        Angular scale of the EMD (0.8).
    shuffle_seed : int, optional
    batch_size : int

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    from .emd import emd

    if not isinstance(model, VAE):
        raise TypeError(f"model must be a jetgeom_lite.vae.VAE, got {type(model).__name__}.")
    mask = _check_jet_batch(particles, mask, "particles")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    codes = torch.cat([model.encode(particles[i:i + batch_size].to(device), mask[i:i + batch_size].to(device))[0]
                       for i in range(0, particles.shape[0], batch_size)])
    if shuffle_seed is not None:
        order = torch.randperm(codes.shape[0], generator=torch.Generator().manual_seed(int(shuffle_seed)))
        codes = codes[order.to(codes.device)]
    decoded = torch.cat([model.decode(codes[i:i + batch_size]) for i in range(0, codes.shape[0], batch_size)])
    model.train(was_training)
    inputs = particles.double().numpy()
    outputs = decoded.double().cpu().numpy()
    keep = mask.numpy()
    return np.array([emd(inputs[i][keep[i]], outputs[i], R=R, norm=True) for i in range(inputs.shape[0])])


# --------------------------------------------------------------------------------------------
# shipped weights


@dataclass(frozen=True, eq=False)
class PretrainedSweep:
    """A beta sweep shipped with the package: the weights after every beta and what they did.

    Attributes
    ----------
    name : str
    settings : JetVAESettings
    metadata : dict
        The JSON record: data settings, schedule, seed, timings and metrics (see ``train.py``).
    betas : dict of str to numpy.ndarray
        ``{"down": (m,), "up": (m',)}``, in the order trained, dimensionless (fraction of pT_J).
    states : dict of str to tuple of dict
        float32 ``state_dict`` per beta, same order.
    pt_scale : float
        The jet pT (GeV) that turns beta into beta_hat = pt_scale * beta.
    """

    name: str
    settings: JetVAESettings
    metadata: dict
    betas: dict
    states: dict
    pt_scale: float

    def model(self, direction: str, index: int) -> VAE:
        """A fresh model with the weights after ``betas[direction][index]``, in eval mode."""
        if direction not in self.states:
            raise ValueError(f"direction must be one of {sorted(self.states)}, got {direction!r}.")
        states = self.states[direction]
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -len(states) <= index < len(states):
            raise ValueError(f"index must be an integer in [0, {len(states)}) for the {direction!r} sweep, got {index!r}.")
        model = make_jet_vae(self.settings, seed=None)
        model.load_state_dict(states[int(index)])
        return model.eval()

    def beta_hat(self, direction: str) -> np.ndarray:
        """beta in GeV, ``pt_scale * betas[direction]``."""
        return self.pt_scale * self.betas[direction]


def _weights_root() -> Path:
    return Path(str(resources.files("jetgeom_lite") / "weights"))


def pretrained_sweep_names() -> list[str]:
    """Names of the sweeps shipped with the package (folders with a ``metadata.json``)."""
    root = _weights_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "metadata.json").is_file())


def load_pretrained_sweep(name: str = "wjets", directory: str | Path | None = None) -> PretrainedSweep:
    """Load a shipped beta sweep (weights per beta, both directions) and its metadata.

    The weights are stored as float16 (to keep the package small) and loaded with
    ``torch.load(weights_only=True)`` into float32; the metrics in the metadata were measured on
    exactly these rounded weights.

    Parameters
    ----------
    name : str
        ``"wjets"``: the W-jet sweep of chapter 4. ``"topqcd"`` (chapter 5) is not a sweep: it
        returns :func:`jetgeom_lite.categorical.load_pretrained_classifier`'s
        :class:`~jetgeom_lite.categorical.PretrainedClassifier`.
    directory : str or Path, optional
        Load from here instead of the package (e.g. the output of ``python -m jetgeom_lite.train``).

    Returns
    -------
    PretrainedSweep

    Raises
    ------
    ValueError
        An unknown name, missing files, or weights that do not match the metadata.

    Examples
    --------
    >>> sweep = load_pretrained_sweep("wjets")                       # doctest: +SKIP
    >>> sweep.beta_hat("down")[:2]                                   # doctest: +SKIP
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}.")
    if directory is None:
        names = pretrained_sweep_names()
        if name not in names:
            raise ValueError(f"no shipped sweep named {name!r}; available: {names}. Train one with "
                             f"`python -m jetgeom_lite.train {name}` and pass directory=...")
        folder = _weights_root() / name
    else:
        folder = Path(directory)
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        raise ValueError(f"no metadata.json in the weights folder for {name!r}; the folder is incomplete "
                         "(re-run `python -m jetgeom_lite.train`).")
    metadata = json.loads(meta_path.read_text())
    if metadata.get("kind") == "categorical":  # chapter 5's top/QCD classifier is not a beta sweep
        from .categorical import load_pretrained_classifier

        return load_pretrained_classifier(name, directory=folder)
    if metadata.get("name") != name:
        raise ValueError(f"the metadata describes sweep {metadata.get('name')!r}, not {name!r}.")
    settings = JetVAESettings.from_dict(metadata["model"])
    reference = make_jet_vae(settings, seed=None).state_dict()
    betas, states = {}, {}
    for direction, record in metadata["sweeps"].items():
        betas[direction] = np.asarray(record["betas"], dtype=float)
        path = folder / record["file"]
        if not path.is_file():
            raise ValueError(f"weights file {record['file']!r} of sweep {name!r} is missing; the package "
                             "install is incomplete (re-install, or re-run the training command).")
        stored = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(stored, list) or len(stored) != len(betas[direction]):
            raise ValueError(f"{record['file']} holds {len(stored) if isinstance(stored, list) else '?'} states "
                             f"but the metadata lists {len(betas[direction])} betas; the files do not belong together.")
        loaded = []
        for state in stored:
            if set(state) != set(reference) or any(state[k].shape != reference[k].shape for k in reference):
                raise ValueError(f"{record['file']} does not match the architecture in metadata.json.")
            loaded.append({k: v.to(torch.float32) for k, v in state.items()})
        states[direction] = tuple(loaded)
    return PretrainedSweep(name=name, settings=settings, metadata=metadata, betas=betas, states=states,
                           pt_scale=float(metadata["data"]["pt_scale_GeV"]))
