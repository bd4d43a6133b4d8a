"""Write the report page of a run: scan the folder, draw the curves, place the media, write atomically.

The page and its assets folder (``<page stem>_files/``: the PNG plots, and copies of the videos
when the page lies outside the run folder) are built under temporary names and renamed at the end,
so an interrupted report leaves the previous one intact. Inside the run folder the page points at
the run's own videos by relative paths; outside it, the videos are hard-linked (copied when a link
is not possible) into the assets folder, so the page and its folder can be moved or served together.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from provgan.atomic import disk_full_guard, fsync_dir
from provgan.errors import ProvganError
from provgan.report.curves import plot_curves
from provgan.report.page import render_page
from provgan.report.run_folder import scan_run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportResult:
    """Where the page went and what it shows."""

    page: Path
    assets: Path
    plots: int
    videos: int
    copied_media: bool


def default_page(run_dir: Path) -> Path:
    return Path(run_dir) / "report.html"


def _within(child: Path, parent: Path) -> bool:
    return child.resolve().is_relative_to(parent.resolve())


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


class _Placer:
    """Maps each file the page references to a URL relative to the page, copying media when needed."""

    def __init__(self, run: Path, page: Path, tmp_assets: Path, assets: Path):
        self.run, self.page_dir, self.tmp, self.assets = run.resolve(), page.parent.resolve(), tmp_assets, assets
        self.inside = _within(page.parent, run)
        self.copied = 0

    def __call__(self, path: Path) -> str:
        path = Path(path)
        if path.resolve().is_relative_to(self.tmp.resolve()):
            final = self.assets.resolve() / path.resolve().relative_to(self.tmp.resolve())
        elif self.inside:
            final = path.resolve()
        else:
            rel = path.resolve().relative_to(self.run)
            if not (self.tmp / "media" / rel).exists():
                _link_or_copy(path, self.tmp / "media" / rel)
                self.copied += 1
            final = self.assets.resolve() / "media" / rel
        return urllib.parse.quote(Path(os.path.relpath(final, self.page_dir)).as_posix())


def _check_page_path(page: Path) -> None:
    if page.suffix.lower() not in (".html", ".htm"):
        raise ProvganError(f"--out {page}: give an .html file name, e.g. report.html")
    if page.is_dir():
        raise ProvganError(f"--out {page} is a folder; give an .html file name, e.g. {page / 'report.html'}")


@contextlib.contextmanager
def _removed_on_error(folder: Path, file: Path):
    """Remove the report's temp folder and page if writing fails (a full disk must not stay full)."""
    try:
        yield
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        file.unlink(missing_ok=True)
        raise


def build_report(run_dir: str | Path, page: str | Path | None = None) -> ReportResult:
    """Write the report of ``run_dir`` to ``page`` (default ``run_dir/report.html``) and its assets."""
    run = scan_run(run_dir)
    page = Path(page) if page is not None else default_page(run.path)
    _check_page_path(page)
    page.parent.mkdir(parents=True, exist_ok=True)
    assets = page.with_name(f"{page.stem}_files")
    tmp = page.with_name(f".{page.stem}_files.tmp-{os.getpid()}")
    tmp_page = page.with_name(f".{page.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    with disk_full_guard(page), _removed_on_error(tmp, tmp_page):
        plots = plot_curves(run.stats, tmp)
        placer = _Placer(run.path, page, tmp, assets)
        now = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
        tmp_page.write_text(render_page(run, plots, placer, now), encoding="utf-8")
        fsync_dir(tmp)
        if assets.exists():
            shutil.rmtree(assets)
        os.replace(tmp, assets)
        os.replace(tmp_page, page)
    videos = len(run.level_finals) + len(run.interpolations) + (run.latest_samples is not None)
    log.debug("report %s: %d plots, %d videos", page, len(plots), videos)
    return ReportResult(page, assets, len(plots), videos, copied_media=not placer.inside)
