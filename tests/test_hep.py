"""The memory study: event generator, graphs, model, memory meter, study and CLI on tiny inputs."""
import json

import numpy as np
import pytest
import torch

pytest.importorskip("torch_geometric")
from torch_geometric.data import Data

from hullpack.errors import InvalidSizesError, OversizeItemError
from hullpack.hep import CollisionGraphs, EventConfig, PRESETS, build_graph, event_graph, generate_event
from hullpack.hep.memory import MemoryMeter, static_bytes
from hullpack.hep.model import InteractionNetwork
from hullpack.hep.strategies import (RandomBatchSampler, RoundRobinBatchSampler, SortedBatchSampler,
                                     make_batch_sampler)
from hullpack.hep.study import StudyConfig, run_study, to_markdown
from hullpack.hep.train import auc_score, evaluate, train
from hullpack.samplers import BalancedBatchSampler, MemoryModel


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # tiny graphs: a second thread only adds synchronisation, very slow when the cores are busy
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def low():
    return CollisionGraphs(preset="low", num_events=24, seed=3)


def test_generator_is_deterministic_and_independent_of_event_count():
    a = generate_event(PRESETS["high"], seed=5, index=2)
    b = generate_event(PRESETS["high"], seed=5, index=2)
    c = generate_event(PRESETS["high"], seed=6, index=2)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert a["r"].size != c["r"].size or not np.array_equal(a["z"], c["z"])
    small = CollisionGraphs(preset="low", num_events=3, seed=1)
    big = CollisionGraphs(preset="low", num_events=5, seed=1)
    np.testing.assert_array_equal(small.sizes, big.sizes[:3])
    assert torch.equal(small[2].edge_index, big[2].edge_index)


def test_hits_lie_on_the_layers_and_follow_helices():
    cfg = PRESETS["low"]
    hits = generate_event(cfg, seed=0, index=0)
    radii = np.asarray(cfg.radii)
    np.testing.assert_array_equal(hits["r"], radii[hits["layer"]])
    assert np.all(np.abs(hits["z"]) <= np.asarray(cfg.half_lengths)[hits["layer"]] + 5)
    assert np.all(np.diff(hits["layer"]) >= 0)
    # a particle's hits bend consistently: |dphi| between consecutive layers stays within the pT cut
    pid = hits["particle_id"]
    real = pid >= 0
    assert real.sum() > 0.9 * real.size - 5          # noise is a small fraction
    for p in np.unique(pid[real])[:20]:
        phi = np.unwrap(hits["phi"][pid == p])
        assert np.all(np.abs(np.diff(phi)) < 0.2)


def test_true_edges_connect_consecutive_hits_of_one_particle_and_none_is_missed():
    cfg = PRESETS["high"]
    hits = generate_event(cfg, seed=1, index=4)
    ei, truth = build_graph(hits, cfg.radii)
    pid, layer = hits["particle_id"], hits["layer"]
    assert np.all(layer[ei[1]] == layer[ei[0]] + 1)
    assert np.all(pid[ei[0]][truth] == pid[ei[1]][truth]) and np.all(pid[ei[0]][truth] >= 0)
    assert not np.any((pid[ei[0]] == pid[ei[1]])[~truth] & (pid[ei[0]][~truth] >= 0))
    # every pair of a particle's hits on adjacent layers is an edge (the cuts keep all true segments)
    keys = {(int(p), int(l)) for p, l in zip(pid, layer) if p >= 0}
    expected = sum((p, l + 1) in keys for p, l in keys)
    assert int(truth.sum()) == expected > 100
    assert 0 < truth.mean() < 1                      # fakes exist too


def test_presets_span_more_than_ten_times_in_graph_size():
    lo = CollisionGraphs(preset="low", num_events=40, seed=0).sizes
    hi = CollisionGraphs(preset="high", num_events=40, seed=0).sizes
    assert hi[:, 1].mean() > 10 * lo[:, 1].mean()
    assert hi[:, 1].max() > 10 * lo[:, 1].min()
    assert hi[:, 1].max() > 3 * np.median(hi[:, 1])  # heavy tail within the high preset


