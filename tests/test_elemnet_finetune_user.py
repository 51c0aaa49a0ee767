"""ElemNet as a chemist uses it on compositions and tables of their own: what hullpack predict says
about compositions the shipped training data barely cover, and what a training run's log says."""
import logging

import numpy as np

from hullpack.cli import main
from hullpack.elemnet import ElemNet, TrainConfig, featurize, oqmd_arrays, save_model, train
from hullpack.elemnet.data import MAX_TRAIN_ELEMENTS, N_TRAIN_COMPOSITIONS, SPARSE_TRAIN_ELEMENTS
from hullpack.elements import ELEMENT_INDEX


def test_the_sparse_training_facts_are_those_of_the_shipped_train_split():
    """Kr is in 3 training compositions and Xe in 35 (every other element in hundreds or more), none
    holds more than 7 elements: the numbers hullpack predict's note states."""
    x, _ = oqmd_arrays("train")
    counts = (x > 0).sum(axis=0)
    assert len(x) == N_TRAIN_COMPOSITIONS
    assert int((x > 0).sum(axis=1).max()) == MAX_TRAIN_ELEMENTS
    assert {s: int(counts[ELEMENT_INDEX[s]]) for s in SPARSE_TRAIN_ELEMENTS} == SPARSE_TRAIN_ELEMENTS
    others = np.delete(counts, [ELEMENT_INDEX[s] for s in SPARSE_TRAIN_ELEMENTS])
    assert others.min() >= 100


def test_predict_notes_compositions_the_training_data_barely_cover(tmp_path, capsys):
    """A noble-gas compound (KrF2: Kr is in 3 of 239,121 training compositions) or a composition of
    more elements than any in training got a confident number and no word: a note names them, for
    the shipped model; a model trained on other data gets no such note (its data are not OQMD's)."""
    assert main(["predict", "KrF2", "XeF2", "Cs8Xe", "NaCl", "LiNaKRbCsMgCaSrO"]) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 6  # every prediction still printed
    assert ("note: 1 formula (KrF2) holds Kr, which is in only 3 of the 239,121 OQMD training compositions: its "
            "energy rests on little data; 2 formulas (XeF2, Cs8Xe) hold Xe, which is in only 35 of the 239,121 OQMD "
            "training compositions: their energies rest on little data; 1 formula (LiNaKRbCsMgCaSrO) has more "
            "elements than any OQMD training composition (7): its energy is an extrapolation") in err
    assert main(["predict", "NaCl", "Fe2O3"]) == 0
    assert "note" not in capsys.readouterr().err
    mine = save_model(ElemNet("8x1-1", ()), tmp_path / "mine.pt", metadata={"trained_on": "mine.csv"})
    assert main(["predict", "KrF2", "--model", str(mine)]) == 0
    assert "note" not in capsys.readouterr().err


def test_the_training_log_states_units_and_when_the_learning_rate_drops(tmp_path, caplog):
    """Each epoch's line gives the val MAE in eV/atom, and a plateau's lower learning rate is told
    after the epoch that caused it, from the epoch it applies to (it was logged before the line of
    the epoch whose lr it did not change, which then showed the old lr)."""
    rng = np.random.default_rng(0)
    x = featurize(["NaCl", "KCl", "LiF", "MgO", "CaO", "Fe2O3", "Al2O3", "SiO2"] * 4)
    y = rng.normal(-1.0, 0.5, len(x)).astype(np.float32)
    cfg = TrainConfig(architecture="8x1-1", dropout=(), epochs=8, batch_size=8, lr=1e-6, min_lr=1e-9,
                      plateau_patience=1, warmup_epochs=0, bf16=False, dropout_epochs=0)
    caplog.set_level(logging.INFO, logger="hullpack.elemnet.train")
    out = train(tmp_path / "run", cfg, train_data=(x, y), val_data=(x[:8], y[:8]), device="cpu")
    lines = [r.getMessage() for r in caplog.records]
    epochs = [m for m in lines if m.startswith("epoch ")]
    assert epochs and all(" eV/atom (best " in m for m in epochs)
    drops = [i for i, m in enumerate(lines) if m.startswith("val MAE flat for")]
    assert drops
    lrs = {r["epoch"]: r["lr"] for r in out["history"]}
    for i in drops:
        assert lines[i - 1].startswith("epoch ")
        after = int(lines[i - 1].split()[1].rstrip(":")) + 1
        assert lines[i].endswith(f"from epoch {after}")
        if after in lrs:
            assert f"lr -> {lrs[after]:.3g} " in lines[i]


def _oqmd_rows(n: int = 300):
    """``n`` OQMD test rows well away from 0 eV/atom, with the atoms of their reduced formulas."""
    from pymatgen.core import Composition

    from hullpack.elemnet import load_oqmd

    df = load_oqmd("test")
    df = df[(df["target"].abs() > 0.3) & (df["target"] > -3)].head(n).reset_index(drop=True)
    df["atoms"] = [int(Composition(f).reduced_composition.num_atoms) for f in df["formula"]]
    per_unit = df["target"] * df["atoms"]
    return df[(per_unit > -20) & (per_unit < 5)].reset_index(drop=True)  # within ElemNet's range: not refused


def test_train_notes_energies_of_the_opposite_sign_or_per_formula_unit(tmp_path, capsys):
    """A table of formation energies negated (energy released counted positive) or per formula unit
    (within ElemNet's range) passed every check and trained the model on another quantity: a note
    says which convention they look like, before training; the same energies per atom get none."""
    df = _oqmd_rows()
    tiny = ["--epochs", "1", "--architecture", "8x1-1", "--dropout", "", "--bf16", "off", "--threads", "1"]
    for name, energies, expected in (
            ("flipped", -df["target"], "formation energies of the opposite sign? "),
            ("per_unit", df["target"] * df["atoms"], "energies per formula unit rather than per atom? "),
            ("plain", df["target"], None)):
        path = tmp_path / f"{name}.csv"
        df.assign(target=energies)[["formula", "target"]].to_csv(path, index=False)
        assert main(["train", str(tmp_path / f"run_{name}"), "--data", str(path), "-q", *tiny]) == 0
        err = capsys.readouterr().err
        if expected is None:
            assert "note:" not in err
        else:
            assert f"hullpack train: note: --data {path}: {expected}" in err
            assert err.count("note:") == 1


def test_init_default_without_data_and_an_init_that_is_a_table_are_refused_naming_init(tmp_path, capsys):
    """--init default without --data trained the shipped model again on the OQMD data it has fit
    (minutes of val before the first epoch, for nothing); a table or a missing file given to --init
    was refused without naming --init or saying where a table goes."""
    import pytest

    assert main(["train", str(tmp_path / "run"), "--init", "default"]) == 2
    assert "--init default fine-tunes the shipped model on your table: give it with --data" in capsys.readouterr().err
    with pytest.raises(ValueError, match="init='default' fine-tunes the shipped model on train_data"):
        train(tmp_path / "py", init="default")
    df = _oqmd_rows(40)
    table = tmp_path / "mine.csv"
    df[["formula", "target"]].to_csv(table, index=False)
    for init in (str(table), str(tmp_path / "missing.pt")):
        assert main(["train", str(tmp_path / "run"), "--data", str(table), "--init", init]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"hullpack train: --init {init}: ")
        assert "(--init takes a model file, a run folder of hullpack train or default; a table goes with --data)" in err
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())
