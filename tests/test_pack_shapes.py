"""Batch cost shapes: hullpack.packing's sorted runs against references and brute force, and the
samplers' batch_cost= (padded, quadratic, BatchCost, MemoryModel, functions) with their guarantees."""
from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hullpack import packing, packing_runs
from hullpack.errors import InvalidInputError, InvalidSizesError, OversizeItemError
from hullpack.samplers import (
    BalancedBatchSampler,
    BatchCost,
    DistributedBalancedBatchSampler,
    LinearCost,
    MemoryModel,
    PackedBatchSampler,
)

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PADDED = (0, 1, 0, 0, 0, 0)


def flat(batches):
    return sorted(i for b in batches for i in b)


def padded_elements(lengths, batch):
    return len(batch) * lengths[batch].max()


# ---------------------------------------------------------------------------------------------
# references: the documented rules, written the obvious way
# ---------------------------------------------------------------------------------------------

def ref_cost(lengths, terms):
    su, pa, sq, ps, co, cs = terms
    m, L = len(lengths), max(lengths)
    return cs + co * m + m * (pa * L + ps * (L * L)) + su * sum(lengths) + sq * sum(x * x for x in lengths)


def ref_runs(lengths, terms, capacity, order=None):
    """Greedy cut of the items sorted by decreasing length (ties in `order`)."""
    seq = sorted(range(len(lengths)) if order is None else [int(i) for i in order], key=lambda i: -lengths[i])
    out, run, b = [0] * len(lengths), [], -1
    for i in seq:
        if run and ref_cost([lengths[j] for j in run + [i]], terms) <= capacity:
            run.append(i)
        else:
            run, b = [i], b + 1
        out[i] = b
    return out, b + 1


def fewest_batches(lengths, terms, capacity):
    """The exact optimum by dynamic programming over subsets (small n only)."""
    n = len(lengths)
    fits = [ref_cost([lengths[i] for i in range(n) if mask >> i & 1], terms) <= capacity if mask else True
            for mask in range(1 << n)]
    best = [0] + [n + 1] * ((1 << n) - 1)
    for mask in range(1, 1 << n):
        low = mask & -mask  # the batch holding the lowest item: any subset of mask containing it
        sub = mask
        while sub:
            if sub & low and fits[sub]:
                best[mask] = min(best[mask], best[mask ^ sub] + 1)
            sub = (sub - 1) & mask
    return best[-1]


terms_st = st.tuples(st.sampled_from([0.0, 1.0, 0.5]), st.sampled_from([0.0, 1.0, 2.0]),
                     st.sampled_from([0.0, 0.1]), st.sampled_from([0.0, 0.05]), st.sampled_from([0.0, 3.0]),
                     st.sampled_from([0.0, 5.0])).filter(lambda t: any(t[:5]))


@st.composite
def runs_case(draw, max_n=40):
    n = draw(st.integers(1, max_n))
    lengths = np.array(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)), dtype=float)
    terms = draw(terms_st)
    alone = max(ref_cost([x], terms) for x in lengths)
    # a budget must be > 0: where every item costs nothing (zero lengths, no per-item term) take 1
    capacity = (alone if alone > 0 else 1.0) * draw(st.sampled_from([1.0, 1.5, 3.0, 8.0]))
    order = draw(st.none() | st.permutations(range(n)).map(np.array))
    return lengths, terms, capacity, order


# ---------------------------------------------------------------------------------------------
# the kernels
# ---------------------------------------------------------------------------------------------

@FAST
@given(case=runs_case())
def test_pack_runs_equals_reference_within_budget(case):
    lengths, terms, capacity, order = case
    bins, n_bins = packing_runs.pack_runs(lengths, capacity, terms, order=order)
    assert (bins.tolist(), n_bins) == ref_runs(lengths.tolist(), terms, capacity, order)
    costs = packing_runs.run_costs(lengths, bins, n_bins, terms)
    assert costs.max() <= capacity
    assert np.bincount(bins, minlength=n_bins).min() >= 1
    for b in range(n_bins):
        assert costs[b] == pytest.approx(ref_cost(lengths[bins == b].tolist(), terms), rel=1e-12)


