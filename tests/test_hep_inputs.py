"""The memory study on users' own graphs: every graph is checked before training and the bad one
named, the edge labels are told apart from node and graph labels, and unusual but valid graphs
(no edges, labels as a column) train."""
import os

import numpy as np
import pytest
import torch

pytest.importorskip("torch_geometric")
from torch_geometric.data import Data, HeteroData, InMemoryDataset

from hullpack.errors import InvalidSizesError
from hullpack.hep.checks import check_graphs
from hullpack.hep.model import InteractionNetwork
from hullpack.hep.study import StudyConfig, run_study
from hullpack.hep.train import evaluate, loss_of, pos_weight_of, train
from test_hep import one_thread  # noqa: F401  (autouse: tiny graphs train on one thread)

TINY = dict(strategies=("random", "balanced"), batch_size=4, epochs=1, hidden=8, num_steps=1)


def _graphs(count=16, *, seed=0, deg=3, edge_attr=0, edges=None):
    rng = np.random.default_rng(seed)
    out = []
    for i, n in enumerate(rng.integers(5, 30, count).tolist()):
        e = deg * n if edges is None else edges(i, n)
        g = Data(x=torch.randn(n, 3), edge_index=torch.from_numpy(rng.integers(0, n, (2, e))),
                 y=torch.from_numpy(rng.integers(0, 2, e)).float())
        if edge_attr:
            g.edge_attr = torch.randn(e, edge_attr)
        out.append(g)
    return out


class TorchDataset(torch.utils.data.Dataset):
    """A plain torch Dataset subclass, as users write around their own files."""

    def __init__(self, graphs):
        self.graphs = graphs

    def __len__(self):
        return len(self.graphs)

    def __getitem__(self, i):
        return self.graphs[i]


class Lazy:
    """A sequence that builds each graph when asked (as a reader of files on disk does)."""

    def __init__(self, graphs):
        self.make = [lambda g=g: g.clone() for g in graphs]

    def __len__(self):
        return len(self.make)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.make[i]()


class Stored(InMemoryDataset):
    def __init__(self, graphs):
        super().__init__(None)
        self.data, self.slices = self.collate(graphs)


def _out_of_range(g):
    g.edge_index[1, 2] = g.num_nodes            # points into the next graph's nodes once batched


def _nan(g):
    g.x[1, 0] = float("nan")


def _multiclass(g):
    g.y[0] = 2.0


def _flat(g):
    g.x = g.x[:, 0]


def _wider(g):
    g.x = torch.randn(g.num_nodes, 5)


def _no_edge_attr(g):
    del g.edge_attr


def _attr_per_node(g):
    g.edge_attr = torch.randn(g.num_nodes, 2)


DEFECTS = {  # defect: (change to graph 11, what the message says); the first three collate
    "out_of_range": (_out_of_range, r"edge_index refers to node \d+, but the graph has nodes 0\.\.\d+"),
    "nan": (_nan, "node features x hold NaN"),
    "multiclass": (_multiclass, "edge labels y hold 2.0.*binary edge classifier"),
    "flat": (_flat, r"node features x have shape \(\d+,\).*unsqueeze"),
    "wider": (_wider, "5 features per node in x, graph 0 has 3 features per node in x"),
    "no_edge_attr": (_no_edge_attr, "no edge_attr, graph 0 has 2 features per edge in edge_attr"),
    "attr_per_node": (_attr_per_node, r"edge_attr has shape \(\d+, 2\), expected \(\d+, features\)"),
}


@pytest.mark.parametrize("container, defect", [(c, d) for c in ("list", "torch", "lazy", "stored") for d in DEFECTS
                                                if c != "stored" or d in ("out_of_range", "nan", "multiclass")])
def test_every_graph_is_checked_and_the_bad_one_named(container, defect):
    change, message = DEFECTS[defect]         # (one store cannot hold graphs of different shapes)
    graphs = _graphs(edge_attr=2)
    change(graphs[11])
    dataset = {"list": list, "torch": TorchDataset, "lazy": Lazy, "stored": Stored}[container](graphs)
    with pytest.raises(InvalidSizesError, match=f"'mine': graph 11[: ].*{message}"):
        check_graphs(dataset, "mine")
    # the study refuses it before any training (it used to fail in a batch, or train on it)
    with pytest.raises(InvalidSizesError, match=f"'mine': graph 11"):
        run_study({"mine": dataset}, StudyConfig(**TINY))


def test_items_that_are_not_graphs_are_named_wherever_they_are():
    graphs = _graphs()
    graphs[9] = (graphs[9].x, graphs[9].edge_index)          # a tuple, as a custom Dataset might return
    with pytest.raises(InvalidSizesError, match="'d': graph 9 is a tuple, not a torch_geometric Data graph"):
        run_study({"d": TorchDataset(graphs)}, StudyConfig(**TINY))
    hetero = HeteroData()
    hetero["hit"].x = torch.randn(4, 3)
    graphs[9] = hetero
    with pytest.raises(InvalidSizesError, match="graph 9 is a HeteroData.*to_homogeneous"):
        check_graphs(Lazy(graphs), "d")
    cloud = [Data(pos=torch.randn(5, 3), edge_index=torch.zeros(2, 0, dtype=torch.long)) for _ in range(3)]
    with pytest.raises(InvalidSizesError, match=r"'d': graph 0 has no node features x.*data.x = data.pos"):
        check_graphs(cloud, "d")                              # a point cloud: positions, no features
    with pytest.raises(InvalidSizesError, match="'empty' holds no graphs"):
        check_graphs([], "empty")


def _rings(count=16, seed=0):
    """Cycles: as many edges as nodes in every graph, with one 0/1 label per node."""
    rng = np.random.default_rng(seed)
    out = []
    for n in rng.integers(5, 30, count).tolist():
        src = torch.arange(n)
        out.append(Data(x=torch.randn(n, 3), edge_index=torch.stack([src, (src + 1) % n]),
                        y=torch.from_numpy(rng.integers(0, 2, n)).float()))
    return out


