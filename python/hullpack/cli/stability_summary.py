"""The summary ``hullpack stability`` prints and writes to summary.txt: counts, the most stable
compounds with what the reference says of each, and the bad rows, in a chemist's words."""
from __future__ import annotations

from ..columns import ID_COLUMNS, first_present
from .common import plural

_TOP = 10  # most stable compositions listed in the summary
_BAD_LISTED = 5  # bad rows listed in the summary
_ON_HULL = 5e-5  # eV/atom: hullpack.stability.hulls.ON_HULL (not imported: it loads the compiled core)
MODEL_ERROR = 0.1  # eV/atom: hullpack.stability.hulls.MODEL_ERROR (not imported, as above)


def _reference_verdict(r, id_column: str | None = None) -> str | None:
    """Where the reference's own entry at row ``r``'s composition lies ("on its hull", "0.0120 above
    its hull", with that entry's id where the reference has ids: "on its hull (mp-19770)"), or None
    if the reference holds none (or there is no reference)."""
    import math

    if not bool(r.get("in_reference", False)):
        return None
    above = r["reference_e_above_hull"]
    return ("on its hull" if not math.isfinite(above) or above < _ON_HULL else f"{above:.4f} above its hull"
            ) + _reference_id(r, id_column)


def _reference_id(r, id_column: str | None) -> str:
    """`` (mp-19770)``: the id of the reference entry row ``r`` is compared with (:func:`id_text`, a
    number after ``id_column``, the reference's id column), or "" if none (or the reference has no
    ids: a ``reference_id`` column is then the input's own)."""
    ident = None if id_column is None else id_text(r.get("reference_id"), id_column)
    return "" if ident is None else f" ({ident})"


def _versus(r, name: str, energy_name: str) -> str:
    """Row ``r``'s energy beside the reference's (``name``: "OQMD") at its composition ("the model's
    energy 0.0082 above OQMD's"), as a chemist weighs a model's error against DFT."""
    d = r["energy"] - r["reference_energy"]
    if abs(d) < _ON_HULL:  # as printed, 0.0000: the reference's own value
        return f"{energy_name} is {name}'s"
    return f"{energy_name} {abs(d):.4f} {'above' if d > 0 else 'below'} {name}'s"


def _known(r, name: str, energy_name: str, id_column: str | None = None) -> str:
    """What the reference (``name``) says at row ``r``'s composition, after a summary line ("; OQMD:
    0.0120 above its hull, the given energy 0.0050 above OQMD's"; "" if nothing, or no reference)."""
    verdict = _reference_verdict(r, id_column)
    return "" if verdict is None else f"; {name}: {verdict}, {_versus(r, name, energy_name)}"


def row_ids(table) -> list:
    """Each row's id in a database export (the first of :data:`ID_COLUMNS` that ``table`` has), as
    the summary names it beside the row: text as written (``mp-1234``), a number after its column's
    name (``entry_id 1004``); None where a row has none, or the table no id column.

    >>> import pandas as pd
    >>> row_ids(pd.DataFrame({"entry_id": [1004, None], "formula": ["Fe2O3", "FeO"]}))
    ['entry_id 1004', None]
    """
    column = first_present(table.columns, ID_COLUMNS)
    if column is None:
        return [None] * len(table)
    return [id_text(v, column) for v in table[column]]


def id_text(value, column: str) -> str | None:
    """An id of a database export's ``column`` as the summary writes it: text as written, a number
    after the column's name; None for a missing or blank one.

    >>> id_text("mp-19770", "material_id"), id_text(1004.0, "entry_id"), id_text(float("nan"), "jid")
    ('mp-19770', 'entry_id 1004', None)
    """
    import numbers

    import pandas as pd

    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) or not str(value).strip():
        return None
    if isinstance(value, numbers.Number):  # OQMD's entry_id 1004: a number alone would read as another row's
        # a table's numbers (int, float, numpy's, a Parquet decimal's Decimal) convert; typeshed gives
        # numbers.Number no __int__ or __float__
        return f"{column} {int(value) if float(value).is_integer() else value}"  # type: ignore[call-overload,arg-type]
    return str(value)


def _with_id(where: str, ident: str | None) -> str:
    """``where`` (``row 4``) and the row's id beside it (``row 4, mp-1234``), if it has one."""
    return where if ident is None else f"{where}, {ident}"


