"""Face detection per frame: OpenCV's Haar cascade (the thesis' choice, §7.1) or one of dlib's detectors.

* ``haar``: Viola & Jones (2001); the cascade XML ships inside ``opencv-python-headless``
  (``cv2.data.haarcascades``); OpenCV 5 removed ``CascadeClassifier``, hence the ``<5`` pin.
* ``hog``: dlib's frontal detector (HOG + linear SVM, Dalal & Triggs 2005), compiled into dlib.
* ``cnn``: dlib's max-margin object detector (MMOD, King 2015) on ``mmod_human_face_detector.dat``,
  shipped by ``face-recognition-models`` (located as the landmark model is).

Why the border pad: trailer close-ups are faces filling 60-80 % of the frame, cut off by its edges;
every detector scans windows that lie inside the image, so such a face has no window that holds it.
When a frame shows no face as it is, it is padded by replicating its edge (a quarter of its shorter
side) and searched again, the boxes shifted back, so these faces are found. Face sizes: the smallest and largest face side
follow the frame size (``min_face`` and ``max_face`` of its shorter side); large frames are shrunk
before detection (cost grows with pixels, faces worth keeping are large) and the boxes scaled back.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from provgan.errors import ProvganError
from provgan.faces.options import DETECTORS

CASCADE_FILE = "haarcascade_frontalface_default.xml"
MMOD_FILE = "mmod_human_face_detector.dat"


def cascade_path() -> Path:
    """Where the frontal-face cascade shipped with OpenCV lies."""
    return Path(cv2.data.haarcascades) / CASCADE_FILE


@dataclass(frozen=True)
class Geometry:
    """How a frame is prepared for detection: shrink, border pad and the face sizes allowed."""

    detect_width: int = 400  # frames wider than this are shrunk first
    min_face: float = 0.15  # smallest face side, fraction of the frame's shorter side
    max_face: float = 1.2  # largest face side (a face cut by the frame edge can exceed the frame)
    pad: float = 0.25  # border added on every side, fraction of the shorter side

    def prepare(self, frame: np.ndarray, padded: bool = True) -> tuple[np.ndarray, float, int]:
        """(shrunk and, if ``padded``, edge-padded RGB frame, shrink factor, pad in shrunk pixels)."""
        shrink = min(1.0, self.detect_width / max(frame.shape[:2]))
        if shrink < 1.0:
            frame = cv2.resize(frame, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
        pad = int(round(self.pad * min(frame.shape[:2]))) if padded else 0
        if pad:
            frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        return frame, shrink, pad

    def sizes(self, padded: np.ndarray, pad: int) -> tuple[int, int]:
        """(smallest, largest) face side in the padded frame's pixels."""
        short = min(padded.shape[:2]) - 2 * pad
        return max(int(self.min_face * short), 20), max(int(self.max_face * short), 21)

    def finish(self, boxes: np.ndarray, shrink: float, pad: int, frame_shape, sizes) -> np.ndarray:
        """Boxes back in frame pixels, size-filtered, clipped to keep their centre inside, largest first."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        side = np.sqrt(boxes[:, 2] * boxes[:, 3])
        boxes = boxes[(side >= sizes[0]) & (side <= sizes[1])]
        boxes[:, :2] -= pad
        boxes /= shrink
        cx, cy = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
        inside = (cx >= 0) & (cy >= 0) & (cx < frame_shape[1]) & (cy < frame_shape[0])
        boxes = np.rint(boxes[inside]).astype(np.int64)
        return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3], kind="stable")]


class HaarFaceDetector:
    """Frontal faces in RGB frames as integer boxes ``(x, y, w, h)`` in the frame's own pixels."""

    def __init__(self, geometry: Geometry = Geometry(), neighbors: int = 5, scale: float = 1.1):
        path = cascade_path()
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ProvganError(f"cannot load OpenCV's Haar cascade {path}; reinstall opencv-python-headless<5")
        self.geometry, self.neighbors, self.scale = geometry, neighbors, scale

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """Boxes (k, 4) int64, largest first (the padded frame only when the plain one holds no face)."""
        return _plain_then_padded(self._detect, self.geometry, frame)

    def _detect(self, frame: np.ndarray, padded: bool) -> np.ndarray:
        """One pass; the grey image is histogram-equalised as in OpenCV's sample."""
        padded, shrink, pad = self.geometry.prepare(frame, padded)
        grey = cv2.equalizeHist(cv2.cvtColor(padded, cv2.COLOR_RGB2GRAY))
        small, large = self.geometry.sizes(padded, pad)
        boxes = self._cascade.detectMultiScale(grey, scaleFactor=self.scale, minNeighbors=self.neighbors,
                                               minSize=(small, small), maxSize=(large, large))
        return self.geometry.finish(boxes, shrink, pad, frame.shape, (small, large))


