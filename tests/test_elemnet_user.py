"""ElemNet as a chemist uses it: formulas as written (hydrates, spaces, lower case), training on a
table of one's own (Materials Project column names), the run folder's files, and the messages."""
import io
import json
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from hullpack.cli import main
from hullpack.elemnet import (ElemNet, load_model, load_pretrained, parse_formulas, read_model_file, run_config,
                              save_model, table_arrays, table_columns, train)
from hullpack.elemnet.io import weights_sha256
from hullpack.errors import CompositionError, ModelFileError


def reason(formula: str) -> str:
    _, bad = parse_formulas([formula])
    assert len(bad) == 1, formula
    return bad[0][2]


# ------------------------------------------------------------------------------------- formulas

@pytest.mark.parametrize("hydrate, written_out", [
    ("CuSO4·5H2O", "CuSO4(H2O)5"),
    ("CuSO4*5H2O", "CuSO4(H2O)5"),
    ("MgSO4 · 7 H2O", "MgSO11H14"),
    ("CaSO4·0.5H2O", "Ca2S2O9H2"),
    ("Na2CO3•10H2O", "Na2CO13H20"),
])
def test_hydrate_dots_add_the_parts_with_their_counts(hydrate, written_out):
    pytest.importorskip("pymatgen")  # the written-out forms with brackets go through pymatgen
    x, bad = parse_formulas([hydrate, written_out])
    assert bad == []
    np.testing.assert_allclose(x[0], x[1], atol=1e-7)


@pytest.mark.parametrize("pasted, typed", [
    ("Fe₂O₃", "Fe2O3"),                 # copied from a web page or a document
    ("Li₀.₅CoO₂", "Li0.5CoO2"),
    ("CuSO₄·5H₂O", "CuSO4·5H2O"),
    ("Fe₁₂O₁₉Ba", "Fe12O19Ba"),
])
def test_subscript_digits_read_as_digits(pasted, typed):
    x, bad = parse_formulas([pasted, typed])
    assert bad == []
    np.testing.assert_array_equal(x[0], x[1])


@pytest.mark.parametrize("formula", ["CuSO4·", "·H2O", "CuSO4·5"])
def test_a_hydrate_dot_without_a_formula_after_it_is_refused(formula):
    assert "hydrate dot with nothing after it" in reason(formula)


@pytest.mark.parametrize("formula", ["Cu SO4 5H2O", "H2O 2"])
def test_a_number_after_a_space_is_refused_not_joined_to_the_number_before(formula):
    # joined, "Cu SO4 5H2O" would be CuSO45H2O: 45 oxygens
    assert "number after a space" in reason(formula)


def test_spaces_between_element_symbols_still_parse():
    x, bad = parse_formulas(["Fe2 O3", " Li0.5 CoO2 ", "Fe2O3", "Li0.5CoO2"])
    assert bad == []
    np.testing.assert_array_equal(x[:2], x[2:])


def test_a_lowercase_formula_is_told_that_symbols_start_with_a_capital():
    assert "start with a capital letter" in reason("fe2o3")


def test_a_fraction_amount_is_told_to_be_written_as_a_decimal():
    assert "amounts are decimal numbers ('Mg0.5O0.5'), not fractions" in reason("Mg1/2O1/2")
    assert "decimal numbers" in reason("LiCo1/3Ni1/3Mn1/3O2")


def test_hydrate_predictions_match_the_bracketed_form():
    pytest.importorskip("pymatgen")
    e = load_pretrained().predict(["CuSO4·5H2O", "CuSO4(H2O)5"])
    assert e[0] == e[1]


# ------------------------------------------------------------------------------ tables to train on

def mp_table(n: int = 80, seed: int = 0) -> pd.DataFrame:
    """A Materials Project style export: an id, formula_pretty, formation_energy_per_atom."""
    rng = np.random.default_rng(seed)
    metals, anions = ["Li", "Na", "Mg", "Al", "Fe", "Cu", "Zn", "Ti"], ["O", "S", "F", "Cl", "N"]
    rows = []
    for i in range(n):
        m, a = rng.choice(metals), rng.choice(anions)
        p, q = rng.integers(1, 4, size=2)
        rows.append((f"mp-{i}", f"{m}{p}{a}{q}", float(-0.5 * q / (p + q) - 0.1 * len(m))))
    return pd.DataFrame(rows, columns=["material_id", "formula_pretty", "formation_energy_per_atom"])


def test_table_arrays_reads_materials_project_columns():
    df = mp_table(5)
    assert table_columns(df) == ("formula_pretty", "formation_energy_per_atom")
    x, y = table_arrays(df)
    np.testing.assert_array_equal(x, parse_formulas(df["formula_pretty"])[0])
    np.testing.assert_allclose(y, df["formation_energy_per_atom"], rtol=1e-6)


def test_table_arrays_names_every_bad_row_or_skips_them():
    df = mp_table(6).astype({"formation_energy_per_atom": object})  # a column as read with a stray "n/a"
    df.loc[1, "formula_pretty"] = "Xx2O"
    df.loc[3, "formation_energy_per_atom"] = None
    df.loc[4, "formation_energy_per_atom"] = "n/a"
    with pytest.raises(CompositionError, match=r"3 of 6 rows(.|\n)*row 2 'Xx2O': unknown element 'Xx'"
                                               r"(.|\n)*row 4 .*formation_energy_per_atom is missing"
                                               r"(.|\n)*row 5 .*formation_energy_per_atom is missing") as err:
        table_arrays(df)
    assert [b[0] for b in err.value.bad] == [1, 3, 4]
    with pytest.warns(UserWarning, match="left out"):
        x, y = table_arrays(df, errors="skip")
    assert len(x) == len(y) == 3


def test_hold_out_keeps_each_composition_on_one_side():
    """Polymorphs and repeated entries of a composition all train or all validate; the share is
    about the one asked; the same seed holds out the same rows."""
    from hullpack.elemnet import hold_out

    table = pd.concat([mp_table(400, seed=3)] * 2)  # every composition at least twice
    x, _ = table_arrays(table)
    train, val = hold_out(x, 0.1, seed=5)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(x)))
    seen = {row.tobytes() for row in x[train]}
    assert not any(row.tobytes() in seen for row in x[val])
    assert 0.07 <= len(val) / len(x) <= 0.13
    assert [a.tolist() for a in hold_out(x, 0.1, seed=5)] == [train.tolist(), val.tolist()]
    assert hold_out(x, 0.1, seed=6)[1].tolist() != val.tolist()
    with pytest.raises(ValueError, match="1 composition: too few"):
        hold_out(x[:1].repeat(5, axis=0), 0.1)


