"""Options of the face-dynamics builder (thesis §7.1), one frozen dataclass checked once.

Defaults follow the thesis where it names a value (31 consecutive face frames, SIFT matches for shot
boundaries, Haar-cascade detection, 68 landmarks, similarity alignment), except the identity check:
dlib's face descriptors keep the blocky close-up of the labelled set (provgan.faces.labelled) that
SIFT's 3 matches drop, at the same precision (README, "Faces found"); ``--identity sift`` is the
thesis' check. The rest
(thresholds, smoothing width, analysis sizes) are ours and were chosen on real videos (see
tests/faces and benchmarks/faces.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from provgan.errors import ProvganError

SHOT_METHODS = ("sift", "scenedetect")
DETECTORS = ("haar", "hog", "cnn")
IDENTITY_METHODS = ("sift", "embedding")


@dataclass(frozen=True)
class FacesOptions:
    """Everything `provgan faces` can be told; validated by :meth:`check`."""

    min_frames: int = 31  # thesis §7.1: at least 31 consecutive frames with a face
    size: int = 256  # side of the aligned square crop in pixels
    margin: float = 0.25  # context around the template's face box, as a fraction of the box per side
    shots: str = "sift"  # "sift" (the thesis' method) or "scenedetect" (PySceneDetect, faster)
    workers: int = 1
    # shot boundaries by SIFT: a cut where good matches < fraction * keypoints of the poorer frame
    shot_match_fraction: float = 0.2
    sift_width: int = 256  # longer side of the grey frame SIFT runs on
    scenedetect_threshold: float = 27.0  # PySceneDetect ContentDetector's default
    # detection: "haar" (the thesis), "hog" or "cnn" (dlib)
    detector: str = "haar"
    detect_width: int = 400  # frames wider than this are shrunk before detection (boxes scaled back)
    min_face: float = 0.15  # smallest face side, as a fraction of the shorter frame side
    max_face: float = 1.2  # largest face side, same unit (a close-up cut by the frame edge exceeds 1)
    detect_pad: float = 0.25  # edge-replicated border per side before detection, same unit
    max_gap: int = 2  # missed detections bridged inside a track (box and landmarks interpolated)
    # following a detected face through the frames the detector misses (provgan.faces.follow)
    follow: int = 12  # frames followed past a detection, forward and backward (0: off)
    follow_psr: float = 8.0  # the correlation tracker's least peak-to-sidelobe ratio to go on
    haar_neighbors: int = 5
    haar_scale: float = 1.1
    # Haar's last pass: the profile cascade for close-ups cut by the frame edge, faces at least this
    # fraction of the shorter frame side (0: off; provgan.faces.detect)
    haar_profile: float = 0.4
    # alignment: Gaussian smoothing of the similarity transform along a track, in frames
    smooth_sigma: float = 2.0
    # identity check of a track: "embedding" (first, middle and last faces) or "sift" (the thesis)
    identity: str = "embedding"
    identity_min_matches: int = 3  # carphone, one person: 12 first/last, >= 3 at any gap >= 31
    identity_max_distance: float = 0.6  # dlib's 128-d face descriptors: same person below 0.6
    identity_size: int = 128  # side the two faces are compared at, whatever --size is
    progress_every: int = 25  # frames between two progress reports of a video

    def check(self) -> "FacesOptions":
        """Raise a one-line ProvganError for a value a user could have mistyped; return self."""
        if self.shots not in SHOT_METHODS:
            raise ProvganError(f"--shots must be one of {', '.join(SHOT_METHODS)}, not {self.shots!r}")
        if self.min_frames < 2:
            raise ProvganError(f"--min-frames must be at least 2 (the thesis used 31), not {self.min_frames}")
        if not 16 <= self.size <= 4096:
            raise ProvganError(f"--size must be between 16 and 4096 pixels, not {self.size}")
        if self.workers < 1:
            raise ProvganError(f"--workers must be at least 1, not {self.workers}")
        if not 0.0 <= self.margin <= 2.0:
            raise ProvganError(f"--margin must be between 0 and 2 (fraction of the face box), not {self.margin}")
        if not 0.0 < self.shot_match_fraction < 1.0:
            raise ProvganError(f"shot_match_fraction must be in (0, 1), not {self.shot_match_fraction}")
        if self.smooth_sigma < 0:
            raise ProvganError(f"--smooth must be >= 0 frames, not {self.smooth_sigma}")
        if self.detect_width < 64:
            raise ProvganError(f"--detect-width must be at least 64 pixels, not {self.detect_width}")
        if self.detector not in DETECTORS:
            raise ProvganError(f"--detector must be one of {', '.join(DETECTORS)}, not {self.detector!r}")
        if self.identity not in IDENTITY_METHODS:
            raise ProvganError(f"--identity must be one of {', '.join(IDENTITY_METHODS)}, not {self.identity!r}")
        if not 0 <= self.max_gap < self.min_frames:
            raise ProvganError(f"--max-gap must be between 0 and --min-frames - 1, not {self.max_gap}")
        if self.follow < 0:
            raise ProvganError(f"--follow must be >= 0 frames (0 turns following off), not {self.follow}")
        if self.follow_psr <= 0:
            raise ProvganError(f"--follow-psr must be > 0, not {self.follow_psr}")
        if not 0.0 < self.min_face < self.max_face:
            raise ProvganError(f"face sizes need 0 < min_face < max_face, not {self.min_face}, {self.max_face}")
        if not 0.0 <= self.detect_pad <= 1.0:
            raise ProvganError(f"detect_pad must be between 0 and 1, not {self.detect_pad}")
        if not (self.haar_profile == 0.0 or self.min_face <= self.haar_profile < self.max_face):
            raise ProvganError(f"--haar-profile must be 0 (off) or a face size between min_face and max_face "
                               f"({self.min_face}, {self.max_face}), not {self.haar_profile}")
        if not 0.0 < self.identity_max_distance < 2.0:
            raise ProvganError(f"--identity-distance must be in (0, 2), not {self.identity_max_distance}")
        if self.identity_min_matches < 0:
            raise ProvganError(f"--identity-matches must be >= 0 (0 turns the check off), "
                               f"not {self.identity_min_matches}")
        return self

    def signature(self) -> dict:
        """The options that change the clips written; a re-run into the same folder must match them."""
        keys = ("min_frames", "size", "margin", "shots", "shot_match_fraction", "sift_width",
                "scenedetect_threshold", "detector", "detect_width", "min_face", "max_face", "detect_pad",
                "max_gap", "follow", "follow_psr", "haar_neighbors", "haar_scale", "haar_profile", "smooth_sigma",
                "identity",
                "identity_min_matches", "identity_max_distance", "identity_size")
        return {k: getattr(self, k) for k in keys}
