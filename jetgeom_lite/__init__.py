"""jetgeom_lite: the helper package of the book "The Learnt Geometry of Collider Events".

Modules follow the book's story, and data flows one way::

    data -> emd / sinkhorn -> vae -> dimension / geometry -> hmc     (plotting beside them)

Jet arrays follow energyflow's convention: each particle is a row (pT [GeV], y, phi [rad]);
batches are zero-padded to a common length and carry a boolean mask.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
