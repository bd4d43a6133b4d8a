"""Following a detected face through missed frames (provgan.faces.follow), on real footage."""

from __future__ import annotations

import numpy as np
import pytest

from provgan.data.video_io import read_video, write_video
from provgan.faces.analyze import Models, analyze_video
from provgan.faces.detect import Geometry, HaarFaceDetector, box_iou
from provgan.faces.follow import FaceFollower, Followed, keep_followed_at_cuts, trim_followed_ends
from provgan.faces.labelled import _square, _square_boxes, _true_boxes
from provgan.faces.options import FacesOptions
from provgan.faces.tracks import find_tracks

FACE = (92.0, 69.0, 52.0)  # carphone's face: centre x, y and side (labelled.py)
DISTORTED = (FACE[0], FACE[1], FACE[2] / 0.6)  # the labelled set's blocky close-up, face ~60 % of the frame


@pytest.fixture(scope="module")
def blocky_shot(real_videos, carphone_frames):
    """The labelled set's distorted close-up (frames 10-41 of the heavily compressed carphone) and the
    true face box of every frame (HOG on the plain pristine frames, mapped into the crop)."""
    window = slice(10, 10 + 32)
    frames = _square(read_video(real_videos["carphone_distorted"], 0, 60)[window], *DISTORTED)
    return frames, _square_boxes(_true_boxes(carphone_frames[:60])[window], *DISTORTED)


def test_a_followed_face_stays_on_the_true_face(blocky_shot, tmp_path, models):
    frames, truth = blocky_shot
    path = write_video(tmp_path / "blocky.mp4", frames, fps=25)
    haar = HaarFaceDetector(Geometry())
    detected = [i for i, f in enumerate(read_video(path)) if len(haar(f)) == 1]  # as encoded
    assert 4 <= len(detected) <= 20  # what following is for: Haar misses this face in most frames
    off = analyze_video(path, FacesOptions(follow=0), models)
    assert not find_tracks(off.boxes, [(0, 32)], 31)
    on = analyze_video(path, FacesOptions(follow=30), models)
    assert [len(b) for b in on.boxes] == [1] * 32 and sorted(on.landmarks) == list(range(32))
    assert set(on.followed.source) == set(range(32)) - set(detected)
    assert find_tracks(on.boxes, [(0, 32)], 31)
    followed = [box_iou(on.boxes[i][0].astype(float), truth[i]) for i in sorted(on.followed.source)]
    assert min(followed) > 0.4 and np.median(followed) > 0.5, followed
    short = analyze_video(path, FacesOptions(follow=3), models)  # at most 3 frames on each side of a face
    assert len(short.followed.source) < len(on.followed.source)
    assert all(min(abs(i - d) for d in detected) <= 3 for i in short.followed.source)


def test_a_false_detection_is_not_followed_into_a_whole_track(carphone_frames, tmp_path, models):
    """The edge close-up (37 % of the face cut by the frame): the frontal cascade's only boxes in it are
    false positives on part of the face; followed through 30 frames they would make a clip with no face
    in it. The profile pass (the default) finds the face itself, and the track then lies on it."""
    edge = (FACE[0] + 14, FACE[1], FACE[2] / 0.75)
    path = write_video(tmp_path / "edge.mp4", _square(carphone_frames[26:58], *edge), fps=25)
    options = FacesOptions()
    frontal = Models(HaarFaceDetector(Geometry(), profile_min_face=0.0), models.predictor, models.embedder)
    analysis = analyze_video(path, options, frontal)
    assert 0 < sum(len(b) for b in analysis.boxes) - len(analysis.followed.source) < 4
    assert not find_tracks(analysis.boxes, [(0, 32)], options.min_frames)
    analysis = analyze_video(path, options, models)
    tracks = find_tracks(analysis.boxes, [(0, 32)], options.min_frames)
    truth = _square_boxes(_true_boxes(carphone_frames[:60])[26:58], *edge)
    assert len(tracks) == 1 and tracks[0].length >= 31
    ious = [box_iou(analysis.boxes[i][0].astype(float), truth[i]) for i in range(tracks[0].start, tracks[0].stop)]
    assert min(ious) > 0.3 and np.mean(np.array(ious) >= 0.4) >= 0.9, ious