def test_node_labels_are_not_read_as_edge_labels():
    # every graph has as many nodes as edges: y could be either, so the study asks
    rings = _rings()
    with pytest.raises(InvalidSizesError, match="'rings': y has as many entries as edges and as nodes.*"
                                                "data.edge_label.*edge_labels=None"):
        run_study({"rings": rings}, StudyConfig(**TINY))
    with pytest.raises(InvalidSizesError, match="as many entries as edges and as nodes"):
        pos_weight_of(rings)                          # was 0.85: node labels weighted as edge labels
    table, details = run_study({"rings": rings}, StudyConfig(**TINY, edge_labels=None))
    assert details["rings"]["edge_labels"] is None and table["val_auc"].isna().all()
    table, details = run_study({"rings": rings}, StudyConfig(**TINY, edge_labels="y"))
    assert details["rings"]["edge_labels"] == "y" and table["val_auc"].notna().all()
    # node labels, where a few graphs happen to have as many edges as nodes: node labels throughout
    nodes = _graphs(edges=lambda i, n: n if i % 4 == 0 else 2 * n)
    for g in nodes:
        g.y = torch.randint(0, 2, (g.num_nodes,)).float()
    assert check_graphs(nodes).edge_labels is None and pos_weight_of(nodes) == 1.0
    table, details = run_study({"nodes": nodes}, StudyConfig(**TINY))
    assert details["nodes"]["edge_labels"] is None and table["val_auc"].isna().all()
    # a label per graph on graphs of one edge each: ambiguous too
    pairs = [Data(x=torch.randn(2, 3), edge_index=torch.tensor([[0], [1]]), y=torch.tensor([1.0]))
             for _ in range(10)]
    with pytest.raises(InvalidSizesError, match="as many entries as edges and as nodes \\(or one per graph\\)"):
        check_graphs(pairs)


def test_edge_labels_must_label_the_edges_of_every_graph():
    graphs = _graphs()
    graphs[7].y = torch.randint(0, 2, (graphs[7].num_nodes,)).float()     # one graph labelled by node
    with pytest.raises(InvalidSizesError, match=r"'g': graph 0 has one y per edge, graph 7 has y of shape "
                                                r"\(\d+,\) with \d+ nodes and \d+ edges"):
        check_graphs(graphs, "g")
    del graphs[7].y
    with pytest.raises(InvalidSizesError, match="'g': graph 7 has no y, graph 0 has one per edge"):
        check_graphs(graphs, "g")
    with pytest.raises(InvalidSizesError, match=r"'g': graph 7 has no field y for the edge labels \(its fields: "
                                                r"edge_index, x\)"):
        check_graphs(graphs, "g", edge_labels="y")


def test_edge_labels_by_name_and_as_a_column():
    # edge_label names per-edge labels whatever the counts; y per node beside them is left alone
    rings = _rings()
    for g in rings:
        g.edge_label = torch.randint(0, 2, (g.num_edges,))
    assert check_graphs(rings).edge_labels == "edge_label"
    table, details = run_study({"named": rings}, StudyConfig(**TINY))
    assert details["named"]["edge_labels"] == "edge_label" and table["val_auc"].notna().all()
    # labels as a column (num_edges, 1), as a regression-style export writes them: used, not refused
    column = _graphs()
    for g in column:
        g.y = g.y.unsqueeze(-1)
    y = torch.cat([g.y for g in column[3:]]).flatten()
    assert pos_weight_of(column[3:]) == pytest.approx(float((y == 0).sum() / y.sum()))
    table, _ = run_study({"column": column}, StudyConfig(**TINY))
    assert table["val_auc"].notna().all()


def test_a_batch_whose_labels_do_not_match_its_edges_is_refused():
    g = _graphs(1)[0]
    g.y = g.y[:-1]
    model = InteractionNetwork(3, 0, hidden=8, num_steps=1)
    with pytest.raises(ValueError, match=r"batch's y has shape \(\d+,\), not one label per edge"):
        loss_of(model, g, 1.0)
    assert torch.isfinite(loss_of(model, g, 1.0, labels=None))


def test_graphs_without_edges_train_with_finite_losses():
    # a third of the graphs have no edges; batches of two meet batches without a single edge
    graphs = _graphs(24, edges=lambda i, n: 0 if i % 3 == 0 else 3 * n)
    torch.manual_seed(0)
    model = InteractionNetwork(3, 0, hidden=8, num_steps=1)
    empty = [[0, 3], [6, 9]]
    out = train(model, graphs, empty + [[1, 2], [4, 5]], epochs=2, val_dataset=graphs[12:])
    assert [s["loss"] is None for s in out["steps"][:4]] == [True, True, False, False]
    assert all(np.isfinite(e["loss"]) for e in out["epochs"]) and [e["steps"] for e in out["epochs"]] == [4, 4]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert 0 <= out["val"]["auc"] <= 1
    assert evaluate(model, [graphs[0], graphs[3]])["auc"] is None      # nothing to score
    table, details = run_study({"sparse": graphs}, StudyConfig(**{**TINY, "batch_size": 2}))
    assert table["train_loss"].notna().all()
    model_ = details["sparse"]["memory_model"]
    assert details["sparse"]["memory_model_max_rel_error"] < 1e-6 and model_["bias"] == pytest.approx(0, abs=1e-3)


def test_too_few_or_equal_graphs_say_what_to_change():
    with pytest.raises(ValueError, match=r"'one': 1 graph, 1 held out for validation \(val_fraction = 0.2\), leave 0 "
                                         "to train on, fewer than batch_size = 4: give more graphs"):
        run_study({"one": _graphs(1)}, StudyConfig(**TINY))
    same = _graphs(12, edges=lambda i, n: 30)
    for g in same:
        g.x = g.x[:1].repeat(10, 1)
        g.edge_index = g.edge_index % 10
    with pytest.raises(ValueError, match=r"every graph has the same size \(10, 30\).*graphs of different sizes"):
        run_study({"same": same}, StudyConfig(**TINY))


class OneFilePerEvent(TorchDataset):
    """A reader that takes one integer index (as most do): dataset[2:5] is not a graph list."""

    def __getitem__(self, i):
        return self.graphs[int(i)].clone()          # int(slice) raises TypeError


