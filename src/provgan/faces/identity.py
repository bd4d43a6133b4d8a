"""Identity by face embedding: dlib's face-recognition ResNet (``--identity embedding``).

The thesis removed clips "containing different personalities across frames" by SIFT matching
(§7.1, :func:`provgan.faces.tracks.identity_matches`). A 128-d descriptor of dlib's ResNet
(``dlib_face_recognition_resnet_model_v1.dat``, shipped by ``face-recognition-models``; King 2017,
99.38 % on LFW) maps one person's faces within 0.6 of each other in L2: a track is kept when its
first, middle and last faces are all within ``identity_max_distance`` (a splice of two people inside
one shot puts them on either side of it). The threshold is validated on real faces in
tests/faces/test_identity.py (one person through a shot kept, a two-person splice dropped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from provgan.errors import ProvganError
from provgan.faces.landmarks import model_path

RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"


class FaceEmbedder:
    """128-d descriptors of faces given their 68 landmarks, in an RGB frame."""

    def __init__(self, path: Path | None = None):
        import dlib

        path = path or model_path(RESNET_FILE)
        try:
            self._net = dlib.face_recognition_model_v1(str(path))
        except RuntimeError as exc:
            raise ProvganError(f"cannot load dlib's face-recognition model {path} ({exc}); reinstall "
                               "face-recognition-models") from None
        self._dlib = dlib

    def __call__(self, frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The descriptor (128,) float64 of the face whose 68 landmarks are given (frame pixels)."""
        dlib = self._dlib
        lo, hi = landmarks.min(axis=0), landmarks.max(axis=0)
        rect = dlib.rectangle(int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y))) for x, y in landmarks])
        return np.array(self._net.compute_face_descriptor(np.ascontiguousarray(frame), shape))


def largest_distance(embedder: FaceEmbedder, frames: np.ndarray, landmarks: list[np.ndarray]) -> float:
    """Largest L2 distance among the descriptors of the first, middle and last faces of a track."""
    picks = sorted({0, len(frames) // 2, len(frames) - 1})
    desc = [embedder(frames[j], landmarks[j]) for j in picks]
    return max(float(np.linalg.norm(a - b)) for i, a in enumerate(desc) for b in desc[i + 1:])
