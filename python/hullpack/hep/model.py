"""The Exa.TrkX Interaction Network: an edge classifier for hit graphs.

Node and edge features are encoded by MLPs, then ``num_steps`` rounds of message passing update
every edge from its two end nodes and itself, and every node from the sums of its incoming and
outgoing edges (both with residual connections); a final MLP of each edge and its two end nodes
gives one logit per edge (true track segment or not).

>>> import torch
>>> from hullpack.hep import event_graph
>>> from hullpack.hep.model import InteractionNetwork
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> g = event_graph("low", seed=0, index=0)
>>> model = InteractionNetwork(hidden=16, num_steps=2)
>>> model(g).shape == (g.num_edges,)
True
"""
from __future__ import annotations

import torch
from torch import nn


def mlp(sizes: list[int], *, final_activation: bool = True) -> nn.Sequential:
    """Linear layers with LayerNorm + ReLU between them (and after the last, unless told not to)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or final_activation:
            layers += [nn.LayerNorm(b), nn.ReLU()]
    return nn.Sequential(*layers)


class InteractionNetwork(nn.Module):
    """Edge classifier: ``forward(data) -> logits (num_edges,)`` for a PyG ``Data``/``Batch`` with
    ``x (N, node_features)``, ``edge_index (2, E)`` and ``edge_attr (E, edge_features)``.

    ``hidden`` is the width of every MLP, ``num_steps`` the rounds of message passing,
    ``mlp_layers`` the hidden layers per MLP.
    """

    def __init__(self, node_features: int = 3, edge_features: int = 4, hidden: int = 32,
                 num_steps: int = 3, mlp_layers: int = 2):
        super().__init__()
        if min(node_features, hidden, num_steps, mlp_layers) < 1 or edge_features < 0:
            raise ValueError("node_features, hidden, num_steps and mlp_layers must be >= 1")
        self.node_features, self.edge_features = node_features, edge_features
        h = [hidden] * mlp_layers
        self.node_encoder = mlp([node_features] + h)
        self.edge_encoder = mlp([2 * node_features + edge_features] + h)
        self.edge_net = nn.ModuleList(mlp([3 * hidden] + h) for _ in range(num_steps))
        self.node_net = nn.ModuleList(mlp([3 * hidden] + h) for _ in range(num_steps))
        self.classifier = mlp([3 * hidden] + h + [1], final_activation=False)

    def forward(self, data) -> torch.Tensor:
        self._check_widths(data)
        first = self.node_encoder[0]
        assert isinstance(first, nn.Linear)  # mlp() starts with one
        dtype = first.weight.dtype
        x, (src, dst) = _as(data.x, dtype), data.edge_index
        e_in = [x[src], x[dst]]
        if self.edge_features:
            e_in.append(_as(data.edge_attr, dtype))
        h = self.node_encoder(x)
        e = self.edge_encoder(torch.cat(e_in, dim=1))
        for edge_net, node_net in zip(self.edge_net, self.node_net):
            e = e + edge_net(torch.cat([h[src], h[dst], e], dim=1))
            incoming = torch.zeros_like(h).index_add_(0, dst, e)
            outgoing = torch.zeros_like(h).index_add_(0, src, e)
            h = h + node_net(torch.cat([h, incoming, outgoing], dim=1))
        return self.classifier(torch.cat([h[src], h[dst], e], dim=1)).squeeze(-1)

    def _check_widths(self, data) -> None:
        """Refuse graphs whose ``x`` or ``edge_attr`` is not as wide as the model was built for, naming
        the widths to build it with (torch's words, "mat1 and mat2 shapes cannot be multiplied" or an
        AttributeError of None, name neither the field nor the fix)."""
        x, ea = getattr(data, "x", None), getattr(data, "edge_attr", None)
        node = int(x.shape[1]) if torch.is_tensor(x) and x.dim() == 2 else None
        edge = int(ea.shape[1]) if torch.is_tensor(ea) and ea.dim() == 2 else 0
        if node == self.node_features and (edge == self.edge_features or self.edge_features == 0):
            return  # edge_attr left out by a model built without edge features: its builder's choice
        has = "no x" if x is None else f"x of shape {tuple(x.shape)}"
        has += f", edge_attr of shape {tuple(ea.shape)}" if torch.is_tensor(ea) else ", no edge_attr"
        fix = "" if node is None else \
            f": build it for these graphs, InteractionNetwork(node_features={node}, edge_features={edge}, ...)"
        raise ValueError(f"the graphs have {has}; the model takes {self.node_features} node features and "
                         f"{self.edge_features} edge features{fix} (hullpack.hep.model.feature_widths(dataset) "
                         "reads both)")


def _as(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    # integer features (atom and bond types, as OGB's molecules have) enter the MLPs as numbers, and
    # float64 ones (numpy's default) in the model's precision
    return t if t.dtype == dtype else t.to(dtype)


def feature_widths(dataset) -> tuple[int, int]:
    """``(node_features, edge_features)`` of a dataset's graphs for :class:`InteractionNetwork`:
    the width of ``x`` and of ``edge_attr`` (0 where the graphs have none), read from the first graph
    (:func:`~hullpack.hep.checks.check_graphs` checks all of them).

    >>> from torch_geometric.data import Data
    >>> feature_widths([Data(x=torch.zeros(4, 7), edge_index=torch.zeros(2, 3, dtype=torch.long))])
    (7, 0)
    >>> feature_widths([Data(x=torch.zeros(4), edge_index=torch.zeros(2, 3, dtype=torch.long))])
    Traceback (most recent call last):
    ...
    hullpack.errors.InvalidSizesError: graph 0: node features x have shape (4,), expected (num_nodes, features); for one feature per node set data.x = data.x.unsqueeze(-1)
    """
    from .checks import check_graph

    return check_graph(dataset[0], "graph 0")
