"""The column names hullpack reads from a table of compositions (and a file's suffixes read as a
table), in one place, without heavy imports: the command line's help lists them too."""

#: columns read as compositions (the first present), unless one is named: the names of Materials
#: Project (``formula_pretty``, older ``pretty_formula``), AFLOW (``compound``), OQMD (``name``, last:
#: elsewhere a name may be no formula) and others' exports
COMPOSITION_COLUMNS = ("formula", "composition", "formula_pretty", "pretty_formula", "reduced_formula", "compound",
                       "name")
#: columns read as energies in eV/atom (the first present), unless one is named: formation energies
#: under the names of Materials Project, JARVIS, AFLOW and OQMD first (Materials Project's
#: ``energy_per_atom`` beside them is a total energy), then generic names
ENERGY_COLUMNS = ("formation_energy_per_atom", "formation_energy_peratom", "e_form", "enthalpy_formation_atom",
                  "delta_e", "energy", "energy_per_atom", "target")

#: files read as tables (:func:`hullpack.stability.inputs.read_table`) rather than as text
TABLE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def first_present(columns, names) -> str | None:
    """The first of ``names`` among a table's ``columns``, else None: the column read when none is
    named (``first_present(df.columns, ENERGY_COLUMNS)``)."""
    present = set(columns)
    return next((name for name in names if name in present), None)


def listed(columns, most: int = 12) -> str:
    """A table's column names for a message: the first ``most``, and how many there are in all.

    >>> listed(["formula", "energy"]), listed(range(20), most=2)
    ("['formula', 'energy']", "['0', '1', ... (20 in all)]")
    """
    names = [str(c) for c in columns]
    return repr(names[:most])[:-1] + (f", ... ({len(names)} in all)]" if len(names) > most else "]")


def find_column(columns, name: str | None, names, what: str, *, required: bool = True,
                how: str | None = None) -> str | None:
    """The column of a table read as ``what`` (``"formula"``, ``"energy"``): ``name`` when one is
    given, else the first of ``names`` present (:func:`first_present`). ValueError naming the
    table's columns when ``name`` is not among them, or when none of ``names`` is and the column is
    ``required`` (``how``: how to name one, e.g. ``"--energy-column"``); else None.

    >>> find_column(["id", "formula_pretty"], None, COMPOSITION_COLUMNS, "formula")
    'formula_pretty'
    >>> find_column(["id", "formula"], "dH", ENERGY_COLUMNS, "energy")
    Traceback (most recent call last):
    ValueError: energy column 'dH' is not among the table's columns ['id', 'formula']
    """
    columns = list(columns)
    if name is not None:
        if name not in columns:
            raise ValueError(f"{what} column {name!r} is not among the table's columns {listed(columns)}")
        return name
    found = first_present(columns, names)
    if found is None and required:
        raise ValueError(f"no {what} column ({', '.join(names)}) among the table's columns {listed(columns)}; "
                         f"name it" + (f" with {how}" if how else ""))
    return found
