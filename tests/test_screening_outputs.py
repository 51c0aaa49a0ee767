"""Output folders never mix two screens' files and never hold a half-written one: the manifest,
the refusals (before any work on the command line), --overwrite, staging."""
import numpy as np
import pandas as pd
import pytest
import torch

from hullpack.cli import main
from hullpack.elemnet import save_model
from hullpack.errors import ScreeningError
from hullpack.screening import ScreenResult, screen
from hullpack.screening.outputs import MANIFEST, check_folder, read_manifest


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    return str(save_model(model, tmp_path_factory.mktemp("model") / "m.pt"))


def tiny(model, **kw):
    return screen(model, elements="Fe Ni O", grid=10, progress=False, **kw)


def names(folder):
    return sorted(p.name for p in folder.iterdir())


# -------------------------------------------------------------------------------------- Python API
def test_save_writes_a_manifest_of_its_files(model, tmp_path):
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    r = tiny(model, points=True)
    paths = r.save(tmp_path / "out")
    assert [p.name for p in paths] == ["systems.csv", "vertices.csv", "points.csv", "systems.parquet",
                                       "vertices.parquet", "points.parquet"]
    m = read_manifest(tmp_path / "out")
    assert names(tmp_path / "out") == sorted([p.name for p in paths] + [MANIFEST])
    assert [f["name"] for f in m["files"]] == [p.name for p in paths]
    assert all(f["bytes"] == (tmp_path / "out" / f["name"]).stat().st_size for f in m["files"])
    assert m["run_id"] == r.run_id and m["config"]["grid"] == "uniform:10" and m["config"]["shard"] is None
    assert m["hullpack"] and m["written"].endswith("+00:00")


def strict_json(text: str):
    """JSON as strict readers (JavaScript's JSON.parse, RFC 8259) take it: no NaN, no Infinity."""
    import json

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_the_manifest_is_standard_json_where_a_number_is_undefined(model, tmp_path):
    """A certified screen too small to audit has no bound on its exceedances (NaN in config): the
    manifest writes null there, where it wrote NaN, which strict JSON readers refuse."""
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    r = tiny(model, precision="bf16")
    assert r.config["certification"]["n_audited"] == 0 and np.isnan(r.config["certification"]["exceedance_bound"])
    r.save(tmp_path)
    m = strict_json((tmp_path / MANIFEST).read_text())
    assert m["config"]["certification"]["exceedance_bound"] is None and m["config"]["min_depth"] == 0.01
    assert read_manifest(tmp_path)["run_id"] == r.run_id


def test_the_same_screen_adds_files_another_is_refused(model, tmp_path):
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    first, second = tiny(model), tiny(model)
    assert first.run_id != second.run_id
    first.to_csv(tmp_path)
    first.to_parquet(tmp_path)              # the same screen: its manifest grows
    assert [f["name"] for f in read_manifest(tmp_path)["files"]] == ["systems.csv", "vertices.csv",
                                                                       "systems.parquet", "vertices.parquet"]
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    with pytest.raises(ScreeningError, match=r"holds another screen's outputs \(4 files listed .*overwrite=True"):
        second.to_csv(tmp_path)
    with pytest.raises(ScreeningError, match="another screen"):
        second.plot_groups(tmp_path)
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == before    # untouched


def test_overwrite_removes_the_listed_files_and_nothing_else(model, tmp_path):
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    tiny(model, points=True).save(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "Fe-O.png").write_bytes(b"not listed")     # a file the manifest does not list stays
    r = tiny(model)
    r.save(tmp_path, parquet=False, overwrite=True)
    assert names(tmp_path) == ["Fe-O.png", MANIFEST, "notes.txt", "systems.csv", "vertices.csv"]
    assert read_manifest(tmp_path)["run_id"] == r.run_id
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_failed_write_leaves_the_folder_as_it_was(model, tmp_path, monkeypatch):
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    r = tiny(model)

    def broken(self, name, path=None):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ScreenResult, "plot_system", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        r.save(tmp_path / "new", plots=["O-Fe"])          # the tables were staged, then the plot failed
    assert not (tmp_path / "new").exists()
    old = tiny(model)
    old.save(tmp_path / "old")
    before = names(tmp_path / "old")
    with pytest.raises(RuntimeError, match="disk full"):
        r.save(tmp_path / "old", plots=["Fe-O"], overwrite=True)
    assert names(tmp_path / "old") == before and read_manifest(tmp_path / "old")["run_id"] == old.run_id


