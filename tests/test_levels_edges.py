"""Level plans and the fade at their edges: exact error lines, integer growth factors, the fade's
endpoints returning their input itself, dtype promotion, and per-resolution tables keyed by H.

tests/test_levels.py checks the schedule against PGGAN's formula; these close what a mutation run
found it left open (README "Mutation testing").
"""

import pytest
import torch

from provgan.config import ScheduleConfig
from provgan.errors import ConfigError
from provgan.levels import fade, fade_reals, growth_factor, level_timeline, position_at, validate_plan


@pytest.mark.parametrize("plan, message", [
    ([], "model.plan is empty: give at least one (T, H, W) level"),
    ([[4, 4]], "model.plan[0] = [4, 4] is not a positive (T, H, W) shape"),
    ([[4, 4, 4], [4, 0, 8]], "model.plan[1] = [4, 0, 8] is not a positive (T, H, W) shape"),
    ([[4, 4, 4], [4, 4, 4]], "model.plan step 1: [4, 4, 4] -> [4, 4, 4] must double H and W (expected H=8, W=8)"),
    ([[4, 4, 6], [4, 8, 6]], "model.plan step 1: [4, 4, 6] -> [4, 8, 6] must double H and W (expected H=8, W=12)"),
    ([[2, 4, 4], [2, 8, 8], [6, 16, 16]],
     "model.plan step 2: [2, 8, 8] -> [6, 16, 16] must keep T or double it (T=2 or T=4, got 6)"),
])
def test_bad_plans_are_one_exact_line(plan, message):
    with pytest.raises(ConfigError) as err:
        validate_plan(plan)
    assert str(err.value) == message


def test_a_plan_may_start_at_one_frame_and_one_pixel():
    assert validate_plan([[1, 1, 1], [1, 2, 2], [2, 4, 4]]) == ((1, 1, 1), (1, 2, 2), (2, 4, 4))


def test_growth_factors_are_integers_per_axis():
    plan = ((2, 4, 6), (2, 8, 12), (4, 16, 24))
    for level, want in ((1, (1, 2, 2)), (2, (2, 2, 2))):
        got = growth_factor(plan, level)
        assert got == want and all(type(v) is int for v in got)
    with pytest.raises(ValueError, match=r"^level 3 has no predecessor in a 3-level plan$"):
        growth_factor(plan, 3)


def test_fade_endpoints_return_their_input_itself_and_alpha_above_one_is_new():
    old, new = torch.zeros(3), torch.ones(3)
    assert fade(old, new, 1.0) is new and fade(old, new, 1.5) is new
    assert fade(old, new, 0.0) is old and fade(old, new, -0.5) is old
    assert torch.allclose(fade(old, new, 0.25), torch.full((3,), 0.25))
    clips = torch.rand(1, 3, 2, 4, 4)
    assert fade_reals(clips, (1, 2, 2), 1.0) is clips and fade_reals(clips, (1, 2, 2), 1.5) is clips


def test_fade_promotes_mixed_dtypes_as_autocast_leaves_them():
    old, new = torch.full((2,), 1.0, dtype=torch.bfloat16), torch.full((2,), 3.0)
    for a, b in ((old, new), (new, old)):
        out = fade(a, b, 0.5)
        assert out.dtype == torch.float32 and torch.allclose(out, torch.full((2,), 2.0))


def test_per_resolution_tables_are_keyed_by_height_not_width():
    plan = ((4, 4, 8), (4, 8, 16))  # H = 4, 8; W = 8, 16
    sched = ScheduleConfig(stable_kimg=5, fade_kimg=5, total_kimg=30, stable={4: 1}, fade={8: 2},
                           minibatch={8: 3}, minibatch_default=7, lr={4: 0.5}, lr_default=0.1)
    assert level_timeline(plan, sched) == [(0, 0, 0, 1), (1, 1, 3, 30)]
    first, second = position_at(0.5, plan, sched), position_at(2, plan, sched)
    assert (first.level, first.minibatch, first.lr, first.kimg) == (0, 7, 0.5, 0.5)
    assert (second.level, second.alpha, second.minibatch, second.lr, second.kimg) == (1, 0.5, 3, 0.1, 2)
