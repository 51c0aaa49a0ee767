"""ElemNet: architecture, featurization, data, model files, training and resume."""
from __future__ import annotations

import hashlib
import json
import math
import random
import struct
import warnings

import numpy as np
import pytest
import torch

from hullpack.elements import ELEMNET_ELEMENTS
from hullpack.elemnet import (DEFAULT_ARCHITECTURE, ElemNet, TrainConfig, featurize, load_model,
                              load_oqmd, parse_architecture, parse_formulas, read_model_file, save_model,
                              train)
from hullpack.elemnet.io import weights_sha256
from hullpack.elemnet.train import LRSchedule
from hullpack.errors import CompositionError, ModelFileError

TINY = dict(architecture="32x2D-16x1D-1", dropout=(0.2, 0.1))


def tiny_data(n=512, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 86), np.float32)
    for i in range(n):  # ternary-like compositions, as OQMD
        cols = rng.choice(86, 3, replace=False)
        x[i, cols] = rng.dirichlet(np.ones(3))
    w = rng.normal(size=86).astype(np.float32)
    return x, (x @ w).astype(np.float32)


# -- model -------------------------------------------------------------------------------------
def test_default_architecture_parameter_count_and_layout():
    model = ElemNet()
    assert sum(p.numel() for p in model.parameters()) == 4_631_361
    layers = list(model.net)
    linears = [m for m in layers if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [1024] * 4 + [512] * 3 + [256] * 3 + [128] * 3 + [64] * 2 + [32, 1]
    assert linears[0].in_features == 86
    # ReLU right after every hidden Linear, nothing after the output
    for i, m in enumerate(layers[:-1]):
        if isinstance(m, torch.nn.Linear):
            assert isinstance(layers[i + 1], torch.nn.ReLU)
    assert layers[-1] is linears[-1]
    # dropout after the last layer of each of the first four blocks, drop (not keep) rates
    drops = [(sum(isinstance(m, torch.nn.Linear) for m in layers[:i]), m.p)
             for i, m in enumerate(layers) if isinstance(m, torch.nn.Dropout)]
    assert drops == [(4, 0.2), (7, 0.1), (10, 0.3), (13, 0.2)]


def test_glorot_uniform_weights_zero_biases():
    torch.manual_seed(0)
    for m in ElemNet().net:
        if isinstance(m, torch.nn.Linear):
            bound = math.sqrt(6.0 / (m.in_features + m.out_features))
            assert float(m.weight.detach().abs().max()) <= bound
            if m.weight.numel() > 10000:  # uniform on [-b, b]: std b / sqrt(3)
                assert float(m.weight.detach().std()) == pytest.approx(bound / math.sqrt(3), rel=0.02)
            assert float(m.bias.detach().abs().max()) == 0.0


def test_architecture_strings():
    assert parse_architecture(DEFAULT_ARCHITECTURE)[0] == (1024, 4, True)
    model = ElemNet("16x2D-8x1-1", (0.5,))
    assert sum(p.numel() for p in model.parameters()) == (86 * 16 + 16) + (16 * 16 + 16) + (16 * 8 + 8) + 9
    for bad in ("1024x4D", "1024x0-1", "abc-1", "16xD-1", ""):
        with pytest.raises(ValueError):
            ElemNet(bad, ())
    with pytest.raises(ValueError, match="1 dropout block"):
        ElemNet("16x2D-1", (0.1, 0.2))
    with pytest.raises(ValueError, match="keep probability"):
        ElemNet("16x2D-1", (1.0,))


def test_eval_mode_is_deterministic_train_mode_is_not():
    torch.manual_seed(0)
    model = ElemNet()
    x = torch.from_numpy(featurize(["Fe2O3", "NaCl", "Al1Sm1Tm1"]))
    model.train()
    assert not torch.equal(model(x), model(x))  # dropout active
    p1, p2 = model.predict(x.numpy()), model.predict(["Fe2O3", "NaCl", "Al1Sm1Tm1"])
    assert np.array_equal(p1, p2) and p1.dtype == np.float64
    assert model.training  # predict restores the mode
    with torch.no_grad():
        assert np.allclose(model.eval()(x).numpy(), p1, atol=1e-6)
    # an untrained net's outputs are ~3e-4 eV/atom; bf16 moves them by ~2e-5, batch size by ~1e-9
    assert np.abs(p1).max() > 1e-4
    assert np.abs(model.predict(x.numpy(), bf16=True) - p1).max() < 1e-4
    assert np.allclose(model.predict(x.numpy(), batch_size=1), p1, rtol=1e-5, atol=5e-9)


# -- featurization ----------------------------------------------------------------------------
def test_featurize_fractions_and_inputs():
    x = featurize(["Fe2O3", "FeOFe", "Li0.5CoO2", " Na Cl ", "O"])
    fe, o, li, co = (ELEMNET_ELEMENTS.index(e) for e in ("Fe", "O", "Li", "Co"))
    assert x.shape == (5, 86) and x.dtype == np.float32
    assert np.allclose(x.sum(axis=1), 1.0)
    assert x[0, fe] == pytest.approx(0.4) and x[0, o] == pytest.approx(0.6)
    assert x[1, fe] == pytest.approx(2 / 3)  # repeated symbols add up
    assert x[2, li] == pytest.approx(0.5 / 3.5) and x[2, co] == pytest.approx(1 / 3.5)
    assert np.array_equal(featurize("Fe2O3"), x[:1])  # a single string is one composition
    assert np.allclose(featurize([{"Fe": 2, "O": 3}]), x[:1])


def test_featurize_normalizes_amounts_that_sum_below_one():
    fe, o = ELEMNET_ELEMENTS.index("Fe"), ELEMNET_ELEMENTS.index("O")
    # the regex path, a mapping and a repeated symbol: every row sums to 1, whatever the total
    x = featurize(["Fe0.2O0.3", {"Fe": 0.002, "O": 0.003}, "Fe.1O.3Fe.1", {"Fe": 5e-324}])
    assert np.allclose(x.sum(axis=1), 1.0, atol=1e-7)
    assert x[:3, fe].tolist() == pytest.approx([0.4] * 3) and x[:3, o].tolist() == pytest.approx([0.6] * 3)
    assert x[3, fe] == 1.0
    # an element listed with amount 0 is allowed and contributes nothing
    assert np.array_equal(featurize([{"Fe": 2, "O": 0}, {"Fe": 2, "O": 0.0}]), featurize(["Fe", "Fe"]))


def test_featurize_overflowing_and_non_numeric_amounts_are_bad_entries():
    huge = "H" + "9" * 308 + "O" + "9" * 308  # each amount finite, their sum is inf
    items = ["NaCl", huge, {"Fe": 1e308, "O": 1e308}, {"Fe": None}, {"Fe": 10 ** 400}, {"Fe": "2"},
             {"Fe": True}, {"Fe": float("nan")}, {"Fe": -1}, "KBr"]
    with pytest.raises(CompositionError) as info:
        featurize(items)
    reasons = {i: reason for i, _, reason in info.value.bad}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert "add up past the largest float" in reasons[1] and "add up past" in reasons[2]
    assert reasons[3] == "amount of Fe is None; amounts must be numbers"
    assert "amount of Fe is 1000" in reasons[4] and "amount of Fe is '2'" in reasons[5]
    assert "amount of Fe is True" in reasons[6] and "amount of Fe is nan" in reasons[7]
    assert "amount of Fe is -1" in reasons[8]
    assert all(len(line) < 200 for line in str(info.value).splitlines())  # long inputs stay one line
    with pytest.warns(UserWarning, match="8 of 10"):
        nan = featurize(items, errors="nan")  # bad entries never abort the batch
    assert np.isnan(nan[1:9]).all() and np.array_equal(nan[[0, 9]], featurize(["NaCl", "KBr"]))
    with pytest.warns(UserWarning):
        assert np.isnan(ElemNet("8x1-1", ()).predict([huge, {"Fe": None}], errors="nan")).all()


def test_featurize_survives_broken_mappings():
    class Broken(dict):
        def items(self):
            raise RuntimeError("boom")

    class Odd(dict):
        def items(self):
            return [("Fe",)]

    with pytest.warns(UserWarning, match="2 of 3"):
        x = featurize([Broken(Fe=1), "NaCl", Odd(Fe=1)], errors="nan")
    assert np.isnan(x[[0, 2]]).all() and not np.isnan(x[1]).any()
    _, bad = parse_formulas([Broken(Fe=1), Odd(Fe=1)])
    assert "RuntimeError: boom" in bad[0][2] and "not (element, amount) pairs" in bad[1][2]


def test_featurize_matches_pymatgen_on_oqmd():
    Composition = pytest.importorskip("pymatgen.core").Composition
    formulas = random.Random(1).sample(load_oqmd("val")["formula"].tolist(), 200) + ["Ca(OH)2", "Fe2(SO4)3"]
    ref = np.array([[Composition(f).get_atomic_fraction(e) for e in ELEMNET_ELEMENTS] for f in formulas])
    assert np.abs(featurize(formulas) - ref).max() < 1e-6
    comps = [Composition(f) for f in formulas[:20]]
    assert np.array_equal(featurize(comps), featurize(formulas[:20]))


def test_featurize_reports_every_bad_entry():
    items = ["NaCl", "(", "Xx2", "", "HeH", "Fe0O0", None, "KBr", "Po2O"]
    with pytest.raises(CompositionError) as info:
        featurize(items)
    bad = info.value.bad
    assert [b[0] for b in bad] == [1, 2, 3, 4, 5, 6, 8]
    message = str(info.value)
    assert "7 of 9" in message
    for i, text in [(1, "("), (2, "Xx2"), (4, "HeH"), (8, "Po2O")]:
        assert f"[{i}] {text!r}" in message
    assert "He is not one of ElemNet's 86 elements" in message
    assert "unknown element 'Xx'" in message
    assert isinstance(info.value, ValueError)
    with pytest.warns(UserWarning, match="7 of 9"):
        skipped = featurize(items, errors="skip")
    assert np.array_equal(skipped, featurize(["NaCl", "KBr"]))
    with pytest.warns(UserWarning):
        nan = featurize(items, errors="nan")
    assert nan.shape == (9, 86)
    assert np.isnan(nan).any(axis=1).tolist() == [i in (1, 2, 3, 4, 5, 6, 8) for i in range(9)]
    with pytest.raises(ValueError, match="errors="):
        featurize(["NaCl"], errors="ignore")
    x, bad = parse_formulas(["NaCl", "Xx"])
    assert bad == [(1, "Xx", "unknown element 'Xx'")] and np.isnan(x[1]).all()


def test_featurize_long_error_lists_are_truncated_but_complete():
    with pytest.raises(CompositionError) as info:
        featurize(["Xx"] * 50)
    assert len(info.value.bad) == 50 and "and 30 more" in str(info.value)


def test_predict_errors_modes():
    model = ElemNet("8x1-1", ())
    with pytest.raises(CompositionError):
        model.predict(["NaCl", "Xx"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert model.predict(["NaCl", "Xx"], errors="skip").shape == (1,)
        out = model.predict(["NaCl", "Xx"], errors="nan")
    assert np.isfinite(out[0]) and np.isnan(out[1])


# -- data --------------------------------------------------------------------------------------
def test_oqmd_loader_applies_elemnet_filter():
    removed = {}
    for split in ("train", "val", "test"):
        df = load_oqmd(split)
        removed[split] = df.attrs["n_removed"]
        assert df["target"].between(-20, 5, inclusive="neither").all()
        assert len(df) + removed[split] == len(load_oqmd(split, filter=False))
    assert removed == {"train": 69, "val": 13, "test": 4}  # 86 in all, as SOURCE.md says
    with pytest.raises(ValueError):
        load_oqmd("validation")


# -- model files -------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = ElemNet(**TINY)
    path = save_model(model, tmp_path / "m.pt", metadata={"epoch": 3, "val_mae": 0.1})
    back = load_model(path)
    assert back.architecture == TINY["architecture"] and back.dropout_rates == TINY["dropout"]
    assert back.metadata["epoch"] == 3 and len(back.metadata["sha256"]) == 64
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))
    assert not back.training
    half = load_model(save_model(model, tmp_path / "h.pt", dtype="float16"))
    x = featurize(["Fe2O3", "NaCl"])
    assert np.allclose(half.predict(x), model.predict(x), atol=1e-4)  # fp16 rounding: ~2e-5
    assert (tmp_path / "h.pt").stat().st_size < 0.6 * (tmp_path / "m.pt").stat().st_size


def save_v1(model, path, *, metadata=None, dtype=torch.float32):
    """A model file as hullpack 0.1 wrote it (format 1: a torch archive, only the weights digested)."""
    state = {k: v.detach().to(dtype).clone() for k, v in model.state_dict().items()}
    torch.save({"format": "hullpack-elemnet", "format_version": 1, "architecture": model.architecture,
                "dropout": list(model.dropout_rates), "elements": list(ELEMNET_ELEMENTS),
                "dtype": str(dtype).split(".")[-1], "sha256": weights_sha256(state),
                "metadata": dict(metadata or {}), "state_dict": state}, path)
    return path


def forge(good: bytes, path, *, header=None, raw_header=None, version=None, n_header=None, weights=None):
    """A format-2 file changed as asked, with a digest that matches (as a forger would write it)."""
    magic, ver, n = struct.unpack_from("<16sIQ", good)
    text = raw_header if raw_header is not None else json.dumps(
        (header or (lambda h: h))(json.loads(good[28:28 + n]))).encode()
    body = (struct.pack("<16sIQ", magic, ver if version is None else version,
                        len(text) if n_header is None else n_header)
            + text + (good[28 + n:-32] if weights is None else weights))
    path.write_bytes(body + hashlib.sha256(body).digest())
    return path


def same_model(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return (a.architecture == b.architecture and a.dropout_rates == b.dropout_rates
            and a.metadata == b.metadata and list(sa) == list(sb)
            and all(torch.equal(sa[k], sb[k]) for k in sa))


def test_corrupt_truncated_and_mismatched_files(tmp_path):
    model = ElemNet(**TINY)
    good = save_model(model, tmp_path / "good.pt").read_bytes()
    assert good[:16] == b"hullpack-elemnet" and good[-32:] == hashlib.sha256(good[:-32]).digest()
    cases = {
        "truncated": (good[: len(good) // 2], "corrupt or truncated"),
        "short": (good[:30], "truncated"),
        "garbage": (b"not a model at all" * 100, "not a hullpack ElemNet model file"),
        "empty": (b"", "not a hullpack ElemNet model file"),
        "torch-truncated": (save_v1(model, tmp_path / "v1.pt").read_bytes()[:2000], "corrupt or truncated"),
    }
    for name, (data, message) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(ModelFileError, match=message) as err:
            load_model(tmp_path / name)
        assert len(str(err.value)) < 400  # one readable line, not torch's essay
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    with pytest.raises(ModelFileError, match="not the requested"):
        load_model(tmp_path / "good.pt", architecture=DEFAULT_ARCHITECTURE)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "plain.pt")
    with pytest.raises(ModelFileError, match="no 'hullpack-elemnet' header"):
        load_model(tmp_path / "plain.pt")
    torch.save(model, tmp_path / "whole.pt")  # an intact file, of a pickled module: it was called corrupt
    with pytest.raises(ModelFileError, match=r"whole.pt is a torch.save archive of Python objects \(a whole torch "
                                             r"module\?\), not a hullpack model file \(hullpack.elemnet.save_model") as err:
        load_model(tmp_path / "whole.pt")
    said = str(err.value).split("whole.pt")[1]  # the test's folder is named after it: "corrupt"
    assert "corrupt" not in said and "re-download" not in said
    with pytest.raises(ValueError, match="metadata must be JSON-like"):
        save_model(model, tmp_path / "bad-meta.pt", metadata={"when": object()})
    assert load_model(save_model(model, tmp_path / "np.pt", metadata={"mae": np.float32(0.5)})).metadata["mae"] == 0.5


def test_every_flipped_or_missing_byte_is_a_model_file_error(tmp_path):
    model = ElemNet("8x1D-1", (0.25,))
    path = save_model(model, tmp_path / "m.pt", metadata={"epoch": 7, "val_mae": 0.125}, dtype="float16")
    good, ref = path.read_bytes(), load_model(path)
    outcomes = set()
    for i in range(len(good)):  # ~2 kB: two flips of the byte at every offset, and every truncation
        for j, data in enumerate([good[:i] + bytes([good[i] ^ flip]) + good[i + 1:] for flip in (1, 0xFF)]
                                 + [good[:i]]):
            bad = tmp_path / f"{i}-{j}.pt"  # new files: rewriting one file makes ext4 flush each time
            bad.write_bytes(data)
            try:
                outcomes.add(same_model(load_model(bad), ref))
            except ModelFileError:
                outcomes.add("error")
            bad.unlink()
    assert outcomes <= {"error", True}  # never a model that differs from the saved one


def test_forged_files_with_a_matching_digest_still_give_model_file_errors(tmp_path):
    model = ElemNet("8x1D-1", (0.25,))
    good = save_model(model, tmp_path / "good.pt").read_bytes()
    n_weights = sum(v.numel() for v in model.state_dict().values()) * 4

    def header(**change):
        return lambda h: {**h, **change}

    cases = [
        (dict(version=3), "format version 3; this hullpack reads versions"),
        (dict(raw_header=b"{not json"), "header is not JSON"),
        (dict(raw_header=b"\xff\xfe"), "header is not JSON"),
        (dict(raw_header=b"[" * 100_000), "header is not JSON"),
        (dict(raw_header=b"[1, 2]"), "not a JSON object"),
        (dict(n_header=10 ** 9), "runs past the end"),
        (dict(header=lambda h: {k: v for k, v in h.items() if k != "tensors"}), r"lacks the fields \['tensors'\]"),
        (dict(header=header(dtype="int8")), "dtype 'int8'"),
        (dict(header=header(tensors=[["net.0.weight", [-1]]])), "tensor table"),
        (dict(header=header(tensors=[["a", [1]], ["a", [1]]])), "names a tensor twice"),
        (dict(weights=b"\0" * (n_weights - 4)), "describes .* bytes of weights"),
        (dict(header=header(architecture=8)), "architecture 8 is not a string"),
        (dict(header=header(dropout="0.25")), "is not a list of drop rates"),
        (dict(header=header(dropout=[True])), "is not a list of drop rates"),
        (dict(header=header(metadata=[1])), "metadata is not a dictionary"),
        (dict(header=header(elements=ELEMNET_ELEMENTS[::-1])), "element order"),
        (dict(header=header(elements=5)), "element order"),
        (dict(header=header(weights_sha256="0" * 64)), "sha256 .* does not match"),
        (dict(header=header(architecture="8x1000000000D-1")), "do not fit architecture"),  # never built
        (dict(header=header(architecture="8x1D-8x1-1")), "do not fit architecture"),
        (dict(header=header(architecture="9x1D-1")), "do not fit architecture"),
        (dict(header=header(dropout=[0.25, 0.5])), "do not fit architecture"),
        (dict(header=header(dropout=[1.5])), "do not fit architecture"),
        (dict(header=header(architecture="garbage")), "do not fit architecture"),
    ]
    for i, (change, message) in enumerate(cases):
        with pytest.raises(ModelFileError, match=message):
            load_model(forge(good, tmp_path / f"{i}.pt", **change))


def test_format_1_files_are_still_read(tmp_path):
    torch.manual_seed(0)
    model = ElemNet(**TINY)
    path = save_v1(model, tmp_path / "v1.pt", metadata={"epoch": 2})
    back = load_model(path)
    assert back.metadata["epoch"] == 2 and back.dropout_rates == TINY["dropout"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), back.state_dict().values()))
    assert read_model_file(path)["format_version"] == 1

    def rewrite(name, **change):
        blob = torch.load(path, weights_only=True)
        blob.update({k: v(blob) if callable(v) else v for k, v in change.items()})
        torch.save(blob, tmp_path / name)
        return tmp_path / name

    def flip(blob):  # a changed weight no longer matches the recorded sha256
        w = blob["state_dict"]["net.0.weight"].clone()
        w[0, 0] += 1.0
        return {**blob["state_dict"], "net.0.weight": w}

    for name, change, message in [
        ("flipped", dict(state_dict=flip), "sha256"),
        ("v99", dict(format_version=99), "format version 99"),
        ("other", dict(format="something-else"), "not a hullpack ElemNet"),
        ("elements", dict(elements=lambda b: b["elements"][::-1]), "element order"),
        ("arch", dict(architecture="64x2D-16x1D-1"), "do not fit"),
        ("no-weights", dict(state_dict=None), "state_dict is not a mapping"),
        ("int-weights", dict(state_dict={"net.0.weight": torch.zeros(2, dtype=torch.int64)}), "state_dict"),
        ("dropout", dict(dropout=None), "not a list of drop rates"),
        ("metadata", dict(metadata="x"), "metadata is not a dictionary"),
    ]:
        with pytest.raises(ModelFileError, match=message):
            load_model(rewrite(name, **change))
    # format 1 digests only the weights: bytes anywhere give an error or the same weights
    small = ElemNet("8x1D-1", (0.25,))
    good = save_v1(small, tmp_path / "small.pt").read_bytes()
    for i in range(0, len(good), 13):  # torch.load is slow: a sample of the offsets
        for j, data in enumerate((good[:i] + bytes([good[i] ^ 0xFF]) + good[i + 1:], good[:i])):
            bad = tmp_path / f"{i}-{j}.pt"
            bad.write_bytes(data)
            try:
                got = load_model(bad)
            except ModelFileError:
                continue
            finally:
                bad.unlink()
            assert all(torch.equal(a, b) for a, b in zip(small.state_dict().values(), got.state_dict().values()))


def test_devices_and_paths_are_not_confused(tmp_path, monkeypatch):
    from hullpack.elemnet import load_pretrained

    with pytest.raises(TypeError, match=r"file path, not a device.*load_model\('/nope.pt'\)"):
        load_pretrained("/nope.pt")
    with pytest.raises(TypeError, match="file path, not a device"):
        load_pretrained(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="device='gpu0' is not a torch device"):
        load_pretrained("gpu0")
    (tmp_path / "my_run").mkdir()  # a run folder named without a slash, from where it lies
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError, match=r"file path, not a device.*load_model\('my_run'\)"):
        load_pretrained("my_run")
    (tmp_path / "cpu").mkdir()  # a folder that happens to be named as a device does not make it a path
    assert load_pretrained("cpu").architecture == load_pretrained(torch.device("cpu")).architecture
    path = save_model(ElemNet("8x1-1", ()), tmp_path / "m.pt")
    torch.save(ElemNet("8x1-1", ()).state_dict(), tmp_path / "state.pt")  # the weights alone, as torch saves them
    with pytest.raises(ModelFileError, match=r"state\.pt is not a hullpack ElemNet model file but a bare state_dict .*"
                                             r"hullpack\.elemnet\.save_model"):
        load_model(tmp_path / "state.pt")
    # a TorchScript archive is whole: it was called corrupt or truncated, to re-download
    torch.jit.save(torch.jit.script(torch.nn.Linear(86, 1)), tmp_path / "ts.pt")
    with pytest.raises(ModelFileError, match=r"ts\.pt is a TorchScript archive \(torch\.jit\.save\), not a hullpack "
                                             r"ElemNet model file .*screen\(torch\.jit\.load\(path\)\)"):
        load_model(tmp_path / "ts.pt")
    with pytest.raises(ValueError, match="device='nope' is not a torch device"):
        load_model(path, device="nope")
    assert next(load_model(path, device=torch.device("cpu")).parameters()).device.type == "cpu"