def header_line(n: int, what: str) -> str:
    """The summary's first line, which ``hullpack stability`` prints before the work: how many
    compositions, from where (``what``: FILE, "the command line").

    >>> header_line(3, "the command line")
    'hullpack stability: 3 compositions from the command line'
    """
    return f"hullpack stability: {plural(n, 'composition')} from {what}"


def _off_hull(r, name: str, energy_name: str, given: bool, competing, id_column: str | None) -> str:
    """Row ``r``'s line where the reference (``name``) has its composition on its hull but its energy
    here is no known stable one (:func:`~hullpack.stability.hulls.known_stable`): the user's own
    energy (``given``) above the hull of the other compositions, into the products ``competing``
    (a function of formulas, :meth:`~hullpack.stability.Reference.competing_phases`) names, or a
    model's energy further from the reference's than its error."""
    ident = _reference_id(r, id_column)
    de = r["decomposition_energy"]
    products = competing([r["formula"]])[0] if competing is not None else None
    into = f", decomposes to {products}" if products else ""
    if given:
        return (f"unstable by {energy_name}: above the hull of the other compositions by {de:.4f}{into}; {name} has "
                f"{r['formula']} on its hull{ident}, {r['energy'] - r['reference_energy']:.4f} below {energy_name}")
    side = f"above the hull of the other compositions by {de:.4f}{into}" if de >= _ON_HULL else (
        f"below the hull of the other compositions by {-de:.4f}")
    return (f"a large model error: {name} has {r['formula']} on its hull{ident}, {_versus(r, name, energy_name)} "
            f"(more than {MODEL_ERROR} eV/atom); by it, {side}")


