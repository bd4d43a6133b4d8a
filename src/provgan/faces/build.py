"""``provgan faces``' engine: every video of a folder -> aligned face clips, manifest, Table 7.2 statistics.

Output folder layout::

    OUT/options.json      SRC and the options that shape the clips (a re-run must use the same)
    OUT/clips/*.mp4       aligned clips (a plain folder of videos: ``provgan prepare`` reads it)
    OUT/videos/<key>.json one record per finished source video (what was found, which clips)
    OUT/manifest.json     all clips: source, shot, frame range, boxes; per-video outcomes
    OUT/statistics.json   clip counts per Table 7.2 frame-count bin, and the run's counts
    OUT/store/            with ``--plan``: a prepared store of the clips (provgan.data.prepare)

An output folder belongs to one source folder and one set of options (both checked on every run)
and mirrors it. A video's record is written (atomically) only after all its clips, so an interrupted
run resumes by skipping the videos whose record matches the file (size, modification time); a changed
video is done again and a video no longer in SRC loses its clips. Videos that failed get no record
and are tried again next time.
"""

from __future__ import annotations

import functools
import json
import logging
import multiprocessing as mp
import queue as queue_lib
import re
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from provgan.atomic import atomic_write_text
from provgan.errors import ProvganError
from provgan.faces.options import FacesOptions
from provgan.faces.pipeline import CLIPS_DIR, VideoResult, process_video
from provgan.faces.stats import length_histogram

log = logging.getLogger(__name__)

VIDEOS_DIR = "videos"
# report(event, key, value): ("found", "", number of videos), ("start", key, total frames),
# ("advance", key, frames), ("done", key, VideoResult) for a processed video, ("skip", key,
# VideoResult) for one an earlier run finished
Report = Callable[[str, str, object], None]


@dataclass(frozen=True)
class Job:
    """One source video to process and the key its outputs are named by."""

    key: str
    path: Path


@dataclass(frozen=True)
class FacesSummary:
    """What a run produced, over every video of the output folder (this run's and earlier ones)."""

    out: Path
    videos: int  # source videos found
    processed: int  # processed by this run
    skipped_done: int  # already done by an earlier run
    status_counts: dict[str, int]  # clips / no-face / no-track / failed
    failed: tuple[tuple[str, str], ...]  # (source, reason)
    frames: int
    shots: int
    tracks: int
    dropped_identity: int
    clips: int
    histogram: dict[str, int]
    store: object | None = field(default=None, repr=False)  # PrepareSummary with --plan


def write_json(path: Path, data) -> None:
    """Write JSON atomically (temp file, fsync, rename; a full disk is one line)."""
    atomic_write_text(path, json.dumps(data, indent=1))


def find_jobs(src: Path) -> list[Job]:
    """Source videos (a file, a folder of videos or a class tree) with unique output keys."""
    from provgan.data.sources import discover_sources

    jobs, seen = [], set()
    for source in discover_sources(src).sources:
        parts = source.rel.split("/")
        if source.path.is_file():
            parts[-1] = source.path.stem
        key = "__".join(re.sub(r"[^\w.-]+", "_", part) for part in parts)
        for candidate in (key, f"{key}_{source.path.suffix.lstrip('.')}"):  # a.mp4 and a.avi side by side
            if candidate not in seen:
                key = candidate
                break
        else:
            key = f"{key}_{len(jobs)}"
        seen.add(key)
        jobs.append(Job(key, source.path))
    return jobs


def check_plan(plan: str, options: FacesOptions) -> None:
    """Fail before hours of face detection if the clips could not fill the preset's top level."""
    from provgan.data.prepare import resolve_plan

    shapes, _ = resolve_plan(plan)
    frames, height, width = shapes[-1]
    if max(height, width) > options.size:
        raise ProvganError(f"--size {options.size} is smaller than the {width}x{height} top level of --plan "
                           f"{plan}: use --size {max(height, width)} or more")
    if options.min_frames < frames:
        raise ProvganError(f"--min-frames {options.min_frames} is shorter than the {frames} frames per clip of "
                           f"--plan {plan}: use --min-frames {frames} or more")


