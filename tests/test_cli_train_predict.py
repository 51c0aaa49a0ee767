"""hullpack train and hullpack predict as a materials scientist runs them on their own tables, and
the helpers the commands share (hullpack.cli.common)."""
import argparse
import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from hullpack.cli import main
from hullpack.cli.common import positive_float, warnings_as_notes
from hullpack.elemnet import ElemNet, parse_formulas, run_config, save_model, table_arrays
from hullpack.errors import CompositionError
from test_elemnet_user import mp_table  # a Materials Project style export

TINY = ["--batch-size", "32", "--lr", "1e-3", "--bf16", "off"]


def cli(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``hullpack ARGV`` (notes on stderr)."""
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


# ----------------------------------------------------------------------------------- predict

def test_predict_says_how_it_read_an_argument_that_looks_like_two_formulas(tmp_path, capsys):
    """Spaces join a formula's parts ("Fe2 O3" is Fe2O3), so "Fe2O3 NaCl" is one compound: read so,
    with a note saying how and that formulas go as separate arguments; "Fe2 O3" and "Li Fe P O4",
    whose words are an element each, are read without one; a formula list's line gets a note of its own
    (test_predict_notes_a_file_line_that_looks_like_several_formulas)."""
    rc, out, err = cli(capsys, "predict", "Fe2O3 NaCl", "Fe2 O3", "Li Fe P O4", "NaCl")
    assert rc == 0
    rows = out.splitlines()[1:]
    assert [r.rsplit(",", 1)[0] for r in rows] == ["Fe2O3 NaCl", "Fe2 O3", "Li Fe P O4", "NaCl"]
    assert err.count("note:") == 1
    assert ("note: formula 1 'Fe2O3 NaCl' is read as one compound, Fe2O3NaCl, as the spaces within a formula join "
            "its parts ('Fe2 O3' is Fe2O3); if it is several formulas ('Fe2O3' and 'NaCl'), give each as an argument "
            "of its own") in err
    assert cli(capsys, "predict", "Fe2NaClO3")[1].splitlines()[1] == "Fe2NaClO3," + rows[0].rsplit(",", 1)[1]


def test_predict_notes_a_file_line_that_looks_like_several_formulas(tmp_path, capsys):
    """'Fe2O3 NaCl KCl' on one line of a formula list (or in one cell of a table) was read as one
    compound, Fe2O3NaClKCl, without a word: a note names each such line and says to give each
    formula a line (a row) of its own; 'Fe2 O3' and 'Li Fe P O4' are read without one."""
    (tmp_path / "f.txt").write_text("Fe2 O3\nFe2O3 NaCl KCl\nLi Fe P O4\n")
    rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / "f.txt"))
    assert rc == 0 and len(out.splitlines()) == 4, err
    assert err.count("note:") == 1
    assert ("note: 1 formula of --file is read as one compound, as the spaces within a formula join its parts "
            "('Fe2 O3' is Fe2O3): --file line 2 'Fe2O3 NaCl KCl' is Fe2O3NaClKCl; if one is several formulas "
            "('Fe2O3' and 'NaCl'), give each a line of its own") in err
    pd.DataFrame({"formula": ["NaCl", "Fe2O3 NaCl"]}).to_csv(tmp_path / "f.csv", index=False)
    rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / "f.csv"))
    assert rc == 0 and "--file row 2 'Fe2O3 NaCl' is Fe2O3NaCl;" in err and err.rstrip().endswith("a row of its own")


def test_one_note_joined_serves_arguments_one_note_each_and_a_file_s_lines_one_note_for_all(capsys):
    """predict's note on --file lines was a twin of note_joined, the arguments' note: one function, its
    grouped note naming the first five lines, then how many more."""
    import contextlib
    import io

    from hullpack.cli.common import note_joined

    texts = {i: f"Fe2O3 NaCl{'K' * i}" for i in range(7)}
    where = [f"--file row {i + 1}" for i in range(7)]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        note_joined("predict", texts, where, grouped="--file")
    assert err.getvalue().count("note:") == 1
    assert err.getvalue().startswith("hullpack predict: note: 7 formulas of --file are read as one compound each, as "
                                     "the spaces within a formula join its parts ('Fe2 O3' is Fe2O3): --file row 1 "
                                     "'Fe2O3 NaCl' is Fe2O3NaCl; --file row 2 'Fe2O3 NaClK' is Fe2O3NaClK;")
    assert err.getvalue().endswith("--file row 5 'Fe2O3 NaClKKKK' is Fe2O3NaClKKKK; and 2 more; if one is several "
                                   "formulas ('Fe2O3' and 'NaCl'), give each a row of its own\n")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        note_joined("predict", texts, [f"formula {i + 1}" for i in range(7)])
    assert err.getvalue().count("note: formula ") == 7


def test_predict_refuses_a_text_file_that_is_a_table(tmp_path, capsys):
    """A text --file of formulas that holds a table: a CSV saved as .txt had its header and every row
    refused as a bad formula ('formula,dH': "element symbols start with a capital letter"), and a
    line of tab-separated cells pasted from a spreadsheet was read as one formula, 'Fe2O3<tab>P1' as
    Fe2O3P, a phosphide, without a word. Both are refused, naming the line and what to do."""
    for name, text, sep in (("t.txt", "formula,dH\nFe2O3,-1.7\n", ","), ("s.txt", "Formula;dH\nFe2O3;-1,7\n", ";"),
                            ("tab.txt", "name\tspacegroup\nFe2O3\tR-3c\n", "\t")):
        (tmp_path / name).write_text(text)
        rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / name))
        header = text.split("\n")[0]
        assert rc == 2 and out == "" and err.startswith(
            f"hullpack predict: --file {tmp_path / name}: its line 1 ({header!r}) names the columns of a table: give "
            "the file a .csv name (.tsv where tabs separate the columns)"), err
    (tmp_path / "p.txt").write_text("NaCl\nFe2O3\tP1\n")
    rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / "p.txt"))
    assert rc == 2 and out == "" and err.startswith(
        f"hullpack predict: --file {tmp_path / 'p.txt'}: its line 2 ('Fe2O3\\tP1') holds cells separated by tabs"), err
    (tmp_path / "p.csv").write_text("formula,dH\nFe2O3,-1.7\n")  # the same table, as a .csv: read
    rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / "p.csv"))
    assert rc == 0 and out.splitlines()[0] == "formula,dH_eV_per_atom,dH", err


def test_predict_prints_a_formula_without_the_blanks_around_it_as_a_file_row_does(tmp_path, capsys):
    rc, out, err = cli(capsys, "predict", " NaCl ", "Fe2O3\t")
    assert rc == 0, err
    args = out.splitlines()
    assert [line.split(",")[0] for line in args] == ["formula", "NaCl", "Fe2O3"]
    (tmp_path / "f.txt").write_text(" NaCl \nFe2O3\t\n")
    pd.DataFrame({"formula": [" NaCl ", "Fe2O3\t"]}).to_csv(tmp_path / "f.csv", index=False)
    for name in ("f.txt", "f.csv"):
        rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / name))
        assert rc == 0 and out.splitlines() == args, err


# ------------------------------------------------------------------------------ shared helpers

def test_a_warning_of_several_lines_is_a_note_with_its_lines_under_it(capsys):
    with warnings_as_notes("demo", about="--data t.csv: "):
        warnings.warn("2 of 9 rows cannot be used:\n  row 3 'HeO2': He is not one of ElemNet's 86 elements\n"
                      "  row 5  'Xx':  unknown element 'Xx'\n(left out)")
        warnings.warn("2 of 9 rows cannot be used:\n row 3 'HeO2': He is not one of ElemNet's 86 elements\n"
                      "row 5 'Xx': unknown element 'Xx'\n\n(left out)")  # the same, spaced otherwise
    assert capsys.readouterr().err == (
        "hullpack demo: note: --data t.csv: 2 of 9 rows cannot be used:\n"
        "  row 3 'HeO2': He is not one of ElemNet's 86 elements\n"
        "  row 5 'Xx': unknown element 'Xx'\n"
        "  (left out)\n")


@pytest.mark.parametrize("text", ["0", "-1", "inf", "nan", "ten"])
def test_positive_float_refuses_what_is_no_positive_number(text):
    with pytest.raises(argparse.ArgumentTypeError, match=f"expected a number > 0, got '{text}'"):
        positive_float(text)
    assert positive_float("1.5") == 1.5


def test_bench_memory_refuses_a_budget_of_zero(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bench-memory", "--budget-mib", "0"])
    assert exit_.value.code == 2 and "argument --budget-mib: expected a number > 0, got '0'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------- train

@pytest.mark.parametrize("flag", ["--epochs", "--batch-size", "--patience", "--stop-after", "--lr"])
def test_train_names_the_option_given_zero(tmp_path, capsys, flag):
    with pytest.raises(SystemExit) as exit_:
        main(["train", str(tmp_path / "run"), flag, "0"])
    assert exit_.value.code == 2 and f"argument {flag}: expected" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_train_names_the_validation_table_whose_rows_are_all_bad(tmp_path, capsys):
    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    pd.DataFrame({"formula": ["HeO2", "Xx2O"], "e_form": [-0.3, -1.0]}).to_csv(tmp_path / "val.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), "--val-data",
                     str(tmp_path / "val.csv"), "--errors", "skip", "--epochs", "1", *TINY)
    assert rc == 2 and not (tmp_path / "run").exists()
    assert f"hullpack train: --val-data {tmp_path / 'val.csv'}: 2 of 2 rows cannot be used" in err
    assert "row 1 'HeO2'" in err and "row 2 'Xx2O'" in err and "(none is left)" in err


def test_table_arrays_skipping_every_row_raises_rather_than_return_nothing():
    df = pd.DataFrame({"formula": ["HeO2", "NaCl"], "e_form": [-0.3, "n/a"]})
    with pytest.raises(CompositionError, match=r"2 of 2 rows cannot be used(.|\n)*row 2 'NaCl': e_form is missing"):
        table_arrays(df, errors="skip")


def test_train_notes_the_rows_it_leaves_out_on_lines_of_their_own(tmp_path, capsys):
    df = mp_table(40)
    df.loc[3, "formula_pretty"] = "HeO2"
    df.to_csv(tmp_path / "mp.csv", index=False)
    rc, out, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), "--errors", "skip",
                       "--epochs", "1", "--architecture", "16x1D-1", "--dropout", "0.1", *TINY)
    assert rc == 0, err
    assert (f"hullpack train: note: --data {tmp_path / 'mp.csv'}: 1 of 40 rows cannot be used (columns "
            "'formula_pretty', 'formation_energy_per_atom'):\n  row 4 'HeO2': He is not one of ElemNet's 86 elements (no He, Ne, Ar, "
            "Po, At, Rn, Fr, Ra, nor any past Pu)\n  (left out)\n") in err


def test_train_reads_the_init_model_file_once(tmp_path, capsys, monkeypatch):
    from pathlib import Path

    torch.manual_seed(0)
    start = save_model(ElemNet("16x1D-1", (0.1,)), tmp_path / "start.pt")
    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    reads, real = [], Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self.name) or real(self))
    rc, out, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"),
                       "--init", str(start), "--epochs", "1", *TINY)
    assert rc == 0, err
    assert reads.count("start.pt") == 1
    start_line = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[0])
    assert start_line["init"] == str(start)  # named by the path given


def test_a_fine_tuning_log_opens_with_epoch_0_and_keeps_it_when_resumed(tmp_path, capsys):
    torch.manual_seed(0)
    save_model(ElemNet("16x1D-1", (0.1,)), tmp_path / "start.pt")
    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    command = ["train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), "--init", str(tmp_path / "start.pt"),
               *TINY]
    rc, out, err = cli(capsys, *command, "--epochs", "1")
    assert rc == 0, err
    init_val_mae = json.loads(out)["init_val_mae"]
    rc, out, err = cli(capsys, *command, "--epochs", "2")  # resumed
    assert rc == 0, err
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [0, 1, 2]
    assert lines[0]["val_mae"] == init_val_mae and lines[0]["init"] == str(tmp_path / "start.pt")
    assert lines[0]["train_loss"] is None and lines[1]["train_loss"] > 0


def test_fine_tuning_keeps_dropout_off_unless_asked(tmp_path, capsys):
    torch.manual_seed(0)
    save_model(ElemNet("16x1D-1", (0.1,)), tmp_path / "start.pt")
    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    data = ["--data", str(tmp_path / "mp.csv"), "--init", str(tmp_path / "start.pt"), "--epochs", "1", *TINY]
    rc, _, err = cli(capsys, "train", str(tmp_path / "off"), *data)
    assert rc == 0, err
    assert run_config(tmp_path / "off").dropout_epochs == 0
    assert not json.loads((tmp_path / "off" / "metrics.jsonl").read_text().splitlines()[1])["dropout"]
    rc, _, err = cli(capsys, "train", str(tmp_path / "on"), *data, "--dropout-epochs", "3")
    assert rc == 0, err
    assert run_config(tmp_path / "on").dropout_epochs == 3
    rc, _, err = cli(capsys, "train", str(tmp_path / "scratch"), "--data", str(tmp_path / "mp.csv"), "--epochs", "1",
                     "--architecture", "16x1D-1", "--dropout", "0.1", *TINY)
    assert rc == 0 and run_config(tmp_path / "scratch").dropout_epochs == 8, err  # from scratch: early dropout


def test_a_diverging_run_stops_at_once_and_says_what_to_change(tmp_path, capsys):
    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    rc, out, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), "--architecture",
                       "16x1D-1", "--dropout", "0.1", "--batch-size", "32", "--bf16", "off", "--warmup-epochs", "0",
                       "--lr", "1e30", "--epochs", "50")
    assert rc == 2 and out == ""
    assert "hullpack train: training diverged in epoch 1: the val MAE is nan" in err
    assert "Lower the learning rate (lr 1e+30, --lr)" in err and "holds no finished epoch" in err
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == "" and not (tmp_path / "run" / "best.pt").exists()


def test_resuming_a_run_on_a_table_without_the_table_says_to_give_it_again(tmp_path, capsys, monkeypatch):
    import hullpack.elemnet.data as data

    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    tiny = ["--architecture", "16x1D-1", "--dropout", "0.1", *TINY]
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), "--epochs", "1", *tiny)
    assert rc == 0, err
    monkeypatch.setattr(data, "oqmd_arrays", lambda split: pytest.fail("read OQMD to refuse the run"))
    rc, out, err = cli(capsys, "train", str(tmp_path / "run"), "--epochs", "2")
    assert rc == 2 and out == ""
    assert f"holds a run trained on {tmp_path / 'mp.csv'} (formula column formula_pretty" in err
    assert "resume it with the same data (--data" in err
    rc, out, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), "--epochs", "2")
    assert rc == 0 and json.loads(out)["epochs_done"] == 2, err


# ------------------------------------------------------------- tables shaped as the mp-api writes them

def mp_api_table(n: int = 40) -> pd.DataFrame:
    """An mp-api export: every field of the document, None where it was not asked for (composition
    here), before formula_pretty with the formulas."""
    df = mp_table(n)
    return pd.DataFrame({"material_id": df.material_id, "composition": [None] * n,
                         "formula_pretty": df.formula_pretty,
                         "formation_energy_per_atom": df.formation_energy_per_atom})


def test_training_and_prediction_pass_over_a_column_without_values_as_stability_does(tmp_path, capsys):
    """table_columns and predict --file took the empty 'composition' column (every row 'missing
    value'), where hullpack stability reads formula_pretty."""
    from hullpack.elemnet import table_columns

    df = mp_api_table()
    assert table_columns(df) == ("formula_pretty", "formation_energy_per_atom")
    x, y = table_arrays(df)
    assert len(x) == len(y) == len(df) and not np.isnan(x).any()
    df.head(3).to_csv(tmp_path / "mp.csv", index=False)
    rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / "mp.csv"))
    assert rc == 0, err
    rows = out.splitlines()
    assert rows[0] == "formula,dH_eV_per_atom,material_id,composition,formation_energy_per_atom"
    assert [r.split(",")[0] for r in rows[1:]] == df.formula_pretty[:3].tolist()


