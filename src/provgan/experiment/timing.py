"""The ``--dry-run`` estimate: how long the rest of an experiment takes on this machine.

Training time per system comes from one of two sources, named in the output:

* ``measured``: a finished run of the system in this experiment folder (its ``trained.json`` wall
  time per clip), when there is one;
* ``timed``: a short timing of the real :class:`~provgan.train.loop.Trainer` on a throwaway copy of
  the system's networks: ``steps`` steps (after one warm-up) in every phase of its schedule (each
  level's fade and stable part), times the number of steps in that phase, plus what the run writes
  besides training: a checkpoint, and a sample grid and (with ``run.metrics_kimg``) a quality
  measurement timed once at each level, counted as often as the run's cadence and its level ends
  make them happen. Before they were counted, the clean progressive runs of the
  digits-small table took 21-41 % longer than this estimate (README, "Tables 8.1 and 8.2").

Scoring time is timed the same way: one batch of random clips at the score shape through every
feature network (the offline classifier untrained, if it is not trained yet: its speed does not
depend on its weights) and the SWD descriptors; a run and a ceiling each score ``2 * num`` clips.
Nothing is written to the experiment folder.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from provgan.config import Config
from provgan.experiment.plan import (SCORES, TRAINED, Plan, PlannedRun, ceiling_path, checkpoint_nimg,
                                     read_json)
from provgan.levels import level_spans, position_at
from provgan.metrics.resize import resize_clips
from provgan.train import checkpoint as ckpt


@dataclass(frozen=True)
class SystemEstimate:
    name: str
    seconds_per_run: float  # training only
    source: str  # "measured" or "timed"
    remaining_runs: float  # runs still to train (a partial run counts its remaining fraction)


def schedule_phases(cfg: Config) -> list[tuple[float, int]]:
    """(kimg in the middle of the phase, clips in it) for each fade and stable phase up to the total."""
    total = int(round(cfg.schedule.total_kimg * 1000))
    phases = []
    for span in level_spans(cfg.model.plan, cfg.schedule):
        for start, end in ((span.fade_start, span.stable_start), (span.stable_start, span.end)):
            end = min(end, total)
            if end > start:
                phases.append(((start + end) / 2000, end - start))
    return phases


@dataclass(frozen=True)
class OutputCosts:
    """Seconds one checkpoint takes, and one sample grid and one quality measurement at each level."""

    snapshot: float
    samples: dict[int, float]
    measure: dict[int, float]  # empty when the run measures nothing (run.metrics_kimg 0)


def output_seconds(cfg: Config, costs: OutputCosts) -> float:
    """Seconds a whole run spends writing checkpoints, grids and measurements (train/monitor.py's
    cadence): each phase's share of every cadence at that phase's level, one grid and one measurement
    at every level's end, and a checkpoint, grid and measurement at the run's end."""
    total, seconds, level = cfg.schedule.total_kimg, 0.0, 0
    run = cfg.run
    for kimg, clips in schedule_phases(cfg):
        level = position_at(kimg, cfg.model.plan, cfg.schedule).level
        share = clips / 1000
        seconds += share / run.snapshot_kimg * costs.snapshot if run.snapshot_kimg > 0 else 0.0
        seconds += share / run.sample_kimg * costs.samples[level] if run.sample_kimg > 0 else 0.0
        if costs.measure:
            seconds += share / run.metrics_kimg * costs.measure[level]
    ended = [span.level for span in level_spans(cfg.model.plan, cfg.schedule) if span.end < total * 1000]
    for lv in ended:  # a level's final grid and measurement
        seconds += costs.samples[lv] + costs.measure.get(lv, 0.0)
    # the run's end: its last grid, the last level's final grid, a measurement and a checkpoint
    return seconds + 2 * costs.samples[level] + costs.measure.get(level, 0.0) + costs.snapshot


def time_training(cfg: Config, data: Path, steps: int = 2) -> float:
    """Seconds to train ``cfg`` from start to end: ``steps`` timed steps per schedule phase, and the
    checkpoints, grids and measurements it writes (:func:`output_seconds`, each timed once per level)."""
    from provgan.train.distributed import init_distributed
    from provgan.train.loop import Trainer

    def timed(write) -> float:
        start = time.perf_counter()
        write()
        return time.perf_counter() - start

    seconds = 0.0
    samples: dict[int, float] = {}
    measure: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="provgan-timing-") as tmp:
        trainer = Trainer(cfg, data, Path(tmp), init_distributed(cfg.run.device), show_progress=False)
        for kimg, clips in schedule_phases(cfg):
            pos = position_at(kimg, cfg.model.plan, cfg.schedule)
            trainer.step(pos)  # warm-up (allocations, Adam state)
            start = time.perf_counter()
            for _ in range(steps):
                trainer.step(pos)
            seconds += (time.perf_counter() - start) / steps * math.ceil(clips / pos.minibatch)
            if pos.level not in samples:
                samples[pos.level] = timed(lambda: trainer.samples("timing", pos.level, 1.0))
                if trainer.quality is not None:
                    probe, g = trainer.quality, trainer.models.generator_ema
                    measure[pos.level] = timed(lambda: probe.measure(g, pos.level, 1.0))
        snapshot = timed(trainer.snapshot)
        trainer.stats.close()
    return seconds + output_seconds(cfg, OutputCosts(snapshot, samples, measure))


def measured_seconds(run: PlannedRun) -> float | None:
    """Training wall time of a finished run scaled to the whole budget, or None."""
    record = read_json(run.folder / TRAINED)
    if not record or not record.get("clips_per_s"):
        return None
    return record["nimg"] / record["clips_per_s"]


def remaining_fraction(run: PlannedRun) -> float:
    """1 for a new run, 0 for a finished one, the untrained share for a partial one."""
    if (run.folder / TRAINED).is_file():
        return 0.0
    found = ckpt.list_checkpoints(run.folder)
    total = run.config.schedule.total_kimg * 1000
    return 1.0 - min(checkpoint_nimg(found[-1]) / total, 1.0) if found else 1.0


def estimate_training(plan: Plan, steps: int = 2, timing: bool = True) -> list[SystemEstimate]:
    """Per system: seconds per run (measured or timed) and the runs still to train."""
    out = []
    for system in plan.systems:
        runs = plan.runs_of(system.name)
        remaining = sum(remaining_fraction(r) for r in runs)
        measured = [s for s in map(measured_seconds, runs) if s is not None]
        if measured:
            out.append(SystemEstimate(system.name, sum(measured) / len(measured), "measured", remaining))
        elif timing and remaining > 0:
            out.append(SystemEstimate(system.name, time_training(runs[0].config, plan.data, steps), "timed",
                                      remaining))
        else:
            out.append(SystemEstimate(system.name, math.nan, "not timed", remaining))
    return out


def seconds_per_scored_clip(plan: Plan, shape: tuple[int, int, int], repeats: int = 1) -> float:
    """Feature networks + SWD descriptors per clip at ``shape`` (one batch of random clips, timed)."""
    from provgan.metrics.swd import DescriptorSet, SWDOptions

    nets = _timing_nets(plan)
    batch = plan.spec.eval.batch
    clips = torch.rand(batch, 3, *shape) * 2 - 1
    for net in nets:
        net(clips[:2], plan.spec.eval.precision)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        for net in nets:
            net(clips, plan.spec.eval.precision)
        if "swd" in plan.spec.metrics:
            DescriptorSet(SWDOptions(), 0).add(clips)
    return (time.perf_counter() - start) / repeats / batch


def _timing_nets(plan: Plan) -> list:
    """The networks scoring uses; an untrained offline classifier stands in until it is trained."""
    from provgan.experiment.scoring import CLASSIFIER
    from provgan.metrics import features as feats
    from provgan.metrics.evaluate import EvalOptions, build_nets

    e, nets = plan.spec.eval, []
    if set(plan.spec.metrics) & {"fvd", "kvd"}:
        nets += build_nets(EvalOptions(metrics=("fvd",), i3d_weights=plan.i3d_weights,
                                       i3d_cache=plan.i3d_cache)).values()
    if not plan.needs_is_net:
        return nets
    trained = Path(e.classifier) if e.classifier else plan.out / CLASSIFIER
    if e.features == "c3d":
        return nets + list(build_nets(EvalOptions(metrics=("is",), c3d=e.c3d)).values())
    if trained.is_file():
        return nets + list(build_nets(EvalOptions(metrics=("is",), classifier=str(trained))).values())
    shape = plan.reference_shape
    model = _stand_in_classifier(plan).eval()
    return nets + [feats.FeatureNet("classifier", model, shape, lambda x: resize_clips(x, shape), "untrained")]


def _stand_in_classifier(plan: Plan):
    from provgan.metrics.classifier import VideoClassifier

    classes = int(plan.store.labels.max()) + 1 if plan.store.labels is not None else 2
    return VideoClassifier(plan.reference_shape, classes, plan.spec.classifier.width)


def seconds_for_classifier(plan: Plan) -> float:
    """Training time of the offline classifier (0 when it exists or is not needed), from one timed batch."""
    from provgan.experiment.scoring import CLASSIFIER

    e, c = plan.spec.eval, plan.spec.classifier
    if not plan.needs_is_net or e.features == "c3d" or e.classifier or (plan.out / CLASSIFIER).is_file():
        return 0.0
    model = _stand_in_classifier(plan)
    opt = torch.optim.Adam(model.parameters())
    x = torch.rand(c.batch_size, 3, *plan.reference_shape) * 2 - 1
    y = torch.zeros(c.batch_size, dtype=torch.long)
    times = []
    for _ in range(2):  # the first is a warm-up
        start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x)[0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    clips = c.max_clips or plan.store.num_clips
    return times[-1] * math.ceil(clips * (1 - c.holdout) / c.batch_size) * c.epochs


def scoring_jobs(plan: Plan) -> int:
    """Ceilings and runs not scored yet (cached scores under another protocol card also count as done)."""
    ceilings = sum(1 for pair in plan.ceiling_pairs() if not ceiling_path(plan, *pair).is_file())
    return ceilings + sum(1 for r in plan.runs if not (r.folder / SCORES).is_file())