# -- training ----------------------------------------------------------------------------------
def _run(path, data, **kw):
    x, y = data
    settings = dict(TINY, batch_size=64, lr=2e-3, warmup_epochs=0.5, plateau_patience=1, epochs=4, seed=3)
    settings.update(kw)
    return train(path, train_data=(x[:384], y[:384]), val_data=(x[384:], y[384:]), **settings)


def test_training_lowers_the_loss(tmp_path):
    data = tiny_data()
    out = _run(tmp_path, data, epochs=12, lr=3e-3)
    hist = out["history"]
    assert hist[-1]["train_loss"] < 0.6 * hist[0]["train_loss"]
    baseline = float(np.abs(data[1][384:] - np.median(data[1][:384])).mean())
    assert out["best_val_mae"] < 0.7 * baseline
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == 12 and '"val_mae"' in lines[0]
    best = load_model(tmp_path / "best.pt")
    assert best.metadata["epoch"] == out["best_epoch"]
    assert best.metadata["val_mae"] == pytest.approx(out["best_val_mae"])


def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    data = tiny_data()
    full = _run(tmp_path / "full", data, epochs=5)
    part = _run(tmp_path / "part", data, epochs=5, stop_after=2)
    assert part["epochs_done"] == 2 and part["stopped"] == "stop_after"
    rest = _run(tmp_path / "part", data, epochs=5)
    assert rest["epochs_done"] == 5
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "part" / "last.pt", weights_only=True)
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["schedule"] == b["schedule"]
    for sa, sb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert torch.equal(sa["exp_avg"], sb["exp_avg"]) and torch.equal(sa["exp_avg_sq"], sb["exp_avg_sq"])
    strip = lambda h: [{k: v for k, v in r.items() if k not in ("epoch_s", "time", "train_samples_per_s")} for r in h]
    assert strip(full["history"]) == strip(rest["history"])
    assert len((tmp_path / "part" / "metrics.jsonl").read_text().splitlines()) == 5
    assert _run(tmp_path / "part", data, epochs=5)["epochs_done"] == 5  # finished: nothing to do
    assert _run(tmp_path / "part", data, epochs=6)["epochs_done"] == 6  # more epochs: goes on
    with pytest.raises(ValueError, match="lr: run has 0.002"):
        _run(tmp_path / "part", data, epochs=6, lr=1e-3)


