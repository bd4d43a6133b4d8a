"""What happens between steps: stats, progress bar, sample grids, checkpoints (rank 0 writes).

Cadence is in kimg (``run.sample_kimg``, ``run.snapshot_kimg``, ``run.metrics_kimg``); the grid and
the quality metrics of a level are also written when the level ends and at the end of the run. Metrics
come before the checkpoint of the same step, so a kill between the two repeats both on resume.
"""

from __future__ import annotations

import resource
import sys
import time
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from provgan.levels import Position, level_reached
from provgan.train.checkpoint import kimg_tag

if TYPE_CHECKING:
    from provgan.train.loop import Trainer


def _crossed(before: int, after: int, every_kimg: float) -> bool:
    every = max(1, int(round(every_kimg * 1000)))
    return before // every != after // every


def memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


class Monitor:
    def __init__(self, trainer: "Trainer", total_kimg: float):
        self.t = trainer
        self.total_kimg = total_kimg
        self.bar = tqdm(total=round(total_kimg, 3), initial=round(trainer.progress.kimg, 3), unit="kimg",
                        dynamic_ncols=True, disable=not trainer.show_progress,
                        mininterval=0.5 if sys.stderr.isatty() else 30.0,  # logs get a line per 30 s
                        bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} kimg [{elapsed}<{remaining}{postfix}]")
        self.tick_time, self.tick_nimg = time.perf_counter(), trainer.progress.nimg

    def after_step(self, pos: Position, terms: dict[str, torch.Tensor]) -> None:
        t, p = self.t, self.t.progress
        before = p.nimg - pos.minibatch
        t.stats.add(terms)
        # to where the run stands, never past the total (summed float steps overshoot it: tqdm warns)
        self.bar.update(max(min(p.kimg, self.bar.total) - self.bar.n, 0.0))
        if p.step % t.cfg.run.log_every_steps == 0:
            self.log_tick(pos)
        nxt = t.position()
        level_ends = nxt.level != pos.level
        if level_ends:
            t.samples(f"level{pos.level}-{'x'.join(map(str, t.cfg.model.plan[pos.level]))}-final", pos.level, 1.0)
        every = t.cfg.run.metrics_kimg
        if level_ends or (every > 0 and _crossed(before, p.nimg, every)):
            t.measure(pos.level, 1.0 if level_ends else pos.alpha)
        if _crossed(before, p.nimg, t.cfg.run.sample_kimg):
            t.samples(f"samples-{kimg_tag(p.nimg)}", pos.level, pos.alpha)
        if _crossed(before, p.nimg, t.cfg.run.snapshot_kimg):
            t.snapshot()

    def log_tick(self, pos: Position) -> None:
        t, p = self.t, self.t.progress
        now = time.perf_counter()
        clips = max(p.nimg - self.tick_nimg, 1)
        dt = now - self.tick_time
        self.tick_time, self.tick_nimg = now, p.nimg
        extra = {"Progress/kimg": p.kimg, "Progress/level": float(pos.level), "Progress/alpha": pos.alpha,
                 "Progress/lod": pos.lod, "Progress/lr": pos.lr * p.lr_scale,
                 "Progress/minibatch": float(pos.minibatch),
                 "Timing/clips_per_sec": clips / dt, "Timing/sec_per_kimg": dt * 1000 / clips,
                 "Resources/peak_mem_gb": memory_gb(t.ctx.device)}
        t.stats.flush(p.kimg, extra)
        shape = "x".join(map(str, t.cfg.model.plan[pos.level]))
        self.bar.set_postfix_str(f"level {pos.level} ({shape}) alpha {pos.alpha:.2f} {clips / dt:.0f} clips/s",
                                 refresh=False)

    def finish(self) -> None:
        t, pos = self.t, self.t.position()
        self.log_tick(pos)
        level, alpha = level_reached(t.cfg.model.plan, t.cfg.schedule, t.progress.nimg,
                                     t.progress.last.get("level", pos.level),
                                     t.progress.last.get("alpha", pos.alpha))
        t.samples(f"samples-{kimg_tag(t.progress.nimg)}", level, alpha)
        t.measure(level, alpha)
        # when the run ended where the next level would start, after_step wrote this grid already
        if alpha >= 1.0 and level == pos.level:
            t.samples(f"level{level}-{'x'.join(map(str, t.cfg.model.plan[level]))}-final", level, 1.0)
        t.snapshot()
        self.close()

    def close(self) -> None:
        self.bar.close()
        self.t.stats.close()
