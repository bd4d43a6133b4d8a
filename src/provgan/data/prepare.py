"""``provgan prepare``'s engine: videos (or the built-in moving digits) -> a per-level clip store.

Per clip: choose a window of T frames (the thesis' UCF-101 protocol takes the central T frames;
also a random window or every window at a stride), centre-crop each frame to the top level's
aspect, area-resize it to the top level (H, W), then pool down the level plan with a box filter:
level l is the exact average of level l+1 over blocks of (tT, 2, 2), tT = 2 where the plan doubles
T and 1 where it keeps it (DESIGN.md §1 "Data"). Pooling runs in float from the top level's uint8
values and each level is rounded (half to even) once, so every stored level equals the box-filter
average of the stored top level over its whole block: what the networks' ``downsample`` (avg-pool)
computes from the top level, up to that rounding, so fades between levels (§4.1) match the data.

Sources are probed first (cheap), so bad inputs are reported before any decoding and the store's
size is known; clips are then decoded in worker processes and written in source order, so the
store is the same for any ``workers``.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import itertools
import json
import logging
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np

from provgan.atomic import disk_full_error, disk_full_guard, is_disk_full
from provgan.data.journal import JournalledStore, incomplete_error, partial_dir
from provgan.data.moving_digits import MOTIONS
from provgan.data.sources import discover_sources
from provgan.data.stacked import discover_stacked, iter_stacked, probe_stacked
from provgan.data.store import Shape, StoreWriter, _check_space, check_output, pool_levels, shape_name
from provgan.data.video_io import crop_box, crop_resize, iter_frames, probe_video
from provgan.errors import ProvganError

log = logging.getLogger(__name__)
Progress = Callable[[int, int], None]  # (clips done, clips planned)
TASK_BYTES = 64 << 20  # decode at most this much top-level clip data per worker task


@dataclass(frozen=True)
class ClipChoice:
    """Which windows of a source become clips: ``central``, ``random`` or ``stride:N``."""

    mode: str = "central"
    stride: int = 0

    @classmethod
    def parse(cls, text: str) -> "ClipChoice":
        if text in ("central", "random"):
            return cls(text)
        if text.startswith("stride:") and text[7:].isdigit() and int(text[7:]) > 0:
            return cls("stride", int(text[7:]))
        raise ProvganError(f"--clip '{text}' is not one of central, random, stride:N (N >= 1 frames)")

    def __str__(self) -> str:
        return f"stride:{self.stride}" if self.mode == "stride" else self.mode

    def starts(self, num_frames: int, length: int, rng: np.random.Generator) -> list[int]:
        """First frame of each window of ``length`` frames in a source of ``num_frames``."""
        if num_frames < length:
            return []
        if self.mode == "central":
            return [(num_frames - length) // 2]
        if self.mode == "random":
            return [int(rng.integers(0, num_frames - length + 1))]
        return list(range(0, num_frames - length + 1, self.stride))


@dataclass(frozen=True)
class Skip:
    """A source (or part of one) that was left out or converted, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class PrepareSummary:
    """What ``prepare`` did: the numbers the CLI prints at the end."""

    out: Path
    num_clips: int
    shapes: tuple[Shape, ...]
    sources: int
    used: int
    skipped: tuple[Skip, ...] = ()
    converted: tuple[Skip, ...] = ()
    ignored: tuple[str, ...] = ()
    bytes: int = 0
    seconds: float = 0.0
    frames: int = 0  # top-level frames stored (num_clips * T)
    manifest: dict[str, Any] = field(default_factory=dict, repr=False)


# ---------------------------------------------------------------------------------------------
# the plan


