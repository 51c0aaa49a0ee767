"""hullpack.hull for order 4 and above (the N-dimensional kernel): against pymatgen's PhaseDiagram,
a brute-force oracle, the ternary kernel on the faces of a quaternary, the dedicated binary and
ternary kernels run through the same code, vertex depths, and bad input."""
import functools
import warnings

import numpy as np
import pytest
from hypothesis import given, settings

from hullpack import _core
from hullpack.compositions import grid_fractions, uniform_grid
from hullpack.errors import HullInputError
from hullpack.hull import e_above_hull, hull_batch, lower_hull

from test_hull import (assert_decomposition_matches_pymatgen, assert_decomposition_reconstructs,  # shared references
                       assert_matches_brute_force, assert_matches_pymatgen, assert_tolerance_decides_probe_vertices,
                       bowl as hull_bowl, pymatgen_hull, small_system)

bowl = functools.partial(hull_bowl, min_depth=0.2)  # test_hull's bowl, at least 0.2 deep


def interior(order, n, min_elements=2):
    return grid_fractions(uniform_grid(order, n, min_elements=min_elements))


# ---------------------------------------------------------------------------------------------
# Agreement with pymatgen
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("order", [4, 5])
def test_random_systems_match_pymatgen(order):
    rng = np.random.default_rng(order)
    for trial in range(6 if order == 4 else 3):
        if trial % 2:
            f = interior(order, int(rng.integers(3, 7 if order == 4 else 5)))
        else:  # random compositions, interior and on faces
            f = rng.dirichlet(np.ones(order), size=int(rng.integers(5, 60)))
            f[: len(f) // 3, rng.integers(0, order)] = 0
            f[len(f) // 3: len(f) // 2, rng.integers(0, order)] = 0
            f = f[(f > 0).sum(axis=1) >= 2]
            f /= f.sum(axis=1, keepdims=True)
        e = bowl(f, rng)
        h = assert_matches_pymatgen(f, e, atol=1e-6)
        assert h.facets is None


def test_grid_batch_matches_pymatgen_and_vertex_depth_its_phase_separation_energy():
    rng = np.random.default_rng(11)
    f = interior(4, 8)
    e = np.stack([bowl(f, rng, noise=0.03) for _ in range(2)])
    b = hull_batch(f, e, depth=True)
    for s in range(2):
        ref_e, ref_stable, entries, pd = pymatgen_hull(f, e[s])
        np.testing.assert_allclose(b.e_above_hull[s], ref_e, atol=1e-6)
        np.testing.assert_array_equal(b.is_vertex[s], ref_stable)
        assert np.isnan(b.vertex_depth[s][~b.is_vertex[s]]).all()
    vertices = np.flatnonzero(b.is_vertex[1])[::4][:6]  # pymatgen builds a phase diagram per call: a sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pse = np.array([pd.get_decomp_and_phase_separation_energy(entries[i])[1] for i in vertices])
    np.testing.assert_allclose(b.vertex_depth[1][vertices], -pse, atol=1e-6)


def test_decomposition_matches_pymatgen():
    rng = np.random.default_rng(7)
    f = interior(4, 5)
    e = bowl(f, rng, noise=0.1)
    assert_decomposition_matches_pymatgen(f, e)


def _case(name):
    g = interior(4, 6)
    rng = np.random.default_rng(3)
    c = np.full(4, 0.25)
    cases = {
        "pyramid (coplanar facets)": (interior(4, 8), -4 * interior(4, 8).min(axis=1)),
        "all zero": (g, np.zeros(len(g))),
        "all positive": (g, 0.1 + g[:, 0]),
        "single point": (np.array([[0.1, 0.2, 0.3, 0.4]]), [-0.3]),
        "duplicates": (np.array([c, c, [0.5, 0.5, 0, 0], c]), [-0.3, -0.4, -0.1, -0.4]),
        "collinear edge": (np.array([[0.75, 0.25, 0, 0], [0.5, 0.5, 0, 0], [0.25, 0.75, 0, 0], c]),
                           [-0.25, -0.5, -0.25, -0.2]),
        "coplanar face": (np.vstack([g[g[:, 3] == 0], [c]]), np.r_[-0.3 * (1 - g[g[:, 3] == 0][:, 0]), -0.5]),
        "paraboloid (all on the hull)": (g, -(1 - (g ** 2).sum(axis=1))),
        "ties on a 0.1 lattice": (g, np.round(rng.normal(-0.2, 0.1, len(g)), 1)),
    }
    f, e = cases[name]
    return np.asarray(f, float), np.asarray(e, float)


DEGENERATE = ["pyramid (coplanar facets)", "all zero", "all positive", "single point", "duplicates",
              "collinear edge", "coplanar face", "paraboloid (all on the hull)", "ties on a 0.1 lattice"]


@pytest.mark.parametrize("name", DEGENERATE)
def test_degenerate_systems_match_pymatgen(name):
    f, e = _case(name)
    assert_matches_pymatgen(f, e, atol=1e-9)


def test_expected_vertices_of_degenerate_systems():
    assert lower_hull(*_case("all positive")).vertices.tolist() == []
    assert lower_hull(*_case("all zero")).vertices.tolist() == []
    assert lower_hull(*_case("duplicates")).vertices.tolist() == [1, 2]      # the lowest, then the first
    assert lower_hull(*_case("collinear edge")).vertices.tolist() == [1]      # the centre lies above 1 + C + D
    pyramid = lower_hull(*_case("pyramid (coplanar facets)"))
    assert pyramid.vertices.tolist() == [int(np.flatnonzero((interior(4, 8) == 0.25).all(axis=1))[0])]
    assert np.abs(pyramid.e_above_hull).max() <= 1e-12                      # every other point on a facet
    f, e = _case("paraboloid (all on the hull)")
    assert lower_hull(f, e).is_vertex.all()


@pytest.mark.parametrize("below, vertex", [(1e-10, False), (5e-10, False), (2e-9, True), (1e-8, True)])
def test_tolerance_decides_vertices_just_below_a_quaternary_hull(below, vertex):
    # The centre C at -0.4 is a vertex; the hull over the tetrahedron C-A-B-D is the plane through
    # them. A point on an edge of it (midway to A) and one inside it sit `below` under it.
    c, eye = np.full(4, 0.25), np.eye(4)
    on_edge = 0.5 * c + 0.5 * eye[0]                                   # hull energy -0.2
    inside = 0.4 * c + 0.2 * eye[0] + 0.2 * eye[1] + 0.2 * eye[2]      # hull energy -0.16
    f = np.array([c, on_edge, inside])
    assert_tolerance_decides_probe_vertices(f, [-0.4, -0.2, -0.16], below, vertex)


def test_pure_element_points_are_not_vertices_and_keep_their_energy():
    f = grid_fractions(uniform_grid(4, 2))
    pure = f.max(axis=1) == 1
    h = lower_hull(f, np.where(pure, 0.7, -0.1))
    assert not h.is_vertex[pure].any() and h.is_vertex[~pure].all()
    np.testing.assert_array_equal(h.e_above_hull[pure], 0.7)
    refs = -1 - np.argmax(f[pure], axis=1)
    np.testing.assert_array_equal(h.decomp_index[pure][:, 0], refs)           # its reference, weight 1
    np.testing.assert_array_equal(h.decomp_weight[pure][:, 0], 1.0)


@settings(max_examples=60, deadline=None)
@given(small_system(orders=(4, 5), max_points=8, max_weight=6))
def test_matches_brute_force(system):
    """Energies above hull and vertices of small systems of 4 or 5 elements (faces, duplicates,
    exact coplanarities, ties), against trying every simplex."""
    assert_matches_brute_force(*system)


@pytest.mark.parametrize("order", [4, 5, 6])
def test_decomposition_reconstructs_composition_and_hull_energy(order):
    rng = np.random.default_rng(order)
    f = rng.dirichlet(np.ones(order), size=80)
    e = bowl(f, rng)
    h = lower_hull(f, e)
    ids, w = h.decomp_index, h.decomp_weight
    assert ids.shape == w.shape == (80, order)
    assert_decomposition_reconstructs(f, e, h)
    assert (ids[h.vertices, 0] == h.vertices).all() and (w[h.vertices, 0] == 1).all()


def test_permuting_the_elements_changes_nothing():
    rng = np.random.default_rng(5)
    f = interior(4, 7)
    e = bowl(f, rng)
    h = lower_hull(f, e)
    for perm in ([3, 2, 1, 0], [1, 3, 0, 2]):
        p = lower_hull(f[:, perm], e)
        np.testing.assert_array_equal(p.is_vertex, h.is_vertex)
        np.testing.assert_allclose(p.e_above_hull, h.e_above_hull, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# Against the binary and ternary kernels
# ---------------------------------------------------------------------------------------------

def test_faces_of_a_quaternary_are_the_ternary_kernel_s_hulls():
    """The lower hull of a quaternary restricted to a face of its simplex is the hull of the face's
    points: the points of each ternary face get the ternary kernel's vertices and energies."""
    rng = np.random.default_rng(2)
    g = grid_fractions(uniform_grid(4, 12))
    e = np.stack([bowl(g, rng) for _ in range(20)])
    b = hull_batch(g, e)
    for face in range(4):
        on = g[:, face] == 0
        g3 = np.delete(g[on], face, axis=1)
        t = hull_batch(g3, e[:, on])
        np.testing.assert_array_equal(b.is_vertex[:, on], t.is_vertex)
        np.testing.assert_allclose(b.e_above_hull[:, on], t.e_above_hull, atol=1e-12)


@pytest.mark.parametrize("order, n", [(2, 60), (3, 16)])
def test_general_kernel_agrees_with_the_dedicated_ones(order, n):
    rng = np.random.default_rng(order)
    g = grid_fractions(uniform_grid(order, n))
    e = np.stack([bowl(g, rng) for _ in range(200)])
    e[::7] = np.round(e[::7], 1)                                          # exact ties and coplanarities
    ded = _core.hull_batch(g, e)
    gen = _core.hull_batch(g, e, general=True)
    np.testing.assert_array_equal(gen["is_vertex"], ded["is_vertex"])
    np.testing.assert_array_equal(gen["n_vertices"], ded["n_vertices"])
    np.testing.assert_allclose(gen["e_above_hull"], ded["e_above_hull"], atol=1e-12)
    # decompositions agree where they are unique: no exact coplanarity (the rounded systems), not a
    # vertex (whose other ids have weight 0), weights distinct and non-zero
    free = np.ones(len(e), bool)
    free[::7] = False
    w = ded["decomp_weight"]
    np.testing.assert_allclose(gen["decomp_weight"][free], w[free], atol=1e-12)
    unique = free[:, None] & ~ded["is_vertex"] & (np.diff(w, axis=-1) < -1e-9).all(axis=-1) & (w > 0).all(axis=-1)
    assert unique.sum() > 1000
    np.testing.assert_array_equal(gen["decomp_index"][unique], ded["decomp_index"][unique])


@pytest.mark.parametrize("order, n", [(2, 50), (3, 12), (4, 8)])
def test_vertex_depth_is_the_hull_of_the_others_by_lifting(order, n):
    """depth=True equals lifting each vertex out of the way and reading its energy above hull
    (the screening's former way), for every order."""
    lift = 1e3
    rng = np.random.default_rng(order)
    g = grid_fractions(uniform_grid(order, n))
    e = np.stack([bowl(g, rng) for _ in range(30 if order < 4 else 8)])
    b = hull_batch(g, e, depth=True, decomposition=False)
    s, p = np.nonzero(b.is_vertex)
    lifted = e[s].copy()
    lifted[np.arange(len(s)), p] = lift
    ref = lift - hull_batch(g, lifted, decomposition=False).e_above_hull[np.arange(len(s)), p] - e[s, p]
    np.testing.assert_allclose(b.vertex_depth[s, p], ref, atol=1e-9)
    assert (b.vertex_depth[s, p] > 1e-9).all() and np.isnan(b.vertex_depth[~b.is_vertex]).all()


def test_screening_vertex_depth_works_for_quaternaries():
    from hullpack.screening.hulls import vertex_depth

    rng = np.random.default_rng(4)
    g = grid_fractions(uniform_grid(4, 6))
    e = np.stack([bowl(g, rng) for _ in range(5)])
    b = hull_batch(g, e, depth=True, tol=1e-6)
    np.testing.assert_allclose(vertex_depth(g, e, b.is_vertex), b.vertex_depth, atol=1e-6)


def test_vertex_depth_counts_duplicates_and_is_nan_for_invalid_systems():
    c = np.full(4, 0.25)
    f = np.array([c, c, [0.5, 0.5, 0, 0]])
    b = hull_batch(f, np.array([[-0.4, -0.35, -0.1]]), depth=True)
    assert b.is_vertex[0].tolist() == [True, False, True]
    assert b.vertex_depth[0, 0] == pytest.approx(0.05)                    # its duplicate, 0.05 higher
    assert b.vertex_depth[0, 2] == pytest.approx(0.1)
    b = hull_batch(f, np.array([[-0.4, np.nan, -0.1]]), depth=True, nonfinite="nan")
    assert not b.valid[0] and np.isnan(b.vertex_depth).all()


# ---------------------------------------------------------------------------------------------
# Batches and bad input
# ---------------------------------------------------------------------------------------------

def test_batch_layouts_threads_and_chunks_agree(monkeypatch):
    import hullpack.hull as hull_module

    rng = np.random.default_rng(9)
    g = interior(4, 6)
    e = np.stack([bowl(g, rng) for _ in range(30)])
    shared = hull_batch(g, e, threads=1, depth=True)
    csr = hull_batch(np.tile(g, (30, 1)), e.ravel(), np.arange(31, dtype=np.int64) * len(g), threads=2, depth=True)
    np.testing.assert_array_equal(shared.e_above_hull.ravel(), csr.e_above_hull)
    np.testing.assert_array_equal(shared.decomp_index.reshape(-1, 4), csr.decomp_index)
    np.testing.assert_array_equal(shared.vertex_depth.ravel(), csr.vertex_depth)
    monkeypatch.setattr(hull_module, "_CHUNK_ND", 7)
    chunked = hull_batch(g, e, progress_bar=True, depth=True)
    for name in ("e_above_hull", "is_vertex", "n_vertices", "decomp_weight", "vertex_depth"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(shared, name))


def test_nonfinite_energies_and_empty_systems():
    g = interior(4, 3)
    e = np.stack([-0.1 - g[:, 0], -0.2 - g[:, 1]])
    e[1, 3] = np.inf
    with pytest.raises(HullInputError, match=rf"system 1, point 3 \(row {len(g) + 3}\) is not finite"):
        hull_batch(g, e)
    b = hull_batch(g, e, nonfinite="nan")
    assert b.valid.tolist() == [True, False] and np.isnan(b.e_above_hull[1]).all() and not b.is_vertex[1].any()
    np.testing.assert_array_equal(b.decomp_index[1][:, :], np.tile([-1, -2, -3, -4], (len(g), 1)))
    b = hull_batch(np.zeros((0, 4)), np.zeros(0), np.array([0, 0, 0]))
    assert b.n_vertices.tolist() == [0, 0] and b.decomp_index.shape == (0, 4)


def test_e_above_hull_of_one_quaternary():
    f = np.array([[0.25, 0.25, 0.25, 0.25], [0.4, 0.2, 0.2, 0.2]])
    np.testing.assert_allclose(e_above_hull(f, [-0.4, -0.2]), [0.0, 0.12], atol=1e-15)


@pytest.mark.parametrize("kwargs, match", [
    (dict(facets=True), r"^facets: the hull's facets are written for binaries and ternaries only \(4 columns"),
    (dict(device="cuda"), r"^device='cuda': the CUDA kernels cover binaries and ternaries only"),
    (dict(depth=1), r"^depth: expected True or False"),
    (dict(general="yes"), r"^general: expected True or False"),
])
def test_core_refuses_what_order_4_does_not_provide(kwargs, match):
    f, e = np.full((1, 4), 0.25), np.zeros((1, 1))
    with pytest.raises(ValueError, match=match):
        _core.hull_batch(f, e, **kwargs)


def test_public_refusals_name_the_argument():
    f = np.full((1, 4), 0.25)
    with pytest.raises(HullInputError, match="^facets"):
        hull_batch(f, np.zeros((1, 1)), facets=True)
    with pytest.raises(HullInputError, match="^depth"):
        hull_batch(f, np.zeros((1, 1)), depth="yes")
    with pytest.raises(HullInputError, match=r"not on the simplex: its fractions sum to 1.1"):
        hull_batch(np.array([[0.5, 0.2, 0.2, 0.2]]), np.zeros((1, 1)))
    with pytest.raises(HullInputError, match=r"8 columns, got 9"):
        lower_hull(np.full((2, 9), 1 / 9), [0.0, 0.0])
