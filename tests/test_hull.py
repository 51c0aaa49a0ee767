"""hullpack.hull: lower hulls against pymatgen's PhaseDiagram, a brute-force oracle, and bad input."""
import itertools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import hullpack
from hullpack import _core
from hullpack.errors import HullInputError
from hullpack.hull import e_above_hull, hull_batch, lower_hull

ELEMENTS = ("Fe", "Ni", "Al", "Cu", "Ti", "Zn")  # the first k name a system of order k


def uniform(order, n):
    if order == 2:
        return np.array([[n - j, j] for j in range(n + 1)], float) / n
    return np.array([[n - j - l, j, l] for j in range(n + 1) for l in range(n + 1 - j)], float) / n


def bowl(fractions, rng, noise=0.05, min_depth=0.0):
    """A negative bowl (mixing energy) with noise: what a formation-energy model predicts."""
    depth = rng.uniform(min_depth, 1.5)
    return -depth * (1 - (fractions ** 2).sum(axis=1)) + rng.normal(0, noise, len(fractions))


def pymatgen_hull(fractions, energies):
    """(e_above_hull, stable mask) from pymatgen with elemental references at 0 eV/atom."""
    pytest.importorskip("pymatgen")
    from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram
    from pymatgen.core import Composition

    k = fractions.shape[1]
    refs = [PDEntry(Composition({el: 1}), 0.0) for el in ELEMENTS[:k]]
    entries = []
    for f, e in zip(fractions, energies):
        comp = Composition({ELEMENTS[j]: f[j] for j in range(k) if f[j] > 0})
        entries.append(PDEntry(comp, e * comp.num_atoms))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pd = PhaseDiagram(refs + entries)
        stable = {id(e) for e in pd.stable_entries}
        e_above = np.array([pd.get_e_above_hull(e) for e in entries])
    return e_above, np.array([id(e) in stable for e in entries]), entries, pd


def assert_matches_pymatgen(f, e, atol):
    """lower_hull's energies above hull (within atol) and vertices equal pymatgen's; returns the hull."""
    h = lower_hull(f, e)
    ref_e, ref_stable, _, _ = pymatgen_hull(f, e)
    np.testing.assert_allclose(h.e_above_hull, ref_e, atol=atol)
    np.testing.assert_array_equal(h.is_vertex, ref_stable)
    return h


def assert_decomposition_matches_pymatgen(f, e):
    """Every point's decomposition (ids and weights) equals pymatgen's get_decomposition."""
    h = lower_hull(f, e)
    _, _, entries, pd = pymatgen_hull(f, e)
    index = {id(x): i for i, x in enumerate(entries)}
    for i, entry in enumerate(entries):
        ours = {int(v): w for v, w in zip(h.decomp_index[i], h.decomp_weight[i]) if w > 0}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = pd.get_decomposition(entry.composition)
        mapped = {}
        for x, amount in theirs.items():
            if x.composition.is_element:
                mapped[-1 - ELEMENTS.index(x.composition.elements[0].symbol)] = amount
            else:
                mapped[index[id(x)]] = amount
        assert ours.keys() == mapped.keys(), (i, ours, mapped)
        for v in ours:
            assert ours[v] == pytest.approx(mapped[v], abs=1e-9)


def brute_force_hull_energy(fractions, energies, queries):
    """Lower-hull energy at each query composition, trying every segment/triangle of the points and
    the elemental references (at 0 eV/atom)."""
    k = queries.shape[1]
    pts = np.vstack([np.eye(k), fractions])
    en = np.concatenate([np.zeros(k), energies])
    out = np.full(len(queries), np.inf)
    for combo in itertools.combinations(range(len(pts)), k):
        m = pts[list(combo)].T  # k x k, columns are the compositions
        if abs(np.linalg.det(m)) < 1e-12:
            continue
        w = np.linalg.solve(m, queries.T).T
        inside = (w >= -1e-12).all(axis=1)
        out[inside] = np.minimum(out[inside], w[inside] @ en[list(combo)])
    return out


