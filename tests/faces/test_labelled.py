"""The labelled set end to end with the defaults: every clip on a true face, the blocky close-up found
by following, nothing from the face-less shots or the splice (README, "Faces found")."""

from __future__ import annotations

import json

import numpy as np

from provgan.faces.labelled import build_labelled_set, clip_on_face, evaluate


def test_the_defaults_on_the_labelled_set(tmp_path):
    result = evaluate(tmp_path, "haar")
    assert result["precision"] == 1.0 and result["off_face"] == 0 and result["found"] >= 7
    manifest = json.loads((tmp_path / "faces-haar-embedding-follow12-workers1" / "manifest.json").read_text())
    sources = {clip["source"].rsplit("/", 1)[-1] for clip in manifest["clips"]}
    assert "face_distorted_close.mp4" in sources  # Haar finds it in 12 of 32 frames: following makes the clip
    assert not sources & {"none_bikes.mp4", "none_bunny.mp4", "none_splice.mp4", "face_carphone_edge.mp4"}


def test_true_boxes_follow_the_crop(tmp_path):
    shots = {s.name: s for s in build_labelled_set(tmp_path)}
    edge, close = shots["face_carphone_edge"].truth, shots["face_carphone_close"].truth
    assert edge.shape == (32, 4) and (edge[:, 0] < 0).all()  # the edge close-up's face is cut on the left
    assert (close[:, 2] > 0.55 * 256).all()  # HOG's tight box on a face filling ~70 % of the frame
    assert shots["none_splice"].truth is None
    clip = {"frames": [0, 32], "boxes": np.rint(close).astype(int).tolist()}
    assert clip_on_face(clip, shots["face_carphone_close"])
