"""``hullpack batches``: how well hullpack's samplers batch items of given sizes (one epoch's
statistics)."""
from __future__ import annotations

import argparse
import json
import re
import warnings
from typing import TYPE_CHECKING

from .common import CommandError, input_file

if TYPE_CHECKING:  # pragma: no cover
    from ..samplers._base import PlanBatchSampler

NAME = "batches"
HELP = "how well the samplers batch items of given sizes (one epoch's stats)"
DESCRIPTION = ("Batch the items of SIZES (.npy, a table: CSV, TSV, Parquet, JSON, or whitespace-separated "
               "numbers: one item a row, one column per size; a table's row labels, such as the index pandas "
               "writes or an id column, and its text columns are left out, or --columns names the size columns) "
               "with a hullpack sampler and print the epoch's quality: batch count, peak and mean cost, lower bound.")
EXAMPLES = ("hullpack batches sizes.npy --batch-size 32",
            "hullpack batches graphs.csv --columns num_nodes num_edges --max-cost 4000 20000",
            "hullpack batches sizes.npy --batch-size 32 --num-replicas 4 --rank 1 --json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sizes", metavar="SIZES", help="file of item sizes")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--batch-size", type=int, help="BalancedBatchSampler with this batch size")
    how.add_argument("--max-cost", type=float, nargs="+", help="PackedBatchSampler with this budget "
                     "(one value, or one per size column)")
    p.add_argument("--num-replicas", type=int, help="DistributedBalancedBatchSampler over this many ranks")
    p.add_argument("--rank", type=int, default=0, help="with --num-replicas: the rank whose batches are "
                   "described (default 0); global_* and lower_bound are the whole epoch's")
    p.add_argument("--columns", nargs="+", metavar="NAME", help="of a table: the columns of sizes (default: every "
                   "column of numbers but row labels such as an index or an id)")
    p.add_argument("--weights", type=float, nargs="+", help="cost = sizes @ weights + bias")
    p.add_argument("--bias", type=float, help="per-item cost added to sizes @ weights")
    p.add_argument("--oversize", choices=("error", "alone", "skip"), default="error",
                   help="items that cost more than --max-cost: stop (error), a batch of their own (alone), "
                        "or leave them out (skip)")
    p.add_argument("--seed", type=int, default=0, help="the sampler's seed: the same seed and epoch, the same batches")
    p.add_argument("--epoch", type=int, default=0, help="the epoch described (set_epoch)")
    p.add_argument("--json", action="store_true", help="print JSON")


#: header names of a column that labels the rows rather than sizing them: the index pandas writes
#: with ``to_csv()`` (an empty name; "Unnamed: 0" once read back), and ids (``id``, ``graph_id``,
#: ``index``, ``idx``)
ROW_LABEL = re.compile(r"(unnamed: \d+|(.*[_ .-])?(id|idx|index))?", re.IGNORECASE)


def read_sizes(path: str, columns: list[str] | None = None):
    """Item sizes, one row an item, from a .npy file, a table (CSV, TSV, Parquet, JSON, JSON lines:
    :func:`hullpack.columns.read_table`) or whitespace-separated numbers, each with or without a
    header line of column names. Of a table with column names, the ``columns`` named, else every
    column of numbers whose name does not mark a row label (:data:`ROW_LABEL`): row labels and text
    columns (ids, formulas) are left out with a warning. CommandError if unreadable."""
    import numpy as np
    import pandas as pd

    from ..columns import TABLE_SUFFIXES, read_table

    input_file(path, "sizes file")
    lower = path.lower()
    try:
        if lower.endswith(".npy"):
            sizes = np.load(path, allow_pickle=False)
        elif (delimiter := _text_table_delimiter(lower)) is not None and not _has_header(path, delimiter):
            sizes = np.loadtxt(path, delimiter=delimiter, ndmin=1)  # numbers only: no header row to take
        elif lower.endswith(TABLE_SUFFIXES):
            return _named_sizes(path, read_table(path), columns)
        elif _has_header(path, None):  # whitespace-separated, with column names
            return _named_sizes(path, pd.read_csv(path, sep=r"\s+"), columns)
        else:
            sizes = np.loadtxt(path, ndmin=1)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read sizes from {path!r}: {exc}") from None
    if columns:
        raise CommandError(f"--columns names columns of a table with a header line; {path!r} has none")
    return sizes