def test_a_dataset_that_takes_only_integer_indices_is_split_without_slicing():
    graphs = _graphs(20)
    table, details = run_study({"files": OneFilePerEvent(graphs)}, StudyConfig(**TINY))
    assert details["files"]["num_val"] == 4 and table["steps_per_epoch"].tolist() == [4, 4]
    assert table["val_auc"].notna().all()
    same, _ = run_study({"list": graphs}, StudyConfig(**TINY))   # the same graphs as a list: the same run
    assert table["peak_mib"].tolist() == same["peak_mib"].tolist()
    assert table["val_auc"].tolist() == pytest.approx(same["val_auc"].tolist())


def test_the_check_reads_the_sizes_on_the_way():
    class Counting(Lazy):
        reads = 0

        def __getitem__(self, i):
            Counting.reads += 1
            return super().__getitem__(i)

    graphs = _graphs(10, edges=lambda i, n: 0 if i == 4 else 2 * n + i)
    fields = check_graphs(Counting(graphs))
    assert Counting.reads == 10                       # one pass over a dataset that reads from disk
    assert fields.sizes.tolist() == [[g.num_nodes, g.num_edges] for g in graphs] and fields.sizes.dtype == np.float64


def test_a_graph_too_large_for_the_budget_is_named_by_its_index_in_the_dataset():
    graphs = _graphs(20)
    graphs[15] = _graphs(1, edges=lambda i, n: 1200)[0]
    graphs[15].x = torch.randn(400, 3)
    graphs[15].edge_index = graphs[15].edge_index * 10       # still within its 400 nodes
    # 4 graphs held out for validation: graph 15 is the 12th training graph, but graph 15 of the dataset
    with pytest.raises(ValueError, match=r"below what graph 15 needs on its own \(.*400 nodes, 1200 edges\)"):
        run_study({"b": graphs}, StudyConfig(**{**TINY, "strategies": ("random", "packed")}, budget_bytes=200_000))


def test_a_dataset_folder_is_answered_with_the_file_to_give(tmp_path):
    from hullpack.hep.study import load_dataset

    InMemoryDataset.save(_graphs(4), tmp_path / "processed.pt")
    (tmp_path / "mydata" / "processed").mkdir(parents=True)
    (tmp_path / "processed.pt").rename(tmp_path / "mydata" / "processed" / "data.pt")
    torch.save("None", tmp_path / "mydata" / "processed" / "pre_filter.pt")      # as PyG writes beside it
    with pytest.raises(ValueError, match=f"'{tmp_path / 'mydata'}' is a folder; give the file that holds the graphs, "
                                         f"e.g. {tmp_path / 'mydata' / 'processed' / 'data.pt'}$"):
        load_dataset(str(tmp_path / "mydata"))
    assert len(load_dataset(str(tmp_path / "mydata" / "processed" / "data.pt"))) == 4
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="'.*empty' is a folder; give the file that holds the graphs \\(no .pt file"):
        load_dataset(str(tmp_path / "empty"))


def test_float64_features_from_numpy_train_as_float32():
    rng = np.random.default_rng(5)
    doubles = []
    for n in rng.integers(5, 40, 20).tolist():
        e = 3 * n
        doubles.append(Data(x=torch.from_numpy(rng.normal(size=(n, 3))),            # numpy's float64
                            edge_index=torch.from_numpy(rng.integers(0, n, (2, e))),
                            edge_attr=torch.from_numpy(rng.normal(size=(e, 2))), y=torch.from_numpy(rng.integers(0, 2, e))))
    singles = [Data(x=g.x.float(), edge_index=g.edge_index, edge_attr=g.edge_attr.float(), y=g.y) for g in doubles]
    table, _ = run_study({"f64": doubles}, StudyConfig(**TINY))              # stopped in the first Linear layer
    same, _ = run_study({"f32": singles}, StudyConfig(**TINY))
    assert table["peak_mib"].tolist() == same["peak_mib"].tolist()          # what a GPU holds: float32 activations
    assert table["val_auc"].tolist() == pytest.approx(same["val_auc"].tolist(), abs=1e-6)


@pytest.mark.parametrize("change, hint", [
    (lambda g: setattr(g, "edge_index", g.edge_index.t()), r"\(\d+, 2\) torch.int64.*edge_index.t\(\).contiguous\(\)"),
    (lambda g: setattr(g, "edge_index", g.edge_index.double()), r"\(2, \d+\) torch.float64.*edge_index.long\(\)"),
    (lambda g: setattr(g, "edge_index", g.edge_index[0]), r"\(\d+,\) torch.int64.*torch.zeros\(2, 0"),
])
def test_an_edge_index_of_the_wrong_shape_or_type_is_answered_with_its_fix(change, hint):
    graphs = _graphs(6)
    change(graphs[4])
    with pytest.raises(InvalidSizesError, match=f"'g': graph 4: edge_index is {hint}"):
        check_graphs(graphs, "g")


def test_graphs_turned_into_sparse_adjacencies_are_asked_to_keep_edge_index():
    import torch_geometric.transforms as T

    graphs = _graphs(6)
    graphs[2] = T.ToSparseTensor()(graphs[2])
    with pytest.raises(InvalidSizesError, match="'g': graph 2: edge_index is NoneType.*adj_t \\(ToSparseTensor\\)"):
        check_graphs(graphs, "g")


def test_calibration_probes_no_more_graphs_at_a_time_than_a_training_batch(monkeypatch):
    import hullpack.hep.study as study

    seen = []

    def counting_loss(model, batch, *args):
        seen.append(int(batch.num_graphs))
        return loss_of(model, batch, *args)

    monkeypatch.setattr(study, "loss_of", counting_loss)      # the study's calibration step, not training
    table, details = run_study({"g": _graphs(30)}, StudyConfig(**{**TINY, "batch_size": 2}))
    assert seen and max(seen) == 2                           # was 16: the 16 largest graphs at once
    assert details["g"]["memory_model_max_rel_error"] < 1e-6


