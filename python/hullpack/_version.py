"""hullpack's version, in one place: the package (``hullpack.__version__``) and the build
(scikit-build-core's regex metadata provider, see pyproject.toml) both read this line."""
__version__ = "0.2.0"