def _text_table_delimiter(lower: str) -> str | None:
    """The delimiter of a CSV or TSV file name (also .gz or .bz2), else None."""
    name = lower.removesuffix(".gz").removesuffix(".bz2")
    return "," if name.endswith(".csv") else "\t" if name.endswith(".tsv") else None


def _has_header(path: str, delimiter: str | None) -> bool:
    """Whether the file's first line holds a word that is not a number (column names)."""
    from ..columns import _open

    with _open(path, "rt", encoding="utf-8", errors="replace") as f:
        tokens = f.readline().strip().split(delimiter)
    try:
        [float(token) for token in tokens if token.strip()]
    except ValueError:
        return True
    return False


def _named_sizes(path: str, table, columns: list[str] | None):
    """The size columns of a table with column names (see :func:`read_sizes`)."""
    import numpy as np
    import pandas as pd

    names = [str(c) for c in table.columns]
    table.columns = names
    if columns:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise CommandError(f"{path!r} has no column {unknown[0]!r}; its columns: {', '.join(map(repr, names))}")
        keep = list(columns)
        numbers = {c: pd.to_numeric(table[c], errors="coerce") for c in keep}  # NaN where a cell is no number
    else:
        numbers = {c: pd.to_numeric(table[c], errors="coerce") for c in names}  # every column: which are text?
        labels = [c for c in names if ROW_LABEL.fullmatch(c.strip())]
        text = [c for c in names if c not in labels and (pd.api.types.is_bool_dtype(table[c]) or
                                                         numbers[c].isna().all())]
        keep = [c for c in names if c not in labels and c not in text]
        if not keep:
            only = " and ".join(f"{kind} ({', '.join(map(repr, cols))})" for kind, cols in
                                (("row labels", labels), ("text", text)) if cols)
            raise CommandError(f"cannot read sizes from {path!r}: no column of sizes, only {only}; name the size "
                               "columns with --columns")
        left = [f"{c!r} (a row label)" for c in labels] + [f"{c!r} (text)" for c in text]
        if left:
            warnings.warn(f"{path}: left out the column(s) {', '.join(left)}: row labels (such as the index that "
                          "pandas' to_csv writes, or an id) and text, not sizes; the sizes are the column(s) "
                          + ", ".join(map(repr, keep)) + " (--columns names others)", stacklevel=3)
    for c in keep:  # a column of sizes with a word or an empty cell in it: name the cell
        bad = numbers[c].isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            cell = table[c].iloc[row]
            what = (f": {cell!r} is not a number" if pd.notna(cell) else
                    " is missing (an empty cell or NaN); fill it in or drop the row")
            raise CommandError(f"{path!r}: column {c!r}, row {row + 1}{what}")
    return np.column_stack([numbers[c].to_numpy(dtype=float) for c in keep])


def as_options(message: str) -> str:
    """A sampler's message with its Python arguments written as this command's options.

    >>> as_options("raise max_cost, or pass oversize='alone' (own batch)")
    'raise --max-cost, or pass --oversize alone (own batch)'
    >>> as_options("rank = 4 must be < num_replicas = 4 (ranks are 0 .. 3)")
    '--rank 4 must be < --num-replicas 4 (ranks are 0 .. 3)'
    """
    message = re.sub(r"oversize='(\w+)'", r"--oversize \1", message)
    message = re.sub(r"\b(batch_size|max_cost|num_replicas|rank|epoch|seed) = ",
                     lambda m: f"--{m[1].replace('_', '-')} ", message)
    return re.sub(r"\bmax_cost\b", "--max-cost", message)