def test_hold_out_does_not_validate_on_a_composition_larger_than_the_share():
    """100 rows of NaCl among 110: drawn first, NaCl alone was held out, 100 rows for a share of 0.1;
    now the compositions that fit the share are, and where none does, the smallest one."""
    from hullpack.elemnet import hold_out

    x, _ = parse_formulas(["NaCl"] * 100 + ["KCl", "MgO", "CaO", "LiF", "NaF", "KBr", "FeO", "ZnO", "CuO", "NiO"])
    sizes = [len(hold_out(x, 0.1, seed)[1]) for seed in range(20)]  # seed 2 draws NaCl first
    assert all(1 <= n <= 11 for n in sizes), sizes
    x, _ = parse_formulas(["NaCl"] * 50 + ["KCl"] * 20)  # neither fits 7 rows: KCl, the smaller, validates
    assert all(hold_out(x, 0.1, seed)[1].tolist() == list(range(50, 70)) for seed in range(6))


def test_table_columns_names_a_missing_column_and_the_table_s_columns():
    df = mp_table(3)
    with pytest.raises(ValueError, match=r"energy column 'e_hull' is not among .*'formula_pretty'"):
        table_columns(df, energy_column="e_hull")
    with pytest.raises(ValueError, match=r"no energy column .*\['material_id', 'formula_pretty'\]; name it with "
                                         r"energy_column= \(--energy-column\)"):
        table_columns(df.drop(columns="formation_energy_per_atom"))


# ------------------------------------------------------------------------------- hullpack train

TINY = ["--architecture", "16x1D-1", "--dropout", "0.1", "--batch-size", "32", "--lr", "1e-3"]


