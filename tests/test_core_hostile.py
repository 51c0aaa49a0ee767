"""Hostile input to the compiled core and its wrappers: every call either returns the documented
answer or raises an error naming the bad argument; nothing crashes, nothing is silently converted.

The memory tests run the call in a child process under an address-space limit, so that an
allocation inside an OpenMP region (which would end the process) shows as a failed child.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from hullpack import _core, compositions, hull, packing, packing_runs
from hullpack.compositions import first_layer, first_layer_pairs, line_layers, line_weight_tiles
from hullpack.errors import HullInputError, InvalidInputError, ScreeningError

WT = np.ones((86, 4), np.float32)
B = np.zeros(4, np.float32)
TABLE = compositions.systems(2, "Fe Ni O")
GRID = compositions.uniform_grid(2, 4)


# ---------------------------------------------------------------------------------------------
# Floating-point overflow in packing (UBSan: float-cast-overflow before the fix)
# ---------------------------------------------------------------------------------------------

def test_pack_sizes_summing_past_the_double_range():
    # 1e308 + 1e308 overflows to inf: each item needs a bin of its own, and the bin-count guess
    # (1.25 x the volume bound) must not be cast from inf to an integer.
    assert [b.tolist() if isinstance(b, np.ndarray) else b for b in packing.pack([1e308, 1e308], 1.7e308)] \
        == [[0, 1], 2]
    for method in ("ffd", "bfd", "auto"):
        bins, n = packing.pack([1e308, 1e308, 1.0], 1.7e308, method=method)
        assert n == 2 and bins[0] != bins[1]
    bins, n = packing.pack([[1e308, 1.0], [1e308, 1.0]], [1.7e308, 10.0])
    assert (bins.tolist(), n) == ([0, 1], 2)
    assert packing.lower_bound([1e308] * 4, capacity=1.7e308) == 4.0
    assert packing.lower_bound([1e308] * 4, n_batches=2) == math.inf  # 2e308 per batch


def test_lower_bound_balance_overflowing_double_is_inf():
    assert packing.lower_bound([1.5e308, 1.5e308, 1.5e308], n_batches=1) == math.inf


# ---------------------------------------------------------------------------------------------
# Values the packing kernels would take silently: NaN, negative, oversize
# ---------------------------------------------------------------------------------------------

TERMS_PADDED = np.array([0, 1, 0, 0, 0, 0], np.float64)  # count x longest


@pytest.mark.parametrize("bad, what", [(math.nan, "is not finite \\(nan\\)"), (math.inf, "is not finite \\(inf\\)"),
                                       (-3.0, "is negative \\(-3\\)")])
def test_core_run_costs_refuses_lengths_it_would_leave_out_of_the_price(bad, what):
    # [5, nan] was priced 2 x 5 = 10: the longest item sets the price, and NaN never compares longer.
    bins = np.zeros(3, np.int64)
    with pytest.raises(ValueError, match=rf"^lengths\[1\] {what}$"):
        _core.run_costs(np.array([5.0, bad, 1.0]), bins, 1, TERMS_PADDED)
    assert _core.run_costs(np.array([5.0, 0.0, 1.0]), bins, 1, TERMS_PADDED).tolist() == [15.0]


@pytest.mark.parametrize("costs, where", [
    (np.array([1.0, math.nan, 2.0]), r"^costs\[1\] is not finite \(nan\)$"),
    (np.array([1.0, 2.0, -0.5]), r"^costs\[2\] is negative \(-0.5\)$"),
    (np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 0.0]]), r"^costs\[1, 1\] is negative \(-1\)$"),
])
def test_core_batch_costs_refuses_non_finite_and_negative_costs(costs, where):
    with pytest.raises(ValueError, match=where):
        _core.batch_costs(costs, np.array([0, 0, 1], np.int64), 2)


def test_core_lower_bound_pack_refuses_an_item_larger_than_the_capacity():
    # It was 2.0 for [1, 5] in bins of 3, though no number of bins holds item 1.
    with pytest.raises(ValueError, match=r"^sizes\[1\] = 5 exceeds the capacity 3: the item fits no bin$"):
        _core.lower_bound_pack(np.array([1.0, 5.0]), np.array([3.0]))
    with pytest.raises(ValueError, match=r"^sizes\[0, 1\] = 9 exceeds the capacity 8"):
        _core.lower_bound_pack(np.array([[1.0, 9.0], [1.0, 1.0]]), np.array([8.0, 8.0]))
    assert _core.lower_bound_pack(np.array([1.0, 3.0, 3.0]), np.array([3.0])) == 3.0  # at the capacity: fits


# ---------------------------------------------------------------------------------------------
# Integers: no wrapping, no truncation, no bools, no inf
# ---------------------------------------------------------------------------------------------

def test_int64_system_indices_do_not_wrap_modulo_2_to_32():
    wrapped = TABLE.astype(np.int64) + 2**32
    with pytest.raises(InvalidInputError, match=r"system_table\[0, 0\] = 4294967\d+ is out of range"):
        first_layer(wrapped, GRID, WT, B)
    with pytest.raises(InvalidInputError, match=r"system_table"):
        first_layer_pairs(wrapped, GRID, [0], [0], WT, B)
    with pytest.raises(InvalidInputError, match=r"grid\[0, 0\]"):
        first_layer(TABLE, GRID.astype(np.int64) + 2**32, WT, B)
    with pytest.raises(InvalidInputError, match=r"system_table"):
        line_layers(wrapped, GRID, WT, B, line_weight_tiles(np.ones((2, 4), np.float32)), np.zeros(2, np.float32))


def test_pair_indices_beyond_int64_are_rejected_by_name():
    with pytest.raises(InvalidInputError, match=r"systems_idx"):
        first_layer_pairs(TABLE, GRID, np.array([2**64 - 1], np.uint64), [0], WT, B)
    with pytest.raises(InvalidInputError, match=r"points_idx"):
        first_layer_pairs(TABLE, GRID, [0], [2**70], WT, B)


@pytest.mark.parametrize("call, name", [
    (lambda: compositions.systems(2, [10.9, 22.1]), "elements"),
    (lambda: compositions.systems(2, np.array([10.5, 22.0])), "elements"),
    (lambda: first_layer(TABLE + 0.5, GRID, WT, B), "system_table"),
    (lambda: first_layer(TABLE, GRID + 0.5, WT, B), "grid"),
    (lambda: first_layer_pairs(TABLE, GRID, [0.5], [0], WT, B), "systems_idx"),
    (lambda: first_layer_pairs(TABLE, GRID, [0], [1.5], WT, B), "points_idx"),
    (lambda: hull.hull_batch(np.full((3, 2), 0.5), np.zeros(3), offsets=[0, 2.9, 3]), "offsets"),
    (lambda: packing.batch_costs([1.0, 2.0], [0.0, 1.5], 2), "bin_of_item"),
    (lambda: packing.pack([1.0, 2.0], 4.0, order=[0.0, 1.0]), "order"),      # packing wants integer dtypes
])
def test_non_integer_values_for_integer_arrays_are_rejected(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_integral_floats_are_exact_and_accepted():
    assert compositions.systems(2, [10.0, 22.0]).tolist() == [[10, 22]]
    b = hull.hull_batch(np.full((3, 2), 0.5), np.array([-1.0, -1.0, -2.0]), offsets=np.array([0.0, 2.0, 3.0]))
    assert b.n_vertices.tolist() == [1, 1]


@pytest.mark.parametrize("call, name", [
    (lambda: hull.hull_batch(np.full((2, 2), 0.5), np.zeros(2), offsets=[True, True]), "offsets"),
    (lambda: first_layer(TABLE.astype(bool), GRID, WT, B), "system_table"),
    (lambda: first_layer(TABLE, GRID > 0, WT, B), "grid"),
    (lambda: first_layer_pairs(TABLE, GRID, [True], [0], WT, B), "systems_idx"),
    (lambda: compositions.systems(2, [True, False]), "elements"),
    (lambda: compositions.systems(2, [np.True_, 3]), "elements"),
])
def test_bool_arrays_are_not_integers(call, name):
    with pytest.raises(ValueError, match=name):
        call()


BOOLS = [True, np.True_, np.bool_(False)]


@pytest.mark.parametrize("flag", BOOLS, ids=["True", "np.True_", "np.False_"])
@pytest.mark.parametrize("call, name", [
    (lambda v: _core.balance(np.ones(6), v, 3), "n_batches"),
    (lambda v: _core.balance(np.ones(6), 2, v), "batch_size"),
    (lambda v: _core.lower_bound_balance(np.ones(6), v), "n_batches"),
    (lambda v: _core.batch_costs(np.ones(2), np.zeros(2, np.int64), v), "n_bins"),
    (lambda v: _core.group(np.zeros(2, np.int64), v), "n_bins"),
    (lambda v: _core.uniform_grid(2, v), "n"),
    (lambda v: _core.uniform_grid(v, 4), "order"),
    (lambda v: _core.uniform_grid(2, 4, v), "min_elements"),
    (lambda v: _core.reduced_grid(2, v), "max_denominator"),
    (lambda v: _core.systems(np.arange(4, dtype=np.int32), v), "order"),
    (lambda v: _core.hull_batch(np.full((1, 2), 0.5), np.zeros(1), np.array([0, 1]), n_threads=v), "n_threads"),
    (lambda v: _core.hull_batch(np.full((1, 2), 0.5), np.zeros(1), np.array([0, 1]), tol=v), "tol"),
    (lambda v: _core.first_layer(TABLE, GRID, WT, B, v, 1, np.zeros((1, 4), np.float32)), "start"),
    (lambda v: _core.first_layer(TABLE, GRID, WT, B, 0, v, np.zeros((1, 4), np.float32)), "count"),
    (lambda v: _core.first_layer(TABLE, GRID, WT, B, 0, 1, np.zeros((1, 4), np.float32), v), "n_threads"),
    (lambda v: packing.balance(np.ones(6), v, 6), "n_batches"),
    (lambda v: packing.balance(np.ones(6), 1, v), "batch_size"),
    (lambda v: packing.group([0, 0], v), "n_bins"),
    (lambda v: packing.batch_costs([1.0, 1.0], [0, 0], v), "n_bins"),
    (lambda v: packing.lower_bound([1.0, 2.0], n_batches=v), "n_batches"),
    (lambda v: compositions.uniform_grid(2, v), "n"),
    (lambda v: compositions.uniform_grid(v, 2), "order"),
    (lambda v: compositions.reduced_grid(2, v), "max_denominator"),
    (lambda v: first_layer(TABLE, GRID, WT, B, v, 1), "start"),
    (lambda v: first_layer(TABLE, GRID, WT, B, 0, v), "count"),
    (lambda v: first_layer(TABLE, GRID, WT, B, threads=v), "threads"),
    (lambda v: hull.hull_batch(np.full((1, 2), 0.5), np.zeros((1, 1)), threads=v), "threads"),
    (lambda v: hull.hull_batch(np.full((1, 2), 0.5), np.zeros((1, 1)), tol=v), "tol"),
])
def test_bools_are_not_integers_or_numbers(call, name, flag):
    with pytest.raises(ValueError, match=name):
        call(flag)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan, 2.5, 2**64, -2**64, "3"])
@pytest.mark.parametrize("call, name", [
    (lambda v: compositions.uniform_grid(2, v), "n"),
    (lambda v: compositions.reduced_grid(3, v), "max_denominator"),
    (lambda v: compositions.systems(2, [1, v]), "elements"),
    (lambda v: first_layer(TABLE, GRID, WT, B, v, 1), "start"),
    (lambda v: first_layer(TABLE, GRID, WT, B, 0, v), "count"),
    (lambda v: first_layer(TABLE, GRID, WT, B, threads=v), "threads"),
    (lambda v: first_layer_pairs(TABLE, GRID, [0], [0], WT, B, threads=v), "threads"),
    (lambda v: line_layers(TABLE, GRID, WT, B, line_weight_tiles(np.ones((2, 4), np.float32)),
                           np.zeros(2, np.float32), 0, v), "count"),
    (lambda v: hull.hull_batch(np.full((1, 2), 0.5), np.zeros((1, 1)), threads=v), "threads"),
    (lambda v: packing.balance(np.ones(6), v, 6), "n_batches"),
    (lambda v: packing.group([0, 0], v), "n_bins"),
])
def test_bad_numbers_for_integer_arguments_raise_value_errors(call, name, value):
    # never OverflowError, TypeError from deep inside, or a truncated value
    with pytest.raises(ValueError, match=name):
        call(value)


def test_out_must_be_an_array():
    for out in (0, "buffer", [[0.0] * 4] * 2):
        with pytest.raises(InvalidInputError, match="out: expected a numpy array"):
            first_layer(TABLE, GRID, WT, B, 0, 2, out=out)
        with pytest.raises(InvalidInputError, match="out: expected a numpy array"):
            first_layer_pairs(TABLE, GRID, [0], [0], WT, B, out=out)
        with pytest.raises(InvalidInputError, match="out: expected a numpy array"):
            line_layers(TABLE, GRID, WT, B, line_weight_tiles(np.ones((2, 4), np.float32)),
                        np.zeros(2, np.float32), out=out)


@pytest.mark.parametrize("call", [
    lambda: first_layer(TABLE, GRID, WT, B, 0, 2**33),
    lambda: first_layer(TABLE, GRID, WT, B, 2**40),
    lambda: line_layers(TABLE, GRID, WT, B, line_weight_tiles(np.ones((2, 4), np.float32)),
                        np.zeros(2, np.float32), 0, 2**33),
])
def test_count_is_checked_before_anything_is_allocated(call):
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInputError, match=r"(count|start) = .* must lie in"):
            call()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


def test_flags_are_bools():
    with pytest.raises(ValueError, match="refine"):
        packing.balance(np.ones(4), 2, 2, refine="no")
    with pytest.raises(ValueError, match="decomposition"):
        hull.hull_batch(np.full((1, 2), 0.5), np.zeros((1, 1)), decomposition="no")
    with pytest.raises(ValueError, match="progress_bar: expected True or False, got 'yes'"):  # was taken as true
        hull.hull_batch(np.full((1, 2), 0.5), np.zeros((1, 1)), progress_bar="yes")
    # numpy bools are fine where a flag is meant
    assert packing.balance(np.ones(4), 2, 2, refine=np.False_).tolist() == [0, 1, 0, 1]
    b = _core.hull_batch(np.full((1, 2), 0.5), np.zeros(1), np.array([0, 1]), decomposition=np.False_)
    assert "decomp_index" not in b


def test_core_tol_takes_real_numbers_only():
    f, e, o = np.full((1, 2), 0.5), np.array([-1.0]), np.array([0, 1])
    assert _core.hull_batch(f, e, o, tol=0)["n_vertices"].tolist() == [1]
    assert _core.hull_batch(f, e, o, tol=np.float64(1e-9))["n_vertices"].tolist() == [1]
    assert hull.hull_batch(f, e, o, tol=np.float32(1e-9)).n_vertices.tolist() == [1]
    for bad in ("1e-9", None, [1e-9]):
        with pytest.raises(ValueError, match="tol"):
            _core.hull_batch(f, e, o, tol=bad)


# ---------------------------------------------------------------------------------------------
# The CUDA entry point refuses malformed array interfaces without touching memory
# ---------------------------------------------------------------------------------------------

class _Fake:
    def __init__(self, **cai):
        self.__cuda_array_interface__ = cai


@pytest.mark.skipif(not _core.with_cuda, reason="the CUDA entry point is built only with CUDA")
@pytest.mark.parametrize("cai, match", [
    (dict(shape=[1, 2], typestr="<i4", data=(0, False), version=3), "shape"),
    (dict(shape=(1, 2), typestr="<i4", data=[0, False], version=3), "data"),
    (dict(shape=(1, 2), typestr="<i4", data=(0, False), strides=[8, 4], version=3), "strides"),
    (dict(shape=(1, 2.0), typestr="<i4", data=(0, False), version=3), "systems"),
    (dict(shape=(1, -2), typestr="<i4", data=(0, False), version=3), "systems"),
    (dict(shape=(2**62, 2**62), typestr="<i4", data=(0, False), version=3), "systems"),
])
def test_cuda_array_interface_garbage(cai, match):
    good = [np.zeros((1, 2), np.int32), np.ones((1, 2), np.int32), np.zeros((86, 4), np.float32),
            np.zeros(4, np.float32), np.zeros((1, 4), np.float32)]
    with pytest.raises(ValueError, match=match):
        _core.first_layer_cuda(_Fake(**cai), *good[1:4], 0, 1, good[4])


# ---------------------------------------------------------------------------------------------
# Layering: the composition helpers raise a general input error, not the screening one
# ---------------------------------------------------------------------------------------------

def test_composition_errors_are_input_errors_not_screening_errors():
    with pytest.raises(InvalidInputError, match="elements: unknown element.*'Xx'") as info:
        compositions.systems(2, ["Fe", "Xx"])
    assert not isinstance(info.value, ScreeningError) and isinstance(info.value, ValueError)
    with pytest.raises(InvalidInputError, match="order must be 2 to 8.*got 9"):
        compositions.uniform_grid(9, 3)
    # every input error of hullpack is an InvalidInputError, and so a ValueError
    assert issubclass(ScreeningError, InvalidInputError) and issubclass(HullInputError, InvalidInputError)


def test_sources_use_no_compiler_specific_integer_types():
    csrc = Path(__file__).resolve().parents[1] / "csrc"
    if not csrc.is_dir():
        pytest.skip("no source tree")
    for path in csrc.rglob("*"):
        if path.suffix in (".cpp", ".hpp", ".cu", ".cuh"):
            assert "__int128" not in path.read_text(), path


# ---------------------------------------------------------------------------------------------
# Allocation failures inside the kernels raise MemoryError instead of ending the process
# ---------------------------------------------------------------------------------------------

_UNDER_LIMIT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import hullpack
    from hullpack import _core

    def vm_bytes():
        for line in open("/proc/self/status"):
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024

    {setup}
    resource.setrlimit(resource.RLIMIT_AS, (vm_bytes() + {margin}, resource.RLIM_INFINITY))
    try:
        {call}
    except MemoryError:
        print("MemoryError")
    else:
        print("no error")
""")


