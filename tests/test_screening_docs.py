"""Every Python example in docs/screening.md runs as written and does what the text says."""
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "screening.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def check_first_screen(ns, tmp_path):
    r = ns["r"]   # the shipped model, 10 binaries of 5 elements, 101 points each, compared with DFT
    assert len(r.systems) == 10 and (r.systems["n_points"] == 101).all()
    assert {"precision", "recall", "stab_f1"} <= set(r.systems.columns)
    assert len(r.vertices) == r.systems["n_stable"].sum() > 0
    assert (tmp_path / "Fe-O.png").stat().st_size > 10_000
    for name in ("systems", "vertices"):
        assert (tmp_path / "screen-out" / f"{name}.parquet").is_file()
        assert (tmp_path / "screen-out" / f"{name}.csv").is_file()


def check_grids(ns, tmp_path):
    from hullpack.compositions import reduced_grid

    r, t = ns["r"], ns["t"]
    assert len(reduced_grid(2, 10)) == 33       # the fractions a/b with b <= 10, pure elements included
    assert len(r.systems) == 10 and (r.systems["n_points"] == 33).all()
    assert len(t.systems) == 4 and (t.systems["n_points"] == 231).all() and "C" in t.systems


def check_own_model(ns, tmp_path):
    r, g = ns["r"], ns["g"]   # an MLP with LayerNorm and GELU, and a residual model, over 21 binaries
    assert r.config["engine"] == "InferenceEngine" and g.config["engine"] == "ModelEngine"
    for res in (r, g):
        assert len(res.systems) == 21 and res.config["precision"] == "bf16"
        assert res.config["certification"]["calibration_pairs"] == 21 * 99 and "audit:" in res.summary()
    assert "stab_f1" in r.systems


#: what each example must leave behind, by its position in the document
CHECKS = [check_first_screen, check_grids, check_own_model]


def test_every_example_has_a_check():
    assert len(BLOCKS) == len(CHECKS)


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_doc_example_runs(i, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    ns = {"__name__": "__doc__"}
    exec(compile(BLOCKS[i], f"docs/screening.md example {i}", "exec"), ns)
    CHECKS[i](ns, tmp_path)
