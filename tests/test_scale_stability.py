"""Large inputs to the stability API: reading many formulas shows a progress bar as the hull queries
do (on a terminal by default, never with ``progress_bar=False``), and reading them in chunks gives
the same table. Small inputs stand in for large ones through a smaller chunk size."""
import pandas as pd
import pytest

import hullpack.stability.inputs as inputs
from hullpack.stability import Reference, model_protocol, parse, stability

FORMULAS = ["Fe", "O2", "Fe2O3", "Fe3O4", "FeO", "FeO2", "Ni", "NiO", "NiFe2O4", "Fe2NiO4"]
ENERGIES = [0.0, 0.0, -1.70, -1.62, -1.40, -0.90, 0.0, -1.2, -1.5, -1.5]


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(inputs, "_CHUNK", 4)


def test_parse_of_many_formulas_shows_a_progress_bar(small_chunks, capsys):
    parse(FORMULAS, ENERGIES, progress_bar=True)
    assert "parse" in capsys.readouterr().err


@pytest.mark.parametrize("progress_bar", [False, None])  # None: not on a terminal (pytest's stderr)
def test_parse_shows_no_bar_when_off_or_not_on_a_terminal(small_chunks, capsys, progress_bar):
    parse(FORMULAS, ENERGIES, progress_bar=progress_bar)
    assert "parse" not in capsys.readouterr().err


def test_parse_of_one_chunk_shows_no_bar(capsys):
    parse(FORMULAS, ENERGIES, progress_bar=True)
    assert "parse" not in capsys.readouterr().err


def test_stability_passes_progress_bar_to_parsing(small_chunks, capsys):
    stability(FORMULAS, ENERGIES, progress_bar=False)
    assert "parse" not in capsys.readouterr().err
    stability(FORMULAS, ENERGIES, reference=Reference(FORMULAS, ENERGIES),
              progress_bar=True)
    assert "parse" in capsys.readouterr().err
    model_protocol(FORMULAS, ENERGIES, predicted=ENERGIES, progress_bar=True)
    assert "parse" in capsys.readouterr().err


def test_chunked_parsing_gives_the_same_table(monkeypatch):
    whole = stability(FORMULAS + ["Xx2"], ENERGIES + [-1.0], errors="ignore", progress_bar=False)
    monkeypatch.setattr(inputs, "_CHUNK", 3)
    chunked = stability(FORMULAS + ["Xx2"], ENERGIES + [-1.0], errors="ignore", progress_bar=True)
    pd.testing.assert_frame_equal(whole, chunked)
