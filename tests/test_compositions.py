"""hullpack.compositions: systems, grids and the first-layer gather, for orders 2 to 8."""
import hashlib
import itertools
from fractions import Fraction
from math import comb, gcd

import numpy as np
import pytest

from hullpack import _core
from hullpack.compositions import (first_layer, first_layer_pairs, grid_fractions, line_layers,
                                   line_weight_tiles, reduced_grid, system_names, systems, uniform_grid)
from hullpack.elements import element_index
from hullpack.errors import InvalidInputError


# ---------------------------------------------------------------------------------------------
# Systems
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("order, count", [(2, 3655), (3, 102340), (4, 2123555)])
def test_all_systems_of_elemnet(order, count):
    table = systems(order)
    assert table.shape == (count, order) and table.dtype == np.int32
    assert (np.diff(table, axis=1) > 0).all()                        # ascending within a row
    assert len({tuple(r) for r in table.tolist()}) == count
    keys = table[:, 0].astype(np.int64)
    for j in range(1, order):
        keys = keys * 86 + table[:, j]
    assert (np.diff(keys) > 0).all()                                 # lexicographic rows
    if order == 3:
        assert table[:3].tolist() == [[0, 1, 2], [0, 1, 3], [0, 1, 4]] and table[-1].tolist() == [83, 84, 85]
    if order == 4:
        assert table[:2].tolist() == [[0, 1, 2, 3], [0, 1, 2, 4]] and table[-1].tolist() == [82, 83, 84, 85]


@pytest.mark.parametrize("order", [4, 5, 6, 7, 8])
def test_systems_of_any_order_are_the_combinations(order):
    elements = [0, 3, 7, 10, 22, 24, 40, 51, 60, 85]
    table = systems(order, elements)
    assert table.dtype == np.int32 and table.shape == (comb(len(elements), order), order)
    assert table.tolist() == [list(c) for c in itertools.combinations(elements, order)]


def test_quaternary_systems_of_ten_elements():
    table = systems(4, "Li Fe Mn Co Ni O P S F Al")
    assert table.shape == (210, 4)
    assert system_names(table)[:3] == ["Al-F-Li-O", "F-Li-O-P", "F-Li-O-S"]   # rows in ElemNet order, names alphabetical


def test_systems_of_an_element_subset_in_elemnet_order():
    table = systems(3, ["Pu", "H", "O", "Fe"])
    assert system_names(table) == ["Fe-H-O", "H-O-Pu", "Fe-H-Pu", "Fe-O-Pu"]    # rows in ElemNet's order, names alphabetical
    assert systems(2, "Fe Ni").tolist() == [[element_index("Fe"), element_index("Ni")]]
    assert systems(2, [0, 5]).tolist() == [[0, 5]]
    assert system_names(systems(2, "Li-O")) == ["Li-O"]


