"""Shared test configuration.

Property tests (hypothesis) explore new random examples on every local run; under CI (the ``CI``
environment variable, which .ci/run and most CI services set) they run derandomized, so that a CI
result depends only on the code. A failure found locally prints the example to add with
``@example``. (The wheel check runs tests/test_wheel.py without hypothesis installed.)"""
import os

import pytest

try:
    from hypothesis import settings
except ImportError:  # pragma: no cover - only the wheel check's environment
    settings = None

if settings is not None:
    settings.register_profile("ci", derandomize=True, print_blob=True)
    if os.environ.get("CI"):
        settings.load_profile("ci")


@pytest.fixture(scope="module")
def model():
    """A small ElemNet (32x2-16x1-1, no dropout), seeded, whose energies lie around -0.5 eV/atom:
    quick screens with hulls and stable compounds (imports inside: the wheel check's environment
    has no torch)."""
    import torch

    from hullpack.elemnet import ElemNet

    torch.manual_seed(0)
    m = ElemNet("32x2-16x1-1", dropout=()).eval()
    with torch.no_grad():
        m.net[-1].bias.fill_(-0.5)
    return m
