"""68-point facial landmarks with dlib's shape predictor (Kazemi & Sullivan 2014).

The thesis used the Deep Alignment Network for the 68 iBUG-300W points (§7.1); dlib's ensemble of
regression trees predicts the same 68 points from a face box and its model ships in the
``face-recognition-models`` package. We only locate the ``.dat`` file there: importing that package
pulls in ``face_recognition``, which we do not need.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from provgan.errors import ProvganError

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"

# iBUG-300W 68-point indices (0-based); "right" is the subject's right, i.e. the left of the image
RIGHT_EYE = slice(36, 42)
LEFT_EYE = slice(42, 48)
NOSE_TIP = 30
MOUTH_RIGHT = 48
MOUTH_LEFT = 54


def model_path(name: str) -> Path:
    """A dlib model file shipped by ``face-recognition-models``, found without importing it."""
    spec = importlib.util.find_spec("face_recognition_models")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        path = Path(folder) / "models" / name
        if path.is_file():
            return path
    raise ProvganError(f"dlib's {name} was not found: pip install face-recognition-models")


def predictor_path() -> Path:
    """The 68-point model shipped by ``face-recognition-models``."""
    return model_path(PREDICTOR_FILE)


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """Eye centres, nose tip and mouth corners (5, 2) from 68 landmarks (the points the template fixes).

    Order: image-left eye, image-right eye, nose tip, image-left mouth corner, image-right mouth corner.
    """
    if landmarks.shape != (68, 2):
        raise ValueError(f"expected 68 landmarks of shape (68, 2), got {landmarks.shape}")
    return np.stack([landmarks[RIGHT_EYE].mean(axis=0), landmarks[LEFT_EYE].mean(axis=0),
                     landmarks[NOSE_TIP], landmarks[MOUTH_RIGHT], landmarks[MOUTH_LEFT]])


class LandmarkPredictor:
    """68 landmarks (68, 2) float64 in frame pixels for a face box ``(x, y, w, h)`` of an RGB frame."""

    def __init__(self, path: Path | None = None):
        import dlib

        path = path or predictor_path()
        try:
            self._predict = dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise ProvganError(f"cannot load dlib's landmark model {path} ({exc}); reinstall "
                               "face-recognition-models") from exc
        self._rect = dlib.rectangle

    def __call__(self, frame: np.ndarray, box) -> np.ndarray:
        x, y, w, h = (int(v) for v in box)
        shape = self._predict(np.ascontiguousarray(frame), self._rect(x, y, x + w - 1, y + h - 1))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
