"""A real two-process DDP run (gloo, localhost) with DistributedBalancedBatchSampler."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import torch.distributed as dist

HERE = os.path.dirname(os.path.abspath(__file__))

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


def test_two_process_ddp_training(tmp_path):
    sys.path.insert(0, HERE)
    try:
        from _ddp_train import N_ITEMS, item_sizes
    finally:
        sys.path.remove(HERE)
    env = dict(os.environ, OMP_NUM_THREADS="1", HULLPACK_QUIET="1")
    res = subprocess.run([sys.executable, os.path.join(HERE, "_ddp_train.py"), str(tmp_path), "2"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    sizes = item_sizes()

    assert len(r0["epochs"]) == len(r1["epochs"]) == 3
    for e0, e1 in zip(r0["epochs"], r1["epochs"]):
        # same number of steps on both ranks, equal to len() announced before the epoch
        assert len(e0["steps"]) == len(e1["steps"]) == e0["len"] == e1["len"] > 0
        seen = sorted(i for step in e0["steps"] + e1["steps"] for i in step)
        assert seen == list(range(N_ITEMS)), f"{e0['mode']} epoch {e0['epoch']}: indices not exactly once"
        if e0["mode"] == "packed":
            assert all(sizes[s].sum() <= 120.0 for s in e0["steps"] + e1["steps"])
        # the two batches of a step cost nearly the same
        c0 = np.array([sizes[s].sum() for s in e0["steps"]])
        c1 = np.array([sizes[s].sum() for s in e1["steps"]])
        assert np.median(np.abs(c0 - c1) / np.maximum(c0, c1)) < 0.05
        assert all(np.isfinite(e0["losses"]))
    balanced = [e for e in r0["epochs"] if e["mode"] == "balanced"]
    assert balanced[0]["steps"] != balanced[1]["steps"]  # set_epoch changed the batches
    losses = [loss for e in r0["epochs"] for loss in e["losses"]]
    assert np.mean(losses[-5:]) < np.mean(losses[:5])  # it learned
    # DDP kept the replicas in sync, so every rank took part in every step
    assert r0["param_sum"] == pytest.approx(r1["param_sum"], rel=1e-12)
