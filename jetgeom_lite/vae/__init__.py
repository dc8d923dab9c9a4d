"""A Gaussian VAE whose loss carries a unit: the information cost of describing data at resolution beta.

The loss (REFERENCE.md section 3, Collins arXiv:2109.10919)::

    L = < d(x, x_hat)^2 > / (2 beta^2) + sum_k KL_k,
    KL_k = 1/2 (mu_k^2 + sigma_k^2 - 1 - ln sigma_k^2)       [nats]

with ``d`` a distance between an input and its reconstruction (Euclidean for vectors, the EMD for
jets) and ``beta`` in the unit of ``d``. Three readings: beta prices information (a latent
direction is used only when it pays for itself in reconstruction), beta has the unit of the
distance, and beta is the resolution (latent sampling smears the output at scale ~beta).

The pieces are separate so that other data (jets) plug in without new training code:

- :class:`VAE` wraps any ``encoder(x, *extras) -> (mu, log_var)``, any ``decoder(z) -> x_hat`` and
  any ``distance(x, x_hat, *extras) -> squared distance per sample``. ``extras`` are further
  per-event tensors (a particle mask, say) that travel with ``x`` through batching.
- :func:`vae_loss` is the formula, on tensors.
- :func:`train_vae` trains at one beta; :func:`beta_sweep` anneals over a monotonic grid of beta,
  warm-starting each step from the last and recording KL per direction, distortion and the weights.
- :func:`make_mlp_vae` and :func:`make_mlp_autoencoder` build small models for vectors; the plain
  autoencoder is the same class with ``stochastic=False`` (no KL, no scale).

Layout (every public name is re-exported here, so ``from jetgeom_lite.vae import X`` works):

- :mod:`.model`: :class:`VAE`, :class:`VAEOutput`, the MLP networks and their factories;
- :mod:`.loss`: :func:`vae_loss`, :func:`kl_per_latent`, :class:`VAELoss`;
- :mod:`.training`: :func:`train_vae`, :func:`train_autoencoder` and the one training loop;
- :mod:`.evaluation`: :func:`evaluate_vae` and the decoded-posterior helpers;
- :mod:`.sweep`: :func:`beta_sweep`, :class:`BetaSweep`.

Device rule (all functions): ``device=None`` leaves the model where its parameters are; pass
``device="cuda"`` (e.g. ``chapter_setup().device``) to move it.

Hooks for another latent type (e.g. a relaxed-Bernoulli latent beside the Gaussian one): a
:class:`VAE` subclass overrides ``encode``/``sample_latent``/``loss`` (the training loop only calls
``model.loss(batch, beta, generator=...)``), passes its extra KL to :func:`vae_loss` as
``extra_kl`` (weighted by ``extra_kl_weight``), and overrides ``evaluation_terms`` for
:func:`evaluate_vae` and :func:`beta_sweep`.
"""


from .evaluation import VAEEvaluation, decoded_posterior_covariance, decoded_posterior_samples, evaluate_vae
from .loss import VAELoss, kl_per_latent, vae_loss
from .model import VAE, MLPDecoder, MLPEncoder, VAEOutput, make_mlp_autoencoder, make_mlp_vae, squared_euclidean_distance
from .sweep import BetaSweep, beta_sweep
from .training import TrainingHistory, train_autoencoder, train_vae

__all__ = [
    "VAE",
    "VAEOutput",
    "VAELoss",
    "VAEEvaluation",
    "TrainingHistory",
    "BetaSweep",
    "MLPEncoder",
    "MLPDecoder",
    "squared_euclidean_distance",
    "kl_per_latent",
    "vae_loss",
    "make_mlp_vae",
    "make_mlp_autoencoder",
    "train_vae",
    "train_autoencoder",
    "evaluate_vae",
    "beta_sweep",
    "decoded_posterior_samples",
    "decoded_posterior_covariance",
]
