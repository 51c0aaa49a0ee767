"""Which learning rate should ``hullpack train --init`` (fine-tuning the shipped model) take when the
user gives none? Fine-tunes the shipped model at several learning rates on tables built the way
users' own data differ from the OQMD the model learned:

- ``shifted``: another database's formation energies, modelled as per-element reference-energy
  shifts (N(0, 0.08) eV/atom per element, as fitted elemental energies differ between functionals
  and codes) plus 0.02 eV/atom noise;
- ``oxide_corrected``: oxides with an anion correction of -0.687 eV per O atom (the size of the
  Materials Project's oxide correction) and 0.03 eV/atom noise;
- ``same_source``: OQMD energies unchanged, of one chemistry (compounds with Li): nothing new to
  learn, so fine-tuning must not make the model worse;
- ``tiny``: 100 rows of ``shifted``.

Rows come from the OQMD test split, never trained on; each table is split by composition into
fine-tune train, val (selects the best epoch) and eval (reported, never seen by the run). The
result gives, per task and learning rate, the eval MAE of ``best.pt`` (mean over seeds) beside the
starting model's, and each learning rate's worst ratio to the best learning rate over the tasks.

    python benchmarks/bench_finetune.py            # ~15-30 min on 2 cores
    python benchmarks/bench_finetune.py --quick    # two tasks, one seed
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import numpy as np
import torch

from _common import save
from hullpack.elemnet import evaluate_mae, featurize, load_oqmd, load_pretrained, train
from hullpack.elements import ELEMNET_ELEMENTS

LRS = (5e-5, 1e-4, 2e-4, 5e-4)


def tables(rng_seed: int = 0) -> dict[str, tuple[list[str], np.ndarray, tuple[int, int, int]]]:
    """Task name -> (formulas, energies, (n_train, n_val, n_eval)). Formulas are distinct."""
    df = load_oqmd("test").drop_duplicates("formula").reset_index(drop=True)
    rng = np.random.default_rng(rng_seed)
    x = featurize(df["formula"].tolist())
    y = df["target"].to_numpy(np.float64)
    shift = rng.normal(0.0, 0.08, x.shape[1])
    shifted = y + x @ shift + rng.normal(0.0, 0.02, len(y))
    o = ELEMNET_ELEMENTS.index("O")
    li = ELEMNET_ELEMENTS.index("Li")
    oxides = np.flatnonzero(x[:, o] > 0)
    oxide_y = y + -0.687 * x[:, o] + rng.normal(0.0, 0.03, len(y))
    lithium = np.flatnonzero(x[:, li] > 0)
    order = rng.permutation(len(y))
    out = {}
    for name, rows, energies, sizes in (("shifted", order, shifted, (2000, 500, 1500)),
                                        ("oxide_corrected", rng.permutation(oxides), oxide_y, (1000, 300, 1500)),
                                        ("same_source", rng.permutation(lithium), y, (1000, 300, 1300)),
                                        ("tiny", order[-2000:], shifted, (100, 30, 1500))):
        rows = rows[: sum(sizes)]
        if len(rows) < sum(sizes):
            raise SystemExit(f"{name}: {len(rows)} rows, need {sum(sizes)}")
        out[name] = (df["formula"].to_numpy()[rows].tolist(), energies[rows].astype(np.float32), sizes)
    return out


def run(formulas, energies, sizes, lr: float, seed: int, threads: int) -> dict:
    n_train, n_val, _ = sizes
    x = torch.from_numpy(featurize(formulas))
    y = torch.from_numpy(energies)
    parts = ((x[:n_train], y[:n_train]), (x[n_train:n_train + n_val], y[n_train:n_train + n_val]),
             (x[n_train + n_val:], y[n_train + n_val:]))
    with tempfile.TemporaryDirectory() as run_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        out = train(run_dir, train_data=parts[0], val_data=parts[1], init="default", lr=lr, seed=seed,
                    num_threads=threads, data_source="bench_finetune")
        seconds = time.perf_counter() - start
        from hullpack.elemnet import load_model

        best = load_model(f"{run_dir}/best.pt")
    return {"eval_mae": evaluate_mae(best, *parts[2]), "best_epoch": out["best_epoch"],
            "epochs": out["epochs_done"], "seconds": round(seconds, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="two tasks, one seed")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    tasks = tables()
    if args.quick:
        tasks = {k: tasks[k] for k in ("shifted", "same_source")}
    seeds = range(1 if args.quick else args.seeds)
    base = load_pretrained()
    result: dict = {"lrs": list(LRS), "seeds": list(seeds), "tasks": {}}
    for name, (formulas, energies, sizes) in tasks.items():
        x_eval = torch.from_numpy(featurize(formulas[sizes[0] + sizes[1]:]))
        task = {"rows": dict(zip(("train", "val", "eval"), sizes)),
                "start_eval_mae": evaluate_mae(base, x_eval, torch.from_numpy(energies[sizes[0] + sizes[1]:])),
                "by_lr": {}}
        for lr in LRS:
            runs = [run(formulas, energies, sizes, lr, seed, args.threads) for seed in seeds]
            task["by_lr"][f"{lr:g}"] = {"eval_mae": float(np.mean([r["eval_mae"] for r in runs])), "runs": runs}
            print(f"{name:16s} lr {lr:<7g} eval MAE {task['by_lr'][f'{lr:g}']['eval_mae']:.4f} "
                  f"(start {task['start_eval_mae']:.4f}; best epochs {[r['best_epoch'] for r in runs]}; "
                  f"{sum(r['seconds'] for r in runs):.0f} s)", flush=True)
        result["tasks"][name] = task
    ratios = {}
    for lr in LRS:
        key = f"{lr:g}"
        ratios[key] = max(t["by_lr"][key]["eval_mae"] / min(v["eval_mae"] for v in t["by_lr"].values())
                          for t in result["tasks"].values())
    result["worst_ratio_to_best_lr"] = ratios
    print("worst eval MAE over the tasks, as a ratio to the best learning rate's:",
          ", ".join(f"lr {k}: {v:.3f}" for k, v in ratios.items()))
    print("wrote", save("finetune" + ("_quick" if args.quick else ""), result))


if __name__ == "__main__":
    main()
