"""hullpack.packing and the packing kernels of hullpack._core: results against plain-Python
references, invariants on random inputs, lower bounds against brute force, and bad input."""
from __future__ import annotations

import heapq

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hullpack
from hullpack import packing
from hullpack._packing_inputs import as_sizes
from hullpack.errors import InvalidInputError, InvalidSizesError, OversizeItemError

core = hullpack._core


# ---------------------------------------------------------------------------------------------
# Plain-Python references: the documented rules, written the obvious (quadratic) way
# ---------------------------------------------------------------------------------------------

def ref_sequence(keys, order):
    """Items by decreasing key; Python's sort is stable, so ties keep their order in `order`."""
    seq = range(len(keys)) if order is None else [int(i) for i in order]
    return sorted(seq, key=lambda i: -keys[i])


def ref_pack(sizes, capacity, method="ffd", order=None):
    sizes = np.asarray(sizes, dtype=float)
    rows = [[float(x) for x in r] for r in (sizes if sizes.ndim == 2 else sizes[:, None])]
    k = len(rows[0])
    cap = [float(c) for c in np.broadcast_to(np.asarray(capacity, dtype=float), (k,))]
    keys = [r[0] if k == 1 else max(r[d] / cap[d] for d in range(k)) for r in rows]
    loads, out = [], [0] * len(rows)
    for i in ref_sequence(keys, order):
        s = rows[i]
        fits = [b for b, load in enumerate(loads) if all(load[d] + s[d] <= cap[d] for d in range(k))]
        if not fits:
            b = len(loads)
            loads.append([0.0] * k)
        elif method == "ffd":
            b = fits[0]
        else:  # fullest bin that fits; max() returns the first maximum, i.e. the lowest bin
            def fill(load):
                return load[0] if k == 1 else sum(load[d] / cap[d] for d in range(k))
            b = max(fits, key=lambda b: fill(loads[b]))
        for d in range(k):
            loads[b][d] += s[d]
        out[i] = b
    return out, len(loads)


def ref_lpt(costs, n_batches, order=None):
    costs = [float(c) for c in costs]
    q, extra = divmod(len(costs), n_batches)
    heap = [(0.0, b) for b in range(n_batches)]
    count, out = [0] * n_batches, [0] * len(costs)
    for i in ref_sequence(costs, order):
        while count[heap[0][1]] == q and extra == 0:  # full: the extra slots are all taken
            heapq.heappop(heap)
        load, b = heap[0]
        out[i] = b
        count[b] += 1
        if count[b] == q + 1:
            extra -= 1
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (load + costs[i], b))
    return out


def peak(costs, bins, n_bins):
    return packing.batch_costs(costs, bins, n_bins).max()


# ---------------------------------------------------------------------------------------------
# Strategies: sizes with many ties (small integers) and awkward floats, capacity >= every size
# ---------------------------------------------------------------------------------------------

fractions = st.one_of(st.integers(0, 8).map(lambda v: v / 8), st.floats(0, 1, allow_nan=False))


@st.composite
def packing_case(draw, max_k=3):
    n = draw(st.integers(1, 40))
    k = draw(st.integers(1, max_k))
    cap = np.array([draw(st.sampled_from([1.0, 0.6, 7.0, 100.0])) for _ in range(k)])
    frac = np.array(draw(st.lists(fractions, min_size=n * k, max_size=n * k))).reshape(n, k)
    sizes = frac * cap  # x * cap <= cap for x <= 1: every item fits
    sizes = sizes[:, 0] if k == 1 and draw(st.booleans()) else sizes
    order = draw(st.none() | st.permutations(range(n)).map(np.array))
    return sizes, cap, order