def resolve_plan(plan: Sequence[Sequence[int]] | str, frames: int | None = None,
                 size: int | None = None) -> tuple[tuple[Shape, ...], str | None]:
    """(levels to store, preset name): a preset/config name or explicit shapes, cut at (frames, size).

    ``size`` picks the level whose H is ``size``, ``frames`` the one whose T is ``frames`` (the
    largest such level); the store holds the plan up to that level.
    """
    from provgan.levels import validate_plan

    preset = None
    if isinstance(plan, str):
        from provgan.config import load_config

        preset, plan = plan, load_config(plan).model.plan
    shapes = validate_plan(plan)
    keep = [i for i, (t, h, _) in enumerate(shapes)
            if (size is None or h == size) and (frames is None or t == frames)]
    if not keep:
        have = ", ".join(map(shape_name, shapes))
        raise ProvganError(f"no level of the plan ({have}) has {'T=%d ' % frames if frames else ''}"
                           f"{'H=W=%d' % size if size else ''}: choose --frames/--size from these levels")
    return shapes[: keep[-1] + 1], preset


# ---------------------------------------------------------------------------------------------
# worker tasks (module-level functions: they run in spawned processes)


def _init_worker() -> None:
    cv2.setNumThreads(1)  # parallelism comes from the processes


def _probe_task(args: tuple[str, int]) -> tuple[Any, str | None]:
    path, stacked = args
    try:
        return (probe_stacked(path, stacked) if stacked else probe_video(path)), None
    except ProvganError as exc:
        return None, str(exc)


@dataclass(frozen=True)
class _ClipTask:
    index: int  # source index
    path: str
    starts: tuple[int, ...]
    shapes: tuple[Shape, ...]
    stacked: int = 0  # frame height of a stacked-frames image; 0 for videos and frame folders


def _clip_task(task: _ClipTask) -> tuple[_ClipTask, list[np.ndarray] | None, tuple[int, ...], str | None]:
    """Decode the span of ``task.starts`` once; return (task, levels, starts done, error)."""
    length, height, width = task.shapes[-1]
    first, last = task.starts[0], task.starts[-1] + length
    needed = np.zeros(last - first, bool)  # frames inside some window (stride > T leaves gaps)
    for s in task.starts:
        needed[s - first: s - first + length] = True
    frames, clips, done = [], [], []
    pending = list(task.starts)
    try:
        frames_of = functools.partial(iter_stacked, frame_height=task.stacked) if task.stacked else iter_frames
        for offset, frame in enumerate(frames_of(task.path, start=first, num_frames=last - first)):
            frames.append(crop_resize(frame, height, width) if needed[offset] else None)
            while pending and first + offset + 1 == pending[0] + length:
                s = pending.pop(0)
                clips.append(np.stack(frames[s - first: s - first + length]))
                done.append(s)
        error = None if not pending else (f"{task.path}: ends before frame {pending[0] + length - 1} "
                                          f"(truncated file?): kept {len(done)} of {len(task.starts)} clips")
    except ProvganError as exc:
        error = str(exc)
    levels = pool_levels(np.stack(clips), task.shapes) if clips else None
    return task, levels, tuple(done), error


def _digits_task(args: tuple[int, int, int, tuple[Shape, ...], int, float, int, str, float, tuple[str, ...]]
                 ) -> tuple[list[np.ndarray], np.ndarray]:
    from provgan.data import moving_digits

    seed, start, count, shapes, max_digits, speed_scale, styles, colour, digit_scale, motions = args
    sprites = _sprites(shapes[-1][2]).with_styles(styles)
    clips, labels = moving_digits.render_clips(seed, start, count, shapes[-1], sprites,
                                               max_digits=max_digits, speed_scale=speed_scale,
                                               colour=colour, digit_scale=digit_scale, motions=motions)
    return pool_levels(clips, shapes), labels


@functools.lru_cache(maxsize=2)
def _sprites(canvas: int):
    """Upscaled digits, loaded once per process (a worker renders many chunks)."""
    from provgan.data import moving_digits

    return moving_digits.load_sprites(canvas)


