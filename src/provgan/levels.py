"""Level plans and the progressive-growing schedule, as pure functions.

A *level plan* lists clip shapes (T, H, W) from the smallest (4x4x4) to the target; each step doubles
H and W and doubles T or keeps it (thesis §4.1, Table A.1). The schedule maps the number of clips
shown (in kimg) to a :class:`Position` as PGGAN's ``TrainingSchedule`` does: each level is trained
``stable_kimg`` at full strength, then the next level is faded in over ``fade_kimg`` with alpha going
linearly from 0 to 1, and the last level stays stable until the end. Unlike PGGAN, a level's lengths
may be set per resolution (``schedule.stable`` / ``schedule.fade``).

The fade itself (§4.1) lives here too, so a reader finds it in one place:
``fade(old, new, alpha) = (1 - alpha) * old + alpha * new``; the networks call it for G's output and
D's input, and :func:`fade_reals` blends the real clips the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from provgan.config import ScheduleConfig, Shape
from provgan.errors import ConfigError


def validate_plan(plan: Sequence[Sequence[int]]) -> tuple[Shape, ...]:
    """Return the plan as a tuple of (T, H, W) or raise one ConfigError saying which step is wrong."""
    shapes = tuple(tuple(int(v) for v in s) for s in plan)
    if not shapes:
        raise ConfigError("model.plan is empty: give at least one (T, H, W) level")
    for i, s in enumerate(shapes):
        if len(s) != 3 or min(s) < 1:
            raise ConfigError(f"model.plan[{i}] = {list(s)} is not a positive (T, H, W) shape")
    for i in range(1, len(shapes)):
        (t0, h0, w0), (t1, h1, w1) = shapes[i - 1], shapes[i]
        if h1 != 2 * h0 or w1 != 2 * w0:
            raise ConfigError(f"model.plan step {i}: {list(shapes[i - 1])} -> {list(shapes[i])} must "
                              f"double H and W (expected H={2 * h0}, W={2 * w0})")
        if t1 not in (t0, 2 * t0):
            raise ConfigError(f"model.plan step {i}: {list(shapes[i - 1])} -> {list(shapes[i])} must "
                              f"keep T or double it (T={t0} or T={2 * t0}, got {t1})")
    return shapes  # type: ignore[return-value]


def growth_factor(plan: Sequence[Shape], level: int) -> Shape:
    """(tT, 2, 2): how level ``level`` is obtained from level ``level - 1`` by upsampling."""
    if not 1 <= level < len(plan):
        raise ValueError(f"level {level} has no predecessor in a {len(plan)}-level plan")
    return (plan[level][0] // plan[level - 1][0], plan[level][1] // plan[level - 1][1],
            plan[level][2] // plan[level - 1][2])


# ---------------------------------------------------------------------------------------------
# the schedule


@dataclass(frozen=True)
class Position:
    """Where training is: the level being trained, its fade-in weight, and that level's settings."""

    kimg: float
    level: int  # index into the plan of the highest level in use
    alpha: float  # 1.0 when stable, in [0, 1) while the level is faded in
    minibatch: int
    lr: float
    num_levels: int

    @property
    def fading(self) -> bool:
        return self.alpha < 1.0

    @property
    def lod(self) -> float:
        """PGGAN's level of detail: 0 at the top level; fractional during a fade."""
        return (self.num_levels - 1 - self.level) + (1.0 - self.alpha)

    @property
    def phase(self) -> tuple[int, bool]:
        """Identifies a phase (level, fading); Adam is reset when it changes (PGGAN)."""
        return (self.level, self.fading)


def level_setting(table: dict[int, float] | dict[int, int], default: float, resolution: int) -> float:
    return table.get(resolution, default)


@dataclass(frozen=True)
class LevelSpan:
    """When a level is in use, in clips shown: faded in over [fade_start, stable_start), stable until end."""

    level: int
    fade_start: int
    stable_start: int
    end: int


