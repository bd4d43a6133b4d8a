"""Following a detected face through the frames where the detector misses it (correlation tracking).

Why: a detector that finds a face in some frames of a shot and misses it in the rest breaks the
thesis' "at least 31 consecutive face frames" rule (§7.1), and :func:`~provgan.faces.tracks.bridge_gaps`
only fills short gaps *between* two detections. The blocky close-up of :mod:`provgan.faces.labelled`
(heavily compressed, the face 60 % of the frame) is the typical case: Haar finds the face in 12 of its
32 frames. So, as face-video pipelines usually do (detect, then track), a face is followed from the
frame it was detected in, forward into later misses and backward into earlier ones, with dlib's
correlation tracker (Danelljan et al. 2014: a discriminative correlation filter with scale
estimation). Each step's peak-to-sidelobe ratio (PSR) says how sure the tracker is; a follow stops at
the first frame below ``min_psr`` or after ``max_frames`` frames. On the labelled shots a followed face
kept a PSR of 8-27 over 10 frames, and a splice of two people dropped it to 4-5 at the splice, hence
the default 8.

Why at most 12 frames (half a second at 25 fps) by default: a follow carries whatever the detector
found, and Haar's only boxes in the labelled edge close-up (37 % of the face cut off by the frame) are
false positives on part of the face; followed through all 32 frames they make a clip with no face in
it (tests/faces/test_follow.py). Twelve frames on each side turn 8 detections spread over a 32-frame
shot into a track, never 2.

Four guards keep followed faces from costing precision: a follow never starts from a frame with
more than one face; once the shots are known, only followed faces that carry a detection of the same
shot to the shot's first or last frame stay (:func:`keep_followed_at_cuts`: between two detections a
long miss is a turned head, and the tracker knows nothing of cuts); a track's followed ends are
trimmed as far as the 31-frame rule allows (:func:`trim_followed_ends`); and a track made partly of
followed faces passes the same identity check as any other.

The tracker runs at detection scale (frames shrunk to ``detect_width``) and keeps at most
``max_frames`` shrunk misses for the backward follow, so memory does not grow with the video.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from provgan.faces.tracks import Track


@dataclass
class Followed:
    """Frames whose box was found by following: ``source[i]`` is the frame of the detection it came from
    (the boxes themselves are the frames' boxes of the analysis)."""

    source: dict[int, int] = field(default_factory=dict)


class FaceFollower:
    """dlib's correlation tracker on one face at a time, at detection scale.

    ``step(index, frame, boxes)`` is fed every frame in order with the detector's boxes (frame pixels);
    it returns the frame's boxes, with a followed box where a followed face was missed, and records
    backward-followed boxes of earlier misses in :attr:`followed` (their landmarks are the caller's:
    :meth:`pop_backward` hands over those frames, shrunk, with their boxes).
    """

    def __init__(self, max_frames: int, min_psr: float, detect_width: int):
        import dlib

        self._dlib = dlib
        self.max_frames, self.min_psr, self.detect_width = max_frames, min_psr, detect_width
        self.followed = Followed()
        # the last face: index, frame, box, and the frame at detection scale when known
        self._last: tuple[int, np.ndarray, np.ndarray, tuple[np.ndarray, float] | None] | None = None
        self._tracker = None  # forward tracker, started lazily at the first miss after a face
        self._forward_count = 0
        self._misses: list[tuple[int, np.ndarray]] = []  # unfilled misses right before this frame
        self._backward: list[tuple[int, np.ndarray, np.ndarray, float]] = []  # index, shrunk frame, box, scale

    def _shrink(self, frame: np.ndarray, given: tuple[np.ndarray, float] | None = None) -> tuple[np.ndarray, float]:
        """The frame at detection scale: ``given`` (the caller's ``shrink_frame``) when it has one."""
        from provgan.faces.detect import shrink_frame

        return shrink_frame(frame, self.detect_width, given)

    def _rect(self, box: np.ndarray):
        x, y, w, h = (float(v) for v in box)
        return self._dlib.drectangle(x, y, x + w, y + h)

    def _start(self, frame: np.ndarray, box: np.ndarray):
        tracker = self._dlib.correlation_tracker()
        tracker.start_track(frame, self._rect(box))
        return tracker

    @staticmethod
    def _box(tracker, scale: float, shape) -> np.ndarray | None:
        """The tracker's box in frame pixels, or None once its centre has left the frame."""
        p = tracker.get_position()
        box = np.array([p.left(), p.top(), p.width(), p.height()]) / scale
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        if not (0 <= cx < shape[1] and 0 <= cy < shape[0]):
            return None
        return np.rint(box).astype(np.int64)

    def step(self, index: int, frame: np.ndarray, boxes: np.ndarray,
             shrunk: tuple[np.ndarray, float] | None = None) -> np.ndarray:
        """This frame's boxes, a followed one in place of a miss when the follow holds.

        ``shrunk``: the frame at detection scale (``shrink_frame``), when the caller has it already.
        """
        if self.max_frames == 0:
            return boxes
        if len(boxes) == 1 and not self._misses:  # the common case: a face, nothing to fill behind it
            self._tracker, self._forward_count, self._last = None, 0, (index, frame, boxes[0], shrunk)
            return boxes
        small, scale = self._shrink(frame, shrunk)
        if len(boxes) == 0 and self._last is not None and self._forward_count < self.max_frames:
            if self._tracker is None:  # the first miss after a face: start from that face, shrunk
                last_small, last_scale = self._shrink(self._last[1], self._last[3])
                self._tracker = self._start(last_small, self._last[2] * last_scale)
            psr = self._tracker.update(small)
            box = self._box(self._tracker, scale, frame.shape) if psr >= self.min_psr else None
            if box is not None:
                self._forward_count += 1
                self.followed.source[index] = self._last[0]
                return box.reshape(1, 4)
            self._last, self._tracker = None, None  # lost: no further forward follow from it
        if len(boxes) == 0:
            self._misses = (self._misses + [(index, small)])[-self.max_frames:]
            self._last, self._tracker = None, None
            return boxes
        self._tracker, self._forward_count = None, 0
        if len(boxes) > 1:  # another face may be there: nothing is followed across it
            self._last, self._misses = None, []
            return boxes
        self._follow_backward(index, small, boxes[0] * scale, scale, frame.shape)
        self._last = (index, frame, boxes[0], (small, scale))
        return boxes

    def _follow_backward(self, index: int, small: np.ndarray, box_small: np.ndarray, scale: float, shape) -> None:
        """Fill the misses right before a detected face, newest first, while the follow holds."""
        misses, self._misses = self._misses, []
        if not misses or misses[-1][0] != index - 1:
            return
        tracker = self._start(small, box_small)
        for j, frame_j in reversed(misses):
            if tracker.update(frame_j) < self.min_psr:
                return
            box = self._box(tracker, scale, shape)
            if box is None:
                return
            self.followed.source[j] = index
            self._backward.append((j, frame_j, box, scale))

    def pop_backward(self) -> list[tuple[int, np.ndarray, np.ndarray, float]]:
        """Backward-followed frames not yet handed over: (index, shrunk frame, box in frame pixels, scale)."""
        out, self._backward = self._backward, []
        return out


def keep_followed_at_cuts(boxes: list[np.ndarray], landmarks: dict[int, np.ndarray], followed: Followed,
                          shots: Sequence[tuple[int, int]]) -> int:
    """Keep only the followed faces that carry a detection to its shot's first or last frame.

    Why: a face followed *between* two detections through a long miss was, in real footage, a head
    turned away (carphone's driver at frames 58-63: the tracker holds on, the crop shows a profile);
    short misses there are :func:`~provgan.faces.tracks.bridge_gaps`' job, and the thesis asks for
    frames "on which face detection was successful". What detection alone loses is the stretch from a
    cut to the first frame the detector locks on (and from its last lock to the next cut): the blocky
    close-up of the labelled set is found in frames 9-20 of 32. So a followed face stays only in a run
    of followed frames that reaches its shot's first or last frame, coming from a detection in that
    shot (the tracker knows nothing of cuts). Shots are half-open frame ranges; returns how many
    followed faces were dropped (their frames become misses again).
    """
    keep: set[int] = set()
    for start, stop in shots:
        inside = range(start, stop)
        for frames in (inside, reversed(inside)):  # from the shot's first frame on, and from its last back
            for index in frames:
                if index not in followed.source or not start <= followed.source[index] < stop:
                    break
                keep.add(index)
    dropped = 0
    for index in [i for i in followed.source if i not in keep]:
        boxes[index] = np.zeros((0, 4), np.int64)
        landmarks.pop(index, None)
        del followed.source[index]
        dropped += 1
    return dropped


def trim_followed_ends(tracks: Sequence[Track], followed: Followed, min_frames: int) -> list[Track]:
    """Shorten each track from its ends while they are followed faces and it keeps ``min_frames``.

    Why: a followed face is least sure at a track's ends, where the tracker has held on to a head
    that turns away (carphone's driver at frames 76-87: PSR above 8, but a profile that fails the
    identity check against his first frame, which would drop the whole 88-frame track). Inside a
    track, followed faces fill misses between detections; at its ends they are kept only as far as
    the "at least ``min_frames``" rule needs them.
    """
    out = []
    for track in tracks:
        start, stop = track.start, track.stop
        while stop - 1 in followed.source and stop - 1 - start >= min_frames:
            stop -= 1
        while start in followed.source and stop - start - 1 >= min_frames:
            start += 1
        out.append(Track(track.shot, start, stop))
    return out