def test_following_stops_at_max_frames_and_at_a_low_psr(blocky_shot):
    close, truth = blocky_shot
    box = np.rint(truth[-1]).astype(np.int64).reshape(1, 4)  # as if the last frame's face were detected
    misses = np.zeros((0, 4), np.int64)

    def run(max_frames, min_psr, order):
        follower = FaceFollower(max_frames, min_psr, detect_width=400)
        out = [follower.step(i, close[k], box if k == len(close) - 1 else misses) for i, k in enumerate(order)]
        return follower, out

    forward, out = run(5, 8.0, [31] + list(range(30, 0, -1)))  # the face detected first, then 30 misses
    assert [len(b) for b in out] == [1] * 6 + [0] * 25 and sorted(forward.followed.source) == [1, 2, 3, 4, 5]
    backward, _ = run(5, 8.0, list(range(1, 32)))  # 30 misses, then the face: the last 5 misses filled
    assert sorted(backward.followed.source) == [25, 26, 27, 28, 29] and set(backward.followed.source.values()) == {30}
    assert [j for j, *_ in backward.pop_backward()] == [29, 28, 27, 26, 25] and backward.pop_backward() == []
    strict, out = run(30, 1e6, [31] + list(range(30, 0, -1)))  # no PSR is that high: nothing is followed
    assert not strict.followed.source and sum(len(b) for b in out) == 1
    off, out = run(0, 8.0, [31] + list(range(30, 0, -1)))
    assert not off.followed.source and sum(len(b) for b in out) == 1


def test_nothing_is_followed_across_two_faces():
    follower = FaceFollower(30, 8.0, detect_width=400)
    frame = np.full((64, 64, 3), 90, np.uint8)
    two = np.array([[2, 2, 20, 20], [30, 30, 20, 20]])
    follower.step(0, frame, two)
    assert len(follower.step(1, frame, np.zeros((0, 4), np.int64))) == 0 and not follower.followed.source


def test_only_followed_faces_that_reach_a_cut_from_their_own_shot_stay():
    boxes = [np.array([[10, 10, 20, 20]]) for _ in range(12)]
    landmarks = {i: np.zeros((68, 2)) for i in range(12)}
    # shot (0, 6): 0-1 followed back from 2 (kept), 4 followed from 3 between detections (dropped);
    # shot (6, 12): 6 followed from 5 across the cut (dropped), 10-11 followed from 9 to the shot's end (kept)
    source = {0: 2, 1: 2, 4: 3, 6: 5, 10: 9, 11: 9}
    followed = Followed(dict(source))
    assert keep_followed_at_cuts(boxes, landmarks, followed, [(0, 6), (6, 12)]) == 2
    assert sorted(followed.source) == [0, 1, 10, 11] and len(boxes[4]) == len(boxes[6]) == 0
    assert 4 not in landmarks and 6 not in landmarks and all(len(boxes[i]) == 1 for i in (0, 1, 2, 3, 5, 7, 10, 11))


def test_a_turned_head_between_two_detections_is_not_followed_into_the_clip(carphone, tmp_path, models):
    """carphone's driver faces the camera for 58 frames, then turns away (Haar misses 58-63, finds
    64-75, misses the rest): the clip stays frames 0-57, as without following."""
    from provgan.faces.pipeline import process_video

    (tmp_path / "out" / "clips").mkdir(parents=True)
    result = process_video(carphone, "carphone", tmp_path / "out", FacesOptions(size=64), models)
    assert [c.frames for c in result.clips] == [(0, 58)]


def test_a_splice_of_two_people_is_still_no_clip(carphone_frames, astronaut, tmp_path, models):
    from provgan.faces.labelled import _camera_move
    from provgan.faces.pipeline import process_video

    close = _square(carphone_frames[:32], FACE[0], FACE[1], FACE[2] / 0.7)
    other = _camera_move(astronaut, (150, 50, 200), (150, 50, 200), (256, 256))
    path = write_video(tmp_path / "splice.mp4", np.concatenate([close[:16], other[:16]]), fps=25)
    (tmp_path / "out" / "clips").mkdir(parents=True)
    result = process_video(path, "splice", tmp_path / "out", FacesOptions(follow=30), models)
    assert result.status == "no-track" and not result.clips


def test_followed_ends_are_trimmed_as_far_as_the_rule_allows():
    from provgan.faces.tracks import Track

    followed = Followed(source={i: 40 for i in [0, 1, 2, *range(40, 50)]})
    long, short = Track(0, 0, 50), Track(1, 30, 50)
    assert trim_followed_ends([long, short], followed, 31) == [Track(0, 3, 40), Track(1, 30, 50)]
    assert trim_followed_ends([long], followed, 45) == [Track(0, 0, 45)]  # the end first, down to 45 frames
    assert trim_followed_ends([long], Followed(), 31) == [long]
