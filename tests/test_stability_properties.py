"""Invariants of hullpack.stability (hypothesis): on the hull iff a vertex (up to points exactly on
a facet), adding a compound above the hull changes nothing else, relabelling the elements or
shifting energies linearly in composition changes nothing, and the N-dimensional path agrees with
the binary/ternary hull kernels."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from hullpack.hull import lower_hull
from hullpack.stability import Reference, stability

POOL = ("Fe", "O", "Ni", "Al", "Li", "Mn", "Co", "Cu")
TOL = 1e-9

# energies on a coarse grid too, so that ties and exactly coplanar points occur
energy = st.one_of(st.floats(-3.0, 1.0, allow_nan=False, allow_infinity=False),
                   st.sampled_from([-2.0, -1.5, -1.0, -0.5, 0.0, 0.5]))


@st.composite
def compound_sets(draw, min_elements=2, max_elements=5, unique=True):
    """(element symbols, amounts array (n, k), energies): compounds of 2..k elements."""
    k = draw(st.integers(min_elements, max_elements))
    symbols = draw(st.permutations(POOL))[:k]
    n = draw(st.integers(1, 20))
    rows = draw(st.lists(st.lists(st.integers(0, 4), min_size=k, max_size=k)
                         .filter(lambda r: sum(v > 0 for v in r) >= 2), min_size=n, max_size=n))
    amounts = np.array(rows, dtype=float)
    if unique:  # one entry per composition
        fr = np.round(amounts / amounts.sum(axis=1, keepdims=True), 12)
        _, first = np.unique(fr, axis=0, return_index=True)
        amounts = amounts[np.sort(first)]
    energies = np.array(draw(st.lists(energy, min_size=len(amounts), max_size=len(amounts))))
    return list(symbols), amounts, energies


fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(compound_sets())
def test_on_the_hull_iff_a_vertex(data):
    symbols, amounts, energies = data
    t = stability(amounts, energies, elements=symbols)
    e_above, d_energy, stable = t.e_above_hull.to_numpy(), t.decomposition_energy.to_numpy(), t.stable.to_numpy(bool)
    assert (e_above >= 0).all()
    assert (e_above[stable] <= 1e-12).all()               # a vertex is on the hull
    assert (d_energy[stable] < -TOL).all()
    on_hull = e_above <= 1e-12
    # on the hull and not a vertex: exactly on a facet or edge (within tol of the other compounds)
    assert (np.abs(d_energy[on_hull & ~stable]) <= TOL + 1e-12).all()
    # off the hull: the decomposition energy is the energy above hull
    assert np.allclose(d_energy[~on_hull], e_above[~on_hull], atol=1e-12)


@fast
@given(compound_sets(), st.lists(st.integers(0, 4), min_size=5, max_size=5), st.floats(1e-3, 1.0))
def test_a_compound_above_the_hull_changes_nothing_else(data, new_amounts, above):
    symbols, amounts, energies = data
    new = np.array(new_amounts[:len(symbols)], dtype=float)
    assume((new > 0).sum() >= 2)
    fr = amounts / amounts.sum(axis=1, keepdims=True)
    assume(not np.isclose(fr, new / new.sum(), atol=1e-9).all(axis=1).any())  # a new composition
    ref = Reference(amounts, energies, elements=symbols)
    assume(all(ref.knows(s) for s, v in zip(symbols, new) if v > 0))
    hull_at = -ref.evaluate(new[None], [0.0], elements=symbols).decomposition_energy.iloc[0]
    before = stability(amounts, energies, elements=symbols)
    after = stability(np.vstack([amounts, new]), np.r_[energies, hull_at + above], elements=symbols).iloc[:-1]
    assert np.allclose(after.e_above_hull, before.e_above_hull, atol=1e-12, rtol=0)
    unstable = before.decomposition_energy.to_numpy() > TOL
    assert np.allclose(after.decomposition_energy[unstable], before.decomposition_energy[unstable], atol=1e-12, rtol=0)
    assert (after.decomposition[unstable] == before.decomposition[unstable]).all()
    clear = np.abs(before.decomposition_energy.to_numpy()) > 1e-6  # not within tol of flipping
    assert (after.stable.to_numpy(bool)[clear] == before.stable.to_numpy(bool)[clear]).all()


@fast
@given(compound_sets(unique=False), st.permutations(range(len(POOL))))
def test_relabelling_the_elements_changes_nothing(data, perm):
    symbols, amounts, energies = data
    other = [POOL[perm[POOL.index(s)]] for s in symbols]  # another element for each, another order
    a = stability(amounts, energies, elements=symbols)
    b = stability(amounts, energies, elements=other)
    assert np.allclose(a.e_above_hull, b.e_above_hull, atol=1e-12, rtol=0)
    assert np.allclose(a.decomposition_energy, b.decomposition_energy, atol=1e-12, rtol=0)
    assert (a.stable.to_numpy(bool) == b.stable.to_numpy(bool)).all()
    # the same permutation of columns: the same compositions
    order = np.random.default_rng(0).permutation(len(symbols))
    c = stability(amounts[:, order], energies, elements=[symbols[j] for j in order])
    assert (c.formula == a.formula).all()
    assert np.array_equal(c.e_above_hull.to_numpy(), a.e_above_hull.to_numpy())


@fast
@given(compound_sets(unique=False), st.lists(st.floats(-10, 10), min_size=5, max_size=5))
def test_energies_shifted_linearly_in_composition_change_nothing(data, mu):
    # with an elemental entry for every element, formation and total energies give the same answers
    symbols, amounts, energies = data
    k = len(symbols)
    mu = np.array(mu[:k])
    all_amounts = np.vstack([np.eye(k), amounts])
    e0 = np.r_[np.zeros(k), energies]
    shift = (all_amounts / all_amounts.sum(axis=1, keepdims=True)) @ mu
    a = stability(all_amounts, e0, elements=symbols)
    b = stability(all_amounts, e0 + shift, elements=symbols)
    assert np.allclose(a.e_above_hull, b.e_above_hull, atol=1e-9, rtol=0)
    assert np.allclose(a.decomposition_energy, b.decomposition_energy, atol=1e-9, rtol=0)
    clear = np.abs(a.decomposition_energy.to_numpy()) > 1e-7
    assert (a.stable.to_numpy(bool)[clear] == b.stable.to_numpy(bool)[clear]).all()


@pytest.mark.parametrize("order", [2, 3])
@pytest.mark.parametrize("seed", range(4))
def test_agrees_with_the_binary_and_ternary_kernels(order, seed):
    rng = np.random.default_rng(seed)
    n = 40 if order == 2 else 12
    grid = np.array([[n - j, j] for j in range(1, n)] if order == 2 else
                    [[n - j - m, j, m] for j in range(n + 1) for m in range(n + 1 - j)
                     if (n - j - m > 0) + (j > 0) + (m > 0) >= 2], dtype=float)
    fr = grid / n
    e = -rng.uniform(0, 1.5) * (1 - (fr ** 2).sum(axis=1)) + rng.normal(0, 0.05, len(fr))
    kernel = lower_hull(fr, e)
    t = stability(grid, e, elements=list(POOL[:order]))
    assert np.allclose(t.e_above_hull, kernel.e_above_hull, atol=1e-9, rtol=0)
    assert (t.stable.to_numpy(bool) == kernel.is_vertex).all()
