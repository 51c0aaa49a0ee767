"""hullpack batches on the size tables users have: exports with ids and formulas, Parquet, TSV,
JSON, whitespace text with a header, and the columns named with --columns."""
import json

import numpy as np
import pandas as pd
import pytest

from hullpack.cli import main


@pytest.fixture(scope="module")
def sizes():
    rng = np.random.default_rng(1)
    nodes = rng.lognormal(3, 0.8, 300).round() + 2
    return np.c_[nodes, (nodes * rng.uniform(2, 6, 300)).round()]


def batches(capsys, path, *argv):
    rc = main(["batches", str(path), *argv, "--json"])
    out, err = capsys.readouterr()
    return rc, (json.loads(out) if rc == 0 else None), " ".join(err.split())


def test_tables_of_every_format_give_the_batches_of_the_bare_sizes(sizes, tmp_path, capsys):
    pytest.importorskip("pyarrow")  # writes and reads a Parquet table
    np.save(tmp_path / "s.npy", sizes)
    expected = batches(capsys, tmp_path / "s.npy", "--batch-size", "8")[1]
    table = pd.DataFrame({"graph_id": [f"g{i}" for i in range(len(sizes))], "formula": "C6H6",
                          "num_nodes": sizes[:, 0], "num_edges": sizes[:, 1]})
    table.to_csv(tmp_path / "t.csv", index=False)
    table.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    table.to_parquet(tmp_path / "t.parquet")
    table.to_json(tmp_path / "t.json", orient="records")
    table[["num_nodes", "num_edges"]].to_csv(tmp_path / "t.txt", sep=" ", index=False)
    for name in ("t.csv", "t.tsv", "t.parquet", "t.json", "t.txt"):
        rc, stats, err = batches(capsys, tmp_path / name, "--batch-size", "8")
        assert rc == 0 and stats == expected, name
        if name != "t.txt":  # an id and a formula are named as left out, with the columns kept
            assert "'graph_id' (a row label), 'formula' (text)" in err, name
            assert "the sizes are the column(s) 'num_nodes', 'num_edges'" in err, name


def test_a_numeric_id_column_is_a_row_label_not_a_size(sizes, tmp_path, capsys):
    """Summed into the costs, ids 0..n-1 would batch by row number."""
    np.save(tmp_path / "s.npy", sizes[:, :1])
    expected = batches(capsys, tmp_path / "s.npy", "--batch-size", "8")[1]
    for label in ("graph_id", "Index", "sample idx"):
        pd.DataFrame({label: np.arange(len(sizes)), "natoms": sizes[:, 0]}).to_csv(tmp_path / "t.csv", index=False)
        rc, stats, err = batches(capsys, tmp_path / "t.csv", "--batch-size", "8")
        assert rc == 0 and stats == expected and f"{label!r} (a row label)" in err, label


def test_columns_option_picks_the_size_columns(sizes, tmp_path, capsys):
    table = pd.DataFrame({"natoms": sizes[:, 0], "energy": -sizes[:, 1], "num_edges": sizes[:, 1]})
    table.to_csv(tmp_path / "t.csv", index=False)
    np.save(tmp_path / "s.npy", sizes)
    expected = batches(capsys, tmp_path / "s.npy", "--max-cost", "400", "3000")[1]
    rc, stats, err = batches(capsys, tmp_path / "t.csv", "--max-cost", "400", "3000", "--columns", "natoms", "num_edges")
    assert rc == 0 and stats == expected and err == ""
    rc, _, err = batches(capsys, tmp_path / "t.csv", "--batch-size", "8", "--columns", "nodes")
    assert rc == 2 and "has no column 'nodes'; its columns: 'natoms', 'energy', 'num_edges'" in err
    np.savetxt(tmp_path / "bare.csv", sizes, delimiter=",")
    rc, _, err = batches(capsys, tmp_path / "bare.csv", "--batch-size", "8", "--columns", "natoms")
    assert rc == 2 and "--columns names columns of a table with a header line" in err


def test_a_word_in_a_size_column_is_named_by_column_and_row(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("id,num_nodes\n0,12\n1,7a\n2,9\n")
    rc, _, err = batches(capsys, tmp_path / "t.csv", "--batch-size", "2")
    assert rc == 2 and "column 'num_nodes', row 2: '7a' is not a number" in err
    (tmp_path / "only.csv").write_text("graph_id,formula\ng0,H2O\ng1,CO2\n")
    rc, _, err = batches(capsys, tmp_path / "only.csv", "--batch-size", "2")
    assert rc == 2 and "no column of sizes, only row labels ('graph_id') and text ('formula')" in err
    assert "--columns" in err


@pytest.mark.parametrize("name, write", [
    ("s.tsv", lambda p, text: p.write_text(text.replace(",", "\t"))),
    ("s.csv.gz", lambda p, text: __import__("gzip").open(p, "wt").write(text)),
    ("s.tsv.bz2", lambda p, text: __import__("bz2").open(p, "wt").write(text.replace(",", "\t"))),
])
def test_a_headerless_tsv_or_compressed_table_keeps_its_first_row(name, write, tmp_path):
    """Read as a table with a header, a file of numbers alone lost its first item without a word."""
    from hullpack.cli.batches import read_sizes

    path = tmp_path / name
    write(path, "3,4\n5,6\n7,8\n")
    assert read_sizes(str(path)).tolist() == [[3, 4], [5, 6], [7, 8]]


def test_an_empty_cell_in_a_size_column_is_named_by_column_and_row(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("id,num_nodes,num_edges\n0,12,30\n1,,14\n2,9,20\n")
    rc, _, err = batches(capsys, tmp_path / "t.csv", "--batch-size", "2")
    assert rc == 2 and "column 'num_nodes', row 2 is missing (an empty cell or NaN)" in err


def test_stats_of_several_budget_columns_are_printed_to_six_digits(tmp_path, capsys):
    np.save(tmp_path / "s.npy", np.c_[np.arange(1, 301) % 29 + 1, 3 * (np.arange(1, 301) % 31) + 1])
    assert main(["batches", str(tmp_path / "s.npy"), "--max-cost", "400", "1200"]) == 0
    mean = next(line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("mean_cost:"))
    assert all(len(x.strip(" []").replace(".", "")) <= 6 for x in mean.split(":")[1].split(",")), mean