def test_graph_features_and_cached_sizes(low, tmp_path):
    g = low[0]
    assert g.x.shape == (g.num_nodes, 3) and g.edge_attr.shape == (g.num_edges, 4)
    assert set(g.y.unique().tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(low.sizes, [[d.num_nodes, d.num_edges] for d in low])
    cached = CollisionGraphs(str(tmp_path), preset="low", num_events=24, seed=3)
    again = CollisionGraphs(str(tmp_path), preset="low", num_events=24, seed=3)
    np.testing.assert_array_equal(cached.sizes, low.sizes)
    np.testing.assert_array_equal(again.sizes, low.sizes)
    assert len(list((tmp_path / "processed").glob("events_low_24_3_*.pt"))) == 1
    np.testing.assert_array_equal(low[5:].sizes, low.sizes[5:])


def test_bad_configs_raise():
    with pytest.raises(ValueError, match="unknown preset"):
        CollisionGraphs(preset="medium", num_events=2)
    with pytest.raises(ValueError, match="increasing"):
        EventConfig(radii=(50.0, 30.0), half_lengths=(1, 1), sigma_rphi=(1, 1), sigma_z=(1, 1))
    with pytest.raises(ValueError, match="num_events"):
        CollisionGraphs(preset="low", num_events=0)
    for bad in (-2, 1.5):          # -2 ran no extra seed and said nothing
        with pytest.raises(ValueError, match=f"baseline_repeats = {bad}: give the number of extra"):
            StudyConfig(baseline_repeats=bad)
    assert StudyConfig(baseline_repeats=np.int64(2)).baseline_repeats == 2


def test_cli_refuses_a_negative_baseline_repeats(capsys):
    from hullpack.cli import main

    assert main(["bench-memory", "--baseline-repeats", "-1", "--dataset", "low", "--events", "12"]) != 0
    assert "baseline_repeats = -1: give the number of extra random-baseline seeds, 0 or more" in capsys.readouterr().err


def test_cli_refuses_world_size_without_distributed(capsys):
    from hullpack.cli import main

    assert main(["bench-memory", "--world-size", "4", "--dataset", "low", "--events", "12"]) == 2
    assert ("--world-size sets the processes of --distributed: add --distributed, or leave --world-size out"
            in capsys.readouterr().err)


def test_model_forward_backward_and_learning(low):
    torch.manual_seed(0)
    model = InteractionNetwork(hidden=16, num_steps=2)
    g = low[1]
    logits = model(g)
    assert logits.shape == (g.num_edges,)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    before = evaluate(model, low, batch_size=8)["auc"]
    out = train(model, low, BalancedBatchSampler(low.sizes, batch_size=4, seed=0), epochs=4, lr=5e-3,
                val_dataset=low)
    assert out["val"]["auc"] > max(0.8, before)      # it learns (fits its own training graphs)
    assert len(out["steps"]) == 4 * 6
    assert all(s["peak_bytes"] > s["saved_bytes"] > 0 for s in out["steps"][1:])


def test_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.3
    s = np.round(rng.random(500) + 0.3 * y, 2)       # with ties
    assert auc_score(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert np.isnan(auc_score(np.ones(3), np.arange(3.0)))


def test_memory_meter_counts_a_known_tensor_once():
    meter = MemoryMeter("cpu", fixed_bytes=100)
    w = torch.ones(1000, requires_grad=True)
    big = torch.ones(256, 1000)
    with meter.step() as m:
        h = big * w                                   # saves big (1 MB); w only if big needed a gradient
        (h * h).sum().backward()                      # saves h (1 MB) twice: counted once
    assert m.saved_bytes == 2 * 256 * 1000 * 4
    assert m.peak_bytes == m.saved_bytes + 100
    with MemoryMeter("cpu", allocator=True).step() as a:   # the allocator's own peak during the step
        h = big * w
        (h * h).sum().backward()                      # h, h * h and the gradient of h alive at once
    assert a.saved_bytes == m.saved_bytes and a.alloc_peak_bytes >= 3 * 256 * 1000 * 4
    model = torch.nn.Linear(10, 10)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 10)).sum().backward()
    opt.step()
    assert static_bytes(model, opt) == 4 * 110 * 4  # parameters, gradients, two Adam moments


