"""Every Python example in docs/stability.md runs as written (in order, in one namespace), and the
first one prints the table shown under it."""
import contextlib
import io
import re
import warnings
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "stability.md"
TEXT = DOC.read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, flags=re.S)


def test_doc_has_the_three_uses_and_every_element():
    assert len(BLOCKS) == 5


@pytest.fixture(scope="module")
def namespace():
    return {"__name__": "__doc__"}


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_doc_example_runs(i, namespace):
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(BLOCKS[i], f"docs/stability.md example {i}", "exec"), namespace)
    if i in (0, 3, 4):  # the output block after the example is what it prints
        shown = re.search(r"```\n(.*?)```", TEXT.split(BLOCKS[i], 1)[1].split("```", 1)[1], flags=re.S).group(1)
        assert out.getvalue().split() == shown.split()
    if i == 0:
        assert namespace["table"]["stable"].sum() == 4
    if i == 1:
        result = namespace["result"]
        assert result["problem"].notna().tolist() == [False] * 5 + [True]
        assert result["e_above_hull"].iloc[:5].notna().all()
    if i == 2:
        m = namespace["result"].metrics
        assert m.loc["all", "n"] > 100 and 0 < m.loc["all", "f1"] <= 1
    if i == 3:
        assert namespace["noble"]["problem"].isna().all()