@st.composite
def balance_case(draw):
    n = draw(st.integers(1, 40))
    batch_size = draw(st.integers(1, n))
    costs = np.array(draw(st.lists(fractions.map(lambda x: 10 * x), min_size=n, max_size=n)))
    order = draw(st.none() | st.permutations(range(n)).map(np.array))
    return costs, -(-n // batch_size), batch_size, order


# ---------------------------------------------------------------------------------------------
# pack
# ---------------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(case=packing_case(), method=st.sampled_from(["ffd", "bfd"]))
def test_pack_equals_reference_and_keeps_invariants(case, method):
    sizes, cap, order = case
    bins, n_bins = packing.pack(sizes, cap if sizes.ndim == 2 else cap[0], method, order)
    assert (bins.tolist(), n_bins) == ref_pack(sizes, cap, method, order)
    n = sizes.shape[0]
    assert bins.dtype == np.int64 and bins.shape == (n,)
    counts = np.bincount(bins, minlength=n_bins)
    assert counts.size == n_bins and counts.min() >= 1  # bins 0..n_bins-1, none empty
    totals = packing.batch_costs(sizes, bins, n_bins).reshape(n_bins, -1)
    assert (totals <= cap * (1 + 1e-12)).all()
    assert packing.lower_bound(sizes, capacity=cap if sizes.ndim == 2 else cap[0]) <= n_bins


def test_pack_boundary_is_load_plus_size_le_capacity():
    # 0.1 + 0.2 + 0.3 rounds above 0.6: the third item must not join the first bin.
    bins, n_bins = packing.pack([0.3, 0.2, 0.1], capacity=0.6)
    assert (bins.tolist(), n_bins) == ref_pack([0.3, 0.2, 0.1], 0.6) == ([0, 0, 0], 1)
    bins, n_bins = packing.pack([0.1, 0.2, 0.3], capacity=0.6, order=[0, 1, 2])
    assert (bins.tolist(), n_bins) == ref_pack([0.1, 0.2, 0.3], 0.6)


def test_ffd_and_bfd_differ_where_they_should():
    # Bin 0 holds 8, bin 1 holds 6 + 3 = 9: the last item (1) fits both; first fit takes bin 0,
    # best fit the fuller bin 1.
    sizes = [8, 6, 3, 1]
    assert packing.pack(sizes, capacity=10, method="ffd")[0].tolist() == [0, 1, 1, 0]
    assert packing.pack(sizes, capacity=10, method="bfd")[0].tolist() == [0, 1, 1, 1]


def test_order_breaks_ties_and_only_ties():
    sizes = np.array([3.0, 2.0, 2.0, 2.0, 1.0])
    a, na = packing.pack(sizes, capacity=4)
    b, nb = packing.pack(sizes, capacity=4, order=[4, 3, 2, 1, 0])
    assert na == nb
    assert a.tolist() != b.tolist()
    assert a.tolist() == [0, 1, 1, 2, 0] and b.tolist() == [0, 2, 1, 1, 0]
    assert packing.pack(sizes, capacity=4, order=np.arange(5))[0].tolist() == a.tolist()
    # Distinct sizes: the order changes nothing.
    distinct = np.array([5.0, 4.0, 3.0, 2.0, 1.0])
    perm = np.random.default_rng(0).permutation(5)
    assert packing.pack(distinct, 6, order=perm)[0].tolist() == packing.pack(distinct, 6)[0].tolist()


def test_seeded_orders_give_different_equally_good_packings():
    sizes = np.random.default_rng(1).integers(1, 20, 2000).astype(float)  # many ties
    results = [packing.pack(sizes, 64, order=np.random.default_rng(s).permutation(2000)) for s in range(3)]
    assert len({r[1] for r in results}) == 1
    assert len({tuple(r[0]) for r in results}) == 3


@pytest.mark.parametrize("method", ["ffd", "bfd"])
def test_pack_quality_on_lognormal_sizes(method):
    rng = np.random.default_rng(0)
    sizes = np.minimum(rng.lognormal(0.0, 1.0, 50_000), 64.0)
    bins, n_bins = packing.pack(sizes, 64.0, method)
    assert n_bins <= 1.01 * packing.lower_bound(sizes, capacity=64.0)
    assert packing.batch_costs(sizes, bins, n_bins).max() <= 64.0


def test_pack_two_dimensions_matches_reference_at_scale():
    rng = np.random.default_rng(2)
    nodes = rng.integers(5, 60, 600)
    sizes = np.stack([nodes, nodes * rng.uniform(1.5, 4.0, 600)], axis=1)
    for method in ("ffd", "bfd"):
        bins, n_bins = packing.pack(sizes, [400, 1200], method)
        assert (bins.tolist(), n_bins) == ref_pack(sizes, [400, 1200], method)


@pytest.mark.parametrize("k", [2, 3])
def test_pack_dimensions_filling_unevenly_match_reference(k):
    # Items heavy in one dimension and light in the others: bins fill up in different dimensions,
    # the case where the tree's pruning is weakest; the answer must still be exact first/best fit.
    rng = np.random.default_rng(k)
    weights = rng.dirichlet(np.full(k, 0.5), 700)
    sizes = weights * rng.uniform(20, 100, (700, 1))
    cap = np.full(k, 400.0)
    for method in ("ffd", "bfd"):
        bins, n_bins = packing.pack(sizes, cap, method)
        assert (bins.tolist(), n_bins) == ref_pack(sizes, cap, method)


def test_a_scalar_capacity_budgets_every_dimension_not_their_sum():
    """packing.pack reads a scalar capacity as one budget per column, where PackedBatchSampler's
    scalar max_cost budgets the columns' sum: both as documented, and not to be confused."""
    from hullpack.samplers import PackedBatchSampler

    atoms = np.random.default_rng(0).integers(1, 200, 500).astype(float)
    crystals = np.column_stack([atoms, 12 * atoms])           # edges ~ 12 x atoms
    bins, n_bins = packing.pack(crystals, 3_000)
    totals = np.column_stack([packing.batch_costs(crystals[:, j].copy(), bins, n_bins) for j in range(2)])
    assert totals.max() <= 3_000 < totals.sum(axis=1).max()
    assert n_bins == packing.pack(crystals, [3_000, 3_000])[1]
    assert all(crystals[b].sum() <= 3_000 for b in PackedBatchSampler(crystals, 3_000, seed=0))


def test_pack_grows_past_its_first_guess():
    # Items just above half the capacity each need a bin of their own: twice the volume bound.
    sizes = np.full(5000, 0.51)
    bins, n_bins = packing.pack(sizes, 1.0)
    assert n_bins == 5000 and bins.tolist() == list(range(5000))


# ---------------------------------------------------------------------------------------------
# balance
# ---------------------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(case=balance_case())
def test_balance_lpt_equals_reference_and_refine_never_hurts(case):
    costs, n_batches, batch_size, order = case
    n = costs.size
    plain = packing.balance(costs, n_batches, batch_size, order=order, refine=False)
    assert plain.tolist() == ref_lpt(costs, n_batches, order)
    refined = packing.balance(costs, n_batches, batch_size, order=order)
    q, r = divmod(n, n_batches)
    for bins in (plain, refined):
        assert bins.dtype == np.int64 and bins.min() >= 0 and bins.max() < n_batches
        counts = np.sort(np.bincount(bins, minlength=n_batches))
        assert counts.tolist() == [q] * (n_batches - r) + [q + 1] * r
        assert counts.max() <= batch_size
    # (float sums in another order may differ in the last bit: 7.5 + 0.709... + 0.709... + 0 against
    # 0 + 7.5 + 0.709... + 0.709...)
    assert peak(costs, refined, n_batches) <= peak(costs, plain, n_batches) * (1 + 1e-15)
    bound = packing.lower_bound(costs, n_batches=n_batches, batch_size=batch_size)
    assert bound <= peak(costs, refined, n_batches) * (1 + 1e-12)


def test_refinement_swaps_when_it_lowers_the_peak():
    costs = np.array([1.0, 4.0, 4.0, 10.0, 2.0, 6.0])
    plain = packing.balance(costs, 2, 3, refine=False)
    refined = packing.balance(costs, 2, 3)
    assert peak(costs, plain, 2) == 15.0
    assert peak(costs, refined, 2) == 14.0
    assert np.bincount(refined).tolist() == [3, 3]


def test_balance_order_changes_ties():
    costs = np.ones(12)
    a = packing.balance(costs, 3, 4)
    b = packing.balance(costs, 3, 4, order=np.random.default_rng(0).permutation(12))
    assert a.tolist() != b.tolist()
    assert np.bincount(a).tolist() == np.bincount(b).tolist() == [4, 4, 4]


def test_balance_quality_on_lognormal_costs():
    rng = np.random.default_rng(0)
    costs = rng.lognormal(0.0, 0.5, 32_000)
    bins = packing.balance(costs, 1000, 32)
    # 1.0002x the bound (largest first alone: 1.0087x)
    assert peak(costs, bins, 1000) <= 1.001 * packing.lower_bound(costs, n_batches=1000, batch_size=32)
    random_peak = peak(costs, rng.permutation(32_000) // 32, 1000)
    assert peak(costs, bins, 1000) < 0.8 * random_peak


# ---------------------------------------------------------------------------------------------
# lower bounds, batch_costs, group
# ---------------------------------------------------------------------------------------------

def optimal_bins(sizes, cap):
    """Fewest bins, by trying every assignment (tiny inputs only)."""
    best = len(sizes)

    def place(i, loads):
        nonlocal best
        if len(loads) >= best:
            return
        if i == len(sizes):
            best = len(loads)
            return
        for b in range(len(loads)):
            if loads[b] + sizes[i] <= cap:
                loads[b] += sizes[i]
                place(i + 1, loads)
                loads[b] -= sizes[i]
        place(i + 1, loads + [sizes[i]])

    place(0, [])
    return best


def optimal_peak(costs, n_batches):
    """The least peak batch cost over all splits into n_batches batches of cardinality q or q + 1
    (q = n // n_batches, n % n_batches of them q + 1): every assignment of the items, largest first,
    skipping batches identical to one already tried and branches already at the best peak."""
    n = len(costs)
    q, r = divmod(n, n_batches)
    c = sorted((float(x) for x in costs), reverse=True)
    loads, counts, best = [0.0] * n_batches, [0] * n_batches, [np.inf]

    def place(i, extra):
        if max(loads) >= best[0]:
            return
        if i == n:
            best[0] = max(loads)
            return
        tried = set()
        for b in range(n_batches):
            full = counts[b] == q + 1 or (counts[b] == q and extra == 0)
            if full or (loads[b], counts[b]) in tried:
                continue
            tried.add((loads[b], counts[b]))
            loads[b] += c[i]
            counts[b] += 1
            place(i + 1, extra - (counts[b] == q + 1))
            loads[b] -= c[i]
            counts[b] -= 1

    place(0, r)
    return best[0]


def small_case_ratios(**balance_kwargs):
    """balance()'s peak over the exact optimum on 400 small cases (4-10 items, integer or lognormal
    costs), the same draws on every call."""
    rng = np.random.default_rng(0)
    ratios = []
    for trial in range(400):
        n = int(rng.integers(4, 11))
        batch_size = int(rng.integers(2, n))
        n_batches = -(-n // batch_size)
        costs = rng.integers(1, 30, n).astype(float) if trial % 2 else np.round(rng.lognormal(0, 0.7, n), 3)
        bins = packing.balance(costs, n_batches, batch_size, **balance_kwargs)
        ratios.append(peak(costs, bins, n_batches) / optimal_peak(costs, n_batches))
    return np.array(ratios)


def test_balance_is_near_the_exact_optimum_on_small_inputs():
    # 400 small cases (4-10 items, integer or lognormal costs). Largest first alone is optimal in 64%
    # of them, 1.0104x the optimum on average and up to 1.127x; with the swaps between the heaviest
    # and the lightest batch (refine="lightest"), optimal in 87.5%, 1.0019x on average and at most
    # 1.067x. The default exchange refinement on the same cases: test_balance_quality.
    ratios = small_case_ratios(refine="lightest")
    assert ratios.min() >= 1 - 1e-12
    assert (ratios <= 1 + 1e-12).mean() >= 0.85
    assert ratios.mean() <= 1.0025
    assert ratios.max() <= 1.07


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 10), min_size=1, max_size=7))
def test_lower_bounds_never_exceed_the_optimum(sizes):
    sizes = [float(s) for s in sizes]
    assert packing.lower_bound(sizes, capacity=10) <= optimal_bins(sizes, 10.0)
    for n_batches in range(1, min(len(sizes), 3) + 1):
        assert packing.lower_bound(sizes, n_batches=n_batches) <= optimal_peak(sizes, n_batches) + 1e-9


