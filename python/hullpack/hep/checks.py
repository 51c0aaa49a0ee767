"""What the memory study needs of a dataset's graphs, checked on every graph before any training.

:func:`check_graphs` reads each graph once (a list, a PyG dataset, any ``torch`` dataset or
sequence with ``len`` and indexing) and refuses the first one the Interaction Network cannot use,
naming its index and what is wrong: no graph, no 2-D node features ``x``, a feature width or an
``edge_attr`` unlike the others', an ``edge_index`` that is not ``(2, num_edges)`` integers inside
the graph's own nodes, features that are not finite, edge labels that are not 0 or 1 (one 0/1 per
edge, or one-hot rows ``[1, 0]`` / ``[0, 1]`` of shape ``(num_edges, 2)``, read as the class index),
fields that would not batch with graph 0's (a field one of them lacks, a tensor of another shape apart
from the dimension PyG batches along).

It also decides, once for the whole dataset, which field holds one label per edge (the validation
metrics need them), so that node or graph labels are never read as edge labels: ``edge_label``
where the graphs have it (without ``edge_label_index``, which would make them labels of other
edges), else ``y`` where its length is the number of edges of every graph and, in at least one
graph, neither the number of nodes nor one per graph. Where ``y`` has as many entries as nodes
(or one) and as edges in every graph, it cannot tell, and asks.

>>> import torch
>>> from torch_geometric.data import Data
>>> ring = torch.tensor([[0, 1, 2], [1, 2, 0]])                  # 3 nodes, 3 edges
>>> path = torch.tensor([[0, 1], [1, 2]])                        # 3 nodes, 2 edges
>>> node_labels = [Data(x=torch.ones(3, 2), edge_index=e, y=torch.tensor([1., 0, 1])) for e in (ring, path)]
>>> check_graphs(node_labels)                  # graph 1 has 3 labels and 2 edges: they label nodes
GraphFields(node_features=2, edge_features=0, edge_labels=None)
>>> edge_labels = [Data(x=torch.ones(3, 2), edge_index=e, y=torch.ones(e.shape[1])) for e in (ring, path)]
>>> check_graphs(edge_labels)
GraphFields(node_features=2, edge_features=0, edge_labels='y')
>>> check_graphs(node_labels[:1])                                # rings only: nodes or edges?
Traceback (most recent call last):
...
hullpack.errors.InvalidSizesError: 'dataset': y has as many entries as edges and as nodes (or one per graph) in every graph, so it is not clear that it labels edges; store edge labels as data.edge_label (or pass edge_labels='y', --edge-labels y), or measure memory and time only (edge_labels=None, --edge-labels none)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from .._progress import progress
from ..errors import InvalidSizesError
from .files import GraphFiles

__all__ = ["GraphFields", "check_graphs", "check_graph", "class_balance_note", "flat_labels", "pos_weight_from_counts"]

#: the name a field of per-edge labels can always be given, whatever the graph's node count
EDGE_LABEL = "edge_label"


@dataclass(frozen=True)
class GraphFields:
    """What :func:`check_graphs` found: the widths of ``x`` and ``edge_attr`` (0: none), the
    field with one 0/1 label per edge (None: the run measures memory and time only) and, read on
    the way, every graph's ``(num_nodes, num_edges)`` as an ``(n, 2)`` float64 array and its
    number of true edges (``true_edges``, None without edge labels), from which
    :meth:`pos_weight` comes without reading the graphs again."""

    node_features: int
    edge_features: int
    edge_labels: str | None
    sizes: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: the edge labels are one-hot ``(num_edges, 2)``, read as their class index (:func:`flat_labels`)
    one_hot: bool = field(default=False, repr=False)
    #: true edges (label 1) of every graph, ``(n,)`` float64; None where there are no edge labels
    true_edges: np.ndarray | None = field(default=None, repr=False, compare=False)

    def pos_weight(self, index: Any = None) -> float:
        """The BCE weight of true edges, false-to-true ratio (:func:`pos_weight_from_counts`), of
        the graphs at ``index`` (default: all); 1.0 without edge labels.

        >>> from torch_geometric.data import Data
        >>> graphs = [Data(x=torch.ones(3, 1), edge_index=torch.tensor([[0, 1, 2], [1, 2, 0]]),
        ...                edge_label=torch.tensor(labels)) for labels in ([1, 0, 0], [1, 1, 0])]
        >>> fields = check_graphs(graphs)
        >>> fields.pos_weight(), fields.pos_weight([0])
        (1.0, 2.0)
        """
        if self.true_edges is None:
            return 1.0
        return pos_weight_from_counts(*self._counts(index))

    def class_balance_note(self, index: Any = None) -> str | None:
        """Why :meth:`pos_weight` of the graphs at ``index`` is not their false-to-true ratio
        (:func:`class_balance_note`: their edges are all, or almost all, of one class); None where it is."""
        return None if self.true_edges is None else class_balance_note(*self._counts(index))

    def _counts(self, index: Any) -> tuple[float, float]:
        pick = slice(None) if index is None else np.asarray(index, dtype=np.int64)
        assert self.true_edges is not None and self.sizes is not None, "check_graphs reads both"
        return float(self.true_edges[pick].sum()), float(self.sizes[pick, 1].sum())


#: the positive-class weight is kept within [1 / POS_WEIGHT_CAP, POS_WEIGHT_CAP]: beyond, a handful of
#: edges of the rare class would carry the whole loss
POS_WEIGHT_CAP = 1000.0


def pos_weight_from_counts(true_edges: float, edges: float) -> float:
    """False-to-true edge ratio, the BCE weight that balances the two classes, kept within
    ``[1 / POS_WEIGHT_CAP, POS_WEIGHT_CAP]``; 1.0 (plain BCE) where the edges are all of one class,
    which leaves nothing to balance (the ratio would be 0, a loss of 0 that trains nothing, where
    every edge is true). :func:`class_balance_note` says so in words.

    >>> pos_weight_from_counts(25, 100), pos_weight_from_counts(100, 100), pos_weight_from_counts(1, 10**6)
    (3.0, 1.0, 1000.0)
    """
    true, false = float(true_edges), float(edges) - float(true_edges)
    if true <= 0 or false <= 0:
        return 1.0
    return min(max(false / true, 1.0 / POS_WEIGHT_CAP), POS_WEIGHT_CAP)


def class_balance_note(true_edges: float, edges: float) -> str | None:
    """Why the positive-class weight of edges of which ``true_edges`` are true is not their
    false-to-true ratio (:func:`pos_weight_from_counts`), in words; None where it is.

    >>> class_balance_note(0, 50)
    'none of its 50 training edges is true: the edge classifier has no true edge to learn from, the loss is plain BCE (true-edge weight 1), and its validation precision, recall and AUC say nothing'
    """
    true, edges = float(true_edges), float(edges)
    if edges <= 0:
        return None
    what = None
    if true <= 0:
        what = f"none of its {edges:,.0f} training edges is true: the edge classifier has no true edge to learn from"
    elif true >= edges:
        what = f"all of its {edges:,.0f} training edges are true: the edge classifier has no false edge to learn from"
    if what is not None:
        return f"{what}, the loss is plain BCE (true-edge weight 1), and its validation precision, recall and AUC say nothing"
    ratio = (edges - true) / true
    weight = pos_weight_from_counts(true, edges)
    if weight == ratio:
        return None
    return (f"{true:,.0f} of its {edges:,.0f} training edges are true, a false-to-true ratio of {ratio:.3g}: the "
            f"true-edge weight is held at {weight:g} (a weight further from 1 lets a handful of edges carry the loss)")


def _shape(t: Any) -> str:
    return str(tuple(t.shape)) if torch.is_tensor(t) else type(t).__name__


def _finite(t: torch.Tensor) -> bool:
    return not t.is_floating_point() or bool(torch.isfinite(t).all())


def check_graph(g: Any, where: str) -> tuple[int, int]:
    """``(node_features, edge_features)`` of one graph, or an :class:`InvalidSizesError` starting
    with ``where`` (e.g. ``"graph 7"``) that says what is wrong with it and what to do."""
    from torch_geometric.data import Data

    if not isinstance(g, Data):
        raise InvalidSizesError(f"{where} is a {type(g).__name__}, not a torch_geometric Data graph{not_graph_hint(g)}")
    x = getattr(g, "x", None)
    if x is None:
        hint = "data.x = data.pos, its positions" if torch.is_tensor(getattr(g, "pos", None)) else \
            "data.x = torch.ones(data.num_nodes, 1) for graphs without any"
        raise InvalidSizesError(f"{where} has no node features x; the Interaction Network needs them (e.g. {hint})")
    if not torch.is_tensor(x) or x.dim() != 2:
        raise InvalidSizesError(f"{where}: node features x have shape {_shape(x)}, expected (num_nodes, "
                                "features); for one feature per node set data.x = data.x.unsqueeze(-1)")
    if x.layout != torch.strided or x.is_complex():  # torch's own error names neither the graph nor x
        raise InvalidSizesError(f"{where}: node features x are a {'complex' if x.is_complex() else 'sparse'} tensor "
                                f"({x.dtype}, {x.layout}); the network takes real dense features (e.g. data.x = "
                                f"data.x.{'real' if x.is_complex() else 'to_dense()'})")
    if x.shape[1] == 0:  # the network's first layer needs an input
        raise InvalidSizesError(f"{where}: node features x have shape {_shape(x)}, no feature per node; the "
                                "Interaction Network needs at least one (e.g. data.x = torch.ones(data.num_nodes, 1))")
    n = g.num_nodes
    if x.shape[0] != n:
        raise InvalidSizesError(f"{where}: node features x have {x.shape[0]} rows but the graph says "
                                f"num_nodes = {n}; give one row of x per node")
    if not _finite(x):
        raise InvalidSizesError(f"{where}: node features x hold NaN or infinite values; fix or drop this graph")
    ei = getattr(g, "edge_index", None)
    if not torch.is_tensor(ei) or ei.dim() != 2 or ei.shape[0] != 2 or ei.is_floating_point() \
            or ei.dtype == torch.bool:
        raise InvalidSizesError(f"{where}: edge_index is {_shape(ei)}"
                                f"{'' if not torch.is_tensor(ei) else ' ' + str(ei.dtype)}, expected integers "
                                f"of shape (2, num_edges) ({_edge_index_hint(g, ei)})")
    if ei.numel() and (int(ei.min()) < 0 or int(ei.max()) >= n):
        bad = int(ei.max()) if int(ei.max()) >= n else int(ei.min())
        raise InvalidSizesError(f"{where}: edge_index refers to node {bad}, but the graph has nodes 0..{n - 1}; "
                                "edge_index holds each graph's own node numbers")
    ea = getattr(g, "edge_attr", None)
    if ea is None:
        return int(x.shape[1]), 0
    if not torch.is_tensor(ea) or ea.dim() != 2 or ea.shape[0] != ei.shape[1]:
        raise InvalidSizesError(f"{where}: edge_attr has shape {_shape(ea)}, expected ({ei.shape[1]}, features): "
                                "one row per edge (for one feature per edge, data.edge_attr.unsqueeze(-1))")
    if not _finite(ea):
        raise InvalidSizesError(f"{where}: edge features edge_attr hold NaN or infinite values; fix or drop this graph")
    return int(x.shape[1]), int(ea.shape[1])


def not_graph_hint(item: Any) -> str:
    """What to do with an item of a dataset that is not a ``Data`` graph, where it is clear ("" if not):
    a ``HeteroData`` converts, a ``(graph, target)`` pair (a ``Dataset.__getitem__`` returning both)
    should hand out the graph alone."""
    from torch_geometric.data import Data

    if type(item).__name__ == "HeteroData":
        return "; convert it with data.to_homogeneous()"
    if isinstance(item, (tuple, list)) and any(isinstance(v, Data) for v in item):
        kinds = ", ".join(type(v).__name__ for v in item[:4]) + (", ..." if len(item) > 4 else "")
        return (f"; it holds ({kinds}): hand out the graph alone, with any target stored on it as a field "
                "(data.y = target)")
    return ""


def _edge_index_hint(g: Any, ei: Any) -> str:
    if ei is None and getattr(g, "adj_t", None) is not None:
        return "the graph has adj_t (ToSparseTensor): leave that transform out"
    if ei is None and torch.is_tensor(getattr(g, "pos", None)):  # a point cloud, a molecule of positions (MD17)
        return ("the graph has positions pos but no edges: build them, e.g. with "
                "torch_geometric.transforms.RadiusGraph(r) or KNNGraph(k), before the study")
    if torch.is_tensor(ei) and ei.dim() == 2 and ei.shape[0] == 2:
        return "data.edge_index = data.edge_index.long()"
    if torch.is_tensor(ei) and ei.dim() == 2 and ei.shape[1] == 2:
        return "one column per edge: data.edge_index = data.edge_index.t().contiguous()"
    return "a graph without edges: torch.zeros(2, 0, dtype=torch.long)"


def _batch_shapes(g: Any) -> dict[str, tuple | None]:
    """Every tensor field's shape, its batching dimension (nodes, edges, graphs) as ``"*"``, as PyG
    concatenates them into a batch; None for other values, which batch into lists whatever they are."""
    out: dict[str, tuple | None] = {}
    for key in g.keys():
        value = g[key]
        if torch.is_tensor(value) and value.dim():
            shape: list = list(value.shape)
            dim = g.__cat_dim__(key, value)
            if dim is not None:
                shape[dim] = "*"
            out[key] = tuple(shape)
        else:
            out[key] = None
    return out


def _say(shape: tuple) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _unbatchable(where: str, first: dict, shapes: dict) -> str | None:
    """Why a graph with field ``shapes`` cannot be batched with graph 0 (``first``), where PyG would
    fail mid-training: a field one of them lacks (a batch takes the fields of its first graph, and
    fails on a later one without them), a tensor of another shape; None where it can."""
    used = "the study uses x, edge_index, edge_attr and the edge labels"

    def lacking(key: str, which: str) -> str:  # a field that one of the two graphs lacks
        return (f"{where} {which}: a batch takes the fields of its first graph, so every graph needs the same "
                f"fields; give every graph {key}, or drop it from all ({used}; del data.{key})")

    extra = next((key for key in shapes if key not in first), None)
    if extra is not None:
        return lacking(extra, f"has a field {extra}, graph 0 has none")
    for key, shape in first.items():
        if key not in shapes:
            return lacking(key, f"has no field {key}, graph 0 has it")
        other = shapes[key]
        if shape is not None and other is not None and shape != other:
            fix = f" (e.g. data.{key} = data.{key}.view(-1))" if {len(shape), len(other)} == {1, 2} \
                and 1 in shape + other else ""
            return (f"{where}: {key} has shape {_say(other)}, graph 0's {_say(shape)} (* stands for the nodes, edges "
                    f"or graphs it is batched along), and graphs batch together only with the same shapes apart "
                    f"from that: store {key} one way in every graph{fix}, or drop it if the study does not use it "
                    f"({used})")
    return None


def _per_edge(y: Any, num_edges: int) -> bool:
    """One row per edge: ``(num_edges,)``, a column ``(num_edges, 1)``, or classes ``(num_edges, k)``
    (one-hot with k = 2 is read; :func:`_label_problem` refuses the rest)."""
    return torch.is_tensor(y) and y.dim() in (1, 2) and y.shape[0] == num_edges and (y.dim() == 1 or y.shape[1] >= 1)


def _one_hot(y: torch.Tensor) -> bool:
    return y.dim() == 2 and y.shape[1] == 2


def flat_labels(y: torch.Tensor) -> torch.Tensor:
    """One label per edge from a field :func:`check_graphs` accepted: ``(num_edges,)`` and
    ``(num_edges, 1)`` as they are, one-hot ``(num_edges, 2)`` as its class index (column 1: a
    true edge is ``[0, 1]``, a false one ``[1, 0]``).

    >>> flat_labels(torch.tensor([[1., 0], [0, 1], [0, 1]]))
    tensor([0., 1., 1.])
    """
    return y[:, 1] if _one_hot(y) else y.reshape(-1)


def _label_problem(field: str, y: torch.Tensor) -> str | None:
    """Why a per-edge field cannot be the study's 0/1 edge labels (None: it can), and what to store."""
    store = f"store one 0/1 label per edge as data.{field}"
    if y.dim() == 2 and y.shape[1] > 2:
        return (f"edge labels {field} have shape {tuple(y.shape)}, {y.shape[1]} classes per edge; the study trains "
                f"a binary edge classifier: {store} (e.g. data.{field} = (data.{field}.argmax(-1) == k).float() "
                "for class k)")
    bad = ~((y == 0) | (y == 1))
    if bad.any():
        hint = f"data.{field} = data.{field}.argmax(-1)" if _one_hot(y) else f"data.{field} = (data.{field} > 0).float()"
        return (f"edge labels {field} hold {y[bad].flatten()[0].item()!r}; the study trains a binary edge "
                f"classifier: give 0 or 1 per edge (e.g. {hint})")
    if _one_hot(y):
        rows = (y.sum(1) != 1).nonzero().flatten()
        if rows.numel():
            r = int(rows[0])
            return (f"edge labels {field} have shape {tuple(y.shape)}, read as one-hot ([1, 0] a false edge, "
                    f"[0, 1] a true one), but row {r} is {[int(v) for v in y[r].tolist()]}; {store} "
                    f"(e.g. data.{field} = data.{field}[:, 1] if column 1 marks true edges)")
    return None