def _sanitized() -> bool:
    return "asan" in os.environ.get("LD_PRELOAD", "") or os.environ.get("HULLPACK_SANITIZE") == "1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and RLIMIT_AS")
@pytest.mark.skipif(_sanitized(), reason="AddressSanitizer reserves more address space than any limit allows")
@pytest.mark.parametrize("setup, margin, call", [
    # one ternary system of 1e6 points: its scratch (~210 MB) is allocated for the kernel
    ("f = np.full((1_000_000, 3), 1 / 3); e = np.zeros(1_000_000); o = np.array([0, 1_000_000])",
     100 << 20, "_core.hull_batch(f, e, o, decomposition=False, n_threads=1)"),
    # a first layer 50M wide: each thread's row (200 MB)
    ("wt = np.zeros((1, 50_000_000), np.float32); b = np.zeros(50_000_000, np.float32); "
     "out = np.zeros((1, 50_000_000), np.float32); out[:] = 1; t = np.array([[0, 0]], np.int32); "
     "g = np.array([[1, 1]], np.int32)",
     100 << 20, "_core.first_layer(t, g, wt, b, 0, 1, out, 1)"),
    # a line of 2M grid points: each thread's tile buffer (512 MB)
    ("g = np.stack([np.arange(1, 2_000_001), np.full(2_000_000, 7)], axis=1).astype(np.int32); "
     "t = np.array([[0, 1]], np.int32); wt = np.zeros((2, 1), np.float32); b = np.zeros(1, np.float32); "
     "tiles = np.zeros((1, 1, 64), np.float32); b2 = np.zeros(1, np.float32); "
     "out = np.zeros((2_000_000, 1), np.float32); out[:] = 1",
     350 << 20, "_core.line_layers(t, g, wt, b, tiles, b2, 0, 1, out, 1)"),
    # a layer 1M wide: each thread's buffers for 256 rows (about 1 GB)
    ("x = np.ones((1, 1), np.float32); tiles = np.zeros((15_625, 1, 64), np.float32); "
     "b = np.zeros(1_000_000, np.float32); out = np.zeros((1, 1_000_000), np.float32); out[:] = 1",
     350 << 20, "_core.relu_mlp(x, [(tiles, b)], out, 1)"),
], ids=["hull_batch", "first_layer", "line_layers", "relu_mlp"])
def test_allocation_failure_is_a_memory_error(setup, margin, call):
    code = _UNDER_LIMIT.format(setup=setup, margin=margin, call=call)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "MemoryError"



