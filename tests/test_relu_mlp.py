"""compositions.relu_mlp: the fp32 layers of a ReLU network with zero activations skipped, and the
screening engine's fp32 path through it."""
from fractions import Fraction

import numpy as np
import pytest
import torch

from hullpack import _core
from hullpack.compositions import line_weight_tiles, relu_mlp, systems, uniform_grid
from hullpack.errors import InvalidInputError
from hullpack.screening.engine import InferenceEngine


def relu_net(widths, seed=0, sparse_inputs=0.7, rows=70):
    """Random layers of ``widths`` (inputs first) and ``rows`` ReLU-like inputs (``sparse_inputs``
    of them 0)."""
    rng = np.random.default_rng(seed)
    ws = [(rng.normal(size=(o, i)) / np.sqrt(i)).astype(np.float32) for i, o in zip(widths, widths[1:])]
    bs = [rng.normal(scale=0.3, size=o).astype(np.float32) for o in widths[1:]]
    x = rng.normal(size=(rows, widths[0])).astype(np.float32)
    x[rng.random(x.shape) < sparse_inputs] = 0.0
    return np.maximum(x, 0), ws, bs


def as_layers(ws, bs):
    return [(line_weight_tiles(w), b) for w, b in zip(ws, bs)]


def fma32(a, b, c):
    """float32 fma(a, b, c), rounded once: the product of two float32 is exact in float64 and the
    sum is rounded to float64 and then to float32, which is a single rounding except where the
    float64 sum is exactly halfway between two float32 values; those few are redone exactly."""
    s = a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)
    out = s.astype(np.float32)
    a, b, c = np.broadcast_arrays(a, b, c)
    normal = np.abs(s) >= 2.0 ** -126
    halfway = np.where(normal, (s.view(np.uint64) & np.uint64((1 << 29) - 1)) == np.uint64(1 << 28),
                       np.mod(np.abs(s) * 2.0 ** 150, 2) == 1)  # float32 denormals: steps of 2^-149
    for i in zip(*np.nonzero(halfway)):
        exact, rounded = Fraction(float(a[i])) * Fraction(float(b[i])) + Fraction(float(c[i])), Fraction(float(s[i]))
        if exact != rounded and (out[i] > s[i]) != (exact > rounded):  # the other float32 beside s
            out[i] = np.nextafter(out[i], np.float32(np.inf if exact > rounded else -np.inf))
    return out


def fma_chain(x, ws, bs):
    """The kernel's operations in numpy: per output, fma(x_k, w_k, acc) over every input k in
    ascending order from +0, then (acc + 0) + bias, a ReLU between layers."""
    h = x.astype(np.float32)
    for i, (w, b) in enumerate(zip(ws, bs)):
        acc = np.zeros((h.shape[0], w.shape[0]), np.float32)
        for k in range(w.shape[1]):
            acc = fma32(h[:, k:k + 1], w[None, :, k], acc)
        h = (acc + np.float32(0)) + b
        if i + 1 < len(ws):
            h = np.maximum(h, np.float32(0))
    return h


def test_equals_the_fma_chain_over_every_input():
    # widths that are not multiples of the 64-wide tiles, a last layer with several outputs
    x, ws, bs = relu_net([40, 100, 33, 70, 3])
    got = relu_mlp(x, as_layers(ws, bs))
    np.testing.assert_array_equal(got, fma_chain(x, ws, bs))
    ref = x.astype(np.float64)
    for i, (w, b) in enumerate(zip(ws, bs)):
        ref = ref @ w.T.astype(np.float64) + b
        ref = np.maximum(ref, 0) if i + 1 < len(ws) else ref
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_a_row_does_not_depend_on_the_other_rows_or_threads():
    x, ws, bs = relu_net([64, 128, 64, 1], seed=1, rows=1100)  # five groups of 256 rows: several threads
    layers = as_layers(ws, bs)
    whole = relu_mlp(x, layers, threads=2)
    perm = np.random.default_rng(2).permutation(len(x))
    np.testing.assert_array_equal(relu_mlp(x[perm], layers, threads=2), whole[perm])
    for threads in (1, 3):
        np.testing.assert_array_equal(relu_mlp(x, layers, threads=threads), whole)
    for rows in (slice(0, 1), slice(3, 8), slice(5, 700, 3)):  # blocks of other sizes and neighbours
        np.testing.assert_array_equal(relu_mlp(np.ascontiguousarray(x[rows]), layers), whole[rows])
    assert relu_mlp(x[:0], layers).shape == (0, 1)


