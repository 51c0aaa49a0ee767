"""Every Python example in docs/xai.md runs as written (in order, in one namespace, with its untrained
model), and gives what the text around it says: the names, columns and shapes it lists."""
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("shap")
pytest.importorskip("sklearn")
pytest.importorskip("pymatgen")

DOC = Path(__file__).resolve().parents[1] / "docs" / "xai.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_doc_has_its_setup_and_six_analyses():
    assert len(BLOCKS) == 7


@pytest.fixture(scope="module")
def namespace():
    ns = {"__name__": "__doc__"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, block in enumerate(BLOCKS):
            exec(compile(block, f"docs/xai.md example {i}", "exec"), ns)
    return ns


def test_shap_example_names_its_rows_and_adds_up_to_the_predictions(namespace):
    ex, xai, model = namespace["ex"], namespace["xai"], namespace["model"]
    formulas = ["NaCl", "Fe2O3", "CaTiO3"]
    assert ex.instance_names == formulas and ex.values.shape == (3, 86)
    np.testing.assert_allclose(ex.values.sum(axis=1) + ex.base_values, xai.predict(model, formulas), atol=1e-6)
    assert {"n_present", "mean_abs", "mean", "mean_abs_absent"} <= set(xai.shap_summary(ex).columns)


def test_occlusion_alignment_and_surrogate_have_the_columns_the_doc_lists(namespace):
    df, al, s = namespace["df"], namespace["al"], namespace["s"]
    assert {"n_containing", "delta_mae", "ci_low", "ci_high", "delta_mae_affected"} <= set(df.columns)
    assert {"quantity", "property", "unit", "rho", "p_value", "n"} <= set(al.columns)
    assert {"r2_train", "r2_test", "mae_test", "n_leaves"} <= set(s.fidelity.columns)
    assert list(s.fidelity.index) == list(range(1, 9))
    assert len(namespace["resp"]) == 86


def test_binary_scans_cover_the_pairs_the_doc_counts(namespace):
    allp, xai = namespace["allp"], namespace["xai"]
    assert len(allp) == 3655
    assert xai.group_matrix(allp, "abs_deviation").shape == (18, 18)
    # a pair without a predicted compound has no x_p: its deviation is NaN, not |0 - x_e| or |1 - x_e|
    assert allp.loc[~allp["forms"], "abs_deviation"].isna().all()


def test_projection_summary_has_the_doc_columns(namespace):
    summary = namespace["p"].summary
    assert {"layer", "width", "set", "pc1_share", "pc2_share", "group_separation"} <= set(summary.columns)
    assert set(summary["set"]) == {"pure", "binary"}
