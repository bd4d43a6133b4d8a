"""The model registry: which networks a config builds, for training, ``info``, sampling, ``generate``,
``evaluate`` and checkpoints alike.

``model.arch`` names them: ``progressive`` is the thesis' growing G and D (ch. 4, Table A.1) with the
SWGAN head when the loss is sliced; ``vgan``, ``tgan`` and ``mocogan`` are the baselines of Tables 8.1
and 8.2 (:mod:`provgan.baselines`, BASELINES.md), built at the one level of their plan with
``model.width`` and ``model.options``. Every architecture keeps one generator contract,
``G(z, level, alpha) -> (N, C, T, H, W)`` in [-1, 1] with ``z ~ N(0, I)`` of ``G.latent_dim``, so
seeds, sample grids and the metrics work unchanged whatever the arch (BASELINES.md §5.3).

The architecture is part of the config saved in every checkpoint; a checkpoint whose weights do not
fit its own config is one clear line. Nothing here imports :mod:`provgan.train`, so ``metrics`` and
``generate`` load a trained generator without the trainer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from provgan.baselines.common import CriticPart, OptimizerSpec
from provgan.checkpoints import resolve_checkpoint
from provgan.config import ARCH_NAMES, Config, config_from_dict
from provgan.errors import ConfigError, ProvganError
from provgan.levels import level_reached
from provgan.losses import get_loss
from provgan.nn import Discriminator, Generator, SlicedHead
from provgan.nn.frame_critic import FrameCritic

ARCHS = ARCH_NAMES


@dataclass
class ModelParts:
    """What one config trains: G, its named critics, the SWGAN head, the loss and G's optimizer.

    ``schedule_lr``: the optimizers follow the schedule's lr (the progressive networks, PGGAN's
    per-resolution lr); otherwise each keeps the lr of its own spec, as the baselines' original code
    sets it (BASELINES.md §0 "optimizer"). ``g_extra(aux)`` is an extra G-only term computed from
    ``generator.forward_with_aux`` (VGAN's mask term), ``None`` when there is none.
    """

    arch: str
    generator: nn.Module
    critics: dict[str, CriticPart]
    head: SlicedHead | None
    loss: str
    g_optimizer: OptimizerSpec
    schedule_lr: bool
    g_extra: Callable[[dict[str, Tensor]], Tensor] | None = None
    frames: FrameCritic | None = None  # model.frame_critic: the progressive D on single frames


def _progressive_optimizer(cfg: Config) -> OptimizerSpec:
    o = cfg.optim
    lr = cfg.schedule.lr_default
    return OptimizerSpec(o.name, lr, (float(o.beta1), float(o.beta2)), o.weight_decay, o.eps, o.alpha)


def _build_baseline(cfg: Config):
    from provgan.baselines.builders import build_baseline

    m = cfg.model
    return build_baseline(m.arch, tuple(m.plan[0]), m.image_channels, m.width, m.options)


def build_parts(cfg: Config) -> ModelParts:
    """Every network ``cfg`` trains, on the CPU, freshly initialised from the global torch RNG."""
    arch = cfg.model.arch
    if arch not in ARCHS:
        raise ConfigError(f"model.arch '{arch}' is not one of {', '.join(ARCHS)}")
    if arch == "progressive":
        sliced = get_loss(cfg.loss.name).sliced
        g = Generator(cfg.model)
        d = Discriminator(cfg.model, score_head=not sliced, rotation_head=cfg.loss.rotation_weight > 0,
                          info_codes=cfg.model.latent_codes if cfg.loss.info_weight > 0 else 0)
        head = SlicedHead(cfg.model.feature_dim) if sliced else None
        frames = FrameCritic(cfg.model, sliced) if cfg.model.frame_critic else None  # built last: the
        spec = _progressive_optimizer(cfg)  # networks of a run without it draw the same initial weights
        return ModelParts(arch, g, {"D": CriticPart(d, "clip", None, spec)}, head, cfg.loss.name, spec,
                          schedule_lr=True, frames=frames)
    parts = _build_baseline(cfg)
    if cfg.loss.name != parts.loss:
        raise ConfigError(f"model.arch {arch} trains with loss.name {parts.loss} (its original loss), "
                          f"got {cfg.loss.name}")
    return ModelParts(arch, parts.generator, dict(parts.critics), None, parts.loss, parts.g_optimizer,
                      schedule_lr=False, g_extra=parts.g_extra)


def build_generator(cfg: Config) -> nn.Module:
    """G alone, as ``cfg`` builds it (sampling and checkpoint loading need no critic)."""
    if cfg.model.arch == "progressive":
        return Generator(cfg.model)
    return build_parts(cfg).generator


def latent_dim(cfg: Config) -> int:
    """Size of the N(0, I) latent G takes: ``model.latent_dim`` or the baseline's own (it maps z to its
    prior inside, e.g. MoCoGAN's content + h0 + one motion noise per frame)."""
    if cfg.model.arch == "progressive":
        return cfg.model.latent_dim
    with torch.device("meta"):
        return int(build_generator(cfg).latent_dim)


# ---------------------------------------------------------------------------------------------
# the trained generator, for generate / interpolate / evaluate


@dataclass(frozen=True)
class TrainedGenerator:
    """The EMA generator of a checkpoint at the level and fade weight it had reached."""

    generator: torch.nn.Module
    config: Config
    level: int
    alpha: float
    kimg: float
    path: Path
    class_names: tuple[str, ...] = ()  # a conditional checkpoint's classes, in label order

    @property
    def latent_dim(self) -> int:
        """G's own latent size (a baseline's), or the config's for a generator that does not say."""
        own = getattr(self.generator, "latent_dim", None)
        return int(own) if own is not None else latent_dim(self.config)

    @property
    def num_classes(self) -> int:
        """Classes of a class-conditional G; 0 for an unconditional one."""
        return self.config.model.num_classes if self.config.model.conditional else 0

    def class_index(self, name: str | int) -> int:
        """A class given by index or by name (``3``, or ``zoom``), or a one-line error naming the choices."""
        if not self.num_classes:
            raise ProvganError(f"{self.path} is unconditional: --class needs a checkpoint trained with "
                               f"model.conditional=true")
        names = self.class_names or tuple(str(i) for i in range(self.num_classes))
        text = str(name)
        if text in names:
            return names.index(text)
        if text.lstrip("-").isdigit() and 0 <= int(text) < self.num_classes:
            return int(text)
        raise ProvganError(f"class {text!r} is not one of this checkpoint's {self.num_classes} classes "
                           f"({', '.join(names[:12])}{', ...' if len(names) > 12 else ''})")

    def labels_for(self, seeds: Sequence[int], fixed: int | None = None) -> torch.Tensor | None:
        """Classes for the clips of ``seeds``: ``fixed`` for all, else seed mod num_classes (every class
        equally often, and a seed names the same clip everywhere); None for an unconditional G."""
        if not self.num_classes:
            return None
        seeds = torch.as_tensor([int(s) for s in seeds], dtype=torch.long)
        return torch.full_like(seeds, int(fixed)) if fixed is not None else seeds % self.num_classes

    @property
    def clip_shape(self) -> tuple[int, int, int]:
        return tuple(self.config.model.plan[self.level])  # type: ignore[return-value]

    def latents(self, seeds: Sequence[int]) -> torch.Tensor:
        """One N(0, I) latent per seed, so a seed names the same clip everywhere."""
        return torch.stack([torch.randn(self.latent_dim, generator=torch.Generator().manual_seed(int(s)))
                            for s in seeds])

    @torch.no_grad()
    def sample(self, z: torch.Tensor, level: int | None = None, labels: torch.Tensor | None = None) -> torch.Tensor:
        """(N, C, T, H, W) float32 in [-1, 1] at the checkpoint's level (or an earlier one); a
        conditional G needs ``labels`` (:meth:`labels_for`)."""
        if self.num_classes and labels is None:
            raise ProvganError(f"{self.path} is class-conditional ({self.num_classes} classes): "
                               f"pass the classes to draw")
        if labels is not None and not self.num_classes:
            raise ProvganError(f"{self.path} is unconditional: it takes no classes")
        level = self.level if level is None else level
        if level > self.level:
            raise ProvganError(f"level {level} has not been reached by this checkpoint (it is at level "
                               f"{self.level}, {'x'.join(map(str, self.clip_shape))})")
        alpha = self.alpha if level == self.level else 1.0
        device = next(self.generator.parameters()).device
        extra = [labels.to(device)] if labels is not None else []
        return self.generator(z.to(device), level, alpha, *extra).float().clamp(-1, 1)


SAMPLED_NETWORKS = ("G_ema", "G")


def position_reached(cfg: Config, position: dict) -> tuple[int, float]:
    """(level, alpha) a checkpoint's saved position stands for under its own config's schedule."""
    return level_reached(cfg.model.plan, cfg.schedule, int(position["nimg"]), int(position["level"]),
                         float(position["alpha"]))


def load_sampler(path: str | Path, device: str | torch.device = "cpu", network: str = "G_ema") -> TrainedGenerator:
    """Load G_ema (or, with ``network="G"``, the raw generator) from a checkpoint file or the newest
    checkpoint of a run folder.

    The generator is built from the config saved in the checkpoint (its ``model.arch`` included);
    weights of another architecture or config are one error line. The raw G is for diagnostics that
    compare it with its average (``benchmarks/digit_coverage.py``); everything a user samples is G_ema.
    """
    if network not in SAMPLED_NETWORKS:
        raise ValueError(f"network must be one of {', '.join(SAMPLED_NETWORKS)}, got {network!r}")
    ckpt_path, data = resolve_checkpoint(Path(path), map_location="cpu")
    try:
        cfg = config_from_dict(data["config"])
        g = build_generator(cfg)
        g.load_state_dict(data["models"][network])
    except (KeyError, RuntimeError, ProvganError) as exc:
        raise ProvganError(f"{ckpt_path} does not match its own config ({str(exc).splitlines()[0][:160]})") \
            from None
    pos = data["position"]
    level, alpha = position_reached(cfg, pos)
    return TrainedGenerator(g.to(device).eval().requires_grad_(False), cfg, level, alpha,
                            float(pos["nimg"]) / 1000, ckpt_path, tuple(data.get("classes", ())))
