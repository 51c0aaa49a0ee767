"""hullpack train as a user runs it after installing the wheel: replacing the default model, resuming
a run on a table with bad rows, asking for no more epochs, notes on repeated compositions, folders
that are not runs; and hullpack info for a bug report."""
import json
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hullpack
from hullpack.cli import main
from hullpack.elemnet import ElemNet, hold_out, load_model, save_model, table_arrays, train
from test_elemnet_user import mp_table  # a Materials Project style export

TINY = ["--architecture", "16x1D-1", "--dropout", "0.1", "--batch-size", "32", "--lr", "1e-3", "--bf16", "off"]


def cli(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``hullpack ARGV``."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def table_with_bad_rows(path: Path) -> Path:
    """A table of 32 rows, as a user's mydata.csv: rows 3 and 6 cannot be used, rows 2 and 8 are one
    composition (NaCl, Na2Cl2), the others distinct compositions."""
    formulas = [f"{m}{p}{a}{q}" for m in ("Li", "K", "Mg", "Al", "Fe", "Cu") for a in ("O", "S", "F")
                for p, q in ((1, 2), (2, 3))][:32]
    formulas[1], formulas[7], formulas[2] = "NaCl", "Na2Cl2", "XyO2"
    energy = [-0.1 - 0.05 * i for i in range(len(formulas))]
    energy[5] = np.nan
    pd.DataFrame({"id": range(len(formulas)), "composition": formulas, "e_form": energy}).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------ the default model

def test_export_replaces_the_default_model_only_with_overwrite_and_keeps_the_shipped_one(tmp_path, monkeypatch,
                                                                                         capsys, caplog):
    import hullpack.elemnet.pretrained as pretrained

    monkeypatch.setattr(pretrained, "data_dir", lambda: tmp_path / "data")  # the installed package's data
    shipped = save_model(ElemNet("8x1-1", ()), tmp_path / "data" / "elemnet_default.pt", metadata={"test_mae": 0.042})
    original = shipped.read_bytes()
    save_model(ElemNet("16x1-1", ()), tmp_path / "run" / "best.pt", metadata={"epoch": 3, "val_mae": 0.5})

    rc, out, err = cli(capsys, "train", "--export", tmp_path / "run", "--out", "default")
    assert rc == 2 and out == "" and shipped.read_bytes() == original
    assert "replace it with overwrite=True (--overwrite), which keeps the shipped file as elemnet_default.shipped.pt" \
        in err and "--out FILE" in err

    caplog.set_level(logging.WARNING, logger="hullpack.elemnet.pretrained")
    rc, out, err = cli(capsys, "train", "--export", tmp_path / "run", "--out", "default", "--overwrite")
    assert rc == 0, err
    backup = tmp_path / "data" / "elemnet_default.shipped.pt"
    assert backup.read_bytes() == original and pretrained.load_pretrained().architecture == "16x1-1"
    test_mae = json.loads(out)["test_mae"]
    assert f"its test MAE is {test_mae:.4f} eV/atom, {test_mae - 0.042:.4f} worse than the replaced model's 0.0420" \
        in caplog.text
    assert f"the shipped model is kept as {backup}: `cp {backup} {tmp_path / 'data' / 'elemnet_default.pt'}`" \
        in caplog.text

    # a second export replaces the first; the shipped file stays kept
    rc, _, err = cli(capsys, "train", "--export", tmp_path / "run", "--out", "default", "--overwrite")
    assert rc == 0 and backup.read_bytes() == original, err
    assert load_model(backup).metadata["test_mae"] == 0.042

    rc, _, err = cli(capsys, "train", tmp_path / "new", "--overwrite")
    assert rc == 2 and "--overwrite goes with --export RUN_DIR --out default" in err


# --------------------------------------------------------------------------------- resuming

def test_a_resumed_run_reads_its_table_as_it_did_and_says_when_nothing_is_left(tmp_path, capsys, caplog):
    data = table_with_bad_rows(tmp_path / "mydata.csv")
    run = tmp_path / "runs" / "mine"
    rc, out, err = cli(capsys, "train", run, "--data", data, "--errors", "skip", "--epochs", "1", *TINY)
    assert rc == 0, err
    about = json.loads((run / "config.json").read_text())
    assert about["data_options"]["errors"] == "skip" and about["data_options"]["val_fraction"] == 0.1
    # the command's hold-out is what the docstring's one-liner makes in Python
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, _ = table_arrays(pd.read_csv(data), errors="skip")
    assert about["data"]["n_val"] == len(hold_out(x, 0.1, seed=0)[1])

    rc, out, err = cli(capsys, "train", run, "--data", data, "--epochs", "2")  # no --errors skip
    assert rc == 0 and json.loads(out)["epochs_done"] == 2, err
    assert "(left out)" in err

    rc, _, err = cli(capsys, "train", run, "--data", data, "--epochs", "3", "--errors", "raise")  # given: it counts
    assert rc == 2 and "row 3 'XyO2'" in err and "(--errors skip leaves them out)" in err

    lines = (run / "metrics.jsonl").read_text()
    caplog.set_level(logging.INFO, logger="hullpack.elemnet.train")
    caplog.clear()
    rc, out, err = cli(capsys, "train", run, "--data", data, "--epochs", "1")
    assert rc == 0 and json.loads(out)["epochs_done"] == 2, err
    assert f"{run}: already trained 2 epochs (asked 1): nothing to do; epochs (--epochs) more than 2 to go on" \
        in caplog.text
    assert "training ElemNet on" not in caplog.text and (run / "metrics.jsonl").read_text() == lines


def test_an_early_stopped_run_says_what_goes_on(tmp_path, caplog):
    # trained towards +1 where validation wants -1: every epoch after the first is worse
    x = np.random.default_rng(0).dirichlet(np.ones(86), 64).astype("float32")
    kw = dict(train_data=(x, np.ones(64, np.float32)), val_data=(x, -np.ones(64, np.float32)), architecture="8x1-1",
              dropout=(), batch_size=64, lr=1e-2, warmup_epochs=0, bf16=False, epochs=20, patience=1)
    out = train(tmp_path / "run", **kw)
    assert out["stopped"] == "early_stopping"
    caplog.set_level(logging.INFO, logger="hullpack.elemnet.train")
    caplog.clear()
    again = train(tmp_path / "run", **kw)
    assert again["epochs_done"] == out["epochs_done"] and "training ElemNet on" not in caplog.text
    assert re.search(r"stopped early after epoch \d+, \d+ epochs? without a better val MAE than epoch \d+'s "
                     r"\(patience 1\): nothing to do; a patience \(--patience\) more than \d+ to go on", caplog.text)


# ------------------------------------------------------------------------------------ notes

def test_repeated_compositions_are_named_by_row_after_the_rows_left_out(tmp_path, capsys):
    data = table_with_bad_rows(tmp_path / "mydata.csv")
    rc, _, err = cli(capsys, "train", tmp_path / "run", "--data", data, "--errors", "skip", "--epochs", "1", *TINY)
    assert rc == 0, err
    left_out = err.index(f"hullpack train: note: --data {data}: 2 of ")
    repeated = err.index(f"hullpack train: note: --data {data}: 1 composition fills 2 rows (polymorphs or repeated "
                         "entries): 'NaCl' in rows 2, 8. ElemNet learns one energy per composition")
    assert left_out < repeated


def test_the_note_on_repeated_compositions_counts_and_names_the_first_few():
    df = pd.DataFrame({"formula": ["Fe2O3", "KCl", "Fe4O6", "NaCl", "KCl", "LiF", "LiF", "MgO", "MgO", "MgO"],
                       "energy": [-1.7, -2.2, -1.6, -2.0, -2.1, -3.0, -3.1, -3.0, -3.0, -3.0]})
    with pytest.warns(UserWarning) as caught:
        table_arrays(df)
    assert [str(w.message).split(". ElemNet")[0] for w in caught] == [
        "4 compositions fill 9 rows (polymorphs or repeated entries): 'Fe2O3' in rows 1, 3; 'KCl' in rows 2, 5; "
        "'LiF' in rows 6, 7; and 1 more"]


# --------------------------------------------------------------------------- run folders

def test_a_new_run_refuses_a_folder_of_other_outputs(tmp_path, capsys):
    from hullpack.screening.outputs import write_outputs

    data = tmp_path / "mp.csv"
    mp_table(40).to_csv(data, index=False)
    screen = tmp_path / "scr1"
    write_outputs(screen, "run-1", [lambda stage: [stage / "systems.csv"] if (stage / "systems.csv").write_text(
        "system\n") else []])
    rc, out, err = cli(capsys, "train", screen, "--data", data, "--epochs", "1", *TINY)
    assert rc == 2 and out == ""
    assert err == f"hullpack train: RUN_DIR {screen}: holds the outputs of a hullpack screen (its manifest.json): " \
                  "train into a new or empty folder\n"
    assert sorted(p.name for p in screen.iterdir()) == ["manifest.json", "systems.csv"]

    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "notes.txt").write_text("mine\n")
    rc, _, err = cli(capsys, "train", tmp_path / "notes", "--data", data, "--epochs", "1", *TINY)
    assert rc == 2 and f"run folder {tmp_path / 'notes'} holds files no run of hullpack train writes (notes.txt)" in err
    x = np.random.default_rng(0).dirichlet(np.ones(86), 8).astype("float32")
    y = x[:, 0]
    with pytest.raises(ValueError, match=r"holds files no run of hullpack train writes \(notes.txt\)"):
        train(tmp_path / "notes", train_data=(x, y), val_data=(x, y), epochs=1, architecture="8x1-1", dropout=())
    assert sorted(p.name for p in (tmp_path / "notes").iterdir()) == ["notes.txt"]

    # a run's own folder resumes, whatever else was put there since
    run = tmp_path / "run"
    assert cli(capsys, "train", run, "--data", data, "--epochs", "1", *TINY)[0] == 0
    (run / "notes.txt").write_text("mine\n")
    rc, out, err = cli(capsys, "train", run, "--data", data, "--epochs", "2")
    assert rc == 0 and json.loads(out)["epochs_done"] == 2, err


