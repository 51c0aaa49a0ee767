"""DistributedBalancedBatchSampler: a real two-process DDP run (gloo, localhost), and every rank's
batches on data sets too small for the ranks (fewer items, or fewer packed batches, than ranks)."""
import collections
import hashlib
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import torch.distributed as dist
from torch.utils.data import DistributedSampler

from hullpack.errors import DistributedConfigError, InvalidSizesError
from hullpack.samplers import BalancedBatchSampler, DistributedBalancedBatchSampler, PackedBatchSampler

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
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


def _mismatched_run(tmp_path, case):
    env = dict(os.environ, OMP_NUM_THREADS="1", HULLPACK_QUIET="1")
    res = subprocess.run([sys.executable, os.path.join(HERE, "_ddp_train.py"), str(tmp_path), "2", case],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
@pytest.mark.parametrize("case, says", [
    ("order", r"rank 1: as many items \(203\) of other costs: other sizes, the same sizes in another order, or "
              r"another cost model"),
    ("length", r"rank 1: 202 items, rank 0 203"),
])
def test_ranks_built_from_different_sizes_are_refused_on_every_rank(tmp_path, case, says):
    """Ranks whose sizes differ (another order, another length) would train some items twice and
    others never: the first batch raises on every rank, naming the ranks and the difference, both for
    DistributedBalancedBatchSampler and for a plain sampler re-created for a rank (Lightning)."""
    for record in _mismatched_run(tmp_path, case):
        for name in ("distributed", "lightning"):
            error = record[name].get("error", "")
            assert error.startswith("DistributedConfigError"), (record["rank"], name, record[name])
            assert re.search(says, error) and "check_ranks=False" in error


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                    reason="torch.distributed with gloo is not available")
def test_ranks_built_from_the_same_sizes_run_and_check_ranks_false_skips_the_check(tmp_path):
    same = _mismatched_run(tmp_path, "same")
    for name in ("distributed", "lightning"):
        seen = sorted(i for record in same for b in record[name]["batches"] for i in b)
        assert seen == list(range(203))
    # what the check guards against: with it off, other orders give items twice and others never
    off = _mismatched_run(tmp_path, "opt-out")
    seen = collections.Counter(i for record in off for b in record["distributed"]["batches"] for i in b)
    assert len(seen) < 203 and max(seen.values()) > 1


RANK_SCRIPT = r"""
import datetime, json, os, sys, time
import numpy as np
import torch.distributed as dist
from torch.utils.data import DistributedSampler
from hullpack.samplers import DistributedBalancedBatchSampler, PackedBatchSampler

rank, world, case, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
absent = int(case[-1]) if case[-1].isdigit() else None  # the rank that does not iterate (in time)
dist.init_process_group("gloo", init_method="file://" + os.path.join(out, "rendezvous"), rank=rank,
                        world_size=world, timeout=datetime.timedelta(seconds=6))
sizes = np.random.default_rng(0).lognormal(2.5, 0.8, 101).round() + 1
record = {}
others = [os.path.join(out, f"rank{q}.json") for q in range(world) if q != absent]
if rank == absent:  # wait (in another part of its training, say) until the others have reported
    deadline = time.time() + 100
    while not all(map(os.path.exists, others)) and time.time() < deadline:
        time.sleep(0.2)
if rank != absent or case.startswith("late"):
    for name, build in [("distributed", lambda: DistributedBalancedBatchSampler(sizes, 8, seed=3)),
                        ("packed", lambda: PackedBatchSampler(sizes, max_cost=120.0, seed=3,
                                                              sampler=DistributedSampler(range(101), seed=3)))]:
        try:
            record[name] = {"batches": list(build())}
        except Exception as exc:
            record[name] = {"error": f"{type(exc).__name__}: {exc}"}
if case == "same":  # once every rank has read both checks, their keys are gone: only the turn counters stay
    dist.barrier()
    store = dist.distributed_c10d._get_default_store()
    turn_keys = [f"hullpack/check_ranks/{t}/{k}" for t in (1, 2) for k in [*range(world), "arrived", "read"]]
    record["left"] = [k for k in turn_keys if store.check([k])]
    record["counters"] = store.check([f"hullpack/check_ranks/rank{q}" for q in range(world)])
with open(os.path.join(out, f"rank{rank}.json.part"), "w") as f:
    json.dump(record, f)
os.replace(os.path.join(out, f"rank{rank}.json.part"), os.path.join(out, f"rank{rank}.json"))
"""


