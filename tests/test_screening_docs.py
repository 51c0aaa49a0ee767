"""Every Python example in docs/screening.md runs as written and does what the text says."""
import json
import re
from pathlib import Path

import pytest

from hullpack.screening.backend import cpu_bf16_native

DOC = Path(__file__).resolve().parents[1] / "docs" / "screening.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def check_first_screen(ns, tmp_path):
    r = ns["r"]   # the shipped model, 10 binaries of 5 elements, 33 points each (reduced:10), compared with DFT
    assert len(r.systems) == 10 and (r.systems["n_points"] == 33).all() and r.config["grid"] == "reduced:10"
    assert {"precision", "recall", "stab_f1"} <= set(r.systems.columns)
    assert len(r.vertices) == r.systems["n_stable"].sum() > 0 and (r.vertices["depth"] >= 0.01).all()
    assert "Fe2O3" in r.system("O-Fe")["stable"].split(";")          # named as chemists write it
    out = tmp_path / "screen-out"
    assert (out / "Fe-O.png").stat().st_size > 10_000
    for name in ("systems", "vertices"):
        assert (out / f"{name}.parquet").is_file() and (out / f"{name}.csv").is_file()
    listed = {f["name"] for f in json.loads((out / "manifest.json").read_text())["files"]}
    assert listed == {p.name for p in out.iterdir()} - {"manifest.json"}


def check_grids(ns, tmp_path):
    from hullpack.compositions import reduced_grid

    r, t, old = ns["r"], ns["t"], ns["old"]
    assert len(reduced_grid(2, 10)) == 33       # the fractions a/b with b <= 10, pure elements included
    assert len(r.systems) == 10 and (r.systems["n_points"] == 33).all()
    assert len(t.systems) == 4 and (t.systems["n_points"] == 205).all() and "C" in t.systems
    assert old.config["grid"] == "uniform:100" and (old.systems["n_stable"] == old.systems["n_vertices"]).all()


def check_own_model(ns, tmp_path):
    r, g = ns["r"], ns["g"]   # an MLP with LayerNorm and GELU, and a residual model, over 21 binaries
    assert r.config["engine"] == "InferenceEngine" and g.config["engine"] == "ModelEngine"
    # "auto" for the residual model: certified bf16 where the CPU has bf16 arithmetic, else fp32
    assert r.config["precision"] == "bf16" and g.config["precision"] == ("bf16" if cpu_bf16_native() else "fp32")
    for res in (r, g):
        assert len(res.systems) == 21
        if res.config["precision"] == "bf16":
            assert res.config["certification"]["calibration_pairs"] == res.stats["n_predictions"]
            assert "(the calibration sample was every point): none left in bf16, nothing to audit" in res.summary()
    assert "stab_f1" in r.systems


def check_own_dft(ns, tmp_path):
    r, known = ns["r"], ns["known"]   # the Fe-Ni-O ternary compared with five compounds of the reader's own
    assert known.name == "my DFT" and len(known.energy) == 5 and r.config["dft"] == "my DFT"
    assert "DFT (my DFT) stable compounds: 3;" in r.summary()          # Fe2O3, Fe3O4, NiO
    t = r.system_table("Fe-Ni-O")
    assert sorted(t.loc[t["source"] == "my DFT", "formula"]) == ["Fe2O3", "Fe3O4", "NiO"]


def check_quaternaries(ns, tmp_path):
    q = ns["q"]   # the shipped model, the 5 quaternaries of Li Fe Mn P O on reduced:10, compared with DFT
    assert len(q.systems) == 5 and (q.systems["n_points"] == 831).all() and q.config["grid"] == "reduced:10"
    assert "D" in q.systems and {"precision", "recall", "stab_f1"} <= set(q.systems.columns)
    assert "5 quaternary systems x 831 grid points" in q.summary()
    t = q.system_table("Li-Fe-P-O")
    assert set(t["source"]) == {"model", "OQMD"} and "LiFePO4" in set(t["formula"])
    assert (tmp_path / "quaternary-out" / "Fe-Li-O-P.csv").is_file()


#: what each example must leave behind, by its position in the document
CHECKS = [check_first_screen, check_grids, check_own_model, check_own_dft, check_quaternaries]


def test_every_example_has_a_check():
    assert len(BLOCKS) == len(CHECKS)


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_doc_example_runs(i, tmp_path, monkeypatch):
    if ".save(" in BLOCKS[i]:  # the tables as Parquet, plots as figures
        pytest.importorskip("pyarrow")
        pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    ns = {"__name__": "__doc__"}
    exec(compile(BLOCKS[i], f"docs/screening.md example {i}", "exec"), ns)
    CHECKS[i](ns, tmp_path)


def test_defaults_table_is_the_recorded_benchmark():
    """Every row of the table under "Defaults" is a row of benchmarks/results/screen_defaults.json,
    and the defaults it names are the library's."""
    from hullpack.screening import DEFAULT_GRID, DEFAULT_MIN_DEPTH

    record = json.loads((DOC.parents[1] / "benchmarks" / "results" / "screen_defaults.json").read_text())
    rows = {(r["order"], r["grid"], r["min_depth_mev"]): r for r in record["rows"]}
    section = DOC.read_text().split("## Defaults: what the evidence says")[1].split("\n## ")[0]
    table = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| binary")
             or line.startswith("| ternary")]
    assert len(table) >= 10
    defaults = []
    for cells in table:
        cells = [c.strip().replace("*", "") for c in cells]
        grid = cells[1].split(" ")[0]
        r = rows[(2 if cells[0] == "binary" else 3, grid, int(cells[4]))]
        assert cells[2:] == [str(r["points"]), f"{r['reachable']:.0%}", str(r["min_depth_mev"]), f"{r['n_pred']:,}",
                             f"{r['precision']:.3f}", f"{r['recall']:.3f}", f"{r['f1']:.3f}",
                             f"{r['recall_held_out']:.3f}"], cells
        if "(default)" in cells[1]:
            defaults.append((r["order"], grid, r["min_depth_mev"]))
    assert defaults == [(2, DEFAULT_GRID[2], DEFAULT_MIN_DEPTH * 1000), (3, DEFAULT_GRID[3], DEFAULT_MIN_DEPTH * 1000)]
