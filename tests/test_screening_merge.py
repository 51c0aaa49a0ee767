"""A saved screen read back (ScreenResult.read) and the folders of a screen's shards merged
(ScreenResult.read_shards, hullpack screen --merge): the same tables, summary and certification as
the unsharded screen, and clear refusals of folders that do not make one screen."""
import json
import math

import pandas as pd
import pytest

from hullpack.cli import main
from hullpack.errors import ScreeningError
from hullpack.screening import ScreenResult, screen
from hullpack.screening.outputs import MANIFEST
from test_cli import model, model_file, run  # noqa: F401  (fixtures: a small ElemNet and its file)

ELEMENTS = "Na N O Fe Cu"  # N-Na 1:1 is the formula NaN, which a CSV reader takes for a missing value


def same_numbers(a: dict, b: dict) -> bool:
    """Dicts equal, NaN equal to NaN (and to None, as JSON writes it)."""
    def norm(v):
        return None if isinstance(v, float) and math.isnan(v) else v
    return a.keys() == b.keys() and all(norm(a[k]) == norm(b[k]) for k in a)


def without_times(summary: str) -> list[str]:
    return [line for line in summary.splitlines() if not line.startswith("time")]


# ------------------------------------------------------------------------------------ Python API
@pytest.mark.parametrize("parquet", [False, True])
def test_a_saved_screen_reads_back_with_the_types_of_a_fresh_one(tmp_path, parquet):
    pytest.importorskip("pymatgen")  # the group tables
    if parquet:
        pytest.importorskip("pyarrow")
    r = screen(elements=ELEMENTS, points=True, progress=False)  # the shipped model: some systems have no compound
    assert "NaN" in r.points["formula"].tolist()
    assert (r.vertices["end_element"] == "").any() and (r.systems["stable"] == "").any()
    r.save(tmp_path / "out", parquet=parquet)
    if parquet:  # the Parquet tables are read where both are written
        (tmp_path / "out" / "systems.csv").write_text("not read\n")
    back = ScreenResult.read(tmp_path / "out")
    for name in ("systems", "vertices", "points"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(r, name))
    assert back.stats == r.stats
    assert same_numbers(back.config, {k: v for k, v in r.config.items() if k != "grid_array"})
    assert back.summary() == r.summary()
    assert back.group_table().equals(r.group_table())
    with pytest.raises(ScreeningError, match="no model attached"):
        back.plot_system("Fe-O")
    # written again into its own folder it is the same screen: no overwrite needed
    back.save(tmp_path / "out", parquet=False)


def test_certified_shards_read_back_merge_into_the_unsharded_screen(model, tmp_path):
    pytest.importorskip("pyarrow")  # writes the tables as Parquet
    kw = dict(elements="Na N O Fe", order=3, grid=10, precision="bf16", progress=False)
    whole = screen(model, **kw)
    for i in range(3):
        screen(model, shard=f"{i}/3", **kw).save(tmp_path / f"p{i}", parquet=i == 1)
    merged = ScreenResult.read_shards([tmp_path / "p2", tmp_path / "p0", tmp_path / "p1"])  # any order
    pd.testing.assert_frame_equal(merged.systems, whole.systems)
    pd.testing.assert_frame_equal(merged.vertices, whole.vertices)
    cert = {k: v for k, v in merged.config["certification"].items() if not k.startswith("seconds")}
    assert cert["screen_points"] > 0 and same_numbers(
        cert, {k: v for k, v in whole.config["certification"].items() if not k.startswith("seconds")})
    assert without_times(merged.summary()) == without_times(whole.summary())
    assert merged.summary().splitlines()[-1].startswith("time of the slowest of 3 shards: ")
    for key in ("n_systems", "n_predictions", "n_fp32"):
        assert merged.stats[key] == whole.stats[key]
    assert merged.config["n_elements"] == whole.config["n_elements"] == 4


def test_shards_of_another_element_set_do_not_merge(model):
    """The same grid, model and thresholds but other --elements: not one screen's shards."""
    a = screen(model, elements="Fe Ni O", grid=10, shard="0/2", progress=False)
    b = screen(model, elements="Fe Ni O Cu", grid=10, shard="1/2", progress=False)
    with pytest.raises(ScreeningError, match=r"their elements differ"):
        ScreenResult.concat([a, b])


def test_shards_compared_with_other_compounds_under_one_name_do_not_merge(model):
    """Two DFT files of one name (mp.csv, other/mp.csv): the shards merged, config["dft"] recording
    only the name, into one result that compared half its systems with each set."""
    from hullpack.screening.dft import DFTCompounds

    one = DFTCompounds.from_formulas(["FeO", "Fe2O3", "NiO"], [-1.4, -1.7, -1.2], name="mp.csv")
    other = DFTCompounds.from_formulas(["FeO", "Fe2O3", "NiO"], [-1.4, -1.6, -1.2], name="mp.csv")
    kw = dict(elements="Fe Ni O", grid=10, progress=False)
    a = screen(model, shard="0/2", compare_dft=one, **kw)
    assert ScreenResult.concat([a, screen(model, shard="1/2", compare_dft=one, **kw)]).config["dft_sha256"] == one.sha256
    with pytest.raises(ScreeningError, match=r"their DFT sets, named alike \(mp.csv\), hold other compounds "
                                             r"\(sha256 part 0: [0-9a-f]{12}, part 1: [0-9a-f]{12}\)"):
        ScreenResult.concat([a, screen(model, shard="1/2", compare_dft=other, **kw)])


