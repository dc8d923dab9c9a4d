r"""A binary latent beside the Gaussian one: unsupervised classification (chapter 5).

The VAE of chapters 3 and 4 with one addition, after the model in Collins' public code for
top/QCD jets (EMD_VAE, branch ``sdf_studies``; not in the paper): a few *relaxed Bernoulli*
(binary Concrete) units :math:`s_u \in (0, 1)` {Maddison et al., arXiv:1611.00712; Jang et al.,
arXiv:1611.01144}. The encoder's trunk gives logits :math:`\ln\alpha_u`; a sample is

.. math:: s_u = \sigma\big((\ln\alpha_u + \ln u - \ln(1-u)) / T\big),\quad u \sim U(0, 1),\quad T = 0.3,

the Gaussian head is conditioned on ``s`` (so the Gaussian directions a jet uses can depend on
its category) and the decoder reads :math:`[z, s]`. The loss, in nats,

.. math:: L = \frac{\langle \mathrm{EMD}^2\rangle}{2\beta^2} + \sum_k \mathrm{KL}_k
          + \alpha_w \sum_u \big[d_u \coth(d_u/2) - 2\big],\qquad d_u = \ln\alpha_u - \mathrm{logit}\,p_u,

where the last term is the KL of the logit-space variable (two unit-scale logistic densities;
it does not depend on ``T``) and :math:`\alpha_w` is annealed upwards during training.

Nothing here reads labels except the metrics in :mod:`jetgeom_lite.metrics`. The readout
(:func:`oriented_score`, :func:`unsupervised_score`) picks the unit with the largest mean KL and
its deterministic logit as the score, and orients it by a label-free rule: the side whose jets
cost more nats to describe at resolution beta (per-jet distortion / (2 beta^2) + Gaussian KL)
is the positive ("top", the more complex class) side.

Jet arrays follow the energyflow convention: rows ``(z, y, phi)`` with ``z`` the pT fraction,
zero-padded ``(n_jets, M, 3)`` batches with a boolean mask ``(n_jets, M)``.

The package: :mod:`.latent` (the KL and the sampler), :mod:`.model` (the model and its training),
:mod:`.readout` (the label-free readout, jet evaluation helpers, the toy, the supervised ceiling),
:mod:`.pretrained` (the shipped weights); every name is re-exported here.

Examples
--------
>>> import torch
>>> round(float(kl_relaxed_bernoulli(torch.tensor(3.0))), 6)      # 3 coth(1.5) - 2
1.314374
"""

from __future__ import annotations

from .latent import DEFAULT_TEMPERATURE, kl_bernoulli, kl_relaxed_bernoulli, relaxed_bernoulli_sample
from .model import (ALPHA_SCHEDULE, CategoricalTrainingHistory, CategoricalVAE, CategoricalVAELoss,
                    CategoricalVAEOutput, JetTrunk, MLPTrunk, make_categorical_jet_vae, make_categorical_mlp_vae,
                    train_categorical_vae)
from .pretrained import PretrainedClassifier, load_pretrained_classifier
from .readout import (ORIENTATION_RULE, ClassifierScore, SetTagger, _deterministic_pass,  # noqa: F401 (train.py)
                      categorical_reconstruction_emd, decoded_movement, dot_and_segment, oriented_score,
                      train_set_tagger, unsupervised_score)

__all__ = [
    "DEFAULT_TEMPERATURE", "kl_relaxed_bernoulli", "kl_bernoulli", "relaxed_bernoulli_sample",
    "CategoricalVAE", "CategoricalVAEOutput", "CategoricalVAELoss", "JetTrunk", "MLPTrunk",
    "make_categorical_jet_vae", "make_categorical_mlp_vae", "ALPHA_SCHEDULE", "CategoricalTrainingHistory",
    "train_categorical_vae", "ORIENTATION_RULE", "ClassifierScore", "oriented_score", "unsupervised_score",
    "categorical_reconstruction_emd", "decoded_movement", "dot_and_segment", "SetTagger", "train_set_tagger",
    "PretrainedClassifier", "load_pretrained_classifier",
]