def test_early_stopping_on_val(tmp_path):
    # lr so small that the weights do not move: val never improves after epoch 1
    out = _run(tmp_path, tiny_data(), epochs=50, lr=1e-30, patience=3, schedule="constant")
    assert out["stopped"] == "early_stopping" and out["epochs_done"] == 4 and out["best_epoch"] == 1
    # raising the patience lets a stopped run go on
    more = _run(tmp_path, tiny_data(), epochs=50, lr=1e-30, patience=5, schedule="constant")
    assert more["epochs_done"] == 6


def test_training_never_reads_the_test_split(tmp_path, monkeypatch):
    import hullpack.elemnet.data as data_module

    asked = []
    x, y = tiny_data(256)

    def fake(split, **kw):
        asked.append(split)
        return x, y

    monkeypatch.setattr(data_module, "oqmd_arrays", fake)
    train(tmp_path, epochs=1, batch_size=128, **TINY)
    assert asked == ["train", "val"]


def test_plateau_schedule_warmup_and_decay():
    cfg = TrainConfig(lr=1e-3, warmup_epochs=1, plateau_patience=2, plateau_factor=0.5, min_lr=2e-4)
    s = LRSchedule(cfg, steps_per_epoch=10)
    assert s.lr() == pytest.approx(1e-4)
    for _ in range(10):
        s.step()
    assert s.lr() == pytest.approx(1e-3)
    for val in (1.0, 0.9, 0.95, 0.95):  # two flat epochs: still within patience
        s.epoch_end(val)
    assert s.lr() == pytest.approx(1e-3)
    s.epoch_end(0.95)
    assert s.lr() == pytest.approx(5e-4)
    for _ in range(20):
        s.epoch_end(0.95)
    assert s.lr() == pytest.approx(2e-4)  # floor
    t = LRSchedule(cfg, 10)
    t.load_state_dict(s.state_dict())
    assert t.lr() == s.lr()
    with pytest.raises(ValueError):
        TrainConfig(schedule="step")


