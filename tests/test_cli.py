"""The hullpack command line: the subcommand registry, every option's path, errors that end in one
line with exit status 2, and a base install without extras (simulated by hiding modules)."""
import ast
import csv
import io
import json
import os
import platform
import sys
import types

import numpy as np
import pandas as pd
import pytest

from hullpack.cli import main
from hullpack.elemnet import save_model
from hullpack.screening.outputs import MANIFEST
from test_screening import small_model  # a small random ElemNet whose hulls have vertices

# ------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def model():
    return small_model()


@pytest.fixture(scope="module")
def model_file(model, tmp_path_factory):
    return str(save_model(model, tmp_path_factory.mktemp("model") / "m.pt"))


def run(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``hullpack ARGV`` (notes on stderr; no progress bars, as
    stderr is not a terminal)."""
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(err: str) -> str:
    """The single line of ``err``; fails on a traceback, a Python warning or several lines."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and "Warning" not in err, err
    return lines[0]


def hide(monkeypatch, *modules):
    """Make ``modules`` (and their submodules) unimportable, as on an install without the extra."""
    for name in modules:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            monkeypatch.setitem(sys.modules, key, None)
        monkeypatch.setitem(sys.modules, name, None)
    if "pyarrow" in modules:  # pandas keeps text in pyarrow arrays only where it found pyarrow
        monkeypatch.setitem(_PandasOptions(), "mode.string_storage", "python")


class _PandasOptions:
    """pandas' options as a mapping, for monkeypatch.setitem to set one and restore it after the test."""

    def get(self, key, default=None):
        return pd.get_option(key)

    def __setitem__(self, key, value):
        pd.set_option(key, value)


# ------------------------------------------------------------------------------------ registry

def test_every_subcommand_is_a_registered_module():
    import importlib

    from hullpack import cli

    parser = cli.build_parser()
    choices = next(a for a in parser._actions if a.dest == "command").choices
    names = []
    for module_name in cli.COMMANDS:
        command = importlib.import_module(f"hullpack.cli.{module_name}")
        assert callable(command.add_arguments) and callable(command.run) and command.HELP
        names.append(command.NAME)
    assert list(choices) == names == ["info", "train", "predict", "batches", "explain", "bench-memory", "screen",
                                        "stability"]


def test_a_new_subcommand_is_one_registration(monkeypatch, capsys):
    from hullpack import cli

    hello = types.ModuleType("hullpack.cli.hello")
    hello.NAME, hello.HELP = "hello", "say hello"
    hello.add_arguments = lambda p: p.add_argument("--name", default="world")
    hello.run = lambda args: print(f"hello {args.name}") or 0
    monkeypatch.setitem(sys.modules, "hullpack.cli.hello", hello)
    monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + ("hello",))
    assert run(capsys, "hello", "--name", "you") == (0, "hello you\n", "")


def test_info_fields_say_what_was_built_and_what_can_run(capsys):
    import hullpack

    rc, out, _ = run(capsys, "info", "--json")
    info = json.loads(out)
    assert rc == 0 and {k: info[k] for k in hullpack.build_info()} == hullpack.build_info()
    assert set(info) == {"version", "openmp", "relu_mlp", "cuda_built", "cuda_devices", "cuda_available", "compiler",
                         "cuda_compiler", "cuda_architectures", "python", "platform", "numpy", "torch", "location",
                         "pandas", "pymatgen", "matplotlib", "shap", "lightning", "default_model", "oqmd_data"}
    assert info["compiler"] and info["python"] == platform.python_version()
    assert bool(info["cuda_architectures"]) == bool(info["cuda_compiler"]) == info["cuda_built"]
    assert info["relu_mlp"] in ("avx512", "avx2", "portable")
    assert info["cuda_available"] == (info["cuda_built"] and info["cuda_devices"] > 0)
    rc, out, _ = run(capsys, "info")
    assert [line.split(":")[0].strip() for line in out.splitlines()] == list(info)


@pytest.mark.parametrize("built, devices, available", [(True, 0, False), (False, 0, False), (True, 2, True)])
def test_cuda_is_available_only_when_built_and_a_device_answers(built, devices, available, monkeypatch, capsys):
    import hullpack
    from hullpack import device

    monkeypatch.setattr(device._core, "with_cuda", built, raising=False)
    monkeypatch.setattr(device._core, "cuda_device_count", lambda: devices, raising=False)
    assert hullpack.cuda_available() is available
    rc, out, _ = run(capsys, "info", "--json")
    info = json.loads(out)
    assert (info["cuda_built"], info["cuda_devices"], info["cuda_available"]) == (built, devices, available)