@pytest.mark.parametrize("cell, hint", [("-1,7", "(a decimal comma? write -1.7)"),
                                        ("\u22121.7", "(a typeset minus sign, U+2212? write -1.7)")])
def test_an_energy_written_as_a_paper_writes_it_is_told_how_to_write_it(cell, hint):
    df = mp_table(4).astype({"formation_energy_per_atom": object})
    df.loc[2, "formation_energy_per_atom"] = cell
    with pytest.raises(CompositionError, match="row 3 .*formation_energy_per_atom is .*, not a finite number "
                                               + re.escape(hint)):
        table_arrays(df)


def test_a_missing_formula_in_a_training_table_is_named_empty_not_nan(tmp_path, capsys):
    """Its row read "row 3 'nan': missing value", as if the formula were the text nan (sodium
    nitride's NaN is a formula); hullpack predict --file names the same cell ''."""
    df = mp_table(6).astype({"formula_pretty": object})
    df.loc[2, "formula_pretty"] = None
    df.loc[4, "formula_pretty"] = np.nan
    df.loc[4, "formation_energy_per_atom"] = np.nan
    with pytest.raises(CompositionError) as err:
        table_arrays(df)
    assert "row 3 '': empty formula" in str(err.value) and "'nan'" not in str(err.value)
    assert "row 5 '': empty formula" in str(err.value)
    df.to_csv(tmp_path / "mp.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"))
    assert rc == 2 and "row 3 '': empty formula" in err and "'nan'" not in err


