"""Shared test configuration.

Property tests (hypothesis) explore new random examples on every local run; under CI (the ``CI``
environment variable, which .ci/run and most CI services set) they run derandomized, so that a CI
result depends only on the code. A failure found locally prints the example to add with
``@example``. (The wheel check runs tests/test_wheel.py without hypothesis installed.)"""
import os

try:
    from hypothesis import settings
except ImportError:  # pragma: no cover - only the wheel check's environment
    settings = None

if settings is not None:
    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")
