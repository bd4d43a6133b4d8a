"""One training step: D (and the SWGAN head) then G, and the EMA update. No I/O, no schedule logic.

Under several processes every rank draws the global batch's random numbers and keeps its strided
share (:mod:`provgan.shard`); gradients averaged over ranks then equal the one-process gradients up
to float rounding.
"""

from __future__ import annotations

import contextlib
import torch
import torch.distributed as dist

from provgan.config import Config
from provgan.levels import Position, fade_reals
from provgan.losses import get_loss
from provgan.optim import stiefel_step
from provgan.shard import Shard
from provgan.train.models import GanModels, GanOptimizers


def autocast(device: torch.device, precision: str):
    """bf16 autocast on CPU or CUDA when asked; fp32 otherwise (penalty gradients stay in fp32)."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def draw_latents(global_batch: int, dim: int, shard: Shard, device: torch.device) -> torch.Tensor:
    """Latents drawn on the CPU generator for the global batch (same stream on CPU and CUDA)."""
    return shard.take(torch.randn(global_batch, dim)).to(device)


def draw_labels(global_batch: int, num_classes: int, shard: Shard, device: torch.device) -> torch.Tensor:
    """Uniform class labels for the G step of a conditional run, drawn like the latents (global
    batch on the CPU generator, then sharded), so resume and several processes draw the same."""
    return shard.take(torch.randint(num_classes, (global_batch,))).to(device)


def _all_reduce_grads(params: list[torch.nn.Parameter], shard: Shard) -> None:
    """Average gradients over ranks in one flat all-reduce (as StyleGAN2-ADA does; it works with the
    double-backward penalties, which DistributedDataParallel's hooks do not support)."""
    if shard.world == 1:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.flatten() for g in grads])
    dist.all_reduce(flat)
    flat /= shard.world
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset:offset + n].view_as(p).clone()
        offset += n


def reg_weight(cfg: Config, d_step_index: int) -> float:
    """Factor on the double-backward penalty at D step ``d_step_index`` (StyleGAN2's lazy regularisation):
    ``k`` on every k-th step (k = ``loss.reg_interval``), 0 in between; always 1 when k = 1."""
    k = cfg.loss.reg_interval
    return float(k) if d_step_index % k == 0 else 0.0


def d_step(models: GanModels, opts: GanOptimizers, reals: torch.Tensor, pos: Position, cfg: Config,
           shard: Shard, precision: str, d_step_index: int = 0,
           labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """One update of D (and the sliced head, on the Stiefel manifold) on a batch of real clips.

    Conditional: ``labels`` are the reals' classes, and the fakes are drawn for the same classes, so
    real and fake halves of the batch (and their interpolates) are scored under the same labels.
    """
    device = reals.device
    pair = get_loss(cfg.loss.name)
    global_batch = reals.shape[0] * shard.world
    z = draw_latents(global_batch, cfg.model.latent_dim, shard, device)
    if pos.fading and pos.level > 0:
        reals = fade_reals(reals, models.generator.blocks[pos.level].factor, pos.alpha)
    params = list(models.discriminator.parameters())
    if models.head is not None:
        params += list(models.head.parameters())
    for opt in (opts.d, opts.head):
        if opt is not None:
            opt.zero_grad(set_to_none=True)
    with autocast(device, precision):
        with torch.no_grad():
            fakes = models.generator(z, pos.level, pos.alpha, labels)
        out = pair.d(models.critic(pos.level, pos.alpha, labels), reals, fakes, cfg.loss, shard=shard,
                     reg_weight=reg_weight(cfg, d_step_index))
    out.loss.backward()
    _all_reduce_grads(params, shard)
    opts.d.step()
    if opts.head is not None and models.head is not None:
        stiefel_step(opts.head, models.head.theta)
    return {f"Loss/D/{k}": v for k, v in out.terms.items()} | {"Loss/D/total": out.loss.detach()}


def g_step(models: GanModels, opts: GanOptimizers, global_batch: int, pos: Position, cfg: Config,
           shard: Shard, precision: str, device: torch.device) -> dict[str, torch.Tensor]:
    """One update of G against the current critic."""
    pair = get_loss(cfg.loss.name)
    z = draw_latents(global_batch, cfg.model.latent_dim, shard, device)
    labels = draw_labels(global_batch, cfg.model.num_classes, shard, device) if cfg.model.conditional else None
    opts.g.zero_grad(set_to_none=True)
    critic_params = [p for m in (models.discriminator, models.head) if m is not None for p in m.parameters()]
    for p in critic_params:
        p.requires_grad_(False)
    try:
        with autocast(device, precision):
            fakes = models.generator(z, pos.level, pos.alpha, labels)
            out = pair.g(models.critic(pos.level, pos.alpha, labels), fakes, cfg.loss)
        out.loss.backward()
    finally:
        for p in critic_params:
            p.requires_grad_(True)
    _all_reduce_grads(list(models.generator.parameters()), shard)
    opts.g.step()
    return {f"Loss/G/{k}": v for k, v in out.terms.items()} | {"Loss/G/total": out.loss.detach()}


def ema_beta(cfg: Config, step: int, batch: int) -> float:
    """The G EMA's per-step beta.

    PGGAN: a fixed 0.999, with an optional ramp ``(1 + t) / (10 + t)`` so short runs still average.
    With ``optim.ema_halflife_kimg`` > 0, StyleGAN2-ADA's form ``0.5 ** (batch / halflife_clips)``:
    the weight of a step halves every half-life of clips whatever the batch size.
    """
    o = cfg.optim
    beta = 0.5 ** (batch / (o.ema_halflife_kimg * 1000)) if o.ema_halflife_kimg > 0 else o.ema_beta
    return min(beta, (1.0 + step) / (10.0 + step)) if o.ema_rampup else beta


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, beta: float) -> None:
    """``ema = beta * ema + (1 - beta) * model`` for every parameter; buffers are copied."""
    for p_ema, p in zip(ema.parameters(), model.parameters()):
        p_ema.lerp_(p.detach(), 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)


def train_step(models: GanModels, opts: GanOptimizers, reals: torch.Tensor, pos: Position, cfg: Config,
               shard: Shard, precision: str, step: int,
               labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """n_critic D steps on ``reals`` (split evenly) then one G step and the EMA update.

    ``labels``: the reals' classes, for a conditional model (``model.conditional``) only.
    """
    if cfg.model.conditional and labels is None:
        raise ValueError("a conditional model trains on labelled clips: pass the reals' labels")
    terms: dict[str, torch.Tensor] = {}
    label_chunks = labels.chunk(cfg.optim.n_critic) if labels is not None else [None] * cfg.optim.n_critic
    for i, (chunk, y) in enumerate(zip(reals.chunk(cfg.optim.n_critic), label_chunks)):
        terms |= d_step(models, opts, chunk, pos, cfg, shard, precision, step * cfg.optim.n_critic + i, y)
    terms |= g_step(models, opts, reals.shape[0] * shard.world, pos, cfg, shard, precision, reals.device)
    ema_update(models.generator_ema, models.generator, ema_beta(cfg, step, reals.shape[0] * shard.world))
    return terms