def test_lower_bound_values():
    assert packing.lower_bound([0.6, 0.6, 0.6], capacity=1.0) == 3.0  # no two share a bin
    assert packing.lower_bound([0.0, 0.0], capacity=1.0) == 1.0
    assert packing.lower_bound([[1, 9], [1, 9], [1, 1]], capacity=[10, 10]) == 2.0
    assert packing.lower_bound([0.1] * 10, capacity=1.0) == 1.0  # 0.1 * 10 sums to 0.9999999999999999
    assert packing.lower_bound([0.1, 0.2, 0.3], capacity=0.6) == 1.0  # sums to 0.6000000000000001
    assert packing.lower_bound([10, 1, 2, 3], n_batches=2) == 11.0
    assert packing.lower_bound([4, 4, 4, 4], batch_size=2) == 8.0


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_batch_costs_and_group_match_numpy(data):
    n = data.draw(st.integers(0, 50))
    n_bins = data.draw(st.integers(1 if n else 0, 10))
    bins = np.array(data.draw(st.lists(st.integers(0, max(n_bins - 1, 0)), min_size=n, max_size=n)),
                    dtype=np.int64)
    offsets, items = packing.group(bins, n_bins)
    assert offsets.tolist() == [0] + np.cumsum(np.bincount(bins, minlength=n_bins)).tolist()
    assert items.tolist() == np.argsort(bins, kind="stable").tolist()
    if n:
        costs = np.arange(2.0 * n).reshape(n, 2)
        expected = np.zeros((n_bins, 2))
        np.add.at(expected, bins, costs)
        assert np.array_equal(packing.batch_costs(costs, bins, n_bins), expected)
        assert np.array_equal(packing.batch_costs(costs[:, 0].copy(), bins, n_bins), expected[:, 0])


