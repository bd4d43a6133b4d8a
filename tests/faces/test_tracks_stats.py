"""Tracks (one-face runs inside shots), the identity check, and the Table 7.2 histogram."""

from __future__ import annotations

import cv2
import numpy as np

from provgan.faces.align import template_points, umeyama_similarity, warp_face
from provgan.faces.landmarks import five_points
from provgan.faces.stats import bin_labels, format_histogram, length_histogram
from provgan.faces.tracks import Track, box_jumps, find_tracks, identity_matches

FACE = np.array([[50, 40, 60, 60]])
NONE = np.zeros((0, 4), np.int64)
TWO = np.array([[50, 40, 60, 60], [200, 40, 50, 50]])


def test_tracks_are_one_face_runs_within_a_shot():
    boxes = [FACE] * 10 + [NONE] + [FACE] * 5 + [TWO] + [FACE] * 7 + [FACE + [100, 0, 0, 0]] * 6
    shots = [(0, 4), (4, 29)]
    # shot 0: frames 0-3 (4 frames); shot 1: 4-9 (6), 11-15 (5), 17-23 (7), then the box jumps: 24-28 (5)
    assert find_tracks(boxes, shots, 5) == [Track(1, 4, 10), Track(1, 11, 16), Track(1, 17, 24), Track(1, 24, 29)]
    assert find_tracks(boxes, shots, 6) == [Track(1, 4, 10), Track(1, 17, 24)]
    assert find_tracks(boxes, shots, 7) == [Track(1, 17, 24)]
    assert find_tracks(boxes, [(0, 29)], 10) == [Track(0, 0, 10)]
    assert all(t.length == t.stop - t.start for t in find_tracks(boxes, shots, 2))


def test_box_jumps():
    assert not box_jumps((0, 0, 100, 100), (20, 10, 100, 100))
    assert box_jumps((0, 0, 100, 100), (60, 0, 100, 100))


def _tight(frame, models):
    marks = models.predictor(frame, models.detector(frame)[0])
    return warp_face(frame, umeyama_similarity(five_points(marks), template_points(128, 0.0)), 128)


def test_identity_matches_same_face_not_other_image(carphone_frames, joined_video, models):
    from provgan.data.video_io import read_video

    first, last = _tight(carphone_frames[0], models), _tight(carphone_frames[57], models)
    same = identity_matches(first, last)
    other = cv2.resize(read_video(joined_video, 45, 1)[0], (128, 128))
    assert same >= 3 > identity_matches(first, other)
    assert identity_matches(first, first) > 3 * same  # identical images match nearly every keypoint


def test_histogram_uses_table_7_2_bins():
    assert bin_labels() == ["30-33", "34-39", "40-47", "48-57", "58-69", "70+"]
    lengths = [31, 33, 34, 39, 40, 47, 48, 57, 58, 69, 70, 423, 1000, 12]
    hist = length_histogram(lengths)
    assert list(hist) == ["<30", "30-33", "34-39", "40-47", "48-57", "58-69", "70+"]
    expected = [sum(lo <= n <= hi for n in lengths) for lo, hi in
                [(0, 29), (30, 33), (34, 39), (40, 47), (48, 57), (58, 69), (70, 10 ** 9)]]
    assert list(hist.values()) == expected
    assert "<30" not in length_histogram([31, 80])
    assert sum(length_histogram([]).values()) == 0
    table = format_histogram(hist).splitlines()
    assert table[0].split()[-1] == "all" and table[1].split()[-1] == str(len(lengths))
