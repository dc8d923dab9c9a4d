"""jetgeom_lite: the helper package of the book "The Learnt Geometry of Collider Events".

Modules follow the book's story, and data flows one way::

    data, observables, toys -> emd / sinkhorn -> vae, jet_vae -> dimension    (plotting beside them)

- ``data``: real W, top and QCD jets from Pythia 8 and FastJet, cached; preprocessing; readers of
  public data sets. ``observables``: N-subjettiness, two-prong kinematics.
- ``emd``: exact Earth Mover's Distance (POT), pairwise EMDs, the correlation dimension.
- ``sinkhorn``: a batched, differentiable Sinkhorn approximation of the EMD in torch.
- ``toys``: manifolds of known dimension. ``vae``: a VAE whose loss prices information at
  resolution beta, trained along beta sweeps. ``jet_vae``: the same for jets, with an EMD loss.
- ``dimension``: dimensions from information (D1) and from resolution (D2) along a sweep.
- ``plotting``: event displays and the book's colours. ``environment``: device and size switch.

Jet arrays follow energyflow's convention: each particle is a row (pT [GeV], y, phi [rad]);
batches are zero-padded to a common length and carry a boolean mask.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
