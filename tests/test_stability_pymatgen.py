"""hullpack.stability against pymatgen's PhaseDiagram (get_e_above_hull, get_decomp_and_e_above_hull,
get_decomp_and_phase_separation_energy) on random sets of 2-6 elements, degenerate ones included."""
import warnings

import numpy as np
import pytest

from hullpack.stability import Reference, parse_decomposition, stability

pytest.importorskip("pymatgen")
from pymatgen.analysis.phase_diagram import PDEntry, PhaseDiagram  # noqa: E402
from pymatgen.core import Composition  # noqa: E402

SYMBOLS = ("Fe", "O", "Ni", "Al", "Li", "Mn")
TOL = 1e-6  # eV/atom: the required agreement


def random_compounds(rng, k, n, *, positive=False, max_amount=5, symbols=SYMBOLS):
    """n compositions (element -> integer amount) over subsets of the first k ``symbols``, with
    bowl-shaped energies plus noise (or all positive)."""
    comps, energies = [], []
    for _ in range(n):
        m = int(rng.integers(2, k + 1))
        sub = rng.choice(k, m, replace=False)
        amounts = rng.integers(1, max_amount + 1, m)
        comps.append({symbols[j]: int(a) for j, a in zip(sub, amounts)})
        x = amounts / amounts.sum()
        e = -rng.uniform(0, 2) * (1 - (x ** 2).sum()) + rng.normal(0, 0.1)
        energies.append(abs(e) + 0.01 if positive else float(e))
    return comps, energies


