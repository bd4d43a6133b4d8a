"""Shot boundaries: the SIFT rule on counts, and both detectors on a real hard cut."""

from __future__ import annotations

import pytest

from provgan.data.video_io import read_video
from provgan.faces.shots import (SiftCutScorer, scenedetect_boundaries, shots_from_boundaries,
                                 sift_boundaries)


def test_sift_rule_on_counts():
    # frame 3: 2 matches of min(100, 90) keypoints < 0.2 * 90 -> cut; frame 5: 19 of 100 -> cut;
    # frame 6: 20 of 100 is not below 0.2 * 100; frames 7-8 are featureless (0 keypoints): no cut
    matches = [0, 80, 70, 2, 60, 19, 20, 0, 0]
    keypoints = [100, 100, 100, 90, 100, 100, 100, 0, 0]
    assert sift_boundaries(matches, keypoints, 0.2) == [3, 5]
    assert sift_boundaries(matches, keypoints, 0.05) == [3]
    assert sift_boundaries([0], [10]) == []
    with pytest.raises(ValueError):
        sift_boundaries([0, 1], [1])


def test_shots_partition_the_video():
    assert shots_from_boundaries([30, 10, 10, 0, 99], 50) == [(0, 10), (10, 30), (30, 50)]
    assert shots_from_boundaries([], 7) == [(0, 7)]
    assert shots_from_boundaries([5], 0) == []


def _sift_cuts(frames):
    scorer = SiftCutScorer(256)
    matches, keypoints = zip(*(scorer(f) for f in frames))
    return sift_boundaries(matches, keypoints, 0.2)


def test_sift_finds_the_join_of_two_real_videos(joined_video, join_frame):
    cuts = _sift_cuts(read_video(joined_video))
    assert len(cuts) == 1 and abs(cuts[0] - join_frame) <= 1


def test_scenedetect_finds_the_join_of_two_real_videos(joined_video, join_frame):
    import av.logging

    level = av.logging.get_level()
    cuts = scenedetect_boundaries(joined_video)
    assert av.logging.get_level() == level  # PySceneDetect's FFmpeg log takeover is undone
    assert len(cuts) == 1 and abs(cuts[0] - join_frame) <= 1


def test_sift_finds_no_cut_in_one_continuous_shot(carphone_frames):
    assert _sift_cuts(carphone_frames) == []
