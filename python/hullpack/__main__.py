"""``python -m hullpack`` is the same as the ``hullpack`` command. Importing this module (as
documentation tools and test collectors that walk the package do) runs nothing."""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