@pytest.mark.parametrize("argv, option", [
    (["screen", "--threads", "-1"], "--threads"),
    (["screen", "--threads", "0"], "--threads"),
    (["explain", "--out", "x", "--threads", "two"], "--threads"),
    (["bench-memory", "--events", "0"], "--events"),
])
def test_counts_below_one_are_refused_by_the_parser(argv, option, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"argument {option}: expected an integer >= 1" in err


# -------------------------------------------------------------------------------------- predict

def test_predict_reads_arguments_then_file(model, model_file, tmp_path, capsys):
    path = tmp_path / "formulas.txt"
    path.write_text("Fe2O3\n\n  MgO  \nLiCoO2\n")
    rc, out, err = run(capsys, "predict", "NaCl", "--file", str(path), "--model", model_file)
    lines = out.splitlines()
    assert rc == 0 and err == "" and lines[0] == "formula,dH_eV_per_atom"
    formulas = [line.split(",")[0] for line in lines[1:]]
    assert formulas == ["NaCl", "Fe2O3", "MgO", "LiCoO2"]
    energies = np.array([float(line.split(",")[1]) for line in lines[1:]])
    np.testing.assert_allclose(energies, model.predict(formulas), atol=5e-7)   # printed with 6 decimals


BAD = ["NaCl", "Xx2", "Fe2O3", "(", "MgO", "HeH"]   # 1, 3 and 5 cannot be featurized


def test_predict_skip_keeps_each_energy_with_its_formula(model, model_file, capsys):
    rc, out, err = run(capsys, "predict", *BAD, "--errors", "skip", "--model", model_file)
    rows = [line.split(",") for line in out.splitlines()[1:]]
    assert rc == 0 and [r[0] for r in rows] == ["NaCl", "Fe2O3", "MgO"]
    for formula, energy in rows:   # each row's energy is its own formula's, not a neighbour's
        assert float(energy) == pytest.approx(model.predict([formula])[0], abs=5e-7)
    note = one_line(err)
    assert note.startswith("hullpack predict: note: 3 of 6 formulas cannot be featurized: [formula 2] 'Xx2'")
    assert "[formula 4] '('" in note and "[formula 6] 'HeH'" in note and note.endswith("(left out)")


def test_predict_nan_prints_every_formula(model, model_file, capsys):
    rc, out, err = run(capsys, "predict", *BAD, "--errors", "nan", "--model", model_file)
    rows = [line.split(",") for line in out.splitlines()[1:]]
    assert rc == 0 and [r[0] for r in rows] == BAD
    assert [r[1] == "nan" for r in rows] == [False, True, False, True, False, True]
    assert float(rows[4][1]) == pytest.approx(model.predict(["MgO"])[0], abs=5e-7)
    assert one_line(err).endswith("(printed as nan)")


def test_predict_notes_pure_elements(model_file, capsys):
    rc, out, err = run(capsys, "predict", "O2", "Fe2O3", "Fe", "--model", model_file)
    assert rc == 0 and [line.split(",")[0] for line in out.splitlines()[1:]] == ["O2", "Fe2O3", "Fe"]
    assert one_line(err) == ("hullpack predict: note: 2 pure elements (O2, Fe): an element's formation enthalpy is "
                             "0 eV/atom by definition; the model was trained on compounds and its value there means nothing")


def test_predict_bad_formulas_stop_by_default(model_file, capsys):
    many = [f"Xx{i}" for i in range(1, 9)]
    rc, out, err = run(capsys, "predict", "NaCl", *many, "--model", model_file)
    line = one_line(err)
    assert rc == 2 and out == ""
    assert line.startswith("hullpack predict: 8 of 9 formulas cannot be featurized: [formula 2] 'Xx1'")
    assert "[formula 6] 'Xx5'" in line and "and 3 more" in line and "--errors skip or nan" in line


@pytest.mark.parametrize("argv, message", [
    ([], "no formulas: give them as arguments"),
    (["--file", "/nonexistent/formulas.txt"], "--file '/nonexistent/formulas.txt' does not exist"),
])
def test_predict_without_input_is_one_line_exit_2(argv, message, capsys):
    rc, out, err = run(capsys, "predict", *argv)
    assert rc == 2 and out == "" and message in one_line(err)


def test_predict_reads_the_formula_column_of_a_table_and_skips_comments(model, model_file, tmp_path, capsys):
    """The file hullpack stability takes (CSV, gzipped CSV, Parquet) or text with comment lines."""
    pytest.importorskip("pyarrow")  # writes a Parquet table
    formulas = ["Fe2O3", "MgO", "LiCoO2"]
    want = run(capsys, "predict", *formulas, "--model", model_file)[1].splitlines()
    table = pd.DataFrame({"id": [1, 2, 3], "formula": formulas, "energy": [-1.7, -3.0, -1.5]})
    table.to_csv(tmp_path / "a.csv", index=False)
    table.to_csv(tmp_path / "a.csv.gz", index=False)
    table.to_parquet(tmp_path / "a.parquet", index=False)
    table.rename(columns={"formula": "compound"}).to_csv(tmp_path / "aflow.csv", index=False)
    table.rename(columns={"formula": "label"}).to_csv(tmp_path / "named.csv", index=False)
    (tmp_path / "a.txt").write_text("# my compounds\nFe2O3\n\n  # oxides\nMgO\nLiCoO2\n")
    for name, more in (("a.csv", []), ("a.csv.gz", []), ("a.parquet", []), ("aflow.csv", []),
                       ("named.csv", ["--column", "label"]), ("a.txt", [])):
        rc, out, err = run(capsys, "predict", "--file", str(tmp_path / name), *more, "--model", model_file)
        rows = [line.split(",") for line in out.splitlines()]
        assert rc == 0 and err == "" and [",".join(r[:2]) for r in rows] == want, name
        if name != "a.txt":  # a table's other columns follow the prediction
            assert [r[2:] for r in rows] == [["id", "energy"], ["1", "-1.7"], ["2", "-3.0"], ["3", "-1.5"]], name
    for argv, message in ((["--file", str(tmp_path / "named.csv")], "no formula column (formula, composition, "),
                          (["--file", str(tmp_path / "a.csv"), "--column", "x"], "a.csv: formula column 'x' is not among the table's"),
                          (["--file", str(tmp_path / "a.txt"), "--column", "x"], "names a column of a table --file"),
                          (["Fe2O3", "--column", "x"], "give --file too"),
                          ([str(tmp_path / "a.csv")], "a.csv' is a file, not a formula: give it with --file"),
                          (["NaCl", "mine.txt"], "'mine.txt' is a file, not a formula")):
        rc, out, err = run(capsys, "predict", *argv, "--model", model_file)
        assert rc == 2 and out == "" and message in one_line(err)


def test_predict_prints_a_table_s_other_columns_as_written(model_file, tmp_path, capsys):
    """IDs keep their leading zeros and text its commas; the arguments' rows leave them empty; a
    column named like an output column is renamed input_...; a missing cell prints empty."""
    pytest.importorskip("pyarrow")  # writes a Parquet table
    (tmp_path / "t.csv").write_text('material_id,formula,dH_eV_per_atom,note\n007,Fe2O3,-1.0,"red, rust"\n'
                                    "mp-2,NaCl,,\nmp-3,Xx,1,bad\n")
    rc, out, err = run(capsys, "predict", "KCl", "--file", str(tmp_path / "t.csv"), "--errors", "skip",
                       "--model", model_file)
    rows = list(csv.reader(io.StringIO(out)))
    assert rc == 0 and "[--file row 3] 'Xx'" in err
    assert rows[0] == ["formula", "dH_eV_per_atom", "material_id", "input_dH_eV_per_atom", "note"]
    assert [r[:1] + r[2:] for r in rows[1:]] == [["KCl", "", "", ""], ["Fe2O3", "007", "-1.0", "red, rust"],
                                                 ["NaCl", "mp-2", "", ""]]
    pd.DataFrame({"id": [1, 2], "composition": ["MgO", "CaO"], "x": [1.5, None]}).to_parquet(tmp_path / "t.parquet")
    rc, out, err = run(capsys, "predict", "--file", str(tmp_path / "t.parquet"), "--model", model_file)
    assert rc == 0 and err == ""
    assert [r[:1] + r[2:] for r in csv.reader(io.StringIO(out))] == [["formula", "id", "x"], ["MgO", "1", "1.5"],
                                                                     ["CaO", "2", ""]]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_predict_and_stability_name_a_bad_row_alike(suffix, model_file, tmp_path, capsys):
    """Both count a table's rows from 1, the first row under the header: the 3rd row of a CSV file
    (its 4th line) or of a Parquet file is "row 3" to each."""
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    path = tmp_path / f"t{suffix}"
    table = pd.DataFrame({"formula": ["Fe2O3", "FeO", "Xx2O", "Fe3O4"], "energy": [-1.7, -1.4, -1.0, -1.65]})
    if suffix == ".csv":
        table.to_csv(path, index=False)
        assert path.read_text().splitlines()[3].startswith("Xx2O,")
    else:
        table.to_parquet(path, index=False)
    rc, out, err = run(capsys, "predict", "--file", str(path), "--model", model_file)
    assert rc == 2 and out == "" and "[--file row 3] 'Xx2O': unknown element 'Xx'" in one_line(err)
    rc, out, err = run(capsys, "stability", str(path), "--format", "csv", "--out", str(tmp_path / "o"))
    assert rc == 0 and "  bad row 3 ('Xx2O'): unknown element 'Xx'" in out.splitlines()
    for command in ("predict", "stability"):  # and both say so
        assert "the first row under the header being row 1" in main_help(command), command


def main_help(command: str) -> str:
    """``hullpack COMMAND --help`` on one line."""
    from hullpack.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices[command]
    return " ".join(sub.format_help().split())


def test_quiet_and_verbose_also_after_the_subcommand(tmp_path, capsys, monkeypatch):
    from hullpack.cli import build_parser

    parser = build_parser()
    for argv in (["-q", "screen"], ["screen", "-q"], ["screen", "--quiet"], ["-q", "stability", "f.csv"],
                 ["stability", "f.csv", "-q"], ["stability", "-q", "f.csv"]):
        args = parser.parse_args(argv)
        assert args.quiet is True and args.verbose is False, argv
    for argv in (["screen"], ["stability", "f.csv"]):
        assert parser.parse_args(argv).quiet is False
    assert parser.parse_args(["stability", "f.csv", "-v"]).verbose is True
    # the documented forms run quietly: no progress bars (HULLPACK_QUIET) while the command runs,
    # and the setting does not outlive it (a later main() in this process is not quiet)
    from hullpack.cli import screen, stability

    path = tmp_path / "f.csv"
    pd.DataFrame({"formula": ["Fe2O3", "FeO", "Fe3O4"], "energy": [-1.7, -1.4, -1.65]}).to_csv(path, index=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HULLPACK_QUIET", raising=False)
    for module, argv in ((stability, ["stability", str(path), "--format", "csv", "-q"]),
                         (screen, ["screen", "--elements", "Fe O", "--no-dft", "--out", "s", "-q"])):
        seen, real = [], module.run
        monkeypatch.setattr(module, "run", lambda args, real=real: seen.append(os.environ.get("HULLPACK_QUIET"))
                            or real(args))
        assert main(argv) == 0, argv
        capsys.readouterr()
        assert seen == ["1"] and "HULLPACK_QUIET" not in os.environ, argv


# -------------------------------------------------------------------------------------- batches

@pytest.fixture(scope="module")
def sizes():
    rng = np.random.default_rng(0)
    return np.c_[rng.lognormal(3, 1, 200).round() + 1, rng.lognormal(4, 1, 200).round() + 1]


def batches(capsys, path, *argv):
    rc, out, err = run(capsys, "batches", str(path), *argv, "--json")
    return rc, (json.loads(out) if rc == 0 else None), err


def test_batches_reads_npy_csv_and_text_alike(sizes, tmp_path, capsys):
    np.save(tmp_path / "s.npy", sizes)
    np.savetxt(tmp_path / "s.csv", sizes, delimiter=",")
    np.savetxt(tmp_path / "s.txt", sizes)
    stats = [batches(capsys, tmp_path / name, "--batch-size", "8")[1] for name in ("s.npy", "s.csv", "s.txt")]
    assert stats[0] == stats[1] == stats[2]
    assert stats[0]["num_items"] == 200 and stats[0]["num_batches"] == 25
    # a header line of column names is skipped
    np.savetxt(tmp_path / "h.csv", sizes, delimiter=",", header="nodes,edges", comments="")
    assert batches(capsys, tmp_path / "h.csv", "--batch-size", "8")[1] == stats[0]
    # one size column: one item per line
    np.savetxt(tmp_path / "one.txt", sizes[:, 0])
    assert batches(capsys, tmp_path / "one.txt", "--max-cost", "500")[1]["num_items"] == 200


def test_batches_text_says_what_the_lower_bound_bounds(sizes, tmp_path, capsys):
    """A cost for balanced batches, a number of batches for packed ones: the same key, two meanings."""
    np.save(tmp_path / "s.npy", sizes)
    rc, out, _ = run(capsys, "batches", str(tmp_path / "s.npy"), "--batch-size", "8")
    assert rc == 0 and out.splitlines()[-2].strip() == "(lower_bound: no split into this many batches has a lower peak cost)"
    # and the comparison with random batches, in words
    stats = {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines()[:-2])}
    above = float(stats["random_batching_peak_cost"]) / float(stats["peak_cost"]) - 1
    assert out.splitlines()[-1].strip() == (f"(random_batching_peak_cost: the heaviest of as many batches of items in "
                                            f"random order, {above:.0%} above peak_cost)")
    rc, out, _ = run(capsys, "batches", str(tmp_path / "s.npy"), "--max-cost", "2000")
    assert rc == 0 and out.splitlines()[-2].strip() == "(lower_bound: no packing within --max-cost needs fewer batches)"


def test_batches_compares_packed_batches_with_random_ones(sizes, tmp_path, capsys):
    """Packed batches get the anchor balanced ones get: the epoch's items in random order, cut into
    as many batches, peak at so much (one peak per budget column)."""
    from hullpack.samplers import PackedBatchSampler

    np.save(tmp_path / "s.npy", sizes)
    for budget in (["3000"], ["800", "2000"]):
        rc, stats, _ = batches(capsys, tmp_path / "s.npy", "--max-cost", *budget, "--seed", "4", "--epoch", "2")
        assert rc == 0
        sampler = PackedBatchSampler(sizes, [float(b) for b in budget] if len(budget) > 1 else float(budget[0]),
                                     seed=4)
        sampler.set_epoch(2)
        epoch_items = np.concatenate([np.asarray(b) for b in sampler])
        shuffled = np.random.default_rng([4, 2]).permutation(epoch_items)
        item_cost = sizes if len(budget) > 1 else sizes.sum(axis=1, keepdims=True)  # one budget: nodes + edges
        peaks = np.max([item_cost[part].sum(axis=0) for part in np.array_split(shuffled, len(sampler))], axis=0)
        assert np.atleast_1d(stats["random_batching_peak_cost"]).tolist() == peaks.tolist()
        assert (peaks > np.atleast_1d(stats["peak_cost"])).all()
    rc, out, _ = run(capsys, "batches", str(tmp_path / "s.npy"), "--max-cost", "800", "2000")
    assert rc == 0 and out.splitlines()[-1].strip().startswith(
        "(random_batching_peak_cost: the heaviest of as many batches of items in random order, ")
    assert out.splitlines()[-1].count("%") == 2 and out.splitlines()[-1].endswith("above peak_cost)")


def test_batches_leaves_out_row_label_columns(sizes, tmp_path, capsys):
    """A table written by pandas' to_csv() starts with its index, and exports often carry an id:
    those label the rows; summed into the costs they would batch by row number."""
    np.save(tmp_path / "s.npy", sizes)
    expected = batches(capsys, tmp_path / "s.npy", "--batch-size", "8")[1]
    table = pd.DataFrame({"num_nodes": sizes[:, 0], "num_edges": sizes[:, 1]})
    table.to_csv(tmp_path / "pandas.csv")                                  # ",num_nodes,num_edges"
    table.insert(0, "id", np.arange(1000, 1200))
    table.to_csv(tmp_path / "ids.csv", index=False)
    for name in ("pandas.csv", "ids.csv"):
        rc, stats, err = batches(capsys, tmp_path / name, "--batch-size", "8")
        assert rc == 0 and stats == expected, name
        assert "row labels" in one_line(err) and "the sizes are the column(s) 'num_nodes', 'num_edges'" in one_line(err)
    (tmp_path / "labels.csv").write_text("id\n1\n2\n")
    rc, _, err = batches(capsys, tmp_path / "labels.csv", "--batch-size", "2")
    assert rc == 2 and "no column of sizes, only row labels ('id')" in one_line(err)


def test_batches_weights_and_bias_make_the_costs(sizes, tmp_path, capsys):
    from hullpack.samplers import BalancedBatchSampler

    np.save(tmp_path / "s.npy", sizes)
    rc, stats, _ = batches(capsys, tmp_path / "s.npy", "--batch-size", "8", "--weights", "1", "2", "--bias", "3")
    assert rc == 0
    assert stats["mean_cost"] == pytest.approx((sizes @ [1, 2] + 3).sum() / 25)
    lib = BalancedBatchSampler(sizes, 8, weights=[1, 2], bias=3, seed=0)
    lib.set_epoch(0)
    assert {k: stats[k] for k in lib.stats()} == lib.stats()
    # the anchor printed beside it: random batches of the same count
    assert stats["random_batching_peak_cost"] >= stats["peak_cost"]


def test_batches_oversize_policies(tmp_path, capsys):
    from hullpack.samplers import PackedBatchSampler

    path = tmp_path / "s.npy"
    np.save(path, np.array([1.0, 2, 3, 50, 4, 60]))
    rc, _, err = batches(capsys, path, "--max-cost", "10")
    line = one_line(err)
    assert rc == 2 and "2 item(s) cost more than --max-cost=10.0" in line
    assert "--oversize alone" in line and "--oversize skip" in line and "oversize='" not in line
    for policy in ("alone", "skip"):
        rc, stats, err = batches(capsys, path, "--max-cost", "10", "--oversize", policy)
        with pytest.warns(UserWarning):
            lib = PackedBatchSampler(np.array([1.0, 2, 3, 50, 4, 60]), 10.0, oversize=policy, seed=0)
        lib.set_epoch(0)
        assert rc == 0 and {k: stats[k] for k in lib.stats()} == lib.stats()
        assert stats["oversize_alone" if policy == "alone" else "oversize_skipped"] == 2
        assert one_line(err).endswith(f"(--oversize {policy})" if policy == "alone" else "left out (--oversize skip)")


def test_batches_over_ranks_says_whose_figures_they_are(sizes, tmp_path, capsys):
    from hullpack.samplers import DistributedBalancedBatchSampler

    np.save(tmp_path / "s.npy", sizes)
    rc, stats, _ = batches(capsys, tmp_path / "s.npy", "--batch-size", "8", "--num-replicas", "2", "--rank", "1")
    lib = DistributedBalancedBatchSampler(sizes, 8, num_replicas=2, rank=1, seed=0)
    lib.set_epoch(0)
    assert rc == 0 and stats == lib.stats() and stats["rank"] == 1
    assert stats["global_peak_cost"] >= stats["peak_cost"]
    assert stats["global_peak_over_lower_bound"] == pytest.approx(stats["global_peak_cost"] / stats["lower_bound"])
    rc, out, _ = run(capsys, "batches", str(tmp_path / "s.npy"), "--batch-size", "8", "--num-replicas", "2")
    assert rc == 0 and out.startswith("rank 0 of 2: num_batches, num_items, peak_cost and mean_cost are this rank's")
    rc, _, err = run(capsys, "batches", str(tmp_path / "s.npy"), "--batch-size", "8", "--rank", "1")
    assert rc == 2 and "give --num-replicas too" in err


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "0"], "--batch-size 0: must be >= 1"),      # 0 is a batch size, not "unset"
    (["--batch-size", "-3"], "--batch-size -3: must be >= 1"),
    (["--max-cost", "0"], "--max-cost 0.0: must be finite and > 0"),
])
def test_batches_bad_numbers_are_named(argv, message, sizes, tmp_path, capsys):
    np.save(tmp_path / "s.npy", sizes)
    rc, _, err = batches(capsys, tmp_path / "s.npy", *argv)
    assert rc == 2 and message in one_line(err)