def test_shards_with_and_without_points_do_not_merge_into_a_partial_points_table(model):
    a = screen(model, elements="Fe Ni O", grid=10, shard="0/2", progress=False, points=True)
    b = screen(model, elements="Fe Ni O", grid=10, shard="1/2", progress=False)
    with pytest.raises(ScreeningError, match="part 1 has no points table and the others have one"):
        ScreenResult.concat([a, b])


# ---------------------------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def shards(model_file, tmp_path_factory):
    """The folders of a whole screen and of its 3 shards, and the whole screen's printed summary."""
    root = tmp_path_factory.mktemp("shards")
    common = ["--elements", ELEMENTS, "--grid", "10", "--model", model_file, "--points"]
    summaries = {}
    import contextlib
    import io

    for name, extra in [("whole", [])] + [(f"part{i}", ["--shard", f"{i}/3"]) for i in range(3)]:
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["-q", "screen", "--out", str(root / name), *common, *extra]) == 0
        summaries[name] = buf.getvalue()
    return root, summaries


def test_merge_writes_the_unsharded_screen(shards, tmp_path, capsys):
    pytest.importorskip("pymatgen")  # the group tables: without them and pyarrow the screen notes what it skipped
    pytest.importorskip("pyarrow")
    root, summaries = shards
    rc, out, err = run(capsys, "screen", "--merge", *(str(root / f"part{i}") for i in (1, 2, 0)),
                       "--out", str(tmp_path / "all"))
    assert rc == 0 and err == ""
    whole, merged = ScreenResult.read(root / "whole"), ScreenResult.read(tmp_path / "all")
    for name in ("systems", "vertices", "points"):
        pd.testing.assert_frame_equal(getattr(merged, name), getattr(whole, name))
    for name in ("systems", "vertices", "points"):  # the CSV files too, byte for byte
        assert (tmp_path / "all" / f"{name}.csv").read_bytes() == (root / "whole" / f"{name}.csv").read_bytes()
    assert (tmp_path / "all" / "groups.csv").read_bytes() == (root / "whole" / "groups.csv").read_bytes()
    lines = out.splitlines()
    assert [x for x in lines if not x.startswith(("time", "wrote", "merged"))] == \
        [x for x in summaries["whole"].splitlines() if not x.startswith(("time", "wrote"))]
    assert lines[-2] == f"merged 3 shards of one screen ({root / 'part1'}, {root / 'part2'}, {root / 'part0'})"
    manifest = json.loads((tmp_path / "all" / MANIFEST).read_text())
    assert manifest["config"]["shard"] is None and manifest["config"]["merged_shards"] == 3
    assert manifest["options"]["merge"] == [str(root / f"part{i}") for i in (1, 2, 0)]


def _older_release(folder):
    m = json.loads((folder / MANIFEST).read_text())
    del m["stats"], m["tables"]
    m["hullpack"] = "0.1.0"
    (folder / MANIFEST).write_text(json.dumps(m))


