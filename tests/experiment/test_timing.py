"""The dry-run's training estimate counts what a run writes besides training steps."""

import pytest

from provgan.config import load_config
from provgan.experiment import timing
from provgan.train.loop import Trainer
from provgan.train.quality import QualityProbe

from conftest import FAST_OVERRIDES  # noqa: E402


def _tiny(metrics_kimg: float):
    # levels 4x4x4 (0-16 clips) and 4x8x8 (fade 16-32, stable 32-80); a checkpoint every 8 clips, a grid every 40
    return load_config("tiny", FAST_OVERRIDES + ["run.precision=fp32", "run.device=cpu",
                                                 f"run.metrics_kimg={metrics_kimg}"])


def test_output_seconds_follow_the_cadence_and_the_level_ends():
    costs = timing.OutputCosts(snapshot=1.0, samples={0: 10.0, 1: 100.0}, measure={0: 1e3, 1: 1e4})
    by_cadence = 80 / 8 * 1 + 16 / 40 * 10 + 64 / 40 * 100 + 16 / 40 * 1e3 + 64 / 40 * 1e4
    level_0_ends = 10 + 1e3
    run_ends = 2 * 100 + 1e4 + 1
    assert timing.output_seconds(_tiny(0.04), costs) == pytest.approx(by_cadence + level_0_ends + run_ends)
    quiet = timing.OutputCosts(snapshot=1.0, samples={0: 10.0, 1: 100.0}, measure={})
    assert timing.output_seconds(_tiny(0.0), quiet) == pytest.approx(10 + 4 + 160 + 10 + 200 + 1)


@pytest.mark.parametrize("metrics_kimg", [0.0, 0.04])
def test_the_timed_estimate_writes_each_output_once_per_level(exp_store, monkeypatch, metrics_kimg):
    calls = []
    for owner, name in ((Trainer, "snapshot"), (Trainer, "samples"), (QualityProbe, "measure")):
        original = getattr(owner, name)
        monkeypatch.setattr(owner, name, lambda self, *a, _n=name, _f=original: (calls.append(_n), _f(self, *a))[1])
    assert timing.time_training(_tiny(metrics_kimg), exp_store, steps=1) > 0
    assert sorted(calls) == ["measure"] * (2 if metrics_kimg else 0) + ["samples"] * 2 + ["snapshot"]
