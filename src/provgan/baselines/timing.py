"""How long one update of a baseline takes on this machine, for sizing a run before training it.

A plain update with the parts' own losses, views and optimizers (each critic one step on real and
fresh fake clips, then its constraint; then one G step against all critics plus ``g_extra``), on
random "real" clips. It is a benchmark, not the trainer: provgan's trainer (train/step.py) runs the
same sequence with the data, logging and checkpoints around it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from provgan.baselines.common import BaselineParts, Shape, fake_view, take_view


def critic_loss(loss: str, real: Tensor, fake: Tensor) -> Tensor:
    """D's loss on (N, ...) scores, patches averaged: logistic (``ns``) or plain WGAN."""
    if loss == "ns":
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    return fake.mean() - real.mean()


def generator_loss(loss: str, fake: Tensor) -> Tensor:
    return F.softplus(-fake).mean() if loss == "ns" else -fake.mean()


@dataclass(frozen=True)
class StepTime:
    """Wall seconds per update, clips per wall second, and CPU seconds per update (all threads):
    on a shared machine the CPU time is the steadier figure."""

    seconds_per_step: float
    clips_per_second: float
    cpu_seconds_per_step: float


def time_updates(parts: BaselineParts, shape: Shape, channels: int, batch: int, steps: int,
                 seed: int = 0, bf16: bool = False) -> StepTime:
    """Mean wall time of ``steps`` updates at ``batch`` clips (one warm-up update not counted); with
    ``bf16`` the forwards run under CPU autocast to bfloat16, as the trainer's ``run.precision bf16``."""
    torch.manual_seed(seed)
    g = parts.generator.train()
    g_opt = parts.g_optimizer.make(g.parameters())
    d_opts = {n: c.optimizer.make(c.module.parameters()) for n, c in parts.critics.items()}
    reals = torch.rand(batch, channels, *shape) * 2 - 1
    start = cpu_start = 0.0
    for step in range(steps + 1):
        if step == 1:
            start, cpu_start = time.perf_counter(), time.process_time()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            update(parts, g, g_opt, d_opts, reals, step)
    seconds = (time.perf_counter() - start) / steps
    return StepTime(seconds, batch / seconds, (time.process_time() - cpu_start) / steps)


def update(parts: BaselineParts, g: nn.Module, g_opt: torch.optim.Optimizer,
           d_opts: dict[str, torch.optim.Optimizer], reals: Tensor, step: int) -> None:
    """Each critic one step on reals and fresh fakes (only the frames a frame critic sees are decoded),
    then its constraint; then one G step on one batch of clips that every critic views."""
    batch = reals.shape[0]
    for name, part in parts.critics.items():
        with torch.no_grad():
            fakes = fake_view(part.view, g, torch.randn(batch, g.latent_dim))
        loss = critic_loss(parts.loss, part.module(take_view(part.view, reals)).float(),
                           part.module(fakes).float())
        d_opts[name].zero_grad(set_to_none=True)
        loss.backward()
        d_opts[name].step()
        if part.constraint is not None:
            part.constraint(part.module, step)
    video, aux = g.forward_with_aux(torch.randn(batch, g.latent_dim))
    loss = sum(generator_loss(parts.loss, c.module(take_view(c.view, video)).float())
               for c in parts.critics.values())
    if parts.g_extra is not None:
        loss = loss + parts.g_extra(aux)
    g_opt.zero_grad(set_to_none=True)
    loss.backward()
    g_opt.step()