VERSION_RUN = """
import hashlib, sys
import numpy as np
import hullpack
from hullpack.compositions import line_weight_tiles, relu_mlp
rng = np.random.default_rng(7)
ws = [(rng.normal(size=(o, i)) / np.sqrt(i)).astype(np.float32) for i, o in ((90, 200), (200, 130), (130, 3))]
x = np.maximum(rng.normal(size=(600, 90)), 0).astype(np.float32)
x[rng.random(x.shape) < 0.6] = 0
x[:5] *= np.float32(1e-38)   # denormal products and sums
y = relu_mlp(x, [(line_weight_tiles(w), np.zeros(len(w), np.float32)) for w in ws])
print(hullpack.build_info()["relu_mlp"], hashlib.sha256(y.tobytes()).hexdigest())
"""


def test_every_version_this_cpu_has_gives_the_same_bits():
    import os
    import subprocess
    import sys

    runs = {}
    for version in ("avx512", "avx2", "portable"):
        env = dict(os.environ, HULLPACK_RELU_MLP=version)
        got, digest = subprocess.run([sys.executable, "-c", VERSION_RUN], env=env, check=True, capture_output=True,
                                     text=True).stdout.split()
        runs[got] = digest  # a version the CPU lacks runs the best one it has
    assert "portable" in runs and len(set(runs.values())) == 1, runs


def test_an_unknown_kernel_request_is_named_not_ignored():
    import os
    import subprocess
    import sys

    env = dict(os.environ, HULLPACK_RELU_MLP="avx3")
    run = subprocess.run([sys.executable, "-c", "import hullpack"], env=env, capture_output=True, text=True)
    assert run.returncode == 0 and "HULLPACK_RELU_MLP='avx3': the fp32 layer kernel runs its" in run.stderr


def test_signs_of_zero_and_the_callers_float_mode_change_nothing():
    # an underflowing negative product makes a -0 sum, which a neighbour's live input turned to +0
    w = np.array([[-1e-30, 1.0]], np.float32)
    layers = [(line_weight_tiles(w), np.array([-0.0], np.float32))]
    alone = relu_mlp(np.array([[1e-30, 0]], np.float32), layers)
    beside = relu_mlp(np.array([[1e-30, 0], [0, 1]], np.float32), layers)[:1]
    assert alone.tobytes() == beside.tobytes() == np.float32(0).tobytes()
    # flush-to-zero set on the calling thread only (torch does so) changes no row
    x = np.full((2048, 2), [1e-38, 0], np.float32)
    denormal = [(line_weight_tiles(np.array([[0.01, 1.0]], np.float32)), np.zeros(1, np.float32))]
    ref = relu_mlp(x, denormal, threads=2)
    assert ref[0, 0] == np.float32(1e-38) * np.float32(0.01) != 0
    assert torch.set_flush_denormal(True)
    try:
        got = relu_mlp(x, denormal, threads=2)
        assert (torch.tensor([1e-39]) * 0.5).item() == 0  # the caller's mode is back
    finally:
        torch.set_flush_denormal(False)
    np.testing.assert_array_equal(got, ref)


