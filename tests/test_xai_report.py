"""`hullpack explain` and xai.explain end to end on a tiny model file (a few seconds)."""
import json
from pathlib import Path

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
    # standard JSON: an undefined figure (the precision of a model that predicts no compound) is null
    results = json.loads((out / "results.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    assert set(results["seconds"]) == {"shap", "importance", "alignment", "surrogate", "binaries", "hulls",
                                       "projection"}
    hulls = results["hulls"]
    assert hulls["systems"] == 3655 and 0 < hulls["systems_with_dft_stable"] < 3655
    assert 0.0 <= hulls["stability_f1"] <= 1.0
    # agreement as hullpack screen's summary counts it: over the systems with a predicted or a DFT
    # stable compound, where the report counted only those with a DFT one (disagreeing systems with
    # only predicted compounds left out)
    import pandas as pd

    s = pd.read_csv(out / "tables" / "hull_screen_systems.csv")
    either = s[(s.n_stable > 0) | (s.n_dft_stable > 0)]
    assert hulls["systems_with_compounds"] == len(either) >= hulls["systems_with_dft_stable"]
    assert hulls["agree_with_compounds"] == pytest.approx(either["agree"].mean())
    assert hulls["grid"] == "uniform:4"                                  # --hull-grid 4
    assert results["shap"]["additivity_max_error"] < 1e-4
    assert results["importance"]["n"] == 300
    assert results["binaries"]["pairs"] == 3655
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(list(out.glob("*.png")))   # self-contained
    md = (out / "report.md").read_text()
    assert "](shap_bar.png)" in md and "## Occlusion importance" in md
    # the share forming is said as lowest_energy_fraction computes it, not as any dip below the line
    assert "lies between the pure elements, at least 10 meV/atom below both of their predictions" in md
    assert "a minimum below the line between the pure elements" not in md
    # counts are written as counts, not 25.000: groups 1 x 15 have 5 x 5 pairs
    assert "| 1 | 15 | 25 | " in md and "| 1.000 | 15.000 |" not in md
    # and with thousands separated, as the text writes them ("All 3,655 binary systems")
    assert "| uniform:4 | 3,655 | " in md and "All 3,655 binary systems" in md and "3655" not in md
    # the projection's table names the layers as its figures do ("layer 1 (32)"), with their modules
    assert "| layer 1 (32): net.1 |" in md and "| layer 2 (16): " in md


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
    ("negative-seed", "--seed = -1 must be >= 0"),       # not every analysis failing on it later
    ("bad-hull-grid", "--hull-grid = 'reduced:x': expected 'uniform:N'"),
    ("out-is-a-file", "is a file; give a folder for the report"),
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
    elif setup == "negative-seed":
        path, extra = model_file, ["--seed", "-1"]
    elif setup == "bad-hull-grid":
        path, extra = model_file, ["--hull-grid", "reduced:x"]
    out = tmp_path / "out"
    if setup == "out-is-a-file":
        path, out = model_file, tmp_path / "report.txt"
        out.write_text("mine")
    rc = main(["-q", "explain", "--out", str(out), "--model", str(path), *extra])
    assert rc == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out" / "report.html").exists()
    if setup == "out-is-a-file":
        from hullpack.xai import explain

        with pytest.raises(ValueError, match="is a file; the report needs a folder"):
            explain(out, model_path=model_file, only="surrogate")
        assert out.read_text() == "mine"


def test_explain_help_names_every_analysis_and_default():
    from hullpack.cli import build_parser
    from hullpack.xai import ANALYSES, ExplainConfig

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["explain"]
    text = " ".join(sub.format_help().split())
    assert ",".join(ANALYSES) in text.replace(" ", "")
    d = ExplainConfig()
    for value in (d.n_shap, d.n_background, d.n_kernel, d.n_bootstrap, d.n_surrogate, d.n_grid):
        assert f"default {value:,})" in text, value                      # 20,000 as the report writes it



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
    assert ex.instance_names == ["NaCl", "Fe2O3", "CaTiO3"]
    np.testing.assert_allclose(ex.values.sum(axis=1) + ex.base_values,
                               xai.predict(model, ["NaCl", "Fe2O3", "CaTiO3"]), atol=1e-6)
    df = ns["df"]                                    # occlusion importance, one row per element present
    assert list(xai.shap_summary(ex).columns) == ["n_present", "mean_abs", "mean", "mean_abs_absent"]
    assert ns["measured"].isna().sum() == (ns["df"]["n_containing"] == 0).sum()
    assert {"n_containing", "delta_mae", "ci_low", "ci_high"} <= set(df.columns)
    assert (df["ci_low"] <= df["delta_mae"]).all() and (df["delta_mae"] <= df["ci_high"]).all()
    assert set(ns["al"]["property"]) <= set(xai.PROPERTIES) and ns["al"]["rho"].abs().max() <= 1
    s = ns["s"]                                      # surrogate trees of depth 1..8
    assert list(s.fidelity.index) == list(range(1, 9)) and s.fidelity["r2_train"].is_monotonic_increasing
    assert len(ns["allp"]) == 3655 and ns["pairs"]["A"].isin(xai.binaries.cation_anion_elements()[0]).all()
    assert set(ns["p"].summary["set"]) == {"pure", "binary"}         # 86 pure elements, 3,655 binaries


def _results(out):
    return json.loads((out / "results.json").read_text())


def test_explain_takes_only_as_one_string(model_file, tmp_path):
    from hullpack.xai import ExplainConfig, explain, load_model

    numbers = explain(tmp_path / "o", load_model(model_file), only="surrogate, ", config=ExplainConfig(n_surrogate=200))
    assert set(numbers["seconds"]) == {"surrogate"}


def test_a_failing_analysis_keeps_the_others(model_file, tmp_path, monkeypatch, capsys):
    from hullpack.xai import report

    def broken(*args):
        raise RuntimeError("no bf16 path on this CPU")

    monkeypatch.setitem(report._RUNNERS, "projection", broken)
    out = tmp_path / "r"
    rc = main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only", "surrogate,projection",
               *SMALL])
    assert rc == 1
    assert "projection failed (RuntimeError: no bf16 path on this CPU)" in capsys.readouterr().err
    assert _results(out)["failed"] == {"projection": "RuntimeError: no bf16 path on this CPU"}
    md = (out / "report.md").read_text()
    assert "## Surrogate decision tree" in md and "## projection: failed" in md
    assert (out / "surrogate_tree.png").is_file() and "surrogate" not in _results(out).get("failed", {})