def _ranks_run(tmp_path, world, case):
    """Run ``world`` processes of one gloo group (timeout 6 s) that build two samplers from the same
    sizes; ``case`` "skipN": rank N never iterates them, "lateN": rank N iterates them only after
    the others have reported, "same": every rank iterates them. What each rank got, by rank."""
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1", HULLPACK_QUIET="1")
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(world), case, str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
             for r in range(world)]
    logs = [p.communicate(timeout=150)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), logs
    return [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(world)]


needs_gloo = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


@pytest.mark.slow
@needs_gloo
@pytest.mark.parametrize("world, absent", [(3, 1), (2, 0)])
def test_a_rank_that_never_iterates_is_named_after_the_groups_timeout(tmp_path, world, absent):
    """The check once waited in a collective the absent rank never joined (a bare gloo timeout, or no
    end under NCCL): now the ranks that iterate raise after the group's timeout, naming the absent
    rank and check_ranks=False, for a DistributedBalancedBatchSampler and a plain sampler re-created
    for a rank."""
    records = _ranks_run(tmp_path, world, f"skip{absent}")
    assert records[absent] == {}
    for rank in set(range(world)) - {absent}:
        for name in ("distributed", "packed"):
            error = records[rank][name].get("error", "")
            assert error.startswith("DistributedConfigError"), (rank, name, records[rank][name])
            assert f"rank {absent} of this torch.distributed group did not take a first batch" in error
            assert "timeout (0:00:06)" in error and "check_ranks=False" in error


@pytest.mark.slow
@needs_gloo
def test_a_rank_that_comes_after_the_others_gave_up_raises_too(tmp_path):
    """A rank that takes its first batch after the others stopped waiting does not go on alone."""
    records = _ranks_run(tmp_path, 2, "late1")
    assert "rank 1 of this torch.distributed group did not take" in records[0]["distributed"]["error"]
    for name in ("distributed", "packed"):
        error = records[1][name].get("error", "")
        assert error.startswith("DistributedConfigError: "), (name, records[1][name])
        assert "stopped waiting for rank 1" in error and "check_ranks=False" in error


@pytest.mark.slow
@needs_gloo
def test_ranks_that_all_iterate_get_the_batches_of_their_rank(tmp_path):
    records = _ranks_run(tmp_path, 3, "same")
    sizes = np.random.default_rng(0).lognormal(2.5, 0.8, 101).round() + 1
    for r, record in enumerate(records):
        expect = DistributedBalancedBatchSampler(sizes, 8, seed=3, num_replicas=3, rank=r)
        assert record["distributed"]["batches"] == list(expect)
        assert "error" not in record["packed"]
        assert record["left"] == [] and record["counters"] is True  # the checks' keys removed, bar the counters
    seen = sorted(i for record in records for b in record["distributed"]["batches"] for i in b)
    assert seen == list(range(101))


# ------------------------------------------------------------------------------------------------
# Data sets too small for the ranks
# ------------------------------------------------------------------------------------------------

def rank_batches(sizes, R, epoch=0, **kw):
    samplers = [DistributedBalancedBatchSampler(sizes, num_replicas=R, rank=r, **kw) for r in range(R)]
    for s in samplers:
        s.set_epoch(epoch)
    return samplers, [list(s) for s in samplers]


def packed_count(sizes, kw):
    """The batches PackedBatchSampler gives the items in every epoch."""
    return len(PackedBatchSampler(sizes, kw["max_cost"], shuffle=kw["shuffle"], seed=kw["seed"]))


