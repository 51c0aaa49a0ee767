"""``python -m hullpack.hep`` (under ``torchrun`` too): train the Interaction Network on a preset, as
:func:`hullpack.hep.train.main`. Run as ``hullpack.hep``, not ``hullpack.hep.train``: the package
imports its train module, so running that module as ``__main__`` would load it twice (Python warns)."""
from .train import main

raise SystemExit(main())