@FAST
@given(case=runs_case(max_n=8))
def test_sorted_runs_are_optimal_for_padded_costs_and_bounded_otherwise(case):
    lengths, terms, capacity, _ = case
    n_bins = packing_runs.pack_runs(lengths, capacity, terms)[1]
    best = fewest_batches(lengths.tolist(), terms, capacity)
    bound = packing_runs.lower_bound_runs(lengths, capacity, terms)
    assert bound <= best <= n_bins
    if terms[0] == 0 and terms[2] == 0:  # the padded family: greedy runs are optimal, the bound exact
        assert n_bins == best == bound


def test_sorted_runs_beat_sum_packing_on_padded_cost():
    # 3 long and 12 short: first fit by sum tops up the long ones' bins with short items, which
    # then cost the long length each.
    lengths = np.array([10.0] * 3 + [1.0] * 12)
    sum_bins, n_sum = packing.pack(lengths, 24.0)
    padded = packing_runs.run_costs(lengths, sum_bins, n_sum, PADDED)
    assert padded.max() >= 50  # e.g. [10, 10, 1, 1, 1, 1]: 6 x 10 against a padded budget of 24
    bins, n = packing_runs.pack_runs(lengths, 24.0, PADDED)
    assert n == 3 == packing_runs.lower_bound_runs(lengths, 24.0, PADDED)
    assert packing_runs.run_costs(lengths, bins, n, PADDED).tolist() == [20.0, 20.0, 11.0]


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(1, 9), min_size=2, max_size=8), n_batches=st.integers(1, 4),
       square=st.booleans())
def test_cut_sorted_gives_least_peak_and_least_total_for_equal_counts(lengths, n_batches, square):
    lengths = np.array(lengths, dtype=float)
    n = lengths.size
    n_batches = min(n_batches, n)
    terms = (0, 0, 0, 1, 0, 0) if square else PADDED
    bins = packing_runs.cut_sorted(lengths, n_batches)
    costs = packing_runs.run_costs(lengths, bins, n_batches, terms)
    counts = sorted(np.bincount(bins, minlength=n_batches).tolist())
    q, r = divmod(n, n_batches)
    assert counts == [q] * (n_batches - r) + [q + 1] * r
    best_peak = best_total = np.inf
    for assign in itertools.product(range(n_batches), repeat=n):  # every split with these cardinalities
        a = np.array(assign)
        if sorted(np.bincount(a, minlength=n_batches).tolist()) != counts:
            continue
        c = packing_runs.run_costs(lengths, a, n_batches, terms)
        best_peak, best_total = min(best_peak, c.max()), min(best_total, c.sum())
    assert costs.max() == best_peak
    if r == 0:  # every batch the same count: the runs also give the least total padding
        assert costs.sum() == best_total


def test_kernels_name_bad_input():
    with pytest.raises(InvalidInputError, match=r"terms\[1\] \(padded\)"):
        packing_runs.pack_runs([1.0, 2.0], 10, [0, -1, 0, 0, 0, 0])
    with pytest.raises(InvalidInputError, match="terms: expected 6 values"):
        packing_runs.pack_runs([1.0], 10, [1, 0])
    with pytest.raises(InvalidInputError, match=r"^terms\[1\] is missing \(None\): give six numbers, one per term"):
        packing_runs.pack_runs([1.0], 10, [0, None, 0, 0, 0, 0])  # was read as NaN and named as one
    with pytest.raises(OversizeItemError, match="item 1 .* alone costs 12"):
        packing_runs.pack_runs([1.0, 12.0], 10, PADDED)
    with pytest.raises(InvalidSizesError, match=r"lengths\[0\] is negative"):
        packing_runs.pack_runs([-1.0], 10, PADDED)
    with pytest.raises(InvalidInputError, match="n_batches=3 exceeds"):
        packing_runs.cut_sorted([1.0, 2.0], 3)
    with pytest.raises(OversizeItemError, match="item 0"):
        packing_runs.lower_bound_runs([11.0], 10, PADDED)


