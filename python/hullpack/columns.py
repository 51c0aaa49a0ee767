"""The column names hullpack reads from a table of compositions (and a file's suffixes read as a
table), in one place, without heavy imports: the command line's help lists them too."""

#: columns read as compositions (the first present), unless one is named: the names of Materials
#: Project (``formula_pretty``, older ``pretty_formula``), AFLOW (``compound``) and others' exports
COMPOSITION_COLUMNS = ("formula", "composition", "formula_pretty", "pretty_formula", "reduced_formula", "compound")
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
