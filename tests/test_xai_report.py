"""`hullpack explain` and xai.explain end to end on a tiny model file (a few seconds)."""
import json

import pytest
import torch

from hullpack.cli import main

pytest.importorskip("shap")
pytest.importorskip("sklearn")
pytest.importorskip("pymatgen")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    from hullpack.elemnet import ElemNet, save_model

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return save_model(ElemNet("32x1D-16x1-1", (0.1,)), path, metadata={"epoch": 1, "val_mae": 0.5})


SMALL = ["--n-shap", "12", "--n-background", "8", "--n-kernel", "1", "--n-importance", "300",
         "--n-bootstrap", "20", "--n-surrogate", "200", "--grid", "21", "--hull-grid", "4", "--threads", "1"]


@pytest.fixture(autouse=True)
def _restore_threads():
    # --threads sets torch's process-wide thread count: give the rest of the session its own back
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def test_explain_writes_the_report(model_file, tmp_path):
    out = tmp_path / "report"
    rc = main(["-q", "explain", "--out", str(out), "--model", str(model_file), *SMALL])
    assert rc == 0
    for name in ("report.md", "report.html", "results.json", "shap_beeswarm.png", "importance_bar.png",
                 "alignment_scatter.png", "surrogate_tree.png", "xp_xe.png", "group_deviation.png",
                 "pca_pure.png", "pca_binary.png", "periodic_response.png", "tables/alignment.csv",
                 "hull_agreement.png", "hull_f1.png", "tables/hull_screen_systems.csv"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    results = json.loads((out / "results.json").read_text())
    assert set(results["seconds"]) == {"shap", "importance", "alignment", "surrogate", "binaries", "hulls",
                                       "projection"}
    hulls = results["hulls"]
    assert hulls["systems"] == 3655 and 0 < hulls["systems_with_dft_stable"] < 3655
    assert 0.0 <= hulls["agree_share"] <= 1.0 and 0.0 <= hulls["stability_f1"] <= 1.0
    assert results["shap"]["additivity_max_error"] < 1e-4
    assert results["importance"]["n"] == 300
    assert results["binaries"]["pairs"] == 3655
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(list(out.glob("*.png")))   # self-contained
    md = (out / "report.md").read_text()
    assert "](shap_bar.png)" in md and "## Occlusion importance" in md


def test_explain_runs_one_analysis(model_file, tmp_path):
    out = tmp_path / "one"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only", "surrogate", *SMALL]) == 0
    assert set(json.loads((out / "results.json").read_text())["seconds"]) == {"surrogate"}
    assert not (out / "pca_pure.png").exists()


@pytest.mark.parametrize("setup, message", [
    ("missing", "does not exist"),
    ("corrupt", "corrupt"),
    ("untrained", "records no training"),
    ("bad-only", "unknown analyses"),
    ("bad-size", "--n-shap = 0 must be >= 1"),
])
def test_explain_refuses_bad_input(setup, message, model_file, tmp_path, capsys):
    from hullpack.elemnet import ElemNet, save_model

    path, extra = tmp_path / "m.pt", []
    if setup == "corrupt":
        path.write_bytes(model_file.read_bytes()[:1000])          # truncated
    elif setup == "untrained":
        save_model(ElemNet("8x1-1", ()), path)
    elif setup == "bad-only":
        path, extra = model_file, ["--only", "shap,magic"]
    elif setup == "bad-size":
        path, extra = model_file, ["--n-shap", "0"]
    rc = main(["-q", "explain", "--out", str(tmp_path / "out"), "--model", str(path), *extra])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "report.html").exists()


def test_explain_help_names_every_analysis_and_default():
    from hullpack.cli import build_parser
    from hullpack.xai import ANALYSES, ExplainConfig

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["explain"]
    text = " ".join(sub.format_help().split())
    assert ",".join(ANALYSES) in text.replace(" ", "")
    d = ExplainConfig()
    for value in (d.n_shap, d.n_background, d.n_kernel, d.n_bootstrap, d.n_surrogate, d.n_grid):
        assert f"default {value})" in text, value



def test_docs_xai_md_examples_run(tmp_path, monkeypatch):
    # the examples build on each other (model, x), so they run in order in one namespace
    import re
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    doc = Path(__file__).resolve().parents[1] / "docs" / "xai.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__xai_doc__"}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/xai.md example {i}", "exec"), namespace)
    # what the text promises of each example
    import numpy as np

    from hullpack.elements import ELEMNET_ELEMENTS

    ns = namespace
    xai, model, x = ns["xai"], ns["model"], ns["x"]
    assert x.shape == (200, 86)
    ex = ns["ex"]                                    # SHAP of three formulas, 86 named columns
    assert ex.values.shape == (3, 86) and list(ex.feature_names) == list(ELEMNET_ELEMENTS)
    np.testing.assert_allclose(ex.values.sum(axis=1) + ex.base_values,
                               xai.predict(model, ["NaCl", "Fe2O3", "CaTiO3"]), atol=1e-6)
    df = ns["df"]                                    # occlusion importance, one row per element present
    assert {"n_containing", "delta_mae", "ci_low", "ci_high"} <= set(df.columns)
    assert (df["ci_low"] <= df["delta_mae"]).all() and (df["delta_mae"] <= df["ci_high"]).all()
    assert set(ns["al"]["property"]) <= set(xai.PROPERTIES) and ns["al"]["rho"].abs().max() <= 1
    s = ns["s"]                                      # surrogate trees of depth 1..8
    assert list(s.fidelity.index) == list(range(1, 9)) and s.fidelity["r2_train"].is_monotonic_increasing
    assert len(ns["allp"]) == 3655 and ns["pairs"]["A"].isin(xai.binaries.cation_anion_elements()[0]).all()
    assert set(ns["p"].summary["set"]) == {"pure", "binary"}         # 86 pure elements, 3,655 binaries
