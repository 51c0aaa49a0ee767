"""Every Python example in docs/screening.md runs as written."""
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "screening.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_doc_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_doc_example_runs(i, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    exec(compile(BLOCKS[i], f"docs/screening.md example {i}", "exec"), {"__name__": "__doc__"})
    if i == 0:
        assert (tmp_path / "Fe-O.png").stat().st_size > 0
        assert (tmp_path / "screen-out" / "systems.parquet").is_file()
