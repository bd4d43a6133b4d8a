"""Each baseline trains through the real train loop, checkpoints, and resumes exactly after a SIGKILL:
several critics and optimizers (RMSprop, Adam with weight decay) in one checkpoint."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from provgan.train import checkpoint as ckpt

STEPS = 8  # at minibatch 4


@pytest.fixture(scope="module")
def clip_store(tmp_path_factory) -> Path:
    """Moving digits at the baselines' digits shape, 16x32x32 (16 clips)."""
    from provgan.data.prepare import prepare_builtin

    out = tmp_path_factory.mktemp("store16") / "digits"
    prepare_builtin("moving-digits", out, [[16, 32, 32]], num_clips=16, seed=2)
    return out


def _cmd(arch: str, store: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "provgan", "train", "--config", f"{arch}-digits", "--data", str(store),
            "--out", str(out), "--quiet", "model.width=0.0625", f"schedule.total_kimg={STEPS * 4 / 1000}",
            "schedule.minibatch_default=4", "run.snapshot_kimg=0.004", f"run.sample_kimg={STEPS * 4 / 1000}",
            "run.metrics_kimg=0", "run.keep_checkpoints=20", "run.sample_grid=[1,2]", *extra]


def _last(run: Path) -> dict:
    return ckpt.read_checkpoint(ckpt.list_checkpoints(run)[-1])


@pytest.mark.parametrize("arch,nets", [("vgan", {"G", "D"}), ("tgan", {"G", "D"}),
                                       ("mocogan", {"G", "D_image", "D_video"})])
def test_baseline_trains_checkpoints_and_resumes_exactly_after_a_kill(arch, nets, clip_store, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(_cmd(arch, clip_store, tmp_path / "whole"), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    broken = tmp_path / "broken"
    proc = subprocess.Popen(_cmd(arch, clip_store, broken), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not ckpt.list_checkpoints(broken):
        time.sleep(0.01)
    killed = proc.poll() is None
    if killed:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert killed, "the run ended before the kill"
    assert 0 < len(ckpt.list_checkpoints(broken))
    resumed = subprocess.run(_cmd(arch, clip_store, broken, "--resume", "auto"), env=env, capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = _last(tmp_path / "whole"), _last(broken)
    assert a["position"]["step"] == b["position"]["step"] == STEPS
    assert set(a["optimizers"]) == nets and set(a["models"]) == nets | {"G_ema"}
    for net in a["models"]:
        for key, value in a["models"][net].items():
            assert torch.equal(value, b["models"][net][key]), (net, key)
    for name, state in a["optimizers"].items():
        for pid, moments in state["state"].items():
            for key, value in moments.items():
                assert torch.equal(torch.as_tensor(value), torch.as_tensor(b["optimizers"][name]["state"][pid][key])), \
                    (name, pid, key)
    assert (tmp_path / "whole" / "samples").is_dir()


def test_a_baseline_under_several_processes_is_refused_with_one_line(clip_store, tmp_path):
    from provgan.config import load_config
    from provgan.errors import ProvganError
    from provgan.shard import Shard
    from provgan.train.distributed import DistContext
    from provgan.train.loop import Trainer

    cfg = load_config("mocogan-digits", ["model.width=0.0625", "run.metrics_kimg=0"])
    with pytest.raises(ProvganError, match="mocogan trains in one process only"):
        Trainer(cfg, clip_store, tmp_path / "run", DistContext(Shard(0, 2), torch.device("cpu"), 0))
