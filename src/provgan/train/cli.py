"""``provgan train``: the command line of the training loop."""

from __future__ import annotations

import click
import yaml

from provgan.config import LOSS_NAMES, load_config


@click.command(context_settings={"show_default": True})
@click.option("--config", "config_name", default="digits-32", help="Preset name or YAML file.")
@click.option("--data", type=click.Path(path_type=str), required=True, help="Prepared clip store.")
@click.option("--out", "out", type=click.Path(path_type=str), required=True, help="Run folder.")
@click.option("--loss", type=click.Choice(LOSS_NAMES), default=None, help="Overrides loss.name.")
@click.option("--kimg", type=float, default=None, help="Total thousands of clips to show (schedule.total_kimg).")
@click.option("--resume", default=None, help="'auto' (newest checkpoint in --out) or a checkpoint path.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default=None, help="run.precision")
@click.option("--device", default=None, help="auto, cpu, cuda or cuda:N (run.device).")
@click.option("--seed", type=int, default=None, help="run.seed")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.argument("overrides", nargs=-1)
def train(config_name, data, out, loss, kimg, resume, precision, device, seed, dry_run, quiet, overrides):
    """Train a progressive video GAN on a prepared store.

    OVERRIDES are dotted key=value pairs applied on top of the preset, e.g.
    schedule.stable_kimg=20 loss.swgan_lambda1=25. Every default and override is saved in
    RUN_DIR/config.yaml.

    \b
    Examples:
      provgan train --config digits-32 --data data/digits --out runs/digits
      provgan train --config ucf101-128 --data data/ucf --out runs/ucf --loss wgan-gp --device cuda
      provgan train --config digits-32 --data data/digits --out runs/digits --resume auto
      torchrun --nproc_per_node 4 -m provgan train --config ucf101-128 --data data/ucf --out runs/ucf
    """
    from pathlib import Path

    from provgan.train.distributed import init_distributed, shutdown
    from provgan.train.loop import run_training

    extra = [f"{k}={v}" for k, v in (("loss.name", loss), ("schedule.total_kimg", kimg),
                                      ("run.precision", precision), ("run.device", device),
                                      ("run.seed", seed)) if v is not None]
    cfg = load_config(config_name, list(overrides) + extra)
    if dry_run:
        click.echo(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        return
    ctx = init_distributed(cfg.run.device)
    try:
        trainer = run_training(cfg, Path(data), Path(out), ctx, resume=resume, show_progress=not quiet)
    finally:
        shutdown()
    if ctx.is_main:
        p = trainer.progress
        click.echo(f"done: {p.kimg:.2f} kimg in {p.step} steps; level {p.last['level']} "
                   f"({'x'.join(map(str, cfg.model.plan[p.last['level']]))}); precision {trainer.precision}; "
                   f"run folder {out}")
