"""Comparing a screen with known compounds of your own (another database): read, checked, named
in the summary, tables and plots, and equal to the shipped OQMD comparison when given its rows."""
import re

import numpy as np
import pandas as pd
import pytest

from hullpack.cli import main
from hullpack.elemnet import save_model
from hullpack.elemnet.data import load_oqmd
from hullpack.errors import ScreeningError
from hullpack.screening import ScreenResult, screen
from hullpack.screening.dft import DFTCompounds, load_dft
from hullpack.stability.inputs import parse

ELEMENTS = "Fe Ni O"


@pytest.fixture(scope="module")
def oqmd_fe_ni_o():
    """The shipped OQMD rows (all splits, ElemNet's filter) whose elements lie in Fe-Ni-O."""
    df = pd.concat([load_oqmd(s) for s in ("train", "val", "test")], ignore_index=True)
    chemsys = parse(df["formula"].tolist(), df["target"].to_numpy()).chemsys()
    inside = [bool(c) and set(c.split("-")) <= set(ELEMENTS.split()) for c in chemsys]
    return df.loc[inside, ["formula", "target"]].rename(columns={"target": "formation_energy_per_atom"})


def tiny(model, **kw):
    return screen(model, elements=ELEMENTS, grid=10, progress=False, **kw)


def test_read_matches_the_shipped_loader_on_the_same_rows():
    raw = load_oqmd("val")
    mine = DFTCompounds.read(raw[["formula", "target"]], name="val")
    shipped = load_dft(("val",))
    assert mine.name == "val" and shipped.name == "OQMD"
    np.testing.assert_array_equal(mine.elements, shipped.elements)
    np.testing.assert_array_equal(mine.energy, shipped.energy)
    np.testing.assert_allclose(mine.fractions, shipped.fractions, atol=1e-7)  # exact vs float32 fractions


def test_a_screen_against_oqmd_rows_of_your_own_equals_the_shipped_comparison(model, oqmd_fe_ni_o, tmp_path):
    path = tmp_path / "mine.csv"
    oqmd_fe_ni_o.to_csv(path, index=False)
    shipped, mine = tiny(model), tiny(model, compare_dft=str(path))
    assert mine.config["dft"] == "mine.csv" and shipped.config["dft"] == "OQMD"
    pd.testing.assert_frame_equal(mine.systems, shipped.systems)
    assert "DFT (mine.csv) stable compounds" in mine.summary()
    assert "DFT (OQMD) stable compounds" in shipped.summary()


def test_your_compounds_are_what_the_screen_compares_tabulates_and_draws(model, tmp_path):
    pytest.importorskip("matplotlib")
    known = DFTCompounds.read(pd.DataFrame({"formula": ["Fe", "O2", "Fe2O3", "FeO", "NiO", "Fe3O4"],
                                            "energy": [0.0, 0.0, -1.70, -1.40, -1.10, -1.68]}), name="MP")
    r = tiny(model, compare_dft=known)
    s = r.systems.set_index("system")
    assert s.loc["Fe-O", "n_dft"] == 3 and s.loc["Fe-O", "n_dft_stable"] == 2  # FeO lies above Fe3O4-Fe
    assert s.loc["Ni-O", "n_dft"] == 1 and s.loc["Fe-Ni", "n_dft"] == 0
    t = r.system_table("O-Fe")
    assert sorted(t.loc[t["source"] == "MP", "formula"]) == ["Fe2O3", "Fe3O4"]
    fig = r.plot_system("Fe-O", tmp_path / "Fe-O.png")
    assert fig.axes[0].get_title() == "Fe-O: predicted vs DFT (MP) convex hull"
    assert "MP compounds" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    # the known stable compounds no predicted one matches are named on the plot, in the DFT's red
    mp = t[t["source"] == "MP"]
    named_red = {a.get_text() for a in fig.axes[0].texts if a.get_color() == "C3"}
    assert (~mp["matched"]).any() and named_red == set(mp.loc[~mp["matched"], "formula"])
    merged = ScreenResult.concat([tiny(model, compare_dft=known, shard=f"{i}/2") for i in range(2)])
    assert merged.dft is known and merged.config["dft"] == "MP"
    pd.testing.assert_frame_equal(merged.systems, r.systems)


