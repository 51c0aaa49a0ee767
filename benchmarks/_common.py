"""What every benchmark script shares: the machine record and where results go.

Results go to benchmarks/results/<name>.json; set HULLPACK_BENCH_RESULTS to write them elsewhere
(e.g. for a trial run that must not replace the recorded figures).
"""
from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

RESULTS = Path(os.environ.get("HULLPACK_BENCH_RESULTS", Path(__file__).resolve().parent / "results"))


def _cpu() -> dict:
    """The CPU's model name, family and model numbers, its widest vector instructions (AVX-512,
    AVX2+FMA) and its bf16 matrix instructions (AMX, AVX-512 BF16 or neither), from /proc/cpuinfo
    where there is one: the fp32 and bf16 figures depend on them."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), "")
    flags = set(next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []))
    bf16 = "amx" if "amx_bf16" in flags else "avx512_bf16" if "avx512_bf16" in flags else "none"
    vector = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags and "fma" in flags else "other"

    def number(key: str) -> int | None:  # family and model tell CPU generations apart ("AMD EPYC" does not)
        line = next((line for line in text.splitlines() if line.split(":", 1)[0].strip() == key), None)
        return int(line.split(":", 1)[1]) if line and line.split(":", 1)[1].strip().isdigit() else None

    return {"cpu_model": model, "cpu_family": number("cpu family"), "cpu_model_number": number("model"),
            "cpu_vector": vector, "cpu_bf16": bf16}


def machine() -> dict:
    """The machine and build a result was measured on, and how busy the machine was."""
    import torch

    from hullpack import build_info

    record = {"platform": platform.platform(), "cpu": platform.processor() or platform.machine(),
              "cpus": os.cpu_count(), "load_average": list(os.getloadavg()), "torch": torch.__version__,
              "torch_threads": torch.get_num_threads(), "hullpack": build_info(), **_cpu()}
    if torch.cuda.is_available():
        record["gpu"] = torch.cuda.get_device_name(0)
        record["cuda"] = torch.version.cuda
    return record


def save(name: str, result: dict) -> Path:
    """Write ``result`` with the command line and the machine record to RESULTS/<name>.json."""
    out = RESULTS / f"{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"benchmark": name, "command": " ".join(["python", *sys.argv]), "machine": machine(), **result}
    out.write_text(json.dumps(record, indent=1, default=float) + "\n")
    return out