class DlibFaceDetector:
    """dlib's HOG frontal detector (``hog``) or its MMOD CNN (``cnn``); same boxes as :class:`HaarFaceDetector`.

    Both find faces of about 80 px and up: the frame is upsampled (at most 2x; the cost grows with
    the square, and the CNN takes seconds per upsampled frame on a CPU) when the smallest face wanted
    is below that, and shrunk (``detect_width``) when it is large.
    """

    WINDOW = {"hog": 80, "cnn": 80}
    MAX_ZOOM = {"hog": 2.0, "cnn": 2.0}

    def __init__(self, kind: str, geometry: Geometry = Geometry(), model: Path | None = None):
        import dlib

        self.kind, self.geometry = kind, geometry
        if kind == "hog":
            self._detect = dlib.get_frontal_face_detector()
        elif kind == "cnn":
            path = model or mmod_path()
            try:
                self._detect = dlib.cnn_face_detection_model_v1(str(path))
            except RuntimeError as exc:
                raise ProvganError(f"cannot load dlib's face detector {path} ({exc}); reinstall "
                                   "face-recognition-models") from None
        else:
            raise ProvganError(f"--detector must be one of {', '.join(DETECTORS)}, not {kind!r}")

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        return _plain_then_padded(self._pass, self.geometry, frame)

    def _pass(self, frame: np.ndarray, padded: bool) -> np.ndarray:
        padded, shrink, pad = self.geometry.prepare(frame, padded)
        small, large = self.geometry.sizes(padded, pad)
        zoom = min(self.MAX_ZOOM[self.kind], max(1.0, self.WINDOW[self.kind] / small))
        image = padded if zoom == 1.0 else cv2.resize(padded, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR)
        found = self._detect(np.ascontiguousarray(image), 0)
        rects = [getattr(d, "rect", d) for d in found]
        boxes = np.array([(r.left(), r.top(), r.width(), r.height()) for r in rects], dtype=np.float64)
        return self.geometry.finish(boxes.reshape(-1, 4) / zoom, shrink, pad, frame.shape, (small, large))


def _plain_then_padded(detect, geometry: Geometry, frame: np.ndarray) -> np.ndarray:
    """Detect on the frame as it is and, only if that finds nothing, on the edge-padded frame.

    The pad costs (1 + 2 pad)^2 = 2.25x the pixels; most frames of a face shot hold a face that the
    plain pass finds, so only the misses (an edge close-up, a face-less frame) pay for it.
    """
    boxes = detect(frame, False)
    if len(boxes) or geometry.pad == 0:
        return boxes
    return detect(frame, True)


def mmod_path() -> Path:
    """dlib's MMOD face model shipped by ``face-recognition-models``."""
    from provgan.faces.landmarks import model_path

    return model_path(MMOD_FILE)


def make_detector(kind: str, geometry: Geometry, neighbors: int = 5, scale: float = 1.1):
    """The ``--detector`` chosen: ``haar`` (default, the thesis), ``hog`` or ``cnn``."""
    if kind == "haar":
        return HaarFaceDetector(geometry, neighbors, scale)
    return DlibFaceDetector(kind, geometry)
