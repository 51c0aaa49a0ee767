"""The ``hullpack`` command line as a new user meets it: a mistyped option or choice answered by the
subcommand it was given to with the nearest one, every --help opening with what the command does,
errors in the options' words, and a path or stream that cannot be written said in one line."""
import subprocess
import sys

import numpy as np
import pytest

from hullpack.cli import build_parser, main


def _usage_error(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err


@pytest.mark.parametrize("argv, usage, line", [
    (["predict", "--jsn", "NaCl"], "usage: hullpack predict",
     "hullpack predict: error: unrecognized arguments: --jsn (did you mean --json?)"),
    (["stability", "NaCl", "--threds", "2"], "usage: hullpack stability",
     "hullpack stability: error: unrecognized arguments: --threds 2 (did you mean --threads?)"),
    (["info", "--jsn=1"], "usage: hullpack info",
     "hullpack info: error: unrecognized arguments: --jsn=1 (did you mean --json?)"),
    (["info", "extra"], "usage: hullpack info", "hullpack info: error: unrecognized arguments: extra\n"),
])
def test_an_unknown_option_is_refused_by_its_subcommand_with_the_nearest_one(capsys, argv, usage, line):
    """Not "hullpack: error: unrecognized arguments" under the top-level usage, which lists no option
    of the subcommand the user was typing."""
    err = _usage_error(capsys, argv)
    assert err.startswith(usage) and line in err, err


@pytest.mark.parametrize("argv, says", [
    (["predct", "NaCl"], "invalid choice: 'predct'"),
    (["stability", "NaCl", "--format", "parqet"], "invalid choice: 'parqet'"),
])
def test_a_mistyped_choice_is_answered_with_the_nearest_one(capsys, argv, says):
    err = _usage_error(capsys, argv)
    assert says in err and ("did you mean 'predict'?" in err or "did you mean 'parquet'?" in err), err


def test_a_choice_far_from_every_one_gets_no_guess(capsys):
    err = _usage_error(capsys, ["predict", "--errors", "ignore", "Fe2O3"])
    assert "invalid choice: 'ignore'" in err and "did you mean" not in err


def test_every_subcommand_s_help_opens_with_what_it_does():
    """hullpack info --help said nothing of what info does: its one line is shown where it has no
    longer description."""
    parser = build_parser()
    commands = parser._subparsers._group_actions[0]
    listed = {action.dest: action.help for action in commands._choices_actions}
    for name, sub in commands.choices.items():
        assert sub.description, name
        assert sub.format_help().split("\n\n")[1].strip(), name
    assert commands.choices["info"].description == listed["info"]


def test_a_default_of_zero_is_shown():
    """0 == False: the help formatter took a default of 0 for a flag's and left it out."""
    help_text = build_parser()._subparsers._group_actions[0].choices["batches"].format_help()
    assert "(default: 0)" in " ".join(help_text.split()[help_text.split().index("--seed"):][:20])


@pytest.mark.parametrize("argv, message", [
    (["--batch-size", "8", "--num-replicas", "0"], "hullpack batches: --num-replicas 0: must be >= 1"),
    (["--batch-size", "8", "--num-replicas", "4", "--rank", "4"],
     "hullpack batches: --rank 4 must be < --num-replicas 4 (ranks are 0 .. 3)"),
    (["--batch-size", "8", "--seed", "-1"], "hullpack batches: --seed -1: must be >= 0"),
    (["--batch-size", "8", "--epoch", "-1"], "hullpack batches: --epoch -1: must be >= 0"),
    (["--max-cost", "-1"], "hullpack batches: --max-cost -1.0: must be finite and > 0"),
])
def test_batches_names_a_bad_number_by_its_option(argv, message, tmp_path, capsys):
    """The samplers' messages name their Python parameters (num_replicas = 0); the command says its options."""
    np.save(tmp_path / "s.npy", np.arange(1, 41))
    assert main(["batches", str(tmp_path / "s.npy"), *argv]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == message + "\n"


def test_a_path_that_cannot_be_made_is_one_line_exit_2(tmp_path, capsys, monkeypatch):
    """hullpack train runs.csv/run (RUN_DIR inside a file), hullpack explain --out file/x: the
    OSError of the folder that cannot be made, in one line, not a traceback."""
    from hullpack.cli import info

    def run(args):
        raise NotADirectoryError(20, "Not a directory", "runs.csv/run")

    monkeypatch.setattr(info, "run", run)
    assert main(["info"]) == 2
    assert capsys.readouterr() == ("", "hullpack info: runs.csv/run: Not a directory\n")


def test_explain_out_inside_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f.csv").write_text("x\n")
    out = tmp_path / "f.csv" / "report"
    assert main(["explain", "--out", str(out), "--only", "shap"]) == 2
    assert capsys.readouterr() == ("", f"hullpack explain: {out}: {tmp_path / 'f.csv'} is a file, where the path "
                                       "needs a folder\n")


def test_train_export_out_inside_a_file_names_the_file(tmp_path, capsys, monkeypatch):
    """--out f.csv/m.pt: making the folder f.csv fails with "File exists", which read as if m.pt did."""
    from hullpack.cli import train

    def run(args):
        raise FileExistsError(17, "File exists", "f.csv")

    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.csv").write_text("x\n")
    monkeypatch.setattr(train, "run", run)
    assert main(["train", "--export", "runs/a", "--out", "f.csv/m.pt"]) == 2
    assert capsys.readouterr() == ("", "hullpack train: f.csv: a file, where the path needs a folder\n")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/dev/full is Linux's")
def test_a_full_stdout_is_one_line_exit_1(tmp_path):
    """hullpack info > /dev/full: the write fails; one line, no traceback, and no second error when
    Python flushes stdout at exit."""
    code = "import sys; from hullpack.cli import main; sys.exit(main())"
    with open("/dev/full", "w") as full:
        p = subprocess.run([sys.executable, "-c", code, "info"], stdout=full, stderr=subprocess.PIPE, cwd=tmp_path,
                           text=True)
    assert p.returncode == 1 and p.stderr == "hullpack info: No space left on device\n", p.stderr


@pytest.mark.parametrize("options, work", [([], "stability"), (["--compare", "--model", "default"], "model_protocol")])
def test_stability_prints_its_header_line_before_the_work(options, work, tmp_path, capsys, monkeypatch):
    """The summary's first line ("hullpack stability: 3 compositions from ...") came after the work,
    the reference's hulls (seconds for the shipped OQMD set): a user waited in silence, then read the
    header. It comes first, on stdout, or on stderr with --out - (stdout is the table alone), and
    not with -q there; the rest follows, summary.txt holding the whole summary."""
    import hullpack.stability as stability

    said = []  # stdout and stderr when the work began

    def spy(real):
        def work_begins(*args, **kwargs):
            said.append(capsys.readouterr())
            return real(*args, **kwargs)
        return work_begins

    monkeypatch.setattr(stability, work, spy(getattr(stability, work)))
    typed = ["Fe2O3=-1.7", "Fe3O4=-1.62", "FeO=-1.4", "Fe=0", "O2=0"]
    header = ("hullpack stability --compare: the formulas given on the command line" if options
              else "hullpack stability: 5 compositions from the command line")
    assert main(["stability", *typed, *options, "--reference", "none", "--out", str(tmp_path / "o")]) == 0
    out, err = capsys.readouterr()
    assert said[-1].out == header + "\n"
    summary = (tmp_path / "o" / "summary.txt").read_text()
    assert summary.startswith(header + "\n") and said[-1].out + out == summary + out.splitlines(True)[-1]
    assert main(["stability", *typed, *options, "--reference", "none", "--out", "-"]) == 0
    out, err = capsys.readouterr()
    assert said[-1] == ("", header + "\n") and out.startswith("formula,")
    assert main(["stability", *typed, *options, "--reference", "none", "--out", "-", "-q"]) == 0
    assert said[-1] == ("", "") and capsys.readouterr().err == ""


def test_threads_is_worded_once_for_every_command_that_takes_it(capsys):
    """--threads said "torch CPU threads" in four commands and "OpenMP threads (default: all cores)" in
    stability, neither the default of the others nor that the parser refuses 0 and negative numbers."""
    from hullpack.cli.common import THREADS_HELP

    commands = build_parser()._subparsers._group_actions[0].choices
    helps = {name: action.help for name, sub in commands.items() for action in sub._actions
             if "--threads" in action.option_strings}
    assert set(helps) == {"train", "explain", "bench-memory", "screen", "stability"}
    assert all(h.startswith(THREADS_HELP) for h in helps.values())  # bench-memory adds how its processes share them
    assert {name for name, h in helps.items() if h != THREADS_HELP} == {"bench-memory"}
    assert "default: all cores" in THREADS_HELP and "0 and negative numbers are refused" in THREADS_HELP
    for value in ("0", "-2"):
        err = _usage_error(capsys, ["stability", "NaCl", "--threads", value])
        assert f"argument --threads: expected an integer >= 1, got '{value}'" in err


def test_an_element_elemnet_lacks_is_refused_naming_every_element_it_lacks(capsys):
    """'He is not one of ElemNet's 86 elements' left a user to guess which others it lacks: the line
    lists them, from the element tables, those past its last element (Pu) in a few words."""
    from hullpack.elements import ELEMNET_ELEMENTS, ELEMNET_LACKS, OTHER_ELEMENTS, PERIODIC_TABLE

    assert main(["predict", "HeO"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert ("[formula 1] 'HeO': He is not one of ElemNet's 86 elements (no He, Ne, Ar, Po, At, Rn, Fr, Ra, nor any "
            "past Pu)") in err
    named, past = ELEMNET_LACKS.removeprefix("no ").split(", nor any past ")
    z = PERIODIC_TABLE.index
    assert past == ELEMNET_ELEMENTS[-1] and set(OTHER_ELEMENTS) == set(named.split(", ")) | set(PERIODIC_TABLE[z(past) + 1:])


def test_help_names_things_alike_and_rightly():
    """What --help said wrongly or in several words: usage wrote stability's argument "FILE | FORMULA[=ENERGY]
    ... [FILE | FORMULA[=ENERGY] ... ...]"; train's and batches' descriptions name RUN_DIR and SIZES,
    their usage run_dir and sizes; --model took three wordings in predict, explain and screen;
    predict's --column was "(a CSV or Parquet file)", where every table (TSV, JSON) has columns;
    stability's --column applies to a --reference FILE too; --budget-mib gave no unit."""
    from hullpack.cli.common import MODEL_HELP

    commands = build_parser()._subparsers._group_actions[0].choices
    usage = {name: " ".join(sub.format_usage().split()) for name, sub in commands.items()}
    assert usage["stability"].endswith(" FILE|FORMULA[=ENERGY] [FILE|FORMULA[=ENERGY] ...]")
    assert usage["train"].endswith(" [RUN_DIR]") and usage["batches"].endswith(" SIZES")
    helps = {(name, option): action.help for name, sub in commands.items() for action in sub._actions
             for option in action.option_strings}
    assert {helps[name, "--model"].split(";")[0] for name in ("predict", "explain", "screen")} == {MODEL_HELP}
    assert "CSV or Parquet" not in helps["predict", "--column"] and "table" in helps["predict", "--column"]
    assert "--reference FILE" in helps["stability", "--column"]
    assert "in MiB" in helps["bench-memory", "--budget-mib"]
