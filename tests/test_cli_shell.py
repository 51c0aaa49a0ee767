"""The ``hullpack`` command line as a shell user meets it: results on stdout, notes on stderr as
much as -q and -v ask, exit statuses, ``--help`` and ``--version``."""
import argparse
import logging
import os
import shlex

import pandas as pd
import pytest

from hullpack.cli import build_parser, main


def _subparsers():
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices


# ------------------------------------------------------------------------------------ -q, default, -v

def test_quiet_prints_the_results_notes_and_errors(tmp_path, capsys):
    """hullpack -q predict: the same table and the same notes (rows left out can change what the
    table means); what -q leaves out is progress bars and logging below warnings."""
    path = tmp_path / "f.txt"
    path.write_text("formula\nFe2O3\nFe\nXx2\nNaCl\n")
    argv = ["predict", "--file", str(path), "--errors", "skip"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == "formula,dH_eV_per_atom" and len(out.splitlines()) == 4
    assert "note: 1 of 4 formulas cannot be featurized" in err and "note: 1 pure element (Fe)" in err
    for quiet in (["-q", *argv], [*argv, "-q"], [*argv, "--quiet"]):
        assert main(quiet) == 0, quiet
        assert capsys.readouterr() == (out, err), quiet
    # an error still says what is wrong
    assert main(["-q", "predict", "--file", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "hullpack predict: 1 of 4 formulas cannot be featurized: [--file line 4] 'Xx2'" in err


def test_quiet_keeps_the_warnings_a_command_prints_as_notes(tmp_path, capsys):
    """A warning (here: batches leaves a table's index column out) can change what the results mean:
    -q prints it too, as pip's -q does."""
    path = tmp_path / "sizes.csv"
    pd.DataFrame({"size": [3, 5, 8, 13, 21, 34]}).to_csv(path)  # the index pandas writes, as "Unnamed: 0"
    assert main(["batches", str(path), "--batch-size", "2"]) == 0
    out, err = capsys.readouterr()
    assert "num_batches: 3" in out and "hullpack batches: note:" in err and "Unnamed: 0" in err
    assert main(["-q", "batches", str(path), "--batch-size", "2"]) == 0
    assert capsys.readouterr() == (out, err)


@pytest.mark.parametrize("flag, shown", [("-q", ["WARNING", "ERROR"]), (None, ["INFO", "WARNING", "ERROR"]),
                                         ("-v", ["DEBUG", "INFO", "WARNING", "ERROR"])])
def test_logging_follows_quiet_and_verbose_and_is_restored_after(monkeypatch, caplog, capsys, flag, shown):
    from hullpack.cli import info

    def run(args):
        log = logging.getLogger("hullpack.demo")
        for level in (logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR):
            log.log(level, "said")
        return 0

    monkeypatch.setattr(info, "run", run)
    monkeypatch.delenv("HULLPACK_QUIET", raising=False)
    before = logging.getLogger().level
    caplog.set_level(logging.NOTSET)  # the handler takes all: the root logger's level decides
    logging.getLogger().setLevel(before)
    assert main([flag, "info"] if flag else ["info"]) == 0
    assert [r.levelname for r in caplog.records if r.name == "hullpack.demo"] == shown
    assert logging.getLogger().level == before and "HULLPACK_QUIET" not in os.environ


# ------------------------------------------------------------------------------------ exit statuses

def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys):
    from hullpack.cli import info

    def run(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(info, "run", run)
    assert main(["info"]) == 130
    assert capsys.readouterr() == ("", "hullpack info: interrupted\n")


def test_usage_errors_exit_2_and_version_names_the_package(capsys):
    import hullpack

    with pytest.raises(SystemExit) as exit_:
        main(["predict", "--errors", "ignore", "Fe2O3"])
    assert exit_.value.code == 2 and "invalid choice: 'ignore'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"hullpack {hullpack.__version__}\n"


# ------------------------------------------------------------------------------------ --help

def test_every_help_explains_each_option_shows_defaults_and_examples_that_parse():
    parser = build_parser()
    for name, sub in _subparsers().items():
        text = sub.format_help()
        for action in sub._actions:
            if not action.option_strings or action.dest == "help":
                continue
            assert action.help, (name, action.option_strings)
            # a default of 0 too (0 == False: a check "not in (None, False, True)" passes it over)
            if action.default is not None and not isinstance(action.default, bool) \
                    and action.default is not argparse.SUPPRESS:
                help_text = sub._get_formatter()._get_help_string(action)
                assert "default" in help_text, (name, action.option_strings)
        assert "\nexamples:\n" in text, name
        examples = text.split("\nexamples:\n", 1)[1].strip().splitlines()
        assert examples, name
        for line in examples:  # each example is a command line hullpack accepts
            words = shlex.split(line.split(" > ")[0], comments=True)  # without the shell's redirection
            assert words[:2] == ["hullpack", name], line
            assert parser.parse_args(words[1:]).command == name, line


# ------------------------------------------------------------------------------------ stability on stdout

@pytest.fixture
def fe_o(tmp_path):
    path = tmp_path / "s.csv"
    pd.DataFrame({"formula": ["Fe2O3", "FeO", "Fe3O4", "Xx"], "energy": [-1.7, -1.4, -1.65, -1.0]}).to_csv(
        path, index=False)
    return path


def test_stability_out_dash_writes_the_table_on_stdout_and_the_summary_on_stderr(fe_o, tmp_path, capsys,
                                                                                 monkeypatch):
    """hullpack stability FILE --out - > stability.csv: the table the folder's stability.csv holds."""
    monkeypatch.chdir(tmp_path)
    assert main(["stability", str(fe_o), "--out", "folder", "--format", "csv"]) == 0
    capsys.readouterr()
    assert main(["stability", str(fe_o), "--out", "-"]) == 0
    out, err = capsys.readouterr()
    with open(tmp_path / "folder" / "stability.csv") as f:
        assert out == f.read()
    assert err.startswith("hullpack stability: 4 compositions from") and "bad row 4 ('Xx')" in err
    assert not (tmp_path / "-").exists()
    assert main(["stability", str(fe_o), "--out", "-", "-q"]) == 0
    assert capsys.readouterr() == (out, "")


@pytest.mark.parametrize("option, says", [(["--format", "parquet"], "not --format parquet"),
                                          (["--plot", "Fe-O"], "--plot Fe-O draws into the --out folder")])
def test_stability_out_dash_refuses_what_needs_a_folder(fe_o, capsys, option, says):
    assert main(["stability", str(fe_o), "--out", "-", *option]) == 2
    out, err = capsys.readouterr()
    assert out == "" and says in err