def test_rerun_into_the_same_folder_replaces_the_report(model_file, tmp_path):
    out = tmp_path / "r"
    args = ["-q", "explain", "--out", str(out), "--model", str(model_file), *SMALL]
    assert main([*args, "--only", "surrogate,projection"]) == 0
    assert (out / "pca_pure.png").is_file() and (out / "tables" / "projection_separation.csv").is_file()
    (out / "notes.png").write_bytes(b"mine")              # not the report's: left alone
    assert main([*args, "--only", "surrogate"]) == 0
    assert not (out / "pca_pure.png").exists() and not (out / "tables" / "projection_separation.csv").exists()
    assert (out / "surrogate_tree.png").is_file() and (out / "notes.png").read_bytes() == b"mine"
    assert set(_results(out)["files"]) == {p.relative_to(out).as_posix() for p in out.rglob("*")
                                           if p.is_file() and p.name != "notes.png"}


def test_explain_shap_importance_alignment_say_what_they_measured(model_file, tmp_path):
    import pandas as pd

    out = tmp_path / "r"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only",
                 "shap,importance,alignment", *SMALL, "--n-kernel", "2"]) == 0
    kernel = pd.read_csv(out / "tables" / "shap_kernel_check.csv")
    # --n-background 8: the kernel check's background has 8 rows, and says so
    assert sorted(set(kernel["reference"])) == ["8 OQMD train compositions", "elements"]
    occ = pd.read_csv(out / "tables" / "occlusion_importance.csv", index_col="element")
    measured = int((occ["n_containing"] > 0).sum())
    assert measured < 86                                   # 300 compositions miss some elements
    al = pd.read_csv(out / "tables" / "alignment.csv")
    assert (al.loc[al["quantity"] == "occlusion", "n"] <= measured).all()
    md = (out / "report.md").read_text()
    assert "over all 300 compositions" in md and "counting 0 where the element is absent" in md
    assert "not that the model uses the property" in md
    assert "the partner of the lowest (min_partner)" in md          # the response table's columns explained
    # the report says how far the cross-check agreed, from the numbers of its table
    own = kernel[kernel["reference"] == "elements"]
    assert (f"against their own elements, {own['same_sign'].mean():.0%} of the element values share their sign and "
            f"the summed difference is {own['relative_diff'].median():.0%} of the summed |DeepLIFT|") in md


