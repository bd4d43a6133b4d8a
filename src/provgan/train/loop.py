"""The training loop: schedule -> data -> step -> stats/samples/checkpoints, resumable exactly.

It is a handful of small methods on :class:`Trainer` (set-up, resume, step, tick, snapshot). The
schedule (:mod:`provgan.levels`), the losses and the step (:mod:`provgan.train.step`) are pure
functions it calls. Everything that decides what happens next is in the checkpoint: networks,
optimizer moments, RNG streams, the sampler position, nimg, the last position and the lr scale. So a
run killed at any moment and resumed with ``--resume auto`` ends with the same parameters as a run
that was never stopped.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml

from provgan.config import Config, architecture_diff, config_from_dict, yaml_load
from provgan.data.store import ClipSampler, open_store
from provgan.errors import ProvganError
from provgan.levels import Position, adam_reset_due, position_at
from provgan.optim import reset_adam_state, set_lr
from provgan.train import checkpoint as ckpt
from provgan.train.distributed import DistContext, all_ranks_agree, broadcast_module
from provgan.train.hardware import resolve_precision
from provgan.train.models import build_models, build_optimizers
from provgan.train.classes import ClassMap, class_map, with_classes, with_pixel_mean
from provgan.train.samples import fixed_latents, grid_labels, write_sample_grid
from provgan.train.stats import StatsWriter
from provgan.train.step import train_step

log = logging.getLogger(__name__)


@dataclass
class Progress:
    """What the loop has done; saved in every checkpoint."""

    nimg: int = 0
    step: int = 0
    lr_scale: float = 1.0
    last: dict = field(default_factory=dict)  # position of the last step: kimg, level, alpha

    @property
    def kimg(self) -> float:
        return self.nimg / 1000.0


class NonFiniteLoss(ProvganError):
    pass


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *map(float, np_state[2:])],
            "python": random.getstate()}


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), int(pos), int(has_gauss), float(cached)))
    random.setstate(_tuples(state["python"]))


def _tuples(x):
    return tuple(_tuples(v) for v in x) if isinstance(x, (list, tuple)) else x


class Trainer:
    """Owns one run: its networks, optimizers, sampler, writers and progress."""

    def __init__(self, cfg: Config, data: Path, run_dir: Path, ctx: DistContext, show_progress: bool = True):
        self.cfg, self.run_dir, self.ctx = cfg, run_dir, ctx
        if ctx.is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        self.precision = resolve_precision(cfg.run.precision, ctx.device)
        torch.manual_seed(cfg.run.seed)
        np.random.seed(cfg.run.seed % 2**32)
        random.seed(cfg.run.seed)
        self.store = open_store(data, shapes=cfg.model.plan)
        cfg = self.cfg = with_pixel_mean(cfg, self.store)
        self.classes: ClassMap | None = None
        if cfg.model.conditional:
            self.classes = class_map(self.store, cfg.data.label)
            cfg = self.cfg = with_classes(cfg, self.classes)
        if self.store.channels != cfg.model.image_channels:
            raise ProvganError(f"{data} holds {self.store.channels}-channel clips but model.image_channels is "
                               f"{cfg.model.image_channels}")
        self.sampler = ClipSampler(self.store, seed=cfg.run.seed, mirror=cfg.data.mirror)
        if ctx.shard.world > 1 and cfg.model.arch != "progressive":
            raise ProvganError(f"model.arch {cfg.model.arch} trains in one process only (its BatchNorm statistics and "
                               f"TGAN's gamma clip are per process); run it without torchrun")
        self.models = build_models(cfg, ctx.device)
        self.memory_format = torch.channels_last_3d if cfg.run.channels_last else torch.contiguous_format
        for module in self.models.modules().values():
            module.to(memory_format=self.memory_format)
        for module in self.models.modules().values():
            broadcast_module(module)
        first = position_at(0, cfg.model.plan, cfg.schedule)
        self.opts = build_optimizers(self.models, cfg, first.lr)
        self.progress = Progress(last=_pos_dict(first))
        self.latents = fixed_latents(cfg.run.sample_grid[0] * cfg.run.sample_grid[1], self.models.generator.latent_dim,
                                     cfg.run.seed)
        self.stats = StatsWriter(run_dir if ctx.is_main else None)
        self.quality = None
        if ctx.is_main and cfg.run.metrics_kimg > 0:
            from provgan.train.quality import QualityProbe
            self.quality = QualityProbe(cfg, self.store, ctx.device)
        self._measured_nimg: int | None = None
        self.show_progress = show_progress and ctx.is_main
        self._tick_start, self._tick_nimg = time.perf_counter(), 0

    # -- state ------------------------------------------------------------------------------------

    def state(self) -> dict:
        return {"config": self.cfg.to_dict(),
                "models": {k: m.state_dict() for k, m in self.models.modules().items()},
                "optimizers": {k: o.state_dict() for k, o in self.opts.all().items()},
                "rng": rng_state(), "sampler": self.sampler.state_dict(),
                "position": {"nimg": self.progress.nimg, "step": self.progress.step,
                             "lr_scale": self.progress.lr_scale, **self.progress.last},
                "classes": list(self.classes.names) if self.classes is not None else []}

    def load_state(self, data: dict, source: Path) -> None:
        saved = config_from_dict(data["config"])
        diff = architecture_diff(saved, self.cfg)
        if diff:
            raise ProvganError(f"{source} was trained with a different architecture ({', '.join(diff)} differ); "
                               f"resume with the config saved in {self.run_dir / 'config.yaml'} or use a new --out")
        try:
            for k, m in self.models.modules().items():
                m.load_state_dict(data["models"][k])
            for k, o in self.opts.all().items():
                o.load_state_dict(data["optimizers"][k])
        except (KeyError, RuntimeError, ValueError) as exc:  # e.g. a checkpoint of an older network layout
            raise ProvganError(f"{source} does not fit the networks of its config "
                               f"({str(exc).splitlines()[0][:160]}); start a new run with --out") from None
        set_rng_state(data["rng"])
        self.sampler.load_state_dict(data["sampler"])
        p = data["position"]
        self.progress = Progress(nimg=int(p["nimg"]), step=int(p["step"]), lr_scale=float(p["lr_scale"]),
                                 last={k: p[k] for k in ("kimg", "level", "alpha")})
        self.stats.truncate_after(self.progress.kimg)  # rows past the checkpoint are written again
        self._measured_nimg = None

    def resume(self, how: str | None) -> Path | None:
        """``auto``: newest loadable checkpoint in the run folder (if any); a path: that checkpoint."""
        if not how:
            return None
        if how == "auto":
            found = ckpt.latest_checkpoint(self.run_dir)
            if found is None:
                return None
            path, data = found
        else:
            path, data = ckpt.resolve_checkpoint(Path(how))
        self.load_state(data, path)
        log.info("resumed from %s at %.3f kimg", path, self.progress.kimg)
        return path

    # -- the loop ---------------------------------------------------------------------------------

    def position(self) -> Position:
        return position_at(self.progress.kimg, self.cfg.model.plan, self.cfg.schedule)

    def step(self, pos: Position) -> dict[str, torch.Tensor]:
        last = Position(kimg=self.progress.last["kimg"], level=self.progress.last["level"],
                        alpha=self.progress.last["alpha"], minibatch=pos.minibatch, lr=pos.lr,
                        num_levels=pos.num_levels)
        if self.cfg.optim.reset_adam_on_phase and adam_reset_due(last, pos):
            for opt in self.opts.all().values():
                reset_adam_state(opt)
        for name, opt in self.opts.all().items():
            if self.opts.own_lr:  # a baseline: each optimizer keeps its original lr (rollback still halves it)
                set_lr(opt, self.opts.own_lr[name] * self.progress.lr_scale)
                continue
            mult = 1.0 if name == "G" else self.cfg.optim.d_lr_mult  # D and the sliced head
            set_lr(opt, pos.lr * self.progress.lr_scale * mult)
        reals, classes = self.real_batches(pos)
        terms = train_step(self.models, self.opts, reals, pos, self.cfg, self.ctx.shard, self.precision,
                           self.progress.step, classes)
        self.progress.nimg += pos.minibatch
        self.progress.step += 1
        self.progress.last = _pos_dict(pos)
        return terms

    def real_batches(self, pos: Position) -> tuple[torch.Tensor | dict[str, torch.Tensor], torch.Tensor | None]:
        """The step's real clips and, for a conditional model, their classes: one minibatch draw for
        the first critic (the whole step of a one-critic model), and one more draw per further critic,
        of its own batch (MoCoGAN's D_I takes its frames from a draw of its own, BASELINES.md §5.4).
        ``nimg`` counts the minibatch only."""
        shape, shard = self.cfg.model.plan[pos.level], self.ctx.shard

        def draw(batch: int):
            clips, labels = self.sampler.next(shape, batch)
            return shard.take(clips).to(self.ctx.device, non_blocking=True).contiguous(
                memory_format=self.memory_format), labels

        names = list(self.models.critics)
        reals, labels = draw(self.models.critics[names[0]].batch or pos.minibatch)
        classes = None
        if self.classes is not None:
            classes = shard.take(torch.from_numpy(self.classes.index(labels.numpy()))).to(self.ctx.device)
        if len(names) == 1:
            return reals, classes
        rest = {n: draw(self.models.critics[n].batch or pos.minibatch)[0] for n in names[1:]}
        return {names[0]: reals} | rest, classes

    def check_finite(self, terms: dict[str, torch.Tensor]) -> None:
        totals = {k: v for k, v in terms.items() if k.endswith("/total")}
        bad = [k for k, v in totals.items() if not torch.isfinite(v).all()]
        if not all_ranks_agree(not bad, self.ctx.device):
            name = bad[0] if bad else "a loss on another rank"
            raise NonFiniteLoss(f"non-finite {name} at step {self.progress.step} "
                                f"({self.progress.kimg:.3f} kimg)")

    def run(self, total_kimg: float | None = None) -> Progress:
        total = self.cfg.schedule.total_kimg if total_kimg is None else total_kimg
        from provgan.train.monitor import Monitor
        monitor = Monitor(self, total)
        while self.progress.kimg < total:
            pos = self.position()
            try:
                terms = self.step(pos)
                self.check_finite(terms)
            except NonFiniteLoss as exc:
                if self.cfg.run.on_nonfinite != "rollback" or not self.rollback(exc):
                    monitor.close()
                    raise ProvganError(f"{exc}; the last good checkpoint is kept in {self.run_dir}. "
                                       f"Lower the lr or set run.on_nonfinite=rollback") from None
                continue
            monitor.after_step(pos, terms)
        monitor.finish()
        return self.progress

    def rollback(self, exc: NonFiniteLoss) -> bool:
        found = ckpt.latest_checkpoint(self.run_dir, self.ctx.device)
        if found is None:
            return False
        path, data = found
        scale = self.progress.lr_scale * 0.5
        self.load_state(data, path)
        self.progress.lr_scale = scale
        log.warning("%s: rolled back to %s, lr scale now %g", exc, path.name, scale)
        return True

    # -- outputs ----------------------------------------------------------------------------------

    def snapshot(self) -> Path | None:
        if not self.ctx.is_main:
            return None
        return ckpt.save_checkpoint(self.state(), self.run_dir, self.progress.nimg, self.cfg.run.keep_checkpoints)

    def measure(self, level: int, alpha: float) -> dict[str, float]:
        """Quality metrics of G_ema at (level, alpha) as ``Metrics/...`` rows (once per nimg)."""
        if self.quality is None or self._measured_nimg == self.progress.nimg:
            return {}
        self._measured_nimg = self.progress.nimg
        values = {f"Metrics/{k}": v for k, v in self.quality.measure(self.models.generator_ema, level, alpha).items()}
        self.stats.write(self.progress.kimg, values | {"Progress/level": float(level), "Progress/alpha": alpha})
        log.info("metrics at %.3f kimg: %s", self.progress.kimg,
                 ", ".join(f"{k[8:]} {v:.3g}" for k, v in values.items() if "/real/" not in k and "swd_" not in k))
        return values

    def samples(self, name: str, level: int, alpha: float) -> None:
        if not self.ctx.is_main:
            return
        rows, cols = self.cfg.run.sample_grid
        stem = self.run_dir / "samples" / name
        stem.parent.mkdir(exist_ok=True)
        labels = grid_labels(rows, cols, self.classes.num_classes) if self.classes is not None else None
        _, frame = write_sample_grid(self.models.generator_ema, self.latents, level, alpha, rows, cols, stem,
                                     labels=labels)
        self.stats.image(f"Samples/{name.split('-')[0]}", frame, self.progress.kimg)


def _pos_dict(pos: Position) -> dict:
    return {"kimg": pos.kimg, "level": pos.level, "alpha": pos.alpha}


def write_run_config(cfg: Config, run_dir: Path) -> None:
    """Save the resolved config (every default and override) next to the checkpoints."""
    from provgan.atomic import atomic_write_text

    atomic_write_text(run_dir / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def check_run_dir_config(cfg: Config, run_dir: Path) -> None:
    """Refuse to continue a run folder whose saved config has another architecture."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        return
    saved = config_from_dict(yaml_load(path.read_text()))
    diff = architecture_diff(saved, cfg)
    if diff:
        raise ProvganError(f"{run_dir} holds a run with a different architecture ({', '.join(diff)} differ); "
                           f"use a new --out or the same config")


def run_training(cfg: Config, data: Path, run_dir: Path, ctx: DistContext, resume: str | None = None,
                 show_progress: bool = True) -> Trainer:
    """Set up (or resume) a run in ``run_dir`` and train to ``cfg.schedule.total_kimg``."""
    run_dir = Path(run_dir)
    store = open_store(data, shapes=cfg.model.plan)  # what the store decides, before comparing with a saved config
    cfg = with_pixel_mean(cfg, store)
    if cfg.model.conditional:
        cfg = with_classes(cfg, class_map(store, cfg.data.label))
    check_run_dir_config(cfg, run_dir)
    if not resume and ckpt.list_checkpoints(run_dir):
        raise ProvganError(f"{run_dir} already holds checkpoints: continue it with --resume auto, "
                           f"or choose a new --out")
    trainer = Trainer(cfg, Path(data), run_dir, ctx, show_progress)
    trainer.resume(resume)
    if ctx.is_main:
        write_run_config(trainer.cfg, run_dir)
    trainer.run()
    return trainer