@contextlib.contextmanager
def _mapper(workers: int):
    """Yield ``run(fn, tasks)`` giving ordered results, from spawned processes when workers > 1."""
    if workers <= 1:
        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)  # OpenCV's threads only contend with FFmpeg's decoding threads here
        try:
            yield lambda fn, tasks: map(fn, tasks)
        finally:
            cv2.setNumThreads(threads)
        return
    # concurrent.futures, not multiprocessing.Pool: when a full disk or an error ends the prepare,
    # Pool.terminate() could wait forever on a queue lock its killed workers held (a test hung in
    # `make test` under load); an executor lets the running tasks finish and cancels the rest
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_init_worker)
    try:
        yield lambda fn, tasks: _in_order(pool, fn, tasks, ahead=2 * workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_order(pool: ProcessPoolExecutor, fn, tasks, ahead: int):
    """``fn`` over ``tasks`` in the processes of ``pool``, results in task order, at most ``ahead`` tasks
    in flight (a large prepare's decoded clips never pile up in memory)."""
    tasks = iter(tasks)
    pending = collections.deque(pool.submit(fn, task) for task in itertools.islice(tasks, ahead))
    while pending:
        try:
            result = pending.popleft().result()
        except BrokenProcessPool:
            raise ProvganError("a worker process died (out of memory, or a crash inside OpenCV/FFmpeg): run "
                               "again with --resume to continue, with --workers 1 to see which video it is") from None
        for task in itertools.islice(tasks, 1):
            pending.append(pool.submit(fn, task))
        yield result


# ---------------------------------------------------------------------------------------------
# videos -> store


def prepare_store(source: str | Path, out: str | Path, plan: Sequence[Sequence[int]] | str, *,
                  clip: str | ClipChoice = "central", frames: int | None = None, size: int | None = None,
                  workers: int = 1, strict: bool = False, split: str | Path | None = None,
                  preset: str | None = None, seed: int = 0, overwrite: bool = False, resume: bool = False,
                  stacked_frames: int | None = None, progress: Progress | None = None, dry_run: bool = False) -> PrepareSummary:
    """Prepare a store from a folder of videos, a folder of frame folders or a class tree.

    Bad sources are skipped with a warning and listed in the summary (``strict``: the first one is
    an error). ``stacked_frames=H``: the sources are images of frames H pixels tall stacked
    vertically (VGAN's Golf release, Table 8.2; :mod:`provgan.data.stacked`). Videos are journalled as they finish in ``OUT.partial`` (:mod:`provgan.data.journal`):
    a killed run is continued by ``resume`` and gives the same bytes as an unbroken one; ``OUT``
    appears only when complete. ``dry_run`` stops after probing the sources and returns the planned
    summary (bytes estimated, nothing written).
    """
    started = time.perf_counter()
    shapes, plan_preset = resolve_plan(plan, frames, size)
    choice = ClipChoice.parse(clip) if isinstance(clip, str) else clip
    out = Path(out)
    check_output(out, overwrite)
    if partial_dir(out).exists() and not (resume or overwrite or dry_run):
        raise incomplete_error(out)
    if stacked_frames is not None and stacked_frames < 1:
        raise ProvganError(f"--stacked-frames must be a frame height >= 1 pixel, got {stacked_frames}")
    stacked = stacked_frames or 0
    found = discover_stacked(source, split) if stacked else discover_sources(source, split)
    labelled = found.class_names is not None
    with _mapper(workers) as run:
        infos = list(run(_probe_task, [(str(s.path), stacked) for s in found.sources]))
        windows, skipped, converted = _plan_windows(found, infos, shapes, choice, seed, strict)
        capacity = sum(len(w) for w in windows.values())
        if capacity == 0:
            first = f" (first: {skipped[0].reason})" if skipped else ""
            raise ProvganError(f"{source}: no usable clips in {len(found.sources)} sources{first}")
        tasks = _make_tasks(windows, found, shapes, stacked)
        if dry_run:
            return _planned(out, shapes, capacity, started, len(found.sources), len(windows),
                            skipped, converted, found.ignored)
        info = {"preset": preset or plan_preset, "clip": str(choice), "seed": seed, "split": split,
                "stacked_frames": stacked_frames}
        signature = _signature(found, infos, shapes, capacity, info)
        store = JournalledStore.open(out, shapes, capacity, labelled, signature, resume)
        try:
            _check_space(out, store.bytes_left)
            _write_clips(store, run(_clip_task, tasks[store.tasks_done:]), found, strict, progress,
                         capacity)
            skipped += _task_skips(store, tasks, found, {k.path for k in skipped})
            if not store.clips:
                raise ProvganError(f"no usable clips: none could be decoded (first problem: "
                                   f"{skipped[0].reason})")
            manifest = store.finish(_video_manifest(found, infos, store.clips, skipped, converted, info,
                                                    shapes[-1][0]), overwrite)
        except BaseException as exc:  # a user error leaves nothing; a full disk or Ctrl-C keeps finished videos
            full = is_disk_full(exc)
            if store.tasks_done and (full or not isinstance(exc, (ProvganError, ValueError))):
                store.close()
            else:
                store.discard()
            if full:
                raise _prepare_disk_full(store, exc) from None
            raise
    return _summary(out, manifest, shapes, len(found.sources), manifest["counts"]["used"], skipped,
                    converted, found.ignored, started)


def _signature(found, infos, shapes, capacity: int, info: dict[str, Any]) -> dict[str, Any]:
    """What a resumed prepare must share with the interrupted one: the same sources, plan and options."""
    files = [[s.rel, None if i is None else [i.num_frames, i.width, i.height]] for s, (i, _) in
             zip(found.sources, infos)]
    return {"journal": "provgan-prepare-1", "plan": [list(s) for s in shapes], "capacity": capacity,
            "options": {k: (str(v) if v is not None else None) for k, v in info.items()},
            "sources": hashlib.sha256(json.dumps(files).encode()).hexdigest()}


def _task_skips(store: JournalledStore, tasks: list[_ClipTask], found, reported: set[str]) -> list[Skip]:
    """Sources that failed while decoding, in task order (from the journal: a resumed run lists them too)."""
    skips = []
    for entry in store.entries:
        rel = found.sources[tasks[entry.task].index].rel
        if entry.error is not None and rel not in reported:
            skips.append(Skip(rel, entry.error))
            reported.add(rel)
    return skips


def _prepare_disk_full(store: JournalledStore, exc: BaseException) -> ProvganError:
    """The one line of a prepare that filled the disk: what is kept and how to continue."""
    base = disk_full_error(store.folder / "clips", store.bytes_left, exc=exc)
    return type(base)(f"{base}; finished videos ({store.tasks_done}) are kept in {store.folder}: rerun "
                      f"with --resume once there is space (or --overwrite to start again)")


def _video_manifest(found, infos, clips, skipped, converted, info: dict[str, Any], length: int):
    """Manifest fields of a video store: where each clip came from and what was left out."""
    used = sorted({i for i, _ in clips})
    position = {i: k for k, i in enumerate(used)}
    return {
        "preset": info["preset"],
        "source": {"root": str(found.root.resolve()), "layout": found.layout, "clip": info["clip"],
                   "seed": info["seed"], "split": str(info["split"]) if info["split"] else None}
        | ({"stacked_frames": info["stacked_frames"]} if info.get("stacked_frames") else {}),
        "sources": [_source_record(found.sources[i], infos[i][0]) for i in used],
        "clips": {"source": [position[i] for i, _ in clips], "start": [s for _, s in clips],
                  "length": length},
        "labels": ({"file": "labels.npy", "names": {"class": list(found.class_names)}}
                   if found.class_names is not None else None),
        "counts": {"sources": len(found.sources), "used": len(used), "skipped": len(skipped),
                   "converted": len(converted), "clips": len(clips)},
        "skipped": [{"path": k.path, "reason": k.reason} for k in skipped],
    }


def _plan_windows(found, infos, shapes, choice: ClipChoice, seed: int, strict: bool):
    """Windows per usable source; skips (unreadable, too short, too small) and grey conversions."""
    length, height, width = shapes[-1]
    windows: dict[int, list[int]] = {}
    skipped: list[Skip] = []
    converted: list[Skip] = []
    for i, (src, (info, error)) in enumerate(zip(found.sources, infos)):
        reason = error
        if info is not None:
            _, _, h, w = crop_box(info.height, info.width, width / height)
            starts = choice.starts(info.num_frames, length, _source_rng(seed, src.rel))
            if h < height or w < width:
                reason = (f"{src.path}: frames are {info.width}x{info.height}, smaller than the top level "
                          f"{width}x{height} after the centre crop: use a smaller --size or drop the file")
            elif not starts:
                reason = (f"{src.path}: has {info.num_frames} frames, fewer than the {length} a clip "
                          f"needs: use a smaller --frames or drop the file")
            elif info.grayscale:
                converted.append(_note(Skip(src.rel, f"{src.path}: grayscale video, stored with its grey "
                                                     f"in R, G and B"), strict, "converted"))
        if reason is not None:
            skipped.append(_note(Skip(src.rel, reason), strict, "skipped"))
        else:
            windows[i] = starts
    return windows, skipped, converted


def _source_rng(seed: int, rel: str) -> np.random.Generator:
    """A source's own random stream: its random window does not depend on which other files exist."""
    return np.random.default_rng([seed, int.from_bytes(hashlib.sha256(rel.encode()).digest()[:8], "little")])


def _note(skip: Skip, strict: bool, action: str) -> Skip:
    """Log a skipped/converted source, or raise it as the error under ``--strict``."""
    if strict:
        raise ProvganError(f"{skip.reason} (--strict: fix or remove it, or run without --strict)")
    log.warning("%s %s", action, skip.reason)
    return skip


def _make_tasks(windows: dict[int, list[int]], found, shapes, stacked: int = 0) -> list[_ClipTask]:
    """Group each source's windows into tasks that decode at most TASK_BYTES of top-level frames."""
    length, height, width = shapes[-1]
    span_limit = max(length, TASK_BYTES // (height * width * 3))
    tasks = []
    for i, starts in windows.items():
        group: list[int] = []
        for s in starts:
            if group and s + length - group[0] > span_limit:
                tasks.append(_ClipTask(i, str(found.sources[i].path), tuple(group), shapes, stacked))
                group = []
            group.append(s)
        tasks.append(_ClipTask(i, str(found.sources[i].path), tuple(group), shapes, stacked))
    return tasks


def _write_clips(store: JournalledStore, results, found, strict: bool, progress: Progress | None,
                 planned: int) -> None:
    """Append the decoded clips in task order, journalling each task as it is made durable."""
    done = len(store.clips)
    for task, levels, starts, error in results:
        if error is not None:
            _note(Skip(found.sources[task.index].rel, error), strict, "skipped")
        store.add(levels, [(task.index, s) for s in starts], found.sources[task.index].label, error)
        done += len(task.starts)
        if progress is not None:
            progress(done, planned)


def _planned(out: Path, shapes, capacity: int, started: float, sources: int = 1, used: int = 1,
             skipped=(), converted=(), ignored=()) -> PrepareSummary:
    """Summary of a dry run: what would be written."""
    size = capacity * sum(int(np.prod(s)) * 3 for s in shapes)
    return PrepareSummary(out, capacity, tuple(shapes), sources, used, tuple(skipped), tuple(converted),
                          tuple(ignored), size, time.perf_counter() - started, capacity * shapes[-1][0])


def _source_record(src, info) -> dict[str, Any]:
    return {"path": src.rel, "label": src.label, "fps": info.fps, "num_frames": info.num_frames,
            "width": info.width, "height": info.height, "grayscale": info.grayscale}


def _summary(out: Path, manifest, shapes, sources: int, used: int, skipped, converted, ignored,
             started: float) -> PrepareSummary:
    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    n = int(manifest["num_clips"])
    return PrepareSummary(out, n, tuple(shapes), sources, used, tuple(skipped), tuple(converted),
                          tuple(ignored), size, time.perf_counter() - started, n * shapes[-1][0], manifest)


# ---------------------------------------------------------------------------------------------
# built-in dataset -> store

BUILTINS = ("moving-digits",)


def prepare_builtin(name: str, out: str | Path, plan: Sequence[Sequence[int]] | str = "digits-64", *,
                    num_clips: int = 4096, seed: int = 0, frames: int | None = None,
                    size: int | None = None, workers: int = 1, overwrite: bool = False,
                    preset: str | None = None, progress: Progress | None = None,
                    chunk: int = 64, dry_run: bool = False, max_digits: int = 2,
                    motion_speed: float = 1.0, styles: int = 0, colour: str = "hue",
                    digit_scale: float = 1.0,
                    motions: Sequence[str] = MOTIONS) -> PrepareSummary:
    """Render an embedded dataset (``moving-digits``) straight into a store, nothing downloaded.

    ``max_digits=1`` renders one digit per clip (otherwise half the clips hold two smaller ones);
    ``motion_speed`` scales the bounce speed and the rotation rate (1: the default dataset);
    ``styles`` > 0 draws every digit from only its first ``styles`` handwriting samples (0: all);
    ``colour`` is ``hue`` (each digit in its own colour) or ``white``; ``digit_scale`` multiplies
    every digit's size; ``motions`` the motions the clips cycle through (all four by default; the
    labels keep the 40 (digit, motion) classes either way).
    """
    from provgan.data import moving_digits

    if name not in BUILTINS:
        raise ProvganError(f"unknown built-in dataset '{name}': choose one of {', '.join(BUILTINS)}")
    if num_clips < 1:
        raise ProvganError(f"--num-clips must be >= 1, got {num_clips}")
    if max_digits not in (1, 2):
        raise ProvganError(f"--max-digits must be 1 or 2, got {max_digits}")
    if not 0 < motion_speed <= 4:
        raise ProvganError(f"--motion-speed must be in (0, 4], got {motion_speed:g}")
    if styles < 0:
        raise ProvganError(f"--styles must be >= 0 (0: every handwriting sample), got {styles}")
    if colour not in moving_digits.COLOURS:
        raise ProvganError(f"--colour must be one of {', '.join(moving_digits.COLOURS)}, got {colour!r}")
    if not 0.5 <= digit_scale <= 2:
        raise ProvganError(f"--digit-scale must be in [0.5, 2], got {digit_scale:g}")
    try:
        motions = moving_digits.check_motions(motions)
    except ValueError as exc:
        raise ProvganError(f"--{exc}") from None
    started = time.perf_counter()
    shapes, plan_preset = resolve_plan(plan, frames, size)
    out = Path(out)
    if dry_run:
        check_output(out, overwrite)
        return _planned(out, shapes, num_clips, started)
    tasks = [(seed, s, min(chunk, num_clips - s), shapes, max_digits, motion_speed, styles, colour, digit_scale,
              motions)
             for s in range(0, num_clips, chunk)]
    manifest = {
        "preset": preset or plan_preset,
        "source": {"builtin": name, "seed": seed, "num_clips": num_clips, "fps": moving_digits.FPS,
                   "motions": list(motions), "max_digits": max_digits,
                   "motion_speed": motion_speed, "styles": styles, "colour": colour,
                   "digit_scale": digit_scale},
        "labels": {"file": "labels.npy", "names": moving_digits.label_names(),
                   "encoding": f"digit * {len(moving_digits.MOTIONS)} + motion"},
        "counts": {"sources": 1, "used": 1, "skipped": 0, "converted": 0, "clips": num_clips},
    }
    size = num_clips * sum(int(np.prod(s)) * 3 for s in shapes)
    with disk_full_guard(out / "clips", size), \
            StoreWriter(out, shapes, num_clips, labelled=True, overwrite=overwrite) as writer, \
            _mapper(workers) as run:
        for levels, labels in run(_digits_task, tasks):
            writer.add(levels, labels)
            if progress is not None:
                progress(writer.num_clips, num_clips)
        manifest = writer.finish(manifest)
    return _summary(out, manifest, shapes, 1, 1, (), (), (), started)