def test_explain_names_only_present_elements_as_top_of_the_background_shap(model_file, tmp_path):
    """With one composition the comparison against a background has fewer than eight elements
    present: the paragraph names those, not elements the composition lacks (NaN, sorted last)."""
    import re

    import pandas as pd

    out = tmp_path / "one"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only", "shap",
                 "--n-shap", "1", "--n-background", "2", "--n-kernel", "1", "--threads", "1"]) == 0
    present = set(pd.read_csv(out / "tables" / "shap_top.csv", index_col=0).index)
    named = re.search(r"Top elements by mean \|SHAP\| where present: ([^.]*)\.", (out / "report.md").read_text())
    assert named and 1 <= len(present) < 8
    assert set(named.group(1).split(", ")) == present


def test_explain_names_the_pure_element_energies_shap_is_taken_against(model_file, tmp_path):
    """The SHAP reference is the model's own pure elements: beside their mean, the report names the
    three present elements whose pure prediction is furthest from 0, with the model's values."""
    import numpy as np

    from hullpack.elements import ELEMENT_INDEX
    from hullpack.xai import load_model, predict

    out = tmp_path / "pure"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only", "shap",
                 "--n-shap", "12", "--n-background", "4", "--n-kernel", "1", "--threads", "1"]) == 0
    furthest = _results(out)["shap"]["pure_energy_furthest"]
    pure = predict(load_model(model_file), np.eye(86, dtype=np.float32))
    assert len(furthest) == 3
    # the top elements come with the number of compositions their means are over, as in the table
    import pandas as pd

    table = pd.read_csv(out / "tables" / "shap_top.csv", index_col=0)
    shap = _results(out)["shap"]
    assert shap["top_n_present"] == table["n_present"].iloc[:10].tolist() and shap["top"] == table.index[:10].tolist()
    assert [round(pure[ELEMENT_INDEX[e]], 4) for e in furthest] == list(furthest.values())
    assert list(furthest.values()) == sorted(furthest.values(), key=abs, reverse=True)
    md = (out / "report.md").read_text()
    assert ("furthest from 0 among those present: " + ", ".join(f"{e} {v:+.3f}" for e, v in furthest.items())) in md


def test_explain_compares_hulls_as_the_screen_does(model_file, tmp_path):
    """The hull comparison runs hullpack screen's own defaults (reduced:10, 10 meV/atom), so its
    figures are those `hullpack screen` prints for the model: a uniform step of 0.01 with that
    depth threshold matched a tenth as many DFT-stable compounds."""
    from hullpack.screening import screen
    from hullpack.xai import ExplainConfig, explain, load_model

    model = load_model(model_file)
    assert ExplainConfig().hull_grid is None
    hulls = explain(tmp_path / "o", model, only="hulls")["hulls"]
    same = screen(model, progress=False)
    m = same.dft_metrics()
    assert hulls["grid"] == "reduced:10"
    assert [hulls[k] for k in ("precision", "recall", "stability_f1")] == [m[k] for k in ("precision", "recall", "stability_f1")]
    md = (tmp_path / "o" / "report.md").read_text()
    assert "33 compositions each (grid reduced:10" in md and "at least 10 meV/atom below" in md
    from hullpack.xai.report import _PRECISION_WORDS

    assert _PRECISION_WORDS[same.config["precision"]] in md      # "fp32 inference", or certified bf16


def test_explain_is_deterministic_for_a_seed(model_file, tmp_path):
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only",
                     "shap,importance,surrogate", "--seed", "3", *SMALL]) == 0
        runs.append(out)
    for table in sorted((runs[0] / "tables").glob("*.csv")):
        assert table.read_bytes() == (runs[1] / "tables" / table.name).read_bytes(), table.name
    a, b = (_results(out) for out in runs)
    for numbers in (a, b):
        numbers.pop("seconds"), numbers["shap"].pop("seconds")
    assert a == b and a["config"]["seed"] == 3


