"""Stability of any composition: is it stable, by how much, and into what does it decompose,
against a set of known compounds (DFT), a model's predictions, or both.

Three uses:

- **a set's own stability** -- :func:`stability` ``(compounds, energies)``: every compound against
  the hulls of all of them;
- **candidates against a reference** -- :func:`stability` ``(candidates, energies, reference=...)``,
  or :meth:`Reference.evaluate`: each candidate alone against the reference (``join=True``: the
  candidates enter the hulls together); ``reference="oqmd"`` is the shipped OQMD set
  (:meth:`Reference.oqmd`); a :class:`Reference` builds its hulls once for many queries;
- **the model protocol** -- :func:`model_protocol`: replace the energies of a subset by a model's
  predictions and compare the stable compounds with DFT's (precision, recall, F1, accuracy,
  decomposition-energy MAE, beside the all-stable baseline).

Compositions: formula strings, pymatgen ``Composition`` objects or ``{element: amount}``
mappings, pymatgen ``PDEntry``/``ComputedEntry`` lists (their ``energy_per_atom``), an amounts
array with ``elements=`` naming its columns, or a DataFrame with a ``formula`` column (and an
``energy``/``energy_per_atom``/``target`` column, or ``energies=`` naming one). Energies are per
atom (eV/atom); formation energies, or total energies with elemental entries. Elements: every one
H..Og, those ElemNet lacks (He, Ar, Po, Am, ...) too; only a model's energies need ElemNet's 86.

Definitions (pymatgen's ``PhaseDiagram`` gives the same numbers within 1e-6 eV/atom):

- the **hull** at a composition of chemical space S (its elements) is the lower convex hull of the
  energies of every entry whose elements are a subset of S. Each element's reference is its
  lowest-energy elemental entry, or 0 eV/atom when the set has none. Entries at one composition
  (polymorphs, or ``FeO`` and ``Fe2O2``) count by their lowest energy;
- ``e_above_hull`` (>= 0): energy minus the hull at the composition;
- ``decomposition_energy`` (Bartel's signed decomposition enthalpy, pymatgen's
  ``get_decomp_and_phase_separation_energy``): energy minus the hull of the entries at *other*
  compositions. Negative for a stable compound (how far below its competing phases it lies),
  ``e_above_hull`` for an unstable compound with no polymorph on the hull; for a pure element,
  energy minus the element's reference;
- ``stable``: the compound is the lowest entry at its composition and its decomposition energy is
  below ``-tol`` (default 1e-9 eV/atom); an elemental entry is stable when it is its element's
  lowest. A candidate is stable when it lies below every reference entry at its composition and
  its decomposition energy is below ``-tol`` (one at the energy of a reference entry is that entry:
  ``e_above_hull`` 0, not stable); a candidate element where the reference has no entry of that
  element is stable at or below 0 eV/atom (within ``tol``), the hull's end;
- ``decomposition``: the phases of the reaction behind the decomposition energy and their atom
  fractions, largest first, as ``"0.6 Fe2O3 + 0.4 Fe3O4"`` (:func:`parse_decomposition` reads it
  back): what an unstable compound decomposes into, the competing phases of a stable one. An
  element appears by its reduced formula (``Fe``, ``O2``), with or without an elemental entry.

Result tables have one row per input row, in input order, with the input's index: ``formula``
(pymatgen's reduced formula), ``chemsys`` (``Fe-O``), ``n_elements``, ``energy``,
``e_above_hull``, ``decomposition_energy``, ``stable``, ``decomposition``, ``problem`` and
``input``; candidates against a reference also ``in_reference``, ``reference_energy`` and
``reference_e_above_hull`` (what the reference holds at the composition), and ``reference_id``
(the id of the reference entry compared with) where the reference was built from a table with an
id column (:data:`hullpack.columns.ID_COLUMNS`: a database export). Bad rows
(an unknown element, an unparsable formula, a non-finite energy, no atoms, a candidate with an
element no reference entry contains) keep their row with NaN results and the reason in
``problem``; a warning lists them (``errors="raise"`` raises
:class:`hullpack.errors.CompositionError` instead).

>>> df = stability(["Fe2O3", "Fe3O4", "FeO", "FeO2"], [-1.70, -1.62, -1.40, -0.90])
>>> energies = {"e_above_hull": 4, "decomposition_energy": 4}   # by column: pandas 2.0 cannot round "stable"
>>> df[["formula", *energies, "stable"]].round(energies).values.tolist()
[['Fe2O3', 0.0, -0.188, True], ['Fe3O4', 0.0, -0.001, True], ['FeO', 0.0175, 0.0175, False], ['FeO2', 0.5167, 0.5167, False]]
>>> df.loc[2, "decomposition"]
'0.875 Fe3O4 + 0.125 Fe'
"""
from .hulls import REFERENCE_COLUMNS, RESULT_COLUMNS, Reference, known_stable, parse_decomposition, stability
from .inputs import Parsed, charge_balance, parse
from ..naming import chemical_system, reduced_formula
from .protocol import ProtocolResult, model_protocol, stability_metrics

__all__ = [
    "stability", "Reference", "model_protocol", "ProtocolResult", "stability_metrics", "parse_decomposition",
    "known_stable", "charge_balance",
    "RESULT_COLUMNS", "REFERENCE_COLUMNS", "parse", "Parsed", "reduced_formula", "chemical_system",
]