def test_calibrated_memory_model_predicts_measured_peaks(low):
    from hullpack.hep.memory import calibrate

    torch.manual_seed(0)
    model = InteractionNetwork(hidden=8, num_steps=1)

    def step(batch):
        model.zero_grad()
        model(batch).sum().backward()

    mm = calibrate(step, low, sizes=low.sizes, fixed_bytes=1000, batch_sizes=(1, 2, 4))
    assert isinstance(mm, MemoryModel) and mm.intercept >= 1000
    from torch_geometric.data import Batch

    batch = Batch.from_data_list([low[i] for i in (0, 7, 9)])
    meter = MemoryMeter("cpu", fixed_bytes=1000)
    with meter.step() as m:
        step(batch)
    pred = mm.predict([batch.num_nodes, batch.num_edges], 3)
    assert pred == pytest.approx(m.peak_bytes, rel=0.02)


def test_comparison_samplers_cover_every_item_once():
    costs = np.random.default_rng(0).lognormal(0, 1, 103)
    for cls in (RandomBatchSampler, SortedBatchSampler, RoundRobinBatchSampler):
        s = cls(costs, 10, seed=1)
        batches = list(s)
        assert len(batches) == len(s) == 11
        assert sorted(i for b in batches for i in b) == list(range(103))
        s.set_epoch(1)
        assert list(s) != batches
    rr = RoundRobinBatchSampler(costs, 10).batches()
    top = set(np.argsort(-costs)[:10].tolist())
    assert all(len(top & set(b.tolist())) <= 1 for b in rr)
    sb = SortedBatchSampler(costs, 10).batches()
    top_chunks = np.sort(costs)[-13:-3].sum(), np.sort(costs)[-3:].sum()  # ascending chunks of 10, 3 left
    assert np.isclose(max(costs[b].sum() for b in sb), max(top_chunks))


def test_study_errors():
    with pytest.raises(ValueError, match="unknown strategy 'fastest'"):
        StudyConfig(strategies=("random", "fastest"))
    mm = MemoryModel([100.0, 10.0], 0.0, 1000.0)
    sizes = np.array([[10.0, 20.0], [500.0, 900.0]])
    with pytest.raises(OversizeItemError, match="graph 1 needs"):
        make_batch_sampler("packed", sizes, 1, mm, budget_bytes=20_000)
    with pytest.raises(ValueError, match="unknown strategy"):
        make_batch_sampler("bogus", sizes, 1, mm)

    class NoSizes:                                    # not graphs: no num_nodes / num_edges
        num_nodes = None
        num_edges = None

    with pytest.raises(InvalidSizesError, match="'bad': graph 0 is a NoSizes, not a torch_geometric Data graph"):
        run_study({"bad": [NoSizes() for _ in range(10)]}, StudyConfig(batch_size=2, epochs=1))


def test_study_balanced_cuts_peak_at_equal_steps(low):
    cfg = StudyConfig(strategies=("random", "balanced", "packed"), batch_size=4, epochs=1, hidden=8,
                      num_steps=1, budget_factor=1.3)
    table, details = run_study({"low": low}, cfg)
    t = table.set_index("strategy")
    assert t.loc["random", "steps_per_epoch"] == t.loc["balanced", "steps_per_epoch"] == 5
    assert t.loc["balanced", "peak_mib"] < t.loc["random", "peak_mib"]
    assert t.loc["balanced", "peak_reduction"] > 0
    assert t.loc["packed", "over_budget_steps"] == 0  # packing never exceeds the budget
    assert details["low"]["budget_bytes"] == pytest.approx(t.loc["packed", "budget_mib"] * 2**20)
    # the printed table signs the change of the peak: a lower peak than random's reads negative
    rows = {line.split("|")[2].strip(): line.split("|")[6].strip() for line in to_markdown(table).splitlines()[2:]}
    assert rows["random"] == "+0.0%"
    assert rows["balanced"] == f"{-t.loc['balanced', 'peak_reduction']:+.1%}" and rows["balanced"].startswith("-")