def test_out_may_not_overlap_an_input():
    x, ws, bs = relu_net([8, 8], seed=8)
    layers = as_layers(ws, bs)
    buf = np.zeros((140, 8), np.float32)
    buf[:70] = x
    with pytest.raises(InvalidInputError, match="out: shares memory with x"):
        relu_mlp(buf[:70], layers, out=buf[30:100])
    with pytest.raises(InvalidInputError, match=r"out: shares memory with layers\[0\] bias"):
        relu_mlp(x[:1], [(layers[0][0], buf[0])], out=buf[:1])
    np.testing.assert_array_equal(relu_mlp(buf[:70], layers, out=buf[70:]), fma_chain(x, ws, bs))


def test_nan_stays_in_its_row_and_zero_rows_give_the_bias_path():
    x, ws, bs = relu_net([16, 32, 8, 2], seed=3)
    layers = as_layers(ws, bs)
    ref = relu_mlp(x, layers)
    x[5, 3] = np.nan
    x[6] = 0.0
    got = relu_mlp(x, layers)
    assert np.isnan(got[5]).all()
    np.testing.assert_array_equal(np.delete(got, [5, 6], axis=0), np.delete(ref, [5, 6], axis=0))
    np.testing.assert_array_equal(got[6], fma_chain(np.zeros((1, 16), np.float32), ws, bs)[0])


def test_writes_into_out():
    x, ws, bs = relu_net([8, 16, 4], seed=4)
    out = np.full((len(x), 4), 7.0, np.float32)
    assert relu_mlp(x, as_layers(ws, bs), out=out) is out
    np.testing.assert_array_equal(out, fma_chain(x, ws, bs))


@pytest.mark.parametrize("change,match", [
    (lambda x, L: (x.astype(np.float64), L), "x: expected a 2-D float32"),
    (lambda x, L: (x[0], L), "x: expected a 2-D float32"),
    (lambda x, L: (x, []), "layers: expected a non-empty list"),
    (lambda x, L: (x, [L[0], "w"]), r"layers\[1\]: expected a \(tiles, bias\) pair"),
    (lambda x, L: (x, [(L[0][0].astype(np.float64), L[0][1])] + L[1:]), r"layers\[0\] tiles: expected a C-contiguous float32"),
    (lambda x, L: (x, [L[0], (L[1][0][:, :, ::-1], L[1][1])]), r"layers\[1\] tiles: expected a C-contiguous"),
    (lambda x, L: (x, L[1:]), r"layers\[0\] tiles: expected shape \(1, 8, 64\) for 8 inputs and 4 outputs"),
    (lambda x, L: (x, [L[0], (L[1][0], np.zeros(70, np.float32))]), r"layers\[1\] tiles: expected shape \(2, 16"),
    (lambda x, L: (x, [L[0], (L[1][0], [0.1] * 4)]), r"layers\[1\] bias\[0\] = 0.1 is not a float32 value"),
])
def test_bad_input_names_the_item(change, match):
    x, ws, bs = relu_net([8, 16, 4], seed=5)
    args = change(x, as_layers(ws, bs))
    with pytest.raises(InvalidInputError, match=match):
        relu_mlp(*args)


def test_core_refuses_what_the_wrapper_would_not_pass():
    x, ws, bs = relu_net([8, 16, 4], seed=6)
    layers = as_layers(ws, bs)
    out = np.empty((len(x), 4), np.float32)
    with pytest.raises(ValueError, match="layers: no layers"):
        _core.relu_mlp(x, [], out)
    with pytest.raises(ValueError, match=r"layers\[0\] bias: expected dtype float32"):
        _core.relu_mlp(x, [(layers[0][0], layers[0][1].astype(np.float64)), layers[1]], out)
    with pytest.raises(ValueError, match=r"out: expected shape \(70, 4\)"):
        _core.relu_mlp(x, layers, np.empty((70, 3), np.float32))
    with pytest.raises(ValueError, match="layers: expected a list"):
        _core.relu_mlp(x, {"tiles": layers[0][0]}, out)