def test_batches_missing_or_unreadable_file(tmp_path, capsys):
    rc, _, err = batches(capsys, tmp_path / "missing.npy", "--batch-size", "2")
    assert rc == 2 and one_line(err) == f"hullpack batches: sizes file '{tmp_path / 'missing.npy'}' does not exist"
    (tmp_path / "words.txt").write_text("one two\nthree four\n")
    rc, _, err = batches(capsys, tmp_path / "words.txt", "--batch-size", "2")
    assert rc == 2 and "cannot read sizes from" in one_line(err)
    rc, _, err = batches(capsys, tmp_path, "--batch-size", "2")
    assert rc == 2 and "is not a file" in one_line(err)


# --------------------------------------------------------------------------------------- screen

def screen_cli(capsys, out, *argv):
    return run(capsys, "screen", "--out", str(out), *argv)


def test_screen_plot_only_draws_one_system_and_writes_nothing_else(model_file, tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib")  # --plot-only draws the plot
    import hullpack.screening as screening

    calls, real = [], screening.screen
    monkeypatch.setattr(screening, "screen", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    rc, out, err = screen_cli(capsys, tmp_path / "o", "--plot", "O-Fe", "--plot-only", "--grid", "20",
                              "--model", model_file, "--match-tol", "0.02")
    assert rc == 0 and err == ""
    assert [(kw["order"], kw["elements"], kw["compare_dft"]) for kw in calls] == [(2, [6, 22], False)]  # O-Fe only
    # the figure labels the DFT stable compounds no predicted one matches within --match-tol
    assert calls[0]["match_tol"] == 0.02
    assert json.loads((tmp_path / "o" / MANIFEST).read_text())["config"]["match_tol"] == 0.02
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["Fe-O.png", "manifest.json"]   # named as chemists do
    assert (tmp_path / "o" / "Fe-O.png").stat().st_size > 10_000
    assert out.strip() == f"wrote 1 file and manifest.json to {tmp_path / 'o'}"          # no summary, one file


@pytest.mark.parametrize("argv, message", [
    (["--plot", "FeO", "--plot-only"], "--plot 'FeO': expected 2 to 4 distinct element symbols"),
    (["--plot", "Fe-Xx"], "--plot 'Fe-Xx': expected 2 to 4 distinct element symbols of ElemNet's 86 joined by "
                          "'-' (e.g. 'Fe-O'); unknown: Xx"),
    (["--plot", "Fe-O-"], "--plot 'Fe-O-': expected 2 to 4 distinct element symbols of ElemNet's 86 joined by "
                          "'-' (e.g. 'Fe-O'); an element symbol is empty"),
    (["--plot", "Fe--O", "--plot-only"], "--plot 'Fe--O': expected 2 to 4 distinct"),
    (["--plot-only"], "--plot-only draws the system of --plot SYSTEM"),
])
def test_screen_bad_plot_requests_stop_before_any_work(argv, message, tmp_path, capsys, monkeypatch):
    import hullpack.screening.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_load_model", lambda m: pytest.fail("the screen ran"))
    rc, out, err = screen_cli(capsys, tmp_path / "o", "--elements", "Fe Ni O", *argv)
    assert rc == 2 and out == "" and message in one_line(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, unused", [
    (["--shard", "0/2"], "--shard has no effect with it; leave it out"),
    (["--points", "--order", "3"], "--order, --points have no effect with it; leave them out"),
    (["--elements", "Fe Ni O", "--no-dft"], "--elements, --no-dft have no effect with it"),
])
def test_screen_plot_only_refuses_the_options_of_a_screen_of_many_systems(argv, unused, tmp_path, capsys,
                                                                            monkeypatch):
    """--plot-only screens one system and writes no tables: the options it would silently ignore
    are named before any work."""
    import hullpack.screening.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_load_model", lambda m: pytest.fail("the screen ran"))
    rc, out, err = screen_cli(capsys, tmp_path / "o", "--plot", "Fe-Ni-O", "--plot-only", *argv)
    line = one_line(err)
    assert rc == 2 and out == "" and line.startswith("hullpack screen: --plot-only screens and draws Fe-Ni-O alone")
    assert unused in line and line.endswith("or drop --plot-only to screen the systems and draw Fe-Ni-O beside "
                                            "their tables")
    assert not (tmp_path / "o").exists()


def test_screen_ternaries_points_no_dft(model_file, tmp_path, capsys):
    rc, out, _ = screen_cli(capsys, tmp_path, "--order", "3", "--elements", "Fe Ni O Al", "--grid", "6",
                            "--no-dft", "--points", "--model", model_file)
    assert rc == 0 and "4 ternary systems x 28 grid points" in out and "DFT (OQMD)" not in out
    systems = pd.read_csv(tmp_path / "systems.csv")
    assert systems["system"].tolist() == ["Al-Fe-O", "Al-Ni-O", "Fe-Ni-O", "Al-Fe-Ni"]   # alphabetical, as pymatgen
    assert {"A", "B", "C"} <= set(systems) and "precision" not in systems and "stab_f1" not in systems
    points = pd.read_csv(tmp_path / "points.csv")
    assert len(points) == 4 * 28 and np.allclose(points[["x_A", "x_B", "x_C"]].sum(axis=1), 1)
    assert points["is_vertex"].sum() == systems["n_vertices"].sum() >= systems["n_stable"].sum()
    assert systems["n_stable"].sum() == len(pd.read_csv(tmp_path / "vertices.csv"))
    assert not (tmp_path / "groups.csv").exists()            # group tables come from the DFT comparison


def test_screen_min_depth_keeps_the_deep_vertices(model_file, tmp_path, capsys):
    common = ["--elements", "Fe Ni O Al", "--grid", "20", "--no-dft", "--model", model_file]
    assert screen_cli(capsys, tmp_path / "all", *common, "--min-depth", "0")[0] == 0
    assert screen_cli(capsys, tmp_path / "deep", *common, "--min-depth", "0.02")[0] == 0
    every = pd.read_csv(tmp_path / "all" / "vertices.csv")
    deep = pd.read_csv(tmp_path / "deep" / "vertices.csv")
    assert 0 < len(deep) < len(every) and (deep["depth"] >= 0.02).all()
    assert deep["formula"].tolist() == every.loc[every["depth"] >= 0.02, "formula"].tolist()
    assert pd.read_csv(tmp_path / "deep" / "systems.csv")["n_stable"].sum() == len(deep)


def test_screen_shards_partition_the_systems_and_may_be_empty(model_file, tmp_path, capsys, monkeypatch):
    pytest.importorskip("pymatgen")
    pytest.importorskip("pyarrow")  # without it and pymatgen the screen notes what it skipped
    common = ["--elements", "Fe Ni O", "--order", "2", "--grid", "10", "--model", model_file]
    assert screen_cli(capsys, tmp_path / "whole", *common)[0] == 0
    parts = []
    for i in range(2):
        assert screen_cli(capsys, tmp_path / f"p{i}", *common, "--shard", f"{i}/2")[0] == 0
        parts.append(pd.read_csv(tmp_path / f"p{i}" / "systems.csv"))
    whole = pd.read_csv(tmp_path / "whole" / "systems.csv")
    assert pd.concat(parts)["system"].tolist() == whole["system"].tolist() == ["Fe-O", "Ni-O", "Fe-Ni"]
    # more shards than systems: an empty, valid result
    rc, out, err = screen_cli(capsys, tmp_path / "empty", *common, "--shard", "5/10")
    assert rc == 0 and err == "" and out.startswith("0 binary systems (shard 5/10 of the screen's systems; every figure below "
                                                        "is the shard's) x 11 grid points")
    empty = pd.read_csv(tmp_path / "empty" / "systems.csv")
    assert len(empty) == 0 and list(empty.columns) == list(whole.columns)
    assert len(pd.read_csv(tmp_path / "empty" / "vertices.csv")) == 0
    assert {f["name"] for f in json.loads((tmp_path / "empty" / MANIFEST).read_text())["files"]} >= {"systems.csv",
                                                                                                   "vertices.csv"}
    # a bad shard stops before any work
    import hullpack.screening.pipeline as pipeline

    monkeypatch.setattr(pipeline, "_load_model", lambda m: pytest.fail("the screen ran"))
    rc, out, err = screen_cli(capsys, tmp_path / "bad", *common, "--shard", "3/3")
    assert rc == 2 and out == "" and "--shard '3/3'" in one_line(err)
    assert not (tmp_path / "bad").exists()


# ---------------------------------------------------------------------------------- bench-memory

@pytest.mark.slow
def test_bench_memory_distributed_tiny(tmp_path, capsys):
    pytest.importorskip("torch_geometric")
    rc, out, _ = run(capsys, "bench-memory", "--dataset", "low", "--events", "16", "--epochs", "1", "--hidden",
                     "8", "--num-steps", "1", "--batch-size", "4", "--strategies", "random,balanced",
                     "--distributed", "--world-size", "2", "--json")
    assert rc == 0
    res = json.loads(out)["distributed"]
    assert res["world_size"] == 2 and res["dataset"] == "low"
    summary = res["summary"]
    assert set(summary) == {"DistributedSampler", "DistributedBalancedBatchSampler"}
    for s in summary.values():
        assert s["steps"] >= 1 and s["compute_s"] > 0 and 0 <= s["wait_fraction"] < 1


# ------------------------------------------------------------------------- a base install (no extras)

def test_base_install_screen_writes_csv_and_names_the_extra(model_file, tmp_path, capsys, monkeypatch):
    hide(monkeypatch, "matplotlib", "pyarrow", "pymatgen", "fastparquet")
    rc, out, err = screen_cli(capsys, tmp_path, "--elements", "Fe Ni O", "--order", "2", "--grid", "10", "--model",
                              model_file)
    assert rc == 0 and "3 binary systems" in out and "DFT (OQMD) stable compounds" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "systems.csv", "vertices.csv"]
    assert "wrote 2 files and manifest.json" in out
    note = one_line(err)
    assert note == ('hullpack screen: note: skipped Parquet tables, group-pair tables and heatmaps '
                    '(pyarrow, pymatgen not installed): pip install "hullpack[screening]"')