def test_bad_rows_are_named_and_the_rest_kept():
    df = pd.DataFrame({"formula": ["FeO", "Xx2O", "Fe2O3", "NiO", "Fe3O4", "FeNi", "FeNiO2CuLi"],
                       "energy": [-1.4, -1.0, np.nan, 31.6, -1.68, -0.05, -1.0]})
    with pytest.warns(UserWarning) as caught:
        known = DFTCompounds.read(pd.concat([df, pd.DataFrame({"formula": ["Fe"], "energy": [0.12]})]))
    message = str(caught[0].message)
    assert "3 of 8 DFT compounds (reference) rows cannot be used" in message
    assert "'Xx2O': unknown element 'Xx'" in message and "'Fe2O3': energy is missing" in message
    assert "'NiO': formation energy 31.6 eV/atom outside -20..5" in message
    assert sorted(known.energy.tolist()) == [-1.68, -1.4, -0.05]  # five elements, beyond any screen, and the
    # element (a polymorph above 0 eV/atom) are left out without a word


@pytest.mark.parametrize("df, match", [
    (pd.DataFrame({"formula": ["Fe", "O2", "FeO"], "energy_per_atom": [-8.3, -4.9, -7.0]}),
     r"elements below 0 eV/atom \(Fe -8.300, O -4.900\).*total energies"),
    (pd.DataFrame({"formula": ["FeO", "Fe2O3", "NiO"], "energy": [-7.0, -6.9, -6.2]}), "median energy -6.90"),
    (pd.DataFrame({"formula": ["FeO"], "dH_kJ_mol": [-1.4]}), r"no formation energy \(eV/atom\) column \(formation_energy_per_atom.*name it with energies="),
    ("/no/such/file.csv", "no such file"),
])
def test_what_cannot_be_compared_with_is_refused(df, match):
    with pytest.raises(ScreeningError, match=match):
        DFTCompounds.read(df)


