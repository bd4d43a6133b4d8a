"""One video through the whole §7.1 pipeline: shots, faces, landmarks, tracks, aligned clips.

Pass 1 (:func:`~provgan.faces.analyze.analyze_video`) decodes the video once and keeps per-frame
results; then shots and tracks are found; pass 2 decodes each track's frame window, aligns every frame
with the smoothed similarity, checks the identity between the first and last faces and writes the clip.
A video that cannot be read or holds no usable face is a result with a status, never an exception.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from provgan.atomic import disk_full_guard
from provgan.data.video_io import probe_video, read_video, write_video
from provgan.errors import DiskFullError, ProvganError
from provgan.faces.align import smooth_similarities, template_points, umeyama_similarity, warp_face
from provgan.faces.analyze import Analysis, Models, analyze_video, find_shots
from provgan.faces.follow import keep_followed_at_cuts, trim_followed_ends
from provgan.faces.landmarks import five_points
from provgan.faces.options import FacesOptions
from provgan.faces.tracks import Track, bridge_gaps, find_tracks, identity_matches

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0
CLIPS_DIR = "clips"


@dataclass(frozen=True)
class ClipRecord:
    """One aligned clip: its file (relative to the output folder) and where it came from."""

    file: str
    source: str
    shot: int
    shot_frames: tuple[int, int]  # half-open frame range of the shot in the source
    frames: tuple[int, int]  # half-open frame range of the clip in the source
    num_frames: int
    fps: float
    boxes: tuple[tuple[int, int, int, int], ...]  # face box (x, y, w, h) per frame, source pixels
    identity_matches: int  # SIFT matches first/last (--identity sift)
    identity_distance: float | None = None  # largest descriptor distance (--identity embedding)


@dataclass(frozen=True)
class VideoResult:
    """What became of one source video. ``status``: clips | no-face | no-track | failed."""

    key: str
    source: str
    status: str
    reason: str = ""
    num_frames: int = 0
    shots: int = 0
    face_frames: int = 0
    tracks: int = 0
    dropped_identity: int = 0
    clips: tuple[ClipRecord, ...] = ()

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "VideoResult":
        clips = tuple(ClipRecord(**{**c, "shot_frames": tuple(c["shot_frames"]), "frames": tuple(c["frames"]),
                                    "boxes": tuple(tuple(b) for b in c["boxes"])}) for c in data["clips"])
        return cls(**{**data, "clips": clips})


def align_track(frames: np.ndarray, landmarks: list[np.ndarray], options: FacesOptions) -> np.ndarray:
    """Aligned crops (T, size, size, 3) of a track: per-frame similarity fits, smoothed in time."""
    template = template_points(options.size, options.margin)
    mats = np.stack([umeyama_similarity(five_points(lm), template) for lm in landmarks])
    mats = smooth_similarities(mats, options.smooth_sigma)
    return np.stack([warp_face(frame, mat, options.size) for frame, mat in zip(frames, mats)])


def track_identity(frames: np.ndarray, landmarks: list[np.ndarray], options: FacesOptions) -> int:
    """SIFT matches between the track's first and last faces, tightly aligned (no margin, no smoothing).

    A tight crop keeps the background out: the same background in one shot would match whoever
    stands in front of it.
    """
    size = options.identity_size
    template = template_points(size, 0.0)
    first, last = (warp_face(frames[j], umeyama_similarity(five_points(landmarks[j]), template), size)
                   for j in (0, -1))
    return identity_matches(first, last)


def same_person(frames: np.ndarray, landmarks: list[np.ndarray], options: FacesOptions,
                models: Models) -> tuple[bool, int, float | None]:
    """(kept, SIFT matches, descriptor distance): the ``--identity`` check of one track.

    ``sift`` (the thesis): at least ``identity_min_matches`` matches between the first and last
    faces. ``embedding``: dlib descriptors of the first, middle and last faces all within
    ``identity_max_distance`` (:mod:`provgan.faces.identity`).
    """
    if options.identity == "embedding":
        from provgan.faces.identity import largest_distance

        distance = largest_distance(models.embedder, frames, landmarks)
        return distance <= options.identity_max_distance, 0, round(distance, 4)
    matches = track_identity(frames, landmarks, options)
    return matches >= options.identity_min_matches, matches, None


def clip_name(key: str, track: Track) -> str:
    """``<video key>_s<shot>_f<first>-<last>.mp4`` (inclusive frame numbers of the source)."""
    return f"{key}_s{track.shot:04d}_f{track.start:06d}-{track.stop - 1:06d}.mp4"


def cut_track(path: Path, key: str, out: Path, track: Track, shots: list[tuple[int, int]],
              analysis: Analysis, options: FacesOptions, fps: float, models: Models) -> ClipRecord | None:
    """Align one track and write it, unless its identity check fails (then None)."""
    frames = read_video(path, track.start, track.length)
    landmarks = [analysis.landmarks[i] for i in range(track.start, track.stop)]
    kept, matches, distance = same_person(frames, landmarks, options, models)
    if not kept:
        log.debug("%s: frames %d-%d dropped by the identity check (matches %d, distance %s)", path,
                  track.start, track.stop - 1, matches, distance)
        return None
    name = clip_name(key, track)
    with disk_full_guard(out / CLIPS_DIR / name):  # the encoder removes its own temp file
        write_video(out / CLIPS_DIR / name, align_track(frames, landmarks, options), fps=fps)
    boxes = tuple(tuple(int(v) for v in analysis.boxes[i][0]) for i in range(track.start, track.stop))
    return ClipRecord(f"{CLIPS_DIR}/{name}", str(path), track.shot, shots[track.shot],
                      (track.start, track.stop), track.length, fps, boxes, matches, distance)


def process_video(path: Path, key: str, out: Path, options: FacesOptions, models: Models,
                  progress: Callable[[int], None] | None = None) -> VideoResult:
    """Run the pipeline on one video; unreadable or face-less videos give a status, not an exception."""
    try:
        return _process(path, key, out, options, models, progress)
    except DiskFullError:
        raise  # not this video's fault: the whole build stops with one line
    except ProvganError as exc:
        return VideoResult(key, str(path), "failed", reason=str(exc))
    except Exception as exc:  # a damaged video must not stop a batch of thousands; keep the trace
        log.exception("%s: unexpected error", path)
        return VideoResult(key, str(path), "failed", reason=f"{path}: unexpected {type(exc).__name__}: {exc}")


def _process(path, key, out, options, models, progress) -> VideoResult:
    fps = probe_video(path).fps or DEFAULT_FPS
    analysis = analyze_video(path, options, models, progress)
    shots = find_shots(path, analysis, options)
    keep_followed_at_cuts(analysis.boxes, analysis.landmarks, analysis.followed, shots)
    bridge_gaps(analysis.boxes, analysis.landmarks, shots, options.max_gap)
    tracks = trim_followed_ends(find_tracks(analysis.boxes, shots, options.min_frames), analysis.followed,
                                options.min_frames)
    clips, dropped = [], 0
    for track in tracks:
        record = cut_track(path, key, out, track, shots, analysis, options, fps, models)
        if record is None:
            dropped += 1
        else:
            clips.append(record)
    if clips:
        status, reason = "clips", ""
    elif analysis.face_frames == 0:
        status, reason = "no-face", "no face detected in any frame"
    else:
        status = "no-track"
        reason = (f"{len(tracks)} track(s) of >= {options.min_frames} frames, all dropped by the identity check"
                  if tracks else f"no run of {options.min_frames} consecutive one-face frames within a shot")
    return VideoResult(key, str(path), status, reason, analysis.num_frames, len(shots), analysis.face_frames,
                       len(tracks), dropped, tuple(clips))