def test_explain_takes_default_for_the_shipped_model_and_counts_in_words(tmp_path):
    """--model default is the shipped model, as in predict and stability; 1,000 test compositions
    (seed 0) leave exactly one element out, which the occlusion paragraph says in the singular."""
    from hullpack.elemnet import load_pretrained

    out = tmp_path / "default"
    rc = main(["-q", "explain", "--out", str(out), "--model", "default", "--only", "importance",
               "--n-importance", "1000", "--n-bootstrap", "5", "--threads", "1"])
    assert rc == 0
    model = json.loads((out / "results.json").read_text())["model"]
    assert model["sha256"] == load_pretrained().metadata["sha256"]
    assert model["source"] == "the shipped default model (elemnet_default.pt)"  # resolve_model's words
    md = (out / "report.md").read_text()
    assert "1 element is in none of them: nothing was removed, so it is listed last" in md
    assert "1 elements" not in md
    assert "every one of the 1,000 OQMD test compositions" in md and "1000" not in md   # thousands separated


def test_explain_says_when_the_surrogate_tree_never_split(model_file, tmp_path):
    """On 20 compositions the tree cannot split (15 to train on, 5 needed on each side): the report
    says so and why, where it said 'Chosen depth 1 ... 1 leaves', and draws no tree of 'top 0 levels'."""
    out = tmp_path / "tiny"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only", "surrogate",
                 *SMALL, "--n-surrogate", "20"]) == 0
    md = (out / "report.md").read_text()
    assert "found no split" in md and "too few" in md and "Chosen depth" not in md
    assert not (out / "surrogate_tree.png").exists()
    assert "too few" in _results(out)["surrogate"]["no_split"]
    # with enough compositions it splits, and says how many levels it draws
    out = tmp_path / "enough"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only", "surrogate", *SMALL]) == 0
    md = (out / "report.md").read_text()
    assert "Chosen depth" in md and (out / "surrogate_tree.png").is_file()
    # the figure and the table of splits show the same levels (depth 0 to at most 3), and say how many
    import pandas as pd

    levels = pd.read_csv(out / "tables" / "surrogate_top_splits.csv")["depth"].nunique()
    assert levels == min(4, _results(out)["surrogate"]["depth"])
    assert f"the splits of the chosen tree's top {levels} levels" in md and f"top {levels} levels of splits" in md
    assert _results(out)["surrogate"]["no_split"] is None


def test_explain_alignment_figure_says_what_each_quantity_is(model_file, tmp_path, monkeypatch):
    """The alignment figure's rows are labelled as the report's text defines them, with units: the
    SHAP row is the mean |SHAP| over the compositions containing the element, not just 'shap'."""
    from hullpack.xai import plots

    labels = {}
    save = plots.save

    def keep_labels(fig, path, **kw):
        if str(path).endswith("alignment_scatter.png"):
            labels["y"] = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
        return save(fig, path, **kw)

    monkeypatch.setattr(plots, "save", keep_labels)
    out = tmp_path / "al"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only", "shap,alignment",
                 *SMALL]) == 0
    assert labels["y"] == ["mean energy of its equiatomic AB (eV/atom)", "mean |SHAP| where present (eV/atom)"]


def test_explain_says_how_far_shap_values_add_up_for_a_network_that_is_not_relu(tmp_path):
    """shap.DeepExplainer's rules are exact for Linear/ReLU layers only: for LayerNorm and GELU the
    values add up within some 4e-2 eV/atom. The report says so and warns, where it said they 'add
    up' as for ElemNet."""
    from hullpack import xai

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.LayerNorm(86), torch.nn.Linear(86, 32), torch.nn.GELU(), torch.nn.Linear(32, 1))
    cfg = xai.ExplainConfig(n_shap=12, n_background=8, n_kernel=1, kernel_nsamples=100)
    results = xai.explain(tmp_path / "ln", net, only=["shap"], config=cfg)
    shap = results["shap"]
    assert shap["additivity_max_error"] > 1e-3 and shap["additive"] is False
    md = (tmp_path / "ln" / "report.md").read_text()
    assert f"only approximately: within {shap['additivity_max_error']:.2g} eV/atom" in md
    assert "**Warning**" in md


