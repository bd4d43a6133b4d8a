"""``provgan report``: the command line of the run report page."""

from __future__ import annotations

from pathlib import Path

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path), default=None,
              help="HTML file to write [default: RUN_DIR/report.html]; its assets go to <name>_files/.")
def report(run_dir: Path, out: Path | None) -> None:
    """Write a static HTML page about the run in RUN_DIR: config, curves, samples, metrics.

    The page needs no network and no JavaScript library: PNG plots of the losses, penalties,
    schedule, clips/s and memory from stats.jsonl; the final sample grid of every level as
    <video> (mp4, gif fallback); the metrics-*.json table; interpolation*.mp4 videos if present.
    Outside the run folder the videos are linked or copied next to the page.

    \b
    Examples:
      provgan report runs/digits                      # runs/digits/report.html
      provgan report runs/digits --out ~/www/digits.html
    """
    from provgan.report.build import build_report

    result = build_report(run_dir, out)
    click.echo(f"wrote {result.page} ({result.plots} plots, {result.videos} videos"
               f"{', media copied into ' + str(result.assets) if result.copied_media else ''})")
