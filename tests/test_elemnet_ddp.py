"""ElemNet DDP training on CPU (gloo): two processes, hullpack's distributed sampler."""
from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, run_dir):
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world),
                      RANK=str(rank), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    import hullpack.samplers  # noqa: F401  (train falls back to torch's sampler without it)
    from hullpack.elemnet import train

    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(86) * 0.1, 600).astype(np.float32)
    y = (x @ rng.normal(size=86)).astype(np.float32)
    res = train(run_dir, train_data=(x[:500], y[:500]), val_data=(x[500:], y[500:]), epochs=3,
                batch_size=50, architecture="32x2D-1", dropout=(0.1,), seed=1, bf16=False)
    torch.save({"val_mae": res["history"][-1]["val_mae"], "epochs": len(res["history"]),
                "model": {k: v.clone() for k, v in res["model"].state_dict().items()}},
               os.path.join(run_dir, f"rank{rank}.pt"))
    import torch.distributed as dist

    assert not dist.is_initialized()  # train() ends the process group it made


@pytest.mark.slow
def test_ddp_two_ranks_agree_and_split_the_epoch(tmp_path):
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, start_method="spawn")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2))
    assert r0["epochs"] == r1["epochs"] == 3 and r0["val_mae"] == r1["val_mae"]
    for k in r0["model"]:  # DDP keeps the replicas identical
        assert torch.equal(r0["model"][k], r1["model"][k]), k
    import json

    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 3  # written once, by rank 0
    ck = torch.load(tmp_path / "last.pt", weights_only=True)
    assert ck["data"]["world_size"] == 2
    # 500 rows, batch 50 per rank, 2 ranks: 5 steps per epoch
    assert ck["schedule"]["step_count"] == 15