def test_memory_model_reads_in_plain_numbers():
    model = MemoryModel([3275.999999999938, 4624.000000000069], 1.1769660700004615e-10, 653972.0000000016)
    assert repr(model) == "MemoryModel(weights=[3276, 4624], bias=1.176966e-10, intercept=653972)"
    from hullpack.cli.bench_memory import _memory_model_text
    text = _memory_model_text({"memory_model": model.to_dict(), "memory_model_max_rel_error": 0.0123})
    assert text == ("memory model: 3,276 bytes per node + 4,624 bytes per edge + 0 per graph + 653,972 per step "
                    "(largest miss on the probes 1.2%)")


def test_study_on_a_plain_pyg_dataset_without_edge_labels():
    rng = np.random.default_rng(0)
    graphs = []
    for n in rng.integers(5, 40, 20):
        e = int(rng.integers(n, 5 * n))
        graphs.append(Data(x=torch.randn(int(n), 5),
                           edge_index=torch.from_numpy(rng.integers(0, n, (2, e))), y=torch.tensor([1.0])))
    table, _ = run_study({"plain": graphs}, StudyConfig(strategies=("random", "balanced"), batch_size=4,
                                                        epochs=1, hidden=8, num_steps=1))
    assert table["val_auc"].isna().all()             # no per-edge labels: memory and time only
    assert (table["peak_mib"] > 0).all()