# -- export and the shipped default ------------------------------------------------------------
def test_export_measures_test_mae_on_the_rounded_weights(tmp_path):
    from hullpack.elemnet import export_default, oqmd_arrays
    from hullpack.elemnet.train import evaluate_mae

    _run(tmp_path / "run", tiny_data(), epochs=2)
    meta = export_default(tmp_path / "run", out=tmp_path / "default.pt")
    model = load_model(tmp_path / "default.pt")
    assert model.metadata["test_mae"] == pytest.approx(meta["test_mae"])
    assert model.metadata["epoch"] == meta["epoch"] and meta["weights_dtype"] == "float16"
    x, y = oqmd_arrays("test")
    assert meta["n_test"] == len(y) == 51251
    assert evaluate_mae(model, torch.from_numpy(x), torch.from_numpy(y)) == pytest.approx(meta["test_mae"], rel=1e-6)
    # and by number of elements, which the file records: the screen's summary quotes its order's
    from hullpack.elemnet.pretrained import model_test_errors

    by = model_test_errors(model)
    assert by == meta["test_errors_by_elements"] and sum(n for _, _, n in by.values()) == len(y)
    assert sum(mae * n for mae, _, n in by.values()) / len(y) == pytest.approx(meta["test_mae"], abs=1e-4)
    # the weights are stored in fp16
    assert read_model_file(tmp_path / "default.pt")["state_dict"]["net.0.weight"].dtype == torch.float16