def test_one_hot_edge_labels_are_read_as_the_class_index_or_refused_by_row():
    graphs = _graphs()
    flat = [g.y.clone() for g in graphs]
    for g in graphs:
        g.y = torch.nn.functional.one_hot(g.y.long(), 2).float()   # [1, 0] false, [0, 1] true
    fields = check_graphs(graphs)
    assert fields.edge_labels == "y" and fields.one_hot                  # was None: no labels, no word
    y = torch.cat(flat[3:])
    assert pos_weight_of(graphs[3:]) == pytest.approx(float((y == 0).sum() / y.sum()))
    table, details = run_study({"onehot": graphs}, StudyConfig(**TINY))
    assert details["onehot"]["edge_labels_one_hot"] and table["val_auc"].notna().all()
    # the same graphs with flat labels give the same study
    plain = [Data(x=g.x, edge_index=g.edge_index, y=f) for g, f in zip(graphs, flat)]
    table2, _ = run_study({"onehot": plain}, StudyConfig(**TINY))
    assert table2["val_auc"].tolist() == table["val_auc"].tolist()
    # stored as edge_label: read too
    for g in graphs:
        g.edge_label = g.y
        del g.y
    assert check_graphs(graphs).edge_labels == "edge_label"
    # rows that are not one-hot, soft labels, more classes: refused, naming graph, row and what to store
    graphs[5].edge_label[2] = torch.tensor([1.0, 1.0])
    with pytest.raises(InvalidSizesError, match=r"'g': graph 5: edge labels edge_label have shape \(\d+, 2\), "
                                                r"read as one-hot .* row 2 is \[1, 1\]; store one 0/1 label"):
        check_graphs(graphs, "g")
    graphs[5].edge_label[2] = torch.tensor([0.3, 0.7])
    with pytest.raises(InvalidSizesError, match=r"graph 5: edge labels edge_label hold 0.3.*argmax\(-1\)"):
        check_graphs(graphs, "g")
    for g in graphs:
        g.edge_label = torch.zeros(g.num_edges, 3)
    with pytest.raises(InvalidSizesError, match=r"graph 0: edge labels edge_label have shape \(\d+, 3\), 3 classes"):
        check_graphs(graphs, "g")
    # one-hot in some graphs, flat in others: refused
    mixed = _graphs()
    mixed[4].y = torch.nn.functional.one_hot(mixed[4].y.long(), 2).float()
    with pytest.raises(InvalidSizesError, match="graph 4 has one-hot edge labels y .* graph 0 one per edge"):
        check_graphs(mixed)


def test_validation_graphs_are_drawn_at_random_by_the_seed_not_the_first_ones():
    # a dataset sorted by size, as files listed by event size are: the first 20% are its smallest graphs
    graphs = sorted(_graphs(30), key=lambda g: g.num_edges)
    table, details = run_study({"sorted": graphs}, StudyConfig(**TINY))
    val = details["sorted"]["val_indices"]
    assert details["sorted"]["split"] == "random, seed 0" and len(val) == details["sorted"]["num_val"] == 6
    edges = np.array([g.num_edges for g in graphs])
    assert edges[val].max() > np.median(edges)             # was graphs 0-5, all below the median
    _, again = run_study({"sorted": graphs}, StudyConfig(**TINY))
    _, other = run_study({"sorted": graphs}, StudyConfig(**TINY, seed=1))
    assert again["sorted"]["val_indices"] == val != other["sorted"]["val_indices"]
    # the model trains on the rest: together they are every graph once
    assert details["sorted"]["num_train"] + len(val) == len(graphs)


def test_the_positive_class_weight_comes_from_the_check_pass():
    # per graph, the check counts the true edges; the weight of any subset (the study's training
    # graphs) is the one computed from all its labels, for every way of storing them
    def old(graphs, field):       # the weight as it was computed: every label read again
        y = torch.cat([g[field][:, 1] if g[field].dim() == 2 and g[field].shape[1] == 2 else g[field].reshape(-1)
                       for g in graphs]).float()
        return float(y.numel() - y.sum()) / max(float(y.sum()), 1.0)

    plain, column, one_hot, named = _graphs(seed=1), _graphs(seed=2), _graphs(seed=3), _graphs(seed=4)
    for g in column:
        g.y = g.y.unsqueeze(-1)
    for g in one_hot:
        g.y = torch.nn.functional.one_hot(g.y.long(), 2).float()
    for g in named:
        g.edge_label, g.y = g.y.bool(), torch.tensor([1.0])
    train_index = np.array([0, 2, 3, 5, 8, 9, 10, 15])
    for graphs, field in ((plain, "y"), (column, "y"), (one_hot, "y"), (named, "edge_label")):
        fields = check_graphs(graphs)
        assert fields.edge_labels == field
        assert fields.pos_weight() == old(graphs, field) == pos_weight_of(graphs)
        assert fields.pos_weight(train_index) == old([graphs[i] for i in train_index], field)
    assert check_graphs(_rings(), edge_labels=None).pos_weight() == 1.0     # no edge labels, no weighting

    class Counting(TorchDataset):
        reads = 0

        def __getitem__(self, i):
            Counting.reads += 1
            return super().__getitem__(i)

    assert pos_weight_of(Counting(plain)) == old(plain, "y") and Counting.reads == len(plain)   # was read twice


