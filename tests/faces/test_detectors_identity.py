"""The three detectors on real frames, gap bridging, and the identity check (SIFT and embedding) on one
person through a shot and on a splice of two real people."""

from __future__ import annotations

import numpy as np
import pytest

from provgan.faces.analyze import Models
from provgan.faces.detect import DlibFaceDetector, Geometry, HaarFaceDetector, make_detector
from provgan.faces.landmarks import LandmarkPredictor
from provgan.faces.options import FacesOptions
from provgan.faces.pipeline import same_person
from provgan.faces.tracks import bridge_gaps, find_tracks
from provgan.errors import ProvganError


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / (aw * ah + bw * bh - w * h)


@pytest.mark.parametrize("kind", ["haar", "hog", "cnn"])
def test_each_detector_finds_the_real_face(kind, carphone_frames):
    detector = make_detector(kind, Geometry())
    assert isinstance(detector, HaarFaceDetector if kind == "haar" else DlibFaceDetector)
    reference = (66, 43, 52, 52)  # dlib HOG's box on carphone's first frame
    for frame in carphone_frames[[0, 3]]:
        boxes = detector(frame)
        assert len(boxes) >= 1 and iou(boxes[0], reference) > 0.4, (kind, boxes)
    assert len(detector(np.full((144, 176, 3), 90, np.uint8))) == 0  # a blank frame holds no face


def test_padding_finds_a_close_up_cut_by_the_frame_edge(carphone_frames):
    from provgan.faces.labelled import _square

    frame = carphone_frames[0]
    close_up = _square(carphone_frames[:1], 92 + 14, 69, 52 / 0.8)[0]  # face 80 % of 256 px, cut on the left
    assert len(HaarFaceDetector(Geometry(pad=0.0))(close_up)) == 0
    found = HaarFaceDetector(Geometry(pad=0.25))(close_up)
    assert len(found) == 1 and found[0][0] < 0 < found[0][0] + found[0][2]  # in frame pixels, past the edge
    plain, padded = (HaarFaceDetector(Geometry(pad=0.25))._detect(frame, p) for p in (False, True))
    assert iou(plain[0], padded[0]) > 0.7  # the same face, not shifted by the border
    assert len(HaarFaceDetector(Geometry(min_face=0.6))(frame)) == 0  # a 52 px face < 0.6 * 144
    with pytest.raises(ProvganError, match="--detector"):
        DlibFaceDetector("sift")


def test_bridging_fills_short_gaps_only(carphone_frames):
    detector, predictor = HaarFaceDetector(Geometry()), LandmarkPredictor()
    frames = carphone_frames[:40]
    boxes = [detector(f) for f in frames]
    landmarks = {i: predictor(f, b[0]) for i, (f, b) in enumerate(zip(frames, boxes)) if len(b) == 1}
    ones = [i for i in range(40) if len(boxes[i]) == 1]
    assert len(ones) >= 30  # Haar misses a few of carphone's frames: what bridging is for
    truth = {i: boxes[i][0].copy() for i in (10, 11)}
    for i in (10, 11, 25, 26, 27):  # a 2-frame and a 3-frame miss
        boxes[i] = np.zeros((0, 4), np.int64)
        landmarks.pop(i, None)
    before = find_tracks(boxes, [(0, 40)], 2)
    filled = bridge_gaps(boxes, landmarks, [(0, 40)], max_gap=2)
    assert filled >= 2 and all(len(boxes[i]) == 0 for i in (25, 26, 27))
    for i in (10, 11):
        assert len(boxes[i]) == 1 and i in landmarks and iou(boxes[i][0], truth[i]) > 0.7
    after = find_tracks(boxes, [(0, 40)], 2)
    assert max(t.length for t in after) > max(t.length for t in before)


def _faces(frames, detector, predictor):
    boxes = [detector(f)[0] for f in frames]
    return [predictor(f, b) for f, b in zip(frames, boxes)]