# ---------------------------------------------------------------------------------------------
# Agreement with pymatgen
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("order", [2, 3])
def test_random_systems_match_pymatgen(order):
    rng = np.random.default_rng(order)
    for trial in range(12):
        if trial % 2:
            f = uniform(order, int(rng.integers(4, 12 if order == 3 else 40)))
            f = f[(f > 0).sum(axis=1) >= 2]
        else:  # random compositions, interior and on the edges
            f = rng.dirichlet(np.ones(order), size=int(rng.integers(1, 40)))
            if order == 3:
                f[: len(f) // 4, rng.integers(0, 3)] = 0
                f /= f.sum(axis=1, keepdims=True)
        e = bowl(f, rng)
        assert_matches_pymatgen(f, e, atol=1e-6)


def test_decomposition_matches_pymatgen():
    rng = np.random.default_rng(7)
    f = uniform(3, 8)
    f = f[(f > 0).sum(axis=1) >= 2]
    e = bowl(f, rng, noise=0.1)
    assert_decomposition_matches_pymatgen(f, e)


def _case(name):
    x = np.arange(1, 10) / 10
    g3 = uniform(3, 10)
    g3 = g3[(g3 > 0).sum(axis=1) >= 2]
    rng = np.random.default_rng(3)
    cases = {
        "binary tent (collinear)": (np.c_[[0.75, 0.5, 0.25], [0.25, 0.5, 0.75]], [-0.25, -0.5, -0.25]),
        "binary collinear run": (np.c_[1 - x, x], np.where(x <= 0.5, -x, -(1 - x))),
        "binary all positive": (np.c_[1 - x, x], 0.1 + x),
        "binary all zero": (np.c_[1 - x, x], np.zeros(9)),
        "binary single point": (np.array([[0.5, 0.5]]), [-0.1]),
        "binary duplicates": (np.array([[0.5, 0.5], [0.5, 0.5], [0.25, 0.75]]), [-0.1, -0.2, -0.05]),
        "binary ties on a 0.1 lattice": (uniform(2, 20)[1:-1], np.round(rng.normal(-0.2, 0.1, 19), 1)),
        "ternary pyramid (coplanar facets)": (g3, -3 * g3.min(axis=1)),
        "ternary all zero": (g3, np.zeros(len(g3))),
        "ternary all positive": (g3, 0.1 + g3[:, 0]),
        "ternary single point": (np.array([[0.2, 0.3, 0.5]]), [-0.3]),
        "ternary duplicates": (np.array([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5], [0.5, 0.5, 0]]), [-0.3, -0.4, -0.1]),
        "ternary collinear edge": (np.array([[0.75, 0.25, 0], [0.5, 0.5, 0], [0.25, 0.75, 0], [1 / 3, 1 / 3, 1 / 3]]),
                                   [-0.25, -0.5, -0.25, -0.2]),
        "ternary paraboloid (all on the hull)": (g3, -(1 - (g3 ** 2).sum(axis=1))),
        "ternary ties on a 0.1 lattice": (g3, np.round(rng.normal(-0.2, 0.1, len(g3)), 1)),
    }
    f, e = cases[name]
    return np.asarray(f, float), np.asarray(e, float)


DEGENERATE = [
    "binary tent (collinear)", "binary collinear run", "binary all positive", "binary all zero",
    "binary single point", "binary duplicates", "binary ties on a 0.1 lattice",
    "ternary pyramid (coplanar facets)", "ternary all zero", "ternary all positive", "ternary single point",
    "ternary duplicates", "ternary collinear edge", "ternary paraboloid (all on the hull)",
    "ternary ties on a 0.1 lattice",
]


@pytest.mark.parametrize("name", DEGENERATE)
def test_degenerate_systems_match_pymatgen(name):
    f, e = _case(name)
    assert_matches_pymatgen(f, e, atol=1e-9)


def test_expected_vertices_of_degenerate_systems():
    assert lower_hull(*_case("binary tent (collinear)")).vertices.tolist() == [1]
    assert lower_hull(*_case("binary collinear run")).vertices.tolist() == [4]      # x = 0.5 only
    assert lower_hull(*_case("binary all positive")).vertices.tolist() == []
    assert lower_hull(*_case("ternary all zero")).vertices.tolist() == []
    f, e = _case("ternary paraboloid (all on the hull)")
    assert lower_hull(f, e).is_vertex.all()


