"""``provgan generate`` and ``provgan interpolate``: clips and Appendix B interpolations from G_ema.

Thin glue over :mod:`provgan.sampling` (sampling and writing) and :mod:`provgan.interpolation`
(slerp/lerp paths): options in, a progress bar and one line per output out.
"""

from __future__ import annotations

from pathlib import Path

import click

from provgan.errors import ProvganError
from provgan.interpolation import MODES, parse_seeds
from provgan.sampling import FORMATS

DEVICE_HELP = "auto (CUDA when present), cpu, cuda or cuda:N."


def _progress_bar(total: int, batch: int, desc: str):
    """A tqdm bar on stderr when there is more than one batch to make (None otherwise)."""
    if total <= batch:
        return None, lambda n: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit="clip", leave=False, dynamic_ncols=True)
    return bar, bar.update


def _load(checkpoint: Path, device: str):
    from provgan.sampling import resolve_device
    from provgan.registry import load_sampler

    return load_sampler(checkpoint, resolve_device(device))


def _describe(tg, level: int) -> str:
    shape = "x".join(map(str, tg.config.model.plan[level]))
    return f"{tg.path} (kimg {tg.kimg:g}, level {level}: {shape})"


@click.command(context_settings={"show_default": True, "help_option_names": ["-h", "--help"]})
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder for the clips.")
@click.option("--num", default=None, type=int, help="Clips to make [default: 16, or ROWSxCOLS with --grid].")
@click.option("--seed", default=0, help="Clip i uses latent seed SEED+i.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="mp4",
              help="mp4/gif video, a folder of PNG frames, npz (uint8 clip + seed, level, alpha, kimg), "
                   "or strip: one PNG of the first, middle and last frames.")
@click.option("--grid", default=None, help="ROWSxCOLS: one grid video instead of one file per clip.")
@click.option("--level", default=None, type=int, help="Level to sample at (<= the checkpoint's) [default: its level].")
@click.option("--fps", default=8.0, help="Frames per second of videos.")
@click.option("--upscale", default=None, type=int,
              help="Pixel repetition factor [default: to ~96 px for videos, 1 for npz].")
@click.option("--device", default="auto", help=DEVICE_HELP)
@click.option("--batch", default=16, help="Clips per forward pass.")
@click.option("--class", "class_name", default=None,
              help="Class-conditional checkpoint: the class to draw (index or name, e.g. 3) "
                   "[default: seed mod classes; a --grid has one row per class].")
def generate_cmd(checkpoint: Path, out: Path, num: int | None, seed: int, fmt: str, grid: str | None,
                 level: int | None, fps: float, upscale: int | None, device: str, batch: int,
                 class_name: str | None) -> None:
    """Sample clips from the EMA generator of CHECKPOINT (a ckpt-*.pt file or a run folder).

    Deterministic: clip i uses latent seed SEED+i, so the first clips of a larger --num are the
    clips of a smaller one, bit for bit with the same --batch (the last batch is padded), and up to
    float rounding (one grey level) across batch sizes and devices.

    \b
    Examples:
      provgan generate runs/digits --num 64 --seed 0 --out samples/
      provgan generate runs/digits --grid 4x8 --out samples/ --format gif
      provgan generate runs/digits-cond --grid 10x4 --out samples/ --format strip  # first/middle/last
      provgan generate runs/digits/ckpt-000048.pt --num 2048 --format npz --level 2 --out clips/
      provgan generate runs/digits-cond --class 3 --grid 4x4 --out samples/   # conditional: only threes
    """
    from provgan.sampling import GenerateOptions, generate, parse_grid, resolve_level

    shape = parse_grid(grid) if grid else None
    count = num if num is not None else (shape[0] * shape[1] if shape else 16)
    tg = _load(checkpoint, device)
    chosen_class = tg.class_index(class_name) if class_name is not None else None
    opts = GenerateOptions(num=count, seed=seed, fmt=fmt, grid=shape, level=level, fps=fps, upscale=upscale,
                           batch=batch, class_index=chosen_class)
    chosen = resolve_level(tg, level)
    bar, update = _progress_bar(count, batch, "generate")
    try:
        paths = generate(tg, opts, out, update)
    finally:
        if bar is not None:
            bar.close()
    where = paths[0] if len(paths) == 1 else out
    what = "" if chosen_class is None else f" of class {_class_name(tg, chosen_class)}"
    click.echo(f"wrote {count} clips{what} (seeds {seed}..{seed + count - 1}) "
               f"from {_describe(tg, chosen)} to {where}")