def test_predict_reads_a_formula_list_with_a_comment_after_a_formula(tmp_path, capsys):
    """'NaCl  # rock salt' was refused as a formula that cannot be parsed; a # starts a comment on
    any line of a text file, as on a line of its own."""
    (tmp_path / "f.txt").write_text("# my list\nformula\nFe2O3\nNaCl  # rock salt\n  # TiO2\n")
    rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / "f.txt"))
    assert rc == 0, err
    assert [r.split(",")[0] for r in out.splitlines()] == ["formula", "Fe2O3", "NaCl"]
    assert "write the formula alone: 'NaCl'" in ";".join(r for _, _, r in parse_formulas(["NaCl # halite"])[1])


def test_predict_prints_block_by_block_and_stops_when_the_reader_does(tmp_path, capsys, monkeypatch):
    """Rows are written as each block is predicted, the same rows as one prediction of all; a
    reader that stops early (| head) ends the command before the rest is predicted."""
    import io

    from hullpack.cli import predict as predict_cli
    from hullpack.elemnet import load_pretrained

    formulas = ["NaCl", "Fe2O3", "HeO", "MgO", "LiF", "CaO", "ZnS"]
    (tmp_path / "f.txt").write_text("\n".join(formulas) + "\n")
    monkeypatch.setattr(predict_cli, "_BLOCK", 2)
    calls = []
    real = ElemNet.predict
    monkeypatch.setattr(ElemNet, "predict", lambda self, x, **kw: calls.append(len(x)) or real(self, x, **kw))
    rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / "f.txt"), "--errors", "nan")
    assert rc == 0, err
    assert calls == [2, 1, 2, 1]  # HeO left out of its block
    with pytest.warns(UserWarning, match="HeO"):
        expected = real(load_pretrained(), formulas, errors="nan")
    rows = [line.split(",") for line in out.splitlines()[1:]]
    assert [r[0] for r in rows] == formulas
    assert [r[1] for r in rows] == [f"{e:.6f}" for e in expected]

    class ClosedPipe(io.StringIO):  # the reader has gone after the first block's rows
        def flush(self):
            raise BrokenPipeError

    calls.clear()
    monkeypatch.setattr("sys.stdout", ClosedPipe())
    assert main(["-q", "predict", *formulas[:2], *formulas[3:]]) == 1
    assert calls == [2]


