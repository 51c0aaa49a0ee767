"""Progress bars that stay out of the way: off when stderr is not a TTY or when asked to be quiet."""
from __future__ import annotations

import os
import sys

from tqdm.auto import tqdm


def progress(iterable=None, *, total=None, desc=None, unit="it", disable=None, **kwargs):
    """A tqdm bar; disabled when not on a TTY, or when ``HULLPACK_QUIET`` is set, unless forced."""
    if disable is None:
        disable = bool(os.environ.get("HULLPACK_QUIET")) or not sys.stderr.isatty()
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, leave=False, **kwargs)
