"""Settings of the memory study that would be ignored are refused, in the Python API as in the CLI, and
the class balance of the edge labels is said whichever field holds them."""
import warnings

import pytest

pytest.importorskip("torch_geometric")
import torch  # noqa: E402
from torch_geometric.data import Data  # noqa: E402

from hullpack.hep import InteractionNetwork, StudyConfig, bench_memory, train  # noqa: E402
from hullpack.hep.study import check_bench_options  # noqa: E402

TINY = StudyConfig(strategies=("random",), batch_size=2, epochs=1, hidden=4, num_steps=1)


def graphs(label=None, n_graphs=10, field="y"):
    """Radius-graph-like graphs of 5..14 nodes, 3 edges per node; ``label``: every edge's label (None: none)."""
    gen = torch.Generator().manual_seed(0)
    out = []
    for n in range(5, 5 + n_graphs):
        g = Data(x=torch.randn(n, 3, generator=gen), edge_index=torch.randint(0, n, (2, 3 * n), generator=gen))
        if label is not None:
            g[field] = torch.full((3 * n,), float(label))
        out.append(g)
    return out


def net():
    return InteractionNetwork(3, 0, hidden=4, num_steps=1)


@pytest.mark.parametrize("given, named", [({"num_events": 50}, "num_events only applies"),
                                          ({"root": "cache"}, "root only applies"),
                                          ({"num_events": 50, "root": "cache"}, "num_events and root only apply")])
def test_bench_memory_refuses_preset_options_without_a_preset(tmp_path, given, named):
    path = tmp_path / "mine.pt"
    torch.save(graphs(), path)
    with pytest.raises(ValueError, match=f"{named} to the synthetic presets .*your datasets \\({path}\\) are used whole"):
        bench_memory([str(path)], TINY, **given)   # was: trained on the file, num_events and root ignored
    check_bench_options(["low", str(path)], num_events=50, root="cache")   # a preset uses them


def test_bench_memory_refuses_world_size_without_distributed():
    with pytest.raises(ValueError, match="world_size sets the processes of distributed=True: add distributed=True, "
                                         "or leave world_size out"):
        bench_memory(["low"], TINY, num_events=4, world_size=4)   # was: ignored, no processes started


def test_num_events_is_recorded_only_where_a_preset_is_generated(tmp_path):
    path = tmp_path / "mine.pt"
    torch.save(graphs(), path)
    assert bench_memory([str(path)], TINY)["config"]["num_events"] is None   # was 300, though nothing was generated
    assert bench_memory(["low"], TINY, num_events=6)["config"]["num_events"] == 6


@pytest.mark.parametrize("field, labels", [("y", "auto"), ("y", "y"), ("edge_label", "edge_label"),
                                           ("edge_label", "auto")])
@pytest.mark.parametrize("value, said", [(1, "all of its 285 training edges are true"),
                                         (0, "none of its 285 training edges is true")])
def test_train_says_the_class_balance_whichever_field_holds_the_labels(field, labels, value, said):
    data = graphs(value, field=field)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(net(), data, [[0, 1], [2, 3]], labels=labels, desc="mine")
    notes = [str(w.message) for w in caught if "training edges" in str(w.message)]
    # named labels gave no warning before; the wording is the one of "auto"
    assert notes == [f"mine: {said}: the edge classifier has no {'false' if value else 'true'} edge to learn from, the "
                     "loss is plain BCE (true-edge weight 1), and its validation precision, recall and AUC say nothing"]


def test_train_says_a_held_weight_for_named_labels_too():
    data = graphs(0, n_graphs=30)
    data[0].y[:1] = 1.0  # 1 true edge of 1,755
    with pytest.warns(UserWarning, match="1 of its 1,755 training edges are true, a false-to-true ratio of 1.75e.03: "
                                         "the true-edge weight is held at 1000"):
        train(net(), data, [[0]], labels="y")


def test_train_with_a_given_weight_or_no_labels_says_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train(net(), graphs(1), [[0]], labels="y", pos_weight=1.0)
        train(net(), graphs(1), [[0]], labels=None)


def test_settings_that_would_be_ignored_or_meaningless_are_refused():
    with pytest.raises(ValueError, match=r"budget_factor = 2 \(--budget-factor\) sets the budget where none is given, "
                                         r"but budget_bytes = 1e\+08 \(--budget-mib\) is: give one of them"):
        StudyConfig(budget_bytes=1e8, budget_factor=2)   # was: the factor silently ignored
    assert StudyConfig(budget_bytes=1e8).budget_bytes == 1e8
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match=f"budget_factor = {bad} must be > 0"):
            StudyConfig(budget_factor=bad)   # was: a budget of 1.1 x the largest graph, without a word
    with pytest.warns(UserWarning, match=r"allocator = True \(--allocator\) .* on cuda the peak already is the GPU "
                                         r"allocator's .*, so it is left out"):
        try:   # was: left out without a word
            StudyConfig(device="cuda", allocator=True)
        except ValueError as exc:   # no GPU here: refused after the warning
            assert "torch finds no CUDA GPU here" in str(exc)


