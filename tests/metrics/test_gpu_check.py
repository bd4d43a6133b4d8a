"""benchmarks/gpu_check.py: says "no CUDA device" and exits 0 without a GPU; its per-level part runs."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the check would run for real")
def test_without_cuda_it_says_so_and_exits_0():
    done = subprocess.run([sys.executable, str(BENCH / "gpu_check.py")], capture_output=True, text=True,
                          timeout=120, env={"CUDA_VISIBLE_DEVICES": "", "PATH": "/usr/bin:/bin",
                                            "PYTHONPATH": str(BENCH.parent / "src")})
    assert done.returncode == 0, done.stderr
    assert "no CUDA device" in done.stdout


def test_level_rows_measure_every_level_of_a_preset_on_cpu(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import gpu_check

    rows = gpu_check.level_rows("tiny", 1, time.monotonic() + 120, torch.device("cpu"), "fp32")
    assert [r["level"] for r in rows] == [0, 1, 2]
    for r in rows:
        assert r["s_step"] > 0 and r["clips_s"] == pytest.approx(r["batch"] / r["s_step"])
        assert r["level_hours"] > 0
    assert gpu_check.level_rows("tiny", 1, time.monotonic() - 1, torch.device("cpu"))[0]["note"].startswith("skipped")


def test_torchrun_check_trains_and_reports(monkeypatch):
    """The torchrun part on the CPU (gloo): the same command line the GPU run uses, with device cpu."""
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.setenv("PYTHONPATH", str(BENCH.parent / "src"))
    import gpu_check

    result = gpu_check.torchrun_check(300, device="cpu", precision="fp32", kimg=0.04)
    assert result.startswith("ok: gloo"), result