def test_export_of_a_run_on_one_s_own_table_says_where_its_test_mae_was_measured(tmp_path, capsys, caplog):
    mp_table(60).to_csv(tmp_path / "mp.csv", index=False)
    run = tmp_path / "run"
    rc, _, err = cli(capsys, "train", str(run), "--data", str(tmp_path / "mp.csv"), "--epochs", "1",
                     "--architecture", "8x1-1", "--dropout", "", *TINY)
    assert rc == 0, err
    caplog.clear()
    rc, out, err = cli(capsys, "train", "--export", str(run), "--out", str(tmp_path / "m.pt"))
    assert rc == 0, err
    meta = json.loads(out)
    assert meta["test_data"] == "OQMD test split (hullpack/data/oqmd)" and meta["n_test"] == 51251
    assert meta["trained_on"].startswith(f"{tmp_path / 'mp.csv'} (formula column formula_pretty")
    assert "not on a held-out part of those data" in caplog.text
    # its best.pt named exports the same; a folder that holds none is named as such
    rc, out, err = cli(capsys, "train", "--export", str(run / "best.pt"), "--out", str(tmp_path / "m2.pt"))
    assert rc == 0 and json.loads(out)["source_run"] == meta["source_run"] == str(run.resolve()), err
    (tmp_path / "empty").mkdir()
    rc, out, err = cli(capsys, "train", "--export", str(tmp_path / "empty"), "--out", str(tmp_path / "m3.pt"))
    assert rc == 2 and f"model folder {tmp_path / 'empty'} holds no best.pt" in err