# ---------------------------------------------------------------------------------------------
# Bad input: hullpack.packing raises hullpack's errors, naming the problem
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sizes, error, words", [
    ([], InvalidSizesError, "empty"),
    ([1.0, np.nan, 2.0], InvalidSizesError, "sizes[1]"),
    ([1.0, 2.0, np.inf], InvalidSizesError, "sizes[2]"),
    ([1.0, -0.5], InvalidSizesError, "sizes[1] is negative"),
    ([[1.0, 2.0], [3.0, np.nan]], InvalidSizesError, "sizes[1, 1]"),
    ([[[1.0]]], InvalidSizesError, "shape"),
    (np.zeros((3, 0)), InvalidSizesError, "at least one cost"),
    (["a", "b"], InvalidSizesError, "sizes[0] = 'a' is not a number"),
    ([[1, 2], [3, "b"]], InvalidSizesError, "sizes[1, 1] = 'b' is not a number"),  # not the '1' numpy makes of 1
    ([1, True], InvalidSizesError, "sizes[1] = True is not a number"),  # not the 1 numpy makes of it
    ([[1, 2], [np.True_, 3]], InvalidSizesError, "sizes[1, 0] = True is not a number"),
    # a missing entry is named as missing, not as the NaN numpy would make of it
    ([1, None], InvalidSizesError, "sizes[1] is missing (None): drop those items or fill them in first"),
    ([[1, 2], [None, 3], [4, None]], InvalidSizesError, "sizes[1, 0] is missing (None; 2 missing in all)"),
    (pd.Series([1.0, None, 3.0]), InvalidSizesError, "sizes[1] is missing (NaN)"),
    (pd.array([1, None, 3], dtype="Int64"), InvalidSizesError, "sizes[1] is missing"),
    (np.array([1.0, pd.NA], dtype=object), InvalidSizesError, "sizes[1] is missing (<NA>)"),
    ([1.0, 11.0, 12.0], OversizeItemError, "item 1 has size 11.0 > capacity 10.0"),
    # np.asarray reads a masked entry as the value under the mask
    (np.ma.array([1, 2, 3], mask=[0, 1, 0]), InvalidSizesError, "sizes[1] is missing (masked): drop those items"),
    (np.ma.array([[1, 2], [3, 4]], mask=[[0, 0], [1, 1]]), InvalidSizesError, "sizes[1, 0] is missing (masked; 2"),
])
def test_pack_rejects_bad_sizes(sizes, error, words):
    with pytest.raises(error) as info:
        packing.pack(sizes, 10.0)
    assert words in str(info.value)


@pytest.mark.parametrize("method", ["ffd", "bfd", "hist", "auto"])
def test_pack_oversize_names_the_first_item_its_size_the_capacity_the_count_and_the_ways_out(method):
    with pytest.raises(OversizeItemError) as err:
        packing.pack([3, 9, 2, 12, 5], 8, method=method)
    assert str(err.value) == (
        "item 1 has size 9.0 > capacity 8.0: it fits no bin (the first of 2 such items). Raise the capacity, or "
        "pack without them (drop them, or give each a bin of its own); the samplers do either with "
        "oversize='skip' or oversize='alone'")
    assert err.value.items.tolist() == [1, 3]
    with pytest.raises(OversizeItemError, match=r"^item 1 has size 9.5 > capacity 8.0: it fits no bin \(the only "
                                                r"such item\)\. Raise the capacity, or pack without it \(drop it, "
                                                r"or give it a bin of its own\)"):
        packing.pack([3.5, 9.5, 2.0], 8, method="ffd" if method == "hist" else method)


def test_pack_oversize_in_several_dimensions_counts_items_and_names_the_dimension_over():
    """An item over in two dimensions is one item, not two entries."""
    sizes = np.array([[3, 1], [5, 11], [2, 30], [9, 12]])
    with pytest.raises(OversizeItemError, match=r"^item 1 has size 11.0 > capacity 10.0 in dimension 1: it fits "
                                                r"no bin \(the first of 3 such items\)") as err:
        packing.pack(sizes, [8, 10])
    assert err.value.items.tolist() == [1, 2, 3]


def test_pack_runs_oversize_says_what_the_item_costs_alone_and_the_ways_out():
    from hullpack import packing_runs
    with pytest.raises(OversizeItemError, match=r"^item 1 \(length 9.0\) alone costs 81.0 > capacity 20.0: it "
                                                r"fits no batch \(the first of 2 such items\)\. Raise the capacity, "
                                                r"or pack without them \(drop them, or give each a batch of its own\)") as err:
        packing_runs.pack_runs(np.array([3.0, 9.0, 2.0, 12.0]), 20, [0, 0, 0, 1, 0, 0])
    assert err.value.items.tolist() == [1, 3]


