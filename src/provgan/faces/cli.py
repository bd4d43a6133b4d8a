"""``provgan faces``: build a face-dynamics dataset (the thesis' TrailerFaces pipeline, §7.1)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from provgan.faces.options import DETECTORS, IDENTITY_METHODS, SHOT_METHODS, FacesOptions
from provgan.faces.stats import format_histogram

DEFAULT_MIN_FRAMES = 31  # thesis §7.1


class ProgressBars:
    """One overall bar (videos) and one bar per video being processed (frames), via tqdm on stderr."""

    def __init__(self, workers: int):
        from tqdm import tqdm

        self._tqdm = tqdm
        self.overall = None
        self.free = list(range(1, workers + 1))
        self.bars: dict[str, tuple[object, int]] = {}

    def __call__(self, event: str, key: str, value) -> None:
        if event == "found":
            self.overall = self._tqdm(total=value, desc="videos", unit="video", position=0, dynamic_ncols=True)
        elif event == "start":
            pos = self.free.pop(0) if self.free else len(self.bars) + 1
            bar = self._tqdm(total=value or None, desc=key[-28:], unit="frame", position=pos, leave=False,
                             dynamic_ncols=True)
            self.bars[key] = (bar, pos)
        elif event == "advance" and key in self.bars:
            self.bars[key][0].update(value)
        elif event in ("done", "skip"):
            self._finish(key, value, skipped=event == "skip")

    def _finish(self, key: str, result, skipped: bool) -> None:
        if key in self.bars:
            bar, pos = self.bars.pop(key)
            bar.close()
            self.free.append(pos)
            self.free.sort()
        if result.status == "failed":
            self._tqdm.write(f"skipped {result.reason}", file=sys.stderr)
        if self.overall is not None:
            self.overall.set_postfix_str("already done" if skipped else f"{key[-20:]}: {result.status}")
            self.overall.update(1)

    def close(self) -> None:
        for bar, _ in self.bars.values():
            bar.close()
        if self.overall is not None:
            self.overall.close()


def format_summary(summary) -> str:
    """The lines printed at the end: outcomes per video, counts, and the Table 7.2 histogram."""
    s = summary.status_counts
    lines = [f"videos: {summary.videos} found, {summary.processed} processed now, "
             f"{summary.skipped_done} already done",
             f"  with clips: {s['clips']}   no face: {s['no-face']}   faces but no track: {s['no-track']}   "
             f"failed: {s['failed']}",
             f"frames: {summary.frames}   shots: {summary.shots}   tracks: {summary.tracks}   "
             f"dropped (identity changed): {summary.dropped_identity}   clips: {summary.clips}"]
    lines += [f"  failed: {reason}" for _, reason in summary.failed]
    lines += ["", "Clip lengths (bins of the thesis' Table 7.2):", format_histogram(summary.histogram), "",
              f"clips in {summary.out / 'clips'}, manifest {summary.out / 'manifest.json'}, "
              f"statistics {summary.out / 'statistics.json'}"]
    if summary.store is not None:
        st = summary.store
        lines.append(f"store {st.out}: {st.num_clips} clips, levels "
                     + ", ".join("x".join(map(str, shape)) for shape in st.shapes)
                     + (f"; {len(st.skipped)} clip(s) left out (see warnings)" if st.skipped else ""))
    return "\n".join(lines)


@click.command("faces")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--min-frames", type=int, default=None,
              help=f"Shortest track kept, in frames  [default: {DEFAULT_MIN_FRAMES} (thesis), or the clip "
                   "length T of --plan if longer]")
@click.option("--size", type=int, default=256, show_default=True, help="Side of the aligned square clips.")
@click.option("--margin", type=float, default=0.25, show_default=True,
              help="Context around the template's face box, as a fraction of the box per side.")
@click.option("--workers", type=int, default=1, show_default=True, help="Videos processed in parallel.")
@click.option("--shots", type=click.Choice(SHOT_METHODS), default="sift", show_default=True,
              help="Shot boundaries by SIFT match counts (the thesis) or by PySceneDetect (faster).")
@click.option("--smooth", type=float, default=2.0, show_default=True,
              help="Std of the Gaussian smoothing of the alignment along a track, in frames (0: off).")
@click.option("--detector", type=click.Choice(DETECTORS), default="haar", show_default=True,
              help="Face detector: OpenCV's Haar cascade (the thesis), dlib's HOG or dlib's CNN (MMOD).")
@click.option("--haar-profile", type=float, default=0.4, show_default=True,
              help="Haar only: where the frontal cascade finds no face, OpenCV's profile cascade looks for "
                   "faces at least this fraction of the shorter frame side (a close-up cut by the frame "
                   "edge; 0: off).")
@click.option("--max-gap", type=int, default=2, show_default=True,
              help="Missed detections bridged inside a track (box and landmarks interpolated) before the "
                   "--min-frames rule.")
@click.option("--follow", type=int, default=12, show_default=True,
              help="Missed frames a detected face is followed through (correlation tracking), from the "
                   "shot's cut to the first detection and from the last one to the next cut (0: off).")
@click.option("--follow-psr", type=float, default=8.0, show_default=True,
              help="Least peak-to-sidelobe ratio of the tracker for a followed face to count.")
@click.option("--identity", type=click.Choice(IDENTITY_METHODS), default="embedding", show_default=True,
              help="Identity check of a track: dlib's 128-d face descriptors of its first, middle and last "
                   "faces, or SIFT matches of its first and last faces (the thesis).")
@click.option("--identity-matches", type=int, default=3, show_default=True,
              help="Fewest SIFT matches between a track's first and last faces (0: no identity check).")
@click.option("--identity-distance", type=float, default=0.6, show_default=True,
              help="Largest descriptor distance of one person (--identity embedding).")
@click.option("--detect-width", type=int, default=400, show_default=True,
              help="Wider frames are shrunk to this width for face detection (faster, misses small faces).")
@click.option("--plan", "preset", default=None, metavar="PRESET",
              help="Also prepare OUT/store from the clips for this config preset's level plan.")
@click.option("--dry-run", is_flag=True, help="List what would be done and stop.")
def faces(src: Path, out: Path, min_frames: int | None, size: int, margin: float, workers: int, shots: str,
          smooth: float, detector: str, haar_profile: float, max_gap: int, follow: int, follow_psr: float,
          identity: str, identity_matches: int, identity_distance: float, detect_width: int, preset: str | None,
          dry_run: bool) -> None:
    """Cut aligned face clips out of the videos in SRC into OUT (thesis §7.1, TrailerFaces).

    Shots are split where SIFT matches between consecutive frames drop; faces are found with OpenCV's
    Haar cascade (or dlib's HOG/CNN detector) on an edge-padded frame, a detected face is followed by
    correlation tracking through up to --follow missed frames to its shot's cut, gaps of up to
    --max-gap missed frames are bridged, faces are given 68 dlib landmarks and aligned to a fixed
    template by a similarity transform smoothed in time; runs of at least --min-frames one-face
    frames in one shot that show one person (--identity) become mp4 clips, listed with their source, shot, frame range and boxes in
    OUT/manifest.json, with the clip-length histogram of Table 7.2 in OUT/statistics.json.
    Re-running the command skips the videos already done.

    \b
    Examples:
      provgan faces trailers/ data/faces --workers 8
      provgan faces trailers/ data/faces --shots scenedetect --size 128
      provgan faces trailers/ data/faces --detector cnn --identity embedding
      provgan faces trailers/ data/faces --plan thesis-256 --workers 8
    """
    from provgan.faces.build import build_faces, check_plan, find_jobs, load_done

    options = FacesOptions(min_frames=_min_frames(min_frames, preset), size=size, margin=margin,
                           shots=shots, workers=workers, smooth_sigma=smooth,
                           identity_min_matches=identity_matches, detect_width=detect_width,
                           detector=detector, haar_profile=haar_profile, max_gap=max_gap, follow=follow,
                           follow_psr=follow_psr,
                           identity=identity,
                           identity_max_distance=identity_distance).check()
    if dry_run:
        if preset is not None:
            check_plan(preset, options)
        jobs = find_jobs(src)
        done = load_done(out, jobs, remove_stale=False) if out.is_dir() else {}
        click.echo(f"{len(jobs)} videos in {src}: {len(jobs) - len(done)} to process, {len(done)} already "
                   f"done in {out}")
        click.echo("options: " + ", ".join(f"{k}={v}" for k, v in options.signature().items()))
        return
    bars = ProgressBars(workers)
    try:
        summary = build_faces(src, out, options, plan=preset, report=bars)
    finally:
        bars.close()
    click.echo(format_summary(summary))


def _min_frames(min_frames: int | None, preset: str | None) -> int:
    """--min-frames as given, else 31, raised to the preset's clip length T with --plan."""
    if min_frames is not None:
        return min_frames
    if preset is None:
        return DEFAULT_MIN_FRAMES
    from provgan.data.prepare import resolve_plan

    return max(DEFAULT_MIN_FRAMES, resolve_plan(preset)[0][-1][0])