# ------------------------------------------------------------------------------------- info

def test_info_names_the_install_the_optional_packages_and_the_shipped_files(capsys, monkeypatch):
    from importlib import metadata

    from hullpack.cli import info
    from hullpack.elemnet import default_path
    from hullpack.elemnet.data import oqmd_file
    from hullpack.elemnet.pretrained import shipped_backup_path

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda name: (_ for _ in ()).throw(metadata.PackageNotFoundError(name))
                        if name == "shap" else real(name))
    rc, out, _ = cli(capsys, "info", "--json")
    got = json.loads(out)
    assert rc == 0 and list(got)[:len(hullpack.build_info())] == list(hullpack.build_info())
    assert got["location"] == str(Path(hullpack.__file__).resolve().parent)
    assert got["pandas"] == pd.__version__ and got["shap"] == "not installed"
    assert {"pymatgen", "matplotlib", "lightning"} <= set(got)
    # the paths info names without torch are those hullpack.elemnet reads
    assert got["default_model"].split(" (")[0] == str(default_path().resolve())
    assert got["oqmd_data"] == str(oqmd_file("train").parent.resolve())
    root = Path(hullpack.__file__).resolve().parent
    assert root / info.SHIPPED_BACKUP == shipped_backup_path().resolve()

    rc, out, _ = cli(capsys, "info")
    printed = dict(line.strip().split(": ", 1) for line in out.splitlines())
    assert list(printed) == list(got)
    assert re.fullmatch(r"(avx512|avx2|portable) \(the CPU kernel of ElemNet's fp32 layers: its .* version.*\)",
                        printed["relu_mlp"])


def test_info_says_a_shipped_file_is_missing_or_replaced(tmp_path):
    from hullpack.cli import info

    assert info._shipped(tmp_path, "oqmd_data") == f"missing ({tmp_path / 'data' / 'oqmd'}): reinstall hullpack"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "elemnet_default.pt").write_bytes(b"x")
    assert info._shipped(tmp_path, "default_model") == str(tmp_path / "data" / "elemnet_default.pt")
    (tmp_path / "data" / "elemnet_default.shipped.pt").write_bytes(b"x")
    assert "an export replaced the shipped one, kept as" in info._shipped(tmp_path, "default_model")


# ---------------------------------------------------------------------------------- licence

def test_the_readme_licence_names_both_licences_the_package_declares():
    root = Path(__file__).resolve().parents[1]
    expression = re.search(r'^license = "(.+)"$', (root / "pyproject.toml").read_text(), re.M).group(1)
    licence = (root / "README.md").read_text().split("## Licence", 1)[1]
    assert expression == "MIT AND CC-BY-4.0" and f"`{expression}`" in licence
    assert "The code is MIT" in licence and "licensed CC BY 4.0" in licence and "SOURCE.md" in licence
