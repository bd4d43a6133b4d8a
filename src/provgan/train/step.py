"""One training step: every critic (and the SWGAN head) then G, and the EMA update. No I/O, no
schedule logic. The critics are a named set (:mod:`provgan.train.models`); the progressive model is
the one critic ``D`` seeing whole clips, and that case is the step of before the set existed
(tests/train/test_critic_regression.py).

Under several processes every rank draws the global batch's random numbers and keeps its strided
share (:mod:`provgan.shard`); gradients averaged over ranks then equal the one-process gradients up
to float rounding.
"""

from __future__ import annotations

import contextlib
import dataclasses

import torch
import torch.distributed as dist

from provgan.config import Config
from provgan.levels import Position, fade_reals
from provgan.losses import Critic, get_loss, info_loss, rotation_task_loss, top_k_mean
from provgan.nn.conditioning import latent_code
from provgan.nn.discriminator import QUARTER_TURNS
from provgan.nn.frame_critic import draw_frame_index, gather_frames, pick_frames
from provgan.baselines.common import fake_view, take_view
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


def shuffle_frames(clips: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """(N, C, T, H, W) clips with the frames of clip i put in ``order[i]`` (N, T)."""
    return gather_frames(clips, order)


def with_shuffled_reals(fakes: torch.Tensor, reals: torch.Tensor, share: float, shard: Shard) -> torch.Tensor:
    """The critic's fake batch with about ``share`` of its clips replaced by real clips, frames shuffled.

    Why (issue 14): at 30 kimg the progressive critic scores real clips with shuffled frames as it
    scores real ones (AUC 0.50, ``benchmarks/identity_probe.py``), so nothing teaches G the order of
    frames, and the offline classifier cannot tell which motion most of G's clips show. A real clip
    whose frames are shuffled has real frames and a wrong order, so telling it from real clips needs
    exactly the temporal features G's clips lack. Which clips are replaced and their orders are drawn
    for the global batch on the CPU generator, as the latents are.
    """
    n, frames = reals.shape[0] * shard.world, reals.shape[2]
    replace = shard.take(torch.rand(n) < share).to(fakes.device)
    order = shard.take(torch.rand(n, frames).argsort(dim=1))
    shuffled = shuffle_frames(reals, order).to(fakes.dtype)
    return torch.where(replace.view(-1, 1, 1, 1, 1), shuffled, fakes)


def remembering(critic: Critic, clips: torch.Tensor) -> tuple[Critic, dict[str, torch.Tensor]]:
    """``critic`` that also keeps E(clips) when a loss computes it (under ``["e"]``), so a second head
    on the same features (InfoGAN's Q) costs no second pass through D."""
    seen: dict[str, torch.Tensor] = {}

    def features(x: torch.Tensor) -> torch.Tensor:
        e = critic.features(x)
        if x is clips:
            seen["e"] = e
        return e

    return dataclasses.replace(critic, features=features), seen


def _info_term(module: torch.nn.Module, seen: dict[str, torch.Tensor], z: torch.Tensor,
               num_codes: int) -> torch.Tensor:
    """Mean InfoGAN cross-entropy of Q(E(G(z))) against the codes of z (model.latent_codes)."""
    return info_loss(module.info(seen["e"].float()), latent_code(z, num_codes)).mean()


def _frame_view(models: GanModels, clips: torch.Tensor, shard: Shard) -> torch.Tensor:
    """k frames of each clip for the frame critic, the indices drawn for the global batch on the CPU
    generator like the latents (so resume and several processes draw the same frames)."""
    k = models.frames.frames_per_clip
    index = shard.take(draw_frame_index(clips.shape[0] * shard.world, clips.shape[2], k))
    return pick_frames(clips, index)


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


def _generate(models: GanModels, z: torch.Tensor, pos: Position, labels: torch.Tensor | None) -> torch.Tensor:
    """G(z) at the position; a conditional (progressive) G also gets the labels."""
    if labels is None:
        return models.generator(z, pos.level, pos.alpha)
    return models.generator(z, pos.level, pos.alpha, labels)


def _viewed_fakes(models: GanModels, view: str, z: torch.Tensor, pos: Position,
                  labels: torch.Tensor | None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """What a critic of ``view`` sees of G(z), and G's aux outputs (VGAN's mask) when the G loss
    uses them. The ``frame`` view of a generator that can decode single frames (MoCoGAN) decodes
    only those (:func:`~provgan.baselines.common.fake_view`)."""
    if models.g_extra is not None and hasattr(models.generator, "forward_with_aux"):
        clips, aux = models.generator.forward_with_aux(z, pos.level, pos.alpha)
        return take_view(view, clips), aux
    if labels is not None:
        return take_view(view, _generate(models, z, pos, labels)), {}
    return fake_view(view, models.generator, z, pos.level, pos.alpha), {}


def critic_step(models: GanModels, opts: GanOptimizers, name: str, reals: torch.Tensor, pos: Position,
                cfg: Config, shard: Shard, precision: str, d_step_index: int = 0,
                labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """One update of critic ``name`` (and, for the progressive D, the sliced head on the Stiefel
    manifold) on a batch of real clips, then its post-step constraint with the D step count.

    Conditional: ``labels`` are the reals' classes, and the fakes are drawn for the same classes, so
    real and fake halves of the batch (and their interpolates) are scored under the same labels.
    """
    part = models.critics[name]
    device = reals.device
    pair = get_loss(models.loss)
    global_batch = reals.shape[0] * shard.world
    z = draw_latents(global_batch, models.generator.latent_dim, shard, device)
    if pos.fading and pos.level > 0:
        reals = fade_reals(reals, models.generator.blocks[pos.level].factor, pos.alpha)
    head = models.head if name == "D" else None
    head_opt = opts.head if head is not None else None
    frames = models.frames if name == "D" else None  # model.frame_critic: steps with D, on D's clips
    frames_opt = opts.by_name["F"] if frames is not None else None
    params = list(part.module.parameters()) + (list(head.parameters()) if head is not None else [])
    params += list(frames.parameters()) if frames is not None else []
    for opt in (opts.by_name[name], head_opt, frames_opt):
        if opt is not None:
            opt.zero_grad(set_to_none=True)
    with autocast(device, precision):
        with torch.no_grad():
            fakes = take_view(part.view, _generate(models, z, pos, labels)) if labels is not None else \
                fake_view(part.view, models.generator, z, pos.level, pos.alpha)
        real_view = take_view(part.view, reals)
        g_fakes = fakes  # the frame critic sees G's clips, never the shuffled real clips below
        if cfg.loss.shuffled_fakes > 0 and fakes.ndim == 5 and fakes.shape[2] > 1:
            fakes = with_shuffled_reals(fakes, real_view, cfg.loss.shuffled_fakes, shard)
        critic = models.critic(name, pos.level, pos.alpha, labels)
        info_head = getattr(part.module, "info", None)  # built only when loss.info_weight > 0
        if info_head is not None:
            critic, seen = remembering(critic, fakes)
        out = pair.d(critic, real_view, fakes, cfg.loss, shard=shard, reg_weight=reg_weight(cfg, d_step_index))
        loss, terms = out.loss, dict(out.terms)
        if info_head is not None:  # Q learns to tell G's code back from its clips
            info = _info_term(part.module, seen, z, cfg.model.latent_codes)
            loss = loss + cfg.loss.info_weight * info
            terms["info"] = info.detach()
        rotation_head = getattr(part.module, "rotation", None)  # built only when loss.rotation_weight > 0
        if rotation_head is not None:
            turns = shard.take(torch.randint(QUARTER_TURNS, (global_batch,)))  # drawn like the latents
            rot = rotation_task_loss(critic.features, rotation_head, real_view, turns)
            loss = loss + cfg.loss.rotation_weight * rot.mean()
            terms["rotation"] = rot.detach().mean()
        if frames is not None:  # the same reals and fakes, k frames of each, scored one frame at a time
            k = frames.frames_per_clip
            frame_real, frame_fake = (_frame_view(models, x, shard) for x in (real_view, g_fakes))
            out = pair.d(models.frame_critic(pos.level, pos.alpha, labels), frame_real, frame_fake, cfg.loss,
                         shard=shard.per_clip(k), reg_weight=reg_weight(cfg, d_step_index))
            loss = loss + cfg.loss.frame_weight * out.loss
            terms |= {f"frames/{key}": v for key, v in out.terms.items()} | {"frames/loss": out.loss.detach()}
    loss.backward()
    _all_reduce_grads(params, shard)
    opts.by_name[name].step()
    if head_opt is not None and head is not None:
        stiefel_step(head_opt, head.theta)
    if frames_opt is not None and frames is not None:
        if frames.head is not None:
            stiefel_step(frames_opt, frames.head.theta)
        else:
            frames_opt.step()
    if part.constraint is not None:
        with torch.no_grad():
            part.constraint(part.module, d_step_index)
    prefix = f"Loss/{name}"  # Loss/D for the progressive critic, as the logs have always named it
    return {f"{prefix}/{k}": v for k, v in terms.items()} | {f"{prefix}/total": loss.detach()}


def d_step(models: GanModels, opts: GanOptimizers, reals: torch.Tensor, pos: Position, cfg: Config,
           shard: Shard, precision: str, d_step_index: int = 0,
           labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """One update of the progressive critic ``D`` (kept for callers of the one-critic step)."""
    return critic_step(models, opts, "D", reals, pos, cfg, shard, precision, d_step_index, labels)


def g_step(models: GanModels, opts: GanOptimizers, global_batch: int, pos: Position, cfg: Config,
           shard: Shard, precision: str, device: torch.device) -> dict[str, torch.Tensor]:
    """One update of G against every critic: the sum of each critic's G loss on its own fresh fakes
    (MoCoGAN's L_G = BCE(D_I) + BCE(D_V), §3.3), plus the generator's extra term when it has one
    (VGAN's 0.1 mean(m), §1.3; averaged over the G forwards of the step)."""
    pair = get_loss(models.loss)
    opts.g.zero_grad(set_to_none=True)
    critic_params = models.critic_parameters()
    for p in critic_params:
        p.requires_grad_(False)
    terms: dict[str, torch.Tensor] = {}
    single = len(models.critics) == 1
    try:
        with autocast(device, precision):
            total = None
            extras = []
            for name, part in models.critics.items():
                batch = global_batch if part.batch is None else part.batch
                z = draw_latents(batch, models.generator.latent_dim, shard, device)
                labels = draw_labels(batch, cfg.model.num_classes, shard, device) if cfg.model.conditional else None
                fakes, aux = _viewed_fakes(models, part.view, z, pos, labels)
                critic = models.critic(name, pos.level, pos.alpha, labels)
                info_head = getattr(part.module, "info", None)
                if info_head is not None:
                    critic, seen = remembering(critic, fakes)
                out = pair.g(critic, fakes, cfg.loss)
                if cfg.loss.g_top_k < 1.0 and out.per_sample is not None:  # top-k training
                    out = dataclasses.replace(out, loss=top_k_mean(out.per_sample, cfg.loss.g_top_k))
                total = out.loss if total is None else total + out.loss
                where = "Loss/G" if single else f"Loss/G/{name}"
                terms |= {f"{where}/{k}": v for k, v in out.terms.items()}
                if info_head is not None:  # and G learns to draw its code so that Q can tell it
                    info = _info_term(part.module, seen, z, cfg.model.latent_codes)
                    total = total + cfg.loss.info_weight * info
                    terms[f"{where}/info"] = info.detach()
                if name == "D" and models.frames is not None:  # the frame critic, on frames of the same fakes
                    frame_out = pair.g(models.frame_critic(pos.level, pos.alpha, labels),
                                       _frame_view(models, fakes, shard), cfg.loss)
                    total = total + cfg.loss.frame_weight * frame_out.loss
                    terms |= {f"{where}/frames/{k}": v for k, v in frame_out.terms.items()}
                    terms[f"{where}/frames/loss"] = frame_out.loss.detach()
                if not single:
                    terms[f"{where}/loss"] = out.loss.detach()
                if models.g_extra is not None:
                    extras.append(models.g_extra(aux))
            if extras:
                extra = torch.stack([e.float() for e in extras]).mean()
                total = total + extra
                terms["Loss/G/extra"] = extra.detach()
        total.backward()
    finally:
        for p in critic_params:
            p.requires_grad_(True)
    _all_reduce_grads(list(models.generator.parameters()), shard)
    opts.g.step()
    return terms | {"Loss/G/total": total.detach()}


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


def train_step(models: GanModels, opts: GanOptimizers, reals: torch.Tensor | dict[str, torch.Tensor],
               pos: Position, cfg: Config, shard: Shard, precision: str, step: int,
               labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """n_critic rounds of critic steps, then one G step and the EMA update.

    ``reals`` is one batch of clips for every critic, or a dict of one batch per critic (critics with
    their own batch, MoCoGAN's D_I and D_V). Each critic's batch is split evenly over the rounds; in a
    round the critics step in their order, each on fresh fakes. The G batch is the first critic's.
    ``labels``: the reals' classes, for a conditional (progressive, one-critic) model only.
    """
    if cfg.model.conditional and labels is None:
        raise ValueError("a conditional model trains on labelled clips: pass the reals' labels")
    batches = reals if isinstance(reals, dict) else {name: reals for name in models.critics}
    terms: dict[str, torch.Tensor] = {}
    n = cfg.optim.n_critic
    chunks = {name: batches[name].chunk(n) for name in models.critics}
    label_chunks = labels.chunk(n) if labels is not None else [None] * n
    for i in range(n):
        for name in models.critics:
            terms |= critic_step(models, opts, name, chunks[name][i], pos, cfg, shard, precision, step * n + i,
                                 label_chunks[i])
    first = batches[next(iter(models.critics))]
    terms |= g_step(models, opts, first.shape[0] * shard.world, pos, cfg, shard, precision, first.device)
    ema_update(models.generator_ema, models.generator, ema_beta(cfg, step, first.shape[0] * shard.world))
    return terms