def test_cli_refuses_budget_factor_with_budget_mib(capsys):
    from hullpack.cli import main

    rc = main(["-q", "bench-memory", "--dataset", "low", "--events", "4", "--budget-mib", "100",
               "--budget-factor", "2"])
    assert rc == 2 and "budget_factor = 2.0 (--budget-factor) sets the budget where none is given" in capsys.readouterr().err


def test_a_model_of_other_feature_widths_is_refused_naming_the_widths_to_build():
    qm9_like = Data(x=torch.randint(0, 5, (9, 11)), edge_index=torch.randint(0, 9, (2, 16)))
    with pytest.raises(ValueError, match=r"the graphs have x of shape \(9, 11\), no edge_attr; the model takes 3 node "
                                         r"features and 4 edge features: build it for these graphs, "
                                         r"InteractionNetwork\(node_features=11, edge_features=0, ...\)"):
        InteractionNetwork(hidden=4)(qm9_like)   # was: AttributeError: 'NoneType' object has no attribute 'dtype'
    qm9_like.edge_attr = torch.ones(16, 4)
    with pytest.raises(ValueError, match=r"x of shape \(9, 11\), edge_attr of shape \(16, 4\); the model takes 3 "
                                         r"node features .*InteractionNetwork\(node_features=11, edge_features=4"):
        InteractionNetwork(hidden=4)(qm9_like)   # was: "mat1 and mat2 shapes cannot be multiplied"
    assert InteractionNetwork(11, 4, hidden=4)(qm9_like).shape == (16,)
    assert InteractionNetwork(11, 0, hidden=4)(qm9_like).shape == (16,)   # edge_attr left out by choice


def test_cli_names_its_own_options_in_the_shared_refusal(capsys):
    from hullpack.cli import main

    assert main(["-q", "bench-memory", "--dataset", "mine.pt", "--root", "cache"]) == 2
    err = capsys.readouterr().err
    assert ("--root only applies to the synthetic presets (high, low: --events sets how many events are generated, "
            "--root where they are cached)" in err and err.rstrip().endswith("add --dataset high or --dataset low"))
    assert main(["-q", "bench-memory", "--dataset", "low", "--world-size", "3"]) == 2
    assert "--world-size sets the processes of --distributed: add --distributed" in capsys.readouterr().err


@pytest.mark.parametrize("args, said", [(["--preset", "mid"], "argument --preset: invalid choice: 'mid'"),
                                        (["--events", "-5"], "argument --events: expected an integer >= 1"),
                                        (["--epochs", "0"], "argument --epochs: expected an integer >= 1"),
                                        (["--batch-size", "0"], "argument --batch-size: expected an integer >= 1"),
                                        (["--seed", "-1"], "argument --seed: expected an integer >= 0")])
def test_python_m_hullpack_hep_refuses_bad_options_in_one_line(capsys, args, said):
    from hullpack.hep.train import main

    with pytest.raises(SystemExit) as exit_:  # was: a traceback from deep inside (epochs 0: max() of no steps)
        main(args)
    assert exit_.value.code == 2
    assert said in capsys.readouterr().err


@pytest.mark.parametrize("options, each", [(["--threads", "4"], 2), (["--threads", "3"], 1), ([], 1)])
def test_bench_memory_distributed_processes_share_the_threads_given(monkeypatch, capsys, options, each):
    """--threads reached the study but not --distributed's processes: each ran one thread whatever was given.
    The processes share them now, each running --threads // --world-size, at least 1."""
    import json

    from hullpack.cli import main
    from hullpack.hep import study

    given = {}

    def compare_distributed(dataset, **kwargs):
        given.update(kwargs)
        return {"summary": {}, "steps": {}, "world_size": kwargs["world_size"], "threads": kwargs["threads"],
                "batch_size": kwargs["batch_size"], "memory_model": {}}

    monkeypatch.setattr(study, "compare_distributed", compare_distributed)
    before = torch.get_num_threads()
    try:  # --threads sets torch's process-wide thread count: give the rest of the session its own back
        assert main(["-q", "bench-memory", "--dataset", "low", "--events", "6", "--strategies", "random",
                     "--batch-size", "2", "--epochs", "1", "--hidden", "4", "--num-steps", "1", "--distributed",
                     "--world-size", "2", *options, "--json"]) == 0
    finally:
        torch.set_num_threads(before)
    assert given["threads"] == each and given["world_size"] == 2
    assert json.loads(capsys.readouterr().out)["distributed"]["threads"] == each
