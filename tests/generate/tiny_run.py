"""One tiny trained run per test session, shared by the generate and report tests.

Three levels of the tiny plan (4x4x4, 4x8x8, 8x16x16), 10 steps of batch 4: a few seconds on a
CPU. The run is built once under pytest's session base folder and reused by both test folders.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# 8 clips (2 steps of 4) stable per level and 8 per fade; a checkpoint every 8 clips (all kept); 3 levels.
FAST_OVERRIDES = ["schedule.stable_kimg=0.008", "schedule.fade_kimg=0.008", "schedule.total_kimg=0.04",
                  "schedule.minibatch_default=4", "run.snapshot_kimg=0.008", "run.sample_kimg=0.02",
                  "run.keep_checkpoints=20", "run.log_every_steps=2", "model.g_channels=[8,8,8]"]


@dataclass(frozen=True)
class TinyRun:
    run: Path
    store: Path


def tiny_run(base: Path) -> TinyRun:
    """Prepare a 48-clip moving-digits store and train the tiny config on it (once per session)."""
    import torch

    from provgan.config import load_config
    from provgan.data.prepare import prepare_builtin
    from provgan.shard import Shard
    from provgan.train.distributed import DistContext
    from provgan.train.loop import run_training

    root = base / "provgan-tiny-run"
    result = TinyRun(root / "run", root / "store")
    if (root / "done").is_file():
        return result
    prepare_builtin("moving-digits", result.store, "tiny", num_clips=48, seed=1)
    run_training(load_config("tiny", FAST_OVERRIDES), result.store, result.run,
                 DistContext(Shard(), torch.device("cpu"), 0), show_progress=False)
    (root / "done").touch()
    return result