@pytest.mark.parametrize("setup, match", [
    (lambda d: d.write_text("x"), "is a file, not a folder"),
    (lambda d: d.mkdir() or (d / "systems.csv").write_text("a,b"), r"holds screen outputs without a manifest.json \(systems.csv\)"),
    (lambda d: d.mkdir() or (d / MANIFEST).write_text("{"), "manifest.json cannot be read"),
    (lambda d: d.mkdir() or (d / MANIFEST).write_text("[1, 2]"), "not a hullpack run's manifest"),
])
def test_folders_that_are_refused_even_with_overwrite(setup, match, tmp_path):
    d = tmp_path / "out"
    setup(d)
    for overwrite in (False, True):
        with pytest.raises(ScreeningError, match=match):
            check_folder(d, None, overwrite=overwrite)


def test_bad_plot_names_and_missing_dft_fail_before_writing(model, tmp_path):
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    r = tiny(model, compare_dft=False)
    with pytest.raises(ScreeningError, match="unknown: Xx"):
        r.save(tmp_path / "a", plots=["Fe-Xx"])
    with pytest.raises(ScreeningError, match="compare_dft=True"):
        r.save(tmp_path / "a", groups=True)
    assert not (tmp_path / "a").exists()


def test_merged_shards_are_a_screen_of_their_own(model, tmp_path):
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    parts = [tiny(model, shard=f"{i}/2") for i in range(2)]
    merged = ScreenResult.concat(parts)
    assert merged.run_id not in {p.run_id for p in parts}
    parts[0].save(tmp_path)
    with pytest.raises(ScreeningError, match="holds the outputs of shard 0/2 of a screen; each shard needs a folder"):
        merged.save(tmp_path)


def test_shards_of_other_screens_do_not_merge_and_mixed_precisions_are_named(model):
    first = tiny(model, shard="0/2")
    with pytest.raises(ScreeningError, match=r"not shards of one screen: their min_depth differs \(0.01, 0.02\)"):
        ScreenResult.concat([first, tiny(model, shard="1/2", min_depth=0.02)])
    mixed = ScreenResult.concat([first, tiny(model, shard="1/2", precision="bf16")])  # "auto" on another machine
    assert mixed.config["precision"] == "bf16+fp32" and "precision bf16+fp32" in mixed.summary()


