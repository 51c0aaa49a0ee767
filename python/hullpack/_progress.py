"""Progress bars that stay out of the way: off when stderr is not a TTY or when asked to be quiet."""
from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def progress(iterable=None, *, total=None, desc=None, unit="it", show: bool | None = None, **kwargs):
    """A tqdm bar. ``show``, as the ``progress_bar``/``show_progress`` arguments of hullpack's
    functions take it: None shows it on a TTY unless ``HULLPACK_QUIET`` is set, True always, False
    never."""
    disable = (bool(os.environ.get("HULLPACK_QUIET")) or not sys.stderr.isatty()) if show is None else not show
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, leave=False, **kwargs)