def summary_lines(table, what: str, energies: str, against: str, reference_name: str = "the reference",
                   energy_name: str = "the given energy", typed: bool = False,
                   reference_id_column: str | None = None, given: bool = True, competing=None) -> list[str]:
    """The summary a chemist reads: the header line (:func:`header_line`), counts, then the most
    stable compounds and the bad rows, counted and listed (by their number in the file, the first
    data row being 1, with their database id beside it where the file has one (:data:`ID_COLUMNS`),
    and as written). Against a reference,
    which compositions it holds already and its verdict there (``reference_name``: "OQMD") beside
    the row's energy (``energy_name``: "the model's energy"): a compound on the reference's hull is
    counted as known stable, not as unstable because its energy here is a little above the
    reference's; where the reference has ids (``reference_id_column``: the column they came from,
    :attr:`hullpack.stability.Reference.id_column`, which also names a number: ``entry_id 1004``),
    the id of the entry compared with, from the table's ``reference_id`` ("the reference: on its
    hull (mp-19770)"). ``typed``: the compositions are formulas from the command line, a bad one
    named "formula N" as ``hullpack predict`` names it (rows are a file's). ``given``: the energies
    are the user's own, not a model's: a compound on the reference's hull that they put above the
    hull of the other compositions is unstable by them, not known stable (a model's energy is
    known stable within :data:`~hullpack.stability.hulls.MODEL_ERROR` of the reference's, a
    large model error beyond it); ``competing`` (a :class:`~hullpack.stability.Reference`'s
    :meth:`~hullpack.stability.Reference.competing_phases`) names the products there."""
    import numpy as np
    import pandas as pd

    from hullpack.stability.hulls import known_stable as known_stable_rows
    from hullpack.stability.hulls import on_reference_hull
    from hullpack.stability.inputs import charge_balance, written_as

    bad_one = "bad formula" if typed else "bad row"
    position = dict(zip(table.index, range(1, len(table) + 1)))
    ok = table["problem"].isna()
    t = table[ok & (table["n_elements"] > 1)]  # elements are the hulls' ends, stable by definition
    stable = t["stable"].astype(bool)
    known_stable = known_stable_rows(t, given)
    off_hull = on_reference_hull(t) & ~known_stable  # on the reference's hull, but not by these energies
    lines = [header_line(len(table), what), f"energies: {energies}", f"against: {against}"]
    if len(t):
        near = int((~stable & ~known_stable & (t["e_above_hull"] <= 0.025)).sum())  # stable ones counted apart
        by_what = energy_name.replace("energy", "energies", 1)
        known_line = ""
        if known_stable.any():  # how far the energies given lie from the reference's at those compounds
            gap = (t["energy"] - t["reference_energy"])[known_stable].max()
            known_line = (f"; {int(known_stable.sum()):,} more known stable, on {reference_name}'s hull, {energy_name} "
                          + (f"at most {1000 * gap:.1f} meV/atom above {reference_name}'s there" if gap >= _ON_HULL
                             else f"at {reference_name}'s there"))
        if off_hull.any():
            known_line += (f"; {int(off_hull.sum()):,} on {reference_name}'s hull but "
                           + (f"above the hull of the other compositions by {by_what}" if given else
                              f"{by_what} more than {MODEL_ERROR} eV/atom above {reference_name}'s (large model errors)"))
        lines.append(f"stable: {int(stable.sum()):,} of {plural(len(t), 'compound')} ({stable.mean():.1%}; elements "
                     f"not counted) by {by_what}{known_line}; not stable, at most 25 meV/atom above the hull: {near:,}; "
                     f"median energy above hull {t['e_above_hull'].median():.3f} eV/atom")
        if "in_reference" in t.columns:
            known = t["in_reference"].astype(bool)
            on = int((known & (t["reference_e_above_hull"] < _ON_HULL)).sum())
            lines.append(f"already in {reference_name}: {int(known.sum()):,} of {len(t):,} ({on:,} on its hull): "
                         f"a composition it holds is compared with its entry there")
        by = t.assign(known_stable=known_stable).groupby("n_elements")[["stable", "known_stable"]].sum()
        by["size"] = t.groupby("n_elements").size()
        lines.append("stable by number of elements: " + ", ".join(
            f"{k}: {int(r['stable']):,}/{int(r['size']):,}"
            + (f" (+{int(r['known_stable']):,} known)" if r["known_stable"] else "") for k, r in by.iterrows()))
        # stable ones by how far below the others' hull, then known stable ones, then the others by how
        # far above the hull
        top = pd.concat([t[stable].sort_values("decomposition_energy"),
                         t[known_stable].sort_values("e_above_hull"),
                         t[~stable & ~known_stable].sort_values("e_above_hull")]).head(_TOP)
        # products by atom fraction, as the table's decomposition: "0.875 Fe3O4 + 0.125 Fe" is no reaction
        # of formula units (4 FeO -> Fe3O4 + Fe), which a chemist reads a coefficient before a formula as
        lines.append("most stable (eV/atom; products by their fraction of the atoms): stable by how far below the hull "
                     "of the other compositions, "
                     + (f"then those on {reference_name}'s hull, " if known_stable.any() else "")
                     + "else how far above the hull")
        # the reduced formula names the compound; what was written follows where a reader would not
        # recognise it there: "Li2Mn3NiO8 (LiNi0.5Mn1.5O4)"
        names = {i: r["formula"] + (f" ({w})" if (w := written_as(r["formula"], r["input"])) else "")
                 for i, r in top.iterrows()}
        # a composition given more than once (polymorphs) ends each of its lines with its row and its id in
        # a database export: "[row 2]", "[row 2, mp-19770]"
        repeated = set(t["formula"][t["formula"].duplicated()])
        ids = dict(zip(top.index, row_ids(top)))  # of the listed rows only: a Python step a row
        # a stable one a chemist would not make: no oxidation states that sum to zero
        unbalanced = set(top.index[~charge_balance(top["formula"].tolist()).fillna(True).to_numpy(bool)])
        width = max(7, max(map(len, names.values())))
        sys_width = max(7, int(top["chemsys"].str.len().max()))
        for i, r in top.iterrows():
            known = _known(r, reference_name, energy_name, reference_id_column)
            if r["stable"]:
                margin = -r["decomposition_energy"]  # under 0.05 meV/atom it would print as "stable by 0.0000"
                how = (f"stable by {margin:.4f}" if margin >= _ON_HULL else f"stable by less than 0.0001 ({margin:.1e})"
                       ) + f"  vs {r['decomposition']}{known}"
                how += "; not charge-balanced (no known oxidation states sum to zero)" if i in unbalanced else ""
            elif known_stable[i]:  # DFT's verdict first, then how this energy compares with DFT's
                how = (f"known stable: on {reference_name}'s hull, {_versus(r, reference_name, energy_name)} "
                       f"{r['formula']}{_reference_id(r, reference_id_column)}")
            elif off_hull[i]:  # DFT has it on its hull, these energies do not: said plainly, not as known stable
                how = _off_hull(r, reference_name, energy_name, given, competing, reference_id_column)
            elif r["decomposition"] == f"1.0 {r['formula']}":
                # above (or at the energy of) another entry of its own composition, a lower polymorph:
                # not a decomposition to name
                how = ("on the hull, at the energy of another " if r["e_above_hull"] < _ON_HULL
                       else f"above hull by {r['e_above_hull']:.4f}  above another ") + f"{r['formula']} entry"
                how += "" if r["e_above_hull"] < _ON_HULL else ", as low or lower (a polymorph)"
            elif r["e_above_hull"] < _ON_HULL:  # on the hull but no vertex: on a facet, or a vertex within --tol
                below = -r["decomposition_energy"]
                how = "on the hull, not stable: " + (
                    f"{below:.4f} below {r['decomposition']}, less than --tol" if below >= _ON_HULL
                    else f"as low as {r['decomposition']}, not below") + known
            else:
                how = f"above hull by {r['e_above_hull']:.4f}  decomposes to {r['decomposition']}{known}"
            kind = "formula" if typed else "row"
            where = f"  [{_with_id(f'{kind} {position[i]}', ids[i])}]" if r["formula"] in repeated else ""
            lines.append(f"  {names[i]:<{width}} {r['chemsys']:<{sys_width}} {how}{where}")
        if len(t) > len(top):  # the others were left unsaid
            lines.append(f"  ... and {plural(len(t) - len(top), 'more compound')} (the table lists each)")
    if not len(t) and ok.any():
        lines.append("no compounds, only elements (the hulls' ends): the table gives each against its element's "
                     "lowest entry")
    if typed:  # an element typed is a question asked too, though not counted among the compounds
        lines += _element_lines(table[ok & (table["n_elements"] == 1)], reference_name, position,
                                "in_reference" in table.columns, reference_id_column)
    if (~ok).any():  # counted here, not in the header line, which is printed before the work
        lines.append(f"{plural(int((~ok).sum()), bad_one)}, see the 'problem' column:")
    return lines + bad_lines(np.flatnonzero((~ok).to_numpy()) + 1, table[~ok], typed)