def test_points_on_the_hull_are_zero_and_not_vertices():
    # a vertex at the centre and points on the segments and facets it spans with the references
    c = np.array([1 / 3, 1 / 3, 1 / 3])
    f = [c]
    for t in (0.25, 0.5, 0.75):
        for ref in np.eye(3):
            f.append(t * c + (1 - t) * ref)                          # on hull edges
    f.append(0.5 * c + 0.25 * np.eye(3)[0] + 0.25 * np.eye(3)[1])    # inside a facet
    f = np.array(f)
    w_centre = 3 * f.min(axis=1)                                     # barycentric weight of the centre
    e = -0.6 * w_centre
    h = lower_hull(f, e)
    assert h.vertices.tolist() == [0]
    assert np.abs(h.e_above_hull).max() <= 1e-12
    assert lower_hull(f, e + np.r_[0, np.full(len(f) - 1, 1e-6)]).vertices.tolist() == [0]
    # pushed below by more than tol, each point becomes a vertex (alone: equal shifts stay collinear)
    for i in range(1, len(f)):
        lowered = e.copy()
        lowered[i] -= 1e-6
        assert lower_hull(f, lowered).vertices.tolist() == sorted({0, i})


@pytest.mark.parametrize("below, vertex", [(1e-10, False), (5e-10, False), (2e-9, True), (1e-8, True)])
def test_tolerance_decides_vertices_just_below_a_binary_hull(below, vertex):
    # The hull of A, the vertex V = (0.5, -0.4) and B runs through (0.25, -0.2): a point there that
    # is `below` under it is a vertex only when below > tol = 1e-9; within tol it is on the hull.
    f = np.c_[[0.75, 0.5], [0.25, 0.5]]
    h = lower_hull(f, [-0.2 - below, -0.4], tol=1e-9)
    assert h.is_vertex.tolist() == [vertex, True]
    assert h.e_above_hull[0] == 0.0
    assert lower_hull(f, [-0.2 - below, -0.4], tol=below / 2).is_vertex.tolist() == [True, True]
    assert lower_hull(f, [-0.2 - below, -0.4], tol=below * 2).is_vertex.tolist() == [False, True]
    # a point just below the segment A-B of a hull with no other vertex
    assert lower_hull([0.5], [-below]).is_vertex.tolist() == [vertex]


def assert_tolerance_decides_probe_vertices(f, hull_energies, below, vertex):
    """f[0] is a vertex and f[1], f[2] lie on the hull (energies hull_energies); each probe pushed
    `below` under it alone is a vertex exactly when `vertex`, at tol=1e-9 and either side of `below`."""
    for probe in (1, 2):
        e = np.array(hull_energies)
        e[probe] -= below
        h = lower_hull(f, e, tol=1e-9)
        assert h.is_vertex.tolist() == [True, probe == 1 and vertex, probe == 2 and vertex], probe
        assert h.e_above_hull[0] == h.e_above_hull[probe] == 0.0
        if not vertex:                                            # the hull is still the plane
            assert np.abs(h.e_above_hull).max() <= 1e-15
        assert lower_hull(f, e, tol=below / 2).is_vertex[probe]
        assert not lower_hull(f, e, tol=below * 2).is_vertex[probe]


@pytest.mark.parametrize("below, vertex", [(1e-10, False), (5e-10, False), (2e-9, True), (1e-8, True)])
def test_tolerance_decides_vertices_just_below_a_ternary_hull(below, vertex):
    # The centre C = (1/3, 1/3, 1/3) at -0.3 is a vertex; the hull over the facet C-A-B is the plane
    # through them. Points on that facet (one midway to A, one inside) sit `below` under it.
    c, a, b = np.full(3, 1 / 3), np.eye(3)[0], np.eye(3)[1]
    on_edge = 0.5 * c + 0.5 * a                                   # hull energy -0.15
    inside = 0.5 * c + 0.25 * a + 0.25 * b                        # hull energy -0.15
    f = np.array([c, on_edge, inside])
    assert_tolerance_decides_probe_vertices(f, [-0.3, -0.15, -0.15], below, vertex)


