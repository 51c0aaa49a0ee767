"""The memory study read as a physicist reads it: undefined metrics are said so, not printed as 0."""
import math

import numpy as np
import pytest
import torch

pytest.importorskip("torch_geometric")
from torch_geometric.data import Data

from hullpack.hep.train import evaluate
from test_hep import one_thread  # noqa: F401  (autouse: tiny graphs train on one thread)


class Constant(torch.nn.Module):
    """An edge classifier that gives every edge the same logit."""

    def __init__(self, logit):
        super().__init__()
        self.logit = logit
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, batch):
        return torch.full((batch.num_edges,), float(self.logit)) + self.w


def _graphs(count=4, true=True, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for n in rng.integers(5, 20, count).tolist():
        e = 3 * n
        y = torch.from_numpy(rng.integers(0, 2, e)).float() if true else torch.zeros(e)
        out.append(Data(x=torch.randn(n, 3), edge_index=torch.from_numpy(rng.integers(0, n, (2, e))), y=y))
    return out


def test_precision_is_undefined_where_no_edge_is_predicted_true():
    # a classifier that calls every edge false has found none of the true edges (recall 0), but has
    # made no wrong call either: its precision is undefined, not 0
    val = evaluate(Constant(-10.0), _graphs())
    assert val["recall"] == 0 and math.isnan(val["precision"])
    val = evaluate(Constant(10.0), _graphs())
    assert val["recall"] == 1 and 0 < val["precision"] < 1


def test_recall_is_undefined_where_no_edge_is_true():
    val = evaluate(Constant(10.0), _graphs(true=False))
    assert val["precision"] == 0 and math.isnan(val["recall"]) and math.isnan(val["auc"])



def test_the_torchrun_entry_point_prints_strict_json_where_a_metric_is_undefined(monkeypatch, capsys):
    import importlib
    import json

    hep_train = importlib.import_module("hullpack.hep.train")  # the module, not hullpack.hep's train function

    def fake_train(model, train_set, sampler, **kw):
        val = {"precision": float("nan"), "recall": 0.0, "auc": float("nan"), "loss": 0.1}
        return {"steps": [{"peak_bytes": 1}], "epochs": [], "val": val}

    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setattr(hep_train, "train", fake_train)
    assert hep_train.main(["--events", "10", "--batch-size", "2"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    out = json.loads(line, parse_constant=lambda c: pytest.fail(f"not strict JSON: {c}"))
    assert out["val"] == {"precision": None, "recall": 0.0, "auc": None, "loss": 0.1}


def test_an_empty_file_and_a_numpy_file_are_refused_saying_what_they_are(tmp_path):
    from hullpack.hep.datasets import load_dataset

    (tmp_path / "events.pt").write_bytes(b"")
    with pytest.raises(ValueError, match=r"events\.pt.*the file is empty \(0 bytes\)"):
        load_dataset(str(tmp_path / "events.pt"))
    np.savez(tmp_path / "events.npz", x=np.zeros((3, 3)), edge_index=np.zeros((2, 1), dtype=int))
    with pytest.raises(ValueError, match=r"a \.npz file is not one torch\.save writes: build torch_geometric Data"):
        load_dataset(str(tmp_path / "events.npz"))


def test_the_step_plot_draws_the_budget_behind_packed_batches_that_fill_it(tmp_path, monkeypatch):
    import matplotlib.figure

    from hullpack.hep.study import StudyConfig, plot, run_study

    config = StudyConfig(strategies=("random", "packed"), batch_size=4, epochs=1, hidden=8, num_steps=1)
    table, details = run_study({"g": _graphs(20)}, config)
    figures = []
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda fig, *a, **k: figures.append(fig))
    plot(table, details, str(tmp_path / "m.png"))
    lines = {line.get_label(): line for line in figures[0].axes[1].get_lines()}
    assert lines["budget"].get_zorder() < lines["packed"].get_zorder()
    assert lines["largest graph alone (predicted)"].get_zorder() < lines["random"].get_zorder()
