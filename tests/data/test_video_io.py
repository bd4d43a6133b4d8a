"""Video I/O against real files: frame-accurate windows, containers, frame folders, writing."""

from __future__ import annotations

import numpy as np
import pytest

from provgan.data import video_io
from provgan.data.video_io import iter_frames, natural_key, probe_video, read_video, write_video
from provgan.errors import ProvganError

from .conftest import encode


@pytest.fixture(scope="module")
def bikes_full(real_videos) -> np.ndarray:
    """All 250 frames of the real bikes clip (H.264 with key frames at 0, 30, 76, 137, 187, 242)."""
    return read_video(real_videos["bikes"])


def test_probe_matches_full_decode(real_videos, bikes_full):
    info = probe_video(real_videos["bikes"])
    assert (info.num_frames, info.width, info.height) == (len(bikes_full), 640, 272)
    assert info.fps == pytest.approx(25.0) and not info.grayscale
    carphone = probe_video(real_videos["carphone_pristine"])
    assert carphone.fps == pytest.approx(30000 / 1001)


@pytest.mark.parametrize("start", [1, 29, 30, 31, 75, 77, 190, 245])
def test_window_is_frame_accurate_across_key_frames(real_videos, bikes_full, start):
    window = read_video(real_videos["bikes"], start, 5)
    np.testing.assert_array_equal(window, bikes_full[start:start + 5])


def test_window_does_not_decode_the_whole_file(real_videos, monkeypatch):
    decoded = []
    original = video_io._frames

    def counting(container, stream, path):
        for frame in original(container, stream, path):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(video_io, "_frames", counting)
    read_video(real_videos["bikes"], 200, 5)
    assert len(decoded) <= 250 - 187  # seek lands on the key frame at 187, not at 0


@pytest.mark.parametrize("suffix,codec,pix_fmt", [(".webm", "libvpx-vp9", "yuv420p"),
                                                  (".avi", "mjpeg", "yuvj420p"),
                                                  (".mkv", "libx264", "yuv420p")])
def test_other_containers_read_and_seek(tmp_path, short_frames, suffix, codec, pix_fmt):
    frames = short_frames["bikes"][:24]
    path = encode(tmp_path / f"clip{suffix}", frames, codec, pix_fmt, gop=7)
    full = read_video(path)
    assert full.shape == frames.shape and probe_video(path).num_frames == 24
    assert np.abs(full.astype(int) - frames).mean() < 16  # lossy codecs (MJPEG at its default quality)
    for start in (3, 7, 8, 15, 20):
        np.testing.assert_array_equal(read_video(path, start, 4), full[start:start + 4])


def test_mp4_round_trip_and_odd_sizes_are_padded(tmp_path, short_frames):
    frames = short_frames["carphone"][:12]
    back = read_video(write_video(tmp_path / "a.mp4", frames, fps=10))
    assert back.shape == frames.shape and np.abs(back.astype(int) - frames).mean() < 4
    assert probe_video(tmp_path / "a.mp4").fps == pytest.approx(10)
    odd = frames[:, :31, :39]
    back = read_video(write_video(tmp_path / "odd.mp4", odd))
    assert back.shape == (12, 32, 40, 3)  # last row and column repeated to the even size
    assert np.abs(back[:, :31, :39].astype(int) - odd).mean() < 6
    assert not list(tmp_path.glob(".*partial*"))


def test_gif_round_trip(tmp_path, short_frames):
    frames = short_frames["bunny"][:10]
    back = read_video(write_video(tmp_path / "a.gif", frames, fps=10))
    assert back.shape == frames.shape and np.abs(back.astype(int) - frames).mean() < 8
    np.testing.assert_array_equal(read_video(tmp_path / "a.gif", 4, 3), back[4:7])


def test_frame_folder_natural_order(tmp_path, short_frames):
    import cv2

    frames = short_frames["carphone"][:12]
    for i, frame in enumerate(frames):  # frame2 must come before frame10
        cv2.imwrite(str(tmp_path / f"frame{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    (tmp_path / "notes.txt").write_text("not a frame")
    assert probe_video(tmp_path).num_frames == 12 and probe_video(tmp_path).fps is None
    np.testing.assert_array_equal(read_video(tmp_path), frames)  # PNG is lossless
    np.testing.assert_array_equal(read_video(tmp_path, 9, 3), frames[9:12])
    assert sorted(["f10", "f2", "f1"], key=natural_key) == ["f1", "f2", "f10"]


def test_grayscale_video_comes_out_rgb(tmp_path, short_frames):
    grey = short_frames["bikes"][:10].mean(axis=3, keepdims=True).astype(np.uint8).repeat(3, axis=3)
    path = encode(tmp_path / "grey.mkv", grey, "ffv1", "gray")
    assert probe_video(path).grayscale
    frames = read_video(path)
    assert frames.shape == grey.shape
    np.testing.assert_array_equal(frames[..., 0], frames[..., 2])


def test_unreadable_files_name_the_file(tmp_path, real_videos):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp4"
    text.write_text("these are notes, not a video\n" * 20)
    cut = tmp_path / "cut.mp4"  # the real file's index (moov) is at its end: cut it off
    cut.write_bytes(real_videos["bikes"].read_bytes()[:200_000])
    for path, words in ((empty, "empty"), (text, "not a video"), (cut, "not a video"),
                        (tmp_path / "missing.mp4", "no such file")):
        with pytest.raises(ProvganError, match=words) as err:
            probe_video(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_truncated_stream_reports_the_short_window(tmp_path, short_frames):
    path = encode(tmp_path / "fast.mp4", short_frames["bikes"], "libx264", "yuv420p",
                  options={"movflags": "faststart"})  # index first: the cut file still opens
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert probe_video(path).num_frames == 41  # the index still promises every frame
    got = list(iter_frames(path))
    assert 0 < len(got) < 41
    with pytest.raises(ProvganError, match="truncated"):
        read_video(path, 0, 41)