def test_default_checkpoint_predicts_test_compounds():
    from hullpack.elemnet import default_path, load_pretrained

    if not default_path().is_file():
        pytest.skip(f"no default checkpoint at {default_path()} yet (export one with `hullpack train --export RUN_DIR --out default`)")
    model = load_pretrained()
    meta = model.metadata
    # the facts the README states: epoch 111, val MAE 0.0429, test MAE 0.0420 on 51,251 compositions
    assert meta["epoch"] == 111 and meta["n_test"] == 51251
    assert meta["test_mae"] == pytest.approx(0.0420, abs=5e-5) and meta["val_mae"] == pytest.approx(0.0429, abs=5e-5)
    test = load_oqmd("test").sample(200, random_state=0)
    pred = model.predict(test["formula"].tolist())
    mae = float(np.abs(pred - test["target"].to_numpy()).mean())
    assert mae < 1.5 * meta["test_mae"]  # 0.052 on this sample
    bf16 = model.predict(test["formula"].tolist(), bf16=True)
    assert np.abs(bf16 - pred).mean() < 3e-3 and np.abs(bf16 - pred).max() < 0.03  # ~1 meV, max ~6 meV
    # well-known oxides (train split): right sign and within 0.009 eV/atom of DFT
    known = {"Fe2O3": -1.650, "Fe3O4": -1.644, "FeO": -1.520}  # OQMD, eV/atom
    got = model.predict(list(known))
    assert np.abs(got - np.array(list(known.values()))).max() < 0.03