def test_duplicates_keep_the_lowest_then_the_first():
    f = np.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5]])
    assert lower_hull(f, [-0.1, -0.3, -0.2]).vertices.tolist() == [1]
    h = lower_hull(f, [-0.3, -0.3, -0.1])
    assert h.vertices.tolist() == [0]                                # equal energies: the first
    assert h.e_above_hull.tolist() == [0.0, 0.0, pytest.approx(0.2)]
    assert h.decomp_index[1].tolist()[0] == 0 and h.decomp_weight[1].tolist() == [1.0, 0.0]
    f3 = np.array([[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]])
    assert lower_hull(f3, [-0.3, -0.4]).vertices.tolist() == [1]


def test_pure_element_points_are_not_vertices_and_keep_their_energy():
    f = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    h = lower_hull(f, [-0.2, -0.5, 0.3])
    assert h.vertices.tolist() == [1]
    assert h.e_above_hull.tolist() == [pytest.approx(-0.2), 0.0, pytest.approx(0.3)]
    assert h.decomp_index[0].tolist()[0] == -1 and h.decomp_index[2].tolist()[0] == -2
    f3 = uniform(3, 2)
    h3 = lower_hull(f3, np.where(f3.max(axis=1) == 1, 0.7, -0.1))
    pure = f3.max(axis=1) == 1
    assert not h3.is_vertex[pure].any()
    np.testing.assert_allclose(h3.e_above_hull[pure], 0.7)


@st.composite
def small_system(draw, orders=(2, 3), max_points=9, max_weight=12):
    """A system of 1-max_points points: compositions from small integer weights (pure elements,
    edges/faces, duplicates, exact collinearities/coplanarities), energies free or on a coarse
    lattice (exact ties)."""
    order = draw(st.sampled_from(orders))
    n = draw(st.integers(1, max_points))
    weights = st.lists(st.integers(0, max_weight), min_size=order, max_size=order).filter(lambda w: sum(w) > 0)
    f = np.array(draw(st.lists(weights, min_size=n, max_size=n)), float)
    f /= f.sum(axis=1, keepdims=True)
    lattice = draw(st.sampled_from([0.0, 0.1, 0.25]))
    e = np.array(draw(st.lists(st.floats(-0.8, 0.4), min_size=n, max_size=n)))
    if lattice:
        e = np.round(e / lattice) * lattice
    return f, e


def assert_matches_brute_force(f, e):
    """lower_hull's energies above hull and vertices of a small system equal trying every simplex;
    a vertex lies more than tol below the hull of the others (of equal duplicates, the first)."""
    h = lower_hull(f, e)
    pure = f.max(axis=1) >= 1 - 1e-12
    hull = brute_force_hull_energy(f[~pure], e[~pure], f)
    np.testing.assert_allclose(h.e_above_hull[~pure], np.maximum(e - hull, 0)[~pure], atol=1e-9)
    np.testing.assert_allclose(h.e_above_hull[pure], e[pure], atol=1e-12)
    for v in range(len(f)):
        same = (f == f[v]).all(axis=1)
        after = same & ((e > e[v]) | ((e == e[v]) & (np.arange(len(f)) > v)))
        others = ~pure & ~after
        others[v] = False
        depth = brute_force_hull_energy(f[others], e[others], f[v:v + 1])[0] - e[v]
        assert h.is_vertex[v] == (not pure[v] and depth > 1e-9), (v, depth)


@settings(max_examples=100, deadline=None)
@given(small_system())
def test_matches_brute_force(system):
    """The energies above hull and the vertices of small systems, against trying every facet."""
    assert_matches_brute_force(*system)


def assert_decomposition_reconstructs(f, e, h):
    """h's decompositions (points and elemental references) rebuild each composition and its hull
    energy, with weights summing to 1, largest first, and only vertices among the points."""
    order = f.shape[1]
    ids, w = h.decomp_index, h.decomp_weight
    comp = np.where(ids[..., None] >= 0, f[np.clip(ids, 0, None)], np.eye(order)[np.clip(-1 - ids, 0, order - 1)])
    energy = np.where(ids >= 0, e[np.clip(ids, 0, None)], 0.0)
    np.testing.assert_allclose((w[..., None] * comp).sum(axis=1), f, atol=1e-12)
    np.testing.assert_allclose((w * energy).sum(axis=1), e - h.e_above_hull, atol=1e-12)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert (np.diff(w, axis=1) <= 0).all()                                 # largest weight first
    used = ids[w > 0]
    assert np.isin(used[used >= 0], h.vertices).all()                      # only vertices decompose


