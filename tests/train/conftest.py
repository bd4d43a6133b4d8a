from pathlib import Path

import pytest

# Small, fast runs: levels 0 and 1 of the tiny plan, batch 4; ~20 steps.
FAST_OVERRIDES = ["schedule.stable_kimg=0.016", "schedule.fade_kimg=0.016", "schedule.total_kimg=0.08",
        "schedule.minibatch_default=4", "run.snapshot_kimg=0.008", "run.sample_kimg=0.04",
        "run.keep_checkpoints=20", "run.log_every_steps=2", "model.plan=[[4,4,4],[4,8,8]]",
        "model.g_channels=[8,8]"]


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory) -> Path:
    """A moving-digits store with the tiny plan's shapes (48 clips)."""
    from provgan.data.prepare import prepare_builtin

    out = tmp_path_factory.mktemp("store") / "digits"
    prepare_builtin("moving-digits", out, "tiny", num_clips=48, seed=1)
    return out


@pytest.fixture
def fast_cfg():
    """Build the fast tiny config with extra overrides."""
    from provgan.config import load_config

    return lambda *extra: load_config("tiny", FAST_OVERRIDES + list(extra))