def check_graphs(dataset: Any, name: str = "dataset", edge_labels: str | None = "auto", *,
                 show_progress: bool | None = None) -> GraphFields:
    """Check every graph of ``dataset`` for what the study needs (see the module docstring) and
    return its :class:`GraphFields`; the first bad graph is refused with an
    :class:`~hullpack.errors.InvalidSizesError` naming ``name``, its index and what to change.

    ``edge_labels`` is ``"auto"`` (decide as the module docstring says), the name of the field
    with one 0/1 label per edge (``"y"``, ``"edge_label"``, ...; every graph must have it), or
    None (no edge labels: memory and time only, no validation metrics).
    """
    n = len(dataset)
    if n == 0:
        raise InvalidSizesError(f"{name!r} holds no graphs")
    widths: tuple[int, int] | None = None
    sizes = np.empty((n, 2), dtype=np.float64)
    true_edges = np.full(n, np.nan)  # of the candidate label field, where it has one label per edge
    explicit = edge_labels if edge_labels != "auto" else None
    first_edge_only = first_not_edge = first_missing = first_nonbinary = None
    one_hot: dict[bool, int] = {}  # one-hot (num_edges, 2) or not: the first graph of each kind
    first_shapes = unbatchable = None  # graph 0's tensor shapes, and the first graph that cannot batch with it
    bar = progress(range(n), total=n, desc=f"checking {name}", unit="graph",
                   show=show_progress)
    for i in bar:
        g = dataset[i]
        where = f"{name!r}: graph {i}" + (f" ({dataset.files[i]})" if isinstance(dataset, GraphFiles) else "")
        w = check_graph(g, where)
        sizes[i] = g.num_nodes, g.edge_index.shape[1]
        if widths is None:
            widths = w
            if edge_labels == "auto" and getattr(g, EDGE_LABEL, None) is not None \
                    and getattr(g, "edge_label_index", None) is None:
                explicit = EDGE_LABEL
        elif w != widths:
            k = 0 if w[0] != widths[0] else 1
            field, per = ("x", "node") if k == 0 else ("edge_attr", "edge")
            has = [f"no {field}" if v == 0 else f"{v} features per {per} in {field}" for v in (w[k], widths[k])]
            raise InvalidSizesError(f"{where} has {has[0]}, graph 0 has {has[1]}; every graph needs the same "
                                    "fields, of the same width")
        shapes = _batch_shapes(g)
        if first_shapes is None:
            first_shapes = shapes
        elif unbatchable is None:
            unbatchable = _unbatchable(where, first_shapes, shapes)
        if edge_labels is None:
            continue
        field = explicit or "y"
        y = getattr(g, field, None)
        ne = int(g.edge_index.shape[1])
        if explicit:
            if y is None:
                fields = ", ".join(sorted(g.keys()))
                raise InvalidSizesError(f"{where} has no field {field} for the edge labels (its fields: {fields}); "
                                        "name the field that holds one 0/1 label per edge in every graph, or "
                                        "measure memory and time only (edge_labels=None, --edge-labels none)")
            if not _per_edge(y, ne):
                raise InvalidSizesError(f"{where}: edge labels {field} have shape {_shape(y)}, expected one per "
                                        f"edge ({ne},) or one-hot ({ne}, 2)" + ("" if edge_labels != "auto" else
                                                           f" (the graphs have a field {EDGE_LABEL})")
                                        + _transform_note(dataset, field))
        elif y is None:
            first_missing = i if first_missing is None else first_missing
            continue
        edge = _per_edge(y, ne)
        other = not torch.is_tensor(y) or y.dim() == 0 or y.shape[0] in (g.num_nodes, 1)
        if edge and _label_problem(field, y):
            if explicit:
                _refuse_labels(name, i, field, y)
            first_nonbinary = i if first_nonbinary is None else first_nonbinary
        if edge:
            one_hot.setdefault(_one_hot(y), i)
            true_edges[i] = float(flat_labels(y).sum())
        if edge and not other and first_edge_only is None:
            first_edge_only = i
        if not edge and first_not_edge is None:
            first_not_edge = i
    label_field = _edge_label_field(name, dataset, edge_labels, explicit, first_edge_only, first_not_edge,
                                    first_missing)
    if label_field is not None and first_nonbinary is not None:
        _refuse_labels(name, first_nonbinary, label_field, getattr(dataset[first_nonbinary], label_field))
    if label_field is not None and len(one_hot) == 2:
        a, b = one_hot[True], one_hot[False]
        raise InvalidSizesError(f"{name!r}: graph {a} has one-hot edge labels {label_field} (num_edges, 2), graph {b} "
                                f"one per edge: store them one way in every graph (one 0/1 label per edge: "
                                f"data.{label_field} = data.{label_field}.argmax(-1) where one-hot)")
    if unbatchable is not None:  # after the label checks, whose messages say more about the label fields
        raise InvalidSizesError(unbatchable)
    assert widths is not None  # set by graph 0
    return GraphFields(*widths, edge_labels=label_field, sizes=sizes,
                       one_hot=label_field is not None and one_hot.get(True) is not None,
                       true_edges=None if label_field is None else true_edges)


