"""A run killed with SIGKILL at a random moment (checkpoint writes included) resumes to the same result."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from provgan.train import checkpoint as ckpt

from conftest import FAST_OVERRIDES  # noqa: E402  (tests/train is on sys.path via rootdir conftest)


def _train_cmd(store: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "provgan", "train", "--config", "tiny", "--data", str(store), "--out", str(out),
            "--quiet", *FAST_OVERRIDES, "run.metrics_kimg=0.016", "run.metrics_num=8", *extra]


def _metric_rows(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]
    return [r for r in rows if any(k.startswith("Metrics/") for k in r)]


def _final_models(run: Path) -> dict:
    return ckpt.read_checkpoint(ckpt.list_checkpoints(run)[-1])["models"]


def test_kill_9_then_resume_matches_unbroken_run(tiny_store, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    subprocess.run(_train_cmd(tiny_store, tmp_path / "whole"), check=True, env=env, capture_output=True)
    rng = random.Random()
    broken = tmp_path / "broken"
    kills = 0
    for attempt in range(3):  # kill up to three times at random moments, then let it finish
        proc = subprocess.Popen(_train_cmd(tiny_store, broken, "--resume", "auto"), env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # wait until it is training (a checkpoint exists or has started) and then kill at a random moment
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None and not list(broken.glob("*ckpt-*")):
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.5))  # well inside the ~3 s the rest of the run takes
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    done = subprocess.run(_train_cmd(tiny_store, broken, "--resume", "auto"), env=env, capture_output=True,
                          text=True)
    assert kills >= 1 and done.returncode == 0, (kills, done.stderr[-2000:])
    assert not list(broken.glob(".ckpt-*.tmp-*"))  # no temporary file survives a finished run
    # quality rows: the same kimg and values, none twice (rows past the resumed checkpoint are rewritten)
    whole_rows, broken_rows = _metric_rows(tmp_path / "whole"), _metric_rows(broken)
    assert len(whole_rows) >= 5 and whole_rows == broken_rows
    a, b = _final_models(tmp_path / "whole"), _final_models(broken)
    for net in a:
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), (net, key, kills)


_WRITER = """
import sys, torch
from pathlib import Path
from provgan.train.checkpoint import save_checkpoint
run = Path(sys.argv[1])
save_checkpoint({"big": torch.zeros(1)}, run, 1000, keep=5)
print("ready", flush=True)
i = 2
while True:  # large writes, so the kill lands inside one
    save_checkpoint({"big": torch.full((8_000_000,), float(i))}, run, 1000 * i, keep=5)
    i += 1
"""


def test_kill_during_checkpoint_write_keeps_previous(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(random.uniform(0.2, 0.8))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    files = ckpt.list_checkpoints(tmp_path)
    assert files, "the first checkpoint must survive"
    for path in files:  # every finished name loads; partial writes only exist as hidden temp files
        data = ckpt.read_checkpoint(path)
        assert data["big"].numel() in (1, 8_000_000)
    latest = ckpt.latest_checkpoint(tmp_path)
    assert latest is not None and latest[0] == files[-1]