def test_train_reads_the_validation_table_s_own_energy_column(tmp_path, capsys):
    """--val-data may name its columns otherwise than --data: --val-energy-column (and
    --val-formula-column) name them, defaulting to --energy-column (--formula-column); a name
    that is not there is an error naming the file, its columns and the option to give."""
    mp_table(60).rename(columns={"formation_energy_per_atom": "e_f"}).to_csv(tmp_path / "mp.csv", index=False)
    val = mp_table(20, seed=3).rename(columns={"formula_pretty": "chem", "formation_energy_per_atom": "dH"})
    val.to_csv(tmp_path / "val.csv", index=False)
    base = ["train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), "--energy-column", "e_f",
            "--val-data", str(tmp_path / "val.csv"), "--epochs", "1", "--architecture", "16x1D-1", "--dropout", "0.1",
            *TINY]
    rc, _, err = cli(capsys, *base, "--val-energy-column", "dH")
    assert rc == 2 and "no formula column" in err and err.rstrip().endswith("name it with --val-formula-column")
    base += ["--val-formula-column", "chem"]
    rc, _, err = cli(capsys, *base)
    assert rc == 2 and not (tmp_path / "run").exists()
    assert (f"hullpack train: --val-data {tmp_path / 'val.csv'}: energy column 'e_f' is not among the table's columns "
            "['material_id', 'chem', 'dH'] (--energy-column names the column of --data; --val-energy-column "
            "names that of --val-data)") in err
    rc, _, err = cli(capsys, *base, "--val-energy-column", "dh_form")
    assert rc == 2 and "energy column 'dh_form' is not among the table's columns" in err
    rc, out, err = cli(capsys, *base, "--val-energy-column", "dH")
    assert rc == 0, err
    assert json.loads(out)["best_val_mae"] < 5
    meta = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["data"]
    assert (meta["n_train"], meta["n_val"]) == (60, 20)
    trained_on = json.loads((tmp_path / "run" / "config.json").read_text())["trained_on"]
    assert trained_on.endswith(f"selected on {tmp_path / 'val.csv'} (formula column chem, energy column dH; 20 rows)")
    # without --energy-column, a validation table whose energy column has no name hullpack knows says what to give
    mp_table(60).to_csv(tmp_path / "mp2.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "run2"), "--data", str(tmp_path / "mp2.csv"), "--val-data",
                     str(tmp_path / "val.csv"), "--val-formula-column", "chem", "--epochs", "1", *TINY)
    assert rc == 2 and f"--val-data {tmp_path / 'val.csv'}: no energy column" in err
    assert err.rstrip().endswith("name it with --val-energy-column")


