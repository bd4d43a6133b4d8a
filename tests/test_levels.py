import math

import pytest
import torch

from provgan.config import ScheduleConfig, load_config
from provgan.errors import ConfigError
from provgan.levels import (adam_reset_due, fade, fade_reals, growth_factor, kimg_to_reach, level_reached,
                            level_timeline, position_at)
from provgan.nn.layers import downsample, upsample

PLAN = load_config("thesis-256").model.plan
SCHED = load_config("thesis-256").schedule


@pytest.mark.parametrize("kimg, level, alpha", [
    (0, 0, 1.0), (599.9, 0, 1.0), (600, 1, 0.0), (900, 1, 0.5), (1200, 1, 1.0), (1799, 1, 1.0),
    (2100, 2, 0.5), (6600, 6, 0.0), (6900, 6, 0.5), (7200, 6, 1.0), (11999, 6, 1.0), (50000, 6, 1.0),
])
def test_position_matches_pggan_formula(kimg, level, alpha):
    pos = position_at(kimg, PLAN, SCHED)
    assert pos.level == level
    assert pos.alpha == pytest.approx(alpha)
    # PGGAN: lod = L - 1 - phase - clamp((phase_kimg - stable) / fade, 0, 1), floored at 0
    phase = math.floor(kimg / 1200)
    lod = len(PLAN) - 1 - phase - min(max((kimg - phase * 1200 - 600) / 600, 0), 1)
    assert pos.lod == pytest.approx(max(lod, 0))


def test_minibatch_and_lr_follow_level_resolution():
    assert position_at(0, PLAN, SCHED).minibatch == 32
    assert position_at(2500, PLAN, SCHED).minibatch == 16  # 16x16 level stable
    pos = position_at(5700, PLAN, SCHED)  # fading in 128x128
    assert (pos.level, pos.minibatch, pos.lr) == (5, 8, 1.5e-3)
    assert position_at(7300, PLAN, SCHED).minibatch == 4


def test_adam_reset_exactly_at_fade_start_and_end():
    sched = ScheduleConfig(stable_kimg=1, fade_kimg=1, total_kimg=10)
    plan = PLAN[:3]
    kimgs = [i * 0.25 for i in range(41)]
    resets = [kimgs[i] for i in range(1, len(kimgs))
              if adam_reset_due(position_at(kimgs[i - 1], plan, sched), position_at(kimgs[i], plan, sched))]
    assert resets == [1.0, 2.0, 3.0, 4.0]


def test_timeline_and_growth_factor():
    rows = level_timeline(PLAN, SCHED)
    assert rows[1] == (1, 600, 1200, 1800) and rows[-1][3] == 12000
    assert growth_factor(PLAN, 1) == (2, 2, 2) and growth_factor(PLAN, 2) == (1, 2, 2)
    with pytest.raises(ValueError):
        growth_factor(PLAN, 0)


def test_per_resolution_phase_lengths():
    plan = load_config("digits-32").model.plan  # H = 4, 8, 16, 32
    sched = ScheduleConfig(stable_kimg=8, fade_kimg=8, total_kimg=60, stable={4: 2, 16: 20}, fade={8: 4})
    # level 0 stable 0-2; level 1 fades 2-6, stable 6-14; level 2 fades 14-22, stable 22-42; level 3 fades 42-50
    assert level_timeline(plan, sched) == [(0, 0, 0, 2), (1, 2, 6, 14), (2, 14, 22, 42), (3, 42, 50, 60)]
    assert kimg_to_reach(plan, sched, 3) == 50
    for kimg, level, alpha in [(1.999, 0, 1.0), (2, 1, 0.0), (4, 1, 0.5), (6, 1, 1.0), (18, 2, 0.5),
                               (41.999, 2, 1.0), (46, 3, 0.5), (70, 3, 1.0)]:
        pos = position_at(kimg, plan, sched)
        assert (pos.level, pos.alpha) == (level, pytest.approx(alpha)), kimg
    # without the tables the lengths are the global ones, as in PGGAN
    plain = ScheduleConfig(stable_kimg=8, fade_kimg=8, total_kimg=52)
    assert level_timeline(plan, plain) == [(0, 0, 0, 8), (1, 8, 16, 24), (2, 24, 32, 40), (3, 40, 48, 52)]


def test_phase_boundaries_have_no_float_drift():
    sched = ScheduleConfig(stable_kimg=0.064, fade_kimg=0.064, total_kimg=1)
    plan = PLAN[:4]
    for level, fade_start, stable, _ in level_timeline(plan, sched)[1:]:
        assert position_at(fade_start, plan, sched).phase == (level, True)
        assert position_at(stable, plan, sched).phase == (level, False)
        assert position_at(fade_start, plan, sched).alpha == 0.0


def test_per_resolution_table_must_name_plan_resolutions():
    with pytest.raises(ConfigError, match=r"schedule.stable has resolution\(s\) \[64\]"):
        load_config("digits-32", ["schedule.stable={64: 3}"])
    with pytest.raises(ConfigError, match="schedule.fade values"):
        load_config("digits-32", ["schedule.fade={8: -1}"])


def test_fade_endpoints_are_exact():
    a, b = torch.randn(2, 3), torch.randn(2, 3)
    assert torch.equal(fade(a, b, 0.0), a) and torch.equal(fade(a, b, 1.0), b)
    assert torch.allclose(fade(a, b, 0.25), 0.75 * a + 0.25 * b)


@pytest.mark.parametrize("factor", [(2, 2, 2), (1, 2, 2)])
def test_fade_reals_blends_with_the_levels_own_factor(factor):
    x = torch.randn(2, 3, 8, 8, 8)
    blurred = upsample(downsample(x, factor), factor)
    assert torch.equal(fade_reals(x, factor, 1.0), x)
    assert torch.allclose(fade_reals(x, factor, 0.0), blurred)
    assert torch.allclose(fade_reals(x, factor, 0.3), 0.7 * blurred + 0.3 * x, atol=1e-6)
    if factor[0] == 1:  # no temporal blur where time is not doubled
        assert torch.allclose(blurred[:, :, 0], upsample(downsample(x[:, :, :1], factor), factor)[:, :, 0])


def test_demo_preset_reaches_its_top_level_at_full_strength():
    """`make demo` promises samples from the 16x32x32 level itself, not a half-faded one."""
    cfg = load_config("digits-32")
    plan, sched = cfg.model.plan, cfg.schedule
    top = len(plan) - 1
    assert kimg_to_reach(plan, sched, top) <= sched.total_kimg
    end = position_at(sched.total_kimg, plan, sched)
    assert (end.level, end.alpha) == (top, 1.0)


def test_level_reached_after_the_last_step():
    plan, sched = PLAN[:3], ScheduleConfig(stable_kimg=1, fade_kimg=1, total_kimg=10)
    # level 1 fades in over 1000-2000 clips; a last step at 1900 (alpha 0.9) of batch 100 completes it
    assert level_reached(plan, sched, 2000, 1, 0.9) == (1, 1.0)
    # mid-fade: the schedule's alpha after the step, not the step's own
    assert level_reached(plan, sched, 1500, 1, 0.4) == (1, 0.5)
    # ended exactly where level 2 would start fading in: level 2 was never trained
    assert level_reached(plan, sched, 3000, 1, 1.0) == (1, 1.0)