def check_options(out: Path, options: FacesOptions, src: Path) -> None:
    """Refuse to mix clips of another source folder or made with other options into ``out``."""
    path = out / "options.json"
    wanted = {"source": str(src.resolve()), **options.signature()}
    if path.is_file():
        have = json.loads(path.read_text())
        diff = [f"{k}={have.get(k)!r} (now {v!r})" for k, v in wanted.items() if have.get(k) != v]
        if diff:
            raise ProvganError(f"{out} was built from other videos or options ({', '.join(diff)}): use a "
                               f"new output folder, or the same SRC and options")
    else:
        write_json(path, wanted)


def source_stamp(path: Path) -> dict:
    """What identifies a source version: a re-run redoes a video whose file changed."""
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def load_done(out: Path, jobs: Sequence[Job], remove_stale: bool = True) -> dict[str, VideoResult]:
    """Records of videos finished earlier whose source file is unchanged; stale records and clips go."""
    done = {}
    for job in jobs:
        path = out / VIDEOS_DIR / f"{job.key}.json"
        if not path.is_file():
            continue
        try:
            record = json.loads(path.read_text())
            result = VideoResult.from_json(record["result"])
        except (ValueError, KeyError, TypeError):  # damaged record (e.g. disk was full): redo the video
            record, result = {}, None
        if result is not None and record.get("stamp") == source_stamp(job.path):
            done[job.key] = result
        elif remove_stale:
            for clip in result.clips if result is not None else ():  # the source changed: its old clips go
                (out / clip.file).unlink(missing_ok=True)
            path.unlink()
    return done


def prune_orphans(out: Path, jobs: Sequence[Job]) -> None:
    """Remove the records and clips of videos no longer in SRC: OUT mirrors the source folder."""
    keys = {job.key for job in jobs}
    for path in (out / VIDEOS_DIR).glob("*.json"):
        if path.stem in keys:
            continue
        try:
            files = [c["file"] for c in json.loads(path.read_text())["result"]["clips"]]
        except (ValueError, KeyError, TypeError):
            files = []
        log.warning("%s is no longer in the source folder: removing its %d clip(s)", path.stem, len(files))
        for file in files:
            (out / file).unlink(missing_ok=True)
        path.unlink()


@functools.lru_cache(maxsize=2)
def _models(options: FacesOptions):
    """Detector and landmark model, loaded once per process (a worker handles many videos)."""
    from provgan.faces.analyze import Models

    return Models.load(options)


def _run_job(job: Job, out: Path, options: FacesOptions, report: Report) -> VideoResult:
    from provgan.data.video_io import probe_video

    try:
        report("start", job.key, probe_video(job.path).num_frames)
    except ProvganError:
        report("start", job.key, 0)
    result = process_video(job.path, job.key, out, options, _models(options),
                           lambda n: report("advance", job.key, n))
    if result.status != "failed":
        write_json(out / VIDEOS_DIR / f"{job.key}.json", {"stamp": source_stamp(job.path), "result": result.to_json()})
    return result


def _worker_job(job: Job, out: Path, options: FacesOptions, events) -> VideoResult:
    """Pool task: parallelism comes from processes, so OpenCV runs one thread in each."""
    import cv2

    cv2.setNumThreads(1)
    return _run_job(job, out, options, lambda event, key, value: events.put((event, key, value)))


def run_jobs(jobs: Sequence[Job], out: Path, options: FacesOptions, report: Report) -> list[VideoResult]:
    """Process the videos, in ``options.workers`` spawned processes when more than one."""
    if options.workers <= 1 or len(jobs) <= 1:
        results = []
        for job in jobs:
            results.append(_run_job(job, out, options, report))
            report("done", job.key, results[-1])
        return results
    ctx = mp.get_context("spawn")
    results: dict[str, VideoResult] = {}
    with ctx.Manager() as manager, ProcessPoolExecutor(min(options.workers, len(jobs)), mp_context=ctx) as pool:
        events = manager.Queue()
        pending = {pool.submit(_worker_job, job, out, options, events): job for job in jobs}
        while pending:
            finished, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(events, report)
            for future in finished:
                job = pending.pop(future)
                try:
                    results[job.key] = future.result()
                except BrokenProcessPool:
                    raise ProvganError(f"a worker process died (out of memory, or a crash inside OpenCV/dlib/"
                                       f"FFmpeg) while processing {job.path} or a video beside it: run again "
                                       f"to resume, with --workers 1 to see which video it is") from None
                report("done", job.key, results[job.key])
    return [results[job.key] for job in jobs]


