"""What the charge-balance check (:mod:`hullpack.oxidation`) says about DFT-stable and unstable
compounds, and about a screen's predictions: the evidence behind the ``charge_balanced`` column
and the screen summary's line.

* OQMD: every composition of the shipped data (train, val and test, within ElemNet's -20 < dH < 5
  eV/atom, as a screen's DFT comparison reads them) against the hulls of all of them (:func:`hullpack.stability.stability`, the lowest energy per composition); by its distance
  to the DFT hull, the share of the checked ones (those the check applies to: nitrides, oxides,
  chalcogenides, halides) that are charge-balanced;
* screens: the shipped model's default screen of all binaries, and of the ternaries of the 20
  elements with the most DFT-stable ternary compounds (as benchmarks/screen_defaults.py picks
  them); its predicted stable compounds, and the robust ones among them (at least
  ``ROBUST_DEPTH`` deep), split by the check; ``precision``: the share whose reduced formula is a
  DFT-stable compound of the shipped OQMD data.

    python benchmarks/charge_balance.py           # under a minute on 2 cores

Writes benchmarks/results/charge_balance.json and prints Markdown tables.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its threads

import numpy as np
import pandas as pd

from _common import save
from hullpack.elemnet.data import load_oqmd
from hullpack.screening import screen
from hullpack.screening.dft import load_dft
from hullpack.screening.summary import ROBUST_DEPTH
from hullpack.stability import charge_balance, stability
from screen_defaults import N_TERNARY_ELEMENTS, ternary_elements

BANDS_MEV = ((0, 0), (0, 25), (25, 100), (100, np.inf))  # (0, 0): on the hull, stable


def oqmd_bands() -> tuple[list, set]:
    """The OQMD rows by band of hull distance: how many, checked, balanced; and the set of
    DFT-stable reduced formulas."""
    data = pd.concat([load_oqmd(s) for s in ("train", "val", "test")], ignore_index=True)  # ElemNet's filter, as a screen's
    df = stability(data["formula"].tolist(), data["target"].to_numpy(), progress_bar=False)
    df["charge_balanced"] = charge_balance(df["formula"].tolist()).array
    rows = []
    for lo, hi in BANDS_MEV:
        if hi == 0:
            band, name = df["stable"].to_numpy(bool), "stable (on the DFT hull)"
        else:
            e = 1000 * df["e_above_hull"].to_numpy()
            band = ~df["stable"].to_numpy(bool) & (e > lo) & (e <= hi)
            name = f"{lo:g}-{hi:g} meV/atom above" if np.isfinite(hi) else f"more than {lo:g} meV/atom above"
        sub = df.loc[band, "charge_balanced"]
        checked = int(sub.notna().sum())
        rows.append({"band": name, "compounds": int(band.sum()), "checked": checked,
                     "balanced_share": float(sub.fillna(False).sum() / max(checked, 1))})
    return rows, set(df.loc[df["stable"].to_numpy(bool), "formula"])


def screen_rows(dft_stable: set) -> list:
    """The default screens' predictions by the check, with their share of DFT-stable formulas."""
    rows = []
    ternary = ternary_elements(load_dft(), N_TERNARY_ELEMENTS)
    for order, elements, name in ((2, None, "all binaries"), (3, ternary, f"ternaries of {N_TERNARY_ELEMENTS} elements")):
        v = screen(order=order, elements=elements, progress=False, compare_dft=False).vertices
        v = v[~v["end_artifact"].to_numpy(bool)]
        for which, sub in (("predicted stable", v), ("robust", v[v["depth"] >= ROBUST_DEPTH])):
            dft = sub["formula"].isin(dft_stable).to_numpy()
            cb = sub["charge_balanced"]
            row = {"screen": name, "compounds": which, "n": len(sub), "checked": int(cb.notna().sum())}
            checked = cb.notna().to_numpy()
            balanced = cb.fillna(False).to_numpy(bool)
            for label, mask in (("balanced", balanced), ("not_balanced", checked & ~balanced), ("not_checked", ~checked)):
                row[label] = int(mask.sum())
                row[f"precision_{label}"] = float(dft[mask].mean()) if mask.any() else float("nan")
            rows.append(row)
    return rows


def main() -> None:
    bands, dft_stable = oqmd_bands()
    screens = screen_rows(dft_stable)
    out = save("charge_balance", {"robust_depth": ROBUST_DEPTH, "oqmd": bands, "screens": screens})
    print("| OQMD compounds | n | checked | charge-balanced |\n|---|---|---|---|")
    for r in bands:
        print(f"| {r['band']} | {r['compounds']:,} | {r['checked']:,} | {100 * r['balanced_share']:.1f}% |")
    print("\n| screen | compounds | n | balanced (DFT-stable) | not balanced (DFT-stable) | not checked (DFT-stable) |\n"
          "|---|---|---|---|---|---|")
    for r in screens:
        cells = [f"{r[k]:,} ({100 * r[f'precision_{k}']:.0f}%)" for k in ("balanced", "not_balanced", "not_checked")]
        print(f"| {r['screen']} | {r['compounds']} | {r['n']:,} | " + " | ".join(cells) + " |")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