def test_base_install_screen_without_matplotlib_only(model_file, tmp_path, capsys, monkeypatch):
    pytest.importorskip("pyarrow")  # only matplotlib is hidden: the rest of [screening] is installed
    pytest.importorskip("pymatgen")
    hide(monkeypatch, "matplotlib")
    rc, out, err = screen_cli(capsys, tmp_path, "--elements", "Fe Ni O", "--order", "2", "--grid", "10", "--model",
                              model_file)
    assert rc == 0 and (tmp_path / "systems.parquet").is_file() and (tmp_path / "groups.csv").is_file()
    assert not list(tmp_path.glob("*.png"))
    assert "skipped group-pair heatmaps (matplotlib not installed)" in one_line(err)


@pytest.mark.parametrize("argv, extra", [
    (["screen", "--elements", "Fe Ni O", "--plot", "Fe-O"], 'hullpack screen: --plot needs matplotlib, which is '
                                                          'not installed: pip install "hullpack[plot]"'),
    (["explain", "--out", "OUT"], 'hullpack explain: needs shap, matplotlib, which are not installed: '
                                  'pip install "hullpack[xai]"'),
])
def test_base_install_commands_that_need_an_extra_stop_first(argv, extra, tmp_path, capsys, monkeypatch):
    import hullpack.screening.pipeline as pipeline

    if argv[0] == "explain":  # only shap and matplotlib are hidden: the rest of [xai] is installed
        for package in ("sklearn", "scipy", "pymatgen"):
            pytest.importorskip(package)
    hide(monkeypatch, "matplotlib", "shap")
    monkeypatch.setattr(pipeline, "_load_model", lambda m: pytest.fail("the screen ran"))
    argv = [str(tmp_path / "o") if a == "OUT" else a for a in argv]
    rc, out, err = run(capsys, *argv, *(["--out", str(tmp_path / "o")] if argv[0] == "screen" else []))
    assert rc == 2 and out == "" and one_line(err) == extra
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("fmt, message", [
    (["--format", "parquet"], '--format parquet needs pyarrow'),
    (["--format", "both"], '--format both needs pyarrow'),
    (["--format", "csv", "--plot", "Fe-O"], '--plot needs matplotlib'),
])
def test_base_install_stability_names_the_extra_before_any_work(fmt, message, tmp_path, capsys, monkeypatch):
    from hullpack.cli import stability as command

    path = tmp_path / "f.csv"
    pd.DataFrame({"formula": ["Fe2O3", "FeO"], "energy": [-1.7, -1.4]}).to_csv(path, index=False)
    hide(monkeypatch, "pyarrow", "fastparquet", "matplotlib")
    monkeypatch.setattr(command, "_inputs", lambda args: pytest.fail("FILE was read"))
    rc, out, err = run(capsys, "stability", str(path), "--out", str(tmp_path / "o"), *fmt)
    extra = "plot" if "matplotlib" in message else "parquet"
    assert rc == 2 and out == "" and one_line(err) == (f'hullpack stability: {message}, which is not installed: '
                                                       f'pip install "hullpack[{extra}]"'
                                                       + ("" if extra == "plot" else " (or --format csv)"))
    assert not (tmp_path / "o").exists()