# ---------------------------------------------------------------------------------------------
# Costs whose sum overflows the double range (a crash in the child process before the fix)
# ---------------------------------------------------------------------------------------------

def _in_child(code: str) -> str:
    """stdout of ``code`` run in a child process, which must exit normally (a segfault shows here)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def test_balance_of_costs_summing_past_the_double_range():
    # The split by projected load laid its grid over the sum of the costs: inf, so its cell count
    # was a NaN cast to an integer (a segfault, or "cannot create std::vector larger than max_size()").
    out = _in_child("""
        import numpy as np
        from hullpack import _core, packing
        bins = packing.balance(np.array([1e308, 1e308, 1.0]), 2, 2)
        print(sorted(np.bincount(bins).tolist()), bins[0] != bins[1])
        print(np.bincount(_core.balance(np.full(10, 1e308), 5, 2)).tolist())
        print(np.bincount(_core.balance(np.full(10, 9e307), 3, 4)).tolist())
    """)
    assert out.split("\n")[:3] == ["[1, 2] True", "[2, 2, 2, 2, 2]", "[4, 3, 3]"]


def test_balanced_sampler_over_costs_summing_past_the_double_range():
    out = _in_child("""
        import numpy as np
        from hullpack.samplers import BalancedBatchSampler
        print(sorted(len(b) for b in BalancedBatchSampler(np.full(10, 1e308), batch_size=4, shuffle=False)))
    """)
    assert out.strip() == "[3, 3, 4]"


def test_auto_pack_of_several_dimensions_when_a_spread_load_overflows():
    # The spread set an item aside with a bin load of inf (1.7e308 + 1e307), and the next try's
    # bin count was int(inf): OverflowError. First fit's packing stands instead.
    sizes = np.array([[1.7e308, 1.0], [1e307, 1.7e308], [1.7e308, 1.0], [1e307, 1e307]])
    bins, n_bins = packing.pack(sizes, 1.7976931348623157e308, method="auto")
    assert n_bins == 4 and sorted(bins.tolist()) == [0, 1, 2, 3]


# ---------------------------------------------------------------------------------------------
# StabilityHulls: thread counts and element ids as the other kernels take them
# ---------------------------------------------------------------------------------------------

def _stability_hulls(**kw):
    return _core.StabilityHulls(np.array([0, 1, 2, 4]), np.array([0, 1, 0, 1], np.int32),
                                np.array([1.0, 1.0, 0.5, 0.5]), np.array([0.0, 0.0, -0.3]), **kw)


@pytest.mark.parametrize("n_threads", [-1, 2**32, 2**31, 4097])
def test_stability_hulls_thread_counts_are_not_truncated(n_threads):
    # They were cast to int unchecked: 2**32 ran as 0 (all cores), -1 as the default too.
    with pytest.raises(ValueError, match=rf"^n_threads must be in 0..4096 .*got {n_threads}$"):
        _stability_hulls(n_threads=n_threads)
    hulls = _stability_hulls()
    with pytest.raises(ValueError, match="n_threads"):
        hulls.query(np.array([0, 1]), np.array([0], np.int32), np.array([1.0]), np.array([0.0]), n_threads=n_threads)
    with pytest.raises(ValueError, match="n_threads"):
        hulls.query_entries(None, n_threads=n_threads)
    assert hulls.query_entries(None, n_threads=4096)["stable"].tolist() == [True, True, True]


def test_stability_hulls_knows_element_takes_integers_only():
    hulls = _stability_hulls()
    assert [hulls.knows_element(e) for e in (0, np.int64(1), 2, -1, 128, 2**40)] == [True, True, False, False,
                                                                                         False, False]
    for bad in (True, np.True_, 1.0, "1"):  # True was element 1
        with pytest.raises(ValueError, match="^element: expected an integer"):
            hulls.knows_element(bad)
    with pytest.raises(ValueError, match="^element = 2361183241434822606848 is out of range"):
        hulls.knows_element(2**71)


# ---------------------------------------------------------------------------------------------
# The wrappers' conversions: what numpy reads as a number though it is none
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    # numpy reads [True, -0.1] as [1.0, -0.1] and [0, True] as [0, 1]
    (lambda: hull.lower_hull([0.25, 0.5], [True, -0.1]), r"^energies\[0\] = True is not a number$"),
    (lambda: hull.lower_hull([[0.0, np.True_], [0.5, 0.5]], [-0.2, -0.1]), r"^fractions\[0, 1\] = np.True_ is not"),
    (lambda: hull.hull_batch([[0.5, 0.5]], [-0.1], [0, True]), r"^offsets\[1\] = True is not an integer$"),
    (lambda: packing.pack([1.0, 2.0], 3.0, order=[True, 0]), r"^order\[0\] = True is not an integer$"),
    (lambda: packing.batch_costs([1.0, 2.0], [0, True], 2), r"^bin_of_item\[1\] = True is not an integer$"),
    (lambda: packing.group([0, True], 2), r"^bin_of_item\[1\] = True is not an integer$"),
    (lambda: packing.pack([[1.0, 2.0]], [3.0, True]), r"^capacity\[1\] = True is not a number$"),
    (lambda: packing_runs.pack_runs([1.0, 2.0], 10.0, [True, 0, 0, 0, 0, 0]), r"^terms\[0\] = True is not a number$"),
    (lambda: first_layer_pairs(TABLE, GRID, [0, True], [0, 1], WT, B), r"^systems_idx\[1\] = True is not an integer$"),
    # numpy reads None among objects as NaN, and a string among objects as the number it spells
    (lambda: hull.lower_hull([0.25, 0.5], [None, -0.1]), r"^energies\[0\] is missing \(None\): expected a number$"),
    (lambda: hull.hull_batch([0.25, 0.5], [None, -0.1], [0, 2], nonfinite="nan"), r"^energies\[0\] is missing"),
    (lambda: hull.lower_hull(np.array([0.25, 0.5], object), np.array([-0.1, "-0.2"], object)),
     r"^energies\[1\] = '-0.2' is not a number$"),
])
def test_wrappers_do_not_read_bools_none_or_strings_as_numbers(call, message):
    with pytest.raises(InvalidInputError, match=message):
        call()


def test_wrappers_still_read_lists_and_objects_of_numbers():
    assert hull.lower_hull([0.25, 0.5], (np.float32(-0.1), -0.2)).e_above_hull.tolist() == [0.0, 0.0]
    assert hull.lower_hull(np.array([0.25, 0.5], object), np.array([-0.1, -0.3], object)).vertices.tolist() == [1]
    assert packing.pack([1.0, 2.0], 3, order=(1, 0))[1] == 1
    assert hull.hull_batch([[0.5, 0.5]], [-0.1], [0, 1.0]).n_vertices.tolist() == [1]
    assert hull.hull_batch([0.25, 0.5], [math.nan, -0.1], [0, 2], nonfinite="nan").valid.tolist() == [False]


def test_hist_names_a_capacity_below_one_not_the_sizes():
    # [0, 0] are integers: the histogram path refused the capacity, and the message blamed the sizes.
    with pytest.raises(InvalidInputError, match=r"capacity of 1 to 2\*\*20, got a capacity of 0.5;"):
        packing.pack([0.0, 0.0], 0.5, method="hist")
    with pytest.raises(InvalidInputError, match="got sizes that are not all integers"):
        packing.pack([0.5, 1.0], 4.0, method="hist")
    assert packing.pack([0.0, 0.0], 0.5)[1] == 1