def level_spans(plan: Sequence[Shape], sched: ScheduleConfig) -> tuple[LevelSpan, ...]:
    """The schedule's phases laid end to end, in whole clips (exact: no float drift at boundaries).

    Level 0 is stable for its ``stable`` kimg; every further level fades in over its ``fade`` kimg,
    then is stable for its ``stable`` kimg; the last level stays stable until ``total_kimg``. A
    level's lengths come from ``schedule.stable`` / ``schedule.fade`` keyed by its resolution H,
    else ``stable_kimg`` / ``fade_kimg`` (one length for every level, as in PGGAN).
    """
    spans, cursor = [], 0
    for level, shape in enumerate(plan):
        fade = 0 if level == 0 else _clips(level_setting(dict(sched.fade), sched.fade_kimg, shape[1]))
        stable = _clips(level_setting(dict(sched.stable), sched.stable_kimg, shape[1]))
        start = cursor
        cursor += fade
        end = max(_clips(sched.total_kimg), cursor) if level == len(plan) - 1 else cursor + stable
        spans.append(LevelSpan(level, start, cursor, end))
        cursor = end
    return tuple(spans)


def _clips(kimg: float) -> int:
    return int(round(kimg * 1000))


def position_at(kimg: float, plan: Sequence[Shape], sched: ScheduleConfig) -> Position:
    """The schedule as a pure function of clips shown (PGGAN ``TrainingSchedule``, per level of the plan).

    Level ``L`` is stable for its stable length, then level ``L + 1`` fades in with alpha rising
    linearly from 0 to 1 over its fade length (:func:`level_spans`). Minibatch and lr follow the level
    in use (during a fade, the new level), keyed by its spatial resolution H.
    """
    nimg = kimg * 1000
    spans = level_spans(plan, sched)
    span = next((s for s in spans if nimg < s.end), spans[-1])
    level = span.level
    if nimg < span.stable_start:
        alpha = (nimg - span.fade_start) / (span.stable_start - span.fade_start)
    else:
        alpha = 1.0
    res = plan[level][1]
    minibatch = int(level_setting(dict(sched.minibatch), sched.minibatch_default, res))
    lr = float(level_setting(dict(sched.lr), sched.lr_default, res))
    return Position(kimg=kimg, level=level, alpha=alpha, minibatch=minibatch, lr=lr,
                    num_levels=len(plan))


def level_timeline(plan: Sequence[Shape], sched: ScheduleConfig) -> list[tuple[int, float, float, float]]:
    """Per level: (level, kimg when its fade-in starts, kimg when it is stable, kimg when it ends)."""
    return [(s.level, s.fade_start / 1000, s.stable_start / 1000, s.end / 1000) for s in level_spans(plan, sched)]


def kimg_to_reach(plan: Sequence[Shape], sched: ScheduleConfig, level: int) -> float:
    """kimg at which ``level`` becomes stable (alpha = 1)."""
    return level_spans(plan, sched)[level].stable_start / 1000


def level_reached(plan: Sequence[Shape], sched: ScheduleConfig, nimg: int, trained_level: int,
                  trained_alpha: float) -> tuple[int, float]:
    """(level, alpha) a run stands at after its last step, which trained ``trained_level`` at ``trained_alpha``.

    The schedule at ``nimg`` has moved on from that step: a fade that completed on it leaves its level
    at alpha 1. When ``nimg`` is exactly where the next level would start, that level was never
    trained, so the run stays at the level its last step trained.
    """
    now = position_at(nimg / 1000, plan, sched)
    if now.level == trained_level:
        return now.level, now.alpha
    return trained_level, trained_alpha


def adam_reset_due(previous: Position, current: Position) -> bool:
    """True when a fade starts or ends between two positions (PGGAN resets Adam then).

    PGGAN tests floor/ceil of lod, which fires one step after alpha leaves 0; comparing the phase
    (level, fading) fires at the boundary itself.
    """
    return previous.phase != current.phase


# ---------------------------------------------------------------------------------------------
# the fade-in (§4.1)


def fade(old: torch.Tensor, new: torch.Tensor, alpha: float) -> torch.Tensor:
    """``(1 - alpha) * old + alpha * new``; exactly ``new`` at alpha = 1 and ``old`` at alpha = 0."""
    if alpha >= 1.0:
        return new
    if alpha <= 0.0:
        return old
    dtype = torch.promote_types(old.dtype, new.dtype)  # under autocast the two paths may differ
    return torch.lerp(old.to(dtype), new.to(dtype), alpha)


def fade_reals(clips: torch.Tensor, factor: Shape, alpha: float) -> torch.Tensor:
    """Blend real clips like G's output: ``alpha * v + (1 - alpha) * up(pool(v))`` (§4.1).

    ``factor`` is the level's own (tT, 2, 2), so at levels where time is not doubled the clip is not
    blurred in time.
    """
    from provgan.nn.layers import downsample, upsample

    if alpha >= 1.0:
        return clips
    return fade(upsample(downsample(clips, factor), factor), clips, alpha)
