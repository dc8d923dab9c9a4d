"""jetgeom_lite: the helper package of the book "The Learnt Geometry of Collider Events".

Modules follow the book's story, and data flows one way::

    data, observables, toys -> emd / sinkhorn -> vae, jet_vae, categorical
        -> dimension / geometry -> hmc                   (plotting and metrics beside them)

- ``data``: real W, top and QCD jets from Pythia 8 and FastJet, cached; preprocessing, the mass
  window; readers of public data sets. ``observables``: N-subjettiness, two-prong kinematics.
- ``emd``: exact Earth Mover's Distance (POT), pairwise EMDs.
- ``sinkhorn``: a batched, differentiable Sinkhorn approximation of the EMD in torch.
- ``toys``: manifolds of known dimension. ``vae`` (a package: model, loss, training, evaluation,
  sweep): a VAE whose loss prices information at resolution beta, trained along beta sweeps.
  ``jet_vae``: the same for jets, with an EMD loss, and the shipped sweeps. ``categorical`` (a
  package): a relaxed-Bernoulli latent beside the Gaussian one, read out as a label-free tagger.
  ``train``: ``python -m jetgeom_lite.train`` reproduces the shipped weights.
- ``dimension``: the correlation dimension, and dimensions from information (D1) and from
  resolution (D2) along a sweep.
- ``geometry``: the latent metric built from posterior widths, its volume, path lengths, the
  Fisher-Rao distance. ``hmc``: Hamiltonian Monte Carlo and the intrinsic prior.
- ``metrics``: ROC curves and AUC; generated-jet metrics (W1, FPD, KPD, coverage/MMD).
- ``plotting`` (a package, one submodule per chapter idea): event displays and the book's colours.
  ``environment``: device, threads and the size switch. ``_validation``, ``_jets``: the checks and
  helpers every module shares (private).

Jet arrays follow energyflow's convention: each particle is a row (pT [GeV], y, phi [rad]);
batches are zero-padded to a common length and carry a boolean mask.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
