"""The contract between a baseline network (VGAN, TGAN, MoCoGAN) and provgan's trainer.

Each baseline module exposes ``build(shape, channels, width, options) -> BaselineParts``: a generator
that keeps provgan's contract ``G(z, level, alpha) -> (N, C, T, H, W)`` in [-1, 1] with
``z ~ N(0, I)`` of ``G.latent_dim`` (each model maps z to its own prior inside, so seeds, grids and
metrics work unchanged), a named set of critics (each with the view of a clip it sees, its batch, its
optimizer and an optional post-step constraint), the loss name, an optional extra G term and G's
optimizer. The trainer (issue 15 part A) wires these in; nothing here knows about the trainer.
:func:`provgan.baselines.timing.update` is the update sequence in a dozen lines (each critic: real
and fresh fake views, its loss, its step, its constraint; then G against every critic plus
``g_extra``).

Why a contract and not three trainers: the thesis' Tables 8.1/8.2 compare five systems, and published
comparisons mix frameworks and pipelines; one trainer over these parts removes that confound
(BASELINES.md §5.3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import Tensor, nn

from provgan.errors import ConfigError

OPTIMIZER_NAMES = ("adam", "rmsprop")
VIEW_NAMES = ("clip", "frame")
BASELINE_LOSSES = ("ns", "wgan")
Shape = tuple[int, int, int]


@dataclass(frozen=True)
class OptimizerSpec:
    """One network's optimizer, as the original code sets it (BASELINES.md §0 "optimizer").

    ``betas`` are Adam's (beta1, beta2); RMSprop uses ``alpha`` (its squared-gradient decay) and
    ignores betas, as TGAN's Chainer RMSprop does (alpha 0.99, eps 1e-8, §2.3).
    """

    name: str
    lr: float
    betas: tuple[float, float] = (0.5, 0.999)
    weight_decay: float = 0.0
    eps: float = 1e-8
    alpha: float = 0.99

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZER_NAMES:
            raise ConfigError(f"optimizer '{self.name}' is not one of {', '.join(OPTIMIZER_NAMES)}")
        if not self.lr > 0:
            raise ConfigError(f"optimizer lr must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise ConfigError(f"optimizer weight_decay must be >= 0, got {self.weight_decay}")
        if not all(0 <= b < 1 for b in self.betas) or not 0 <= self.alpha < 1:
            raise ConfigError(f"optimizer betas and alpha must lie in [0, 1), got {self.betas}, {self.alpha}")

    def make(self, params) -> torch.optim.Optimizer:
        """The torch optimizer over ``params`` (PyTorch's Adam/RMSprop equal the originals' updates)."""
        if self.name == "adam":
            return torch.optim.Adam(params, lr=self.lr, betas=self.betas, eps=self.eps,
                                    weight_decay=self.weight_decay)
        return torch.optim.RMSprop(params, lr=self.lr, alpha=self.alpha, eps=self.eps,
                                   weight_decay=self.weight_decay)


Constraint = Callable[[nn.Module, int], None]


@dataclass
class CriticPart:
    """One critic: its module, what it sees, its batch, its optimizer and its post-step constraint.

    ``view``: ``"clip"`` gives the module the (N, C, T, H, W) clip; ``"frame"`` gives it one random
    frame per clip, (N, C, H, W) (MoCoGAN's image critic, §3.2; see :func:`take_view`). ``batch``:
    its own batch size, ``None`` for the run's minibatch. ``constraint(module, d_step)`` runs after the
    critic's optimizer step with the 0-based count of D steps taken before it (TGAN's SVC, §2.3).
    The module returns (N,) scores or a patch map (N, ...); the framework averages the patches.
    """

    module: nn.Module
    view: str
    batch: int | None
    optimizer: OptimizerSpec
    constraint: Constraint | None = None

    def __post_init__(self) -> None:
        if self.view not in VIEW_NAMES:
            raise ConfigError(f"critic view '{self.view}' is not one of {', '.join(VIEW_NAMES)}")
        if self.batch is not None and self.batch < 1:
            raise ConfigError(f"critic batch must be >= 1, got {self.batch}")


@dataclass
class BaselineParts:
    """Everything the trainer needs to train one baseline (BASELINES.md §5.2 "what each needs").

    ``g_extra(aux)`` maps the aux dict of ``generator.forward_with_aux`` to a scalar added to the G
    loss only (VGAN's mask term); ``None`` when the model has none.
    """

    generator: nn.Module
    critics: dict[str, CriticPart]
    loss: str
    g_optimizer: OptimizerSpec
    g_extra: Callable[[dict[str, Tensor]], Tensor] | None = None

    def __post_init__(self) -> None:
        if self.loss not in BASELINE_LOSSES:
            raise ConfigError(f"baseline loss '{self.loss}' is not one of {', '.join(BASELINE_LOSSES)}")
        if not self.critics:
            raise ConfigError("a baseline needs at least one critic")


class BaselineGenerator(nn.Module):
    """Base of the baseline generators: provgan's call signature over ``forward_with_aux``.

    ``level`` and ``alpha`` are accepted and ignored: a baseline has one level (no growth, no fade).
    """

    latent_dim: int

    def forward_with_aux(self, z: Tensor, level: int = 0, alpha: float = 1.0) -> tuple[Tensor, dict[str, Tensor]]:
        raise NotImplementedError

    def forward(self, z: Tensor, level: int = 0, alpha: float = 1.0) -> Tensor:
        return self.forward_with_aux(z, level, alpha)[0]

    def check_latent(self, z: Tensor) -> None:
        """One clear line when z is not (N, latent_dim)."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ConfigError(f"{type(self).__name__} expects z of shape (N, {self.latent_dim}), "
                              f"got {tuple(z.shape)}")