def cli(capsys, *argv):
    rc = main(["-q", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_cli_train_on_a_table_resumes_with_the_run_s_own_settings(tmp_path, capsys):
    data = tmp_path / "mp.csv"
    mp_table().to_csv(data, index=False)
    run = tmp_path / "run"
    rc, out, err = cli(capsys, "train", str(run), "--data", str(data), "--epochs", "2", "--stop-after", "1", "--bf16",
                       "off", *TINY)
    assert rc == 0, err
    first = json.loads(out)
    assert first["epochs_done"] == 1 and first["best_model"] == str(run / "best.pt")
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "config.json", "last.pt", "metrics.jsonl"]
    about = json.loads((run / "config.json").read_text())  # what the run is, without torch
    assert about["config"]["architecture"] == "16x1D-1" and about["config"]["epochs"] == 2
    assert about["trained_on"].startswith(f"{data} (formula column formula_pretty")
    assert about["data"]["n_train"] + about["data"]["n_val"] == 80 and about["device"] == "cpu"
    # resume: only RUN_DIR, --data and the raised epoch count; the settings are the run's own
    assert run_config(run).architecture == "16x1D-1"
    rc, out, err = cli(capsys, "train", str(run), "--data", str(data), "--epochs", "3")
    assert rc == 0, err
    assert json.loads(out)["epochs_done"] == 3
    meta = read_model_file(run / "best.pt")["metadata"]
    # about 10% held out, whole compositions at a time
    assert meta["data"]["n_train"] + meta["data"]["n_val"] == 80 and 6 <= meta["data"]["n_val"] <= 10
    assert "held out at random a composition at a time (--val-fraction 0.1, seed 0)" in meta["trained_on"]
    assert "mp.csv (formula column formula_pretty, energy column formation_energy_per_atom" in meta["trained_on"]
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    assert json.loads((run / "config.json").read_text())["config"]["epochs"] == 3  # rewritten on resume
    rc, out, err = cli(capsys, "train", str(run), "--data", str(data), "--epochs", "2")  # no epoch left to run
    assert rc == 0 and json.loads(out)["epochs_done"] == 3, err
    assert json.loads((run / "config.json").read_text())["config"]["epochs"] == run_config(run).epochs == 3
    # --bf16 off too is the run's own: resuming without it does not switch bf16 on where the hardware has it
    assert run_config(run).bf16 is False
    assert [json.loads(line)["bf16"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [False] * 3
    # the best weights are the model file of predict and explain
    rc, out, err = cli(capsys, "predict", "--model", str(run / "best.pt"), "Fe2O3")
    assert rc == 0 and out.splitlines()[1].startswith("Fe2O3,")
    pytest.importorskip("shap")
    xai = pytest.importorskip("hullpack.xai")
    ex = xai.shap_values(xai.load_model(run / "best.pt"), ["Fe2O3", "NaCl"])
    pred = load_model(run / "best.pt").predict(["Fe2O3", "NaCl"])
    np.testing.assert_allclose(ex.values.sum(axis=1) + ex.base_values, pred, atol=1e-5)


def test_cli_train_reads_last_pt_once_to_resume_and_ends_where_one_run_does(tmp_path, capsys, monkeypatch):
    """The run's settings and the state it resumes from come from one read of last.pt (a full
    checkpoint: weights and optimizer state); the resumed run reaches the weights of an
    uninterrupted one, and last.pt records why it stopped."""
    data = tmp_path / "mp.csv"
    mp_table().to_csv(data, index=False)
    whole, run = tmp_path / "whole", tmp_path / "run"
    assert cli(capsys, "train", str(whole), "--data", str(data), "--epochs", "2", *TINY)[0] == 0
    assert cli(capsys, "train", str(run), "--data", str(data), "--epochs", "2", "--stop-after", "1", *TINY)[0] == 0
    reads, load = [], torch.load

    def counting_load(f, *args, **kwargs):
        reads.append(str(f))
        return load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", counting_load)
    rc, out, err = cli(capsys, "train", str(run), "--data", str(data))  # the settings, epochs too, are the run's
    assert rc == 0, err
    assert json.loads(out)["epochs_done"] == 2 and reads == [str(run / "last.pt")]
    monkeypatch.undo()
    a, b = (torch.load(d / "last.pt", weights_only=True) for d in (whole, run))
    assert a["state"]["stopped"] == b["state"]["stopped"] == "epochs"
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2
    with pytest.raises(ValueError, match=r"checkpoint: given, but .*new holds no last.pt"):
        train(tmp_path / "new", checkpoint=b)


def test_cli_train_refuses_other_data_of_the_same_size_on_resume(tmp_path, capsys):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    mp_table(seed=0).to_csv(a, index=False)
    edited = mp_table(seed=0)  # the same formulas, so the same rows held out; energies edited
    edited["formation_energy_per_atom"] -= 0.01
    edited.to_csv(b, index=False)
    run = tmp_path / "run"
    assert cli(capsys, "train", str(run), "--data", str(a), "--epochs", "1", *TINY)[0] == 0
    rc, _, err = cli(capsys, "train", str(run), "--data", str(b), "--epochs", "2")
    assert rc == 2 and "data: run has 72 training and 8 validation rows from " in err, err
    assert re.search(r"from .*a\.csv .*now 72 training and 8 validation rows from .*b\.csv", err), err
    assert "(as many rows, other values: data sha256 " in err
    rc, _, err = cli(capsys, "train", str(run), "--data", str(a), "--epochs", "2", "--val-fraction", "0.5")
    assert rc == 2 and re.search(r"run has 72 training and 8 validation rows from .*a\.csv.*\(--val-fraction 0\.1, "
                                 r"seed 0\), now \d+ training and \d+ validation rows from .*\(--val-fraction 0\.5, "
                                 r"seed 0\)", err) and "as many rows" not in err, err
    assert "new run directory (a new one with init=" in err and "fine-tunes this run's best weights" in err


def test_cli_train_names_bad_rows_of_the_table_and_skips_them_when_asked(tmp_path, capsys):
    df = mp_table(40)
    df.loc[2, "formula_pretty"] = "HeO"
    df.to_csv(tmp_path / "mp.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), *TINY)
    assert rc == 2
    assert "row 3 'HeO': He is not one of ElemNet's 86 elements" in err and "--errors skip" in err
    rc, out, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"),
                       "--errors", "skip", "--epochs", "1", *TINY)
    assert rc == 0 and re.search(r"note: --data .*mp\.csv: 1 of 40 rows cannot be used", err)
    data = read_model_file(tmp_path / "run" / "best.pt")["metadata"]["data"]
    assert data["n_train"] + data["n_val"] == 39 and data["n_train"] >= 35  # the 39 good rows, about 10% held out


def test_cli_train_names_every_row_it_leaves_out_of_a_jarvis_file(tmp_path, capsys):
    """A JARVIS JSON file writes a missing energy as 'na': past the 20 rows spelled out, the note
    still says where each left-out row stands (a command's user sees no exception)."""
    df = mp_table(120)
    records = [{"jid": f"JVASP-{i}", "formula": f, "formation_energy_peratom": "na" if i % 5 == 0 else e,
                "optb88vdw_bandgap": "na"} for i, (f, e) in enumerate(zip(df.formula_pretty, df.formation_energy_per_atom))]
    (tmp_path / "jarvis.json").write_text(json.dumps(records))
    argv = ["train", str(tmp_path / "run"), "--data", str(tmp_path / "jarvis.json"), "--epochs", "1",
            "--architecture", "16x1D-1", "--dropout", "0.1", *TINY]
    rc, _, err = cli(capsys, *argv)
    assert rc == 2 and "24 of 120 rows cannot be used" in err
    assert "row 1 'Zn2Cl1': formation_energy_peratom is missing" in err
    assert "  ... and 4 more: rows 101, 106, 111, 116\n" in err and "exception" not in err
    rc, _, err = cli(capsys, *argv, "--errors", "skip")
    assert rc == 0 and "  ... and 4 more: rows 101, 106, 111, 116\n  (left out)" in err
    data = read_model_file(tmp_path / "run" / "best.pt")["metadata"]["data"]
    assert data["n_train"] + data["n_val"] == 96


def test_cli_train_says_a_column_of_no_formula_or_no_energy_may_be_the_wrong_one(tmp_path, capsys):
    """'name' comes before other formula columns hullpack knows: a table of mineral names and
    formulas (under another header) was refused row by row, advising --errors skip, which leaves none."""
    df = mp_table(21).rename(columns={"formula_pretty": "chem"})
    df.insert(0, "name", ["hematite", "halite", "periclase"] * 7)
    df.to_csv(tmp_path / "named.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "named.csv"), *TINY)
    assert rc == 2 and "21 of 21 rows cannot be used (columns 'name', 'formation_energy_per_atom')" in err
    assert "  ... and 1 more: row 21\n" in err
    assert ("(no row of column 'name' reads as a formula: is it the formula column? --formula-column names another of "
            "the table's columns ['name', 'material_id', 'chem', 'formation_energy_per_atom'])") in err
    assert err.rstrip().endswith("'formation_energy_per_atom'])") and "--errors skip" not in err
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "named.csv"),
                     "--formula-column", "chem", "--energy-column", "material_id", *TINY)
    assert rc == 2 and "row 1 'Zn2Cl1': material_id is 'mp-0', not a finite number" in err
    assert ("(no row of column 'material_id' holds a number: is it the energy column? --energy-column names another "
            "of the table's columns") in err and "formula column?" not in err
    rc, out, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "named.csv"),
                       "--formula-column", "chem", "--epochs", "1", *TINY)
    assert rc == 0, err