def test_shipped_default_is_pinned_byte_for_byte(tmp_path, monkeypatch):
    import hullpack.elemnet.pretrained as pretrained

    if not pretrained.default_path().is_file():
        pytest.skip("no default checkpoint")
    contents = read_model_file(pretrained.default_path())
    if contents["format_version"] != 1:
        pytest.skip("the default is a format-2 file: its own digest covers every byte")
    assert contents["file_sha256"] == pretrained.SHIPPED_V1_SHA256
    # format 1 leaves the header out of its digest: a changed drop rate loads with load_model ...
    blob = torch.load(pretrained.default_path(), weights_only=True)
    blob["dropout"] = [0.5, 0.1, 0.3, 0.2]
    torch.save(blob, tmp_path / "elemnet_default.pt")
    assert load_model(tmp_path / "elemnet_default.pt").dropout_rates[0] == 0.5
    # ... but never as the shipped default
    monkeypatch.setattr(pretrained, "default_path", lambda: tmp_path / "elemnet_default.pt")
    with pytest.raises(ModelFileError, match="not the one hullpack shipped"):
        pretrained.load_pretrained()
    # what export_default writes (format 2) needs no pin
    save_model(ElemNet("8x1-1", ()), tmp_path / "elemnet_default.pt")
    assert pretrained.load_pretrained().architecture == "8x1-1"