@pytest.mark.parametrize("case, match", [
    ("not-a-screen", "screen folder '{root}/not-a-screen' has no manifest.json: it is not a folder written by "
                     "hullpack screen --out"),
    ("missing", "1 shard of 3 is missing (2/3): screen it with hullpack screen --shard 2/3 and the same options, "
                "and give its folder too"),
    ("repeated-folder", "shard folder '{root}/part1/' is given twice ('{root}/part1' and '{root}/part1/' are one "
                        "folder); give each shard's folder once"),
    ("repeated-shard", "shard 1/3 is given twice: '{root}/part1' and '{root}/copy1'; give each shard once"),
    ("whole", "screen folder '{root}/whole' holds a whole screen, not a shard"),
    ("other-split", "these folders hold shards of different splits of the systems: {root}/part0: 0/3, "
                    "{root}/four1: 1/4, {root}/part2: 2/3"),
    ("other-screen", "these results are not shards of one screen: their min_depth differs ({root}/part0: 0.01, "
                     "{root}/deep1: 0.02, {root}/part2: 0.01)"),
    ("older", "screen folder '{root}/old1' was written by hullpack 0.1.0, whose manifest.json lacks stats, tables, "
              "which reading a screen back needs: screen it again with hullpack"),
    ("plot-only", "screen folder '{root}/plot' holds no systems table (hullpack screen --plot-only writes no tables)"),
    ("out-is-a-shard", "--out '{root}/part0' is one of the shard folders to merge: give a new folder"),
    ("options", "--merge takes the screen's settings from the shards' manifests: --grid, --min-depth cannot be "
                "given with it"),
])
def test_merge_refuses_folders_that_are_not_one_screens_shards(shards, model_file, capsys, case, match):
    import shutil

    root, _ = shards
    folders = [str(root / f"part{i}") for i in range(3)]
    out = ["--out", str(root / f"merged-{case}")]
    common = ["--elements", ELEMENTS, "--grid", "10", "--model", model_file, "--points"]
    if case == "not-a-screen":
        (root / case).mkdir(exist_ok=True)
        folders[0] = str(root / case)
    elif case == "missing":
        folders = folders[:2]
    elif case == "repeated-folder":
        folders.append(str(root / "part1") + "/")
    elif case == "repeated-shard":
        shutil.copytree(root / "part1", root / "copy1", dirs_exist_ok=True)
        folders.append(str(root / "copy1"))
    elif case == "whole":
        folders[0] = str(root / "whole")
    elif case == "other-split":
        assert main(["-q", "screen", "--out", str(root / "four1"), *common, "--shard", "1/4", "--overwrite"]) == 0
        folders[1] = str(root / "four1")
    elif case == "other-screen":
        assert main(["-q", "screen", "--out", str(root / "deep1"), *common, "--shard", "1/3", "--min-depth", "0.02",
                     "--overwrite"]) == 0
        folders[1] = str(root / "deep1")
    elif case == "older":
        shutil.copytree(root / "part1", root / "old1", dirs_exist_ok=True)
        _older_release(root / "old1")
        folders[1] = str(root / "old1")
    elif case == "plot-only":
        pytest.importorskip("matplotlib")  # --plot-only draws the plot
        assert main(["-q", "screen", "--out", str(root / "plot"), "--model", model_file, "--grid", "10", "--plot",
                     "Fe-O", "--plot-only", "--overwrite"]) == 0
        folders[0] = str(root / "plot")
    elif case == "out-is-a-shard":
        out = ["--out", folders[0], "--overwrite"]
    elif case == "options":
        out += ["--grid", "20", "--min-depth", "0.02"]
    capsys.readouterr()
    rc, stdout, err = run(capsys, "screen", "--merge", *folders, *out)
    assert rc == 2 and stdout == ""
    assert err.strip().startswith("hullpack screen: " + match.format(root=root)), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (root / f"merged-{case}").exists()
    assert (root / "part0" / "systems.csv").is_file()  # a shard's folder is never touched


# ------------------------------------------------------------------------------ the default model
def test_screen_takes_default_for_the_shipped_model(tmp_path, capsys):
    shipped = screen(elements="Fe O", progress=False, compare_dft=False)
    named = screen("default", elements="Fe O", progress=False, compare_dft=False)
    assert named.config["model"] == shipped.config["model"]
    pd.testing.assert_frame_equal(named.vertices, shipped.vertices)
    rc, out, err = run(capsys, "screen", "--model", "default", "--elements", "Fe O", "--no-dft", "--out",
                       str(tmp_path / "s"))
    assert rc == 0 and err == ""
    assert pd.read_csv(tmp_path / "s" / "vertices.csv")["formula"].tolist() == shipped.vertices["formula"].tolist()
    # a missing file says how to name the shipped model on the command line too
    rc, out, err = run(capsys, "screen", "--model", str(tmp_path / "none.pt"), "--out", str(tmp_path / "t"))
    assert rc == 2 and "does not exist" in err and "'default' for the shipped model" in err


def test_a_screen_without_dft_has_no_dft_time(model, tmp_path, capsys):
    r = screen(model, elements="Fe O", grid=10, compare_dft=False, progress=False)
    assert "DFT" not in r.summary() and r.summary().splitlines()[-1].endswith(" s set-up: model)")
    assert "DFT comparison" in screen(model, elements="Fe O", grid=10, progress=False).summary().splitlines()[-1]


# ------------------------------------------------------------------------------------ --plot
@pytest.mark.parametrize("extra, match", [
    (["--plot", "Ni-O"], "--plot Ni-O is not among the systems of --elements 'Fe O Cu': add its elements to "
                         "--elements, or draw it alone with --plot Ni-O --plot-only"),
    (["--plot", "Cu-Fe-O"], "--plot Cu-Fe-O is a ternary system and this screen screens binary systems (--order 2): "
                            "give --order 3, or draw it alone with --plot Cu-Fe-O --plot-only"),
    (["--plot", "Cu-Fe", "--shard", "0/3"], "--plot Cu-Fe is screened by shard 2/3, not 0/3: give it to that shard's "
                                            "command, or draw it alone with --plot Cu-Fe --plot-only"),
])
def test_plot_of_a_system_the_screen_does_not_screen_is_refused_before_any_work(model_file, tmp_path, capsys,
                                                                               monkeypatch, extra, match):
    import hullpack.screening.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_load_model", lambda m: pytest.fail("the screen ran"))
    rc, out, err = run(capsys, "screen", "--elements", "Fe O Cu", "--model", model_file, "--out",
                       str(tmp_path / "o"), *extra)
    assert rc == 2 and out == "" and err.strip() == f"hullpack screen: {match}"
    assert not (tmp_path / "o").exists()