@pytest.mark.parametrize("argv, message", [
    (["--data", "{tmp}/none.csv"], "--data '.*none.csv' does not exist"),
    (["--data", "{tmp}/mp.csv", "--energy-column", "e_hull"], "energy column 'e_hull' is not among"),
    (["--data", "{tmp}/mp.csv", "--val-fraction", "1.5"], "--val-fraction 1.5"),
    (["--val-data", "{tmp}/mp.csv"], "go with --data"),
    (["--val-fraction", "0.2"], "go with --data"),    # OQMD's validation set is fixed: not silently ignored
    (["--data", "{tmp}/mp.csv", "--val-data", "{tmp}/mp.csv", "--val-fraction", "0.2"], "give one of them"),
    (["--dropout", "0.1,x"], "--dropout '0.1,x'"),
    # an architecture of its own without --dropout: the default rates fit only the default architecture
    (["--architecture", "32x2D-1"], r"has 1 dropout block \(D\) but 4 drop rates were given \(the default rates.*"
                                    r"--dropout 0.1 on the command line"),
    (["--architecture", "32x2-1", "--dropout", "0"], "give none: dropout=\\(\\) \\(--dropout '' on the command line"),
])
def test_cli_train_errors_name_the_bad_option(tmp_path, capsys, argv, message):
    mp_table(10).to_csv(tmp_path / "mp.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), *[a.format(tmp=tmp_path) for a in argv])
    assert rc == 2
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err


@pytest.mark.parametrize("setting, message", [
    ({"lr": 0.0}, "lr = 0.0 must be > 0"),
    ({"plateau_factor": 1.0}, r"plateau_factor = 1.0 must be in \(0, 1\)"),
    ({"warmup_epochs": -1.0}, "warmup_epochs = -1.0 must be >= 0"),
    # a negative floor turned a cosine schedule's last steps into gradient ascent; 0 or a negative
    # number of dropout epochs, or a clipping norm of 0, did nothing without a word
    ({"min_lr": -1e-5}, "min_lr = -1e-05 must be >= 0"),
    ({"weight_decay": -0.1}, "weight_decay = -0.1 must be >= 0"),
    ({"grad_clip": 0.0}, r"grad_clip = 0.0 must be > 0 \(None: no clipping\)"),
    ({"dropout_epochs": -2}, r"dropout_epochs = -2 must be >= 0 \(0: no dropout"),
    # checked when the settings are made, not when the model is built after the data are read
    ({"architecture": "64x2D-32x1D-1"}, r"2 dropout blocks .* such as dropout=\(0.1, 0.1\)"),
    ({"architecture": "64x1D-1", "dropout": (1.0,)}, r"must lie in \[0, 1\)"),
])
def test_train_config_names_the_bad_setting(setting, message):
    from hullpack.elemnet import TrainConfig

    with pytest.raises(ValueError, match=message):
        TrainConfig(**setting)


def test_train_metadata_says_where_the_data_came_from(tmp_path):
    x, _ = parse_formulas(["NaCl", "KCl", "Fe2O3", "MgO"] * 8)
    y = np.linspace(-2, 0, len(x)).astype(np.float32)
    train(tmp_path, train_data=(x, y), val_data=(x, y), epochs=1, architecture="8x1-1", dropout=())
    meta = read_model_file(tmp_path / "best.pt")["metadata"]
    assert meta["trained_on"] == "train_data given to hullpack.elemnet.train"


# ------------------------------------------------------------------------------- model files

@pytest.mark.parametrize("given, got", [
    ("table", "got a DataFrame"),
    ("formulas", r"got formulas \(str\)"),
    ("path", "got a str"),
])
def test_train_names_data_that_are_no_arrays_and_how_to_make_them(tmp_path, given, got):
    """A table, formulas or a file's name given as train_data raised numpy's 'could not convert
    string to float: 'formula_pretty''; now what train expects, and the call that makes it."""
    table = mp_table(20)
    data = {"table": table, "formulas": (table.formula_pretty.tolist(), table.formation_energy_per_atom.to_numpy()),
            "path": str(tmp_path / "mp.csv")}[given]
    with pytest.raises(ValueError, match=r"^train_data: expected \(X, y\), X the \(n, 86\) element fractions .*; "
                                         + got + r": hullpack\.elemnet\.featurize\(formulas\) makes X of formulas, "
                                         r"table_arrays\(table\) \(X, y\) of a table$"):
        train(tmp_path / "run", train_data=data, val_data=table_arrays(table), epochs=1, architecture="8x1-1",
              dropout=())


def test_a_run_folder_or_its_checkpoint_given_as_a_model_file_points_to_best_pt(tmp_path):
    x, _ = parse_formulas(["NaCl", "KCl"] * 8)
    y = np.linspace(-2, 0, len(x)).astype(np.float32)
    train(tmp_path, train_data=(x, y), val_data=(x, y), epochs=1, architecture="8x1-1", dropout=())
    by_folder, by_file = load_model(tmp_path), load_model(tmp_path / "best.pt")  # a run folder: its best.pt
    assert by_folder.metadata == by_file.metadata
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match=r"model folder .* holds no best\.pt: give a model file or a run folder"):
        load_model(tmp_path / "empty")
    (tmp_path / "started").mkdir()  # a run killed in its first epoch: a run folder, not yet a model
    (tmp_path / "started" / "metrics.jsonl").write_text("")
    with pytest.raises(ModelFileError, match=r"holds no best\.pt: a run of `hullpack train` writes it at the end of "
                                             r"its first epoch"):
        load_model(tmp_path / "started")
    with pytest.raises(ModelFileError, match=r"last\.pt is a training checkpoint .*best\.pt"):
        load_model(tmp_path / "last.pt")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_cuda_device_without_cuda_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ValueError, match="device='cuda'.* sees no CUDA GPU; use 'cpu'"):
        load_pretrained("cuda")
    path = save_model(ElemNet("8x1-1", ()), tmp_path / "m.pt")
    with pytest.raises(ValueError, match="device='cuda:0'.* sees no CUDA GPU"):
        load_model(path, device="cuda:0")
    x, _ = parse_formulas(["NaCl", "KCl"])
    with pytest.raises(ValueError, match="device='cuda'.* sees no CUDA GPU"):
        train(tmp_path / "run", train_data=(x, [0.0, 1.0]), val_data=(x, [0.0, 1.0]), device="cuda")
    with pytest.raises(ValueError, match="device='gpu' is not a torch device"):
        train(tmp_path / "run", train_data=(x, [0.0, 1.0]), val_data=(x, [0.0, 1.0]), device="gpu")
    # hullpack train says so before it reads the data (here a file that is not there)
    rc = main(["-q", "train", str(tmp_path / "run"), "--data", str(tmp_path / "none.csv"), "--device", "cuda"])
    assert rc == 2 and "sees no CUDA GPU" in capsys.readouterr().err


# ------------------------------------------------------------------------------ predict, explain

