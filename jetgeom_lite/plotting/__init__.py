"""Figures for the book, one submodule per idea, every name re-exported here.

``from jetgeom_lite.plotting import event_display`` works whichever submodule defines it:

- :mod:`.jets` - the style, process colours, event displays, histogram comparisons, settings tables
  (chapters 1, 2, 4);
- :mod:`.emd` - transport plans, jet images, correlation dimensions, the two-prong disk (chapter 2);
- :mod:`.vae` - toy-VAE figures (chapter 3);
- :mod:`.classification` - ROC curves and score histograms (chapter 5);
- :mod:`.geometry` - latent metric maps and HMC traces (chapter 6);
- :mod:`.latent` - the interactive latent explorer (chapters 4 and 6).

Functions draw into an ``Axes`` the caller made and return the artists they added; they never
create figures or change global state.
"""

from . import classification as _classification
from . import emd as _emd
from . import geometry as _geometry
from . import jets as _jets
from . import latent as _latent
from . import vae as _vae
from .classification import *  # noqa: F401,F403
from .emd import *  # noqa: F401,F403
from .geometry import *  # noqa: F401,F403
from .jets import *  # noqa: F401,F403
from .latent import *  # noqa: F401,F403
from .vae import *  # noqa: F401,F403

__all__ = [*_jets.__all__, *_emd.__all__, *_vae.__all__, *_classification.__all__, *_geometry.__all__,
           *_latent.__all__]