def test_a_bool_anywhere_in_a_long_list_is_found_and_mixed_number_types_are_read():
    """Lists are checked for bools by the set of their entries' types before any scan of the entries."""
    sizes = list(range(1, 100_001))
    assert as_sizes(sizes + [np.int64(3), np.float32(2.5), 7.25]).tolist()[-3:] == [3.0, 2.5, 7.25]
    with pytest.raises(InvalidSizesError, match=r"^sizes\[100000\] = True is not a number"):
        as_sizes(sizes + [True])
    rows = [[n, 2 * n] for n in sizes]
    with pytest.raises(InvalidSizesError, match=r"^sizes\[100000, 1\] = False is not a number"):
        as_sizes(rows + [(4, np.False_)])
    assert as_sizes(rows + [(4, np.int32(8))])[-1].tolist() == [4.0, 8.0]


def test_pack_reads_torch_tensors_of_any_float_dtype():
    """bfloat16 (which numpy lacks) is read as float32, as the samplers read it."""
    torch = pytest.importorskip("torch")
    sizes = [3.0, 5.0, 2.0, 7.0, 4.0]
    expect = packing.pack(sizes, 10.0)
    for dtype in (torch.bfloat16, torch.float16, torch.int32):
        bins, n = packing.pack(torch.tensor(sizes, dtype=dtype), 10.0)
        assert (bins.tolist(), n) == (expect[0].tolist(), expect[1])
    assert packing.lower_bound(torch.tensor(sizes, dtype=torch.bfloat16), n_batches=2) == \
        packing.lower_bound(sizes, n_batches=2)


@pytest.mark.parametrize("kwargs, words", [
    (dict(capacity=0.0), "capacity[0]"),
    (dict(capacity=-1.0), "capacity[0]"),
    (dict(capacity=np.nan), "capacity[0]"),
    (dict(capacity=[1.0, 2.0]), "one value per cost dimension"),
    (dict(capacity="big"), "capacity"),
    (dict(capacity=10.0, method="nfd"), "method"),
    (dict(capacity=10.0, order=[0, 1]), "shape (3,)"),
    (dict(capacity=10.0, order=[0.0, 1.0, 2.0]), "integer"),
    (dict(capacity=10.0, order=[0, 1, 1]), "order[2] = 1 repeats order[1]"),
    (dict(capacity=10.0, order=[0, 1, 3]), "order[2] = 3 is out of range"),
    (dict(capacity=10.0, order=[0, -1, 2]), "order[1] = -1 is out of range"),
    (dict(capacity=10.0, order=[[0, 1, 2]]), "shape"),
])
def test_pack_rejects_bad_arguments(kwargs, words):
    with pytest.raises(ValueError) as info:
        packing.pack([1.0, 2.0, 3.0], **kwargs)
    assert words in str(info.value)


@pytest.mark.parametrize("args, kwargs, error, words", [
    (([1.0, 2.0, 3.0], 2, 1), {}, ValueError, "ceil(n / batch_size) = 3"),
    (([1.0, 2.0, 3.0], 1, 2), {}, ValueError, "= 2"),
    (([1.0, 2.0, 3.0], 2**62, 1), {}, ValueError, "n_batches"),
    (([1.0, 2.0, 3.0], 2, -1), {}, ValueError, "batch_size must be >= 1"),
    (([1.0, 2.0, 3.0], 0, 3), {}, ValueError, "n_batches must be >= 1"),
    (([1.0, 2.0, 3.0], 1.5, 3), {}, ValueError, "integer"),
    (([1.0, np.nan, 3.0], 1, 3), {}, InvalidSizesError, "costs[1]"),
    (([1.0, 2.0, None], 1, 3), {}, InvalidSizesError, "costs[2] is missing (None)"),
    (([[1.0, 2.0]], 1, 1), {}, InvalidSizesError, "shape"),
    (([], 1, 1), {}, InvalidSizesError, "empty"),
    (([1.0, 2.0, 3.0], 1, 3), dict(order=[2, 2, 0]), ValueError, "repeats"),
])
def test_balance_rejects_bad_input(args, kwargs, error, words):
    with pytest.raises(error) as info:
        packing.balance(*args, **kwargs)
    assert words in str(info.value)


def test_lower_bound_and_helpers_reject_bad_input():
    with pytest.raises(ValueError, match="either capacity"):
        packing.lower_bound([1.0])
    with pytest.raises(ValueError, match="either capacity"):
        packing.lower_bound([1.0], capacity=2.0, batch_size=1)
    with pytest.raises(ValueError, match="exceeds the number of items"):
        packing.lower_bound([1.0, 2.0], n_batches=3)
    with pytest.raises(InvalidSizesError, match=r"costs\[0\]"):
        packing.lower_bound([-1.0, 2.0], n_batches=1)
    with pytest.raises(ValueError, match=r"bin_of_item\[1\] = 5"):
        packing.batch_costs([1.0, 2.0], [0, 5], 2)
    with pytest.raises(ValueError, match="shape"):
        packing.batch_costs([1.0, 2.0], [0], 2)
    with pytest.raises(ValueError, match=r"bin_of_item\[0\] = -1"):
        packing.group([-1, 0], 2)
    with pytest.raises(ValueError, match="n_bins must be >= 0"):
        packing.group([0], -3)


def test_lower_bound_refuses_an_item_no_bin_holds_as_pack_does():
    """[1, 5] in bins of 3 had a bound of 2.0 though no packing exists; pack, lower_bound_runs and
    the samplers (which bound only the items that fit) all refuse such an item, naming it."""
    with pytest.raises(OversizeItemError, match=r"^item 1 has size 5.0 > capacity 3.0: it fits no bin") as caught:
        packing.lower_bound([1, 5], capacity=3)
    assert caught.value.items.tolist() == [1]
    with pytest.raises(OversizeItemError, match=r"^item 2 has size 7.0 > capacity 6.0 in dimension 1"):
        packing.lower_bound([[1, 1], [2, 6], [1, 7]], capacity=[2, 6])
    with pytest.raises(OversizeItemError, match=r"^item 1 has size 5.0 > capacity 3.0"):
        packing.pack([1, 5], capacity=3)  # the same words as pack's
    with pytest.raises(InvalidSizesError, match=r"^sizes\[0\] is not finite"):
        packing.lower_bound([np.nan, 5], capacity=3)  # a NaN is named first, as by pack
    assert packing.lower_bound([1, 3, 3], capacity=3) == 3.0  # at the capacity: fits


