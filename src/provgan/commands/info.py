"""``provgan info``: the level plan as a table in the manner of Tables A.1/A.2, and the schedule."""

from __future__ import annotations

import click
import torch

from provgan.config import Config, load_config
from provgan.levels import level_timeline, position_at
from provgan.nn import Discriminator, Generator
from provgan.nn.layers import EqualizedConv3d, EqualizedLinear


def _shape(s) -> str:
    return "x".join(str(v) for v in s)


def layer_rows(module: torch.nn.Module, run) -> list[tuple[str, str, int]]:
    """(layer name, output shape C x T x H x W, own parameter count) for each leaf conv/dense that ran."""
    rows: list[tuple[str, str, int]] = []
    hooks = []
    for name, m in module.named_modules():
        if isinstance(m, (EqualizedConv3d, EqualizedLinear)):
            def hook(mod, inp, out, name=name):
                rows.append((name, _shape(out.shape[1:]), sum(p.numel() for p in mod.parameters())))
            hooks.append(m.register_forward_hook(hook))
    try:
        run()
    finally:
        for h in hooks:
            h.remove()
    return rows


def baseline_table(cfg: Config) -> str:
    """`provgan info` of a baseline (model.arch vgan | tgan | mocogan): its one clip shape, latent,
    parameters of G and of each critic with the view, batch and optimizer each trains with."""
    from provgan.registry import build_parts

    parts = build_parts(cfg)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    shape = cfg.model.plan[0]
    lines = [f"config: {cfg.name}    arch: {cfg.model.arch}    width: {cfg.model.width:g}    loss: {parts.loss}    "
             f"latent: {parts.generator.latent_dim}",
             f"clip: {_shape(shape)} ({cfg.model.image_channels} channels), one level (no growth, no fade)", "",
             f"{'network':<10}{'params':>12}  {'view':<6}{'batch':>6}  optimizer"]
    g = parts.g_optimizer
    lines.append(f"{'G':<10}{count(parts.generator):>12,}  {'':<6}{'':>6}  {g.name} lr {g.lr:g}"
                 + (f" weight_decay {g.weight_decay:g}" if g.weight_decay else ""))
    for name, part in parts.critics.items():
        o = part.optimizer
        lines.append(f"{name:<10}{count(part.module):>12,}  {part.view:<6}{part.batch or 'run':>6}  {o.name} lr {o.lr:g}"
                     + (f" weight_decay {o.weight_decay:g}" if o.weight_decay else "")
                     + ("  + post-step constraint" if part.constraint is not None else ""))
    if parts.g_extra is not None:
        lines.append("G loss: + an extra term from G's forward (VGAN's mask sparsity)")
    lines += ["", f"Schedule: {cfg.schedule.total_kimg:g} kimg at minibatch "
                  f"{position_at(0, cfg.model.plan, cfg.schedule).minibatch}"]
    return "\n".join(lines)


def info_table(cfg: Config) -> str:
    """The text `provgan info` prints: layers per network at the top level, totals, schedule."""
    if cfg.model.arch != "progressive":
        return baseline_table(cfg)
    with torch.device("meta"):
        g = Generator(cfg.model)
        d = Discriminator(cfg.model, score_head=cfg.loss.name not in ("swgan", "swgan-eq53"),
                          rotation_head=cfg.loss.rotation_weight > 0)
        top = g.num_levels - 1
        z = torch.empty(2, cfg.model.latent_dim)
        g_rows = layer_rows(g, lambda: g(z, top))
        x = torch.empty(4, *d.input_shape(top))
        d_rows = layer_rows(d, lambda: d.features(x, top))
    lines = [f"config: {cfg.name}    loss: {cfg.loss.name}    latent: {cfg.model.latent_dim}", ""]
    lines.append(f"{'level':>5}  {'clip TxHxW':>12}  {'G ch':>5}  {'D ch':>5}  {'G params':>10}  {'D params':>10}")
    for level, shape in enumerate(cfg.model.plan):
        gp = sum(p.numel() for p in g.blocks[level].parameters())
        dp = sum(p.numel() for p in d.blocks[level].parameters())
        lines.append(f"{level:>5}  {_shape(shape):>12}  {cfg.model.g_channels[level]:>5}  "
                     f"{cfg.model.discriminator_channels[level]:>5}  {gp:>10,}  {dp:>10,}")
    for title, rows in (("Generator (top level)", g_rows), ("Discriminator (top level)", d_rows)):
        lines += ["", f"{title:<34}{'output':>18}{'params':>12}"]
        lines += [f"  {name:<32}{shape:>18}{n:>12,}" for name, shape, n in rows]
    g_total = g.num_parameters(top)
    d_total = sum(n for _, _, n in d_rows) + (sum(p.numel() for p in d.score.parameters()) if d.score else 0)
    lines += ["", f"Generator total (Table A.1 count: blocks + final toRGB): {g_total:,}",
              f"Generator total with every level's toRGB: {sum(p.numel() for p in g.parameters()):,}",
              f"Discriminator total at the top level: {d_total:,}"]
    if cfg.model.frame_critic:
        from provgan.nn.frame_critic import FrameCritic

        with torch.device("meta"):
            frames = FrameCritic(cfg.model, sliced=d.score is None)
        lines.append(f"Frame critic (model.frame_critic: {cfg.model.frame_critic} frames of each clip, one at a "
                     f"time, with its head): {sum(p.numel() for p in frames.parameters()):,}")
    lines += ["",
              f"Schedule: {cfg.schedule.stable_kimg:g} kimg stable + {cfg.schedule.fade_kimg:g} kimg fade per "
              f"level{' unless set per resolution' if cfg.schedule.stable or cfg.schedule.fade else ''}, "
              f"{cfg.schedule.total_kimg:g} kimg in all",
              f"{'level':>5}  {'fade starts':>11}  {'stable from':>11}  {'ends':>8}  {'minibatch':>9}  {'lr':>8}"]
    for level, fade_start, stable, end in level_timeline(cfg.model.plan, cfg.schedule):
        pos = position_at(stable, cfg.model.plan, cfg.schedule)
        lines.append(f"{level:>5}  {fade_start:>11g}  {stable:>11g}  {end:>8g}  {pos.minibatch:>9}  {pos.lr:>8g}")
    return "\n".join(lines)


@click.command()
@click.option("--config", "config_name", default="digits-32", show_default=True,
              help="Preset name or YAML file.")
@click.argument("overrides", nargs=-1)
def info(config_name: str, overrides: tuple[str, ...]) -> None:
    """Print the level plan, layer shapes, parameter counts and schedule of a config.

    \b
    Example:
      provgan info --config thesis-256        # generator total 3,702,091 (Table A.1)
      provgan info --config tiny loss.name=wgan-gp
    """
    click.echo(info_table(load_config(config_name, overrides)))