def _drain(events, report: Report) -> None:
    """Forward the progress events the workers queued."""
    while True:
        try:
            item = events.get_nowait()
        except queue_lib.Empty:
            return
        report(*item)


def summarize(out: Path, jobs: Sequence[Job], done: dict[str, VideoResult],
              new: Sequence[VideoResult]) -> tuple[FacesSummary, list[VideoResult]]:
    """(counts over the videos of SRC, their finished results); the Table 7.2 histogram of their clips."""
    finished = [done[job.key] for job in jobs if job.key in done] + [r for r in new if r.status != "failed"]
    failed = [r for r in new if r.status == "failed"]
    everything = finished + failed
    counts = {s: sum(r.status == s for r in everything) for s in ("clips", "no-face", "no-track", "failed")}
    lengths = [c.num_frames for r in finished for c in r.clips]
    summary = FacesSummary(out, len(jobs), len(new), len(done), counts, tuple((r.source, r.reason) for r in failed),
                           sum(r.num_frames for r in everything), sum(r.shots for r in everything),
                           sum(r.tracks for r in everything), sum(r.dropped_identity for r in everything),
                           len(lengths), length_histogram(lengths))
    return summary, sorted(finished, key=lambda r: r.key)


def write_manifest(out: Path, options: FacesOptions, summary: FacesSummary, finished: list[VideoResult]) -> None:
    """manifest.json (every clip and every video's outcome) and statistics.json (Table 7.2)."""
    records = [r.to_json() for r in finished]
    clips = [clip for r in records for clip in r["clips"]]
    videos = [{k: r[k] for k in r if k != "clips"} | {"clips": len(r["clips"])} for r in records]
    stats = {"clips": summary.clips, "histogram_table_7_2": summary.histogram, "videos": summary.videos,
             "status": summary.status_counts, "frames": summary.frames, "shots": summary.shots,
             "tracks": summary.tracks, "dropped_identity": summary.dropped_identity,
             "failed": [{"source": s, "reason": r} for s, r in summary.failed]}
    write_json(out / "manifest.json", {"options": options.signature(), "clips": clips, "videos": videos})
    write_json(out / "statistics.json", stats)


def build_faces(src: str | Path, out: str | Path, options: FacesOptions, *, plan: str | None = None,
                report: Report | None = None) -> FacesSummary:
    """Build the face-clip dataset of §7.1 from the videos under ``src`` into ``out`` (resumable)."""
    options.check()
    src, out = Path(src), Path(out)
    jobs = find_jobs(src)
    if plan is not None:
        check_plan(plan, options)
    (out / CLIPS_DIR).mkdir(parents=True, exist_ok=True)
    (out / VIDEOS_DIR).mkdir(exist_ok=True)
    check_options(out, options, src)
    prune_orphans(out, jobs)
    done = load_done(out, jobs)
    todo = [job for job in jobs if job.key not in done]
    report = report or (lambda event, key, value: None)
    report("found", "", len(jobs))
    for job in jobs:
        if job.key in done:
            report("skip", job.key, done[job.key])
    new = run_jobs(todo, out, options, report)
    summary, finished = summarize(out, jobs, done, new)
    write_manifest(out, options, summary, finished)
    if plan is not None:
        summary = _with_store(out, plan, options, summary)
    return summary


def _with_store(out: Path, plan: str, options: FacesOptions, summary: FacesSummary) -> FacesSummary:
    """Prepare ``OUT/store`` from the clips for a config preset's level plan (rebuilt on every run)."""
    from dataclasses import replace

    from provgan.data.prepare import prepare_store

    if summary.clips == 0:
        raise ProvganError(f"{out}: no face clips were found, so no store was prepared for --plan {plan}")
    store = prepare_store(out / CLIPS_DIR, out / "store", plan, preset=plan, workers=options.workers,
                          overwrite=True)
    return replace(summary, store=store)
