"""Screening with any composition model: which engine runs it, that its energies are the model's,
the generic batched engine, models from files and training runs, and bad models named before any
work."""

import numpy as np
import pytest
import torch

from hullpack.compositions import systems, uniform_grid
from hullpack.elemnet import ElemNet, train
from hullpack.errors import ModelFileError, ScreeningError
from hullpack.screening import screen
from hullpack.screening.engine import InferenceEngine
from hullpack.screening.hulls import corner_mask
from hullpack.screening.models import ModelEngine, dense_fractions, make_engine, resolve_model
from test_screening import dense_inputs  # dense 86-wide fractions of every (system, grid point)


def mlp(seed=0, width=128):
    """Not an ElemNet: LayerNorm and GELU between its Linear layers."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(86, width), torch.nn.LayerNorm(width), torch.nn.GELU(),
        torch.nn.Linear(width, width), torch.nn.GELU(), torch.nn.Dropout(0.1),
        torch.nn.Linear(width, 64), torch.nn.SiLU(), torch.nn.Linear(64, 1)).eval()


class Residual(torch.nn.Module):
    """A model whose forward is no Sequential: a residual block and a fixed mixing term."""

    def __init__(self, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.inp, self.mid, self.out = torch.nn.Linear(86, 96), torch.nn.Linear(96, 96), torch.nn.Linear(96, 1)

    def forward(self, x):
        h = torch.nn.functional.gelu(self.inp(x))
        h = h + torch.tanh(self.mid(h))
        return self.out(h).squeeze(-1) - (x * x).sum(dim=1) + 1


def dense_reference(model, table, grid):
    with torch.no_grad():
        return model(torch.from_numpy(dense_inputs(table, grid))).reshape(len(table), len(grid)).numpy()


@pytest.mark.parametrize("order,n", [(2, 20), (3, 6)])
def test_a_layernorm_gelu_mlp_runs_the_fast_engine_and_gives_its_energies(order, n):
    model = mlp()
    eng = make_engine(model)
    assert isinstance(eng, InferenceEngine) and eng.n_evaluated == {"fp32": 0, "bf16": 0}
    assert not eng.runs_lines   # the line layers need ReLU after the first two layers
    table, grid = systems(order, "H Fe Ni O Al Pu"), uniform_grid(order, n)
    inner = ~corner_mask(grid)
    ref = dense_reference(model, table, grid)
    e = eng.predict(table, grid)
    np.testing.assert_allclose(e[:, inner], ref[:, inner], atol=2e-6)
    e16 = eng.predict(table, grid, "bf16")
    assert 0 < np.abs(e16 - e)[:, inner].max() < 0.05
    s, p = np.nonzero(inner[None, :].repeat(len(table), 0))
    np.testing.assert_array_equal(eng.predict_pairs(table, grid, s[::-1], p[::-1], "bf16"), e16[s[::-1], p[::-1]])


def test_engine_choice_follows_what_the_fast_engine_can_run():
    assert isinstance(make_engine(ElemNet("32x2-16x1-1", dropout=())), InferenceEngine)
    nested = torch.nn.Sequential(torch.nn.Sequential(torch.nn.Linear(86, 16), torch.nn.ReLU()),
                                 torch.nn.Identity(), torch.nn.Linear(16, 1, bias=False))
    assert isinstance(make_engine(nested), InferenceEngine)
    for model in (Residual(),                                                           # no Sequential
                  torch.nn.Sequential(torch.nn.Linear(86, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1)),
                  lambda x: -x[:, 0] * x[:, 1]):                                        # a callable
        assert isinstance(make_engine(model), ModelEngine)
    assert "BatchNorm1d" in InferenceEngine.unsupported(
        torch.nn.Sequential(torch.nn.Linear(86, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1)))

    class Scaled(ElemNet):  # its Sequential, but a forward that is not just the Sequential
        def forward(self, x):
            return 2 * super().forward(x)

    class Doubled(torch.nn.Sequential):  # a Sequential, but a forward of its own
        def forward(self, x):
            return 2 * super().forward(x)

    torch.manual_seed(0)
    doubled = Doubled(torch.nn.Linear(86, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    table, grid = systems(2, "Fe O"), uniform_grid(2, 10)
    assert "not a list of layers" in InferenceEngine.unsupported(doubled)
    for model in (Scaled("32x2-1", dropout=()).eval(), doubled,
                  torch.nn.Sequential(doubled, torch.nn.Identity())):         # nested: not expanded
        assert InferenceEngine.unsupported(model) is not None
        eng = make_engine(model)
        assert isinstance(eng, ModelEngine)
        np.testing.assert_allclose(eng.predict(table, grid)[0, 1:-1], dense_reference(model, table, grid)[0, 1:-1],
                                   atol=1e-6)


def test_the_generic_engine_gives_the_model_row_by_row():
    model = Residual(1).eval()
    eng = ModelEngine(model, chunk=64)
    assert eng.supports_bf16
    table, grid = systems(2, "H Fe Ni O Al"), uniform_grid(2, 30)
    inner = ~corner_mask(grid)
    e = eng.predict(table, grid)
    np.testing.assert_allclose(e[:, inner], dense_reference(model, table, grid)[:, inner], atol=1e-6)
    s, p = np.nonzero(inner[None, :].repeat(len(table), 0))
    for prec in ("fp32", "bf16"):
        flat = eng.predict(table, grid, prec)
        np.testing.assert_array_equal(eng.predict_pairs(table, grid, s[::-1], p[::-1], prec), flat[s[::-1], p[::-1]])
    assert eng.n_evaluated["fp32"] == len(table) * inner.sum() * 3   # the grid twice, the pairs once
    frac = np.array([[0.5, 0.5], [0.25, 0.75]], np.float32)
    els = np.array([[22, 6], [0, 24]])
    with torch.no_grad():
        ref = model(torch.from_numpy(dense_fractions(els, frac))).numpy()
    np.testing.assert_allclose(eng.predict_fractions(els, frac), ref, atol=1e-6)


@pytest.mark.parametrize("which", ["mlp", "residual"])
def test_a_non_elemnet_model_screens_certified(which):
    """Through the public API, each engine: the MLP over every binary, the residual model (the
    generic engine) over those of 29 elements; certified, with the vertices of the fp32 screen."""
    model, elements = (mlp(1), None) if which == "mlp" else (Residual(2), list(range(0, 86, 3)))
    kw = dict(elements=elements, grid=100, min_depth=0, compare_dft=False, progress=False)
    r16, r32 = screen(model, precision="bf16", **kw), screen(model, precision="fp32", **kw)
    assert len(r16.systems) == (3655 if which == "mlp" else 406) and r16.config["precision"] == "bf16"
    assert r16.vertices[["system", "formula"]].values.tolist() == r32.vertices[["system", "formula"]].values.tolist()
    cert = r16.config["certification"]
    assert cert["n_audited"] >= 0.5 * 4096 and "audit:" in r16.summary()
    assert r16.stats["n_fp32"] < 0.5 * r16.stats["n_predictions"]
    assert r16.config["engine"] == ("InferenceEngine" if which == "mlp" else "ModelEngine")
    for r in (r16, r32):  # where the blocks' time went: the model's share is within them
        assert 0 < r.stats["seconds_evaluating"] < r.stats["seconds_screen"] <= r.stats["seconds_total"]


def test_a_model_without_a_bf16_path_screens_in_fp32(caplog, monkeypatch):
    """A callable that autocast does not change (numpy inside) runs every point in fp32, also where
    "auto" would pick bf16 (a CPU with bf16 arithmetic, taken as given here)."""
    from hullpack.screening import pipeline

    monkeypatch.setattr(pipeline, "cpu_bf16_native", lambda: True)
    def numpy_model(x):
        a = x.numpy()
        return -np.minimum(a[:, 0], a[:, 6]) + 0.1 * a[:, 22] * a[:, 6]   # H-O: one vertex, HO (written H2O2)

    with caplog.at_level("INFO", logger="hullpack.screening.pipeline"):
        r = screen(numpy_model, elements="H O Fe", grid=10, compare_dft=False, progress=False)
    assert not make_engine(numpy_model).supports_bf16
    assert r.config["precision"] == "fp32" and r.config["certification"] is None
    assert r.stats["n_evaluated"]["bf16"] == 0 and "no bf16 path" in caplog.text
    assert r.systems.set_index("system").loc["H-O", "stable"] == "H2O2"


def test_a_model_that_fails_under_bf16_autocast_screens_in_fp32():
    """A torch model whose output goes through numpy raises under bf16 autocast (numpy has no
    bfloat16); it was refused as a bad model although it runs in float32. It has no bf16 path now:
    asked for bf16, it screens in fp32 and gives the module's own energies."""
    net = mlp(width=16)

    def through_numpy(x):
        return net(x).detach().numpy().astype(np.float64)   # (n, 1) float64, as a user's wrapper may

    with pytest.raises(TypeError, match="BFloat16"), torch.autocast("cpu", dtype=torch.bfloat16):
        through_numpy(torch.full((2, 86), 1 / 86))
    assert not make_engine(through_numpy).supports_bf16
    r = screen(through_numpy, elements="Fe Ni O", grid=10, precision="bf16", points=True, compare_dft=False,
               progress=False)
    assert r.config["precision"] == "fp32" and r.stats["n_evaluated"]["bf16"] == 0
    ref = screen(net, elements="Fe Ni O", grid=10, precision="fp32", points=True, compare_dft=False, progress=False)
    np.testing.assert_allclose(r.points["energy"], ref.points["energy"], atol=1e-5)
    with pytest.raises(ScreeningError, match="ValueError: only in fp32 too"):   # one that fails in fp32 is named
        screen(lambda x: (_ for _ in ()).throw(ValueError("only in fp32 too")), elements="Fe Ni",
               compare_dft=False, progress=False)