def test_base_install_stability_writes_csv_by_default_with_a_note(tmp_path, capsys, monkeypatch):
    """Without pyarrow the default table format is CSV, as hullpack screen does, with a note
    naming the extra; asked for by name, Parquet is refused before any work (above)."""
    path = tmp_path / "f.csv"
    pd.DataFrame({"formula": ["Fe2O3", "FeO", "Fe3O4"], "energy": [-1.7, -1.4, -1.65]}).to_csv(path, index=False)
    hide(monkeypatch, "pyarrow", "fastparquet")
    rc, out, err = run(capsys, "stability", str(path), "--out", str(tmp_path / "o"))
    assert rc == 0 and "stable: 2 of 3 compounds" in out, err
    assert one_line(err) == ('hullpack stability: note: wrote CSV, not Parquet (pyarrow not installed): '
                             'pip install "hullpack[parquet]"')
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["manifest.json", "stability.csv", "summary.txt"]


def test_base_install_stability_writes_csv_without_pyarrow(tmp_path, capsys, monkeypatch):
    path = tmp_path / "f.csv"
    pd.DataFrame({"formula": ["Fe2O3", "FeO", "Fe3O4"], "energy": [-1.7, -1.4, -1.65]}).to_csv(path, index=False)
    hide(monkeypatch, "pyarrow", "fastparquet", "matplotlib")
    # a space of four elements is a table, no figure: it needs no matplotlib
    rc, out, err = run(capsys, "stability", str(path), "--out", str(tmp_path / "o"), "--format", "csv",
                       "--plot", "Fe-Ni-O-Li")
    assert rc == 0 and err == "" and "stable: 2 of 3 compounds" in out, err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["Fe-Li-Ni-O.csv", "manifest.json", "stability.csv",
                                                                  "summary.txt"]


