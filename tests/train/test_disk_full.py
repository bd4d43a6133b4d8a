"""A full disk during training costs one line: checkpoint, sample grid and the ``train`` command, each under
a real file-size limit (``RLIMIT_FSIZE`` with SIGXFSZ ignored, so writes fail as on a full disk)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from provgan.train import checkpoint as ckpt

from conftest import FAST_OVERRIDES  # noqa: E402

PRELUDE = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
"""


def run_limited(code: str, limit: int, *args: str) -> subprocess.CompletedProcess:
    """Run Python ``code`` with every file capped at ``limit`` bytes; ProvganError is printed as the CLI does."""
    wrapped = PRELUDE.format(limit=limit) + (
        "from provgan.errors import ProvganError\n"
        "try:\n" + "".join(f"    {line}\n" for line in code.strip().splitlines()) +
        "except ProvganError as exc:\n    print('error:', exc, file=sys.stderr)\n    sys.exit(2)\n")
    return subprocess.run([sys.executable, "-c", wrapped, *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))


def _one_line(done: subprocess.CompletedProcess, folder: Path) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, done.stderr[-3000:]
    assert lines[0].startswith(f"error: disk full in {folder}") and " needs " in lines[0] and " free" in lines[0]
    return lines[0]


def test_checkpoint_on_full_disk_keeps_previous_one(tmp_path):
    done = run_limited(f"""
import torch
from pathlib import Path
from provgan.train.checkpoint import save_checkpoint
run = Path({str(tmp_path)!r})
save_checkpoint({{"w": torch.ones(1000)}}, run, 1000, keep=5)
save_checkpoint({{"w": torch.ones(1_000_000)}}, run, 2000, keep=5)
""", 200_000)
    line = _one_line(done, tmp_path)
    assert "ckpt-000002.pt needs 4.1 MB" in line and "limited to 200.0 kB by ulimit -f" in line
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt-000001.pt"]  # no temp file left
    assert torch.equal(ckpt.read_checkpoint(tmp_path / "ckpt-000001.pt")["w"], torch.ones(1000))


def test_sample_grid_on_full_disk_is_one_line(tmp_path):
    done = run_limited(f"""
import torch
from pathlib import Path
from provgan.config import load_config
from provgan.nn import Generator
from provgan.train.samples import write_sample_grid
torch.manual_seed(0)
model = load_config("tiny").model
write_sample_grid(Generator(model).eval(), torch.randn(16, model.latent_dim), 2, 1.0, 4, 4,
                  Path({str(tmp_path)!r}) / "fakes")
""", 30_000)
    assert "fakes.mp4 needs more space than is left" in _one_line(done, tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_train_on_full_disk_prints_one_line(tiny_store, tmp_path):
    run = tmp_path / "run"
    code = "from provgan.cli import main\nmain(sys.argv[1:])"
    done = run_limited(code, 40_000, "train", "--config", "tiny", "--data", str(tiny_store), "--out", str(run),
                       "--quiet", *FAST_OVERRIDES)
    line = _one_line(done, run)
    assert "ckpt-000000.008.pt needs" in line and "choose an output folder" in line
    assert not list(run.glob(".*tmp*")) and not ckpt.list_checkpoints(run)