@pytest.mark.parametrize("keys, message", [([3.0, np.nan, 1.0], r"^keys\[1\] is not finite \(nan\)"),
                                          ([3.0, 2.0, -1.0], r"^keys\[2\] is negative \(-1.0\)")])
def test_cut_sorted_names_a_bad_key_as_the_other_functions_do(keys, message):
    """A NaN key raised the core's InvalidInputError; like pack_runs, cut_sorted raises
    InvalidSizesError naming the index and what to do."""
    with pytest.raises(InvalidSizesError, match=message + ": "):
        packing_runs.cut_sorted(keys, 2)
    with pytest.raises(InvalidSizesError, match=message.replace("keys", "lengths") + ": "):
        packing_runs.pack_runs(keys, 10, PADDED)


def test_run_costs_refuses_lengths_it_would_price_wrongly():
    """A batch is priced by its longest item: a NaN or negative length was left out of the price
    ([5, nan] cost 10 padded, [1, -3] cost 1 and 0) instead of being named."""
    with pytest.raises(InvalidSizesError, match=r"^lengths\[1\] is not finite \(nan\): every item needs a finite cost"):
        packing_runs.run_costs([5.0, np.nan, 1.0], [0, 0, 1], 2, PADDED)
    with pytest.raises(InvalidSizesError, match=r"^lengths\[1\] is negative \(-3.0\): costs must be >= 0"):
        packing_runs.run_costs([1.0, -3.0], [0, 1], 2, PADDED)
    assert packing_runs.run_costs([5.0, 7.0, 1.0], [0, 0, 1], 2, PADDED).tolist() == [14.0, 1.0]


# ---------------------------------------------------------------------------------------------
# BatchCost
# ---------------------------------------------------------------------------------------------

def test_batch_cost_values_and_checks():
    assert BatchCost(padded=1)([5, 3, 2]) == 15.0
    assert BatchCost(padded_square=2, count=1, const=4)([3, 1]) == 4 + 2 + 2 * 2 * 9
    assert BatchCost(sum=1, square=1)([2, 3]) == 5 + 13
    assert BatchCost(padded=1).terms == (0.0, 1.0, 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="BatchCost.square = -1"):
        BatchCost(square=-1)
    with pytest.raises(ValueError, match="BatchCost.padded = nan"):
        BatchCost(padded=float("nan"))
    with pytest.raises(ValueError, match="every term that grows with the batch is 0"):
        BatchCost(const=3)
    with pytest.raises(ValueError, match="BatchCost.count: expected a number"):
        BatchCost(count=True)