def _transform_note(dataset: Any, field: str) -> str:
    """Where a PyG dataset has a ``transform``, that it runs on every graph handed out: a transform that
    adds or removes edges (``AddSelfLoops``, ``ToUndirected`` without the labels among its keys) leaves
    ``field`` one per stored edge, and is the likely cause of a label count unlike the edge count."""
    transform = getattr(dataset, "transform", None)
    if transform is None:
        return ""
    return (f"; the dataset's transform {transform!r} runs on every graph it hands out: if it adds or removes "
            f"edges, it must change {field} with them (or apply it before saving the graphs, with {field} "
            "updated, and drop it)")


def _refuse_labels(name: str, index: int, field: str, y: torch.Tensor) -> None:
    # a field of other per-edge values (a bond length to regress, edge classes) may be no edge labels at all
    raise InvalidSizesError(f"{name!r}: graph {index}: {_label_problem(field, y)}; or, where {field} holds no edge "
                            "labels, measure memory and time only (edge_labels=None, --edge-labels none)")


def _edge_label_field(name, dataset, edge_labels, explicit, edge_only, not_edge, missing) -> str | None:
    if edge_labels is None:
        return None
    if explicit:
        return explicit
    if edge_only is not None:
        if not_edge is not None:
            g = dataset[not_edge]
            raise InvalidSizesError(
                f"{name!r}: graph {edge_only} has one y per edge, graph {not_edge} has y of shape "
                f"{_shape(g.y)} with {g.num_nodes} nodes and {g.edge_index.shape[1]} edges: y must label the "
                "edges of every graph (or none: then the run measures memory and time only)")
        if missing is not None:
            raise InvalidSizesError(f"{name!r}: graph {missing} has no y, graph {edge_only} has one per edge: "
                                    "give every graph its edge labels, or none")
        return "y"
    if not_edge is not None or missing is not None:
        return None  # node or graph labels, or none: memory and time only
    raise InvalidSizesError(
        f"{name!r}: y has as many entries as edges and as nodes (or one per graph) in every graph, so it is "
        f"not clear that it labels edges; store edge labels as data.{EDGE_LABEL} (or pass edge_labels='y', --edge-labels y), "
        "or measure memory and time only (edge_labels=None, --edge-labels none)")