def test_train_val_column_options_go_with_val_data(tmp_path, capsys):
    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), "--val-energy-column",
                     "dH")
    assert rc == 2 and ("--val-energy-column names the columns of --val-data: give --val-data too (--formula-column "
                        "and --energy-column name those of --data)") in err
    assert not (tmp_path / "run").exists()


def test_train_and_predict_name_the_option_of_an_empty_or_unreadable_table(tmp_path, capsys):
    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    (tmp_path / "empty.csv").write_text("formula,formation_energy_per_atom\n")
    (tmp_path / "bad.json").write_text("{not json")
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), "--val-data",
                     str(tmp_path / "empty.csv"))
    # after the note on mp.csv's repeated compositions
    assert rc == 2 and err.splitlines()[-1].startswith(f"hullpack train: --val-data {tmp_path / 'empty.csv'}: no rows "
                                                       "under the header")
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "bad.json"))
    assert rc == 2 and err.startswith(f"hullpack train: --data {tmp_path / 'bad.json'}: not JSON")
    assert not (tmp_path / "run").exists()
    rc, _, err = cli(capsys, "predict", "--file", str(tmp_path / "empty.csv"))
    assert rc == 2 and err.startswith(f"hullpack predict: --file {tmp_path / 'empty.csv'}: no rows under the header")
    (tmp_path / "t.xlsx").write_bytes(b"PK\x03\x04" + bytes(range(256)))  # a spreadsheet: read as text, it was
    rc, _, err = cli(capsys, "predict", "--file", str(tmp_path / "t.xlsx"))  # "'utf-8' codec can't decode byte 0x80"
    assert rc == 2 and err.startswith(f"hullpack predict: --file {tmp_path / 't.xlsx'}: not UTF-8 text (one formula "
                                      "per line) nor a table hullpack reads (.csv, ")
    assert err.rstrip().endswith("save a spreadsheet as CSV, text as UTF-8")