def test_batch_cost_fit_recovers_known_terms():
    rng = np.random.default_rng(3)
    probes = [rng.integers(5, 300, size=int(m)) for m in rng.integers(1, 40, 15)]
    truth = BatchCost(padded=2.5e4, padded_square=30.0, count=1e3, const=1e8)
    fitted = BatchCost.fit(probes, [truth(b) for b in probes], terms=("padded", "padded_square", "count", "const"))
    for name in ("padded", "padded_square", "count", "const"):
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), rel=1e-6)
    with pytest.raises(InvalidSizesError, match="cannot separate the terms"):
        BatchCost.fit([np.array([5, 5])] * 3, [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="terms: expected some of"):
        BatchCost.fit(probes, [1.0] * 15, terms=("padding",))


# ---------------------------------------------------------------------------------------------
# PackedBatchSampler with batch_cost
# ---------------------------------------------------------------------------------------------

DOC_LENGTHS = np.random.default_rng(1).integers(5, 200, 2_000)  # docs/samplers.md, the plain PyTorch loop


def test_docs_padded_example_holds_the_padded_budget_every_epoch():
    summed = PackedBatchSampler(DOC_LENGTHS, max_cost=4096, seed=0)
    assert max(padded_elements(DOC_LENGTHS, b) for b in summed) > 4096  # what the issue reported
    padded = PackedBatchSampler(DOC_LENGTHS, max_cost=4096, batch_cost="padded", seed=0)
    seen = []
    for epoch in range(4):
        padded.set_epoch(epoch)
        batches = list(padded)
        assert flat(batches) == list(range(DOC_LENGTHS.size))
        assert max(padded_elements(DOC_LENGTHS, b) for b in batches) <= 4096
        assert len(batches) <= 1.03 * padded.stats()["lower_bound"]
        seen.append(batches)
    assert seen[0] != seen[1] and sorted(map(sorted, seen[0])) != sorted(map(sorted, seen[1]))
    # Without shuffle the greedy runs reach the optimum, which the bound equals for padded costs.
    fixed = PackedBatchSampler(DOC_LENGTHS, max_cost=4096, batch_cost="padded", shuffle=False)
    s = fixed.stats()
    assert s["num_batches"] == s["lower_bound"] and s["peak_cost"] <= 4096 and s["padding_fill"] > 0.9


@FAST
@given(lengths=st.lists(st.integers(0, 50), min_size=1, max_size=120), slack=st.floats(1.0, 6.0),
       shape=st.sampled_from(["padded", "quadratic", "padded-quadratic"]), seed=st.integers(0, 99),
       epoch=st.integers(0, 9))
def test_shaped_packing_every_index_once_within_budget(lengths, slack, shape, seed, epoch):
    lengths = np.array(lengths, dtype=float)
    cost = BatchCost(**{"padded": {"padded": 1}, "quadratic": {"square": 1},
                        "padded-quadratic": {"padded_square": 1}}[shape])
    max_cost = max(cost([x]) for x in lengths) * slack + 1
    s = PackedBatchSampler(lengths, max_cost=max_cost, batch_cost=shape, seed=seed)
    s.set_epoch(epoch)
    batches = list(s)
    assert flat(batches) == list(range(lengths.size)) and len(batches) == len(s)
    assert all(cost(lengths[b]) <= max_cost for b in batches)
    assert s.stats()["peak_cost"] <= max_cost


def test_same_batches_for_same_seed_resume_and_rebuild():
    s = PackedBatchSampler(DOC_LENGTHS, max_cost=4096, batch_cost="padded", seed=5)
    s.set_epoch(3)
    full = list(s)
    again = PackedBatchSampler(DOC_LENGTHS, max_cost=4096, batch_cost="padded", seed=5)
    again.set_epoch(3)
    assert list(again) == full
    again.set_epoch(3)
    for step, _ in enumerate(again):
        if step == 6:
            state = again.state_dict()
            break
    resumed = PackedBatchSampler(DOC_LENGTHS, max_cost=4096, batch_cost="padded", seed=5)
    resumed.load_state_dict(state)
    assert list(resumed) == full[7:]
    other = PackedBatchSampler(DOC_LENGTHS, max_cost=4096, seed=5)  # another shape: another plan
    with pytest.raises(ValueError, match="other sizes, seed or settings"):
        other.load_state_dict(state)
    rebuilt = PackedBatchSampler(**{**s.init_kwargs(), "seed": 5})  # as Lightning re-creates it
    rebuilt.set_epoch(3)
    assert list(rebuilt) == full
    copy = pickle.loads(pickle.dumps(s))
    assert list(copy) == full


def test_memory_model_as_batch_cost_equals_cost_with_budget():
    rng = np.random.default_rng(2)
    sizes = np.column_stack([rng.integers(3, 80, 3000), rng.integers(6, 400, 3000)]).astype(float)
    model = MemoryModel([512.0, 96.0], bias=2048.0, intercept=1e6)
    budget = 4e6
    as_cost = PackedBatchSampler(sizes, model.budget_to_max_cost(budget), cost=model, seed=0)
    as_shape = PackedBatchSampler(sizes, budget, batch_cost=model, seed=0)
    assert list(as_cost) == list(as_shape)
    assert all(model.predict(sizes[b].sum(axis=0), len(b)) <= budget for b in as_shape)
    assert as_shape.stats()["peak_cost"] <= budget
    with pytest.raises(ValueError, match="brings its own per-item weights"):
        PackedBatchSampler(sizes, budget, batch_cost=model, weights=[1.0, 1.0])


def test_function_batch_cost_matches_the_named_shape():
    by_function = PackedBatchSampler(DOC_LENGTHS, 4096, batch_cost=lambda l: len(l) * l[0], seed=0)
    named = PackedBatchSampler(DOC_LENGTHS, 4096, batch_cost="padded", seed=0)
    assert sorted(map(sorted, by_function)) == sorted(map(sorted, named))
    assert by_function.stats()["lower_bound"] is None  # nothing is known about a function
    with pytest.raises(ValueError, match="batch_cost returned nan"):
        PackedBatchSampler(DOC_LENGTHS, 4096, batch_cost=lambda l: float("nan"))


def test_additive_shapes_pack_by_first_fit_on_item_costs():
    rng = np.random.default_rng(4)
    lengths = rng.integers(10, 400, 5000).astype(float)
    shape = BatchCost(sum=2.0, square=0.01, count=30.0, const=1000.0)
    s = PackedBatchSampler(lengths, 40_000, batch_cost=shape, seed=0)
    batches = list(s)
    assert flat(batches) == list(range(lengths.size))
    assert all(shape(lengths[b]) <= 40_000 for b in batches)
    per_item = 2.0 * lengths + 0.01 * lengths**2 + 30.0
    assert s.stats()["num_batches"] <= 1.01 * np.ceil(per_item.sum() / (40_000 - 1000))
    assert s.stats()["peak_cost"] == pytest.approx(max(shape(lengths[b]) for b in batches))


def test_shaped_oversize_policies():
    lengths = np.array([10.0, 3.0, 50.0, 2.0])
    with pytest.raises(OversizeItemError, match="alone .*item 2, length 50"):
        PackedBatchSampler(lengths, 20, batch_cost="padded")
    with pytest.warns(UserWarning, match="each gets a batch of its own"):
        s = PackedBatchSampler(lengths, 20, batch_cost="padded", oversize="alone", shuffle=False)
    assert sorted(map(sorted, s)) == [[0, 1], [2], [3]] or [2] in list(s)
    assert flat(s) == [0, 1, 2, 3] and s.stats()["oversize_alone"] == 1


def test_bad_batch_cost_arguments_are_named():
    with pytest.raises(ValueError, match="batch_cost='padding'"):
        PackedBatchSampler(DOC_LENGTHS, 4096, batch_cost="padding")
    with pytest.raises(ValueError, match="a vector max_cost .* batch_cost"):
        PackedBatchSampler(np.ones((5, 2)), [10, 10], batch_cost="padded")
    with pytest.raises(ValueError, match="a LinearCost turns sizes into item costs"):
        PackedBatchSampler(DOC_LENGTHS, 4096, batch_cost=LinearCost([1.0]))
    with pytest.raises(ValueError, match="not above the fixed cost of a batch, const = 5000"):
        PackedBatchSampler(DOC_LENGTHS, 4096, batch_cost=BatchCost(padded=1, const=5000))
    with pytest.raises(ValueError, match="batch_cost: expected"):
        BalancedBatchSampler(DOC_LENGTHS, 32, batch_cost=3)


# ---------------------------------------------------------------------------------------------
# BalancedBatchSampler and DDP with batch_cost
# ---------------------------------------------------------------------------------------------

def test_balanced_padded_peak_is_optimal_and_padding_least():
    s = BalancedBatchSampler(DOC_LENGTHS, 64, batch_cost="padded", seed=0)
    summed = BalancedBatchSampler(DOC_LENGTHS, 64, seed=0)
    for epoch in range(3):
        s.set_epoch(epoch)
        batches = list(s)
        assert len(batches) == 32 and flat(batches) == list(range(DOC_LENGTHS.size))
        peak = max(padded_elements(DOC_LENGTHS, b) for b in batches)
        assert peak == s.stats()["peak_cost"] == s.stats()["lower_bound"]  # count x longest: unavoidable
    total = sum(padded_elements(DOC_LENGTHS, b) for b in s)
    total_sum = sum(padded_elements(DOC_LENGTHS, b) for b in summed)
    assert total < 0.8 * total_sum


def test_balanced_quadratic_balances_sums_of_squares():
    rng = np.random.default_rng(7)
    lengths = rng.lognormal(4, 0.6, 4000).round() + 1
    s = BalancedBatchSampler(lengths, 32, batch_cost="quadratic", seed=0)
    st_ = s.stats()
    assert st_["peak_cost"] == pytest.approx(max(float((lengths[b] ** 2).sum()) for b in s))
    assert st_["peak_cost"] <= 1.02 * st_["lower_bound"]


@pytest.mark.parametrize("mode", ["balanced", "packed"])
def test_distributed_shapes_equal_steps_every_index_once(mode):
    R = 3
    kw = {"batch_size": 40} if mode == "balanced" else {"max_cost": 4096}
    ranks = [DistributedBalancedBatchSampler(DOC_LENGTHS, batch_cost="padded", num_replicas=R, rank=r, seed=1, **kw)
             for r in range(R)]
    for epoch in (0, 1):
        for s in ranks:
            s.set_epoch(epoch)
        per_rank = [list(s) for s in ranks]
        assert len({len(b) for b in per_rank}) == 1
        assert flat([b for bs in per_rank for b in bs]) == list(range(DOC_LENGTHS.size))
        if mode == "packed":
            assert max(padded_elements(DOC_LENGTHS, b) for bs in per_rank for b in bs) <= 4096
    plain = (BalancedBatchSampler(DOC_LENGTHS, 40, batch_cost="padded", seed=1) if mode == "balanced"
             else PackedBatchSampler(DOC_LENGTHS, 4096, batch_cost="padded", seed=1))
    rebuilt = DistributedBalancedBatchSampler(**ranks[1].init_kwargs())
    rebuilt.set_epoch(1)
    assert list(rebuilt) == list(ranks[1])
    assert plain.init_kwargs()["batch_cost"] == BatchCost(padded=1)


@pytest.mark.parametrize("batch_cost, moment", [("padded", 1), ("padded-quadratic", 2)])
def test_padded_runs_in_the_epochs_order_are_priced_on_the_real_lengths(batch_cost, moment):
    """Shuffled epochs take lengths in the order of their values rounded to the epoch's grid and
    price every run on the real lengths (its longest wherever it lies): each batch holds the budget,
    and the count stays near the optimum, the unshuffled runs (0.2-0.5% above it over 8 epochs'
    draws, where packing the rounded lengths took 0.5-1.2% more)."""
    lengths = np.random.default_rng(1).integers(5, 200, 20_000).astype(float)
    cap = 32 * np.mean(lengths ** moment)
    sampler = PackedBatchSampler(lengths, cap, batch_cost=batch_cost, seed=0)
    shape = BatchCost(padded=float(moment == 1), padded_square=float(moment == 2))
    optimum = packing_runs.pack_runs(lengths, cap, shape)[1]
    for epoch in range(3):
        sampler.set_epoch(epoch)
        batches = list(sampler)
        assert sorted(i for b in batches for i in b) == list(range(lengths.size))
        assert max(len(b) * lengths[b].max() ** moment for b in batches) <= cap
        assert sampler.stats(epoch)["num_batches"] <= 1.006 * optimum


def test_a_cost_function_sees_each_batch_longest_first_in_shuffled_epochs():
    """Shuffled epochs order items by their rounded lengths, so near-equal ones come in any order;
    the function is still given every batch's lengths longest first, as documented (FunctionCost
    sorts them)."""
    lengths = np.random.default_rng(3).uniform(5, 200, 3_000)
    seen = []

    def padded_cost(batch):
        batch = np.asarray(batch)
        seen.append(bool((np.diff(batch) <= 0).all()))
        return len(batch) * batch[0]

    sampler = PackedBatchSampler(lengths, 4_096.0, batch_cost=padded_cost, seed=0)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        assert max(len(b) * lengths[b].max() for b in sampler) <= 4_096.0
    assert seen and all(seen)
