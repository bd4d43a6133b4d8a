"""Shot boundaries: SIFT match counts between consecutive frames (thesis §7.1) or PySceneDetect.

The thesis split trailers into shots where "the number of SIFT feature matches between corresponding
frames" drops. Inside a shot consecutive frames share most keypoints (measured on the real test videos:
more than half of the poorer frame's keypoints find a match); across a cut almost none do (under 10 %).
So a boundary is declared where good matches fall below a fraction of the keypoints of the poorer of
the two frames: a relative threshold that does not depend on resolution or texture. Matches are
Lowe's ratio test (Lowe 2004, §7.1: nearest / second nearest distance < 0.8; we use 0.75).

Convention everywhere in this package: a boundary ``b`` means frame ``b`` starts a new shot (the cut
lies between frames ``b - 1`` and ``b``); a shot is a half-open range ``(start, stop)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from provgan.errors import ProvganError

LOWE_RATIO = 0.75


def grey_at_width(frame: np.ndarray, width: int) -> np.ndarray:
    """An RGB uint8 frame as grey, shrunk (area filter) so its longer side is at most ``width``."""
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    scale = width / max(grey.shape)
    if scale < 1.0:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return grey


def good_matches(desc_a: np.ndarray | None, desc_b: np.ndarray | None, matcher=None,
                 ratio: float = LOWE_RATIO) -> list:
    """Matches from ``a`` to ``b`` that pass Lowe's ratio test (k=2 nearest neighbours, L2)."""
    if desc_a is None or desc_b is None or len(desc_a) < 2 or len(desc_b) < 2:
        return []
    matcher = matcher if matcher is not None else cv2.BFMatcher(cv2.NORM_L2)
    pairs = matcher.knnMatch(desc_a, desc_b, k=2)
    return [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]


class SiftCutScorer:
    """Streams frames and returns, for each, (good matches with the previous frame, keypoints).

    Holds only the previous frame's descriptors, so a video can be fed chunk by chunk.
    """

    def __init__(self, width: int = 256):
        self.width = width
        self._sift = cv2.SIFT_create()
        self._matcher = cv2.BFMatcher(cv2.NORM_L2)
        self._previous: np.ndarray | None = None

    def __call__(self, frame: np.ndarray) -> tuple[int, int]:
        keypoints, desc = self._sift.detectAndCompute(grey_at_width(frame, self.width), None)
        matches = len(good_matches(self._previous, desc, self._matcher)) if self._previous is not None else 0
        self._previous = desc
        return matches, len(keypoints)


def sift_boundaries(matches: Sequence[int], keypoints: Sequence[int], fraction: float = 0.2) -> list[int]:
    """Frames that start a new shot: good matches with the previous frame < fraction * min keypoints.

    ``matches[i]`` are the good matches between frames ``i - 1`` and ``i`` (``matches[0]`` unused).
    Two featureless frames (e.g. black) have no keypoints to lose and never make a boundary.
    """
    matches = np.asarray(matches, dtype=np.float64)
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if matches.shape != keypoints.shape:
        raise ValueError(f"matches {matches.shape} and keypoints {keypoints.shape} must have one entry per frame")
    if len(matches) < 2:
        return []
    poorer = np.minimum(keypoints[:-1], keypoints[1:])
    return [int(i) + 1 for i in np.flatnonzero(matches[1:] < fraction * poorer)]


def shots_from_boundaries(boundaries: Sequence[int], num_frames: int) -> list[tuple[int, int]]:
    """Half-open shot ranges covering ``[0, num_frames)`` split at the given boundaries."""
    cuts = sorted({b for b in boundaries if 0 < b < num_frames})
    edges = [0, *cuts, num_frames]
    return [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]


def scenedetect_boundaries(path: Path, threshold: float = 27.0, min_scene_len: int = 15) -> list[int]:
    """Frames that start a new shot according to PySceneDetect's ContentDetector (HSV differences).

    It decodes the file itself through PyAV with automatic downscaling, which is what makes it faster
    than SIFT matching; it merges cuts closer than ``min_scene_len`` frames (flashes).
    """
    import av.logging
    from scenedetect import ContentDetector, SceneManager, open_video

    level = av.logging.get_level()
    try:
        video = open_video(str(path), backend="pyav")
        manager = SceneManager()
        manager.auto_downscale = True
        manager.add_detector(ContentDetector(threshold=threshold, min_scene_len=min_scene_len))
        manager.detect_scenes(video=video, show_progress=False)
    except Exception as exc:  # PySceneDetect raises several types for unreadable files
        raise ProvganError(f"{path}: PySceneDetect cannot read it ({exc}): check the file or use --shots sift") from exc
    finally:
        # its PyAV backend hands FFmpeg's logging back to FFmpeg (stderr, process-wide): undo that
        av.logging.set_level(level)
    return [int(start.frame_num) for start, _ in manager.get_scene_list()[1:]]