@pytest.mark.parametrize("kwargs, match", [
    ({"order": 2, "elements": ["Fe", "He"]}, "He is not one of ElemNet's 86 elements"),
    ({"order": 2, "elements": ["Fe", "Xx", "Yy"]}, "'Xx', 'Yy'"),
    ({"order": 2, "elements": "fe o"}, r"'fe', 'o' \(symbols start with a capital letter: Fe, O\)"),
    ({"order": 2, "elements": ["Fe", "Fe", "Ni"]}, "more than once: Fe"),
    ({"order": 3, "elements": ["Fe", "Ni"]}, "2 element.s. make no system of order 3"),
    ({"order": 9}, r"order must be 2 to 8 \(elements per system"),
    ({"order": 1}, r"order must be 2 to 8"),
    ({"order": 5, "elements": "Fe Ni O Al"}, "4 element.s. make no system of order 5"),
    ({"order": 2, "elements": [0, 86]}, "outside 0..85"),
    ({"order": 2, "elements": "Fe Ni Va"}, r"'Va' \(Va is CALPHAD's vacancy, not an element: leave it out\)"),
    ({"order": 2, "elements": ["Fe3+", "O"]}, r"'Fe3\+' \(symbols without charges: 'Fe', not 'Fe3\+'\)"),
])
def test_systems_bad_requests(kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        systems(**kwargs)


def test_core_systems_rejects_garbage():
    for bad, match in ((np.array([1, 0], np.int32), r"elements must be strictly ascending: elements\[1\] = 0"),
                       (np.array([0, 0, 1], np.int32), r"elements\[1\] = 0 after 0"),
                       (np.array([-1, 2], np.int32), r"elements\[0\] = -1 is negative"),
                       (np.array([0, 1], np.int64), "elements: expected dtype int32"),
                       ([0, 1], "elements: expected a numpy array")):
        with pytest.raises(ValueError, match=match):
            _core.systems(bad, 2)
    with pytest.raises(ValueError, match="order: expected an integer"):
        _core.systems(np.arange(5, dtype=np.int32), True)
    # counted (with int64 overflow checks) before anything is allocated
    with pytest.raises(ValueError, match=r"elements: 86 elements make too many systems of order 8 \(53060358690; at most"):
        _core.systems(np.arange(86, dtype=np.int32), 8)
    with pytest.raises(ValueError, match="make too many systems of order 8 .beyond int64"):
        _core.systems(np.arange(3000, dtype=np.int32), 8)


# ---------------------------------------------------------------------------------------------
# Grids
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("order, n", [(2, 1), (2, 100), (3, 1), (3, 20), (3, 7), (4, 1), (4, 20), (4, 9),
                                      (5, 6), (8, 3)])
def test_uniform_grid(order, n):
    g = uniform_grid(order, n)
    expected = comb(n + order - 1, order - 1)
    assert g.shape == (expected, order) and g.dtype == np.int32
    assert (g.sum(axis=1) == n).all() and (g >= 0).all()
    assert len({tuple(r) for r in g.tolist()}) == expected
    assert sorted(g[:, 1:].tolist()) == g[:, 1:].tolist()           # sorted by the later fractions
    for m in range(1, order + 1):
        sub = uniform_grid(order, n, min_elements=m)
        keep = (g > 0).sum(axis=1) >= m
        np.testing.assert_array_equal(sub, g[keep])
    if order == 3 and n == 20:
        assert len(uniform_grid(3, 20, min_elements=2)) == 228
    if order == 4 and n == 20:
        assert len(uniform_grid(4, 20, min_elements=2)) == 1767 and len(uniform_grid(4, 20, min_elements=4)) == 969


def brute_reduced(order, N, min_elements):
    pts = set()
    for d in range(1, N + 1):
        for a in itertools.product(range(d + 1), repeat=order - 1):
            if sum(a) > d:
                continue
            full = (d - sum(a),) + a
            if sum(x > 0 for x in full) >= min_elements:
                pts.add(tuple(Fraction(x, d) for x in full))
    return sorted(pts, key=lambda p: p[1:])


@pytest.mark.parametrize("order, N, m", [(2, 10, 1), (2, 10, 2), (2, 17, 1), (3, 10, 1), (3, 6, 3), (3, 8, 2),
                                         (4, 6, 1), (4, 9, 4), (5, 5, 2), (6, 4, 1)])
def test_reduced_grid_is_every_distinct_composition(order, N, m):
    g = reduced_grid(order, N, min_elements=m)
    expected = brute_reduced(order, N, m)
    assert len(g) == len(expected)
    got = [tuple(Fraction(int(x), int(r.sum())) for x in r) for r in g]
    assert got == expected                                             # same points, same order
    assert all(gcd(*map(int, r)) == 1 for r in g) and (g.sum(axis=1) <= N).all()


def test_elemnet_binary_grid_is_31_points():
    assert len(reduced_grid(2, 10)) == 33                              # Farey sequence F_10
    g = reduced_grid(2, 10, min_elements=2)
    assert len(g) == 31
    x = grid_fractions(g)[:, 1]
    assert x[0] == pytest.approx(0.1) and x[-1] == pytest.approx(0.9) and (np.diff(x) > 0).all()


def test_grid_fractions():
    f = grid_fractions(uniform_grid(3, 20))
    np.testing.assert_allclose(f.sum(axis=1), 1.0, atol=1e-15)
    assert f[1].tolist() == [0.95, 0.0, 0.05]
    f4 = grid_fractions(uniform_grid(4, 20))
    np.testing.assert_allclose(f4.sum(axis=1), 1.0, atol=1e-15)
    assert f4[1].tolist() == [0.95, 0.0, 0.0, 0.05]


def _digest(a):
    return hashlib.sha256(np.ascontiguousarray(a, dtype="<i4").tobytes()).hexdigest()[:16]


@pytest.mark.parametrize("make, shape, digest", [
    (lambda: systems(2), (3655, 2), "566399506f69c9b9"),
    (lambda: systems(3), (102340, 3), "f583585ab1bcaf72"),
    (lambda: uniform_grid(3, 20), (231, 3), "85d978eaeef0bf83"),
    (lambda: uniform_grid(3, 20, min_elements=2), (228, 3), "df34149c85b53043"),
    (lambda: uniform_grid(3, 20, min_elements=3), (171, 3), "527f2d7c24ee6045"),
    (lambda: uniform_grid(2, 100), (101, 2), "47c9455f9b89f346"),
    (lambda: reduced_grid(2, 40, min_elements=2), (489, 2), "24f5b769ffb3d199"),
    (lambda: reduced_grid(3, 40), (9880, 3), "5d74dba41094f6e5"),
    (lambda: reduced_grid(3, 40, min_elements=3), (8410, 3), "aaf838450ac08ffb"),
    (lambda: reduced_grid(3, 150), (481840, 3), "a8326e3226020c54"),
])
def test_binary_and_ternary_tables_are_unchanged(make, shape, digest):
    """Tables of orders 2 and 3 as the dedicated enumerations wrote them, bit for bit (digests
    recorded from them), now that one general enumeration serves every order."""
    a = make()
    assert a.shape == shape and _digest(a) == digest


@pytest.mark.parametrize("call, match", [
    (lambda: uniform_grid(2, 0), r"n \(the grid step is 1/n\) must be in 1"),
    (lambda: uniform_grid(3, 10 ** 6), "must be in 1..5000"),
    (lambda: uniform_grid(3, 4, min_elements=4), "min_elements must be in 1..3"),
    (lambda: uniform_grid(1, 4), "order must be"),
    (lambda: uniform_grid(9, 4), "order must be 2 to 8"),
    (lambda: uniform_grid(4, 464), "must be in 1..463 for order 4"),
    (lambda: uniform_grid(8, 33), "must be in 1..32 for order 8"),
    (lambda: reduced_grid(4, 140), "max_denominator must be in 1..139 for order 4"),
    (lambda: uniform_grid(4, 4, min_elements=5), "min_elements must be in 1..4"),
    (lambda: reduced_grid(3, 0), "max_denominator must be in 1..400"),
    (lambda: reduced_grid(2, 10 ** 6), "max_denominator must be in 1..10000"),
    (lambda: uniform_grid(2, 2.5), "n: expected an integer"),
])
def test_grids_too_coarse_or_too_fine(call, match):
    with pytest.raises(InvalidInputError, match=match):
        call()


# ---------------------------------------------------------------------------------------------
# First-layer gather
# ---------------------------------------------------------------------------------------------

def dense_inputs(table, grid, start, count):
    """The 86-wide inputs the gather avoids building."""
    f = grid_fractions(grid).astype(np.float32)
    x = np.zeros((count, 86), np.float32)
    for q in range(count):
        s, p = divmod(start + q, len(grid))
        x[q, table[s]] = f[p]
    return x


@pytest.mark.parametrize("order, start, count", [(2, 0, 101 * 3), (2, 50, 200), (3, 7, 500), (3, 231 * 5 - 3, 6),
                                                 (4, 0, 1771 * 5), (4, 1771 * 2 - 5, 300), (5, 3, 200)])
def test_first_layer_equals_dense_linear(order, start, count):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    layer = torch.nn.Linear(86, 64)
    wt = layer.weight.detach().T.contiguous().numpy()
    b = layer.bias.detach().numpy()
    table = systems(order, ["H", "O", "Fe", "Ni", "Pu"])
    grid = uniform_grid(order, {2: 100, 3: 20, 4: 20, 5: 6}[order])
    got = first_layer(table, grid, wt, b, start, count, threads=2)
    x = dense_inputs(table, grid, start, count)
    with torch.no_grad():
        expected = layer(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_first_layer_bf16_is_the_rounded_float32():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    wt = rng.normal(size=(86, 48)).astype(np.float32)
    b = rng.normal(size=48).astype(np.float32)
    table, grid = systems(3, "Fe Ni Al Cu"), uniform_grid(3, 10)
    f32 = first_layer(table, grid, wt, b)
    bits = first_layer(table, grid, wt, b, dtype="bfloat16")
    assert bits.dtype == np.uint16 and bits.shape == f32.shape
    rounded = torch.from_numpy(f32).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(bits, rounded)                      # round to nearest even, bit for bit
    as_bf16 = torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16)
    assert as_bf16.dtype == torch.bfloat16


def test_first_layer_writes_into_out_and_streams_in_slices():
    rng = np.random.default_rng(1)
    wt = rng.normal(size=(86, 16)).astype(np.float32)
    b = np.zeros(16, np.float32)
    table, grid = systems(2, "Fe Ni Al Cu"), uniform_grid(2, 10)
    whole = first_layer(table, grid, wt, b)
    buf = np.empty((7, 16), np.float32)
    parts = []
    for start in range(0, len(whole), 7):
        count = min(7, len(whole) - start)
        out = first_layer(table, grid, wt, b, start, count, out=buf[:count])
        assert out is buf[:count] or np.shares_memory(out, buf)
        parts.append(out.copy())
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    # pure-element points reproduce the weight row exactly (bias 0)
    np.testing.assert_array_equal(whole[0], wt[table[0, 0]])


@pytest.mark.parametrize("change, match", [
    (lambda a: a.update(start=-1), "pairs must lie in"),
    (lambda a: a.update(count=10 ** 6), "pairs must lie in"),
    (lambda a: a.update(table=np.array([[0, 86]], np.int32)), r"systems\[0, 1\] = 86 is not a row of weight_t"),
    (lambda a: a.update(grid=np.array([[1, 0], [0, 0]], np.int32)), r"grid\[1\] is all zero"),
    (lambda a: a.update(grid=np.array([[1, -1], [0, 2]], np.int32)), r"grid\[0, 1\] = -1 is negative"),
    (lambda a: a.update(bias=np.zeros(3, np.float32)), "bias: expected 8 values"),
    (lambda a: a.update(wt=np.zeros((86, 8))), "weight_t: expected a C-contiguous float32"),
    (lambda a: a.update(wt=np.zeros((8, 86), np.float32).T), "weight_t: expected a C-contiguous float32"),
    (lambda a: a.update(out=np.zeros((2, 8), np.float64)), "out: dtype float64 does not match"),
    (lambda a: a.update(out=np.zeros((3, 8), np.float32)), r"out: expected shape \(2, 8\)"),
    (lambda a: a.update(dtype="float16"), "dtype: expected"),
])
def test_first_layer_bad_input(change, match):
    args = dict(table=np.array([[0, 1]], np.int32), grid=np.array([[1, 0], [0, 2]], np.int32),
                wt=np.zeros((86, 8), np.float32), bias=np.zeros(8, np.float32), start=0, count=2, out=None,
                dtype="float32")
    change(args)
    with pytest.raises(InvalidInputError, match=match):
        first_layer(args["table"], args["grid"], args["wt"], args["bias"], args["start"], args["count"],
                    out=args["out"], dtype=args["dtype"])


def test_core_first_layer_rejects_garbage():
    t, g = np.array([[0, 1]], np.int32), np.array([[1, 1]], np.int32)
    wt, b, out = np.zeros((86, 4), np.float32), np.zeros(4, np.float32), np.zeros((1, 4), np.float32)
    ro = out.copy()
    ro.flags.writeable = False
    for args, match in (((t, g, wt, b, 0, 1, ro), "out: must be C-contiguous and writeable"),
                        ((t, g, wt, b, 0, 1, None), "out: expected a numpy array"),
                        ((t.astype(np.int64), g, wt, b, 0, 1, out), "systems: expected dtype int32"),
                        ((t, g, wt, b, 0, 1.0, out), "count: expected an integer"),
                        ((t, g, wt, b, 0, 1, out, -1), "n_threads must be in 0..4096"),
                        ((t, np.zeros((0, 2), np.int32), wt, b, 0, 0, out), "grid: no points"),
                        ((np.array([[0, 1, 2]], np.int32), g, wt, b, 0, 1, out), "grid: expected 3 columns")):
        with pytest.raises(ValueError, match=match):
            _core.first_layer(*args)


@pytest.mark.parametrize("order", [2, 3, 4])
def test_first_layer_pairs_are_the_flat_rows_bit_for_bit(order):
    rng = np.random.default_rng(2)
    wt = rng.normal(size=(86, 40)).astype(np.float32)
    b = rng.normal(size=40).astype(np.float32)
    table, grid = systems(order, "H Fe Ni O Pu"), uniform_grid(order, 12)
    s, p = rng.integers(0, len(table), 300), rng.integers(0, len(grid), 300)
    for dtype in ("float32", "bfloat16"):
        flat = first_layer(table, grid, wt, b, dtype=dtype)
        np.testing.assert_array_equal(first_layer_pairs(table, grid, s, p, wt, b, dtype=dtype, threads=2),
                                      flat[s * len(grid) + p])
    assert first_layer_pairs(table, grid, [], [], wt, b).shape == (0, 40)


@pytest.mark.parametrize("s, p, match", [
    ([0, 5], [0, 1], r"systems_idx\[1\] = 5 is not a row of systems \(0\.\.0\)"),
    ([0, 0], [0, 2], r"points_idx\[1\] = 2 is not a row of grid \(0\.\.1\)"),
    ([0, -1], [0, 1], r"systems_idx\[1\] = -1"),
    ([0], [0, 1], "points_idx: expected 1 indices"),
])
def test_first_layer_pairs_bad_indices(s, p, match):
    wt, b = np.zeros((86, 8), np.float32), np.zeros(8, np.float32)
    with pytest.raises(InvalidInputError, match=match):
        first_layer_pairs(np.array([[0, 1]], np.int32), np.array([[1, 0], [1, 1]], np.int32), s, p, wt, b)


def two_layers(seed=0, h=96, h2=100):
    rng = np.random.default_rng(seed)
    wt = rng.normal(size=(86, h)).astype(np.float32)
    b = rng.normal(scale=0.5, size=h).astype(np.float32)
    w2 = rng.normal(scale=h ** -0.5, size=(h2, h)).astype(np.float32)
    b2 = rng.normal(scale=0.1, size=h2).astype(np.float32)
    return wt, b, w2, b2


def two_layers_reference(table, grid, wt, b, w2, b2, start=0, count=None):
    count = len(table) - start if count is None else count
    h1 = np.maximum(first_layer(table, grid, wt, b, start * len(grid), count * len(grid)), 0)
    return np.maximum(h1.astype(np.float64) @ w2.T.astype(np.float64) + b2, 0)


@pytest.mark.parametrize("grid", [uniform_grid(2, 100), uniform_grid(2, 7)[::-1],
                                  np.random.default_rng(3).permutation(reduced_grid(2, 12)), np.array([[1, 1]])])
def test_line_layers_equal_the_two_layers(grid):
    wt, b, w2, b2 = two_layers()   # 100 outputs: one full tile of 64 and one padded
    table = systems(2, "H Li Fe Ni O Pu")
    tiles = line_weight_tiles(w2)
    assert tiles.shape == (2, 96, 64)
    got = line_layers(table, grid, wt, b, tiles, b2, threads=2)
    assert got.shape == (len(table) * len(grid), 100)
    ref = two_layers_reference(table, grid, wt, b, w2, b2)
    np.testing.assert_allclose(got, ref, atol=2e-5 * np.abs(ref).max())
    # slices of systems, one thread: the same bits (a system's result does not depend on them)
    part = line_layers(table, grid, wt, b, tiles, b2, 2, 3, threads=1)
    np.testing.assert_array_equal(part, got[2 * len(grid):5 * len(grid)])
    bits = line_layers(table, grid, wt, b, tiles, b2, 2, 3, dtype="bfloat16")
    torch = pytest.importorskip("torch")
    rounded = torch.from_numpy(part).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(bits, rounded)


def test_line_layers_at_the_pure_elements_and_switching_units():
    # units whose ReLU switches between grid points, at the ends of the line, or never
    wt, b, w2, b2 = two_layers(seed=4, h=64, h2=64)
    wt[1, :8] = -wt[0, :8]          # units 0..7 change sign along H-He
    wt[0, 8:12] = wt[1, 8:12] = 0.0  # c = 0: on or off along the whole line
    b[8:10], b[10:12] = 1.0, -1.0
    table, grid = np.array([[0, 1], [1, 0]], np.int32), uniform_grid(2, 50)
    got = line_layers(table, grid, wt, b, line_weight_tiles(w2), b2)
    np.testing.assert_allclose(got, two_layers_reference(table, grid, wt, b, w2, b2), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Pinned numerics: the kernels are their float32 operations, one rounding each, in their order (no
# fused multiply-add in any target_clones clone, at any -march; see docs/numerics.md)
# ---------------------------------------------------------------------------------------------

def first_layer_float32(table, grid, wt, b, pairs):
    """The gather's operations in numpy float32: bias, then + fraction * row per element."""
    out = np.empty((len(pairs), wt.shape[1]), np.float32)
    for q, (s, p) in enumerate(pairs):
        num = grid[p]
        den = float(num.sum())
        r = b.copy()
        for e in range(table.shape[1]):
            if num[e]:
                r = r + np.float32(num[e] / den) * wt[table[s, e]]
        out[q] = r
    return out


def line_layers_float32(table, grid, wt, b, w2, b2):
    """line_layers' operations in numpy float32: per system, the units' events along the sorted
    points, the running sums P and Q going up and down, z = (b2 + P + x Q) + P' + x Q'."""
    f32 = np.float32
    xs = (grid[:, 0] / (grid[:, 0].astype(np.float64) + grid[:, 1])).astype(f32)
    order = np.argsort(xs, kind="stable")
    x = xs[order]
    n_pts, h = len(grid), wt.shape[1]
    w2t = w2.T.astype(f32)                                            # (h, h2): unit j's row
    out = np.empty((len(table) * n_pts, len(b2)), f32)
    for s, (el_a, el_b) in enumerate(table):
        a, c = b + wt[el_b], wt[el_a] - wt[el_b]
        up, down = [[] for _ in range(n_pts)], [[] for _ in range(n_pts)]
        for j in range(h):
            if c[j] == 0:
                if a[j] > 0:
                    up[0].append(j)
                continue
            rising = c[j] > 0
            split = sum(((a[j] + x[k] * c[j]) > 0) != rising for k in range(n_pts))  # a prefix
            if rising and split < n_pts:
                up[split].append(j)
            if not rising and split > 0:
                down[split - 1].append(j)
        z = np.empty((n_pts, len(b2)), f32)
        p = q = np.zeros(len(b2), f32)
        for k in range(n_pts):
            for j in up[k]:
                p, q = p + a[j] * w2t[j], q + c[j] * w2t[j]
            z[k] = (b2 + p) + x[k] * q
        p = q = np.zeros(len(b2), f32)
        for k in reversed(range(n_pts)):
            for j in down[k]:
                p, q = p + a[j] * w2t[j], q + c[j] * w2t[j]
            z[k] = np.maximum((z[k] + p) + x[k] * q, 0)
        out[s * n_pts + order] = z
    return out


@pytest.mark.parametrize("order", [2, 3, 4, 8])
def test_first_layer_is_its_float32_operations_bit_for_bit(order):
    rng = np.random.default_rng(order)
    wt = rng.normal(size=(86, 40)).astype(np.float32)
    b = rng.normal(size=40).astype(np.float32)
    table = systems(order, "H Fe Ni O" if order <= 4 else "H Li O Al Fe Ni Cu Pu Si")
    grid = uniform_grid(order, 7 if order <= 4 else 3)
    pairs = [(s, p) for s in range(len(table)) for p in range(len(grid))]
    np.testing.assert_array_equal(first_layer(table, grid, wt, b, threads=2), first_layer_float32(table, grid, wt, b, pairs))


def test_line_layers_are_their_float32_operations_bit_for_bit():
    wt, b, w2, b2 = two_layers(seed=7, h=48, h2=80)
    table, grid = systems(2, "H Li Fe O"), reduced_grid(2, 9)
    got = line_layers(table, grid, wt, b, line_weight_tiles(w2), b2, threads=2)
    np.testing.assert_array_equal(got, line_layers_float32(table, grid, wt, b, w2, b2))


@pytest.mark.parametrize("change, match", [
    (lambda a: a.update(table=np.array([[0, 1, 2]], np.int32), grid=np.array([[1, 0, 0]], np.int32)),
     "systems: expected 2 columns"),
    (lambda a: a.update(table=np.array([[0, 86]], np.int32)), r"systems\[0, 1\] = 86 is not a row of weight_t"),
    (lambda a: a.update(grid=np.array([[1, 0], [0, 0]], np.int32)), r"grid\[1\] is all zero"),
    (lambda a: a.update(grid=np.array([[1, -1]], np.int32)), r"grid\[0\] = \(1, -1\) has a negative entry"),
    (lambda a: a.update(tiles=np.zeros((1, 8, 64), np.float32)), r"w2_tiles: expected shape \(1, 16, 64\)"),
    (lambda a: a.update(tiles=np.zeros((1, 16, 64))), "w2_tiles: expected a C-contiguous float32"),
    (lambda a: a.update(b2=np.zeros(65, np.float32)), r"w2_tiles: expected shape \(2, 16, 64\)"),
    (lambda a: a.update(start=2), "systems must lie in 0..1"),
    (lambda a: a.update(out=np.zeros((1, 8), np.float32)), r"out: expected shape \(2, 8\)"),
    (lambda a: a.update(dtype="float16"), "dtype: expected"),
])
def test_line_layers_bad_input(change, match):
    rng = np.random.default_rng(5)
    args = dict(table=np.array([[0, 1]], np.int32), grid=np.array([[1, 0], [1, 1]], np.int32),
                wt=rng.normal(size=(86, 16)).astype(np.float32), bias=np.zeros(16, np.float32),
                tiles=line_weight_tiles(np.ones((8, 16), np.float32)), b2=np.zeros(8, np.float32), start=0,
                out=None, dtype="float32")
    change(args)
    with pytest.raises(InvalidInputError, match=match):
        line_layers(args["table"], args["grid"], args["wt"], args["bias"], args["tiles"], args["b2"],
                    args["start"], out=args["out"], dtype=args["dtype"])


@pytest.mark.cuda
@pytest.mark.skipif(not __import__("hullpack").cuda_available(), reason="needs a CUDA GPU and a CUDA build")
@pytest.mark.parametrize("order", [2, 3])
def test_first_layer_cuda_matches_cpu(order):
    torch = pytest.importorskip("torch")
    from hullpack.compositions import first_layer_cuda

    rng = np.random.default_rng(order)
    wt = rng.normal(size=(86, 1024)).astype(np.float32)
    b = rng.normal(size=1024).astype(np.float32)
    table, grid = systems(order, "H O Fe Ni Al Pu"), uniform_grid(order, 100 if order == 2 else 20)
    start, count = 37, min(5000, len(table) * len(grid) - 37)
    cpu = first_layer(table, grid, wt, b, start, count)
    dev = [torch.from_numpy(a).cuda() for a in (table, grid, wt, b)]
    out = torch.empty((count, 1024), device="cuda")
    first_layer_cuda(*dev, start, count, out)
    np.testing.assert_array_equal(out.cpu().numpy(), cpu)  # the same roundings, bit for bit
    out16 = torch.empty((count, 1024), device="cuda", dtype=torch.bfloat16)
    first_layer_cuda(*dev, start, count, out16)
    cpu16 = first_layer(table, grid, wt, b, start, count, dtype="bfloat16")
    np.testing.assert_array_equal(out16.view(torch.int16).cpu().numpy().view(np.uint16), cpu16)
    with pytest.raises(InvalidInputError, match="is not a row of weight_t"):
        bad = dev[0].clone()
        bad[0, 0] = 86
        first_layer_cuda(bad, *dev[1:], 0, 1, out[:1])
    with pytest.raises(InvalidInputError, match="expected a CUDA array"):
        first_layer_cuda(table, *dev[1:], 0, 1, out[:1])


class _FakeCudaArray:
    """Host memory behind a __cuda_array_interface__: must be refused, never dereferenced."""

    def __init__(self, arr, **override):
        self._arr = arr
        self.__cuda_array_interface__ = {**dict(shape=arr.shape, typestr=arr.dtype.str, strides=None,
                                                data=(arr.ctypes.data, False), version=3), **override}


@pytest.mark.parametrize("which, override, match", [
    (0, {}, "not in memory of the current CUDA device"),
    (0, {"typestr": "<f8"}, "unsupported dtype"),
    (0, {"shape": (2,)}, "expected a 2-D array"),
    (0, {"strides": (8, 8)}, "C-contiguous"),
])
def test_core_first_layer_cuda_refuses_bad_arrays(which, override, match):
    arrays = [np.zeros((1, 2), np.int32), np.ones((1, 2), np.int32), np.zeros((86, 4), np.float32),
              np.zeros(4, np.float32), np.zeros((1, 4), np.float32)]
    fakes = [_FakeCudaArray(a) for a in arrays]
    fakes[which] = _FakeCudaArray(arrays[which], **override)
    expected = (ValueError, match) if _core.with_cuda else (RuntimeError, "built without CUDA")
    with pytest.raises(expected[0], match=expected[1]):
        _core.first_layer_cuda(*fakes[:4], 0, 1, fakes[4])


# ---------------------------------------------------------------------------------------------
# Formulas: charges and CALPHAD's vacancy
# ---------------------------------------------------------------------------------------------

CHARGED = ["Fe2+", "Fe3+2O3", "O2-", "Fe[2+]", "Li+", "Fe+2", "Fe[+2]", "SO4[-2]", "Fe(3+)", "Fe^2+", "Fe2O3-"]
VACANT = ["Va", "FeVa", "Fe0.9Va0.1", "(Fe)Va3", "NaVa"]


def test_formulas_with_charges_or_vacancies_say_so():
    """They got 'cannot parse formula' (pymatgen's 'invalid formula' for brackets) or
    "unknown element 'Va'"; pymatgen's Composition refuses each of them too."""
    from hullpack.elemnet.featurize import featurize, parse_formulas

    x, bad = parse_formulas(["Fe2O3"] + CHARGED + VACANT + [{"Fe2+": 2, "O2-": 3}, {"Fe": 1, "VA": 1}])
    reasons = [reason for _, _, reason in bad]
    assert [i for i, _, _ in bad] == list(range(1, len(CHARGED) + len(VACANT) + 3))
    charge = "charges (oxidation states) are not read: write the neutral formula, such as 'Fe2O3' for Fe3+ with O2-"
    vacancy = ("Va is a vacancy (CALPHAD's symbol), not an element: remove it and write the atoms only "
               "(Fe0.9Va0.1 is Fe)")
    assert [r.startswith(charge) for r in reasons[:len(CHARGED)]] == [True] * len(CHARGED)
    # an ion (a charge at the end) is named as one; an oxidation state inside a formula is not
    assert [CHARGED[i] for i, r in enumerate(reasons[:len(CHARGED)]) if "is an ion" not in r] == ["Fe3+2O3"]
    assert reasons[len(CHARGED):] == [vacancy] * len(VACANT) + [charge, vacancy]
    assert np.isnan(x[1:]).all() and x[0].sum() == pytest.approx(1.0)   # the valid row is read
    assert parse_formulas(CHARGED, all_elements=True)[1] == [(i - 1, f, r) for i, f, r in bad[:len(CHARGED)]]
    with pytest.raises(ValueError, match=r"\[1\] 'Fe3\+2O3': charges \(oxidation states\) are not read"):
        featurize(["Fe2O3", "Fe3+2O3"])
    pytest.importorskip("pymatgen")
    from pymatgen.core import Composition

    for formula in CHARGED + VACANT:
        with pytest.raises(ValueError):
            Composition(formula)


@pytest.mark.parametrize("formula", ["Fe-O", "Fe1-xO", "Li2O-Fe2O3", "Fe2O3+Al2O3", "fe2o3", "Xx", "Fe1e-3O"])
def test_hyphens_and_other_bad_formulas_are_no_charges(formula):
    from hullpack.elemnet.featurize import parse_formulas

    (_, _, reason), = parse_formulas([formula])[1]
    assert "charge" not in reason and "vacancy" not in reason


def test_formulas_that_parse_are_read_as_before():
    """Nothing read today is refused or read otherwise: V and Na beside other symbols, brackets,
    hydrates, and pymatgen's Species (a Composition of Fe2+ and O2- is Fe2O3, charges dropped)."""
    from hullpack.elemnet.featurize import parse_formulas

    pytest.importorskip("pymatgen")  # brackets (Ca(OH)2) are read by pymatgen
    x, bad = parse_formulas(["NaVO3", "V2O5", "Na", "VNa", "Ca(OH)2", "CuSO4·5H2O", "Li0.5CoO2"])
    assert bad == []
    row = dict(zip(["Na", "V", "O"], x[0, [element_index(e) for e in ("Na", "V", "O")]].tolist()))
    assert row == pytest.approx({"Na": 0.2, "V": 0.2, "O": 0.6})
    assert x[3, element_index("V")] == x[3, element_index("Na")] == pytest.approx(0.5)
    from pymatgen.core import Composition

    x, bad = parse_formulas([Composition({"Fe2+": 2, "O2-": 3}), "Fe2O3"])
    assert bad == [] and np.array_equal(x[0], x[1])


@pytest.mark.parametrize("formula, hydrate, amount", [
    ("CuSO4.5H2O", "CuSO4·5H2O", "CuSO4.5H2O1"),
    ("Na2CO3.10H2O", "Na2CO3·10H2O", "Na2CO3.10H2O1"),
    ("CuCl2.2NH3", "CuCl2·2NH3", "CuCl2.2N1H3"),
])
def test_a_full_stop_before_water_or_ammonia_is_ambiguous(formula, hydrate, amount):
    """A hydrate written with a full stop reads as a decimal amount (pymatgen: CuSO5.5H2): it is
    refused, naming both spellings, and each of them reads as it says."""
    from hullpack.elemnet.featurize import parse_formulas

    x, bad = parse_formulas([formula, hydrate, amount])
    assert [b[0] for b in bad] == [0]
    assert "ambiguous" in bad[0][2] and f"'{hydrate}'" in bad[0][2] and f"'{amount}'" in bad[0][2]
    water = parse_formulas(["CuSO4·5H2O", "CuS1O9H10"])[0]
    assert np.array_equal(water[0], water[1])


def test_decimal_amounts_before_water_still_read():
    """Only an integer amount, a full stop and a count before H2O or NH3 is taken for a hydrate:
    fractions such as Li0.5 and decimals elsewhere read as before."""
    from hullpack.elemnet.featurize import parse_formulas

    x, bad = parse_formulas(["Li0.5H2O", "Fe2.5O3", "CuSO4.5H2O1", "H2O"])
    assert bad == []


@pytest.mark.parametrize("elements, match", [
    ("Fe2O3", r"'Fe2O3' \(formulas, not elements: give the elements of 'Fe2O3': Fe, O\)"),
    ("Li O2", r"give the elements of 'O2': O\)"),
    ("Fe O He", r"^elements: He is not one of ElemNet's 86 elements \(no He, Ne, Ar, Po, At, Rn, Fr, Ra, nor any past "
                r"Pu\); see hullpack.elements$"),
    ("Fe Xx He", r"'Xx', 'He' \(He: elements ElemNet lacks\): ElemNet knows 86 elements \(no He, "),
])
def test_an_element_list_holding_a_formula_or_an_element_elemnet_lacks_says_so(elements, match):
    """'Fe2O3' was an unknown element, and He one too, where it is an element ElemNet lacks."""
    with pytest.raises(InvalidInputError, match=match):
        systems(2, elements)


@pytest.mark.parametrize("written", ["Fe;O;Li", "Fe\u2013O\u2013Li", "Fe \u2212 O \u2212 Li", "Fe O\u200b Li"])
def test_an_element_list_with_semicolons_typeset_dashes_or_invisible_characters_reads(written):
    """Semicolons (a European spreadsheet's list), en dashes and minus signs (a chemical system
    copied from a paper) and zero-width spaces made unknown elements such as 'Fe;O;Li'."""
    assert systems(2, written).tolist() == systems(2, "Fe O Li").tolist()