@pytest.mark.parametrize("device", ["cpu", "cuda:0"])
def test_explain_screens_hulls_on_the_models_device(device, model_file, tmp_path, monkeypatch):
    """The hull screen runs where the model is, as the other analyses do, where it ran on the CPU
    whatever the model's device: a CPU model still screens on the CPU (the same numbers as the screen
    itself gives), a model on a GPU (its device faked here) on that GPU."""
    import hullpack.screening as screening
    from hullpack.elemnet import load_model
    from hullpack.xai import report

    seen = []
    real = screening.screen

    def recording(*args, **kwargs):
        seen.append(kwargs.get("device"))
        return real(*args, **{**kwargs, "device": "cpu"})

    monkeypatch.setattr(screening, "screen", recording)
    if device != "cpu":  # this machine may have no GPU: say the model is on one
        monkeypatch.setattr(report, "module_device", lambda m: torch.device(device))
    out = tmp_path / "hulls"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only", "hulls", *SMALL]) == 0
    assert seen == [device]
    if device == "cpu":
        m = real(load_model(model_file), order=2, grid=4, device="cpu", progress=False).dft_metrics()
        hulls = _results(out)["hulls"]
        assert hulls["agree_with_compounds"] == pytest.approx(m["agree_with_compounds"])
        assert hulls["systems_with_compounds"] == m["n_systems_with_compounds"]


def test_explain_leaves_pairs_without_a_compound_out_of_the_x_p_deviations(model_file, tmp_path):
    """A pair whose lowest predicted energy is a pure element has no x_p in the paper's sense: the mean
    |x_p - x_e| is over the pairs with a predicted compound, and the others are counted apart, where
    their |0 or 1 - x_e| went into the mean."""
    import pandas as pd

    out = tmp_path / "bin"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only", "binaries", *SMALL]) == 0
    b = _results(out)["binaries"]
    allp = pd.read_csv(out / "tables" / "binary_scan_all_pairs.csv")
    assert allp.loc[~allp["forms"], "abs_deviation"].isna().all()
    from hullpack.xai.binaries import cation_anion_elements

    cations, anions = cation_anion_elements()
    study = allp[allp["A"].isin(cations) & allp["B"].isin(anions)]
    assert 0 < b["study_pairs_without_compound"] == int((~study["forms"]).sum()) < len(study)
    assert b["study_mean_abs_deviation"] == pytest.approx(study.loc[study["forms"], "abs_deviation"].mean())
    md = (out / "report.md").read_text()
    assert f"{b['study_pairs_without_compound']} of the {len(study)} study pairs" in md
    assert "| group_A | group_B | pairs | no_compound |" in md
    # a compound is a dip at least the hull screen's depth below both ends, and the report says so
    assert b["min_depth"] == 0.01 and "no compound (nothing along the line lies at least 10 meV/atom below both" in md


def test_explain_gives_each_figure_its_unit_and_what_it_is_computed_on(model_file, tmp_path, monkeypatch):
    """The report's numbers carry their units and say what they are measured on: the model's MAEs
    ('val_mae 0.5000' had none), the occlusion and surrogate tables' columns (mae_test is against the
    model, not DFT), and a hull precision left blank because the model predicts no stable compound;
    the group map of pairs forming a compound gives n per cell, as the other group maps do."""
    import pandas as pd

    from hullpack.xai import plots

    texts = {}
    save = plots.save

    def keep_texts(fig, path, **kw):
        texts[Path(path).stem] = [t.get_text() for t in fig.axes[0].texts]
        texts[Path(path).stem + ".xlabels"] = [ax.get_xlabel() for ax in fig.axes]
        # where 0 lies along each axis's x, as a fraction of its width (0.5 on a bar centred there)
        texts[Path(path).stem + ".zero_at"] = [
            float(ax.transAxes.inverted().transform(ax.transData.transform((0.0, 0.0)))[0]) for ax in fig.axes]
        return save(fig, path, **kw)

    monkeypatch.setattr(plots, "save", keep_texts)
    out = tmp_path / "units"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only",
                 "importance,surrogate,binaries,hulls", *SMALL]) == 0
    md = (out / "report.md").read_text()
    assert "weights of epoch 1; validation MAE 0.5000 eV/atom (as the model file records it)" in md
    assert "val_mae 0.5" not in md and "Model: source " not in md
    assert "ΔMAE (delta_mae, ci_low, ci_high)" in md and "both in eV/atom" in md
    # the two occlusion figures show the two ΔMAEs, and their axes say which
    assert texts["importance_bar.xlabels"] == ["ΔMAE over all 300 compositions (eV/atom)"]
    # the periodic table of the signed ΔMAE: a diverging map centred on 0, its bar saying what the sign means
    assert texts["periodic_importance.xlabels"][1] == ("ΔMAE over the compositions containing it (eV/atom); red: "
                                                       "removing the element raises the error, blue: lowers it")
    assert texts["periodic_importance.zero_at"][1] == pytest.approx(0.5)
    assert "(red: the predictions are worse without the element" in md
    assert "mae_test, the mean |tree - model| on the held-out ones (eV/atom; against the model, not DFT)" in md
    assert "(mean_left, mean_right; eV/atom)" in md
    assert "groups 1-3 (no H; the lanthanides and actinides counted in group 3)" in md   # La-Pu are cations
    hulls = _results(out)["hulls"]
    s = pd.read_csv(out / "tables" / "hull_screen_systems.csv")
    predicted = int((s.n_stable > 0).sum())
    assert hulls["systems_with_predicted_stable"] == predicted > 0 and hulls["precision"] is not None
    assert f"{predicted:,} a predicted one" in md and "undefined" not in md
    assert "mae_dft_hull is the model's mean absolute error (eV/atom)" in md
    forms = texts["group_forms"]
    assert forms and all("\nn=" in t for t in forms)



