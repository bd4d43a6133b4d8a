"""The labelled set end to end with the defaults: every clip on a true face, the blocky close-up found
by following, the edge close-up by the profile pass, nothing from the face-less shots or the splice
(README, "Faces found")."""

from __future__ import annotations

import json

import numpy as np

from provgan.faces.labelled import build_labelled_set, clip_on_face, evaluate


def test_the_defaults_on_the_labelled_set(tmp_path):
    result = evaluate(tmp_path, "haar")
    assert result["precision"] == 1.0 and result["off_face"] == 0 and result["found"] == result["face_shots"] == 8
    run = tmp_path / "faces-haar-embedding-follow12-profile0.4-workers1"
    sources = {clip["source"].rsplit("/", 1)[-1] for clip in json.loads((run / "manifest.json").read_text())["clips"]}
    assert "face_distorted_close.mp4" in sources  # Haar finds it in 12 of 32 frames: following makes the clip
    assert "face_carphone_edge.mp4" in sources  # the frontal cascade sees only a cheek: the profile pass
    assert not sources & {"none_bikes.mp4", "none_bunny.mp4", "none_splice.mp4"}
    frontal = evaluate(tmp_path, "haar", haar_profile=0.0)  # what the profile pass adds: that one shot
    assert frontal["found"] == 7 and frontal["precision"] == 1.0


def test_true_boxes_follow_the_crop(tmp_path):
    shots = {s.name: s for s in build_labelled_set(tmp_path)}
    edge, close = shots["face_carphone_edge"].truth, shots["face_carphone_close"].truth
    assert edge.shape == (32, 4) and (edge[:, 0] < 0).all()  # the edge close-up's face is cut on the left
    assert (close[:, 2] > 0.55 * 256).all()  # HOG's tight box on a face filling ~70 % of the frame
    assert shots["none_splice"].truth is None
    clip = {"frames": [0, 32], "boxes": np.rint(close).astype(int).tolist()}
    assert clip_on_face(clip, shots["face_carphone_close"])
