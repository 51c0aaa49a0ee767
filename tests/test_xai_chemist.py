"""What a chemist reads in the report of `hullpack explain`: counts that say what they count."""
import json

import pytest
import torch

pytest.importorskip("shap")
pytest.importorskip("sklearn")
pytest.importorskip("pymatgen")
pytest.importorskip("matplotlib")


def _constant(energy: float):
    """An ElemNet predicting ``energy`` eV/atom for every composition, pure elements included."""
    from hullpack.elemnet import ElemNet

    model = ElemNet("8x1-1", ())
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        list(model.parameters())[-1].fill_(energy)
    return model


def test_hull_section_counts_apart_compounds_stable_only_by_the_pinned_ends(tmp_path):
    """The screen puts each element end at 0 eV/atom; a model predicting every composition, pure
    elements included, at -1 eV/atom predicts no compound (the binary scan finds none), yet every
    system gets stable compounds next to its ends. The hull section said only "3,655 (systems with)
    a predicted one"; a briefly trained model (pure F at -4 eV/atom) owed 91% of its predicted
    compounds to this. The report now counts them apart."""
    from hullpack.xai import explain

    numbers = explain(tmp_path / "r", _constant(-1.0), only="hulls")["hulls"]
    assert numbers["systems_with_predicted_stable"] == 3655
    assert numbers["end_artifacts"] == numbers["predicted_stable"] > 0
    assert numbers["systems_with_predicted_stable_without_end"] == 0
    saved = json.loads((tmp_path / "r" / "results.json").read_text())["hulls"]
    assert saved["end_artifacts"] == numbers["end_artifacts"]
    md = (tmp_path / "r" / "report.md").read_text()
    n = numbers["predicted_stable"]
    assert (f"{n:,} of the {n:,} predicted stable compounds (100%) are stable only because the screen puts each "
            "element end at 0 eV/atom") in md
    assert "Without them 0 systems have a predicted stable compound; recall 0.000" in md
    assert saved["precision_without_end"] is None                      # nothing predicted: undefined


def test_hull_section_says_nothing_of_end_artifacts_where_there_are_none(tmp_path):
    from hullpack.xai import explain

    numbers = explain(tmp_path / "r", _constant(0.0), only="hulls")["hulls"]
    assert "end_artifacts" not in numbers
    assert "only because the screen puts" not in (tmp_path / "r" / "report.md").read_text()


def test_occlusion_paragraph_reads_well_when_every_element_is_present():
    """Over the whole OQMD test split every element occurs: the report read "0 elements are in none
    of them: nothing was removed, so they are listed last"."""
    from hullpack.xai.sections import _in_none

    assert _in_none(0) == "every element is in at least one of them"


@pytest.mark.parametrize("columns, properties", [([], None), (["mean"], [])])
def test_alignment_with_nothing_to_correlate_says_so(columns, properties):
    """An empty selection of quantities or properties raised KeyError: 'rho'."""
    from hullpack import xai

    resp = xai.element_response(torch.nn.Linear(86, 1))
    with pytest.raises(ValueError, match="^nothing to correlate"):
        xai.property_alignment(resp[columns], properties)


def test_group_separation_is_given_with_what_random_groups_score():
    """18 groups over the 86 pure elements score 0.2 on average with the groups shuffled: the
    shipped model's deeper layers (0.27-0.29) sort the pure elements by group hardly better than
    that, which the report, giving 1 as the only landmark, did not say."""
    import numpy as np

    from hullpack.elemnet import ElemNet
    from hullpack.xai.projection import chance_separation, group_separation, layer_projection

    torch.manual_seed(0)
    p = layer_projection(ElemNet("16x1-8x1-1", ()), show_progress=False)
    pure = p.summary[p.summary["set"] == "pure"]
    assert pure["chance_separation"].tolist() == pytest.approx([17 / 85] * len(pure))
    rng = np.random.default_rng(0)
    scores = p.pure[p.layers[0]]
    shuffled = [group_separation(scores, rng.permutation(p.pure_groups)) for _ in range(400)]
    assert np.mean(shuffled) == pytest.approx(chance_separation(p.pure_groups), abs=0.02)


def test_projection_section_states_the_chance_level(tmp_path):
    from hullpack.elemnet import ElemNet
    from hullpack.xai import explain

    numbers = explain(tmp_path / "r", ElemNet("16x1-8x1-1", ()), only="projection")["projection"]
    assert numbers["chance_separation_pure"] == pytest.approx(17 / 85)
    assert 0 < numbers["chance_separation_binary"] < 0.01
    md = (tmp_path / "r" / "report.md").read_text()
    assert "Random group labels give 0.200 for the pure elements and 0.005 for the binaries on average" in md


def test_explain_refuses_a_folder_it_cannot_write_before_any_work(tmp_path, monkeypatch):
    """An existing folder without write permission failed every figure, then the report itself,
    minutes later; now it is named at once (the command's exit status 2)."""
    import os

    from hullpack.cli import main

    out = tmp_path / "locked"
    out.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if str(p) == str(out) else real(p, mode, **kw))
    from hullpack.xai import explain, report

    monkeypatch.setitem(report._RUNNERS, "projection", lambda *a: pytest.fail("ran an analysis"))
    with pytest.raises(PermissionError, match="not writable"):
        explain(out, torch.nn.Linear(86, 1), only="projection")
    assert main(["-q", "explain", "--out", str(out), "--model", "default", "--only", "projection"]) == 2


def test_binary_scans_of_no_pair_name_the_elements():
    """xp_vs_xe(model, ["Fe"], ["Fe"]) said only "no element pairs to scan"."""
    from hullpack import xai
    from hullpack.errors import CompositionError

    with pytest.raises(CompositionError, match=r"cations \['Fe'\] and anions \['Fe'\] make no pair"):
        xai.xp_vs_xe(torch.nn.Linear(86, 1), ["Fe"], ["Fe"])
    with pytest.raises(CompositionError, match=r"elements \['O'\] make no pair: give at least two"):
        xai.all_pairs_scan(torch.nn.Linear(86, 1), ["O"])


def test_one_element_given_as_a_string_is_that_element():
    """elements="Fe" was read letter by letter: "unknown elements ['e']"."""
    import numpy as np

    from hullpack import xai
    from hullpack.elemnet import featurize
    from hullpack.errors import CompositionError

    x = featurize(["Fe2O3", "FeNi", "NaCl"])
    df = xai.occlusion_importance(torch.nn.Linear(86, 1), x, np.zeros(3), elements="Fe", n_bootstrap=5)
    assert df.index.tolist() == ["Fe"] and df.loc["Fe", "n_containing"] == 2
    assert xai.element_response(torch.nn.Linear(86, 1), "Na").index.tolist() == ["Na"]
    with pytest.raises(CompositionError, match="empty: give element symbols, or None for all 86"):
        xai.element_response(torch.nn.Linear(86, 1), [])