def test_explain_says_why_hull_precision_is_blank_when_no_compound_is_predicted(tmp_path):
    """A model that predicts the same energy everywhere has no stable compound in any system: the
    precision is undefined (a blank cell, null in JSON), and the report says why, where it left the
    cell blank without a word."""
    from hullpack.elemnet import ElemNet
    from hullpack.xai import explain

    flat = ElemNet("8x1-1", ())
    with torch.no_grad():
        for p in flat.parameters():
            p.zero_()
    explain(tmp_path / "flat", flat, only="hulls")
    hulls = _results(tmp_path / "flat")["hulls"]
    assert hulls["systems_with_predicted_stable"] == 0 and hulls["precision"] is None
    md = (tmp_path / "flat" / "report.md").read_text()
    assert "0 a predicted one" in md and "predicts no stable compound in any system" in md
    assert "precision (the share of predicted stable compounds that DFT confirms) is undefined" in md


def test_explain_says_when_the_chosen_tree_is_the_deepest_tried(tmp_path):
    """A tree chosen at the deepest depth tried may not be the most faithful one: the report says so,
    where it gave the depth as if it were the best of all depths."""
    from hullpack import xai

    from hullpack.elements import ELEMENT_INDEX

    linear = torch.nn.Linear(86, 1)  # E = -3 x_O - 2 x_F - x_S: each level of the tree adds fidelity
    with torch.no_grad():
        linear.weight.zero_(), linear.bias.zero_()
        for element, w in (("O", -3.0), ("F", -2.0), ("S", -1.0)):
            linear.weight[0, ELEMENT_INDEX[element]] = w
    cfg = xai.ExplainConfig(n_surrogate=400, depths=(1, 2))
    xai.explain(tmp_path / "shallow", linear, only="surrogate", config=cfg)
    assert _results(tmp_path / "shallow")["surrogate"]["depth"] == 2
    md = (tmp_path / "shallow" / "report.md").read_text()
    assert "the deepest tried, so a deeper tree may follow the model more closely" in md
    xai.explain(tmp_path / "deep", linear, only="surrogate", config=xai.ExplainConfig(n_surrogate=400))
    chosen = _results(tmp_path / "deep")["surrogate"]["depth"]
    md = (tmp_path / "deep" / "report.md").read_text()
    assert ("the deepest tried" in md) == (chosen == 12)


