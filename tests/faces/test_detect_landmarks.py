"""Haar-cascade faces and dlib's 68 landmarks on the real face video, checked against dlib's HOG detector."""

from __future__ import annotations

import dlib
import numpy as np

from provgan.faces.detect import cascade_path
from provgan.faces.landmarks import LEFT_EYE, RIGHT_EYE, five_points, predictor_path


def _iou(a, b) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_model_files_ship_with_the_packages():
    assert cascade_path().is_file()
    assert predictor_path().is_file() and predictor_path().stat().st_size > 50e6


def test_haar_box_agrees_with_an_independent_detector(carphone_frames, models):
    hog = dlib.get_frontal_face_detector()  # HOG + linear SVM: a different method, no model file
    for frame in carphone_frames[:40:8]:
        boxes = models.detector(frame)
        found = hog(frame, 1)
        assert boxes.shape == (1, 4) and len(found) == 1
        r = found[0]
        assert _iou(boxes[0], (r.left(), r.top(), r.width(), r.height())) > 0.4


def test_landmarks_lie_on_the_face(carphone_frames, models):
    frame = carphone_frames[0]
    box = models.detector(frame)[0]
    marks = models.predictor(frame, box)
    assert marks.shape == (68, 2)
    x, y, w, h = box
    inside = (marks[:, 0] > x - 0.2 * w) & (marks[:, 0] < x + 1.2 * w) & (marks[:, 1] > y - 0.2 * h) \
        & (marks[:, 1] < y + 1.2 * h)
    assert inside.all()
    five = five_points(marks)
    assert np.allclose(five[0], marks[RIGHT_EYE].mean(0)) and np.allclose(five[1], marks[LEFT_EYE].mean(0))
    # image-left eye left of image-right eye, eyes above the nose tip, nose above the mouth corners
    assert five[0, 0] < five[1, 0] and max(five[0, 1], five[1, 1]) < five[2, 1] < min(five[3, 1], five[4, 1])
    assert five[3, 0] < five[4, 0]


def test_no_face_in_the_joined_landscape_clip(joined_video, models):
    from provgan.data.video_io import read_video

    assert all(len(models.detector(f)) == 0 for f in read_video(joined_video)[::3])