def test_predict_names_where_every_formula_it_leaves_out_stands(tmp_path, capsys):
    """Past the 5 formulas a note spells out, --errors skip left the rest out as "and 3 more":
    now each is named by its place, so that a reader can find them."""
    (tmp_path / "f.txt").write_text("NaCl\nXx1\nXx2\nXx3\nKCl\nXx4\nXx5\nXx6\nXx7\nMgO\n")
    rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / "f.txt"), "--errors", "skip", "Fe2O3", "Qq")
    assert rc == 0 and [line.split(",")[0] for line in out.splitlines()[1:]] == ["Fe2O3", "NaCl", "KCl", "MgO"]
    assert "note: 8 of 12 formulas cannot be featurized: [formula 2] 'Qq'" in err
    assert err.rstrip().endswith("[--file line 6] 'Xx4': unknown element 'Xx'; and 3 more: --file lines 7, 8, 9 "
                                 "(left out)")
    rc, out, err = cli(capsys, "predict", "Qq", "Xx", "Xx3", "Xx4", "Xx5", "Zz", "--file", str(tmp_path / "f.txt"))
    assert rc == 2 and ("; and 8 more: formula 6; --file lines 2, 3, 4, 6, 7, 8, 9 (--errors skip or nan to go on "
                        "without them)") in err


def test_predict_asks_whether_a_file_column_of_no_formula_is_the_formula_column(tmp_path, capsys):
    pd.DataFrame({"name": ["hematite", "halite"] * 4, "chem": ["Fe2O3", "NaCl"] * 4}).to_csv(tmp_path / "m.csv",
                                                                                         index=False)
    rc, _, err = cli(capsys, "predict", "--file", str(tmp_path / "m.csv"), "NaCl")
    assert rc == 2 and ("; no row of --file's column 'name' (of ['name', 'chem']) reads as a formula: is it the formula "
                        "column? --column names another (--errors skip") in err
    rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / "m.csv"), "--column", "chem")
    assert rc == 0 and len(out.splitlines()) == 9, err
    (tmp_path / "some.csv").write_text("formula\nNaCl\nXx\n")  # one bad formula of two: no such question
    rc, _, err = cli(capsys, "predict", "--file", str(tmp_path / "some.csv"))
    assert rc == 2 and "formula column?" not in err


def test_predict_prints_json_lines_with_json(tmp_path, capsys):
    """--json: one JSON object per formula, the CSV's columns as keys, the same rows and numbers; a
    formula that cannot be featurized (--errors nan) is null, and the note says so."""
    import json

    pd.DataFrame({"id": ["a", "b", "c"], "formula": ["Fe2O3", "HeO", "CuSO4·5H2O"]}).to_csv(tmp_path / "f.csv",
                                                                                           index=False)
    argv = ["predict", "NaCl", "--file", str(tmp_path / "f.csv"), "--errors", "nan"]
    rc, out, err = cli(capsys, *argv)
    assert rc == 0, err
    table = pd.read_csv(__import__("io").StringIO(out), dtype={"id": str}, keep_default_na=False)
    rc, out, err = cli(capsys, *argv, "--json")
    assert rc == 0 and "(printed as null)" in err, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [list(r) for r in records] == [["formula", "dH_eV_per_atom", "id"]] * 4
    assert [r["formula"] for r in records] == ["NaCl", "Fe2O3", "HeO", "CuSO4·5H2O"]
    assert [r["id"] for r in records] == ["", "a", "b", "c"]
    assert records[2]["dH_eV_per_atom"] is None
    energies = [r["dH_eV_per_atom"] for i, r in enumerate(records) if i != 2]
    assert energies == [float(v) for i, v in enumerate(table["dH_eV_per_atom"]) if i != 2]