def test_cli_predict_quotes_a_formula_holding_a_comma(capsys):
    rc, out, _ = cli(capsys, "predict", "Fe2O3, hematite", "NaCl", "--errors", "nan")
    assert rc == 0
    rows = pd.read_csv(io.StringIO(out))
    assert rows["formula"].tolist() == ["Fe2O3, hematite", "NaCl"]
    assert np.isnan(rows["dH_eV_per_atom"][0]) and rows["dH_eV_per_atom"][1] < 0


def test_cli_predict_reads_a_text_file_with_a_byte_order_mark(tmp_path, capsys):
    path = tmp_path / "formulas.txt"
    path.write_bytes("\ufeffFe2O3\r\nCuSO4·5H2O\r\n".encode())
    rc, out, err = cli(capsys, "predict", "--file", str(path))
    assert rc == 0, err
    assert [line.split(",")[0] for line in out.splitlines()] == ["formula", "Fe2O3", "CuSO4·5H2O"]


def test_cli_predict_names_a_bad_formula_of_a_file_by_its_line_or_row(tmp_path, capsys):
    """A text file's line, every line counted; a table's row, the first under the header being 1."""
    (tmp_path / "f.txt").write_text("Fe2O3\n# a comment\n\nXx2O\n")
    mp_table(3).assign(formula_pretty=["NaCl", "Xx2O", None]).to_csv(tmp_path / "f.csv", index=False)
    rc, _, err = cli(capsys, "predict", "KCl", "Qq", "--file", str(tmp_path / "f.txt"))
    assert rc == 2 and "[formula 2] 'Qq'" in err and "[--file line 4] 'Xx2O'" in err
    rc, _, err = cli(capsys, "predict", "--file", str(tmp_path / "f.csv"))
    assert rc == 2 and "[--file row 2] 'Xx2O'" in err and "[--file row 3] '': empty formula" in err


def test_explain_names_the_background_when_it_holds_a_bad_formula():
    pytest.importorskip("shap")
    xai = pytest.importorskip("hullpack.xai")
    with pytest.raises(CompositionError, match=r"^background: 1 of 2 compositions(.|\n)*'Xx'"):
        xai.shap_values(ElemNet("8x1-1", ()), ["NaCl"], background=["KCl", "Xx"])