def test_a_model_that_checks_its_inputs_are_compositions_screens():
    """The last batch was padded with zero rows, so a model that checks that its rows sum to 1, as
    the fractions are documented to, failed mid-screen with its own bare traceback. The padding
    repeats the batch's last composition now; a model that fails on some composition of the
    screen is named in a ScreeningError."""
    net = mlp(width=16)

    def strict(x):
        if not torch.allclose(x.sum(1), torch.ones(len(x)), atol=1e-5):
            raise ValueError("rows must sum to 1")
        return net(x)

    kw = dict(elements="Fe Ni O", grid=10, precision="fp32", points=True, compare_dft=False, progress=False)
    r = screen(strict, **kw)
    assert r.config["engine"] == "ModelEngine" and r.stats["n_predictions"] % ModelEngine(strict).chunk
    np.testing.assert_allclose(r.points["energy"], screen(net, **kw).points["energy"], atol=1e-5)

    def no_oxygen_rich(x):   # fails on a composition the probe has not got
        if (x[:, 6] > 0.85).any():
            raise ValueError("O above 85% is out of my training range")
        return net(x)

    with pytest.raises(ScreeningError, match=r"model: calling it on a \(\d+, 86\) .*ValueError: O above 85%"):
        screen(no_oxygen_rich, **kw)


