"""Where the model maild ships lives (how it is built: :mod:`maild.classify.shipped`).

Its own module because maild's main process and the workers need only the path, and
:mod:`maild.classify.shipped` imports the training code (scikit-learn and scipy, about
0.8 s of CPU per process).
"""

from __future__ import annotations

__all__ = ["DEFAULT_MODEL"]

from pathlib import Path
from typing import Final

#: Inside the package, so an installed maild and a source checkout find it alike.
DEFAULT_MODEL: Final = Path(__file__).resolve().with_name("default_model.npz")
