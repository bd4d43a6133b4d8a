"""Seconds per kimg of real training, per level, with where the time goes; and full-schedule estimates.

For each level of the chosen presets (those that fit the time limit), runs the real Trainer on a
prepared moving-digits store for a few steps at that level and splits the wall time into data
(sampler), D step, G step, EMA and monitoring (stats, progress, samples, checkpoints). The penalty
share is the D-step time minus that of the same D loss without its penalty terms. The full
``thesis-256`` and ``ucf101-128`` schedules are then estimated from those s/kimg; levels too large to
run here are extrapolated from their FLOP count (counted on the meta device) at the achieved
GFLOP/s of the largest level measured, and marked so.

    python benchmarks/train.py                          # digits-32 and ucf101-128 up to 32x32
    python benchmarks/train.py --presets digits-32 --steps 20
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

from provgan import losses
from provgan.config import load_config
from provgan.data.prepare import prepare_builtin
from provgan.levels import kimg_to_reach, level_timeline, position_at
from provgan.shard import Shard
from provgan.train import loop as loop_module
from provgan.train import monitor as monitor_module
from provgan.train import step as step_module
from provgan.train.distributed import DistContext
from provgan.train.hardware import cpu_name, resolve_precision

from step import FlopCount  # benchmarks/step.py: counts FLOPs of a step, penalties included

PARTS = ("data", "d_step", "g_step", "ema", "monitor")


class Timers:
    def __init__(self):
        self.seconds = defaultdict(float)

    def wrap(self, owner, name: str, part: str):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[part] += time.perf_counter() - start

        setattr(owner, name, timed)
        return original


def _no_penalty(pair: losses.LossPair) -> losses.LossPair:
    def d(critic, reals, fakes, cfg, shard=Shard()):
        if pair.sliced:
            f_real, f_fake = critic.sliced(critic.features(reals)), critic.sliced(critic.features(fakes))
        else:
            f_real, f_fake = -critic(reals), -critic(fakes)
        return losses.LossOut((f_real - f_fake).mean(), {})

    return losses.LossPair(d, pair.g, pair.sliced)


def measure_level(preset: str, loss: str, level: int, store: Path, steps: int, penalties: bool) -> dict:
    cfg = load_config(preset, [f"loss.name={loss}", "run.log_every_steps=10", "run.sample_kimg=1000",
                               "run.snapshot_kimg=1000"])
    s = cfg.schedule
    start_kimg = kimg_to_reach(cfg.model.plan, s, level)
    pos = position_at(start_kimg, cfg.model.plan, s)
    timers = Timers()
    saved = {}
    with tempfile.TemporaryDirectory() as tmp:
        trainer = loop_module.Trainer(cfg, store, Path(tmp), DistContext(Shard(), torch.device("cpu"), 0), False)
        trainer.progress.nimg = int(start_kimg * 1000)
        trainer.progress.last = {"kimg": pos.kimg, "level": pos.level, "alpha": pos.alpha}
        saved["next"] = timers.wrap(trainer.sampler, "next", "data")
        saved["d"] = timers.wrap(step_module, "d_step", "d_step")
        saved["g"] = timers.wrap(step_module, "g_step", "g_step")
        saved["ema"] = timers.wrap(step_module, "ema_update", "ema")
        saved["mon"] = timers.wrap(monitor_module.Monitor, "after_step", "monitor")
        saved["fin"] = timers.wrap(monitor_module.Monitor, "finish", "finish")
        if not penalties:
            saved_pair = losses.LOSSES[loss]
            losses.LOSSES[loss] = _no_penalty(saved_pair)
        try:
            trainer.run(total_kimg=start_kimg + 2 * pos.minibatch / 1000)  # warm-up
            timers.seconds.clear()
            begin = time.perf_counter()
            trainer.run(total_kimg=start_kimg + (2 + steps) * pos.minibatch / 1000)
            wall = time.perf_counter() - begin - timers.seconds["finish"]  # end-of-run snapshot excluded
        finally:
            step_module.d_step, step_module.g_step, step_module.ema_update = saved["d"], saved["g"], saved["ema"]
            monitor_module.Monitor.after_step, monitor_module.Monitor.finish = saved["mon"], saved["fin"]
            if not penalties:
                losses.LOSSES[loss] = saved_pair
    clips = steps * pos.minibatch
    return {"shape": "x".join(map(str, cfg.model.plan[level])), "batch": pos.minibatch,
            "s_per_kimg": wall / clips * 1000, "parts": {k: timers.seconds[k] / wall for k in PARTS},
            "d_seconds": timers.seconds["d_step"] / steps, "precision": trainer.precision,
            "step_seconds": wall / steps}


def step_gflop(preset: str, loss: str, level: int) -> float:
    """FLOPs of one training step at a level, counted on the meta device (nothing is computed)."""
    from provgan.train.models import build_models, build_optimizers
    from provgan.train.step import train_step

    cfg = load_config(preset, [f"loss.name={loss}"])
    s = cfg.schedule
    pos = position_at(kimg_to_reach(cfg.model.plan, s, level), cfg.model.plan, s)
    with torch.device("meta"):
        models = build_models(cfg, "meta")
        opts = build_optimizers(models, cfg, 1e-3)
        reals = torch.empty(pos.minibatch, 3, *cfg.model.plan[level])
        with FlopCount() as counter:
            train_step(models, opts, reals, pos, cfg, Shard(), "fp32", 10**6)
    return counter.total / 1e9


def achieved_rate(preset: str, loss: str, measured: dict[int, dict]) -> float:
    """GFLOP/s of a real step at the largest level measured."""
    top = max(measured)
    return step_gflop(preset, loss, top) / measured[top]["step_seconds"]


def schedule_estimate(preset: str, loss: str, measured: dict[int, dict], gflops_rate: float
                      ) -> tuple[float, list[int]]:
    """Hours for the preset's whole schedule; the levels whose s/kimg was extrapolated."""
    cfg = load_config(preset)
    s = cfg.schedule
    seconds, extrapolated = 0.0, []
    for level, start, _, end in level_timeline(cfg.model.plan, s):
        if level in measured:
            per_kimg = measured[level]["s_per_kimg"]
        else:
            batch = position_at(kimg_to_reach(cfg.model.plan, s, level), cfg.model.plan, s).minibatch
            per_kimg = step_gflop(preset, loss, level) / gflops_rate / batch * 1000
            extrapolated.append(level)
        seconds += max(end - start, 0.0) * per_kimg
    return seconds / 3600, extrapolated


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="digits-32,ucf101-128")
    ap.add_argument("--loss", default="swgan")
    ap.add_argument("--max-res", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    args = ap.parse_args()
    print(f"# {cpu_name()}; {torch.get_num_threads()} threads; precision "
          f"{resolve_precision('auto', torch.device('cpu'))}; loss {args.loss}")
    print(f"{'preset':<11}{'lvl':>4} {'clip':>11}{'batch':>6}{'s/kimg':>9}" +
          "".join(f"{p:>9}" for p in PARTS) + f"{'penalty':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, dict[int, dict]] = {}
        for preset in args.presets.split(","):
            plan = load_config(preset).model.plan
            store = Path(tmp) / preset
            prepare_builtin("moving-digits", store, preset, num_clips=64)
            results[preset] = {}
            for level, (_, h, _) in enumerate(plan):
                if h > args.max_res:
                    continue
                r = measure_level(preset, args.loss, level, store, args.steps, penalties=True)
                bare = measure_level(preset, args.loss, level, store, args.steps, penalties=False)
                penalty = max(r["d_seconds"] - bare["d_seconds"], 0.0) / r["step_seconds"]
                results[preset][level] = r
                print(f"{preset:<11}{level:>4} {r['shape']:>11}{r['batch']:>6}{r['s_per_kimg']:>9.1f}" +
                      "".join(f"{100 * r['parts'][p]:>8.0f}%" for p in PARTS) + f"{100 * penalty:>8.0f}%",
                      flush=True)
    rate_preset = max(results, key=lambda p: load_config(p).model.plan[max(results[p])][1])
    rate = achieved_rate(rate_preset, args.loss, results[rate_preset])
    print(f"# achieved {rate:.0f} GFLOP/s in a real step at the largest level measured ({rate_preset})")
    for preset in ("thesis-256", "ucf101-128"):
        hours, extra = schedule_estimate(preset, args.loss, results.get(preset, {}), rate)
        note = f" (levels {', '.join(map(str, extra))} extrapolated by FLOPs)" if extra else ""
        print(f"# estimated wall time of the full {preset} schedule on this machine: {hours:,.0f} h{note}")


if __name__ == "__main__":
    main()