@pytest.mark.parametrize("model,match", [
    (lambda x: x[:, :2], r"shape \(48, 2\)"),
    (lambda x: x.sum(), r"shape \(\)"),
    (lambda x: 1 / 0, "ZeroDivisionError"),
    (torch.nn.Linear(10, 1), "mat1 and mat2"),
    # a model of another element set (every element up to Lr by atomic number, say): its width, and the way out
    (torch.nn.Sequential(torch.nn.Linear(103, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1)),
     r"mat1 and mat2.*\(its first Linear layer takes 103 inputs, not ElemNet's 86 element fractions in "
     r"hullpack.elements.ELEMNET_ELEMENTS order: wrap it"),
    # a float64 model on the float32 fractions: its own error, and the conversion that fixes it
    (torch.nn.Sequential(torch.nn.Linear(86, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1)).double(),
     r"RuntimeError: .*Double.*\(its parameters are float64: model.float\(\) converts them"),
    (42, "got int"),
])
def test_a_bad_model_is_named_before_any_work(model, match):
    with pytest.raises(ScreeningError, match=match):
        screen(model, elements="Fe Ni", progress=False, compare_dft=False)


class WithNet(torch.nn.Module):
    """A Sequential ``net`` as ElemNet holds one, and a forward that adds to it a term for one
    pair of elements (O and Fe), which no probe composition has."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(5)
        self.net = torch.nn.Sequential(torch.nn.Linear(86, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1) - 4 * x[:, 6] * x[:, 22]


def test_a_module_that_adds_to_its_net_is_screened_with_its_own_forward():
    """Only ElemNet's forward is known to be its ``net``: another module's runs as it is."""
    model = WithNet().eval()
    table, grid = systems(2, "Fe Ni O"), uniform_grid(2, 10)
    assert isinstance(make_engine(model), ModelEngine) and isinstance(make_engine(model.net), InferenceEngine)
    r = screen(model, elements="Fe Ni O", grid=10, min_depth=0, compare_dft=False, progress=False, points=True)
    fe_o = r.points[r.points["system"] == "Fe-O"]           # x_Fe from 0: grid order over (O, Fe)
    row = [t.tolist() for t in table].index([6, 22])
    inner = ~corner_mask(grid)
    np.testing.assert_allclose(fe_o["energy"].to_numpy()[inner], dense_reference(model, table, grid)[row][inner],
                               atol=1e-5)
    assert float(fe_o.loc[fe_o["formula"] == "FeO", "energy"].iloc[0]) < -0.9   # the -4 x_O x_Fe term: -1 at FeO


class Norm(torch.nn.Module):
    """Batch norm on the fractions first: not a Linear layer first, so the generic engine runs it."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(4)
        self.norm = torch.nn.BatchNorm1d(86)
        self.net = torch.nn.Sequential(torch.nn.Linear(86, 32), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                                       torch.nn.Linear(32, 1))

    def forward(self, x):
        return self.net(self.norm(x)).squeeze(-1) - 4 * x[:, 6] * x[:, 22]