@pytest.mark.parametrize("costs, message", [
    ([1.0, np.nan, 2.0], r"^costs\[1\] is not finite \(nan\): every item needs a finite cost"),
    ([1.0, 2.0, -2.0], r"^costs\[2\] is negative \(-2.0\): costs must be >= 0"),
    ([[1, 10], [2, np.inf], [3, -1]], r"^costs\[1, 1\] is not finite \(inf\)"),
])
def test_batch_costs_names_the_first_bad_cost_as_pack_does(costs, message):
    """NaN and negative costs were summed into NaN or negative batch totals without a word."""
    with pytest.raises(InvalidSizesError, match=message):
        packing.batch_costs(costs, [0, 0, 1], 2)
    with pytest.raises(InvalidSizesError, match=message.replace("costs", "sizes", 1)):
        packing.pack(costs, capacity=100)


# ---------------------------------------------------------------------------------------------
# Bad input straight into hullpack._core: always ValueError, never a crash
# ---------------------------------------------------------------------------------------------

F = np.array([1.0, 2.0, 3.0])
CAP = np.array([10.0])
I3 = np.arange(3, dtype=np.int64)

CORE_GARBAGE = [
    ("pack", (F.astype(np.float32), CAP), "sizes"),
    ("pack", (F.astype(np.int64), CAP), "sizes"),
    ("pack", ([1.0, 2.0], CAP), "sizes"),
    ("pack", (None, CAP), "sizes"),
    ("pack", ("sizes", CAP), "sizes"),
    ("pack", (np.array([1.0, 2.0, 3.0, 4.0])[::2], CAP), "sizes"),
    ("pack", (np.empty(0), CAP), "sizes"),
    ("pack", (np.zeros((2, 2, 2)), CAP), "sizes"),
    ("pack", (np.zeros((2, 0)), CAP), "sizes"),
    ("pack", (np.asfortranarray(np.ones((3, 2))), np.array([5.0, 5.0])), "sizes"),
    ("pack", (np.array([1.0, np.nan]), CAP), "sizes"),
    ("pack", (np.array([1.0, -np.inf]), CAP), "sizes"),
    ("pack", (np.array([1.0, -1.0]), CAP), "sizes"),
    ("pack", (np.array([1.0, 11.0]), CAP), "sizes"),
    ("pack", (F, np.array([0.0])), "capacity"),
    ("pack", (F, np.array([np.nan])), "capacity"),
    ("pack", (F, np.array([10.0, 10.0])), "capacity"),
    ("pack", (F, 10.0), "capacity"),
    ("pack", (F, CAP, "xyz"), "method"),
    ("pack", (F, CAP, None), "method"),
    ("pack", (F, CAP, 3), "method"),
    ("pack", (F, CAP, "ffd", np.array([0, 1], dtype=np.int64)), "order"),
    ("pack", (F, CAP, "ffd", np.array([0, 1, 1], dtype=np.int64)), "order"),
    ("pack", (F, CAP, "ffd", np.array([0, 1, 2**40], dtype=np.int64)), "order"),
    ("pack", (F, CAP, "ffd", np.array([0, 1, -2], dtype=np.int64)), "order"),
    ("pack", (F, CAP, "ffd", np.array([0, 1, 2], dtype=np.int32)), "order"),
    ("pack", (F, CAP, "ffd", np.array([[0, 1, 2]], dtype=np.int64)), "order"),
    ("pack", (F, CAP, "ffd", [0, 1, 2]), "order"),
    ("balance", (F, 1, 3, None, "yes"), "refine"),
    ("balance", (F, 2**62, 1), "n_batches"),
    ("balance", (F, 2**100, 1), "n_batches"),
    ("balance", (F, 1, -3), "batch_size"),
    ("balance", (F, -1, 3), "n_batches"),
    ("balance", (F, 0, 0), "n_batches"),
    ("balance", (F, 1, 2), "n_batches"),
    ("balance", (F, 4, 2), "n_batches"),  # more batches than items: one would be empty
    ("balance", (F, 1.0, 3), "n_batches"),
    ("balance", (F, True, 3), "n_batches"),
    ("balance", (F, "1", 3), "n_batches"),
    ("balance", (F, None, 3), "n_batches"),
    ("balance", (F, np.bool_(True), 3), "n_batches"),
    ("balance", (F, np.int64(1), np.float64(3.0)), "batch_size"),
    ("balance", (np.ones((3, 1)), 1, 3), "costs"),
    ("balance", (np.array([1.0, np.nan, 1.0]), 1, 3), "costs"),
    ("balance", (F, 1, 3, np.array([0, 0, 0], dtype=np.int64)), "order"),
    ("balance", (F, 1, 3, np.array([0, 1], dtype=np.int64)), "order"),
    ("lower_bound_pack", (F, np.array([0.0])), "capacity"),
    ("lower_bound_pack", (F.astype(np.float32), CAP), "sizes"),
    ("lower_bound_pack", (np.empty(0), CAP), "sizes"),
    ("lower_bound_balance", (F, 0), "n_batches"),
    ("lower_bound_balance", (F, 4), "n_batches"),
    ("lower_bound_balance", (F, 2**80), "n_batches"),
    ("lower_bound_balance", (np.array([np.inf]), 1), "costs"),
    ("batch_costs", (F, I3, 2), "bin_of_item"),
    ("batch_costs", (F, I3, -1), "n_bins"),
    ("batch_costs", (F, I3, 2**62), "n_bins"),
    ("batch_costs", (F, I3, 2**30), "n_bins"),
    ("batch_costs", (F, np.array([0, 1], dtype=np.int64), 3), "bin_of_item"),
    ("batch_costs", (F, I3.astype(np.int32), 3), "bin_of_item"),
    ("batch_costs", (F, np.arange(6, dtype=np.int64)[::2], 6), "bin_of_item"),
    ("batch_costs", (np.zeros((1, 1, 3)), I3, 3), "costs"),
    ("group", (I3, 2), "bin_of_item"),
    ("group", (np.array([0, -1], dtype=np.int64), 3), "bin_of_item"),
    ("group", (I3, -5), "n_bins"),
    ("group", (I3, 2**70), "n_bins"),
    ("group", (I3.reshape(1, 3), 3), "bin_of_item"),
    ("group", (I3.astype(np.float64), 3), "bin_of_item"),
    ("group", (I3, "3"), "n_bins"),
]


