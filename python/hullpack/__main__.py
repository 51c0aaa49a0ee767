"""``python -m hullpack`` is the same as the ``hullpack`` command."""
from .cli import main

raise SystemExit(main())
