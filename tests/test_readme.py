"""Every Python example in README.md runs as written and prints what the README says it prints."""
import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def _numbers(text: str) -> list[float]:
    return [float(t) for t in re.findall(r"-?\d+(?:\.\d*)?(?:e-?\d+)?", text)]


def _comment_of(block: str, code: str) -> str:
    """The comment on the line of ``block`` that contains ``code``: the output it promises."""
    line = next(ln for ln in block.splitlines() if code in ln)
    return line.split("#", 1)[1].strip()


def check_samplers(block, printed, ns, tmp_path):
    balanced, packed = ns["balanced"].stats(), ns["packed"].stats()
    assert _numbers(printed) == [balanced["peak_cost"], packed["num_batches"]]
    assert balanced["peak_over_lower_bound"] < 1.02  # the README's "as equal as possible"
    assert packed["num_items"] == 500 and all(p <= m for p, m in zip(packed["peak_cost"], [2_000, 12_000]))


def check_memory_study(block, printed, ns, tmp_path):
    table = ns["table"].set_index("strategy")
    assert list(table.index) == ["random", "balanced"]
    assert table.loc["balanced", "peak_mib"] < table.loc["random", "peak_mib"]  # the sampler cuts the peak
    assert table.loc["balanced", "steps_per_epoch"] == table.loc["random", "steps_per_epoch"]
    assert printed.split()[:6] == ["strategy", "peak_mib", "mean_mib", "peak_reduction", "steps_per_epoch", "val_auc"]


def check_elemnet(block, printed, ns, tmp_path):
    # the shipped model's fp32 predictions for NaCl, Fe2O3 and AlNi, in eV/atom
    assert _numbers(printed) == pytest.approx([-2.042, -1.657, -0.674], abs=1e-3)


def check_hull(block, printed, ns, tmp_path):
    assert printed.split() == _comment_of(block, "print(").split()  # "[0 1] [0.  0.  0.1]"


def check_screening(block, printed, ns, tmp_path):
    promised = _comment_of(block, "screen(")  # "10 binaries x 101 points"
    n_systems, n_points = (int(n) for n in _numbers(promised))
    assert f"{n_systems} binary systems x {n_points} grid points" in printed
    head = ns["r"].vertices.head()
    assert len(head) == 5 and {"system", "formula", "energy", "depth"} <= set(head.columns)
    assert (tmp_path / "Fe-O.png").stat().st_size > 1000


def check_stability(block, printed, ns, tmp_path):
    own = ns["stability"](ns["compounds"]).set_index("formula")
    assert own.loc["FeO", "e_above_hull"] == pytest.approx(0.0175, abs=1e-9)       # as the comment says
    assert own.loc["Fe3O4", "decomposition_energy"] == pytest.approx(-0.00095238, abs=1e-8)
    assert list(own["stable"]) == [True, True, False, True, False]
    cand = ns["oqmd"].evaluate(ns["candidates"])
    assert (cand["stable"] == (cand["e_above_hull"] == 0)).all() and "LiFePO4" in printed


#: what each example must print or leave, found by a piece of its code
CHECKS = {
    "BalancedBatchSampler(": check_samplers,
    "run_study(": check_memory_study,
    "load_pretrained()": check_elemnet,
    "lower_hull(x, e)": check_hull,
    "screen(elements=": check_screening,
    "Reference.oqmd()": check_stability,
}


def test_every_example_is_checked():
    assert len(BLOCKS) == len(CHECKS)  # a new example needs its own check here
    for marker in CHECKS:
        assert sum(marker in b for b in BLOCKS) == 1, marker


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_runs(i, tmp_path, monkeypatch):
    block = BLOCKS[i]
    if "torch_geometric" in block or "hullpack.hep" in block:
        pytest.importorskip("torch_geometric")
    if ".plot_system(" in block:  # draws a plot
        pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    out, ns = io.StringIO(), {"__name__": "__readme__"}
    with contextlib.redirect_stdout(out):
        exec(compile(block, f"README.md example {i}", "exec"), ns)
    checks = [check for marker, check in CHECKS.items() if marker in block]
    assert len(checks) == 1
    checks[0](block, out.getvalue(), ns, tmp_path)
