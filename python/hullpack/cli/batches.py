"""``hullpack batches``: how well hullpack's samplers batch items of given sizes (one epoch's
statistics)."""
from __future__ import annotations

import argparse
import json
import re
import warnings

from .common import CommandError, input_file

NAME = "batches"
HELP = "how well the samplers batch items of given sizes (one epoch's stats)"
DESCRIPTION = ("Batch the items of SIZES (.npy, .csv or whitespace-separated text: one item a row, one column "
               "per size; a header line's row-label columns, such as the index pandas writes or an id column, are left "
               "out) with a hullpack sampler and print the epoch's quality: batch count, peak and mean "
               "cost, lower bound.")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sizes", help="file of item sizes")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--batch-size", type=int, help="BalancedBatchSampler with this batch size")
    how.add_argument("--max-cost", type=float, nargs="+", help="PackedBatchSampler with this budget "
                     "(one value, or one per size column)")
    p.add_argument("--num-replicas", type=int, help="DistributedBalancedBatchSampler over this many ranks")
    p.add_argument("--rank", type=int, default=0, help="with --num-replicas: the rank whose batches are "
                   "described (default 0); global_* and lower_bound are the whole epoch's")
    p.add_argument("--weights", type=float, nargs="+", help="cost = sizes @ weights + bias")
    p.add_argument("--bias", type=float, help="per-item cost added to sizes @ weights")
    p.add_argument("--oversize", choices=("error", "alone", "skip"), default="error",
                   help="items that cost more than --max-cost: stop (error), a batch of their own (alone), "
                        "or leave them out (skip)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epoch", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON")


#: header names of a column that labels the rows rather than sizing them: the index pandas writes
#: with ``to_csv()`` (an empty name; "Unnamed: 0" once read back and written again) and id columns
ROW_LABELS = ("", "unnamed: 0", "index", "id", "idx")


def read_sizes(path: str):
    """Item sizes from a .npy, .csv or whitespace-separated text file (a first line of column
    names is skipped, and the columns it names as row labels, :data:`ROW_LABELS`, are left out
    with a warning); CommandError if unreadable."""
    import numpy as np

    input_file(path, "sizes file")
    try:
        if path.endswith(".npy"):
            return np.load(path, allow_pickle=False)
        delimiter = "," if path.endswith(".csv") else None
        names = _header(path, delimiter)
        keep = None
        if names is not None:
            labels = [i for i, name in enumerate(names) if name.strip().strip('"').lower() in ROW_LABELS]
            if labels:
                keep = [i for i in range(len(names)) if i not in labels]
                listed = ", ".join(repr(names[i]) for i in labels)
                if not keep:
                    raise CommandError(f"{path!r}: no column of sizes, only row labels ({listed})")
                warnings.warn(f"{path}: left out the column(s) {listed}: row labels (such as the index that "
                              "pandas' to_csv writes), not sizes; the sizes are the column(s) "
                              + ", ".join(repr(names[i]) for i in keep), stacklevel=2)
        return np.loadtxt(path, delimiter=delimiter, ndmin=1, skiprows=0 if names is None else 1, usecols=keep)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read sizes from {path!r}: {exc}") from None


def _header(path: str, delimiter: str | None) -> list[str] | None:
    """The column names of the file's first line if it holds a word that is not a number, else
    None."""
    with open(path, encoding="utf-8") as f:
        first = f.readline().rstrip("\r\n")
    tokens = first.split(delimiter)
    try:
        [float(token) for token in tokens if token.strip()]
    except ValueError:
        return tokens
    return None


def as_options(message: str) -> str:
    """A sampler's message with its Python arguments written as this command's options.

    >>> as_options("raise max_cost, or pass oversize='alone' (own batch)")
    'raise --max-cost, or pass --oversize alone (own batch)'
    """
    message = re.sub(r"oversize='(\w+)'", r"--oversize \1", message)
    return re.sub(r"\bmax_cost\b", "--max-cost", message)


def _sampler(args: argparse.Namespace, sizes, balanced: bool):
    from hullpack import samplers
    from hullpack.errors import OversizeItemError

    common = dict(seed=args.seed, weights=args.weights, bias=args.bias)
    max_cost = args.max_cost[0] if args.max_cost and len(args.max_cost) == 1 else args.max_cost
    try:
        if args.num_replicas is not None:
            sampler = samplers.DistributedBalancedBatchSampler(
                sizes, args.batch_size, max_cost, num_replicas=args.num_replicas, rank=args.rank,
                oversize=args.oversize, **common)
        elif balanced:
            sampler = samplers.BalancedBatchSampler(sizes, args.batch_size, **common)
        else:
            sampler = samplers.PackedBatchSampler(sizes, max_cost, oversize=args.oversize, **common)
    except OversizeItemError as exc:
        # the library's advice is Python (oversize='alone'); say it as the options of this command
        raise CommandError(as_options(str(exc))) from None
    return sampler


def run(args: argparse.Namespace) -> int:
    import numpy as np

    if args.rank and args.num_replicas is None:
        raise CommandError("--rank picks one of --num-replicas ranks: give --num-replicas too")
    sizes = read_sizes(args.sizes)
    balanced = args.batch_size is not None  # --batch-size 0 is a batch size (and refused), not "unset"
    with warnings.catch_warnings(record=True) as caught:  # warned again below in this command's terms
        warnings.simplefilter("always")
        sampler = _sampler(args, sizes, balanced)
    for w in caught:
        warnings.warn(as_options(str(w.message)), w.category, stacklevel=1)
    sampler.set_epoch(args.epoch)
    stats = sampler.stats()
    if balanced and args.num_replicas is None:
        # The anchor users compare with: random batches of the same size and count.
        costs = sampler.costs[np.random.default_rng([args.seed, args.epoch]).permutation(sampler.costs.size)]
        stats["random_batching_peak_cost"] = float(max(c.sum() for c in np.array_split(costs, len(sampler))))
    if args.json:
        print(json.dumps(stats))
    else:
        if args.num_replicas is not None:
            print(f"rank {stats['rank']} of {stats['num_replicas']}: num_batches, num_items, peak_cost and mean_cost "
                  "are this rank's; global_* and lower_bound are the whole epoch's, all ranks together")
        width = max(map(len, stats))
        for key, value in stats.items():
            print(f"{key:>{width}}: {value:.6g}" if isinstance(value, float) else f"{key:>{width}}: {value}")
        # lower_bound is a cost for balanced batches and a count of batches for packed ones: say which
        if args.num_replicas is None:
            print(f"{'':>{width}}  (lower_bound: "
                  + ("no split into this many batches has a lower peak cost)" if balanced else
                     "no packing within --max-cost needs fewer batches)"))
    return 0