def test_decomposition_reconstructs_composition_and_hull_energy():
    rng = np.random.default_rng(11)
    for order in (2, 3):
        f = rng.dirichlet(np.ones(order), size=60)
        e = bowl(f, rng)
        assert_decomposition_reconstructs(f, e, lower_hull(f, e))


def test_ternary_facets_tile_the_composition_triangle():
    rng = np.random.default_rng(5)
    f = uniform(3, 12)
    e = bowl(f, rng)
    h = lower_hull(f, e)
    xy = np.vstack([f[:, 1:], [[0, 0], [1, 0], [0, 1]]])  # ids -1, -2, -3 index the last rows
    tri = xy[np.where(h.facets >= 0, h.facets, len(f) + (-1 - h.facets))]
    area = 0.5 * ((tri[:, 1, 0] - tri[:, 0, 0]) * (tri[:, 2, 1] - tri[:, 0, 1])
                  - (tri[:, 1, 1] - tri[:, 0, 1]) * (tri[:, 2, 0] - tri[:, 0, 0]))
    assert (area > 0).all()                                    # counter-clockwise, none degenerate
    assert area.sum() == pytest.approx(0.5)
    corners = set(h.facets.ravel().tolist())
    assert corners == set(h.vertices.tolist()) | {-1, -2, -3}


def test_e_above_hull_and_binary_shorthand():
    x = np.array([0.2, 0.5, 0.8])
    e = [-0.05, -0.4, -0.1]
    np.testing.assert_array_equal(e_above_hull(x, e), lower_hull(np.c_[1 - x, x], e).e_above_hull)
    assert e_above_hull(x, e)[0] == pytest.approx(-0.05 + 0.16)


# ---------------------------------------------------------------------------------------------
# Batches
# ---------------------------------------------------------------------------------------------

def _csr_batch(order, n_sys, rng):
    sizes = rng.integers(0, 30, n_sys)
    f = rng.dirichlet(np.ones(order), size=int(sizes.sum()))
    e = bowl(f, rng)
    return f, e, np.r_[0, np.cumsum(sizes)].astype(np.int64)


@pytest.mark.parametrize("order", [2, 3])
def test_batch_equals_one_system_at_a_time(order):
    rng = np.random.default_rng(order)
    f, e, off = _csr_batch(order, 40, rng)
    b = hull_batch(f, e, off, facets=True, threads=2)
    for s in range(40):
        lo, hi = off[s], off[s + 1]
        if hi == lo:
            assert b.n_vertices[s] == 0
            continue
        h = lower_hull(f[lo:hi], e[lo:hi])
        np.testing.assert_array_equal(b.e_above_hull[lo:hi], h.e_above_hull)
        np.testing.assert_array_equal(b.is_vertex[lo:hi], h.is_vertex)
        np.testing.assert_array_equal(b.decomp_index[lo:hi], h.decomp_index)
        np.testing.assert_array_equal(b.facets[b.facet_offsets[s]:b.facet_offsets[s + 1]], h.facets)
        assert b.n_vertices[s] == h.is_vertex.sum()
    assert b.valid.all()


def test_shared_grid_equals_csr_and_threads_agree():
    rng = np.random.default_rng(1)
    grid = uniform(3, 10)
    e = np.stack([bowl(grid, rng) for _ in range(50)])
    shared = hull_batch(grid, e, threads=1)
    csr = hull_batch(np.tile(grid, (50, 1)), e.ravel(), np.arange(51, dtype=np.int64) * len(grid), threads=2)
    assert shared.e_above_hull.shape == (50, len(grid))
    np.testing.assert_array_equal(shared.e_above_hull.ravel(), csr.e_above_hull)
    np.testing.assert_array_equal(shared.is_vertex.ravel(), csr.is_vertex)
    np.testing.assert_array_equal(shared.decomp_weight.reshape(-1, 3), csr.decomp_weight)