@pytest.mark.parametrize("name, args, argument", CORE_GARBAGE,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CORE_GARBAGE)])
def test_core_rejects_garbage_naming_the_argument(name, args, argument):
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        getattr(core, name)(*args)


def test_core_happy_path_takes_arrays_without_copies():
    sizes = np.array([5.0, 4.0, 3.0, 3.0, 2.0, 2.0, 1.0])
    bins, n_bins = core.pack(sizes, np.array([8.0]))
    assert bins.tolist() == [0, 1, 0, 1, 2, 2, 1] and n_bins == 3
    assert core.balance(sizes, 3, 3).dtype == np.int64
    assert core.lower_bound_pack(sizes, np.array([8.0])) == 3.0
    assert core.lower_bound_balance(sizes, 3) == 7.0  # ceil(20 / 3): integer costs
    offsets, items = core.group(bins, 3)
    assert offsets.tolist() == [0, 2, 5, 7] and items.tolist() == [0, 2, 1, 3, 6, 4, 5]


# ------------------------------------------------------------------------------------------------
# method="auto": first fit, then balanced partitions into fewer bins where first fit falls short
# ------------------------------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(1, 39), min_size=1, max_size=300), slack=st.floats(1.0, 12.0))
def test_auto_never_worse_than_ffd_and_within_capacity(sizes, slack):
    sizes = np.array(sizes, dtype=float)
    cap = float(sizes.max() * slack)
    _, ffd_bins = packing.pack(sizes, cap)
    bins, n_bins = packing.pack(sizes, cap, method="auto")
    assert n_bins <= ffd_bins
    assert packing.lower_bound(sizes, capacity=cap) <= n_bins
    assert sorted(np.unique(bins)) == list(range(n_bins))            # every bin used
    assert packing.batch_costs(sizes, bins, n_bins).max() <= cap


def test_auto_packs_many_similar_items_near_the_bound():
    # Eight molecule-sized items per bin: first fit strands a few atoms of room in every bin.
    rng = np.random.default_rng(0)
    sizes = np.clip(rng.normal(23, 4.5, 20_000), 4, None).round()
    cap = sizes.sum() / 2_500
    bound = packing.lower_bound(sizes, capacity=cap)
    _, ffd_bins = packing.pack(sizes, cap)
    _, auto_bins = packing.pack(sizes, cap, method="auto")
    assert ffd_bins > 1.01 * bound
    assert auto_bins <= 1.01 * bound


def test_auto_for_several_dimensions_is_deterministic_and_no_worse_than_first_fit():
    sizes = np.random.default_rng(1).integers(1, 30, (500, 2)).astype(float)
    auto, ffd = packing.pack(sizes, [100, 100], method="auto"), packing.pack(sizes, [100, 100])
    assert auto[1] <= ffd[1]
    assert np.array_equal(auto[0], packing.pack(sizes, [100, 100], method="auto")[0])
    assert (packing.batch_costs(sizes, auto[0], auto[1]) <= 100).all()
    one = np.random.default_rng(2).integers(1, 30, 500).astype(float)
    order = np.random.default_rng(3).permutation(500)
    a = packing.pack(one, 100.0, method="auto", order=order)
    b = packing.pack(one, 100.0, method="auto", order=order)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]


def test_the_packing_modules_take_no_private_name_from_another_module():
    """DESIGN.md: what two modules share gets one public home below both (here hullpack._packing_inputs);
    no module imports another's private names, nor reaches them as attributes."""
    import ast
    import pathlib

    root = pathlib.Path(hullpack.__file__).parent
    files = [root / "packing.py", root / "packing_runs.py", root / "packing_auto.py", root / "_packing_inputs.py",
             *sorted((root / "samplers").glob("*.py"))]
    modules = {"packing", "packing_runs", "packing_auto", "_packing_inputs", "_core_loader"}
    found = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                found += [f"{path.name}: from {'.' * node.level}{node.module} import {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__") and a.name != "_core"]
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                  and node.attr.startswith("_") and not node.attr.startswith("__")):
                found.append(f"{path.name}: {node.value.id}.{node.attr}")
    assert found == []


def test_the_input_checks_keep_their_names_in_packing():
    """check_missing, first_non_number and oversize_error, named in hullpack.packing before they had a
    home of their own, are still there, and are the same functions."""
    from hullpack import _packing_inputs
    for name in ("check_missing", "first_non_number", "oversize_error"):
        assert getattr(packing, name) is getattr(_packing_inputs, name)
    with pytest.raises(InvalidSizesError, match=r"^sizes\[1\] is missing \(None\): drop those items"):
        packing.pack([3, None, 2], capacity=4)