@pytest.mark.parametrize("make", [lambda: mlp(2), Norm])
def test_a_model_in_training_mode_is_screened_in_eval_mode_and_left_as_it_was(make):
    """Screened between two epochs: the screen runs the model in eval mode (no dropout, batch norm
    on its running statistics) and leaves it training, its running statistics untouched."""
    model = make()
    kw = dict(elements="Fe Ni O Li", grid=20, min_depth=0, compare_dft=False, progress=False)
    expected = screen(model.eval(), precision="fp32", points=True, **kw).points
    model.train()
    stats = [b.clone() for b in model.buffers()]
    for precision in ("fp32", "bf16"):
        r = screen(model, precision=precision, points=True, **kw)
        assert all(m.training for m in model.modules())
        assert all(torch.equal(a, b) for a, b in zip(stats, model.buffers()))
        if precision == "fp32":   # dropout on would give other energies
            np.testing.assert_array_equal(r.points["energy"], expected["energy"])
    assert r.config["engine"] == ("InferenceEngine" if isinstance(model, torch.nn.Sequential) else "ModelEngine")


def test_a_torch_file_of_your_own_model_is_named_with_how_to_screen_it(tmp_path):
    """torch.save of a whole module was reported as a corrupt file to re-download; a state dict as
    no hullpack file. Both now say what they are and how to screen such a model."""
    model = torch.nn.Sequential(torch.nn.Linear(86, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    torch.save(model, tmp_path / "whole.pt")
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    how = r"load it in Python and pass the module to hullpack.screening.screen\(model, ...\)"
    with pytest.raises(ModelFileError, match=r"whole.pt is a torch.save archive of Python objects \(a whole torch "
                                             r"module\?\), not a hullpack model file.*; to screen .*" + how) as e:
        screen(str(tmp_path / "whole.pt"), elements="Fe O", progress=False, compare_dft=False)
    assert "corrupt" not in str(e.value) and "re-download" not in str(e.value)
    with pytest.raises(ModelFileError, match=r"weights.pt is not a hullpack ElemNet model file .*" + how):
        screen(str(tmp_path / "weights.pt"), elements="Fe O", progress=False, compare_dft=False)


def test_a_torchscript_file_is_named_as_one_and_its_loaded_module_screens(tmp_path):
    """torch.jit.save's archive was called corrupt or truncated, to re-download. It is named as a
    TorchScript archive now, with how to screen it; torch.jit.load's module screens."""
    model = mlp(width=16)
    torch.jit.script(model).save(str(tmp_path / "scripted.pt"))
    with pytest.raises(ModelFileError, match=r"scripted.pt is a TorchScript archive \(torch.jit.save\), not a hullpack "
                                             r"model file; to screen it, load it in Python with torch.jit.load") as e:
        resolve_model(tmp_path / "scripted.pt")
    assert "corrupt" not in str(e.value) and "re-download" not in str(e.value)
    kw = dict(elements="Fe Ni O", grid=10, precision="fp32", points=True, compare_dft=False, progress=False)
    r = screen(torch.jit.load(str(tmp_path / "scripted.pt")), **kw)
    np.testing.assert_allclose(r.points["energy"], screen(model, **kw).points["energy"], atol=1e-5)


def test_screening_a_training_run(tmp_path):
    """A run of hullpack's training loop screens by its folder or its best.pt; last.pt is named."""
    rng = np.random.default_rng(0)
    x = rng.dirichlet(np.ones(86), 512).astype("float32")
    y = (-x[:, 6] * x[:, 22] * 4).astype("float32")
    run = tmp_path / "run"
    train(run, train_data=(x, y), val_data=(x, y), epochs=1, architecture="64x2-32x1-1", dropout=(),
          batch_size=128)
    by_dir = screen(run, elements="Fe Ni O", grid=20, compare_dft=False, progress=False)
    by_file = screen(run / "best.pt", elements="Fe Ni O", grid=20, compare_dft=False, progress=False)
    assert by_dir.vertices.equals(by_file.vertices) and len(by_dir.systems) == 3
    assert by_dir.config["engine"] == "InferenceEngine" and by_dir.config["model"] == by_file.model.metadata["sha256"]
    with pytest.raises(ModelFileError, match="training checkpoint .*best.pt"):
        resolve_model(run / "last.pt")
    with pytest.raises(ModelFileError, match="holds no best.pt"):
        resolve_model(tmp_path)


def test_the_cli_screens_a_training_run(tmp_path, capsys):
    from hullpack.cli import main

    rng = np.random.default_rng(1)
    x = rng.dirichlet(np.ones(86), 256).astype("float32")
    train(tmp_path / "run", train_data=(x, x[:, 0]), val_data=(x, x[:, 0]), epochs=1, architecture="32x1-1",
          dropout=(), batch_size=64)
    rc = main(["-q", "screen", "--elements", "Fe,Ni,O", "--grid", "10", "--model", str(tmp_path / "run"),
               "--no-dft", "--out", str(tmp_path / "out")])
    assert rc == 0 and "3 binary systems" in capsys.readouterr().out