def test_explain_binaries_of_a_model_that_predicts_no_compound(tmp_path):
    """A model linear in the fractions never dips below its pure elements (nor does one whose dips
    are all shallower than the 10 meV/atom threshold): the section says there is no x_p to compare,
    where it failed drawing an empty matrix ('nothing to plot')."""
    import hullpack.xai as xai

    torch.manual_seed(0)
    flat = torch.nn.Linear(86, 1)
    numbers = xai.explain(tmp_path / "r", flat, only="binaries", config=xai.ExplainConfig(n_grid=11))
    assert "failed" not in numbers and numbers["binaries"]["share_forming"] == 0.0
    assert numbers["binaries"]["study_pairs_without_compound"] == numbers["binaries"]["study_pairs"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "predicts no compound in any study pair" in md and "group_forms.png" in md
    assert not (tmp_path / "r" / "xp_xe.png").exists() and not (tmp_path / "r" / "group_deviation.png").exists()


def test_explain_says_when_the_model_file_records_no_training(tmp_path):
    """--allow-untrained explains a model file with no epoch or MAE: the report said nothing of it, so
    a reader took its figures for what a trained model learned."""
    from hullpack.elemnet import ElemNet, save_model

    torch.manual_seed(0)
    path = save_model(ElemNet("32x1D-16x1-1", (0.1,)), tmp_path / "untrained.pt")
    out = tmp_path / "r"
    assert main(["-q", "explain", "--out", str(out), "--model", str(path), "--allow-untrained", "--only",
                 "alignment", "--threads", "1"]) == 0
    assert "its file records no training" in (out / "report.md").read_text()
    assert _results(out)["model"]["trained"] is False
    path = save_model(ElemNet("32x1D-16x1-1", (0.1,)), tmp_path / "trained.pt", metadata={"epoch": 1})
    trained = tmp_path / "t"   # a file that records its training: nothing said
    assert main(["-q", "explain", "--out", str(trained), "--model", str(path), "--only", "alignment",
                 "--threads", "1"]) == 0
    assert "records no training" not in (trained / "report.md").read_text()
    assert "trained" not in _results(trained)["model"]


def test_explain_writes_counts_as_words_and_cuts_sample_sizes_to_their_split(model_file, tmp_path, caplog):
    """--n-background beyond the train split failed inside numpy ("Cannot take a larger sample than
    population"); it now takes the whole split, and the report, results.json and a warning say so.
    Counts read as counts: "1 OQMD test composition" (not "compositions"), 239,121 (not 239121)."""
    out = tmp_path / "big"
    assert main(["-q", "explain", "--out", str(out), "--model", str(model_file), "--only", "shap",
                 "--n-shap", "1", "--n-background", "1000000", "--n-kernel", "1", "--threads", "1"]) == 0
    note = "n_background = 1,000,000 is more than the 239,121 compositions of the OQMD train split"
    assert any(note in m for m in caplog.messages)                  # a warning, on stderr from the command
    results = _results(out)
    assert results["clipped"] == {"n_background": {"asked": 1000000, "used": 239121}}
    assert results["shap"]["background_rows"] == 239121
    md = (out / "report.md").read_text()
    assert "## SHAP attributions\n\nSample size: " + note in md
    assert "predicted energy of 1 OQMD test composition to its element fractions" in md and "1 OQMD test compositions" not in md
    assert "over all 1 composition, counting 0" in md
    assert "Against a background of 239,121 OQMD train compositions" in md and "239121" not in md


def test_explain_help_gives_the_split_sizes_it_cuts_to():
    """--help says what a sample size beyond its split does, with the sizes of the shipped splits."""
    from hullpack.cli.explain import DESCRIPTION
    from hullpack.elemnet import oqmd_arrays

    sizes = {s: len(oqmd_arrays(s)[1]) for s in ("test", "train")}
    assert (f"(test: {sizes['test']:,} compositions, train: {sizes['train']:,}) takes the whole split, and the "
            "report and a warning say so") in DESCRIPTION


def test_explain_says_what_a_fine_tuned_model_was_trained_on_and_from_which_model(model_file, tmp_path):
    """A model of `hullpack train --init` whose best weights are epoch 0 is its starting model,
    unchanged: the report said only "weights of epoch 0; validation MAE ...", read as an untrained
    model, with no word of the data that MAE was measured on nor of the model it started from."""
    import numpy as np

    from hullpack.elemnet import featurize, train

    x = featurize(["NaCl", "KCl", "LiF", "NaF", "MgO", "CaO", "FeO", "NiO"] * 4)
    y = np.linspace(-3.0, -1.0, len(x), dtype=np.float32)
    run = tmp_path / "tuned"
    out = train(run, train_data=(x, y), val_data=(x[:8], y[:8]), init=str(model_file), epochs=1, lr=1e-30,
                warmup_epochs=0, batch_size=16, data_source="mine.csv (32 rows)")
    assert out["best_epoch"] == 0  # no step moves the weights: the starting model is the best
    report = tmp_path / "r"
    assert main(["-q", "explain", "--out", str(report), "--model", str(run), "--only", "alignment",
                 "--threads", "1"]) == 0
    md = (report / "report.md").read_text()
    assert f"trained on mine.csv (32 rows), fine-tuned from {model_file}" in md
    assert "weights of epoch 0: the starting weights, unchanged (no epoch of fine-tuning did better" in md
    assert _results(report)["model"]["trained_on"] == "mine.csv (32 rows)"