def test_cli_explain_prints_no_third_party_deprecation_notes(tmp_path):
    pytest.importorskip("shap")
    # a fresh process: shap's import (where matplotlib's pending deprecations are raised) runs once
    done = subprocess.run([sys.executable, "-m", "hullpack", "explain", "--out", str(tmp_path / "r"), "--model",
                           str(tmp_path / "none.pt")], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == f"hullpack explain: model file {tmp_path / 'none.pt'} does not exist"


@pytest.mark.parametrize("argv, message", [
    (["--grid", "2"], "--grid = 2 must be >= 3"),
    (["--only", ","], "--only ',' names no analysis"),
])
def test_cli_explain_names_the_option_of_an_impossible_size(tmp_path, capsys, argv, message):
    pytest.importorskip("shap")
    rc, _, err = cli(capsys, "explain", "--out", str(tmp_path / "r"), *argv)
    assert rc == 2 and err.strip().startswith(f"hullpack explain: {message}"), err
    assert not (tmp_path / "r").exists()  # refused before any work


def test_periodic_table_heatmap_names_a_symbol_it_cannot_place():
    pytest.importorskip("matplotlib")
    from hullpack.xai import plots

    with pytest.raises(CompositionError, match=r"unknown elements \['fe'\]"):
        plots.periodic_table_heatmap(pd.Series({"Fe": 1.0, "fe": 2.0}))


@pytest.mark.parametrize("scale, shift, message", [
    (1.0, -6.0, r"the median is -6\.\d+ eV/atom: total energies .*energy_per_atom"),  # Materials Project's total energies
    (1000.0, 0.0, r"the median is -\d+ eV/atom: another unit \(meV/atom, kJ/mol\)"),
])
def test_train_refuses_energies_that_are_not_formation_energies_in_ev(tmp_path, capsys, scale, shift, message):
    df = mp_table(40)
    df["formation_energy_per_atom"] = df["formation_energy_per_atom"] * scale + shift
    with pytest.raises(ValueError, match=message):
        table_arrays(df)
    df.to_csv(tmp_path / "mp.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), *TINY)
    assert rc == 2 and re.search(message, err) and len(err.strip().splitlines()) == 1, err


def test_train_names_energies_outside_elemnet_s_range_and_skips_them_when_asked():
    df = mp_table(20)
    df.loc[3, "formation_energy_per_atom"] = -25.0
    with pytest.raises(CompositionError, match=r"row 4 .*formation_energy_per_atom is -25 eV/atom, outside ElemNet's"):
        table_arrays(df)
    with pytest.warns(UserWarning, match="left out"):
        x, y = table_arrays(df, errors="skip")
    assert len(y) == 19


def test_table_arrays_notes_compositions_in_several_rows():
    df = pd.DataFrame({"formula": ["Fe2O3", "Fe4O6", "NaCl", "KCl", "KCl"], "energy": [-1.7, -1.6, -2.0, -2.2, -2.1]})
    with pytest.warns(UserWarning, match=r"2 compositions fill 4 rows \(polymorphs or repeated entries\): 'Fe2O3' in "
                                         "rows 1, 2; 'KCl' in rows 4, 5"):
        table_arrays(df)


# ------------------------------------------------------------------------------- fine-tuning

def _fine_tuning_data(start: ElemNet):
    """Training rows that pull the model away from ``start``, and val rows on which ``start`` is exact."""
    x_tr, _ = parse_formulas(["NaCl", "KCl", "Fe2O3", "MgO"] * 8)
    x_va, _ = parse_formulas(["LiF", "CaO", "ZnS", "CuCl"])
    return (x_tr, np.full(len(x_tr), 3.0, np.float32)), (x_va, start.predict(x_va).astype(np.float32))


def test_fine_tuning_starts_from_the_model_and_keeps_it_where_no_epoch_does_better(tmp_path):
    torch.manual_seed(7)
    start_file = save_model(ElemNet("16x1D-1", (0.1,)), tmp_path / "start.pt")
    start = load_model(start_file)
    train_data, val_data = _fine_tuning_data(start)
    tiny = dict(architecture="16x1D-1", dropout=(0.1,), bf16=False)
    out = train(tmp_path / "run", train_data=train_data, val_data=val_data, init=start_file, epochs=3, lr=1e-2, **tiny)
    assert out["init_val_mae"] < 1e-6 and out["best_epoch"] == 0 and out["best_val_mae"] == out["init_val_mae"]
    start_line, *epochs = out["history"]
    assert min(r["val_mae"] for r in epochs) > 1e-3  # every epoch moved away from the exact weights
    # the log says why best.pt is epoch 0: the starting weights' val MAE is its first line
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lines == out["history"] and [r["epoch"] for r in lines] == [0, 1, 2, 3]
    assert start_line["val_mae"] == out["init_val_mae"] and start_line["best_epoch"] == 0
    assert start_line["init"] == str(start_file) and start_line["train_loss"] is None
    assert all(r["best_epoch"] == 0 for r in epochs)
    best = read_model_file(tmp_path / "run" / "best.pt")
    assert best["sha256"] == read_model_file(start_file)["sha256"]  # best.pt: the starting weights
    assert best["metadata"]["epoch"] == 0 and best["metadata"]["init"]["source"] == str(start_file)
    # at a learning rate too small to move them, the trained weights are the starting ones, not a seed's
    out = train(tmp_path / "slow", train_data=train_data, val_data=val_data, init=start, epochs=1, lr=1e-12, **tiny)
    for name, weights in out["model"].state_dict().items():
        torch.testing.assert_close(weights, start.state_dict()[name], rtol=0, atol=1e-6)


def test_fine_tuning_stops_early_when_the_starting_weights_stay_best(tmp_path):
    torch.manual_seed(7)
    start = ElemNet("16x1D-1", (0.1,))
    train_data, val_data = _fine_tuning_data(start)
    out = train(tmp_path, train_data=train_data, val_data=val_data, init=start, epochs=50, patience=3, lr=1e-2,
                architecture="16x1D-1", dropout=(0.1,), bf16=False)
    assert (out["stopped"], out["epochs_done"], out["best_epoch"]) == ("early_stopping", 3, 0)


def test_a_fine_tuning_run_resumes_from_its_own_start_only(tmp_path):
    torch.manual_seed(7)
    start, other = ElemNet("16x1D-1", (0.1,)), ElemNet("16x1D-1", (0.1,))
    train_data, val_data = _fine_tuning_data(start)
    kw = dict(train_data=train_data, val_data=val_data, architecture="16x1D-1", dropout=(0.1,), bf16=False)
    train(tmp_path / "run", init=start, epochs=1, **kw)
    with pytest.raises(ValueError, match="started from an ElemNet given .*resume it without init"):
        train(tmp_path / "run", init=save_model(other, tmp_path / "other.pt"), epochs=2, **kw)
    assert train(tmp_path / "run", epochs=2, **kw)["epochs_done"] == 2  # no init: its weights are in last.pt
    assert read_model_file(tmp_path / "run" / "best.pt")["metadata"]["init"]["source"].startswith("an ElemNet")
    train(tmp_path / "scratch", epochs=1, **kw)
    with pytest.raises(ValueError, match=r"started from no init \(trained from scratch\)"):
        train(tmp_path / "scratch", init=start, epochs=2, **kw)
    with pytest.raises(ValueError, match="has architecture '16x1D-1', the run asks '8x1-1'"):
        train(tmp_path / "new", init=start, epochs=1, **{**kw, "architecture": "8x1-1", "dropout": ()})


def test_cli_train_init_takes_the_model_s_architecture_and_names_a_conflicting_one(tmp_path, capsys):
    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    save_model(ElemNet("8x1-1", ()), tmp_path / "start.pt")
    data = ["--data", str(tmp_path / "mp.csv")]
    rc, out, err = cli(capsys, "train", str(tmp_path / "run"), *data, "--init", str(tmp_path / "start.pt"),
                       "--epochs", "1")
    assert rc == 0, err
    assert run_config(tmp_path / "run").architecture == "8x1-1" and json.loads(out)["init_val_mae"] > 0
    rc, out, err = cli(capsys, "train", str(tmp_path / "run"), *data, "--init", str(tmp_path / "start.pt"),
                       "--epochs", "2")  # the same command again, after Ctrl-C, with more epochs: resumes
    assert rc == 0 and json.loads(out)["epochs_done"] == 2, err
    rc, _, err = cli(capsys, "train", str(tmp_path / "new"), *data, "--init", str(tmp_path / "start.pt"),
                     "--architecture", "32x1-1")
    assert rc == 2 and "its architecture is '8x1-1', --architecture asks '32x1-1'" in err
    rc, out, err = cli(capsys, "train", str(tmp_path / "default"), *data, "--init", "default", "--epochs", "1",
                       "--batch-size", "64")
    assert rc == 0, err
    meta = read_model_file(tmp_path / "default" / "best.pt")["metadata"]
    assert meta["init"]["source"].startswith("the shipped default model")
    assert meta["init"]["sha256"] == weights_sha256(load_pretrained().state_dict())  # of the float32 weights


def test_cli_fine_tuning_the_shipped_model_names_validation_compositions_it_was_trained_on(tmp_path, capsys):
    from hullpack.elemnet import load_oqmd

    load_oqmd("train").head(60).to_csv(tmp_path / "seen.csv", index=False)  # what the shipped model fit
    pd.DataFrame({"formula": [f"Li{i + 3}Fe{i + 7}Co11Ni13O{50 + i}" for i in range(60)],
                  "energy": -1.0}).to_csv(tmp_path / "new.csv", index=False)
    fine_tune = ["--init", "default", "--epochs", "1", "--batch-size", "64"]
    rc, _, err = cli(capsys, "train", str(tmp_path / "seen"), "--data", str(tmp_path / "seen.csv"), *fine_tune)
    assert rc == 0, err
    assert ("--init default: 6 of the 6 validation compositions are in OQMD's train split, which the shipped model "
            "was trained on: its validation MAE on them flatters the starting weights") in err
    rc, _, err = cli(capsys, "train", str(tmp_path / "new"), "--data", str(tmp_path / "new.csv"), *fine_tune)
    assert rc == 0, err
    assert "OQMD's train split" not in err


def test_cli_train_says_how_to_resume_after_ctrl_c(tmp_path, capsys, monkeypatch):
    import importlib

    elemnet = importlib.import_module("hullpack.elemnet")
    real = elemnet.train

    def interrupted(*args, **kwargs):
        real(*args, **{**kwargs, "stop_after": 1})
        raise KeyboardInterrupt

    monkeypatch.setattr(elemnet, "train", interrupted)
    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), *TINY)
    assert rc == 130
    assert f"interrupted; {tmp_path / 'run'} holds 1 finished epoch: run the same command again" in err