def _sampler(args: argparse.Namespace, sizes, balanced: bool):
    from hullpack import samplers
    from hullpack.errors import OversizeItemError

    common = dict(seed=args.seed, weights=args.weights, bias=args.bias)
    max_cost = args.max_cost[0] if args.max_cost and len(args.max_cost) == 1 else args.max_cost
    sampler: PlanBatchSampler
    try:
        if args.num_replicas is not None:
            sampler = samplers.DistributedBalancedBatchSampler(
                sizes, args.batch_size, max_cost, num_replicas=args.num_replicas, rank=args.rank,
                oversize=args.oversize, **common)
        elif balanced:
            sampler = samplers.BalancedBatchSampler(sizes, args.batch_size, **common)
        else:
            sampler = samplers.PackedBatchSampler(sizes, max_cost, oversize=args.oversize, **common)
    except (OversizeItemError, ValueError) as exc:
        # the library names its parameters (batch_size = 0) and advises in Python (oversize='alone'):
        # say it with the options of this command
        raise CommandError(as_options(str(exc))) from None
    return sampler


def random_batching_peak(sampler, balanced: bool, seed: int, epoch: int) -> float | list[float]:
    """The anchor users compare with: the peak cost of the epoch's items in random order, cut into
    as many batches of (nearly) equal count; one peak per budget column of a packed sampler."""
    import numpy as np

    rng = np.random.default_rng([seed, epoch])
    if balanced:
        costs = sampler.costs[rng.permutation(sampler.costs.size)]
        return float(max(c.sum() for c in np.array_split(costs, len(sampler))))
    items = rng.permutation(np.concatenate([np.asarray(b, np.int64) for b in sampler]))
    counts = [len(part) for part in np.array_split(items, len(sampler))]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    peak = sampler.budget.batch_costs(offsets, items).max(axis=0)
    return float(peak) if np.ndim(peak) == 0 else [float(p) for p in peak]


def _shown(value) -> str:
    """A statistic as printed: floats to 6 significant digits, alone or in a list (one per budget column).

    >>> _shown(787.8205128205128), _shown([393.9102564102564, 798.0]), _shown(63)
    ('787.821', '[393.91, 798]', '63')
    """
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return f"[{', '.join(map(_shown, value))}]"
    return str(value)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    if args.rank and args.num_replicas is None:
        raise CommandError("--rank picks one of --num-replicas ranks: give --num-replicas too")
    sizes = read_sizes(args.sizes, args.columns)
    balanced = args.batch_size is not None  # --batch-size 0 is a batch size (and refused), not "unset"
    with warnings.catch_warnings(record=True) as caught:  # warned again below in this command's terms
        warnings.simplefilter("always")
        sampler = _sampler(args, sizes, balanced)
    for w in caught:
        warnings.warn(as_options(str(w.message)), w.category, stacklevel=1)
    try:
        sampler.set_epoch(args.epoch)
    except ValueError as exc:  # epoch = -1: --epoch -1
        raise CommandError(as_options(str(exc))) from None
    stats = sampler.stats()
    if args.num_replicas is None and len(sampler):  # (--oversize skip may leave no batch)
        stats["random_batching_peak_cost"] = random_batching_peak(sampler, balanced, args.seed, args.epoch)
    if args.json:
        print(json.dumps(stats))
    else:
        if args.num_replicas is not None:
            print(f"rank {stats['rank']} of {stats['num_replicas']}: num_batches, num_items, peak_cost and mean_cost "
                  "are this rank's; global_* and lower_bound are the whole epoch's, all ranks together")
        width = max(map(len, stats))
        for key, value in stats.items():
            print(f"{key:>{width}}: {_shown(value)}")
        # lower_bound is a cost for balanced batches and a count of batches for packed ones: say which
        if args.num_replicas is None:
            print(f"{'':>{width}}  (lower_bound: "
                  + ("no split into this many batches has a lower peak cost)" if balanced else
                     "no packing within --max-cost needs fewer batches)"))
        if "random_batching_peak_cost" in stats:  # the comparison users make, in words
            randomly, peak = (np.atleast_1d(stats[k]).astype(float) for k in ("random_batching_peak_cost", "peak_cost"))
            if (peak > 0).all():
                above = " and ".join(f"{r / p - 1:.0%}" for r, p in zip(randomly, peak))
                print(f"{'':>{width}}  (random_batching_peak_cost: the heaviest of as many batches of items in random "
                      f"order, {above} above peak_cost)")
    return 0