def run(capsys, *argv):
    rc = main(["-q", "screen", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_dft_file(model, oqmd_fe_ni_o, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")  # --plot
    model_file = str(save_model(model, tmp_path / "m.pt"))
    path = tmp_path / "mp.csv"
    oqmd_fe_ni_o.to_csv(path, index=False)
    common = ["--elements", ELEMENTS, "--grid", "10", "--model", model_file]
    rc, out, err = run(capsys, *common, "--dft", str(path), "--out", str(tmp_path / "o"), "--plot", "Fe-O")
    assert rc == 0 and "DFT (mp.csv) stable compounds" in out
    assert (tmp_path / "o" / "Fe-O.png").is_file()
    import hullpack.screening.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_load_model", lambda m: pytest.fail("the screen ran"))
    bad = tmp_path / "total.csv"
    pd.DataFrame({"formula": ["Fe", "FeO"], "energy_per_atom": [-8.3, -7.0]}).to_csv(bad, index=False)
    for argv, message in (([ "--dft", str(bad)], "total energies"),
                          (["--dft", str(path), "--no-dft"], "give one"),
                          (["--dft", str(tmp_path / "none.csv")], "does not exist")):
        rc, out, err = run(capsys, *common, *argv, "--out", str(tmp_path / "x"))
        assert rc == 2 and out == "" and message in err and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "x").exists()


def test_cli_names_the_bad_rows_of_a_dft_file_as_predict_and_stability_do(model, tmp_path, capsys):
    """Counted from 1 under the header, in file order: a Materials Project export whose 4th row
    lacks its energy is told so as '--dft row 4'; the good rows are compared."""
    model_file = str(save_model(model, tmp_path / "m.pt"))
    path = tmp_path / "mp.csv"
    pd.DataFrame({"material_id": ["mp-1", "mp-2", "mp-3", "mp-4", "mp-5", "mp-6"],
                  "formula_pretty": ["Fe2O3", "Fe2O3", "FeO", "Fe3O4", "Fe2O3x", "FeO"],
                  "formation_energy_per_atom": [-1.65, -1.59, -1.35, None, -1.0, -30.0]}).to_csv(path, index=False)
    rc, out, err = run(capsys, "--elements", ELEMENTS, "--grid", "10", "--model", model_file, "--dft", str(path),
                       "--out", str(tmp_path / "o"))
    assert rc == 0 and "DFT (mp.csv) stable compounds" in out
    note = " ".join(err.split())
    assert "3 of 6 DFT compounds (mp.csv) rows cannot be used" in note
    rows = re.findall(r"\[--dft row (\d+)\] '([^']+)'", note)
    assert rows == [("4", "Fe3O4"), ("5", "Fe2O3x"), ("6", "FeO")]
    with pytest.warns(UserWarning) as caught:                 # the same rows from Python, given the file
        DFTCompounds.read(path)
    assert re.findall(r"\[row (\d+)\]", str(caught[0].message)) == ["4", "5", "6"]


def test_the_shipped_compounds_are_cached_on_disk(tmp_path, monkeypatch):
    from hullpack.screening.dft import dft_cache_file

    monkeypatch.setenv("HULLPACK_CACHE_DIR", str(tmp_path))
    load_dft.cache_clear()
    try:
        first = load_dft(("val",))
        path = dft_cache_file(("val",))
        assert path.parent == tmp_path and path.is_file()
        load_dft.cache_clear()
        again = load_dft(("val",))  # from the file
        for a, b in ((first.elements, again.elements), (first.fractions, again.fractions), (first.energy, again.energy)):
            np.testing.assert_array_equal(a, b)
        assert again.name == "OQMD"
        path.write_bytes(b"not an npz")  # damaged: parsed again and rewritten
        load_dft.cache_clear()
        np.testing.assert_array_equal(load_dft(("val",)).energy, first.energy)
        assert path.stat().st_size > 1000
        monkeypatch.setenv("HULLPACK_CACHE_DIR", "")  # off
        assert dft_cache_file(("val",)) is None
    finally:
        load_dft.cache_clear()


def test_the_cache_keeps_the_files_used_last_of_each_kind(tmp_path, monkeypatch):
    """Every upgrade or edit writes a new file; of each kind only the ones used last stay."""
    import os

    import numpy as np

    from hullpack._cache import KEEP, load_arrays, save_arrays

    paths = [tmp_path / f"oqmd-compounds-val-{i:016x}.npz" for i in range(KEEP + 3)]
    other = tmp_path / "oqmd-compounds-val+test-0000000000000000.npz"  # another kind stays
    save_arrays(other, a=np.zeros(1))
    for i, path in enumerate(paths[:KEEP + 2]):
        save_arrays(path, a=np.arange(i))
        os.utime(path, ns=(i * 10**9, i * 10**9))  # written one after another
    assert load_arrays(paths[0], ["a"]) is None  # pruned
    kept = sorted(p.name for p in tmp_path.glob("oqmd-compounds-val-*.npz"))
    assert kept == sorted(p.name for p in paths[2:KEEP + 2])
    assert load_arrays(paths[2], ["a"])["a"].tolist() == [0, 1]  # read: now the one used last
    save_arrays(paths[-1], a=np.zeros(2))
    kept = {p.name for p in tmp_path.glob("oqmd-compounds-val-*.npz")}
    assert paths[2].name in kept and paths[-1].name in kept and len(kept) == KEEP
    assert other.is_file()


def test_a_damaged_cache_file_or_a_cache_folder_that_is_a_file_costs_only_the_saving(tmp_path):
    """A truncated file (a process killed while another wrote it) is read as absent, and a cache
    directory that is a file leaves the arrays unsaved, without an error."""
    import numpy as np

    from hullpack._cache import load_arrays, save_arrays

    path = tmp_path / "oqmd-compounds-val-0000000000000000.npz"
    save_arrays(path, a=np.arange(1000))
    path.write_bytes(path.read_bytes()[:300])  # truncated: no zip directory
    assert load_arrays(path, ["a"]) is None
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    save_arrays(blocker / "oqmd-compounds-val-0000000000000000.npz", a=np.zeros(1))
    assert blocker.is_file()


def test_cli_dft_reads_database_exports_as_hullpack_stability_does(model, tmp_path, capsys):
    """AFLOW's `composition` (the amounts of its `species`, [2, 3]) and Materials Project's empty
    `composition` field were taken for the formula column of --dft (every row bad); the formula is
    `compound` and `formula_pretty` there, as `hullpack stability` reads them."""
    model_file = str(save_model(model, tmp_path / "m.pt"))
    aflow = pd.DataFrame({"auid": ["aflow:1", "aflow:2"], "compound": ["Fe2O3", "Fe1O1"], "species": [["Fe", "O"]] * 2,
                          "composition": [[2, 3], [1, 1]], "enthalpy_formation_atom": [-1.7, -1.4]})
    mp = pd.DataFrame({"material_id": ["mp-1", "mp-2"], "composition": [None, None], "formula_pretty": ["Fe2O3", "FeO"],
                       "formation_energy_per_atom": [-1.7, -1.4]})
    for name, table in (("aflow.json", aflow), ("mp.json", mp)):
        table.to_json(tmp_path / name, orient="records")
        rc, out, err = run(capsys, "--elements", "Fe O", "--grid", "10", "--model", model_file,
                           "--dft", str(tmp_path / name), "--out", str(tmp_path / name.split(".")[0]))
        assert rc == 0 and err == "" and f"DFT ({name}) stable compounds: 1;" in out
        assert f"stability F1 over 2 known compounds" in out
        read = DFTCompounds.read(tmp_path / name)  # the same from Python
        assert read.energy.tolist() == [-1.7, -1.4]