def test_base_install_bench_memory_names_the_hep_extra(capsys, monkeypatch):
    hide(monkeypatch, "torch_geometric")
    rc, out, err = run(capsys, "bench-memory", "--events", "4")
    assert rc == 2 and one_line(err) == ('hullpack bench-memory: needs torch_geometric, which is not installed: '
                                         'pip install "hullpack[hep]"')


def test_an_unchecked_missing_module_is_still_one_line(capsys, monkeypatch):
    """A command that reaches an optional module without checking it first still ends in one line
    naming the extra, not a traceback; a module no extra provides is not hidden."""
    from hullpack import cli

    def run_needing(module):
        def run_(args):
            __import__(module)
            return 0
        return run_

    for name, module in (("needs-pyarrow", "pyarrow"), ("needs-other", "not_a_hullpack_extra")):
        cmd = types.ModuleType(f"hullpack.cli.{name}")
        cmd.NAME, cmd.HELP, cmd.add_arguments, cmd.run = name, "", lambda p: None, run_needing(module)
        monkeypatch.setitem(sys.modules, f"hullpack.cli.{name}", cmd)
        monkeypatch.setattr(cli, "COMMANDS", cli.COMMANDS + (name,))
    hide(monkeypatch, "pyarrow")
    rc, _, err = run(capsys, "needs-pyarrow")
    assert rc == 2 and one_line(err) == ('hullpack needs-pyarrow: needs pyarrow, which is not installed: '
                                         'pip install "hullpack[parquet]"')
    with pytest.raises(ModuleNotFoundError):
        main(["needs-other"])


