"""The xai API as its docs write it, and what it says to input it cannot use: ``xai.plots`` after
``import hullpack.xai as xai`` alone, no targets for occlusion, a model with no hidden layer to project."""
import subprocess
import sys

import pytest
import torch

from hullpack import xai
from hullpack.errors import CompositionError

pytest.importorskip("sklearn")
pytest.importorskip("pymatgen")


def test_plots_is_there_after_importing_the_package_alone():
    # docs/xai.md: `xai.plots.matrix_heatmap(...)` after `import hullpack.xai as xai`; a fresh
    # interpreter, where nothing else has imported hullpack.xai.plots
    code = "import hullpack.xai as xai, sys; xai.plots.matrix_heatmap; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"  # matplotlib only when a figure is drawn


def test_occlusion_without_targets_says_so():
    with pytest.raises(CompositionError, match=r"^targets is None: give .*eV/atom"):
        xai.occlusion_importance(torch.nn.Linear(86, 1), ["NaCl", "Fe2O3"], None)


def test_projection_of_a_model_without_hidden_layers_says_so():
    with pytest.raises(ValueError, match=r"^the model has no hidden layer"):
        xai.layer_projection(torch.nn.Linear(86, 1))


def test_element_pairs_name_an_unknown_symbol():
    from hullpack.xai.binaries import charge_balanced_fractions, orient

    with pytest.raises(ValueError, match="unknown element\\(s\\) 'Qq': give element symbols"):  # was KeyError: 'Qq'
        charge_balanced_fractions("Fe", "Qq")
    with pytest.raises(ValueError, match="'fe'"):
        orient("fe", "O")
