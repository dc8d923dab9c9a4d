"""The shipped top/QCD models of chapter 5 (``python -m jetgeom_lite.train topqcd``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..jet_vae import JetVAESettings
from .model import CategoricalVAE, make_categorical_jet_vae
from .readout import SetTagger

__all__ = ["PretrainedClassifier", "load_pretrained_classifier"]


# --------------------------------------------------------------------------------------------
# shipped weights


@dataclass(frozen=True, eq=False)
class PretrainedClassifier:
    """The shipped top/QCD models of chapter 5 and their metadata (``python -m jetgeom_lite.train topqcd``).

    Attributes
    ----------
    name : str
    settings : JetVAESettings
        Architecture of the trunk, Gaussian latent (``latent_dim``) and decoder.
    metadata : dict
        Recipe, timings and every metric measured on held-out jets.
    folder : pathlib.Path
    """

    name: str
    settings: JetVAESettings
    metadata: dict
    folder: object

    def _states(self, file: str) -> list:
        path = self.folder / file
        if not path.is_file():
            raise ValueError(f"weights file {file!r} of {self.name!r} is missing; re-install the package or re-run "
                             "`python -m jetgeom_lite.train topqcd`.")
        return torch.load(path, map_location="cpu", weights_only=True)

    def _categorical(self, state: dict, beta_hat: float) -> CategoricalVAE:
        meta = self.metadata
        model = make_categorical_jet_vae(self.settings, n_binary=meta["n_binary"], temperature=meta["temperature"],
                                         prior_prob=meta["prior_prob"], seed=None)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
        model.beta.fill_(beta_hat / meta["pt_scale_GeV"])  # exact, not the float16 copy
        return model.eval()

    def stages(self) -> np.ndarray:
        """alpha_w after each stage of the main run."""
        return np.asarray(self.metadata["main"]["alpha_weights"])

    def model(self, stage: int | None = None) -> CategoricalVAE:
        """The main run after ``stage`` (default: the read-out stage, alpha_w = 0.46), eval mode."""
        states = self._states(self.metadata["main"]["file"])
        stage = self.metadata["readout_stage"] if stage is None else stage
        if isinstance(stage, bool) or not isinstance(stage, (int, np.integer)) or not -len(states) <= stage < len(states):
            raise ValueError(f"stage must be an integer in [0, {len(states)}), got {stage!r}.")
        return self._categorical(states[int(stage)], self.metadata["main"]["beta_hat_GeV"])

    def variant_names(self) -> list[str]:
        return sorted(self.metadata.get("variants", {}))

    def variant(self, name: str) -> CategoricalVAE:
        """A robustness variant (``"seed1"``, ``"seed2"``, ``"top10"``, ``"beta25"``, ...), at its read-out stage."""
        variants = self.metadata.get("variants", {})
        if name not in variants:
            raise ValueError(f"no variant {name!r}; available: {sorted(variants)}.")
        return self._categorical(self._states(variants[name]["file"])[0], variants[name]["beta_hat_GeV"])

    def supervised(self) -> "SetTagger":
        """The supervised tagger with the same trunk (the ceiling), eval mode."""
        tagger = SetTagger(self.settings)
        tagger.load_state_dict({k: v.float() for k, v in self._states(self.metadata["supervised"]["file"])[0].items()})
        return tagger.eval()

    def qcd_vae(self):
        """The Gaussian jet VAE trained on QCD jets only (the classic anomaly score), eval mode."""
        from ..jet_vae import make_jet_vae

        vae = make_jet_vae(self.settings, seed=None)
        vae.load_state_dict({k: v.float() for k, v in self._states(self.metadata["qcd_vae"]["file"])[0].items()})
        return vae.eval()


def load_pretrained_classifier(name: str = "topqcd", directory=None) -> PretrainedClassifier:
    """Load the shipped categorical jet VAE of chapter 5 and its references.

    Parameters
    ----------
    name : str
        ``"topqcd"``.
    directory : str or Path, optional
        Load from here instead of the package (the output of ``python -m jetgeom_lite.train topqcd``).

    Examples
    --------
    >>> shipped = load_pretrained_classifier("topqcd")          # doctest: +SKIP
    >>> model = shipped.model()        # alpha_w = 0.46, the read-out stage  # doctest: +SKIP
    """
    import json
    from pathlib import Path

    from ..jet_vae import _weights_root

    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}.")
    folder = _weights_root() / name if directory is None else Path(directory)
    meta_path = folder / "metadata.json"
    if not meta_path.is_file():
        raise ValueError(f"no shipped classifier {name!r} (no metadata.json in its folder); train it with "
                         f"`python -m jetgeom_lite.train {name}` and pass directory=...")
    metadata = json.loads(meta_path.read_text())
    if metadata.get("kind") != "categorical" or metadata.get("name") != name:
        raise ValueError(f"{meta_path.name} in the folder of {name!r} does not describe a categorical classifier "
                         f"named {name!r}.")
    return PretrainedClassifier(name=name, settings=JetVAESettings.from_dict(metadata["model"]), metadata=metadata,
                                folder=folder)