def test_cli_train_names_the_rows_it_leaves_out_before_it_trains(tmp_path, capsys, monkeypatch):
    import importlib

    elemnet = importlib.import_module("hullpack.elemnet")
    seen = []
    monkeypatch.setattr(elemnet, "train", lambda *a, **k: seen.append(capsys.readouterr().err) or
                        {"history": [], "model": None})
    df = mp_table(40)
    df.loc[2, "formula_pretty"] = "HeO"
    df.to_csv(tmp_path / "mp.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "run"), "--data", str(tmp_path / "mp.csv"), "--errors", "skip")
    assert rc == 0
    assert "1 of 40 rows cannot be used" in seen[0] and "row 3 'HeO'" in seen[0]
    assert "rows cannot be used" not in err  # said once


def test_read_checkpoint_reads_last_pt_and_names_a_model_file(tmp_path):
    from hullpack.elemnet import read_checkpoint

    x, _ = parse_formulas(["NaCl", "KCl"] * 8)
    y = np.linspace(-2, 0, len(x)).astype(np.float32)
    train(tmp_path, train_data=(x, y), val_data=(x, y), epochs=1, architecture="8x1-1", dropout=())
    assert read_checkpoint(tmp_path / "last.pt")["state"]["epoch"] == read_checkpoint(tmp_path)["state"]["epoch"] == 1
    with pytest.raises(ModelFileError, match=r"best\.pt is not a training checkpoint .*it is a model file.*load_model"):
        read_checkpoint(tmp_path / "best.pt")
    with pytest.raises(ModelFileError, match=r"metrics\.jsonl is not a training checkpoint"):
        read_checkpoint(tmp_path / "metrics.jsonl")
    assert read_checkpoint(tmp_path / "nothing") is None


def test_cli_predict_names_a_table_without_a_header(tmp_path, capsys):
    (tmp_path / "f.csv").write_text("Fe2O3\nNaCl\n")
    rc, _, err = cli(capsys, "predict", "--file", str(tmp_path / "f.csv"))
    assert rc == 2 and "its first line (Fe2O3) is data, not a header" in err and ".txt file" in err


def test_cli_train_names_a_table_given_as_run_dir(tmp_path, capsys):
    mp_table(10).to_csv(tmp_path / "mp.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "mp.csv"), "--epochs", "1")
    assert rc == 2 and re.search(r"RUN_DIR '.*mp\.csv' is a file: .*goes with --data", err), err


def test_cli_predict_skips_the_header_line_of_a_text_file(tmp_path, capsys):
    (tmp_path / "f.txt").write_text("Formula\nFe2O3\nformula\n")
    rc, out, err = cli(capsys, "predict", "--file", str(tmp_path / "f.txt"), "--errors", "nan")
    assert rc == 0
    assert [line.split(",")[0] for line in out.splitlines()] == ["formula", "Fe2O3", "formula"]  # only the first
    assert "[--file line 3] 'formula'" in err


def test_cli_predict_reads_a_run_folder_and_the_word_default_as_models(tmp_path, capsys):
    x, _ = parse_formulas(["NaCl", "KCl"] * 8)
    train(tmp_path, train_data=(x, np.linspace(-2, 0, len(x))), val_data=(x, np.linspace(-2, 0, len(x))), epochs=1,
          architecture="8x1-1", dropout=())
    energy = load_model(tmp_path / "best.pt").predict(["NaCl"])[0]
    assert cli(capsys, "predict", "NaCl", "--model", str(tmp_path))[1].splitlines()[1] == f"NaCl,{energy:.6f}"
    shipped = load_pretrained().predict(["NaCl"])[0]
    assert cli(capsys, "predict", "NaCl", "--model", "default")[1].splitlines()[1] == f"NaCl,{shipped:.6f}"


def test_fine_tuning_in_python_takes_the_model_s_settings_as_hullpack_train_init_does(tmp_path):
    """train(init=...) without settings fine-tunes as ``hullpack train --init`` does: the model's
    architecture and drop rates, dropout off (on again, it pulls the model away from where it was)."""
    torch.manual_seed(7)
    start = ElemNet("16x1D-1", (0.1,))
    train_data, val_data = _fine_tuning_data(start)
    kw = dict(train_data=train_data, val_data=val_data, init=start, epochs=2, lr=1e-3, bf16=False)
    out = train(tmp_path / "api", **kw)
    cfg = run_config(tmp_path / "api")
    assert (cfg.architecture, cfg.dropout, cfg.dropout_epochs) == ("16x1D-1", (0.1,), 0)
    assert [r["dropout"] for r in out["history"][1:]] == [False, False]
    same = train(tmp_path / "explicit", **kw, architecture="16x1D-1", dropout=(0.1,), dropout_epochs=0)
    assert weights_sha256(out["model"].state_dict()) == weights_sha256(same["model"].state_dict())
    # a setting given is kept: dropout on for the first epoch when asked
    asked = train(tmp_path / "asked", **kw, dropout_epochs=1)
    assert [r["dropout"] for r in asked["history"][1:]] == [True, False]
    # the same call resumes the run it started
    assert train(tmp_path / "api", **{**kw, "epochs": 3})["epochs_done"] == 3
    # an architecture that is not the model's is still named
    with pytest.raises(ValueError, match="has architecture '16x1D-1', the run asks '8x1-1'"):
        train(tmp_path / "other", **kw, architecture="8x1-1", dropout=())


def test_fine_tuning_takes_lr_1e_4_unless_given_and_resumes_with_it(tmp_path, capsys):
    """A fine-tuning run's learning rate is 1e-4 where none is given (benchmarks/bench_finetune.py:
    5e-4, the from-scratch default, was up to 4% worse on held-out rows); resumed with or without
    init, or from the command line, the run keeps its own."""
    torch.manual_seed(7)
    start = ElemNet("16x1D-1", (0.1,))
    train_data, val_data = _fine_tuning_data(start)
    kw = dict(train_data=train_data, val_data=val_data, epochs=1, bf16=False)
    train(tmp_path / "ft", init=start, **kw)
    assert run_config(tmp_path / "ft").lr == 1e-4
    assert train(tmp_path / "ft", **{**kw, "epochs": 2})["epochs_done"] == 2  # resumed without init
    assert train(tmp_path / "ft", init=start, **{**kw, "epochs": 3})["epochs_done"] == 3
    train(tmp_path / "given", init=start, lr=3e-4, **kw)
    assert run_config(tmp_path / "given").lr == 3e-4
    # a run of another learning rate (as fine-tuning runs took 5e-4 before) resumes with its own
    assert train(tmp_path / "given", init=start, **{**kw, "epochs": 2})["epochs_done"] == 2
    train(tmp_path / "scratch", architecture="16x1D-1", dropout=(0.1,), **kw)
    assert run_config(tmp_path / "scratch").lr == 5e-4


def test_hold_out_names_a_single_row_as_one_row():
    from hullpack.elemnet import hold_out

    x, _ = parse_formulas(["NaCl"])
    with pytest.raises(ValueError, match=r"^1 row of 1 composition: too few"):
        hold_out(x, 0.1)


def test_cli_train_notes_validation_compositions_that_are_also_trained_on(tmp_path, capsys):
    table = mp_table(60)
    x, _ = table_arrays(table)
    table = table.iloc[np.sort(np.unique(x, axis=0, return_index=True)[1])]  # one row per composition (Li2O2 is LiO)
    table.to_csv(tmp_path / "all.csv", index=False)
    table.iloc[:5].to_csv(tmp_path / "seen.csv", index=False)
    table.iloc[-5:].to_csv(tmp_path / "new.csv", index=False)
    rest = table.iloc[:-5]
    rest.to_csv(tmp_path / "rest.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "a"), "--data", str(tmp_path / "all.csv"), "--val-data",
                     str(tmp_path / "seen.csv"), "--epochs", "1", *TINY)
    assert rc == 0, err
    assert f"note: --val-data {tmp_path / 'seen.csv'}: 5 of its 5 compositions are also in --data" in err
    rc, _, err = cli(capsys, "train", str(tmp_path / "b"), "--data", str(tmp_path / "rest.csv"), "--val-data",
                     str(tmp_path / "new.csv"), "--epochs", "1", *TINY)
    assert rc == 0 and "also in --data" not in err, err


def test_cli_train_notes_a_validation_set_of_a_few_rows(tmp_path, capsys):
    """20 rows hold out 2 for validation: a note says that best_val_mae and best.pt rest on them."""
    mp_table(20).to_csv(tmp_path / "small.csv", index=False)
    mp_table(60).to_csv(tmp_path / "mp.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "a"), "--data", str(tmp_path / "small.csv"), "--epochs", "1", *TINY)
    data = read_model_file(tmp_path / "a" / "best.pt")["metadata"]["data"]
    assert rc == 0 and (f"note: --val-fraction 0.1 holds out {data['n_val']} rows for validation: the val MAE, the "
                        "epoch best.pt keeps and early stopping rest on them alone") in err, err
    rc, _, err = cli(capsys, "train", str(tmp_path / "b"), "--data", str(tmp_path / "mp.csv"), "--val-data",
                     str(tmp_path / "small.csv"), "--epochs", "1", *TINY)
    assert rc == 0 and "for validation" not in err, err  # 20 rows: no note
    mp_table(5, seed=1).to_csv(tmp_path / "five.csv", index=False)
    rc, _, err = cli(capsys, "train", str(tmp_path / "c"), "--data", str(tmp_path / "mp.csv"), "--val-data",
                     str(tmp_path / "five.csv"), "--epochs", "1", *TINY)
    assert rc == 0 and f"note: --val-data {tmp_path / 'five.csv'} holds 5 rows for validation" in err, err


def test_train_data_without_val_data_says_the_run_is_selected_on_oqmd(tmp_path, caplog, monkeypatch):
    x, _ = parse_formulas(["NaCl", "KCl", "Fe2O3", "MgO"] * 8)
    y = np.linspace(-2, 0, len(x)).astype(np.float32)
    val = (x[:3], y[:3])
    monkeypatch.setattr("hullpack.elemnet.data.oqmd_arrays", lambda split: val)  # the val split, small
    with caplog.at_level("WARNING", logger="hullpack.elemnet.train"):
        train(tmp_path, train_data=(x, y), epochs=1, architecture="8x1-1", dropout=())
    assert "chosen on the shipped OQMD val split, not on your data; give val_data" in caplog.text
    meta = read_model_file(tmp_path / "best.pt")["metadata"]
    assert meta["trained_on"] == "train_data given to hullpack.elemnet.train, selected on the OQMD val split"


def test_a_new_run_does_not_overwrite_a_model_file_put_in_its_folder(tmp_path, capsys):
    """A best.pt without a run beside it (an export, a copy) is refused as RUN_DIR, not replaced at
    the first epoch; --init fine-tunes it; a run's own folder, killed before last.pt, still restarts."""
    mp_table(40).to_csv(tmp_path / "mp.csv", index=False)
    model = save_model(ElemNet("8x1-1", ()), tmp_path / "models" / "best.pt")
    digest = read_model_file(model)["file_sha256"]
    data = ["--data", str(tmp_path / "mp.csv"), "--epochs", "1"]
    rc, _, err = cli(capsys, "train", str(tmp_path / "models"), *data, "--architecture", "8x1-1", "--dropout", "")
    assert rc == 2 and "holds a best.pt but no run of hullpack train" in err and f"init='{model}'" in err
    assert read_model_file(model)["file_sha256"] == digest
    rc, _, err = cli(capsys, "train", str(tmp_path / "tuned"), *data, "--init", str(model))
    assert rc == 0, err
    (tmp_path / "tuned" / "last.pt").unlink()  # killed after epoch 0's best.pt: the same command starts again
    rc, _, err = cli(capsys, "train", str(tmp_path / "tuned"), *data, "--init", str(model))
    assert rc == 0, err
