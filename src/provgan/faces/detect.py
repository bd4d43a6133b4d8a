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

Why Haar also tries OpenCV's profile cascade, last: a close-up whose face is cut by a third or more
by the frame's side edge shows the frontal cascade half a face, which neither border finds (the
labelled set's edge close-up, :mod:`provgan.faces.labelled`: the frontal passes find only a cheek,
in 2 of 32 frames). Half a frontal face is what the profile cascade was trained on, so it finds that
face (``tests/faces/test_detectors_identity.py``, ``tests/faces/test_labelled.py``). It runs only
on frames where both frontal passes found nothing, only for large faces (``profile_min_face`` of the
shorter side: a close-up, not a profile in a wide shot), on a black border (a replicated edge
continues the cut face into a smear the profile cascade does not take for a face) and on the frame
and its mirror (the cascade knows one orientation). The profile pass shrinks the frame until its
smallest face is ``SEARCH_WINDOW`` px, which drops the pyramid levels that could only hold smaller
faces (its cost: ``benchmarks/faces.py --haar-profile 0`` against the default).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from provgan.errors import ProvganError
from provgan.faces.options import DETECTORS

CASCADE_FILE = "haarcascade_frontalface_default.xml"
PROFILE_FILE = "haarcascade_profileface.xml"
SEARCH_WINDOW = 24  # a pass for large faces only shrinks the frame until its smallest face is this many px
MMOD_FILE = "mmod_human_face_detector.dat"


Shrunk = tuple[np.ndarray, float]  # (frame shrunk to the detection width, shrink factor): shrink_frame


def shrink_frame(frame: np.ndarray, detect_width: int, given: Shrunk | None = None) -> Shrunk:
    """The frame shrunk (INTER_AREA) so its longer side is at most ``detect_width``, and the factor.

    Why a function of its own: every detection pass and the follower work at this scale, and on a
    1280x720 frame the resize alone costs about as much as a tenth of a Haar pass; it is done once
    per frame (:func:`provgan.faces.analyze.analyze_video`) and handed to each of them as ``given``,
    which is returned as it is when it was made for this width (else the frame is shrunk again).
    """
    shrink = min(1.0, detect_width / max(frame.shape[:2]))
    if given is not None and given[1] == shrink:
        return given
    if shrink < 1.0:
        frame = cv2.resize(frame, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame), shrink


def cascade_path(name: str = CASCADE_FILE) -> Path:
    """Where a cascade shipped with OpenCV lies (the frontal-face one by default)."""
    return Path(cv2.data.haarcascades) / name