def test_chunked_batch_equals_one_call(monkeypatch):
    import hullpack.hull as hull_module

    rng = np.random.default_rng(2)
    f, e, off = _csr_batch(3, 45, rng)
    whole = hull_batch(f, e, off, facets=True)
    monkeypatch.setattr(hull_module, "_CHUNK", 10)
    chunked = hull_batch(f, e, off, facets=True, progress_bar=True)
    fields = ("e_above_hull", "is_vertex", "n_vertices", "valid", "decomp_index", "decomp_weight", "vertex_depth",
              "facet_offsets", "facets")

    def assert_same(a, b):
        for name in fields:
            if getattr(a, name) is None:
                assert getattr(b, name) is None, name
            else:
                np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)

    assert_same(chunked, whole)
    grid = uniform(2, 20)  # the shared grid, each chunk written into the batch's arrays
    eg = np.stack([bowl(grid, rng) for _ in range(25)])
    eg[3, 5] = np.nan
    assert_same(hull_batch(grid, eg, progress_bar=True, depth=True, nonfinite="nan"),
                hull_batch(grid, eg, progress_bar=False, depth=True, nonfinite="nan"))
    monkeypatch.setattr(hull_module, "_CHUNK_ND", 4)  # quaternaries: their own chunk size
    f4, e4, off4 = _csr_batch(4, 11, rng)
    assert_same(hull_batch(f4, e4, off4, progress_bar=True, depth=True), hull_batch(f4, e4, off4, depth=True))
    # a bad point late in the batch fails before any chunk runs, named by its global system
    e[off[40] + 0] = np.nan
    with pytest.raises(HullInputError, match=r"system 40, point 0"):
        hull_batch(f, e, off)


def test_nonfinite_energies_raise_or_are_reported():
    grid = uniform(2, 4)
    e = np.array([[-0.1, -0.2, -0.3, -0.2, 0.1], [0.0, -0.2, np.inf, -0.1, 0.0], [0.0, np.nan, -0.3, -0.1, 0.0]])
    with pytest.raises(HullInputError, match=r"system 1, point 2 \(row 7\) is not finite"):
        hull_batch(grid, e)
    b = hull_batch(grid, e, nonfinite="nan")
    assert b.valid.tolist() == [True, False, False] and b.invalid_systems.tolist() == [1, 2]
    assert np.isnan(b.e_above_hull[1:]).all() and not b.is_vertex[1:].any()
    assert np.isnan(b.decomp_weight[1:]).all()
    np.testing.assert_array_equal(b.e_above_hull[0], hull_batch(grid, e[:1]).e_above_hull[0])
    with pytest.raises(HullInputError, match="not finite"):
        lower_hull([0.5], [np.nan])


@pytest.mark.parametrize("fractions, energies, offsets, match", [
    (np.array([[0.5, 0.6]]), [0.0], [0, 1], r"system 0, point 0 \(row 0\) is not on the simplex"),
    (np.array([[0.5, 0.5], [1.2, -0.2]]), [0.0, 0.0], [0, 1, 2], r"system 1, point 0 \(row 1\) has a negative"),
    (np.array([[0.5, np.nan]]), [0.0], [0, 1], "non-finite fraction"),
    (np.array([[0.5, 0.5]]), [0.0, 1.0], [0, 2], "one row per energy"),
    (np.array([[0.5, 0.5]] * 2), [0.0, 1.0], [0, 3], r"offsets\[-1\] = 3"),
    (np.array([[0.5, 0.5]] * 2), [0.0, 1.0], [1, 2], r"offsets\[0\] must be 0"),
    (np.array([[0.5, 0.5]] * 2), [0.0, 1.0], [0, 2, 1, 2], "must not decrease"),
    (np.full((2, 9), 1 / 9), [0.0, 1.0], [0, 2], r"expected 2 .binary., 3 .ternary., 4 .quaternary. .. 8 columns, got 9"),
    (np.ones((2, 1)), [0.0, 1.0], [0, 2], "columns, got 1"),
])
def test_bad_input_names_the_offender(fractions, energies, offsets, match):
    with pytest.raises(HullInputError, match=match):
        hull_batch(fractions, energies, offsets)