def test_a_folder_of_graphs_saved_one_per_file_is_a_dataset(tmp_path):
    from hullpack.hep.study import load_dataset

    graphs = _graphs(12, edge_attr=2)
    (tmp_path / "one_per_file").mkdir()
    for i, g in enumerate(graphs):                   # graph_2.pt before graph_10.pt: graph i is file i
        torch.save(g, tmp_path / "one_per_file" / f"graph_{i}.pt")
    ds = load_dataset(str(tmp_path / "one_per_file"))          # was: "give the file", and a file was refused
    assert len(ds) == 12 and all(torch.equal(ds[i].x, graphs[i].x) for i in range(12))
    table, details = run_study({"one_per_file": ds}, StudyConfig(**TINY))
    assert details["one_per_file"]["edge_labels"] == "y" and table["val_auc"].notna().all()
    # PyG's on-disk Dataset: processed/data_{i}.pt beside pre_filter.pt and pre_transform.pt
    (tmp_path / "ondisk" / "processed").mkdir(parents=True)
    for i, g in enumerate(graphs[:3]):
        torch.save(g, tmp_path / "ondisk" / "processed" / f"data_{i}.pt")
    torch.save("None", tmp_path / "ondisk" / "processed" / "pre_filter.pt")
    assert len(load_dataset(str(tmp_path / "ondisk"))) == 3
    # a bad graph, and a file that is not one graph, are named by their file
    bad = graphs[5].clone()
    del bad.x
    torch.save(bad, tmp_path / "one_per_file" / "graph_5.pt")
    with pytest.raises(InvalidSizesError, match=r"graph 5 \(.*graph_5\.pt\) has no node features x"):
        run_study({"one_per_file": load_dataset(str(tmp_path / "one_per_file"))}, StudyConfig(**TINY))
    torch.save(graphs[:2], tmp_path / "one_per_file" / "graph_5.pt")
    with pytest.raises(ValueError, match=r"graph 5 \(.*graph_5\.pt\) holds a list, not one torch_geometric Data"):
        check_graphs(load_dataset(str(tmp_path / "one_per_file")))


def test_a_dataset_class_named_module_attribute_is_made(tmp_path, monkeypatch):
    from hullpack.hep.study import load_dataset

    InMemoryDataset.save(_graphs(6), tmp_path / "data.pt")
    (tmp_path / "mydatasets.py").write_text(
        "from torch_geometric.data import InMemoryDataset\n"
        "class Mine(InMemoryDataset):\n"
        f"    def __init__(self, root={str(tmp_path)!r}):\n"
        "        super().__init__(root)\n"
        f"        self.load({str(tmp_path / 'data.pt')!r})\n"
        "class NeedsRoot(Mine):\n"
        "    def __init__(self, root):\n"
        "        super().__init__(root)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert len(load_dataset("mydatasets:Mine")) == 6          # was: TypeError, object of type 'type' has no len()
    with pytest.raises(ValueError, match=r"'mydatasets:NeedsRoot': calling NeedsRoot\(\) failed \(TypeError: .*root"):
        load_dataset("mydatasets:NeedsRoot")


def test_a_size_that_follows_from_the_others_is_not_printed_as_free():
    from hullpack.cli.bench_memory import _memory_model_text

    knn = _graphs(16, edges=lambda i, n: 4 * n)             # k-nearest-neighbour graphs: edges = 4 x nodes
    _, details = run_study({"knn": knn}, StudyConfig(**TINY))
    d = details["knn"]
    assert d["memory_model_folded"] == ["edges"] and d["memory_model"]["weights"][1] == 0
    text = _memory_model_text(d)
    assert "per edge" not in text and "edges follow linearly from the other sizes" in text   # was "0 bytes per edge"
    _, details = run_study({"free": _graphs(16, edges=lambda i, n: int(n * (1 + i % 3)))}, StudyConfig(**TINY))
    assert details["free"]["memory_model_folded"] == [] and "bytes per edge" in _memory_model_text(details["free"])


def test_a_mistyped_dataset_says_what_is_not_there_and_the_likely_fix(tmp_path, monkeypatch):
    from hullpack.hep.study import load_dataset

    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"'data/grphs': there is no file or folder of that name \(a relative "
                                         f"path is read from {tmp_path}\\).*a folder of graph files"):
        load_dataset("data/grphs")
    with pytest.raises(ValueError, match="did you mean the preset 'high'"):
        load_dataset("High")
    with pytest.raises(ValueError, match="join them with a colon: json:loads"):
        load_dataset("json.loads")


def test_one_graph_file_of_a_folder_of_them_points_to_the_folder(tmp_path):
    from hullpack.hep.study import load_dataset

    for i, g in enumerate(_graphs(3)):
        torch.save(g, tmp_path / f"{i}.pt")
    with pytest.raises(ValueError, match=f"single graph.*give its folder, --dataset {tmp_path}, read as one graph"):
        load_dataset(str(tmp_path / "1.pt"))
    alone = tmp_path / "alone"
    alone.mkdir()
    torch.save(_graphs(1)[0], alone / "g.pt")
    with pytest.raises(ValueError, match=r"single graph \(Data\); .*torch.save\(\[graph, \.\.\.\], path\)$"):
        load_dataset(str(alone / "g.pt"))


class SelfLoops(InMemoryDataset):
    """A dataset whose transform adds edges but leaves the edge labels as stored."""

    def __init__(self, graphs):
        from torch_geometric.transforms import AddSelfLoops

        super().__init__(None, transform=AddSelfLoops())
        self.data, self.slices = self.collate(graphs)


def test_edge_labels_a_transform_left_behind_name_the_transform():
    graphs = _graphs(8)
    for g in graphs:
        g.edge_label = g.pop("y")
    with pytest.raises(InvalidSizesError, match=r"'t': graph 0: edge labels edge_label have shape .*the dataset's "
                                                r"transform AddSelfLoops\(\) runs on every graph"):
        check_graphs(SelfLoops(graphs), "t")
    with pytest.raises(InvalidSizesError) as plain:  # the same mismatch without a transform does not mention one
        check_graphs(Stored(graphs[:1] + [Data(x=torch.ones(3, 3), edge_index=torch.zeros(2, 2, dtype=torch.long),
                                                edge_label=torch.ones(1))]), "s")
    assert "graph 1" in str(plain.value) and "transform" not in str(plain.value)