@pytest.mark.parametrize("per_batch, within", [(64, 1.005), (16, 1.01)])
def test_auto_fills_both_budgets_where_edges_per_node_vary_widely(per_batch, within):
    # Graphs whose edges per node vary 2-8x: a batch full in nodes needs the graphs heavy in edges,
    # and the other way round. Candidate batches only along the two axes left batches full in one
    # budget and 85-95% full in the other (1.0365x the bound at 64 graphs a batch); at 16 a batch,
    # batches full in one budget stay the least loaded along the others and use up every item's look
    # unless each look past sinks them in that direction (1.031x without sinking, 1.0055x with).
    rng = np.random.default_rng(0)
    small = rng.random(100_000) < 0.7
    nodes = np.rint(np.where(small, rng.lognormal(4, 0.5, 100_000), rng.lognormal(6, 0.8, 100_000))).clip(1, None)
    sizes = np.stack([nodes, np.rint(nodes * rng.uniform(2, 8, 100_000))], 1)
    cap = per_batch * sizes.mean(0)
    fits = (sizes <= cap).all(1)
    sizes = sizes[fits]
    bins, n_bins = packing.pack(sizes, cap, method="auto")
    assert (packing.batch_costs(sizes, bins, n_bins) <= cap).all()
    assert np.array_equal(np.sort(np.unique(bins)), np.arange(n_bins))
    assert n_bins <= within * packing.lower_bound(sizes, capacity=cap)


def test_one_column_of_sizes_packs_as_one_budget():
    """An (n, 1) array (one column of a table) is one budget: every method, and the samplers."""
    from hullpack.samplers import DistributedBalancedBatchSampler, PackedBatchSampler
    column = np.random.default_rng(4).integers(1, 40, 300).astype(float)
    for method in ("ffd", "bfd", "hist", "auto"):
        flat, one = packing.pack(column, 100.0, method), packing.pack(column[:, None], [100.0], method)
        assert np.array_equal(flat[0], one[0]) and flat[1] == one[1]
    packed = PackedBatchSampler(column[:, None], [100.0], seed=0)
    assert list(packed) == list(PackedBatchSampler(column, 100.0, seed=0))
    dealt = DistributedBalancedBatchSampler(column[:, None], num_replicas=2, rank=1, max_cost=[100.0], seed=0)
    assert list(dealt) == list(DistributedBalancedBatchSampler(column, num_replicas=2, rank=1, max_cost=100.0, seed=0))
    with pytest.raises(InvalidSizesError, match=r"sizes\[2\] is negative"):
        packing.pack(np.array([[1.0], [2.0], [-3.0]]), [4.0], "auto")


@pytest.mark.parametrize("method", ["ffd", "bfd", "auto"])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_keys_order_the_items_and_the_capacity_holds_for_the_sizes(method, k):
    """Keys (rounded costs, say) set the order items are taken in; every bin holds the real sizes,
    and a key is never taken for a size: keys far below the sizes still give feasible bins."""
    rng = np.random.default_rng(k)
    sizes = rng.lognormal(0.0, 0.7, (3000, k)) if k > 1 else rng.lognormal(0.0, 0.7, 3000)
    cap = 20 * sizes.mean(axis=0)
    real_keys = sizes if k == 1 else (sizes / cap).max(axis=1)
    for keys in (real_keys, np.round(real_keys, 1), real_keys * 1e-3, np.zeros(sizes.shape[0])):
        bins, nb = packing.pack(sizes, cap, method, order=rng.permutation(sizes.shape[0]), keys=keys)
        loads = packing.batch_costs(sizes, bins, nb)
        assert (loads <= cap * (1 + 1e-12)).all() and np.bincount(bins, minlength=nb).min() >= 1
    # Keys equal to the packing's own sort keys give exactly the bins of no keys.
    order = rng.permutation(sizes.shape[0])
    plain = packing.pack(sizes, cap, method, order=order)
    keyed = packing.pack(sizes, cap, method, order=order, keys=real_keys)
    assert np.array_equal(plain[0], keyed[0]) and plain[1] == keyed[1]


def test_keys_are_checked_and_named():
    sizes = np.array([3.0, 2.0, 1.0])
    with pytest.raises(InvalidInputError, match=r"keys must have shape \(3,\)"):
        packing.pack(sizes, 4.0, keys=[1.0, 2.0])
    with pytest.raises(InvalidSizesError, match=r"keys\[1\] is not finite \(nan\): every item needs a finite key"):
        packing.pack(sizes, 4.0, keys=[1.0, np.nan, 2.0])
    with pytest.raises(InvalidSizesError, match=r"keys\[2\] is negative"):
        packing.pack(sizes, 4.0, method="auto", keys=[1.0, 2.0, -1.0])
    with pytest.raises(InvalidInputError, match="method='hist' .* takes no keys"):
        packing.pack(sizes, 4.0, method="hist", keys=sizes)
    with pytest.raises(OversizeItemError, match="item 0 has size 5.0 > capacity 4.0"):  # sizes, not keys, must fit
        packing.pack(np.array([5.0, 1.0]), 4.0, keys=[1.0, 1.0])


def test_packed_sampler_fills_both_budgets_with_equal_items():
    """Equal items whose budgets are exact multiples of their sizes fill every batch: costs rounded
    up to the epoch's grid only order the items (they once lost one item a batch to rounding)."""
    from hullpack.samplers import PackedBatchSampler
    sizes = np.tile([20.0, 40.0], (6400, 1))
    for cap in ([1280.0, 2560.0], 1280.0 + 2560.0):
        sampler = PackedBatchSampler(sizes, cap, seed=0)
        for epoch in (0, 1):
            sampler.set_epoch(epoch)
            assert sorted({len(b) for b in sampler}) == [64] and len(sampler) == 100