@pytest.mark.parametrize("identity", ["sift", "embedding"])
def test_identity_keeps_one_person_and_drops_a_splice(identity, carphone_frames, astronaut_small):
    options = FacesOptions(identity=identity).check()
    models = Models.load(options)
    detector = make_detector("hog", Geometry())
    same = [carphone_frames[0], carphone_frames[28], carphone_frames[57]]  # one person through the shot
    splice = [carphone_frames[0], carphone_frames[28], astronaut_small]  # another person, no cut between
    kept, matches, distance = same_person(same, _faces(same, detector, models.predictor), options, models)
    assert kept, (matches, distance)
    kept, matches2, distance2 = same_person(splice, _faces(splice, detector, models.predictor), options, models)
    assert not kept, (matches2, distance2)
    if identity == "embedding":  # measured: 0.41 for one person, 0.83 for the two; 0.6 lies between
        assert distance < options.identity_max_distance < distance2


def test_a_false_positive_beside_the_face_does_not_end_the_track():
    from provgan.faces.tracks import continuing_box

    face = np.array([60, 40, 50, 50])
    beside = np.array([[10, -70, 300, 300], [62, 41, 49, 50]])  # Haar's giant box and the face
    assert continuing_box(beside, face).tolist() == [[62, 41, 49, 50]]
    two_faces = np.array([[62, 41, 49, 50], [70, 45, 52, 52]])  # two candidates: keep both (not one face)
    assert len(continuing_box(two_faces, face)) == 2
    assert len(continuing_box(beside, None)) == 2


def test_a_box_inside_the_last_face_is_part_of_it_not_a_face():
    from provgan.faces.tracks import continuing_box, part_of_face

    face = np.array([-40, -10, 230, 230])  # an edge close-up's face, cut on the left
    cheek = np.array([31, 22, 67, 67])  # the frontal cascade's box on its cheek (labelled set, frame 30)
    assert part_of_face(face, cheek) and not part_of_face(cheek, face)
    assert not part_of_face(face, np.array([-30, -5, 200, 200]))  # the same face, a little smaller
    assert not part_of_face(face, np.array([300, 22, 67, 67]))  # a small face beside it, not inside
    assert continuing_box(cheek.reshape(1, 4), face).shape == (0, 4)  # the frame becomes a miss
    assert continuing_box(cheek.reshape(1, 4), None).tolist() == [cheek.tolist()]  # no face before it
    both = np.array([[-38, -12, 232, 232], cheek])
    assert continuing_box(both, face).tolist() == [[-38, -12, 232, 232]]


def test_the_profile_pass_finds_a_face_cut_by_a_third(carphone_frames):
    """The labelled set's edge close-up: the frontal passes find nothing in its frame 10, the profile
    pass finds the face, in the frame and in its mirror image (the cascade knows one orientation)."""
    from provgan.faces.labelled import _square, _square_boxes, _true_boxes

    edge = (92.0 + 14, 69.0, 52.0 / 0.75)
    frame = _square(carphone_frames[36:37], *edge)[0]
    truth = _square_boxes(_true_boxes(carphone_frames[:60])[36:37], *edge)[0]
    assert truth[0] < -0.3 * truth[2]  # over 30 % of the face lies left of the frame
    assert len(HaarFaceDetector(Geometry(), profile_min_face=0.0)(frame)) == 0
    detector = HaarFaceDetector(Geometry())
    found = detector(frame)
    assert len(found) == 1 and iou(found[0], truth) > 0.4, (found, truth)
    mirrored = detector(np.ascontiguousarray(frame[:, ::-1]))
    assert len(mirrored) == 1 and iou(mirrored[0], (256 - truth[0] - truth[2], *truth[1:])) > 0.4
    assert len(detector(np.full((256, 256, 3), 90, np.uint8))) == 0


def test_a_frame_shrunk_once_gives_the_same_boxes(carphone_frames):
    """analyze_video shrinks each frame once for every pass and the follower; a shrink made for another
    detection width is not used."""
    import cv2

    from provgan.faces.detect import shrink_frame

    frame = cv2.resize(carphone_frames[0], (704, 576))  # wider than detect_width: shrunk to 400
    detector = HaarFaceDetector(Geometry())
    shrunk = shrink_frame(frame, 400)
    assert shrunk[0].shape[1] == 400 and shrunk[1] == 400 / 704
    assert detector(frame, shrunk).tolist() == detector(frame).tolist() != []
    wrong = shrink_frame(frame, 200)  # another width: the detector makes its own
    assert detector(frame, wrong).tolist() == detector(frame).tolist()