def phase_diagram(comps, energies, element_energies):
    """pymatgen entries (elements first) and their PhaseDiagram."""
    entries = [PDEntry(Composition(el), e, name=f"ref{i}") for i, (el, e) in enumerate(element_energies)]
    entries += [PDEntry(Composition(c), e * Composition(c).num_atoms, name=str(i))
                for i, (c, e) in enumerate(zip(comps, energies))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return entries, PhaseDiagram(entries)


def named(decomp: dict) -> dict:
    """pymatgen's decomposition by product, each product named as hullpack names its composition:
    the products are compared, not the names (pymatgen before 2026 ordered the elements without
    electronegativity, He, Ne, Ar, Rf..Og, by their input order)."""
    from hullpack.naming import reduced_formula

    out = {}
    for entry, amount in decomp.items():
        comp = entry.composition
        name = reduced_formula([el.symbol for el in comp.elements], [int(round(comp[el])) for el in comp.elements])
        out[name] = out.get(name, 0.0) + amount
    return out


def assert_agrees(comps, energies, element_energies, *, check_decomposition=True):
    """Every entry's e_above_hull, decomposition energy and stable flag equal pymatgen's; the
    decomposition too where it is unique (check_decomposition)."""
    entries, pd_ = phase_diagram(comps, energies, element_energies)
    table = stability([e.composition for e in entries], [e.energy_per_atom for e in entries])
    stable = {id(e) for e in pd_.stable_entries}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, entry in enumerate(entries):
            row = table.iloc[i]
            decomp, e_above = pd_.get_decomp_and_e_above_hull(entry)
            assert pd_.get_e_above_hull(entry) == pytest.approx(row.e_above_hull, abs=TOL), (i, entry)
            assert e_above == pytest.approx(row.e_above_hull, abs=TOL)
            competing, d_energy = pd_.get_decomp_and_phase_separation_energy(entry)
            assert d_energy == pytest.approx(row.decomposition_energy, abs=TOL), (i, entry)
            assert bool(row.stable) == (id(entry) in stable), (i, entry, row.decomposition_energy)
            ours = parse_decomposition(row.decomposition)
            assert sum(ours.values()) == pytest.approx(1.0, abs=1e-5)  # weights are written to 6 decimals
            if check_decomposition and len(entry.composition) > 1:
                # a stable entry: the reaction behind its decomposition energy, against the other
                # compositions; an unstable one: what it decomposes into (a polymorph of a stable
                # entry: that entry)
                theirs = named(competing if row.stable else decomp)
                theirs = {k: v for k, v in theirs.items() if v > 1e-9}
                assert ours.keys() == theirs.keys(), (i, entry, ours, theirs)
                for name in ours:
                    assert ours[name] == pytest.approx(theirs[name], abs=1e-5)
    return table


@pytest.mark.parametrize("seed", range(12))
def test_random_sets_of_2_to_6_elements(seed):
    rng = np.random.default_rng(seed)
    k = 2 + seed % 5
    comps, energies = random_compounds(rng, k, int(rng.integers(3, 40)))
    assert_agrees(comps, energies, [(s, 0.0) for s in SYMBOLS[:k]])


@pytest.mark.parametrize("seed", range(3))
def test_all_energies_positive(seed):
    rng = np.random.default_rng(100 + seed)
    comps, energies = random_compounds(rng, 3 + seed, 20, positive=True)
    table = assert_agrees(comps, energies, [(s, 0.0) for s in SYMBOLS[:3 + seed]])
    assert not table["stable"].iloc[3 + seed:].any()  # nothing is below the elements


def test_only_elements_with_polymorphs_and_nonzero_energies():
    # element entries only, some with several polymorphs at non-zero energies
    comps = []
    element_energies = [("Fe", -8.3), ("Fe", -8.1), ("O", -4.9), ("Ni", -5.5), ("Ni", -5.7)]
    entries, pd_ = phase_diagram(comps, [], element_energies)
    table = stability([e.composition for e in entries], [e.energy_per_atom for e in entries])
    for i, entry in enumerate(entries):
        assert table.e_above_hull.iloc[i] == pytest.approx(pd_.get_e_above_hull(entry), abs=TOL)
        assert table.decomposition_energy.iloc[i] == pytest.approx(
            pd_.get_decomp_and_phase_separation_energy(entry)[1], abs=TOL)
    assert table["stable"].tolist() == [True, False, True, False, True]


def test_total_energies_with_element_entries():
    # energies shifted by each element's (non-zero) reference: pymatgen's usual input
    rng = np.random.default_rng(7)
    comps, energies = random_compounds(rng, 4, 30)
    mu = {"Fe": -8.3, "O": -4.9, "Ni": -5.5, "Al": -3.7}
    total = [e + sum(mu[s] * a for s, a in c.items()) / sum(c.values()) for c, e in zip(comps, energies)]
    assert_agrees(comps, total, [(s, mu[s]) for s in mu] + [("Fe", -8.0)])


def test_duplicate_compositions():
    rng = np.random.default_rng(11)
    comps, energies = random_compounds(rng, 3, 15)
    # polymorphs: the same compositions again, higher and lower, and scaled formulas (FeO vs Fe2O2)
    comps += [{k: 2 * v for k, v in c.items()} for c in comps[:5]]
    energies += [e + d for e, d in zip(energies[:5], (0.05, -0.05, 0.2, -0.3, 0.01))]
    assert_agrees(comps, energies, [(s, 0.0) for s in SYMBOLS[:3]])


def test_collinear_coplanar_and_on_facet_points():
    comps = [
        # binary: FeO exactly on the segment Fe2O..FeO2 (collinear)
        {"Fe": 2, "O": 1}, {"Fe": 1, "O": 2}, {"Fe": 1, "O": 1},
        # ternary: NiAlMn exactly on the facet NiMn-AlMn-NiAl (plane -0.5 Ni - 0.5 Al - 1.5 Mn)
        {"Ni": 1, "Mn": 1}, {"Al": 1, "Mn": 1}, {"Ni": 1, "Al": 1}, {"Ni": 1, "Al": 1, "Mn": 1},
        # quaternary: four coplanar vertices (all at -2) and their centroid on that flat facet
        {"Fe": 2, "Ni": 1, "O": 1, "Al": 1}, {"Fe": 1, "Ni": 2, "O": 1, "Al": 1},
        {"Fe": 1, "Ni": 1, "O": 2, "Al": 1}, {"Fe": 1, "Ni": 1, "O": 1, "Al": 2}, {"Fe": 1, "Ni": 1, "O": 1, "Al": 1},
    ]
    energies = [-0.6, -0.6, -0.6, -1.0, -1.0, -0.5, -2.5 / 3, -2.0, -2.0, -2.0, -2.0, -2.0]
    elements = [("Fe", 0.0), ("O", 0.0), ("Ni", 0.0), ("Al", 0.0), ("Mn", 0.0)]
    table = assert_agrees(comps, energies, elements, check_decomposition=False)
    on_hull = [5 + 2, 5 + 6, 5 + 11]  # FeO, NiAlMn, FeNiOAl: on the hull, not vertices
    vertices = [5 + 0, 5 + 1, 5 + 3, 5 + 4, 5 + 5, 5 + 7, 5 + 8, 5 + 9, 5 + 10]
    assert table.e_above_hull.iloc[on_hull].abs().max() < 1e-12
    assert not table.stable.iloc[on_hull].any()
    assert table.stable.iloc[vertices].all()
    for i in on_hull:  # an on-hull point decomposes into other phases at its own energy
        assert table.decomposition_energy.iloc[i] == pytest.approx(0.0, abs=1e-12)
        assert table.formula.iloc[i] not in parse_decomposition(table.decomposition.iloc[i])


def test_near_duplicate_compositions_both_stay_on_the_hull():
    # two compositions 2e-9 apart at one energy, each 4e-9 eV/atom below the hull of the other:
    # with tol 1e-6 neither is stable, and the hull they span is still there for the third point
    f = np.array([[0.5, 0.5], [0.5 + 2e-9, 0.5 - 2e-9], [0.3, 0.7]])
    t = stability(f, [-1.0, -1.0, -0.2], elements=["Fe", "O"], tol=1e-6)
    assert t.e_above_hull.iloc[:2].max() < 1e-12
    assert not t.stable.iloc[:2].any()
    assert t.e_above_hull.iloc[2] == pytest.approx(-0.2 - (-1.0 * 0.3 / 0.5), abs=1e-8)


@pytest.mark.parametrize("seed", range(4))
def test_candidates_against_a_reference(seed):
    rng = np.random.default_rng(200 + seed)
    k = 3 + seed % 3
    comps, energies = random_compounds(rng, k, 25)
    entries, pd_ = phase_diagram(comps, energies, [(s, 0.0) for s in SYMBOLS[:k]])
    ref = Reference([e.composition for e in entries], [e.energy_per_atom for e in entries])
    cand_comps, cand_e = random_compounds(rng, k, 15)
    cand_comps += comps[:3]  # polymorphs of reference compounds, above and below
    cand_e += [energies[0] - 0.3, energies[1] + 0.2, energies[2] - 1e-3]
    cands = [PDEntry(Composition(c), e * Composition(c).num_atoms) for c, e in zip(cand_comps, cand_e)]
    table = ref.evaluate(cands)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, c in enumerate(cands):
            _, below = pd_.get_decomp_and_e_above_hull(c, allow_negative=True)
            assert table.e_above_hull.iloc[i] == pytest.approx(max(0.0, below), abs=TOL)
            d = pd_.get_decomp_and_phase_separation_energy(c)[1]
            assert table.decomposition_energy.iloc[i] == pytest.approx(d, abs=TOL), (i, c)
            # stable: would be a hull vertex of the reference plus this candidate
            with_c = PhaseDiagram(entries + [c])
            assert bool(table.stable.iloc[i]) == (c in with_c.stable_entries), (i, c)