def test_cli_bench_memory_tiny(tmp_path, capsys):
    from hullpack.cli import main

    out = tmp_path / "o"
    rc = main(["-q", "bench-memory", "--dataset", "low", "--events", "20", "--epochs", "1", "--hidden", "8",
               "--num-steps", "1", "--batch-size", "4", "--strategies", "random,balanced,packed",
               "--out", str(out), "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert [r["strategy"] for r in res["table"]] == ["random", "balanced", "packed"]
    assert (out / "memory.png").stat().st_size > 1000 and (out / "memory.json").exists()
    rc = main(["-q", "bench-memory", "--dataset", "low", "--events", "20", "--strategies", "random,nope"])
    assert rc == 2 and "unknown strategy 'nope'" in capsys.readouterr().err
    rc = main(["-q", "bench-memory", "--dataset", "low", "--events", "20", "--budget-mib", "0.01",
               "--hidden", "8", "--num-steps", "1"])
    assert rc == 2 and "memory budget" in capsys.readouterr().err


def test_load_dataset_from_file_and_module(tmp_path, monkeypatch):
    from hullpack.hep.study import load_dataset

    graphs = [event_graph("low", 0, i) for i in range(3)]
    path = tmp_path / "g.pt"
    torch.save(graphs, path)
    loaded = load_dataset(str(path))
    assert len(loaded) == 3 and torch.equal(loaded[1].edge_index, graphs[1].edge_index)
    (tmp_path / "mygraphs.py").write_text(
        "from hullpack.hep import CollisionGraphs\n"
        "def make():\n    return CollisionGraphs(preset='low', num_events=4, seed=9)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert len(load_dataset("mygraphs:make")) == 4
    with pytest.raises(ValueError, match="cannot import"):
        load_dataset("mygraphs:nothing")
    with pytest.raises(ValueError, match="does not exist"):
        load_dataset(str(tmp_path / "missing.pt"))


def test_memory_study_doc_examples_run(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[1] / "docs" / "memory-study.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)
    assert len(blocks) == 3
    monkeypatch.chdir(tmp_path)
    ns = [{"__name__": "__doc__"} for _ in blocks]
    for i, block in enumerate(blocks):
        exec(compile(block, f"memory-study.md example {i}", "exec"), ns[i])
    # 0: one event as a graph, and a dataset of 50 with their sizes
    edge_index, truth, ds = ns[0]["edge_index"], ns[0]["truth"], ns[0]["ds"]
    assert edge_index.shape == (2, truth.size) and 0 < truth.mean() < 1
    assert len(ds) == 50 and ds.sizes.shape == (50, 2) and ds.sizes[0].tolist() == [ds[0].num_nodes, ds[0].num_edges]
    # 1: a calibrated memory model and one epoch with the balanced sampler, validated
    out = ns[1]["out"]
    assert len(out["epochs"]) == 1 and len(out["steps"]) == len(ns[1]["sampler"]) == 8   # 32 graphs, batch 4
    assert all(s["peak_bytes"] > 0 for s in out["steps"]) and 0 <= out["val"]["auc"] <= 1
    # 2: the study on the user's own graphs: one row per strategy, the same number of steps
    table = ns[2]["table"]
    assert table["strategy"].tolist() == ["random", "balanced"]
    assert table["steps_per_epoch"].nunique() == 1 and table["peak_reduction"].iloc[0] == 0
    assert table["peak_mib"].iloc[1] < table["peak_mib"].iloc[0]          # balanced below random


def _random_graphs(rng, count, *, x_width=3, deg=3, edge_labels=True, x_dtype=torch.float32):
    graphs = []
    for n in rng.integers(5, 60, count):
        n = int(n)
        g = Data(x=torch.randn(n, x_width).to(x_dtype) if x_dtype.is_floating_point else
                 torch.randint(0, 9, (n, x_width)), edge_index=torch.from_numpy(rng.integers(0, n, (2, deg * n))))
        if edge_labels:
            g.y = torch.from_numpy(rng.integers(0, 2, deg * n)).float()
        graphs.append(g)
    return graphs


def test_load_dataset_reads_pyg_files_and_refuses_the_rest_by_name(tmp_path, monkeypatch):
    from torch_geometric.data import InMemoryDataset

    from hullpack.hep.study import load_dataset

    graphs = _random_graphs(np.random.default_rng(0), 6)
    InMemoryDataset.save(graphs, tmp_path / "processed.pt")           # how a PyG dataset stores itself
    ds = load_dataset(str(tmp_path / "processed.pt"))
    assert isinstance(ds, InMemoryDataset) and len(ds) == 6
    assert torch.equal(ds[4].edge_index, graphs[4].edge_index) and torch.equal(ds[4].y, graphs[4].y)
    torch.save(InMemoryDataset.collate(graphs), tmp_path / "old.pth")  # older PyG: (Data, slices)
    assert torch.equal(load_dataset(str(tmp_path / "old.pth"))[5].x, graphs[5].x)
    refused = {"one.pt": (graphs[0], "is a single graph"), "d.pt": ({"train": graphs}, r"holds a dict \(keys 'train'\): .*torch.save\(d\['train'\], path\)"),
               "t.pt": (torch.randn(10, 3), "holds a Tensor"), "e.pt": ([], "holds no graphs"),
               "mixed.pt": ([graphs[0], torch.ones(3)], "item 1 is a Tensor, not a graph")}
    for name, (obj, message) in refused.items():
        torch.save(obj, tmp_path / name)
        with pytest.raises(ValueError, match=f"'{tmp_path / name}'.*{message}.*list of torch_geometric Data"
                           if name != "one.pt" else message):
            load_dataset(str(tmp_path / name))
    # a dataset class that cannot be imported where the file is read (defined in the saving script)
    (tmp_path / "savedhere.py").write_text(
        "from torch_geometric.data import InMemoryDataset\n"
        "class Mine(InMemoryDataset):\n"
        "    def __init__(self, graphs):\n        super().__init__(None)\n"
        "        self.data, self.slices = self.collate(graphs)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import savedhere

    torch.save(savedhere.Mine(graphs), tmp_path / "mine.pt")
    (tmp_path / "savedhere.py").unlink()
    monkeypatch.delitem(__import__("sys").modules, "savedhere")
    with pytest.raises(ValueError, match="cannot load dataset file .*mine.pt.*save list\\(dataset\\) instead"):
        load_dataset(str(tmp_path / "mine.pt"))


def test_study_on_integer_features_and_refusal_of_flat_ones():
    from hullpack.hep.model import feature_widths

    graphs = _random_graphs(np.random.default_rng(1), 20, x_width=9, x_dtype=torch.int64)   # OGB-like atom types
    cfg = StudyConfig(strategies=("random", "balanced"), batch_size=4, epochs=1, hidden=8, num_steps=1)
    table, _ = run_study({"ints": graphs}, cfg)
    assert (table["peak_mib"] > 0).all() and table["val_auc"].notna().all()
    flat = [Data(x=torch.randn(7), edge_index=torch.zeros(2, 4, dtype=torch.long)) for _ in range(10)]
    with pytest.raises(InvalidSizesError, match=r"x have shape \(7,\).*unsqueeze"):
        run_study({"flat": flat}, cfg)
    with pytest.raises(InvalidSizesError, match="no node features x"):
        feature_widths([Data(edge_index=torch.zeros(2, 4, dtype=torch.long), num_nodes=3)])


def test_training_without_edge_labels_weights_nothing():
    from hullpack.hep.train import pos_weight_of

    rng = np.random.default_rng(2)
    unlabelled = _random_graphs(rng, 8, edge_labels=False)
    node_labelled = [Data(x=g.x, edge_index=g.edge_index, y=torch.randn(g.num_nodes)) for g in unlabelled]
    assert pos_weight_of(unlabelled) == pos_weight_of(node_labelled) == 1.0
    labelled = _random_graphs(rng, 8)
    y = torch.cat([g.y for g in labelled])
    assert pos_weight_of(labelled) == float((y == 0).sum()) / float(y.sum())
    torch.manual_seed(0)
    out = train(InteractionNetwork(3, 0, hidden=8, num_steps=1), unlabelled, [[0, 1, 2, 3], [4, 5, 6, 7]],
                val_dataset=unlabelled)                       # pos_weight not given: read from the labels
    assert len(out["steps"]) == 2 and out["val"]["auc"] is None


def test_cli_bench_memory_says_what_it_measured_and_writes_strict_json(tmp_path, capsys):
    from hullpack.cli import main

    path = tmp_path / "mine.pt"
    torch.save(_random_graphs(np.random.default_rng(3), 30, edge_labels=False), path)
    common = ["-q", "bench-memory", "--dataset", str(path), "--epochs", "1", "--hidden", "8", "--num-steps", "1",
              "--batch-size", "4"]
    # no random baseline: the peak's change against it cannot be computed, and reads null
    assert main(common + ["--strategies", "balanced,packed", "--json", "--out", str(tmp_path / "o")]) == 0

    def strict(text):
        return json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))

    printed = strict(capsys.readouterr().out)
    written = strict((tmp_path / "o" / "memory.json").read_text())
    for res in (printed, written):
        assert [r["peak_reduction"] for r in res["table"]] == [None, None]
        assert [r["val_auc"] for r in res["table"]] == [None, None] and res["versus_random"] == []
        assert "saved for backward" in res["measured"]
    assert main(common + ["--strategies", "random,balanced", "--baseline-repeats", "1", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("peak of a training step, measured on the CPU: the bytes of the tensors saved")
    line = next(x for x in text.splitlines() if x.startswith(f"{path}: balanced batches peak"))
    peaks = {(r["strategy"], r["seed"]): r["peak_mib"] for r in strict((tmp_path / "memory.json").read_text())["table"]}
    cuts = sorted(1 - peaks[("balanced", 0)] / peaks[("random", s)] for s in (0, 1))
    assert f"{cuts[0]:.1%}-{cuts[1]:.1%} below random batching over 2 seeds" in line
    assert line.endswith("at the same 6 steps per epoch.")                  # 24 training graphs, batch 4
    assert "run-to-run spread" not in text          # no validation metrics without edge labels
    assert f"{path}: no edge labels (--edge-labels names the field)" in text


def test_cli_bench_memory_edge_labels_option_picks_or_drops_the_label_field(tmp_path, capsys):
    from hullpack.cli import main

    path = tmp_path / "labelled.pt"
    torch.save(_random_graphs(np.random.default_rng(4), 30), path)      # y: one 0/1 label per edge
    common = ["-q", "bench-memory", "--dataset", str(path), "--epochs", "1", "--hidden", "8", "--num-steps", "1",
              "--batch-size", "4", "--strategies", "balanced", "--json"]
    for flag, field in ((["--edge-labels", "none"], None), (["--edge-labels", "y"], "y"), ([], "y")):
        assert main(common + flag) == 0
        res = json.loads(capsys.readouterr().out)
        assert res["datasets"][str(path)]["edge_labels"] == field
        assert (res["table"][0]["val_auc"] is None) == (field is None)


def test_versus_random_says_above_where_balanced_peaks_higher():
    from hullpack.cli.bench_memory import _versus_random_text

    row = {"dataset": "d", "random_runs": 3, "peak_mib_balanced": 10.0, "peak_mib_random": [9.0, 11.0],
           "steps_per_epoch": 4, "same_steps": True}
    assert "2.0%-5.0% below random batching over 3 seeds" in _versus_random_text(
        row | {"reduction_min": 0.02, "reduction_max": 0.05})
    assert "5.0%-11.1% above random batching" in _versus_random_text(
        row | {"reduction_min": -0.111, "reduction_max": -0.05})
    assert "from 11.1% above to 9.1% below random batching" in _versus_random_text(
        row | {"reduction_min": -0.111, "reduction_max": 0.091})
    one = _versus_random_text(row | {"random_runs": 1, "reduction_min": -0.05, "reduction_max": -0.05})
    assert "5.0% above random batching" in one and "-5.0%" not in one


@pytest.mark.parametrize("flag, value", [("--budget-mib", "0"), ("--budget-mib", "-5"), ("--budget-factor", "0"),
                                         ("--batch-size", "0")])
def test_cli_bench_memory_refuses_budgets_and_sizes_that_are_not_positive(flag, value, capsys):
    from hullpack.cli import main

    with pytest.raises(SystemExit) as stop:             # refused before anything is generated or trained
        main(["-q", "bench-memory", "--dataset", "low", "--events", "4", f"{flag}={value}"])
    assert stop.value.code == 2 and f"argument {flag}: expected " in capsys.readouterr().err


def test_study_refuses_a_device_it_cannot_use():
    with pytest.raises(ValueError, match="'gpu' is not a torch device; give cpu or cuda"):
        StudyConfig(device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="'cuda': torch finds no CUDA GPU here.*run on the CPU"):
            StudyConfig(device="cuda")


def test_a_dataset_given_twice_is_studied_once_and_said_so(tmp_path, capsys, monkeypatch):
    from hullpack.cli import main
    from hullpack.hep.study import bench_memory

    torch.save([event_graph("low", 0, i) for i in range(12)], tmp_path / "g.pt")
    monkeypatch.chdir(tmp_path)
    rc = main(["-q", "bench-memory", "--dataset", "g.pt", "--dataset", "./g.pt", "--dataset", "g.pt",
               "--epochs", "1", "--hidden", "8", "--num-steps", "1", "--batch-size", "4",
               "--strategies", "random", "--json"])
    out = capsys.readouterr()
    assert rc == 0 and [r["dataset"] for r in json.loads(out.out)["table"]] == ["g.pt"]
    assert "note: --dataset ./g.pt is g.pt again (the same file): studied once" in out.err
    assert "note: --dataset g.pt is g.pt again: studied once" in out.err
    with pytest.raises(ValueError, match="dataset 'low' is 'low' again: give each dataset once"):
        bench_memory(["low", "high", "low"], StudyConfig(strategies=("random",)), num_events=5)
    # a folder of graph files by two paths: studied once too (was studied twice)
    (tmp_path / "graphs").mkdir()
    for i in range(12):
        torch.save(event_graph("low", 0, i), tmp_path / "graphs" / f"{i}.pt")
    rc = main(["-q", "bench-memory", "--dataset", "graphs", "--dataset", "./graphs/",
               "--epochs", "1", "--hidden", "8", "--num-steps", "1", "--batch-size", "4",
               "--strategies", "random", "--json"])
    out = capsys.readouterr()
    assert rc == 0 and [r["dataset"] for r in json.loads(out.out)["table"]] == ["graphs"]
    assert "note: --dataset ./graphs/ is graphs again (the same folder): studied once" in out.err
    with pytest.raises(ValueError, match=r"dataset './graphs' is 'graphs' again \(the same folder\): give each"):
        bench_memory(["graphs", "./graphs"], StudyConfig(strategies=("random",)))


def test_the_allocator_figure_counts_parameters_gradients_and_optimizer_state(low):
    from hullpack.hep.study import measured

    torch.manual_seed(0)
    model = InteractionNetwork(hidden=256, num_steps=2)       # parameters outweigh the smallest graphs' activations
    smallest = [[int(i)] for i in np.argsort(low.sizes[:, 1])[:3]]
    out = train(model, low, smallest, epochs=1, allocator=True)
    fixed = out["steps"][-1]["peak_bytes"] - out["steps"][-1]["saved_bytes"]   # parameters, gradients, AdamW
    assert fixed > 2e7       # the allocator's peak above the step's start alone was under 1e6 here
    for s in out["steps"][1:]:   # after backward, parameters, gradients and both moments are all allocated
        assert s["alloc_peak_bytes"] >= fixed
    assert "parameters, the last step's gradients and AdamW state included" in measured("cpu", allocator=True)


def test_torchrun_entry_point_holds_out_the_studys_random_split(monkeypatch, capsys):
    # hep.train.main validates on the graphs run_study would hold out (drawn by seed), not the first 20%
    import importlib

    from hullpack.hep.study import split_indices

    hep_train = importlib.import_module("hullpack.hep.train")  # the module, not hullpack.hep's train function
    seen = {}

    def fake_train(model, train_set, sampler, *, val_dataset, **kw):
        seen.update(train=train_set, val=val_dataset, sizes=np.asarray(sampler.sizes))
        return {"steps": [{"peak_bytes": 1}], "epochs": [], "val": {}}

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setattr(hep_train, "train", fake_train)
    assert hep_train.main(["--events", "10", "--seed", "3", "--batch-size", "2"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    val_index, train_index = split_indices(10, 2, seed=3)
    assert out["val_indices"] == val_index.tolist() != [0, 1] and out["split"] == "random, seed 3"
    full = CollisionGraphs(preset="low", num_events=10, seed=3)
    assert [g.num_nodes for g in seen["val"]] == [full[int(i)].num_nodes for i in val_index]
    assert [g.num_nodes for g in seen["train"]] == [full[int(i)].num_nodes for i in train_index]
    np.testing.assert_array_equal(seen["sizes"], full.sizes[train_index])


def test_the_cpu_peak_column_is_what_its_description_says(low):
    # the peak column is the saved tensors plus 4x the parameters' bytes; beyond what a GPU holds at
    # the end of the forward pass it counts the gradients (freed by then) and the weights the layers
    # save for backward (the parameters again): both fixed, about 2x the parameters' bytes
    from hullpack.hep.study import measured
    from hullpack.hep.train import loss_of
    from hullpack.samplers.cost import SavedTensorBytes
    from torch_geometric.loader import DataLoader

    torch.manual_seed(0)
    model = InteractionNetwork(hidden=32, num_steps=3)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    out = train(model, low, [[0, 1, 2], [3, 4, 5]], epochs=1)
    for s in out["steps"]:
        assert s["peak_bytes"] - s["saved_bytes"] == 4 * params     # parameters, gradients, two AdamW moments
    storages = {p.untyped_storage().data_ptr() for p in model.parameters()}
    with SavedTensorBytes() as saved:
        loss_of(model, next(iter(DataLoader(low, batch_size=3))), 1.0).backward()
    weights = sum(b for ptr, b in saved._saved.items() if ptr in storages)
    assert 0.9 * params < weights <= params                          # nearly every weight is saved, once
    text = measured("cpu")
    assert "plus the gradients" in text and "the parameters again" in text and "2x the parameters' bytes" in text


def test_the_distributed_table_writes_peaks_as_the_study_table_does():
    from hullpack.hep.study import distributed_markdown

    row = {"steps": 3, "mean_cost_spread": 0.1, "max_cost_ratio": 1.2, "compute_s": 1.0, "wait_s": 0.1,
           "wait_fraction": 0.09}
    text = distributed_markdown({"summary": {"DistributedSampler": row | {"peak_cost_mib": 0.1364},
                                             "DistributedBalancedBatchSampler": row | {"peak_cost_mib": 187.452}}})
    assert "| DistributedSampler | 3 | 0.136 |" in text                  # was 0.14
    assert "| DistributedBalancedBatchSampler | 3 | 187.45 |" in text


def test_the_spread_of_the_random_runs_lists_the_datasets_in_the_studys_order():
    import pandas as pd

    from hullpack.hep.study import noise

    rows = [{"dataset": d, "strategy": "random", "val_precision": p, "val_recall": 0.5, "val_auc": 0.9}
            for d in ("low", "high") for p in (0.8, 0.9)]
    assert list(noise(pd.DataFrame(rows))) == ["low", "high"]                 # was high first, alphabetically
