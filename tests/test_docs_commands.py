"""The shell commands that README.md and docs/*.md show parse with the command line's own parser.

The Python examples of the docs run in test_readme.py and test_*_docs.py; the ``bash`` blocks and
the commands quoted in the text are checked here: every ``hullpack ...`` line of a bash block
parses as written, every ``--option`` of a quoted ``hullpack COMMAND ...`` exists for that
command, and every ``--option`` the docs name anywhere belongs to hullpack, to a script of
benchmarks/ or to one of the outside tools the docs quote. Nothing is run.
"""
import argparse
import re
import shlex
from pathlib import Path

import pytest

from hullpack.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]

#: options of other tools that the docs quote (pip, torchrun, git, cibuildwheel, nvcc, the mutation
#: tester of CONTRIBUTING.md, optimade-python-tools' client)
OUTSIDE = {"--no-deps", "--no-build-isolation", "--index-url", "--upgrade", "--config-settings", "--sdist",
           "--nproc_per_node", "--nproc-per-node", "--short", "--platform", "--print-build-identifiers", "--fmad",
           "--config", "--surviving-only", "--show-diff", "--filter", "--output-file", "--max-results-per-provider", "--count"}


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def bash_lines(path: Path):
    """(line number, command) of every command of the file's bash blocks, continuations joined and
    comments removed."""
    inside, pending, start = False, "", 0
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.startswith("```"):
            inside = line.strip() == "```bash"
            continue
        if not inside:
            continue
        command = re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if not pending:
            start = number
        if command.endswith("\\"):
            pending += command[:-1] + " "
            continue
        command, pending = (pending + command).strip(), ""
        if command:
            yield start, command


def hullpack_argv(words: list[str]) -> list[str] | None:
    """The arguments after ``hullpack`` (or ``-m hullpack``), None where the line runs no subcommand."""
    if "hullpack" not in words:
        return None
    return words[words.index("hullpack") + 1:]


BASH = [(f"{path.name}:{number}", command) for path in DOCS for number, command in bash_lines(path)
        if hullpack_argv(shlex.split(command))]
QUOTED = [(f"{path.name}:{number}", span) for path in DOCS
          for number, line in enumerate(path.read_text().splitlines(), 1)
          for span in re.findall(r"`(hullpack [a-z][a-z-]*(?: [^`]*)?)`", line)]


def test_the_docs_show_commands():
    assert len(BASH) >= 30 and len(QUOTED) >= 30   # the extraction finds them
    assert {argv[0] for _, command in BASH for argv in [hullpack_argv(shlex.split(command))]} >= {
        "screen", "stability", "explain", "bench-memory"}


@pytest.mark.parametrize("where,command", BASH, ids=[where for where, _ in BASH])
def test_bash_command_parses(where, command, capsys):
    argv = hullpack_argv(shlex.split(command))
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `{command}` does not parse: {capsys.readouterr().err.strip()}")
    assert args.command == argv[0]


@pytest.mark.parametrize("where,span", QUOTED, ids=[where for where, _ in QUOTED])
def test_quoted_command_options_exist(where, span):
    words = span.replace("...", "").split()
    commands = subparsers()
    assert words[1] in commands, f"{where}: `{span}` names no hullpack command ({', '.join(commands)})"
    known = set(commands[words[1]]._option_string_actions)
    unknown = [w.split("=")[0] for w in words[2:] if w.startswith("--") and w.split("=")[0] not in known]
    assert not unknown, f"{where}: `{span}`: hullpack {words[1]} has no option {', '.join(unknown)}"


def test_every_option_named_exists():
    known = set(OUTSIDE)
    for parser in [build_parser(), *subparsers().values()]:
        known |= set(parser._option_string_actions)
    for script in [*(ROOT / "benchmarks").glob("*.py"), ROOT / "python/hullpack/hep/train.py"]:
        known |= set(re.findall(r"add_argument\(\s*\"(--[a-z0-9-]+)\"", script.read_text()))
    named = {(option, path.name) for path in DOCS
             for option in re.findall(r"(?<![\w-])(--[a-z][a-z0-9_-]*)", path.read_text())}
    unknown = sorted(f"{option} ({name})" for option, name in named if option not in known)
    assert not unknown, f"options that no parser has: {', '.join(unknown)}"


def test_a_wrong_option_is_caught():
    """The checks above can fail: an option hullpack lacks is named."""
    with pytest.raises(AssertionError, match="has no option --no-such-flag"):
        test_quoted_command_options_exist("x", "hullpack screen --no-such-flag 3")


def test_a_command_that_does_not_parse_is_caught(capsys):
    with pytest.raises(pytest.fail.Exception, match=r"does not parse: (?s:.*)unrecognized arguments: --ordr"):
        test_bash_command_parses("x", "hullpack screen --ordr 3", capsys)


def test_mutation_line_filter_covers_the_function_it_names():
    """CONTRIBUTING.md's cosmic-ray configuration names _row's lines by number: they must still be
    the function's, from its def to its last line."""
    text = (ROOT / "CONTRIBUTING.md").read_text()
    path, first, last = re.search(r'lines = \{ "([^"]+)" = \["(\d+)-(\d+)"\] \}', text).groups()
    lines = (ROOT / path).read_text().splitlines()
    first, last = int(first), int(last)
    assert lines[first - 1].startswith("def _row("), f"line {first} of {path} is {lines[first - 1]!r}"
    body_end = next(i for i in range(first, len(lines)) if lines[i] and not lines[i][0].isspace())
    body = [i for i in range(first, body_end) if lines[i].strip()]
    assert last == body[-1] + 1, f"_row ends at line {body[-1] + 1} of {path}, not {last}"


def test_batches_output_in_samplers_md(tmp_path, capsys):
    """docs/samplers.md shows what `hullpack batches sizes.csv --batch-size 32` prints for 2,000
    lognormal node counts with five edges a node and an id column: the same, line for line."""
    import numpy as np
    import pandas as pd

    from hullpack.cli import main

    nodes = np.random.default_rng(0).lognormal(3, 0.8, 2000).astype(int) + 1
    pd.DataFrame({"id": [f"g{i}" for i in range(2000)], "num_nodes": nodes, "num_edges": 5 * nodes}).to_csv(
        tmp_path / "sizes.csv", index=False)
    assert main(["batches", str(tmp_path / "sizes.csv"), "--batch-size", "32"]) == 0
    out, err = capsys.readouterr()
    assert "left out the column(s) 'id'" in err
    text = (ROOT / "docs" / "samplers.md").read_text()
    shown = re.search(r"prints, after a note that `id` was left out:\n\n```text\n(.*?)```", text, flags=re.S).group(1)
    assert out == shown