def _class_name(tg, index: int) -> str:
    return tg.class_names[index] if tg.class_names else str(index)


@click.command(context_settings={"show_default": True, "help_option_names": ["-h", "--help"]})
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("--seeds", required=True, help="Comma list A,B[,C...]: one row per consecutive pair.")
@click.option("--steps", default=8, help="Columns: latents from one seed to the next, both ends included.")
@click.option("--mode", type=click.Choice(MODES), default="slerp",
              help="slerp: great circle of the pixel-normalised latent; lerp: straight line (thesis App. B).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Video file (.mp4 or .gif).")
@click.option("--level", default=None, type=int, help="Level to sample at [default: the checkpoint's].")
@click.option("--fps", default=8.0, help="Frames per second.")
@click.option("--upscale", default=None, type=int, help="Pixel repetition factor [default: to ~96 px].")
@click.option("--device", default="auto", help=DEVICE_HELP)
@click.option("--batch", default=16, help="Clips per forward pass.")
@click.option("--class", "class_name", default=None,
              help="Class-conditional checkpoint: interpolate within this class [default: row r keeps "
                   "the class of seed r].")
def interpolate_cmd(checkpoint: Path, seeds: str, steps: int, mode: str, out: Path, level: int | None,
                    fps: float, upscale: int | None, device: str, batch: int, class_name: str | None) -> None:
    """Latent interpolations (thesis Appendix B) of CHECKPOINT as one grid video.

    Row r walks from seed r to seed r+1 in STEPS columns; the first and last columns are the
    latents of those seeds exactly, so they show the clips `provgan generate` makes for them (bit
    for bit with --batch 1 in both). Put the video in the run folder
    (e.g. RUN/samples/interpolation.mp4) and `provgan report` shows it.

    \b
    Examples:
      provgan interpolate runs/digits --seeds 0,1,2,3 --steps 8 --out runs/digits/samples/interpolation.mp4
      provgan interpolate runs/digits/ckpt-000048.pt --seeds 5,9 --mode lerp --out lerp.gif
    """
    from provgan.data.video_io import write_video
    from provgan.sampling import interpolation_grid, resolve_level

    if out.suffix.lower() not in (".mp4", ".gif"):
        raise ProvganError(f"--out {out}: give a .mp4 or .gif file")
    if upscale is not None and upscale < 1 or batch < 1 or fps <= 0:
        raise ProvganError("--upscale, --batch and --fps must be positive")
    try:
        seed_list = parse_seeds(seeds)
    except ValueError as exc:
        raise ProvganError(f"--seeds {seeds!r}: {exc}; give integers like 0,1,2") from None
    tg = _load(checkpoint, device)
    chosen_class = tg.class_index(class_name) if class_name is not None else None
    chosen = resolve_level(tg, level)
    total = max(len(seed_list) - 1, 0) * steps
    bar, update = _progress_bar(total, batch, "interpolate")
    try:
        frames = interpolation_grid(tg, seed_list, steps, mode, chosen, batch, upscale, update, chosen_class)
    finally:
        if bar is not None:
            bar.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_video(out, frames, fps=fps)
    click.echo(f"wrote {len(seed_list) - 1}x{steps} {mode} interpolation from {_describe(tg, chosen)} to {out}")
