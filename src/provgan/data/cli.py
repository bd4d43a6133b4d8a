"""``provgan prepare``: turn videos (or the embedded moving digits) into a per-level clip store."""

from __future__ import annotations

import logging
import os

import click

from provgan.data.moving_digits import MOTIONS
from provgan.errors import ProvganError

DEFAULT_WORKERS = min(4, os.cpu_count() or 1)


@click.command("prepare")
@click.argument("paths", nargs=-1, metavar="[SRC] OUT")
@click.option("--builtin", type=click.Choice(["moving-digits"]), default=None,
              help="Render an embedded dataset instead of reading SRC (nothing is downloaded).")
@click.option("--plan", default=None, metavar="PRESET",
              help="Config preset (or YAML file) whose model.plan sets the stored levels. Required for "
                   "videos; digits-64 for --builtin.")
@click.option("--clip", default="central", show_default=True, metavar="central|random|stride:N",
              help="Window per source: the central T frames (thesis protocol), a random one, or every "
                   "N frames.")
@click.option("--frames", type=int, default=None, metavar="T",
              help="Store the plan up to its largest level with T frames.")
@click.option("--size", type=int, default=None, metavar="S", help="Store the plan up to its level of SxS pixels.")
@click.option("--workers", type=int, default=DEFAULT_WORKERS, show_default=True,
              help="Decoding processes (the store is the same for any number).")
@click.option("--split", type=click.Path(dir_okay=False), default=None,
              help="Keep only the clips listed in this file (UCF-101 trainlist/testlist format).")
@click.option("--stacked-frames", type=int, default=None, metavar="H",
              help="SRC holds one image per clip with its frames, H pixels tall, stacked vertically "
                   "(VGAN's Golf release, Table 8.2: --stacked-frames 128).")
@click.option("--strict", is_flag=True, help="Stop at the first bad source instead of skipping it.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it is an existing store (or start an "
                                                "interrupted prepare again from zero).")
@click.option("--resume", is_flag=True, help="Continue an interrupted prepare of the same SRC into OUT "
                                             "(its finished videos are in OUT.partial); same bytes as an "
                                             "unbroken run.")
@click.option("--num-clips", type=int, default=4096, show_default=True, help="Clips to render (--builtin).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of --builtin rendering and of --clip random.")
@click.option("--max-digits", type=click.IntRange(1, 2), default=2, show_default=True,
              help="Digits per clip at most (--builtin): 2 puts two smaller digits in half the clips.")
@click.option("--motion-speed", type=float, default=1.0, show_default=True,
              help="Scale of the bounce speed and rotation rate (--builtin); 0.3 keeps motion under a pixel a frame.")
@click.option("--styles", type=click.IntRange(min=0), default=0, show_default=True,
              help="Handwriting samples per digit (--builtin); 0 uses all (about 180), 1 one glyph per digit.")
@click.option("--colour", type=click.Choice(["hue", "white"]), default="hue", show_default=True,
              help="Digit colour (--builtin): hue gives each digit its own colour, white is Moving MNIST's.")
@click.option("--digit-scale", type=float, default=1.0, show_default=True,
              help="Digit size relative to the default (--builtin), in [0.5, 2].")
@click.option("--motions", default=",".join(MOTIONS), show_default=True, metavar="NAME,...",
              help="Motions the clips cycle through (--builtin), any of " + ", ".join(MOTIONS) + ".")