@pytest.mark.filterwarnings("ignore:1 of 2 compositions")
def test_cli_train_export_predict(tmp_path, capsys):
    import json

    from hullpack.cli import main

    run = tmp_path / "run"
    assert main(["-q", "train", str(run), "--architecture", "16x1D-1", "--dropout", "0.1", "--epochs", "1",
                 "--batch-size", "4096", "--lr", "1e-3"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["epochs_done"] == 1 and out["stopped"] == "epochs"
    # the shipped model is replaced only by name: --export alone writes nothing
    assert main(["-q", "train", "--export", str(run)]) == 2
    assert "--out default" in capsys.readouterr().err
    assert main(["-q", "train", "--export", str(run), "--out", str(tmp_path / "m.pt")]) == 0
    meta = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert meta["epoch"] == 1 and meta["test_mae"] > 0
    assert main(["-q", "predict", "--model", str(tmp_path / "m.pt"), "NaCl", "Xx", "--errors", "nan"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "formula,dH_eV_per_atom" and lines[2] == "Xx,nan" and lines[1].startswith("NaCl,")
    assert main(["-q", "predict", "--model", str(tmp_path / "m.pt"), "NaCl", "Xx"]) == 2
    assert "[formula 2] 'Xx'" in capsys.readouterr().err


def test_featurize_reads_a_pandas_series_as_formulas():
    pd = pytest.importorskip("pandas")
    from hullpack.elemnet import load_pretrained

    series = pd.Series(["NaCl", "Fe2O3", "AlNi"], index=[10, 11, 12])
    x = featurize(series)
    assert x.shape == (3, 86)
    np.testing.assert_array_equal(x, featurize(["NaCl", "Fe2O3", "AlNi"]))
    model = load_pretrained()
    np.testing.assert_array_equal(model.predict(series), model.predict(series.tolist()))


def test_predict_refuses_an_array_that_is_not_element_fractions():
    """Amounts (Fe2O3 as 2 and 3) or negative values in an array are named by row, never mapped to
    an energy; fractions, and the NaN rows parse_formulas gives a bad entry, are predicted."""
    model = ElemNet("8x1-1", ())
    x = featurize(["Fe2O3", "NaCl"])
    amounts = x.copy()
    amounts[0] *= 5
    with pytest.raises(ValueError, match=r"1 of 2 rows .* not element fractions .*row 0 \(sum 5\); divide each row"):
        model.predict(amounts)
    negative = x.copy()
    negative[1, :2] = [-0.5, 0.5]
    with pytest.raises(ValueError, match=r"row 1 \(sum 1, a negative value\)"):
        model.predict(negative)
    x64 = np.vstack([x, np.full((1, 86), np.nan)]).astype(np.float64)
    out = model.predict(x64)
    assert np.array_equal(out[:2], model.predict(["Fe2O3", "NaCl"])) and np.isnan(out[2])
    assert model.predict(np.round(x, 3)).shape == (2,)  # fractions rounded to 3 decimals still are fractions


def test_other_unit_names_elemnet_only_where_elemnet_is_involved():
    """hullpack stability's messages about a user's DFT energies said "ElemNet's formation energies",
    where no model is involved."""
    from hullpack.elemnet.data import other_unit

    assert other_unit(-1.5) is None and other_unit(-1.5, elemnet=False) is None
    assert other_unit(-1399.0) == ("another unit (meV/atom, kJ/mol)? ElemNet's formation energies lie within "
                                   "-20..5 eV/atom.")
    plain = other_unit(-1399.0, elemnet=False)
    assert plain == "another unit (meV/atom, kJ/mol)? Formation energies lie within -20..5 eV/atom."
    assert "ElemNet" not in other_unit(6.0, elemnet=False)