@dataclass(frozen=True)
class Geometry:
    """How a frame is prepared for detection: shrink, border pad and the face sizes allowed."""

    detect_width: int = 400  # frames wider than this are shrunk first
    min_face: float = 0.15  # smallest face side, fraction of the frame's shorter side
    max_face: float = 1.2  # largest face side (a face cut by the frame edge can exceed the frame)
    pad: float = 0.25  # border added on every side, fraction of the shorter side
    pad_min_face: float = 0.3  # Haar's padded pass looks for faces this large only (see HaarFaceDetector)

    def shrunk(self, frame: np.ndarray, given: Shrunk | None = None) -> Shrunk:
        """``given`` (the caller's :func:`shrink_frame` of ``frame``) if it is at this width, else a new one."""
        return shrink_frame(frame, self.detect_width, given)

    def prepare(self, frame: np.ndarray, padded: bool = True, black: bool = False,
                shrunk: Shrunk | None = None) -> tuple[np.ndarray, float, int]:
        """(shrunk and, if ``padded``, bordered RGB frame, shrink factor, pad in shrunk pixels).

        The border replicates the frame's edge, or is black with ``black``.
        """
        frame, shrink = self.shrunk(frame, shrunk)
        pad = int(round(self.pad * min(frame.shape[:2]))) if padded else 0
        if pad:
            kind = cv2.BORDER_CONSTANT if black else cv2.BORDER_REPLICATE
            frame = cv2.copyMakeBorder(frame, pad, pad, pad, pad, kind, value=(0, 0, 0))
        return frame, shrink, pad

    def sizes(self, padded: np.ndarray, pad: int, min_face: float | None = None) -> tuple[int, int]:
        """(smallest, largest) face side in the padded frame's pixels (``min_face`` raises the smallest)."""
        short = min(padded.shape[:2]) - 2 * pad
        large = max(int(self.max_face * short), 21)
        return min(max(int(max(self.min_face, min_face or 0.0) * short), 20), large - 1), large

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
    """Faces in RGB frames as integer boxes ``(x, y, w, h)`` in the frame's own pixels.

    The frontal cascade on the frame, then on the padded frame, then the profile cascade for a
    close-up cut by the frame edge (module docstring), each only where the passes before found nothing.

    Why the padded pass looks for faces of ``pad_min_face`` (0.3 of the shorter side) and up only:
    it is there for close-ups cut by the frame edge, a smaller face inside the frame was the plain
    pass's to find, and the small windows are most of a pass's cost; that saving pays for the
    profile pass (README, "Face pipeline").
    """

    def __init__(self, geometry: Geometry = Geometry(), neighbors: int = 5, scale: float = 1.1,
                 profile_min_face: float = 0.4):
        self._cascade = _load_cascade(CASCADE_FILE)
        self._profile = _load_cascade(PROFILE_FILE) if profile_min_face > 0 else None  # 0: off
        self.geometry, self.neighbors, self.scale = geometry, neighbors, scale
        self.profile_min_face = profile_min_face

    def __call__(self, frame: np.ndarray, shrunk: Shrunk | None = None) -> np.ndarray:
        """Boxes (k, 4) int64, largest first (the padded frame only when the plain one holds no face).

        ``shrunk``: the frame's :func:`shrink_frame`, when the caller has it already.
        """
        shrunk = self.geometry.shrunk(frame, shrunk)
        boxes = _plain_then_padded(self._detect, self.geometry, frame, shrunk)
        if len(boxes) or self._profile is None:
            return boxes
        return self._detect_profile(frame, shrunk)

    def _detect_profile(self, frame: np.ndarray, shrunk: Shrunk | None = None) -> np.ndarray:
        """Large half faces: the profile cascade on the black-bordered frame and on its mirror image."""
        padded, shrink, pad = self.geometry.prepare(frame, self.geometry.pad > 0, black=True, shrunk=shrunk)
        grey = cv2.equalizeHist(cv2.cvtColor(padded, cv2.COLOR_RGB2GRAY))
        small, large = self.geometry.sizes(padded, pad, self.profile_min_face)
        found = [_search(self._profile, grey, small, large, self.scale, self.neighbors, SEARCH_WINDOW, mirror)
                 for mirror in (False, True)]
        boxes = self.geometry.finish(np.concatenate(found), shrink, pad, frame.shape, (small, large))
        return _drop_overlapping(boxes)

    def _detect(self, frame: np.ndarray, padded: bool, shrunk: Shrunk | None = None) -> np.ndarray:
        """One pass; the grey image is histogram-equalised as in OpenCV's sample."""
        padded, shrink, pad = self.geometry.prepare(frame, padded, shrunk=shrunk)
        grey = cv2.equalizeHist(cv2.cvtColor(padded, cv2.COLOR_RGB2GRAY))
        small, large = self.geometry.sizes(padded, pad, self.geometry.pad_min_face if pad else None)
        boxes = _search(self._cascade, grey, small, large, self.scale, self.neighbors)
        return self.geometry.finish(boxes, shrink, pad, frame.shape, (small, large))


