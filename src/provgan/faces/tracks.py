"""Face tracks: runs of consecutive one-face frames inside a shot, and the identity check (thesis §7.1).

The thesis kept "consecutive frames from those shots on which face detection was successful", at
least 31 of them, then used "SIFT feature matching again ... to remove clips containing different
personalities across frames". Here a track is a maximal run of frames of one shot with exactly one
detected face whose box moves continuously (a box that jumps by more than half its size between two
frames is another face or a false detection, so the run is split there: our addition, cheap and
conservative); gaps of up to ``--max-gap`` missed detections are bridged first (:func:`bridge_gaps`). Identity: SIFT matches between the first and the last aligned face of the track.
Because both are aligned to the same template, a true match joins nearby points, so matches that
join points farther apart than a tenth of the crop are ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from provgan.faces.shots import good_matches

MAX_JUMP = 0.5  # box centre shift between consecutive frames, in units of the box side
MATCH_RADIUS = 0.1  # largest distance between matched points of two aligned faces, in crop sides


@dataclass(frozen=True)
class Track:
    """Frames ``[start, stop)`` of shot number ``shot`` holding one face each."""

    shot: int
    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start


def box_jumps(a: Sequence[int], b: Sequence[int], max_jump: float = MAX_JUMP) -> bool:
    """Whether box ``b`` (x, y, w, h) is too far from ``a`` to be the same face one frame later."""
    ca = np.array([a[0] + a[2] / 2, a[1] + a[3] / 2])
    cb = np.array([b[0] + b[2] / 2, b[1] + b[3] / 2])
    side = (a[2] + a[3] + b[2] + b[3]) / 4
    return bool(np.hypot(*(ca - cb)) > max_jump * side)


def find_tracks(boxes: Sequence[np.ndarray], shots: Sequence[tuple[int, int]], min_frames: int) -> list[Track]:
    """Maximal runs of frames with exactly one continuous face, within one shot, of >= ``min_frames``.

    ``boxes[i]`` are frame ``i``'s detections (k, 4); ``shots`` are half-open frame ranges.
    """
    tracks = []
    for shot, (start, stop) in enumerate(shots):
        run = start  # first frame of the current candidate run
        for i in range(start, stop + 1):
            one = i < stop and len(boxes[i]) == 1
            if one and not (i > run and box_jumps(boxes[i - 1][0], boxes[i][0])):
                continue
            if i - run >= min_frames:
                tracks.append(Track(shot, run, i))
            run = i if one else i + 1
    return tracks


def part_of_face(face: Sequence[int], box: Sequence[int], max_ratio: float = 1.5) -> bool:
    """Whether ``box`` lies inside the previous frame's ``face`` at under 1/``max_ratio`` of its side.

    Why: on a close-up cut by the frame edge, the frontal cascade's boxes are a cheek or an eye of
    the face found one frame earlier (:mod:`provgan.faces.labelled`'s edge close-up, frames 30-31).
    Such a box does not "jump" (its centre stays within the face), so without this test it would
    continue the track as a face a third of the size, and the identity check on it would drop the
    whole track. A face cannot shrink 1.5x in one frame; a new face inside another is not a face.
    """
    fx, fy, fw, fh = (float(v) for v in face)
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    inside = fx <= cx <= fx + fw and fy <= cy <= fy + fh
    return bool(inside and np.sqrt(box[2] * box[3]) * max_ratio < np.sqrt(fw * fh))


def continuing_box(boxes: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
    """Of several boxes, the one face that continues the previous frame's single face, if only one does.

    Why: a detector's false positive (Haar's giant box over an edge-padded frame, a second small box on
    a shirt) would end a track at "exactly one face". A box continues when it does not jump
    (:func:`box_jumps`) and keeps its size within a factor 1.5; if exactly one box does, the others are
    dropped; otherwise (two faces, or none that continues) the frame keeps all its boxes. First, boxes
    that are a part of the previous face (:func:`part_of_face`) are dropped, even a frame's only box:
    the frame is then a miss, which following (:mod:`provgan.faces.follow`) or bridging can fill.
    """
    if previous is None or not len(boxes):
        return boxes
    boxes = np.asarray([b for b in boxes if not part_of_face(previous, b)], dtype=np.int64).reshape(-1, 4)
    if len(boxes) < 2:
        return boxes
    side = np.sqrt(previous[2] * previous[3])
    keep = [b for b in boxes if not box_jumps(previous, b) and 1 / 1.5 < np.sqrt(b[2] * b[3]) / side < 1.5]
    return np.asarray(keep).reshape(1, 4) if len(keep) == 1 else boxes


def bridge_gaps(boxes: list[np.ndarray], landmarks: dict[int, np.ndarray], shots: Sequence[tuple[int, int]],
                max_gap: int) -> int:
    """Fill runs of at most ``max_gap`` frames without a detection between two one-face frames of a shot.

    Why: one missed detection in a 32-frame shot breaks the thesis' "at least 31 consecutive face
    frames" rule, and detectors miss single frames (motion blur, a turn of the head). A gap is
    bridged only between faces that do not jump (:func:`box_jumps`); the box and the 68 landmarks
    are interpolated linearly. Frames with two or more boxes are never bridged (another face may be
    there). ``boxes`` and ``landmarks`` are filled in place; returns how many frames were bridged.
    """
    bridged = 0
    for start, stop in shots:
        ones = [i for i in range(start, stop) if len(boxes[i]) == 1 and i in landmarks]
        for a, b in zip(ones, ones[1:]):
            gap = range(a + 1, b)
            if not 0 < len(gap) <= max_gap or any(len(boxes[k]) for k in gap):
                continue
            if box_jumps(boxes[a][0], boxes[b][0]):
                continue
            for k in gap:
                w = (k - a) / (b - a)
                box = np.rint((1 - w) * boxes[a][0] + w * boxes[b][0]).astype(np.int64)
                boxes[k] = box.reshape(1, 4)
                landmarks[k] = ((1 - w) * landmarks[a] + w * landmarks[b]).astype(np.float32)
                bridged += 1
    return bridged


def identity_matches(face_a: np.ndarray, face_b: np.ndarray) -> int:
    """SIFT matches (Lowe ratio test) between two aligned RGB faces that join nearby points."""
    sift = cv2.SIFT_create()
    kp_a, desc_a = sift.detectAndCompute(cv2.cvtColor(face_a, cv2.COLOR_RGB2GRAY), None)
    kp_b, desc_b = sift.detectAndCompute(cv2.cvtColor(face_b, cv2.COLOR_RGB2GRAY), None)
    radius = MATCH_RADIUS * max(face_a.shape[:2])
    count = 0
    for m in good_matches(desc_a, desc_b):
        pa, pb = kp_a[m.queryIdx].pt, kp_b[m.trainIdx].pt
        count += int(np.hypot(pa[0] - pb[0], pa[1] - pb[1]) <= radius)
    return count