def stages(shape: Shape) -> int:
    """S = log2(H / 4) stride-2 spatial stages (BASELINES.md §1.5/§2.5); H = W, a power of two >= 32."""
    t, h, w = shape
    if h != w or h < 32 or h & (h - 1):
        raise ConfigError(f"baselines need square frames with H a power of two >= 32, got {t}x{h}x{w}")
    if t < 1:
        raise ConfigError(f"clip length must be >= 1, got {t}")
    return int(math.log2(h // 4))


def scaled(channels: int, width: float) -> int:
    """A channel count times the ``width`` multiplier (latent sizes stay), at least 1."""
    return max(1, int(round(channels * width)))


def check_width(width: float) -> None:
    if not width > 0:
        raise ConfigError(f"model.width must be > 0, got {width}")


def read_options(options: Mapping[str, Any] | None, defaults: Mapping[str, Any], arch: str) -> dict[str, Any]:
    """``defaults`` updated by ``options``; an unknown key is one error line naming the valid ones."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown model.options for {arch}: {', '.join(unknown)} "
                          f"(valid: {', '.join(sorted(defaults))})")
    out = dict(defaults)
    for key, value in options.items():
        kind = type(defaults[key])
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"model.options.{key} for {arch} must be {kind.__name__}, got {value!r}")
        out[key] = value
    return out


def take_view(view: str, clips: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """What a critic sees of (N, C, T, H, W) clips: the clips, or one random frame each (N, C, H, W).

    The frame index is drawn per clip from ``generator`` so a seeded run picks the same frames
    (MoCoGAN samples D_I's frames uniformly over time, §3.2).
    """
    if view == "clip":
        return clips
    if view != "frame":
        raise ConfigError(f"critic view '{view}' is not one of {', '.join(VIEW_NAMES)}")
    n, _, t = clips.shape[:3]
    idx = frame_index(n, t, generator).to(clips.device)
    return clips[torch.arange(n, device=clips.device), :, idx]  # (N, C, H, W)


def frame_index(n: int, t: int, generator: torch.Generator | None = None) -> Tensor:
    """One frame index per clip, uniform over 0..t-1, from ``generator`` (the draw take_view makes)."""
    return torch.randint(t, (n,), generator=generator, device=generator.device if generator else "cpu")


def fake_view(view: str, g: nn.Module, z: Tensor, level: int = 0, alpha: float = 1.0,
              generator: torch.Generator | None = None) -> Tensor:
    """What a critic sees of G(z): as :func:`take_view` of the clips, but for the ``frame`` view a
    generator with ``frames(z, index)`` (MoCoGAN) decodes only the chosen frames (1/T of the cost)."""
    if view == "frame" and hasattr(g, "frames"):
        return g.frames(z, frame_index(z.shape[0], g.frames_per_clip, generator))
    return take_view(view, g(z, level, alpha), generator)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