@click.option("--dry-run", is_flag=True, help="Find and check the sources, print the plan, write nothing.")
def prepare(paths: tuple[str, ...], builtin: str | None, plan: str | None, clip: str, frames: int | None,
            size: int | None, workers: int, split: str | None, stacked_frames: int | None, strict: bool,
            overwrite: bool, resume: bool, num_clips: int, seed: int, max_digits: int, motion_speed: float,
            styles: int, colour: str, digit_scale: float, motions: str, dry_run: bool) -> None:
    """Prepare a clip store from SRC (videos, frame folders or a class tree) into OUT.

    \b
    Examples:
      provgan prepare --builtin moving-digits data/digits
      provgan prepare videos/ data/myclips --plan digits-64 --clip stride:16
      provgan prepare UCF-101/ data/ucf-train --plan ucf101-128 --split ucfTrainTestlist/trainlist01.txt
      provgan prepare UCF-101/ data/ucf-train --plan ucf101-128 --resume   # after a kill or a full disk
      provgan prepare golf/ data/golf --plan ucf101-128 --stacked-frames 128   # VGAN's Golf JPEGs
    """
    from provgan.data.prepare import prepare_builtin, prepare_store

    if workers < 1:
        raise ProvganError(f"--workers must be >= 1, got {workers}")
    if resume and overwrite:
        raise click.UsageError("--resume continues an interrupted prepare, --overwrite starts again: give one")
    with _ProgressBar() as progress:
        if builtin is not None:
            if len(paths) != 1:
                raise click.UsageError("with --builtin give only OUT (e.g. provgan prepare --builtin moving-digits data/digits)")
            if clip != "central" or split or strict or resume or stacked_frames:
                raise click.UsageError("--clip, --split, --strict, --stacked-frames and --resume apply to video sources, not "
                                       "--builtin (it renders in seconds: rerun it)")
            summary = prepare_builtin(builtin, paths[0], plan or "digits-64", num_clips=num_clips, seed=seed,
                                      frames=frames, size=size, workers=workers, overwrite=overwrite,
                                      progress=progress, dry_run=dry_run, max_digits=max_digits,
                                      motion_speed=motion_speed, styles=styles, colour=colour,
                                      digit_scale=digit_scale, motions=_names(motions))
        else:
            if len(paths) != 2:
                raise click.UsageError("give SRC and OUT (or --builtin moving-digits OUT)")
            if (max_digits != 2 or motion_speed != 1.0 or styles != 0 or colour != "hue" or digit_scale != 1.0
                    or sorted(_names(motions)) != sorted(MOTIONS)):
                raise click.UsageError("--max-digits, --motion-speed, --styles, --colour, --digit-scale and --motions "
                                       "apply to --builtin moving-digits only")
            if plan is None:
                raise click.UsageError("give --plan PRESET, e.g. --plan ucf101-128 or --plan digits-64")
            summary = prepare_store(paths[0], paths[1], plan, clip=clip, frames=frames, size=size,
                                    workers=workers, strict=strict, split=split, seed=seed,
                                    overwrite=overwrite, resume=resume, stacked_frames=stacked_frames,
                                    progress=progress, dry_run=dry_run)
    click.echo(format_summary(summary, dry_run))


def _names(text: str) -> tuple[str, ...]:
    """``"bounce, slide"`` -> ("bounce", "slide"); prepare checks the names."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


class _ProgressBar:
    """A tqdm bar fed by prepare's (done, planned) callback; log lines print above it."""

    def __enter__(self):
        from tqdm import tqdm
        from tqdm.contrib.logging import logging_redirect_tqdm

        self.bar = tqdm(total=0, unit="clip", dynamic_ncols=True, leave=False, disable=None)
        self.redirect = logging_redirect_tqdm([logging.getLogger()])
        self.redirect.__enter__()
        return self

    def __call__(self, done: int, planned: int) -> None:
        if self.bar.total != planned:
            self.bar.total = planned
        self.bar.update(done - self.bar.n)

    def __exit__(self, *exc) -> None:
        self.redirect.__exit__(*exc)
        self.bar.close()


def format_summary(summary, dry_run: bool = False) -> str:
    """The lines printed after a run: clips, levels, sources, skips and why, size, time."""
    from provgan.data.store import shape_name

    verb = "would prepare" if dry_run else "prepared"
    lines = [f"{verb} {summary.num_clips} clips ({summary.frames} frames at the top level) "
             f"{'for' if dry_run else 'into'} {summary.out}  "
             f"[{_size(summary.bytes)}, {summary.seconds:.1f} s]",
             f"levels: {', '.join(map(shape_name, summary.shapes))}"]
    source = summary.manifest.get("source", {})
    if source.get("builtin"):
        lines.append(f"source: built-in {source['builtin']}, seed {source['seed']}")
    else:
        lines.append(f"sources: {summary.sources} found, {summary.used} used, {len(summary.skipped)} skipped, "
                     f"{len(summary.converted)} converted")
    for title, items in (("skipped", summary.skipped), ("converted", summary.converted)):
        lines += [f"{title}:"] + [f"  {item.reason}" for item in items] if items else []
    if summary.ignored:
        lines.append(f"ignored {len(summary.ignored)} other entries (first: {summary.ignored[0]})")
    return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"