def test_the_budget_line_says_what_the_budget_came_from_and_the_largest_graphs_floor():
    from hullpack.cli.bench_memory import _budget_text
    from hullpack.hep.study import mib_text

    graphs = _graphs(20)
    graphs[3] = _graphs(1, seed=5, edges=lambda i, n: 3 * 40 * n)[0]  # a heavy tail: one graph far above the rest
    _, details = run_study({"h": graphs}, StudyConfig(**TINY))
    d = details["h"]
    assert d["budget_from"] == "largest graph"
    assert d["budget_bytes"] == pytest.approx(1.1 * d["largest_graph_bytes"])
    assert 1.1 * d["largest_graph_bytes"] > 1.25 * d["average_batch_bytes"]
    text = _budget_text(d, 1.25)
    assert f"1.1 x a step of the largest training graph alone, {mib_text(d['largest_graph_bytes'] / 2**20)} MiB" in text
    _, details = run_study({"g": _graphs(20)}, StudyConfig(**TINY))
    assert details["g"]["budget_from"] == "average batch"
    assert details["g"]["budget_bytes"] == pytest.approx(1.25 * details["g"]["average_batch_bytes"])
    assert f"(1.25 x an average batch of {mib_text(details['g']['average_batch_bytes'] / 2**20)} MiB; a step" \
        in _budget_text(details["g"], 1.25)
    assert f"1.25 x an average batch of {mib_text(d['average_batch_bytes'] / 2**20)} MiB is less" in text
    given = details["g"] | {"budget_from": "given"}
    assert _budget_text(given, 1.25).startswith(f"memory budget {mib_text(given['budget_bytes'] / 2**20)} MiB (--budget-mib")
    assert "below it" not in _budget_text(given, 1.25)
    tight = given | {"budget_bytes": 0.5 * given["largest_graph_bytes"]}
    assert "the budget is below it, so every strategy goes over it" in _budget_text(tight, 1.25)


def test_a_single_step_per_epoch_is_said_to_compare_nothing():
    from hullpack.cli.bench_memory import _versus_random_text

    row = {"dataset": "d", "random_runs": 1, "reduction_min": 0.0, "reduction_max": 0.0, "peak_mib_balanced": 1.0,
           "peak_mib_random": [1.0, 1.0], "steps_per_epoch": 1, "same_steps": True}
    assert "at the same 1 step per epoch: one batch holds every training graph" in _versus_random_text(row)
    more = _versus_random_text(row | {"steps_per_epoch": 2})
    assert "same 2 steps per epoch." in more and "compares nothing" not in more
    # one graph a batch: the same batches in another order (was: "0.0% below random batching", as a finding)
    single = _versus_random_text(row | {"steps_per_epoch": 96}, batch_size=1)
    assert "with --batch-size 1 every batch is one graph" in single and "compares nothing" in single
    assert "compares nothing" not in _versus_random_text(row | {"steps_per_epoch": 96}, batch_size=2)


def test_the_plot_leaves_room_for_its_legend_and_draws_the_largest_graphs_floor(tmp_path, monkeypatch):
    import matplotlib.figure

    from hullpack.hep.study import plot

    table, details = run_study({"g": _graphs(20)}, StudyConfig(**TINY))
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figures.append(fig))
    plot(table, details, str(tmp_path / "m.png"))
    bars, steps = figures[0].axes[:2]
    assert bars.get_ylim()[1] == pytest.approx(1.3 * (table.peak_mib / table.peak_mib.iloc[0]).max())
    highest = max(max(line.get_ydata()) for line in steps.get_lines())
    assert steps.get_ylim()[1] >= 1.3 * highest                    # the legend sits above every line
    floor = [line for line in steps.get_lines() if line.get_label() == "largest graph alone (predicted)"]
    assert floor and floor[0].get_ydata()[0] == pytest.approx(details["g"]["largest_graph_bytes"] / 2**20)


def test_an_edge_label_field_a_graph_lacks_is_named_with_the_fields_it_has():
    with pytest.raises(InvalidSizesError, match=r"'d': graph 0 has no field edge_labels for the edge labels "
                                                r"\(its fields: edge_index, x, y\)"):
        check_graphs(_graphs(4), "d", edge_labels="edge_labels")
    graphs = _graphs(4)
    for g in graphs:
        g.edge_label = g.pop("y")
    del graphs[2].edge_label
    with pytest.raises(InvalidSizesError, match=r"'d': graph 2 has no field edge_label for the edge labels"):
        check_graphs(graphs, "d")


def test_a_study_of_graphs_without_a_single_edge_is_refused():
    graphs = _graphs(12, edges=lambda i, n: 0)
    with pytest.raises(InvalidSizesError, match=r"'e': none of its 12 graphs has an edge"):
        run_study({"e": graphs}, StudyConfig(**TINY))
    assert check_graphs(graphs, "e").sizes[:, 1].tolist() == [0] * 12  # edgeless graphs themselves are valid


def test_baseline_repeats_without_the_random_baseline_are_refused(capsys):
    from hullpack.cli import main

    with pytest.raises(ValueError, match="baseline_repeats = 2 repeats the random baseline.*random is not among"):
        StudyConfig(strategies=("balanced",), baseline_repeats=2)
    assert StudyConfig(strategies=("balanced",)).baseline_repeats == 0
    rc = main(["-q", "bench-memory", "--dataset", "low", "--strategies", "balanced,packed", "--baseline-repeats", "1"])
    assert rc == 2 and "add it (--strategies random,...)" in capsys.readouterr().err


