"""A field with one value per edge that is no 0/1 label (an edge target to regress, edge classes) is
refused as edge labels with the way to run the study on such graphs anyway: memory and time only; and
the node features must be something the network can read (at least one column)."""
import pytest

pytest.importorskip("torch_geometric")
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch_geometric.data import Data  # noqa: E402

from hullpack.cli import main  # noqa: E402
from hullpack.errors import InvalidSizesError  # noqa: E402
from hullpack.hep import StudyConfig, check_graphs, run_study  # noqa: E402

TINY = dict(strategies=("random", "balanced"), batch_size=4, epochs=1, hidden=8, num_steps=1)


def bond_lengths(count=16):
    """Molecule-like graphs whose y is a real number per edge (a bond length to regress)."""
    rng = np.random.default_rng(0)
    out = []
    for n in rng.integers(5, 30, count).tolist():
        e = 3 * n
        out.append(Data(x=torch.randn(n, 3), edge_index=torch.from_numpy(rng.integers(0, n, (2, e))),
                        y=torch.rand(e) + 1.0))
    return out


def test_an_edge_target_is_refused_with_the_memory_only_route():
    with pytest.raises(InvalidSizesError, match=r"'bonds': graph 0: edge labels y hold .*binary edge classifier.*"
                                                r"or, where y holds no edge labels, measure memory and time only "
                                                r"\(edge_labels=None, --edge-labels none\)"):
        run_study({"bonds": bond_lengths()}, StudyConfig(**TINY))
    table, details = run_study({"bonds": bond_lengths()}, StudyConfig(**TINY, edge_labels=None))  # the route works
    assert details["bonds"]["edge_labels"] is None and len(table) == 2


def test_the_cli_says_how_to_name_or_drop_ambiguous_labels(tmp_path, capsys):
    rings = [Data(x=torch.randn(n, 2), edge_index=torch.stack([torch.arange(n), (torch.arange(n) + 1) % n]),
                  y=torch.randint(0, 2, (n,)).float()) for n in range(5, 20)]     # as many edges as nodes
    torch.save(rings, tmp_path / "rings.pt")
    assert main(["-q", "bench-memory", "--dataset", str(tmp_path / "rings.pt"), "--strategies", "random"]) == 2
    err = capsys.readouterr().err
    assert "--edge-labels y" in err and "--edge-labels none" in err     # was: the Python spelling alone


@pytest.mark.parametrize("x, said", [(lambda n: torch.empty(n, 0), r"x have shape \(\d+, 0\), no feature per node.*"
                                      r"torch.ones\(data.num_nodes, 1\)"),
                                     (lambda n: torch.randn(n, 3).to_sparse(), "x are a sparse tensor.*to_dense()"),
                                     (lambda n: torch.randn(n, 3, dtype=torch.cfloat), "x are a complex tensor")])
def test_node_features_the_network_cannot_read_are_named(x, said):
    graphs = bond_lengths()
    graphs[5].x = x(graphs[5].num_nodes)
    # was: the model's "node_features ... must be >= 1", torch's NotImplementedError, or the imaginary part dropped
    with pytest.raises(InvalidSizesError, match=f"'g': graph 5: node features {said}"):
        check_graphs(graphs, "g", edge_labels=None)


def test_graphs_of_positions_without_edges_are_told_to_build_them():
    graphs = [Data(x=torch.randn(n, 3), pos=torch.randn(n, 3), energy=torch.randn(1)) for n in range(5, 20)]
    # was: "a graph without edges: torch.zeros(2, 0)", which the study then refuses for having no edge at all
    with pytest.raises(InvalidSizesError, match=r"'md': graph 0: edge_index is NoneType.*positions pos but no edges: "
                                                r"build them, e.g. with torch_geometric.transforms.RadiusGraph"):
        check_graphs(graphs, "md")