def test_shared_grid_shape_mismatch_and_bad_options():
    grid = uniform(3, 2)
    with pytest.raises(HullInputError, match="one column per grid point"):
        hull_batch(grid, np.zeros((3, 5)))
    with pytest.raises(HullInputError, match="grid point 1 is not on the simplex"):
        hull_batch(np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5]]), np.zeros((2, 2)))
    with pytest.raises(HullInputError, match="tol must be finite"):
        hull_batch(grid, np.zeros((1, 6)), tol=-1.0)
    with pytest.raises(HullInputError, match="nonfinite"):
        hull_batch(grid, np.zeros((1, 6)), nonfinite="drop")
    with pytest.raises(HullInputError, match="device"):
        hull_batch(grid, np.zeros((1, 6)), device="tpu")
    with pytest.raises(HullInputError, match="1-D"):
        lower_hull(grid, np.zeros((1, 6)))


@pytest.mark.parametrize("args, argument", [
    (([[0.5, 0.5]], np.zeros(1), np.array([0, 1], np.int64)), "fractions"),             # a list, not an array
    ((np.ones((1, 2), np.float32) / 2, np.zeros(1), np.array([0, 1], np.int64)), "fractions"),  # float32
    ((np.ones((1, 2)) / 2, np.zeros(1), np.array([0, 1], np.int32)), "offsets"),        # int32 offsets
    ((np.ones((1, 2, 1)) / 2, np.zeros(1), np.array([0, 1], np.int64)), "fractions"),   # 3-D
    ((np.ones((2, 2))[:, :1].copy() / 2, np.zeros(2), None), "fractions"),               # one column
    (((np.ones((4, 2)) / 2)[::2], np.zeros(2), np.array([0, 2], np.int64)), "fractions"),  # not contiguous
    (("fractions", np.zeros(1), None), "fractions"),
    ((np.ones((1, 2)) / 2, None, None), "energies"),
    ((np.ones((1, 2)) / 2, np.zeros(1), np.array([], np.int64)), "offsets"),
])
def test_core_rejects_garbage(args, argument):
    with pytest.raises(ValueError, match=rf"^{argument}\b"):
        _core.hull_batch(*args)


@pytest.mark.parametrize("option, value", [
    ("tol", "x"), ("tol", True), ("tol", None), ("decomposition", 1), ("facets", "yes"), ("nonfinite", None),
    ("nonfinite", "drop"), ("n_threads", -1), ("n_threads", 1.5), ("n_threads", 4097), ("device", 0),
    ("device", "tpu"),
])
def test_core_rejects_bad_options(option, value):
    f, e, o = np.ones((1, 2)) / 2, np.zeros(1), np.array([0, 1], np.int64)
    with pytest.raises(ValueError, match=rf"^{option}\b"):
        _core.hull_batch(f, e, o, **{option: value})


def test_empty_batch_and_empty_systems():
    b = hull_batch(np.zeros((0, 3)), np.zeros(0), np.array([0, 0, 0]))
    assert b.n_vertices.tolist() == [0, 0] and b.e_above_hull.shape == (0,)
    b = hull_batch(uniform(2, 3), np.zeros((0, 4)))
    assert b.e_above_hull.shape == (0, 4)


# ---------------------------------------------------------------------------------------------
# GPU twin
# ---------------------------------------------------------------------------------------------

@pytest.mark.cuda
@pytest.mark.skipif(not hullpack.cuda_available(), reason="needs a CUDA GPU and a CUDA build")
@pytest.mark.parametrize("order", [2, 3])
def test_cuda_matches_cpu(order):
    rng = np.random.default_rng(order)
    grid = uniform(order, 100 if order == 2 else 20)
    e = np.stack([bowl(grid, rng) for _ in range(3000)])
    e[7, 3] = np.nan
    cpu = hull_batch(grid, e, facets=True, nonfinite="nan")
    gpu = hull_batch(grid, e, facets=True, nonfinite="nan", device="cuda")
    np.testing.assert_array_equal(gpu.valid, cpu.valid)
    np.testing.assert_allclose(gpu.e_above_hull, cpu.e_above_hull, atol=1e-9)
    np.testing.assert_array_equal(gpu.is_vertex, cpu.is_vertex)
    np.testing.assert_array_equal(gpu.n_vertices, cpu.n_vertices)
    np.testing.assert_allclose(gpu.decomp_weight, cpu.decomp_weight, atol=1e-9)
    f, en, off = _csr_batch(order, 500, rng)
    np.testing.assert_allclose(hull_batch(f, en, off, device="cuda").e_above_hull,
                               hull_batch(f, en, off).e_above_hull, atol=1e-9)
