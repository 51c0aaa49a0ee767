"""hullpack stability as a chemist reads it: energies written per formula unit, and the summary's
decomposition products, which are atom fractions, not a reaction's coefficients."""
import pandas as pd
import pytest

from hullpack.cli import main
from hullpack.errors import HullInputError
from hullpack.stability import stability


def cli(capsys, *argv):
    """``(exit status, stdout, stderr)`` of ``hullpack ARGV``."""
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_formation_energies_per_formula_unit_with_their_elements_at_zero_are_refused(tmp_path, capsys):
    """Formation energies per formula unit (Fe2O3 -8.5 eV, five times its -1.7 eV/atom) beside
    elemental entries at 0 were read as eV/atom: FeO 7 eV/atom above the hull, Fe2O3 2 eV/atom,
    without a word. Below every formation energy per atom known, they are refused as without the
    elemental entries; formation energies per atom that low nowhere else are read."""
    per_unit = pd.DataFrame({"formula": ["Fe2O3", "FeO", "Fe3O4", "NiO", "Fe", "O2", "Ni"],
                             "formation_energy": [-8.5, -2.8, -11.3, -2.4, 0, 0, 0]})
    with pytest.raises(HullInputError, match=r"median energy -5.65 eV/atom with the elemental entries at 0 eV/atom, "
                                             r"and 2 of 4 compounds below -4.6 eV/atom, .*: energies per formula unit "
                                             r"or per cell rather than per atom\?"):
        stability(per_unit)
    per_unit.to_csv(tmp_path / "fu.csv", index=False)
    rc, out, err = cli(capsys, "stability", str(tmp_path / "fu.csv"), "--out", str(tmp_path / "out"))
    # the header line, printed before the work, then the refusal
    assert rc == 2 and out == f"hullpack stability: 7 compositions from {tmp_path / 'fu.csv'}\n"
    assert "energies per formula unit or per cell rather than per atom?" in err
    # without the elements: refused as total energies were, the message naming formation energies per atom
    with pytest.raises(HullInputError, match=r"or give formation energies per atom \(not per formula unit\)"):
        stability(per_unit[:4])
    # per atom, strongly bound compounds among them (LaF3 -4.48), and elements at 0: read
    per_atom = stability(["Fe2O3", "FeO", "LaF3", "La", "F2", "Fe", "O2"], [-1.7, -1.4, -4.48, 0, 0, 0, 0])
    assert per_atom.problem.isna().all()


def test_the_summary_says_its_products_are_atom_fractions(tmp_path, capsys):
    """'FeO ... decomposes to 0.875 Fe3O4 + 0.125 Fe' reads as a reaction of 0.875 formula units of
    Fe3O4, which FeO cannot make: the products are atom fractions (4 FeO -> Fe3O4 + Fe), and the
    summary's header says so."""
    rc, out, err = cli(capsys, "stability", "Fe2O3=-1.7", "Fe3O4=-1.62", "FeO=-1.4", "--reference", "none",
                       "--out", "-")
    assert rc == 0, err
    assert "most stable (eV/atom; products by their fraction of the atoms): stable by how far below" in err
    assert "FeO     Fe-O    above hull by 0.0175  decomposes to 0.875 Fe3O4 + 0.125 Fe" in err


def test_a_table_of_hull_distances_alone_is_named_so_by_the_python_api():
    """A Materials Project table with energy_above_hull but no formation energy: the command says
    the column holds hull distances; stability() listed the columns without a word on it."""
    mp = pd.DataFrame({"formula_pretty": ["Fe2O3", "FeO"], "energy_above_hull": [0.0, 0.02]})
    with pytest.raises(ValueError, match=r"the table's columns: \['formula_pretty', 'energy_above_hull'\] "
                                         r"\('energy_above_hull': hull distances, energies above a hull, not the "
                                         r"formation energies a hull is built from\)"):
        stability(mp)


def test_a_file_without_a_header_line_is_named_so(tmp_path, capsys):
    """A CSV without a header ('Fe2O3,-1.7' first) had its first row read as the column names:
    "no energy column hullpack knows, but columns of numbers ['-1.7']", or "no composition column
    among the table's columns ['Fe2O3']". Its first line is named as data, as hullpack predict
    --file names it."""
    (tmp_path / "e.csv").write_text("Fe2O3,-1.7\nFeO,-1.4\n")
    (tmp_path / "f.csv").write_text("Fe2O3\nFeO\n")
    for name, first, header in (("e.csv", "Fe2O3, -1.7", "formula,formation_energy_per_atom (in eV/atom)"),
                                ("f.csv", "Fe2O3", "formula")):
        rc, out, err = cli(capsys, "stability", str(tmp_path / name), "--out", str(tmp_path / "out"))
        assert rc == 2 and out == "" and err.strip() == (
            f"hullpack stability: {tmp_path / name}: its first line ({first}) is data, not a header naming the "
            f"columns: add a header line, such as {header}"), err
    (tmp_path / "g.csv").write_text("formula,formation_energy_per_atom\nFe2O3,-1.7\nFeO,-1.4\n")
    rc, out, err = cli(capsys, "stability", str(tmp_path / "g.csv"), "--out", "-", "-q")
    assert rc == 0 and len(out.splitlines()) == 3, err