def test_a_dataset_module_that_fails_on_import_is_named_with_its_error(tmp_path, monkeypatch):
    from hullpack.hep.study import load_dataset

    (tmp_path / "events_db.py").write_text("raise RuntimeError('ROOT file not found: /data/events.root')\n")
    (tmp_path / "typo_mod.py").write_text("def make(:\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=r"'events_db:make': importing module 'events_db' failed \(RuntimeError: "
                                         r"ROOT file not found: /data/events.root\); python -c 'import events_db'"):
        load_dataset("events_db:make")
    with pytest.raises(ValueError, match=r"importing module 'typo_mod' failed \(SyntaxError"):
        load_dataset("typo_mod:make")


def test_a_dataset_module_that_is_not_importable_says_how_to_make_it_so(tmp_path, monkeypatch):
    """mypkg/data.py in the current folder is not on sys.path for the hullpack command: the message says
    to install it or put its folder on PYTHONPATH; a module missing inside it is named as it is."""
    from hullpack.hep.study import load_dataset

    with pytest.raises(ValueError, match=r"'mypkg_nowhere.data:make_graphs': cannot import it \(No module named "
                                         r"'mypkg_nowhere'\): mypkg_nowhere must be installed, or its folder on "
                                         r"PYTHONPATH \(PYTHONPATH=\. for"):
        load_dataset("mypkg_nowhere.data:make_graphs")
    (tmp_path / "uses_missing.py").write_text("import some_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match=r"cannot import it \(No module named 'some_missing_dependency'\)$"):
        load_dataset("uses_missing:make")


def test_python_m_hullpack_hep_trains_without_a_warning_of_a_module_loaded_twice():
    """python -m hullpack.hep.train warned (RuntimeWarning: found in sys.modules after import of
    package 'hullpack.hep'): the package imports its train module. python -m hullpack.hep does not."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "hullpack.hep", "--help"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: python -m hullpack.hep ") and "--preset" in res.stdout


def test_graphs_that_would_not_batch_together_are_named_before_training():
    graphs = _graphs(10)
    graphs[6].y = graphs[6].y.unsqueeze(-1)                         # labels as a column in one graph only
    with pytest.raises(InvalidSizesError, match=r"'b': graph 6: y has shape \(\*, 1\), graph 0's \(\*,\) .*"
                                                r"data.y = data.y.view\(-1\)"):
        check_graphs(graphs, "b")
    graphs = _graphs(10)
    for g in graphs:
        g.pos = torch.randn(g.num_nodes, 3)
        g.event = f"run1/{g.num_nodes}"                             # strings batch into lists, whatever they hold
    graphs[4].pos = graphs[4].pos[:, :2]
    with pytest.raises(InvalidSizesError, match=r"'b': graph 4: pos has shape \(\*, 2\), graph 0's \(\*, 3\)"):
        check_graphs(graphs, "b")
    del graphs[4].pos
    with pytest.raises(InvalidSizesError, match="'b': graph 4 has no field pos, graph 0 has it"):
        check_graphs(graphs, "b")
    graphs[4].pos = torch.randn(graphs[4].num_nodes, 3)
    del graphs[0].pos
    with pytest.raises(InvalidSizesError, match="'b': graph 1 has a field pos, graph 0 has none"):
        check_graphs(graphs, "b")
    graphs[0].pos = torch.randn(graphs[0].num_nodes, 3)
    table, _ = run_study({"b": graphs}, StudyConfig(**TINY))       # the same fields and shapes: it trains
    assert len(table) == 2


def test_a_folder_of_one_graph_says_so_rather_than_pointing_to_its_file(tmp_path):
    from hullpack.hep.study import load_dataset

    torch.save(_graphs(1)[0], tmp_path / "0.pt")
    with pytest.raises(ValueError, match=r"is a folder of one graph \(.*0\.pt\); the study batches many graphs"):
        load_dataset(str(tmp_path))
    torch.save(_graphs(4), tmp_path / "0.pt")                       # one file of many graphs: that file is given
    with pytest.raises(ValueError, match=r"is a folder; give the file that holds the graphs, e.g. .*0\.pt"):
        load_dataset(str(tmp_path))


def test_a_dataset_path_under_the_home_folder_is_found(tmp_path, monkeypatch):
    from hullpack.hep.study import load_dataset

    monkeypatch.setenv("HOME", str(tmp_path))
    torch.save(_graphs(3), tmp_path / "g.pt")
    assert len(load_dataset("~/g.pt")) == 3


def test_small_peaks_that_differ_do_not_read_the_same_beside_their_percentage():
    from hullpack.cli.bench_memory import _versus_random_text
    from hullpack.hep.study import to_markdown

    row = {"dataset": "d", "random_runs": 1, "reduction_min": 0.054, "reduction_max": 0.054,
           "peak_mib_balanced": 0.1290, "peak_mib_random": [0.1364, 0.1364], "steps_per_epoch": 2, "same_steps": True}
    assert "5.4% below random batching (0.129 vs 0.136 MiB" in _versus_random_text(row)
    assert "(187.45 vs 372.35 MiB" in _versus_random_text(
        row | {"peak_mib_balanced": 187.452, "peak_mib_random": [372.351, 372.351]})
    import pandas as pd

    cells = {"dataset": "d", "seed": 0, "steps_per_epoch": 2, "alloc_peak_mib": None, "epoch_s": 0.1,
             "over_budget_steps": 0, "val_precision": None, "val_recall": None, "val_auc": None}
    table = pd.DataFrame([cells | {"strategy": "random", "peak_mib": 0.1364, "mean_mib": 0.1290, "peak_reduction": 0.0},
                          cells | {"strategy": "balanced", "peak_mib": 0.1290, "mean_mib": 0.1290,
                                   "peak_reduction": 0.054}])
    assert "| d | balanced | 0 | 0.129 | 0.129 | -5.4% | 2 | n/a |" in to_markdown(table)


def test_a_strategy_given_twice_is_refused(capsys):
    from hullpack.cli import main

    with pytest.raises(ValueError, match="^no strategy given; choose from random, sorted"):
        StudyConfig(strategies=())
    with pytest.raises(ValueError, match="strategy 'random' is given twice"):
        StudyConfig(strategies=("random", "balanced", "random"))
    rc = main(["-q", "bench-memory", "--dataset", "low", "--strategies", "random,balanced,random"])
    assert rc == 2 and "give each strategy once (--baseline-repeats" in capsys.readouterr().err


def test_graph_and_target_pairs_are_asked_for_the_graph_alone(tmp_path):
    from hullpack.hep.study import load_dataset

    pairs = [(g, 1) for g in _graphs(4)]
    torch.save(pairs, tmp_path / "pairs.pt")
    with pytest.raises(ValueError, match=r"item 0 is a tuple, not a graph; it holds \(Data, int\): hand out the "
                                         r"graph alone.*data.y = target"):
        load_dataset(str(tmp_path / "pairs.pt"))
    with pytest.raises(InvalidSizesError, match=r"'p': graph 0 is a tuple, not a torch_geometric Data graph; it "
                                                r"holds \(Data, int\)"):
        check_graphs(TorchDataset(pairs), "p")


def test_the_plot_without_a_random_run_shows_mib_not_ratios_to_itself(tmp_path, monkeypatch):
    import matplotlib.figure

    from hullpack.hep.study import plot

    table, details = run_study({"g": _graphs(20)}, StudyConfig(**{**TINY, "strategies": ("balanced", "packed")}))
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figures.append(fig))
    plot(table, details, str(tmp_path / "m.png"))
    bars = figures[0].axes[0]
    assert bars.get_ylabel() == "step memory (MiB)"
    heights = sorted(p.get_height() for p in bars.patches)
    assert heights == pytest.approx(sorted(table.peak_mib))


def test_an_out_folder_that_cannot_be_made_is_refused_before_training(tmp_path, capsys):
    from hullpack.cli import main

    (tmp_path / "taken").write_text("")
    rc = main(["-q", "bench-memory", "--dataset", "nowhere.pt", "--out", str(tmp_path / "taken")])
    err = capsys.readouterr().err
    assert rc == 2 and f"--out {tmp_path / 'taken'}: cannot make a folder there (File exists)" in err
    assert "nowhere.pt" not in err                                  # refused before the dataset is read


def test_an_out_folder_that_cannot_be_written_is_refused_before_training(tmp_path, capsys, monkeypatch):
    from hullpack.cli import bench_memory, main

    locked = tmp_path / "locked"
    locked.mkdir()
    real = os.access
    monkeypatch.setattr(bench_memory.os, "access", lambda path, mode: False if str(path) == str(locked)
                        else real(path, mode))                      # a read-only folder, whoever runs the test
    rc = main(["-q", "bench-memory", "--dataset", "nowhere.pt", "--out", str(locked)])
    assert rc == 2 and f"--out {locked}: this folder cannot be written to" in capsys.readouterr().err


def test_a_negative_seed_is_refused_naming_the_option(capsys):
    from hullpack.cli import main

    with pytest.raises(ValueError, match=r"seed = -1: give a whole number, 0 or more"):
        StudyConfig(seed=-1)
    rc = main(["-q", "bench-memory", "--dataset", "low", "--seed", "-1"])
    assert rc == 2 and "(--seed;" in capsys.readouterr().err


def test_edges_all_of_one_class_train_with_a_defined_weight_and_are_said_so(tmp_path, capsys):
    from hullpack.cli import main
    from hullpack.hep.checks import class_balance_note, pos_weight_from_counts

    # all true: the false-to-true ratio was 0, a loss of 0 that trained nothing; none true: the edge count
    assert pos_weight_from_counts(100, 100) == pos_weight_from_counts(0, 100) == 1.0
    assert pos_weight_from_counts(1, 10**6) == 1000.0 and pos_weight_from_counts(10**6 - 1, 10**6) == 1 / 1000
    assert pos_weight_from_counts(25, 100) == 3.0 and class_balance_note(25, 100) is None
    assert "held at 1000" in class_balance_note(1, 10**6)
    every, none = _graphs(seed=5), _graphs(seed=6)
    for g in every:
        g.y = torch.ones_like(g.y)
    for g in none:
        g.y = torch.zeros_like(g.y)
    table, details = run_study({"every": every, "none": none}, StudyConfig(**TINY))
    assert (table[table.dataset == "every"]["train_loss"] > 0).all()           # was 0.0: nothing trained
    assert details["every"]["pos_weight"] == details["none"]["pos_weight"] == 1.0
    assert details["every"]["class_balance"].startswith("all of its ")
    assert details["none"]["class_balance"].startswith("none of its ")
    with pytest.warns(UserWarning, match="training edges are true: the edge classifier has no false edge"):
        train(InteractionNetwork(3, 0, hidden=8, num_steps=1), every, [[0, 1, 2, 3]])
    torch.save(every, tmp_path / "every.pt")
    rc = main(["-q", "bench-memory", "--dataset", str(tmp_path / "every.pt"), "--strategies", "random",
               "--batch-size", "4", "--epochs", "1", "--hidden", "8", "--num-steps", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and f"{tmp_path / 'every.pt'}: all of its " in out and "plain BCE (true-edge weight 1)" in out


def test_the_synthetic_presets_keep_their_false_to_true_weight():
    from hullpack.hep import CollisionGraphs

    for preset in ("low", "high"):
        fields = check_graphs(CollisionGraphs(preset=preset, num_events=20, seed=0), show_progress=False)
        y = fields.true_edges.sum()
        assert fields.pos_weight() == (fields.sizes[:, 1].sum() - y) / y and fields.class_balance_note() is None


@pytest.mark.parametrize("options", [["--events", "50"], ["--root", "cache"], ["--events", "50", "--root", "cache"]])
def test_preset_options_given_with_only_own_datasets_are_refused(options, capsys):
    from hullpack.cli import main

    rc = main(["-q", "bench-memory", "--dataset", "nowhere.pt", *options])
    err = capsys.readouterr().err
    given = " and ".join(o for o in options if o.startswith("--"))
    assert rc == 2 and f"{given} only appl{'y' if ' and ' in given else 'ies'} to the synthetic presets (high, low" in err
    assert "(nowhere.pt) are used whole" in err


def test_the_plots_budget_line_has_a_colour_of_its_own(tmp_path, monkeypatch):
    import matplotlib.colors
    import matplotlib.figure

    from hullpack.hep.study import plot

    cfg = StudyConfig(**TINY | {"strategies": ("random", "sorted", "roundrobin", "balanced", "packed")})
    table, details = run_study({"g": _graphs(20)}, cfg)
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figures.append(fig))
    plot(table, details, str(tmp_path / "m.png"))
    rgb = {line.get_label(): np.array(matplotlib.colors.to_rgb(line.get_color())) for line in figures[0].axes[1].get_lines()}
    nearest = min(np.linalg.norm(rgb["budget"] - rgb[s]) for s in cfg.strategies)
    assert nearest > 0.5   # was pure red beside balanced's brick red (0.27 apart)