def global_batches(sizes, R, kw):
    """The batches of an epoch, all ranks together, as the docs give them: for batch_size, the
    steps of batch_size x R items; for max_cost, PackedBatchSampler's count, rounded to a multiple
    of R (up, or down with drop_last, but to no fewer than R when there are R items or more)."""
    if "batch_size" in kw:
        per_step = R * kw["batch_size"]
        return (len(sizes) // per_step if kw["drop_last"] else -(-len(sizes) // per_step)) * R
    most = packed_count(sizes, kw)
    if kw["drop_last"]:
        return most // R * R or (R if len(sizes) >= R else 0)
    return -(-most // R) * R


def check_small(sizes, R, **kw):
    """Every promise of the docs for one setting, over two epochs; the batches for the digest."""
    n, out = len(sizes), []
    G = global_batches(sizes, R, kw)
    if kw["drop_last"] and G == 0:  # some rank would have no batch: refused, naming drop_last
        with pytest.raises(InvalidSizesError, match="drop_last=True"):
            DistributedBalancedBatchSampler(sizes, num_replicas=R, rank=0, **kw)
        return "refused"
    # drop_last on a packing into fewer batches than ranks: split to one a rank, none left out
    keeps_all = kw["drop_last"] and "max_cost" in kw and packed_count(sizes, kw) < R
    for epoch in (0, 3):
        samplers, per_rank = rank_batches(sizes, R, epoch, **kw)
        # the same number of batches on every rank, as len() says before the epoch, none empty
        assert [len(b) for b in per_rank] == [len(s) for s in samplers] == [G // R] * R
        assert all(len(b) >= 1 for batches in per_rank for b in batches)
        seen = collections.Counter(i for batches in per_rank for b in batches for i in b)
        repeats = sum(seen.values()) - len(seen)
        info = samplers[0].stats()
        assert info["global_batches"] == G
        assert all(s.stats()["padded_items"] == info["padded_items"] for s in samplers)
        pads = [(r, j) for r, s in enumerate(samplers) for j in s.padded_batches()]
        if kw["drop_last"]:  # nothing repeated; the rest sits out
            assert repeats == info["padded_items"] == 0 and pads == []
            assert len(seen) == n - info["dropped_items"]
            if keeps_all:
                assert G == R and info["dropped_items"] == 0 and info["split_batches"] >= 1
            if "batch_size" in kw:
                assert all(len(b) == kw["batch_size"] for batches in per_rank for b in batches)
        else:  # every item, and exactly G - n repeats where there are fewer items than batches
            assert sorted(seen) == list(range(n))
            assert repeats == info["padded_items"] == max(0, G - n) < R
            # the repeats are whole single-item batches, those padded_batches() names; without them
            # every item is there once
            assert len(pads) == repeats and all(len(per_rank[r][j]) == 1 for r, j in pads)
            rest = collections.Counter(i for r, batches in enumerate(per_rank) for j, b in enumerate(batches)
                                       if (r, j) not in pads for i in b)
            assert rest == collections.Counter(range(n))
            assert max(seen.values()) - 1 <= -(-repeats // n)
            if not kw["shuffle"]:  # the lowest indices repeat, cycling through the items
                assert seen - rest == collections.Counter(np.resize(np.arange(n), repeats).tolist())
        # a function of seed and epoch: new samplers give the same batches
        assert rank_batches(sizes, R, epoch, **kw)[1] == per_rank
        out.append(per_rank)
    return out


SMALL_N = (1, 2, 3, 4, 5, 7, 8, 9, 13, 31)
SMALL_R = (2, 3, 4, 8)


def small_sizes(kind, n):
    rng = np.random.default_rng(100 + n)
    return {"unit": np.ones(n), "lognormal": rng.lognormal(3.0, 1.0, n),
            "integer": rng.integers(1, 40, n).astype(float)}[kind]


@pytest.mark.parametrize("kind", ["unit", "lognormal", "integer"])
@pytest.mark.parametrize("batch_size", [1, 2, 3, 16])
def test_balanced_on_data_sets_too_small_for_the_ranks(kind, batch_size):
    for n in SMALL_N:
        for R in SMALL_R:
            for drop_last in (False, True):
                for shuffle in (True, False):
                    check_small(small_sizes(kind, n), R, batch_size=batch_size, drop_last=drop_last,
                                shuffle=shuffle, seed=n + R)


@pytest.mark.parametrize("kind", ["unit", "lognormal", "integer"])
@pytest.mark.parametrize("slack", [1.0, 1.7, 4.0, 1e4])  # max_cost = slack x the largest item
def test_packed_on_data_sets_too_small_for_the_ranks(kind, slack):
    for n in SMALL_N:
        for R in SMALL_R:
            for drop_last in (False, True):
                for shuffle in (True, False):
                    sizes = small_sizes(kind, n)
                    check_small(sizes, R, max_cost=slack * float(sizes.max()), drop_last=drop_last,
                                shuffle=shuffle, seed=n + R)


def test_packed_splits_batches_again_before_it_repeats_an_item():
    # 200 items that fit one batch, 8 ranks: split into 8 batches of 25 (one split and six
    # single-item repeats before: two ranks ran 100 items, six ran one)
    samplers, per_rank = rank_batches(np.ones(200), 8, max_cost=1e3, seed=0)
    assert [sorted(len(b) for b in batches) for batches in per_rank] == [[25]] * 8
    assert sorted(i for batches in per_rank for b in batches for i in b) == list(range(200))
    assert (samplers[0].stats()["padded_items"], samplers[0].stats()["split_batches"]) == (0, 7)
    # ten items that fill a batch each and five small ones in one of them: 12 batches for 4 ranks
    # from 15 items: the batch of six split in two, its five small ones again (one repeat before)
    sizes = np.r_[np.full(10, 0.9), np.full(5, 0.02)]
    samplers, per_rank = rank_batches(sizes, 4, max_cost=1.0, shuffle=False)
    assert sorted(len(b) for batches in per_rank for b in batches) == [1] * 10 + [2, 3]
    assert sorted(i for batches in per_rank for b in batches for i in b) == list(range(15))
    assert (samplers[0].stats()["padded_items"], samplers[0].stats()["split_batches"]) == (0, 2)
    # without the small ones the 10 items cannot make 12 batches: 2 repeat, items 0 and 1
    samplers, per_rank = rank_batches(np.full(10, 0.9), 4, max_cost=1.0, shuffle=False)
    assert samplers[0].stats()["padded_items"] == 2
    pads = [per_rank[r][j] for r, s in enumerate(samplers) for j in s.padded_batches()]
    assert sorted(pads) == [[0], [1]]


def test_items_left_out_as_oversize_are_not_counted_as_batched():
    sizes = np.r_[np.ones(3), 50.0, 60.0]
    with pytest.warns(UserWarning, match="left out"):
        samplers, per_rank = rank_batches(sizes, 4, max_cost=10.0, oversize="skip")
    seen = collections.Counter(i for batches in per_rank for b in batches for i in b)
    assert sorted(seen) == [0, 1, 2] and sum(seen.values()) == 4  # 3 items, 4 ranks: 1 repeat
    assert samplers[0].stats()["padded_items"] == 1 and samplers[0].stats()["oversize_skipped"] == 2
    with pytest.warns(UserWarning, match="a batch of its own"):
        samplers, per_rank = rank_batches(sizes, 4, max_cost=10.0, oversize="alone")
    assert sorted(i for batches in per_rank for b in batches for i in b) == [0, 1, 2, 3, 4]
    assert samplers[0].stats()["padded_items"] == 0


@pytest.mark.parametrize("mode", ["balanced", "packed"])
def test_uneven_ranks_give_every_item_once(mode):
    """even=False (prediction): no repeats, every item in one batch of one rank, the ranks' counts at
    most one apart, a rank without a batch only where there are fewer items than ranks; settings
    that repeat nothing with even=True give its batches."""
    for kind in ("unit", "lognormal", "integer"):
        for n in SMALL_N:
            sizes = small_sizes(kind, n)
            for R in SMALL_R:
                for shuffle in (True, False):
                    for x in ((1, 2, 16) if mode == "balanced" else (1.0, 1.7, 1e4)):
                        kw = dict(shuffle=shuffle, seed=n + R)
                        kw.update(batch_size=x) if mode == "balanced" else kw.update(max_cost=x * sizes.max())
                        evens, even_batches = rank_batches(sizes, R, 3, **kw)
                        samplers, per_rank = rank_batches(sizes, R, 3, even=False, **kw)
                        counts = [len(b) for b in per_rank]
                        assert counts == [len(s) for s in samplers] and max(counts) - min(counts) <= 1
                        assert min(counts) >= 1 or n < R
                        assert sorted(i for batches in per_rank for b in batches for i in b) == list(range(n))
                        info, padded = samplers[0].stats(), evens[0].stats()["padded_items"]
                        assert info["padded_items"] == 0 and all(s.padded_batches() == [] for s in samplers)
                        assert info["global_batches"] == sum(counts) == evens[0].stats()["global_batches"] - padded
                        if not padded:
                            assert per_rank == even_batches


def test_a_sampler_without_its_rank_says_how_to_get_one():
    if dist.is_available() and dist.is_initialized():
        pytest.skip("a process group is initialised in this process")
    with pytest.raises(DistributedConfigError, match=r"init_process_group\(\) first or pass num_replicas= and "
                       r"rank=.*Lightning or HF accelerate, give the DataLoader a BalancedBatchSampler.*"
                       r"after Accelerator\(\)"):
        DistributedBalancedBatchSampler(np.ones(5), 2)


def test_uneven_settings_are_checked():
    sizes = np.ones(5)
    with pytest.raises(ValueError, match="even=False keeps every item once.*drop_last=True"):
        DistributedBalancedBatchSampler(sizes, 1, num_replicas=2, rank=0, even=False, drop_last=True)
    with pytest.raises(ValueError, match="even: expected True, False or None"):
        DistributedBalancedBatchSampler(sizes, 1, num_replicas=2, rank=0, even="no")
    overrides = pytest.importorskip("lightning.pytorch.overrides.distributed")
    unrepeated = overrides.UnrepeatedDistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False)
    with pytest.raises(DistributedConfigError, match="even=True, but sampler= is a UnrepeatedDistributedSampler"):
        DistributedBalancedBatchSampler(sizes, 1, sampler=unrepeated, even=True)
    # the sampler Lightning passes to predict decides, for this sampler and the plain ones built for a rank
    uneven = DistributedBalancedBatchSampler(sizes, 1, sampler=unrepeated)
    plain = BalancedBatchSampler(sizes, 1, sampler=unrepeated)
    assert not uneven.even and list(uneven) == list(plain) == list(
        DistributedBalancedBatchSampler(sizes, 1, num_replicas=2, rank=1, even=False))
    assert len(uneven) == len(plain) == 2 and uneven.init_kwargs()["even"] is None
    # a state saved with other counts per rank is not loaded
    with pytest.raises(ValueError, match="other sizes, seed or settings"):
        DistributedBalancedBatchSampler(sizes, 1, num_replicas=2, rank=1).load_state_dict(uneven.state_dict())


def test_a_sampler_re_created_for_a_rank_reports_its_padded_batches():
    """Lightning re-creates a plain sampler for each rank (validation loaders too): it repeats and
    reports as the DistributedBalancedBatchSampler does."""
    sizes = np.array([4.0, 9.0, 2.0])
    for make in (lambda **kw: BalancedBatchSampler(sizes, 32, seed=1, **kw),
                 lambda **kw: PackedBatchSampler(sizes, 100.0, seed=1, **kw)):
        assert make().padded_batches() == []  # one process: never
        shares = [make(sampler=DistributedSampler(range(3), num_replicas=4, rank=r)) for r in range(4)]
        batches = [list(s) for s in shares]
        assert [len(b) for b in batches] == [1] * 4
        pads = [batches[r][j] for r, s in enumerate(shares) for j in s.padded_batches()]
        assert len(pads) == shares[0].stats()["padded_items"] == 1
        kept = sorted(i for r, s in enumerate(shares) for j, b in enumerate(batches[r])
                      if j not in s.padded_batches() for i in b)
        assert kept == [0, 1, 2]


def _digest(sizes, R, **kw):
    h = hashlib.sha256()
    samplers = [DistributedBalancedBatchSampler(sizes, num_replicas=R, rank=r, **kw) for r in range(R)]
    for epoch in (0, 1):
        for s in samplers:
            s.set_epoch(epoch)
            h.update(json.dumps(list(s)).encode())
    return h.hexdigest()[:16]


def _tiny_digest(mode):
    """A digest of every rank's batches and padded_batches() over epochs 0 and 3, for every small
    setting of ``mode`` that the samplers took before drop_last learned to split (the settings they
    refused are left out: check_small covers them)."""
    h = hashlib.sha256()
    for kind in ("unit", "lognormal", "integer"):
        for n in SMALL_N:
            sizes = small_sizes(kind, n)
            for R in SMALL_R:
                for drop_last in (False, True):
                    for shuffle in (True, False):
                        for x in ((1, 3) if mode == "balanced" else (1.0, 4.0, 1e4)):
                            kw = dict(drop_last=drop_last, shuffle=shuffle, seed=n + R)
                            kw.update(batch_size=x) if mode == "balanced" else kw.update(max_cost=x * sizes.max())
                            if drop_last and (n < R * x if mode == "balanced" else packed_count(sizes, kw) < R):
                                continue
                            samplers = [DistributedBalancedBatchSampler(sizes, num_replicas=R, rank=r, **kw)
                                        for r in range(R)]
                            for epoch in (0, 3):
                                for s in samplers:
                                    s.set_epoch(epoch)
                                    h.update(json.dumps([list(s), s.padded_batches()]).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("mode, digest", [("balanced", "d89f98393c2063cb"), ("packed", "5070beeddb18481f")])
def test_batches_of_data_sets_too_small_for_the_ranks_are_unchanged(mode, digest):
    """Digests recorded with the samplers of 62bc98a: the splitting rule moved into Budget.split,
    drop_last settings that now split instead of refusing, and prediction without repeats change
    nothing here. Packed: recorded again when rounded costs came to only order the items, the
    budget held on the real costs, and again when shuffled drop_last epochs came to leave out
    random items rather than the lightest batches' (CHANGELOG 0.2.0)."""
    assert _tiny_digest(mode) == digest


_LOGN = np.random.default_rng(0).lognormal(3, 1, 1000).round() + 1
_TWO = np.column_stack([_LOGN, (_LOGN * np.random.default_rng(1).uniform(2, 5, 1000)).round()])


@pytest.mark.parametrize("sizes, R, kw, digest", [
    (_LOGN, 4, dict(batch_size=16, seed=0), "98ba03ef99e5dff4"),
    (_LOGN, 3, dict(batch_size=7, seed=1, drop_last=True), "740896427cbc3ff9"),
    (_LOGN[:100], 3, dict(batch_size=1, seed=2), "310f51d070371842"),
    # shuffled packed digests (padded shape too) recorded again when rounded costs came to only
    # order the items, the budget held on the real costs (CHANGELOG 0.2.0); two budgets also when
    # their columns came to share one grid offset; packed drop_last also when shuffled epochs came
    # to leave out random items rather than the lightest batches'
    (_LOGN, 4, dict(max_cost=2000.0, seed=0), "0ceecb9ef0e20b2f"),
    (_LOGN, 3, dict(max_cost=1500.0, seed=3, drop_last=True), "ec8d2aef0781e737"),
    (_LOGN, 8, dict(max_cost=3000.0, shuffle=False), "1be778e20a45b8e8"),
    (_TWO, 2, dict(max_cost=[2000.0, 8000.0], seed=4), "455975941aa45b89"),
    (_LOGN, 4, dict(max_cost=4000.0, batch_cost="padded", seed=5), "aff5fc2677ca3ea0"),
], ids=["balanced", "balanced-drop-last", "balanced-bs1-padded", "packed", "packed-drop-last",
        "packed-unshuffled", "packed-two-budgets", "packed-padded-shape"])
def test_batches_of_typical_data_sets_are_unchanged(sizes, R, kw, digest):
    """Digests of every rank's batches over two epochs, recorded before the rule that splits batches
    again before it repeats items: inputs with enough items are not affected."""
    assert _digest(sizes, R, **kw) == digest
