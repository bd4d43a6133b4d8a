"""Face detection per frame with OpenCV's Haar cascade (Viola & Jones 2001), as the thesis did (§7.1).

The cascade XML ships inside ``opencv-python-headless`` (``cv2.data.haarcascades``); OpenCV 5 removed
``CascadeClassifier``, hence the ``<5`` pin. Large frames are shrunk before detection (the cascade's
cost grows with the pixel count while faces worth keeping are large) and the boxes scaled back.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from provgan.errors import ProvganError

CASCADE_FILE = "haarcascade_frontalface_default.xml"


def cascade_path() -> Path:
    """Where the frontal-face cascade shipped with OpenCV lies."""
    return Path(cv2.data.haarcascades) / CASCADE_FILE


class HaarFaceDetector:
    """Frontal faces in RGB frames as integer boxes ``(x, y, w, h)`` in the frame's own pixels."""

    def __init__(self, detect_width: int = 640, min_face: float = 0.1, neighbors: int = 5,
                 scale: float = 1.1):
        path = cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ProvganError(f"cannot load OpenCV's Haar cascade {path}; reinstall opencv-python-headless<5")
        self.detect_width = detect_width
        self.min_face = min_face
        self.neighbors = neighbors
        self.scale = scale

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Boxes (k, 4) int64, largest first; the grey image is histogram-equalised as in OpenCV's sample."""
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        shrink = min(1.0, self.detect_width / max(grey.shape))
        if shrink < 1.0:
            grey = cv2.resize(grey, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        grey = cv2.equalizeHist(grey)
        side = max(int(self.min_face * min(grey.shape)), 20)
        boxes = self._cascade.detectMultiScale(grey, scaleFactor=self.scale, minNeighbors=self.neighbors,
                                               minSize=(side, side))
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4) / shrink
        boxes = np.rint(boxes).astype(np.int64)
        return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3], kind="stable")]