def test_shards_of_two_models_of_your_own_do_not_merge(model, model_file, tmp_path):
    """A module of your own is identified by the sha256 of its weights, the digest its model file
    would record: shards screened with two different modules are refused, where both were None."""
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    import torch

    from hullpack.elemnet.io import weights_sha256
    from test_screening import small_model

    other = small_model(seed=1)
    first = tiny(model, shard="0/2")
    assert first.config["model"] == weights_sha256(model.state_dict()) == tiny(model_file).config["model"]
    with pytest.raises(ScreeningError, match="not shards of one screen: their model differs"):
        ScreenResult.concat([first, tiny(other, shard="1/2")])
    assert len(ScreenResult.concat([first, tiny(model, shard="1/2")]).systems) == 3
    plain = torch.nn.Sequential(torch.nn.Linear(86, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    assert tiny(plain, compare_dft=False).config["model"] == weights_sha256(plain.state_dict())
    first.save(tmp_path)
    assert read_manifest(tmp_path)["config"]["model"] == first.config["model"]


# ------------------------------------------------------------------------------------ command line
def run(capsys, *argv):
    rc = main(["-q", "screen", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def no_screen(monkeypatch):
    import hullpack.screening.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_load_model", lambda m: pytest.fail("the screen ran"))


def test_cli_refuses_another_screens_folder_before_any_work(model_file, tmp_path, capsys, monkeypatch):
    common = ["--elements", "Fe Ni O", "--grid", "10", "--model", model_file, "--out", str(tmp_path / "o")]
    rc, out, _ = run(capsys, *common, "--points")
    assert rc == 0 and "points.csv" in names(tmp_path / "o")
    first = read_manifest(tmp_path / "o")
    assert first["command"] == "hullpack screen" and first["options"]["points"] is True
    with monkeypatch.context() as m:
        no_screen(m)
        rc, out, err = run(capsys, *common)
    assert rc == 2 and out == "" and "--overwrite" in err and len(err.strip().splitlines()) == 1
    rc, out, err = run(capsys, *common, "--overwrite")
    assert rc == 0 and "points.csv" not in names(tmp_path / "o") and "points.parquet" not in names(tmp_path / "o")
    assert read_manifest(tmp_path / "o")["run_id"] != first["run_id"]
    assert len(pd.read_csv(tmp_path / "o" / "systems.csv")) == 3


def test_a_second_shard_into_the_first_ones_folder_is_told_how_shards_are_merged(model_file, tmp_path, capsys,
                                                                                  monkeypatch):
    """Two shards given one --out: the second was told to --overwrite, which deletes the first
    shard's results. It is told to give each shard its own folder and merge them with --merge."""
    common = ["--elements", "Fe Ni O", "--grid", "10", "--model", model_file, "--no-dft", "--out", str(tmp_path / "o")]
    assert run(capsys, *common, "--shard", "0/2")[0] == 0
    with monkeypatch.context() as m:
        no_screen(m)
        rc, out, err = run(capsys, *common, "--shard", "1/2")
    assert rc == 2 and f"--out '{tmp_path / 'o'}': holds the outputs of shard 0/2 of a screen; each shard needs a " \
        "folder of its own (part0, part1, ...), which hullpack screen --merge part0 part1 ... --out all" in err
    assert read_manifest(tmp_path / "o")["config"]["shard"] == [0, 2]        # the first shard is kept


@pytest.mark.parametrize("make, argv, message", [
    (lambda d: d.write_text("x"), [], "is a file, not a folder"),
    (lambda d: None, ["--grid", "reduced:x"], "--grid 'reduced:x'"),
])
def test_cli_bad_outputs_stop_before_any_work(make, argv, message, tmp_path, capsys, monkeypatch):
    no_screen(monkeypatch)
    out_dir = tmp_path / "o"
    make(out_dir)
    rc, out, err = run(capsys, "--elements", "Fe Ni O", "--out", str(out_dir), *argv)
    assert rc == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1
    assert out_dir.is_file() or not out_dir.exists()


# ------------------------------------------------------------------------------ group-pair heatmaps
def test_group_agreement_counts_the_systems_with_compounds_as_the_summary_does(tmp_path):
    """Two empty stable sets agree; the summary's figure leaves such systems out, and so do the
    group table's agree_with_compounds and the heatmap groups_agree.png: a pair of groups whose
    only agreeing system has no compound on either side is not drawn as agreeing."""
    pytest.importorskip("matplotlib")
    import matplotlib.image
    import numpy as np

    from hullpack.screening.dft import by_group_pair, plot_group_heatmaps

    counts = dict(tp_pred=[0, 0, 1], tp_dft=[0, 0, 1], stab_tp=[0, 0, 1], stab_fp=[0, 1, 0], stab_fn=[0, 1, 0],
                  mae_dft_hull=[np.nan, 0.05, 0.9])
    systems = pd.DataFrame({"A": ["Li", "Na", "Li"], "B": ["K", "Rb", "F"], "n_stable": [0, 1, 1],
                            "n_dft_stable": [0, 1, 1], "agree": [True, False, True], **counts})
    g = by_group_pair(systems).set_index(["group_lo", "group_hi"])
    assert g.loc[(1, 1), "agree"] == 0.5 and g.loc[(1, 1), "agree_with_compounds"] == 0.0   # Li-K: both empty
    assert g.loc[(1, 17), "agree_with_compounds"] == 1.0
    paths = plot_group_heatmaps(g.reset_index(), tmp_path)
    assert [p.name for p in paths] == ["groups_stab_f1.png", "groups_precision.png", "groups_recall.png",
                                       "groups_mae_dft_hull.png", "groups_agree.png"]
    # ratios on one 0..1 scale whatever their values, so that two screens' figures compare; the
    # MAE's scale ends at the 95th percentile of its cells: one cell of 0.7 eV/atom leaves the rest
    # their colours
    from hullpack.screening.dft import heatmap_scale

    assert heatmap_scale("agree_with_compounds", g["agree_with_compounds"].to_numpy()) == (1.0, "neither")
    assert heatmap_scale("stab_f1", np.array([0.4, 0.75])) == (1.0, "neither")
    top, extend = heatmap_scale("mae_dft_hull", np.r_[np.linspace(0.01, 0.1, 40), 0.7])
    assert 0.09 < top < 0.11 and extend == "max"
    assert heatmap_scale("mae_dft_hull", np.array([0.02, 0.02])) == (0.02, "neither")


def test_the_api_names_a_missing_extra_before_writing(tmp_path, monkeypatch):
    """ScreenResult.save and plot_system say which extra to install, in one line, before any file is
    written, where pandas' and Python's own import errors came from deep inside."""
    import sys

    from hullpack.screening import screen

    r = screen(elements="Fe O Ni", compare_dft=False, progress=False)
    for module in ("pyarrow", "matplotlib"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r'save\(parquet=True\): needs pyarrow, which is not installed: '
                                          r'pip install "hullpack\[parquet\]" \(or parquet=False\)'):
        r.save(tmp_path / "a")
    with pytest.raises(ImportError, match=r"heatmaps=...\): needs matplotlib.*hullpack\[plot\]"):
        r.save(tmp_path / "b", parquet=False, plots=["Fe-O"])
    with pytest.raises(ImportError, match=r"plot_system: needs matplotlib.*hullpack\[plot\]"):
        r.plot_system("Fe-O")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    assert r.save(tmp_path / "c", parquet=False)  # CSV needs neither


def test_a_system_the_model_gives_nan_in_is_drawn_and_tabulated_without_a_hull(tmp_path):
    """save(plots=[...]) of a system with a NaN prediction raised the hull kernel's error (naming an
    option of its own) and wrote nothing, the tables included. The system is drawn and tabulated
    as the screen flags it: its finite points, no predicted hull, no predicted stable compound."""
    pytest.importorskip("matplotlib")
    from hullpack.elements import ELEMENT_INDEX

    fe, o = ELEMENT_INDEX["Fe"], ELEMENT_INDEX["O"]

    def model(x):   # mixing energies of Fe-O and Ni-O, NaN at the O-rich compositions with Fe
        e = -2 * x[:, fe] * x[:, o] - 4 * x[:, ELEMENT_INDEX["Ni"]] * x[:, o]
        return e.masked_fill((x[:, fe] > 0) & (x[:, o] >= 0.65) & (x[:, o] < 1), float("nan"))

    with pytest.warns(RuntimeWarning, match="non-finite predictions .*Fe-Ni-O"):
        r = tiny(model, order=3, compare_dft=False)
    from hullpack.screening.dft import DFTCompounds

    known = DFTCompounds.from_formulas(["Fe2O3", "NiO"], [-1.7, -1.2], name="mine")
    with pytest.warns(RuntimeWarning, match="Fe-O"):
        b = tiny(model, compare_dft=known)
    assert b.system("Fe-O")["nonfinite"] and not b.system("Ni-O")["nonfinite"]
    # the summary says that the system's known compounds are not in the DFT figures
    assert "systems with non-finite predictions: 1 (Fe-O): no hull, and not compared with DFT below" in b.summary()
    assert "DFT (mine) stable compounds: 1;" in b.summary()          # NiO; Fe2O3 is in Fe-O
    # ... nor in its counts: "stability F1 over 2 known compounds" counted Fe2O3 too
    assert b.dft_metrics()["n_dft"] == 1 and "stability F1 over 1 known compound:" in b.summary()
    with pytest.warns(RuntimeWarning, match="Fe-O"):   # a set only in such systems was "all above the hull"
        nan = screen(lambda x: torch.full((len(x),), float("nan")), elements="Fe O", grid=10, compare_dft=known,
                     progress=False)
    assert ("DFT (mine): its compounds in these systems are all in systems with non-finite predictions, so "
            "nothing to compare with") in nan.summary() and "above the hull" not in nan.summary()
    paths = b.save(tmp_path / "bin", plots=["Fe-O", "Ni-O"])
    assert {p.name for p in paths} >= {"systems.csv", "vertices.csv", "Fe-O.png", "Ni-O.png"}
    assert "model" not in set(b.system_table("Fe-O")["source"])      # no predicted stable compound
    assert (b.system_table("Ni-O")["source"] == "model").sum() == b.system("Ni-O")["n_stable"] > 0
    r.save(tmp_path / "ter", plots=["Fe-Ni-O"])
    assert (tmp_path / "ter" / "Fe-Ni-O.png").stat().st_size > 10_000