def test_a_reader_that_stops_early_gets_no_traceback(tmp_path):
    """hullpack predict --file big.txt | head: the pipe closes while hullpack still writes."""
    import subprocess

    (tmp_path / "big.txt").write_text("Fe2O3\nNaCl\n" * 20_000)  # ~0.5 MB of output, more than a pipe holds
    code = "import sys; from hullpack.cli import main; sys.exit(main())"
    p = subprocess.Popen([sys.executable, "-c", code, "predict", "--file", str(tmp_path / "big.txt")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    assert p.stdout.readline() == b"formula,dH_eV_per_atom\n"
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait() == 1 and "Traceback" not in err and "BrokenPipe" not in err, err


def test_warnings_are_notes_but_other_libraries_deprecations_are_not_shown(capsys):
    """A command's user sees its warnings as one-line notes; deprecation warnings raised by the
    libraries it imports (torch's jit on import of torch_geometric) say nothing they can act on."""
    import warnings

    from hullpack.cli.common import warnings_as_notes

    with warnings_as_notes("demo"):
        warnings.warn("`torch.jit.script` is deprecated", DeprecationWarning)
        warnings.warn("soon gone", PendingDeprecationWarning)
        warnings.warn("3 rows  skipped")
        warnings.warn("3 rows skipped")
    assert capsys.readouterr().err == "hullpack demo: note: 3 rows skipped\n"


# ---------------------------------------------------------------------------- the compiled core's stubs

def _parameters(fn) -> list[tuple[str, object]]:
    """``(name, default)`` of a function's parameters (``...`` where there is none), from its ast."""
    args = fn.args.args
    defaults = [...] * (len(args) - len(fn.args.defaults)) + [ast.literal_eval(d) for d in fn.args.defaults]
    return [(a.arg, d) for a, d in zip(args, defaults)]


def _bound(obj) -> list[tuple[str, object]]:
    """``(name, default)`` of a pybind11 function's parameters, from the signature its docstring opens with."""
    return _parameters(ast.parse(f"def {obj.__doc__.splitlines()[0]}: ...").body[0])


def test_the_core_s_stubs_declare_what_it_binds_with_the_same_parameters():
    """_core.pyi (what type checkers and editors read) against hullpack._core itself: every public
    name, every class member, and each function's parameter names and defaults."""
    from pathlib import Path

    import hullpack
    from hullpack import _core

    stub = ast.parse(Path(hullpack.__file__).with_name("_core.pyi").read_text())

    def members(body):
        out = {}
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                out[node.name] = node
            elif isinstance(node, ast.AnnAssign):
                out[node.target.id] = node
        return out

    def stub_only(node):  # TypedDicts of the returned dicts: no class at runtime
        return isinstance(node, ast.ClassDef) and any(getattr(d, "id", None) == "type_check_only"
                                                      for d in node.decorator_list)

    declared = {k: v for k, v in members(stub.body).items() if not k.startswith("_") and not stub_only(v)}
    bound = {n for n in dir(_core) if not n.startswith("_")}
    assert sorted(bound - set(declared)) == [] and sorted(set(declared) - bound) == []
    for name in bound:
        obj, node = getattr(_core, name), declared[name]
        if isinstance(obj, type):
            assert isinstance(node, ast.ClassDef), name
            have = members(node.body)
            runtime = {k for k in vars(obj) if not k.startswith("_")} | {"__init__"}
            assert sorted(runtime - set(have)) == [] and sorted(set(have) - runtime) == [], name
            for member in runtime:
                attr = vars(obj)[member]
                is_property = any(getattr(d, "id", None) == "property" for d in have[member].decorator_list)
                assert is_property == isinstance(attr, property), f"{name}.{member}"
                if not is_property:
                    assert _parameters(have[member]) == _bound(attr), f"{name}.{member}"
        elif callable(obj):
            assert isinstance(node, ast.FunctionDef) and _parameters(node) == _bound(obj), name
        else:
            assert isinstance(node, ast.AnnAssign), name
