"""First pass over a video: per-frame SIFT cut scores, face boxes and 68 landmarks.

The video is decoded once, frame by frame, and only small per-frame results are kept (a few numbers,
the boxes, the landmarks of one-face frames), so memory does not grow with the video's length or
resolution. The aligned clips are cut in a second pass that decodes only the tracks' frame windows
(:mod:`provgan.faces.pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from provgan.data.video_io import iter_frames
from provgan.faces.detect import Geometry, make_detector, shrink_frame
from provgan.faces.follow import FaceFollower, Followed
from provgan.faces.landmarks import LandmarkPredictor
from provgan.faces.options import FacesOptions
from provgan.faces.shots import SiftCutScorer, scenedetect_boundaries, shots_from_boundaries, sift_boundaries
from provgan.faces.tracks import continuing_box


@dataclass
class Analysis:
    """What the first pass learnt about every frame of one video."""

    num_frames: int = 0
    matches: list[int] = field(default_factory=list)  # good SIFT matches with the previous frame
    keypoints: list[int] = field(default_factory=list)  # SIFT keypoints of the frame
    boxes: list[np.ndarray] = field(default_factory=list)  # (k, 4) Haar boxes per frame
    landmarks: dict[int, np.ndarray] = field(default_factory=dict)  # frame -> (68, 2), one-face frames
    followed: Followed = field(default_factory=Followed)  # boxes found by following a face (--follow)

    @property
    def face_frames(self) -> int:
        """Frames with at least one face (detected, or followed from a detection)."""
        return sum(1 for b in self.boxes if len(b))


@dataclass(frozen=True)
class Models:
    """The per-frame models, loaded once per process and reused for every video."""

    detector: object  # frame -> (k, 4) boxes (provgan.faces.detect)
    predictor: LandmarkPredictor
    embedder: object | None = None  # FaceEmbedder with --identity embedding

    @classmethod
    def load(cls, options: FacesOptions) -> "Models":
        geometry = Geometry(options.detect_width, options.min_face, options.max_face, options.detect_pad)
        detector = make_detector(options.detector, geometry, options.haar_neighbors, options.haar_scale,
                                 options.haar_profile)
        embedder = None
        if options.identity == "embedding":
            from provgan.faces.identity import FaceEmbedder

            embedder = FaceEmbedder()
        return cls(detector, LandmarkPredictor(), embedder)


def analyze_video(path: Path, options: FacesOptions, models: Models,
                  progress: Callable[[int], None] | None = None) -> Analysis:
    """Decode ``path`` once; score cuts (when ``--shots sift``), detect faces, predict landmarks.

    ``progress(n)`` is called every ``options.progress_every`` frames with the frames just done.
    """
    result = Analysis()
    scorer = SiftCutScorer(options.sift_width) if options.shots == "sift" else None
    pending = 0
    follower = FaceFollower(options.follow, options.follow_psr, options.detect_width)
    result.followed = follower.followed
    for index, frame in enumerate(iter_frames(path)):
        if scorer is not None:
            matches, keypoints = scorer(frame)
            result.matches.append(matches)
            result.keypoints.append(keypoints)
        previous = result.boxes[-1][0] if result.boxes and len(result.boxes[-1]) == 1 else None
        shrunk = shrink_frame(frame, options.detect_width)  # once, for every detection pass and the follower
        boxes = follower.step(index, frame, continuing_box(models.detector(frame, shrunk), previous), shrunk)
        result.boxes.append(boxes)
        if len(boxes) == 1:
            result.landmarks[index] = models.predictor(frame, boxes[0]).astype(np.float32)
        for earlier, small, box, scale in follower.pop_backward():  # misses filled from this detection
            result.boxes[earlier] = box.reshape(1, 4)
            result.landmarks[earlier] = (models.predictor(small, box * scale) / scale).astype(np.float32)
        pending += 1
        if progress is not None and pending == options.progress_every:
            progress(pending)
            pending = 0
    result.num_frames = len(result.boxes)
    if progress is not None and pending:
        progress(pending)
    return result


def find_shots(path: Path, analysis: Analysis, options: FacesOptions) -> list[tuple[int, int]]:
    """Shot ranges of the video by the chosen method (SIFT scores from the first pass, or PySceneDetect)."""
    if options.shots == "sift":
        cuts = sift_boundaries(analysis.matches, analysis.keypoints, options.shot_match_fraction)
    else:
        cuts = scenedetect_boundaries(path, options.scenedetect_threshold)
    return shots_from_boundaries(cuts, analysis.num_frames)