def _element_lines(elements, reference_name: str, position: dict, against: bool,
                   id_column: str | None = None) -> list[str]:
    """A line for each element typed on the command line (``elements``: their rows of the table)
    that is not its element's reference itself: above its element's lowest entry (the reference's,
    when ``against``, with its id where the reference has ids; 0 eV/atom where the reference has
    none), or below the reference's, as ``[formula N]``. Elements are the hulls' ends, not counted
    among the compounds."""
    lines = []
    for i, r in elements.iterrows():
        symbol, margin = r["chemsys"], -r["decomposition_energy"]
        below = against and r["stable"] and margin >= _ON_HULL
        if r["e_above_hull"] < _ON_HULL and not below:  # at its reference (Fe=0): nothing to tell
            continue
        if not against:
            base = f"the lowest {symbol} entry"
        elif bool(r["in_reference"]):
            base = f"{reference_name}'s lowest {symbol} entry{_reference_id(r, id_column)}"
        else:  # no elemental entry there (the shipped OQMD set has none): the element's reference is 0 eV/atom
            base = f"0 eV/atom ({reference_name} has no entry of {symbol} alone)"
        how = (f"stable by {margin:.4f}  below {base}" if below
               else f"above hull by {r['e_above_hull']:.4f}  above {base}")
        lines.append(f"  {r['formula']:<7} {symbol:<7} element: {how}  [formula {position[i]}]")
    return lines


def bad_lines(numbers, bad, typed: bool) -> list[str]:
    """The first bad rows of ``bad`` (a table's rows with a ``problem``), numbered ``numbers`` as in
    FILE (the first row under the header being 1) or as typed ("formula N"), with their database ids
    (:func:`row_ids`) beside the number, and shown as written."""
    ids = row_ids(bad.iloc[:_BAD_LISTED])
    kind = "formula" if typed else "bad row"
    lines = [f"  {_with_id(f'{kind} {k}', ident)} ({r['input']!r}): {r['problem']}"
             for k, ident, (_, r) in zip(list(numbers)[:_BAD_LISTED], ids, bad.iterrows())]
    if len(bad) > _BAD_LISTED:
        lines.append(f"  ... and {plural(len(bad) - _BAD_LISTED, 'more bad ' + ('formula' if typed else 'row'))} "
                     "(the table's 'problem' column names each)")
    return lines