# ---------------------------------------------------------------------------------------------
# The engine's fp32 path
# ---------------------------------------------------------------------------------------------

def mlp(*widths, act=torch.nn.ReLU, seed=0):
    torch.manual_seed(seed)
    mods = []
    for i, (a, b) in enumerate(zip(widths, widths[1:])):
        mods.append(torch.nn.Linear(a, b))
        if i + 2 < len(widths):
            mods.append(act())
    return torch.nn.Sequential(*mods).eval()


def test_engine_fp32_runs_relu_mlp_where_the_model_allows():
    model = mlp(86, 96, 64, 32, 1)
    table, grid = systems(3, "H Fe Ni O Al"), uniform_grid(3, 8)
    eng = InferenceEngine(model)
    assert eng.fp32_kernel == "relu_mlp"
    dense = InferenceEngine(model, backend="onednn" if eng.backend == "onednn" else "torch")
    assert dense.fp32_kernel != "relu_mlp"
    e = eng.predict(table, grid)
    np.testing.assert_allclose(e, dense.predict(table, grid), atol=2e-6)
    # the same bits for arbitrary pairs, in any order
    s, p = np.nonzero(np.broadcast_to(grid.max(1) < grid.sum(1), e.shape))  # the pure elements are 0, not predicted
    order = np.random.default_rng(0).permutation(len(s))
    np.testing.assert_array_equal(eng.predict_pairs(table, grid, s[order], p[order]), e[s[order], p[order]])
    # other activations, a LayerNorm, or non-finite parameters: the products
    assert InferenceEngine(mlp(86, 32, 1, act=torch.nn.GELU)).fp32_kernel != "relu_mlp"
    with_norm = torch.nn.Sequential(torch.nn.Linear(86, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16),
                                    torch.nn.LayerNorm(16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    assert InferenceEngine(with_norm).fp32_kernel != "relu_mlp"
    broken = mlp(86, 16, 16, 1)
    with torch.no_grad():
        broken[2].weight[0, 0] = float("inf")
    assert InferenceEngine(broken).fp32_kernel != "relu_mlp"
    # no ReLU after the first layer: dense inputs, nothing to skip
    no_first_relu = torch.nn.Sequential(torch.nn.Linear(86, 16), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                                        torch.nn.Linear(16, 1))
    assert InferenceEngine(no_first_relu).fp32_kernel != "relu_mlp"


def test_a_cpu_without_a_vector_version_keeps_the_products(monkeypatch):
    """The portable version (no AVX2+FMA, or not x86) is slower than the dense products: not used,
    and "auto" then screens in certified bf16 where the CPU has bf16 arithmetic."""
    from hullpack.screening import pipeline

    monkeypatch.setattr(_core, "relu_mlp_version", "portable")
    monkeypatch.setattr(pipeline, "cpu_bf16_native", lambda: True)
    eng = InferenceEngine(mlp(86, 32, 16, 1))
    assert eng.fp32_kernel != "relu_mlp" and pipeline.auto_precision(eng) == "bf16"


def test_a_cpu_without_bf16_arithmetic_screens_every_model_in_fp32(monkeypatch):
    """Where torch emulates bf16 (an AVX2-only CPU: about 8x slower than fp32), "auto" is fp32."""
    from hullpack.screening import pipeline
    from hullpack.screening.models import ModelEngine

    monkeypatch.setattr(pipeline, "cpu_bf16_native", lambda: False)
    for eng in (InferenceEngine(mlp(86, 32, 1, act=torch.nn.GELU)), ModelEngine(mlp(86, 32, 1))):
        assert pipeline.auto_precision(eng) == "fp32"


def test_bf16_layers_run_where_onednn_has_no_bf16_path(monkeypatch):
    """oneDNN's bf16 linear needs AVX-512 or AVX-NE-CONVERT: elsewhere the bf16 steps run through
    F.linear while fp32 keeps oneDNN, with the same results as the torch backend."""
    from hullpack.screening import backend

    real = backend.onednn_unusable
    if real() is not None:
        pytest.skip(f"oneDNN's fused linear is not usable here: {real()}")
    monkeypatch.setattr(backend, "onednn_unusable",
                        lambda dtype=torch.float32: "no bf16 path" if dtype == torch.bfloat16 else real(dtype))
    model = mlp(86, 32, 16, 1, act=torch.nn.GELU)
    eng, plain = InferenceEngine(model, backend="onednn"), InferenceEngine(model, backend="torch")
    assert [step[3] for step in eng.tail.layers["bf16"] if isinstance(step, tuple)] == [False, False]
    assert [step[3] for step in eng.tail.layers["fp32"] if isinstance(step, tuple)] == [True, True]
    table, grid = systems(2, "Fe O Li"), uniform_grid(2, 10)
    np.testing.assert_array_equal(eng.predict(table, grid, precision="bf16"),
                                  plain.predict(table, grid, precision="bf16"))
    np.testing.assert_allclose(eng.predict(table, grid), plain.predict(table, grid), atol=1e-6)


def test_engine_fp32_of_the_shipped_model_matches_torch():
    from hullpack.elemnet import load_pretrained

    model = load_pretrained()
    table, grid = systems(2, "Fe O Li Cu"), uniform_grid(2, 20)
    eng = InferenceEngine(model)
    assert eng.fp32_kernel == "relu_mlp"
    e = eng.predict(table, grid)
    fr = grid[:, :, None] / grid.sum(1)[:, None, None]
    x = np.zeros((len(table) * len(grid), 86), np.float32)
    for i, row in enumerate(table):
        x[i * len(grid):(i + 1) * len(grid), row] = fr[:, :, 0]
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy().reshape(e.shape)
    inner = grid.min(1) > 0
    np.testing.assert_allclose(e[:, inner], ref[:, inner], atol=1e-5)


def test_screen_default_precision_follows_the_model(monkeypatch):
    """"auto": fp32 for a ReLU network on CPU (its fp32 layers skip zeros), certified bf16 for
    others on a CPU with bf16 arithmetic (taken as given here: emulated elsewhere, as slow as it is)."""
    from hullpack.screening import pipeline, screen

    monkeypatch.setattr(pipeline, "cpu_bf16_native", lambda: True)

    kw = dict(elements="Fe Ni O", compare_dft=False, progress=False)
    relu = screen(mlp(86, 64, 32, 1), **kw)
    assert (relu.config["precision"], relu.config["fp32_kernel"]) == ("fp32", "relu_mlp")
    assert relu.config["certification"] is None and relu.stats["n_evaluated"]["bf16"] == 0
    gelu = screen(mlp(86, 64, 32, 1, act=torch.nn.GELU), **kw)
    cert = gelu.config["certification"]  # a screen this small calibrates on every point, in fp32
    assert gelu.config["precision"] == "bf16" and cert["calibration_pairs"] == cert["screen_points"] == 93
    # certified bf16 of the same model reports the fp32 screen's vertices
    certified = screen(mlp(86, 64, 32, 1), precision="bf16", **kw)
    assert certified.vertices["formula"].tolist() == relu.vertices["formula"].tolist()


def test_auto_precision_on_a_gpu_is_fp32_for_the_fast_engine():
    """On a GPU the fast engine's screen is bound by the host, and fp32 was the faster (H200)."""
    from hullpack.screening.models import ModelEngine
    from hullpack.screening.pipeline import auto_precision

    gelu = InferenceEngine(mlp(86, 32, 1, act=torch.nn.GELU))
    gelu.device = torch.device("cuda")  # as built on a GPU (none here)
    assert auto_precision(gelu) == "fp32"
    generic = ModelEngine(mlp(86, 32, 1))
    generic.device = torch.device("cuda")
    assert auto_precision(generic) == "bf16"
