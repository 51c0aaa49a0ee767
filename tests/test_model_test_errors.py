"""The shipped model's test errors by number of elements (binaries' have a long tail), and where the
screen and stability summaries quote them."""
from __future__ import annotations

import pytest
import torch

from hullpack.elemnet import load_pretrained
from hullpack.elemnet.data import oqmd_arrays
from hullpack.elemnet.pretrained import SHIPPED_TEST_ERRORS, SHIPPED_WEIGHTS_SHA256, errors_by_elements, model_test_errors


@pytest.fixture(scope="module")
def shipped():
    model = load_pretrained()
    if model.metadata.get("sha256") != SHIPPED_WEIGHTS_SHA256:
        pytest.skip("the default model was replaced by an export: its file records its own errors")
    return model


def test_the_recorded_errors_are_the_shipped_models_on_the_test_split(shipped):
    x, y = oqmd_arrays("test")
    with torch.no_grad():
        predicted = shipped(torch.from_numpy(x)).numpy().ravel()
    measured = errors_by_elements(x, y, predicted)
    assert measured.keys() == SHIPPED_TEST_ERRORS.keys()
    for k, (mae, median, n) in SHIPPED_TEST_ERRORS.items():
        assert measured[k][2] == n and measured[k][0] == pytest.approx(mae, abs=2e-4), k
        assert measured[k][1] == pytest.approx(median, abs=2e-4), k
    assert model_test_errors(shipped) == SHIPPED_TEST_ERRORS
    assert SHIPPED_TEST_ERRORS["2"][0] > 2 * SHIPPED_TEST_ERRORS["2"][1]  # the long tail the summaries name


def test_a_module_of_ones_own_has_none():
    assert model_test_errors(torch.nn.Linear(86, 1)) is None


def test_the_binary_screen_quotes_the_binaries_errors_and_the_ternary_screen_does_not(shipped):
    from hullpack.screening import screen

    line = next(s for s in screen(elements="Li Na Cl O", order=2, progress=False, compare_dft=False).summary()
                .splitlines() if " robust (" in s)
    mae, median, _ = SHIPPED_TEST_ERRORS["2"]
    assert f"its test MAE on binary compounds is {1000 * mae:.0f} meV/atom, median {1000 * median:.0f}" in line
    ternary = screen(elements="Li Na Cl O", order=3, progress=False, compare_dft=False).summary()
    assert "robust (" in ternary and "on ternary compounds" not in ternary  # 41 against 42 overall: not said


def test_stability_names_the_binaries_error_beside_the_models(tmp_path, capsys, shipped):
    from hullpack.cli import main

    main(["stability", "NaCl2", "--out", str(tmp_path / "out")])
    energies = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("energies:"))
    assert "the model's test MAE is 42 meV/atom (96 on binary compounds, median 38)" in energies