def _search(cascade, grey: np.ndarray, small: int, large: int, scale: float, neighbors: int,
            shrink_to: int | None = None, mirrored: bool = False) -> np.ndarray:
    """A cascade's boxes (k, 4) in ``grey``'s pixels, faces ``small`` to ``large`` px.

    Why ``shrink_to``: a cascade scans its 20-24 px window over an image pyramid, and every level
    costs a resize and an integral image; when only large faces are wanted (the profile pass),
    the image is first shrunk until the smallest face is ``shrink_to`` px, which drops the levels
    that could only hold smaller faces.
    """
    zoom = min(1.0, shrink_to / small) if shrink_to else 1.0
    if zoom < 1.0:
        grey = cv2.resize(grey, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_AREA)
    if mirrored:
        grey = np.ascontiguousarray(grey[:, ::-1])
    lo, hi = int(small * zoom), int(large * zoom)
    boxes = np.asarray(cascade.detectMultiScale(grey, scaleFactor=scale, minNeighbors=neighbors,
                                                minSize=(lo, lo), maxSize=(hi, hi)), np.float64).reshape(-1, 4)
    if mirrored:
        boxes[:, 0] = grey.shape[1] - boxes[:, 0] - boxes[:, 2]
    return boxes / zoom


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

    def __call__(self, frame: np.ndarray, shrunk: Shrunk | None = None) -> np.ndarray:
        return _plain_then_padded(self._pass, self.geometry, frame, self.geometry.shrunk(frame, shrunk))

    def _pass(self, frame: np.ndarray, padded: bool, shrunk: Shrunk | None = None) -> np.ndarray:
        padded, shrink, pad = self.geometry.prepare(frame, padded, shrunk=shrunk)
        small, large = self.geometry.sizes(padded, pad)
        zoom = min(self.MAX_ZOOM[self.kind], max(1.0, self.WINDOW[self.kind] / small))
        image = padded if zoom == 1.0 else cv2.resize(padded, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_LINEAR)
        found = self._detect(np.ascontiguousarray(image), 0)
        rects = [getattr(d, "rect", d) for d in found]
        boxes = np.array([(r.left(), r.top(), r.width(), r.height()) for r in rects], dtype=np.float64)
        return self.geometry.finish(boxes.reshape(-1, 4) / zoom, shrink, pad, frame.shape, (small, large))


def _load_cascade(name: str):
    path = cascade_path(name)
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise ProvganError(f"cannot load OpenCV's Haar cascade {path}; reinstall opencv-python-headless<5")
    return cascade


def _drop_overlapping(boxes: np.ndarray, max_iou: float = 0.3) -> np.ndarray:
    """Boxes (largest first) without those overlapping a larger one: one face seen by both orientations."""
    kept: list[np.ndarray] = []
    for box in boxes:
        if all(box_iou(box, other) <= max_iou for other in kept):
            kept.append(box)
    return np.asarray(kept, dtype=np.int64).reshape(-1, 4)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    w = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return float(w * h / (a[2] * a[3] + b[2] * b[3] - w * h))


def _plain_then_padded(detect, geometry: Geometry, frame: np.ndarray, shrunk: Shrunk | None = None) -> np.ndarray:
    """Detect on the frame as it is and, only if that finds nothing, on the edge-padded frame.

    The pad costs (1 + 2 pad)^2 = 2.25x the pixels; most frames of a face shot hold a face that the
    plain pass finds, so only the misses (an edge close-up, a face-less frame) pay for it.
    """
    boxes = detect(frame, False, shrunk)
    if len(boxes) or geometry.pad == 0:
        return boxes
    return detect(frame, True, shrunk)


def mmod_path() -> Path:
    """dlib's MMOD face model shipped by ``face-recognition-models``."""
    from provgan.faces.landmarks import model_path

    return model_path(MMOD_FILE)


def make_detector(kind: str, geometry: Geometry, neighbors: int = 5, scale: float = 1.1,
                  profile_min_face: float = 0.4):
    """The ``--detector`` chosen: ``haar`` (default, the thesis), ``hog`` or ``cnn``."""
    if kind == "haar":
        return HaarFaceDetector(geometry, neighbors, scale, profile_min_face)
    return DlibFaceDetector(kind, geometry)
