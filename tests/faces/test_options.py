"""Option checks: user mistakes are one-line ProvganErrors; --min-frames follows --plan's clip length."""

from __future__ import annotations

import numpy as np
import pytest

from provgan.errors import ProvganError
from provgan.faces.cli import _min_frames
from provgan.faces.options import FacesOptions


@pytest.mark.parametrize("field, value, words", [
    ("shots", "optical-flow", "--shots"), ("min_frames", 1, "--min-frames"), ("size", 8, "--size"),
    ("workers", 0, "--workers"), ("margin", -0.1, "--margin"), ("smooth_sigma", -1.0, "--smooth"),
    ("detect_width", 10, "--detect-width"), ("identity_min_matches", -2, "--identity-matches"),
    ("detector", "yolo", "--detector"), ("identity", "arcface", "--identity"), ("max_gap", 31, "--max-gap"),
    ("max_gap", -1, "--max-gap"), ("identity_max_distance", 0.0, "--identity-distance"),
    ("max_face", 0.1, "min_face < max_face"), ("haar_profile", 0.05, "--haar-profile"),
    ("haar_profile", 1.5, "--haar-profile"),
])
def test_bad_values_name_the_option(field, value, words):
    with pytest.raises(ProvganError, match=words) as exc:
        FacesOptions(**{field: value}).check()
    assert "\n" not in str(exc.value)


def test_defaults_follow_the_thesis():
    options = FacesOptions().check()
    assert options.min_frames == 31 and options.shots == "sift"
    assert options.detector == "haar" and options.identity == "embedding" and options.max_gap == 2


def test_min_frames_default_grows_to_the_plan_clip_length():
    assert _min_frames(None, None) == 31
    assert _min_frames(None, "thesis-256") == 32  # Table A.1: 32 frames at the top level
    assert _min_frames(None, "digits-32") == 31  # 16-frame clips: the thesis' 31 stays
    assert _min_frames(40, "thesis-256") == 40


def test_labelled_set_scores_clips_by_where_their_boxes_are():
    from provgan.faces.labelled import Shot, clip_on_face, score

    face = np.tile([50.0, 40.0, 60.0, 60.0], (32, 1))
    shots = [Shot("face_a", face), Shot("face_b", face), Shot("none_c")]
    on = {"source": "/x/face_a.mp4", "frames": [0, 31], "boxes": [[48, 42, 64, 64]] * 31}
    beside = {"source": "/x/face_b.mp4", "frames": [1, 32], "boxes": [[140, 40, 30, 30]] * 31}  # a false positive
    late = {"source": "/x/face_b.mp4", "frames": [1, 32], "boxes": [[48, 42, 64, 64]] * 27 + [[0, 0, 9, 9]] * 4}
    assert clip_on_face(on, shots[0]) and not clip_on_face(beside, shots[1]) and not clip_on_face(late, shots[1])
    assert not clip_on_face(on, shots[2])  # no clip of a face-less shot is on a face
    manifest = {"clips": [on, on, beside, {"source": "/x/none_c.mp4", "frames": [0, 31], "boxes": [[0, 0, 9, 9]] * 31}]}
    result = score(manifest, shots)
    assert result["recall"] == 0.5 and result["precision"] == 2 / 4 and result["clips"] == 4
    assert result["off_face"] == 2 and score({"clips": []}, shots)["precision"] == 1.0
