"""Every bad input of issue 4: one line naming the file, skip (or --strict error), nothing half-written."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from provgan.data import store as store_module
from provgan.data.prepare import prepare_store
from provgan.data.store import _NpyAppender, open_store
from provgan.errors import ProvganError

from .conftest import encode, interrupt_at


def leftovers(folder, out_name="out"):
    """Anything prepare may have left next to OUT: OUT itself or a temporary OUT.tmp-<pid>."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(out_name))


def write_frames(folder, frames):
    folder.mkdir(parents=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"f{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))


@pytest.fixture
def bad_dir(tmp_path, video_dir, short_frames, real_videos):
    """One good clip plus one of each bad input; returns (folder, {file: words of its message})."""
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(video_dir / "bikes.mp4", src / "good.mp4")
    (src / "empty.mp4").write_bytes(b"")
    (src / "notes.avi").write_text("a text file with a video name\n" * 50)
    (src / "cut.mp4").write_bytes(real_videos["carphone_pristine"].read_bytes()[:300_000])
    fast = encode(tmp_path / "fast.mp4", short_frames["bikes"], "libx264", "yuv420p",
                  options={"movflags": "faststart"})
    (src / "cut_short.mp4").write_bytes(fast.read_bytes()[: fast.stat().st_size // 3])
    encode(src / "short.mp4", short_frames["bikes"][:5], "libx264", "yuv420p")
    encode(src / "tiny.mp4", short_frames["bikes"][:20, :10, :12], "libx264", "yuv420p")
    mixed = short_frames["carphone"][:12].copy()
    write_frames(src / "mixed_sizes", mixed)
    cv2.imwrite(str(src / "mixed_sizes" / "f5.png"), mixed[0, :20, :20])
    expected = {"empty.mp4": "empty", "notes.avi": "not a video", "cut.mp4": "not a video",
                "cut_short.mp4": "truncated", "short.mp4": "fewer than the 8",
                "tiny.mp4": "smaller than the top level", "mixed_sizes": "must have one size"}
    return src, expected


def test_bad_sources_are_skipped_with_one_line_each(bad_dir, tmp_path, caplog):
    src, expected = bad_dir
    summary = prepare_store(src, tmp_path / "out", "tiny")
    assert summary.num_clips == 1 and summary.used == 1
    reasons = {s.path: s.reason for s in summary.skipped}
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert words in reasons[name] and str(src / name) in reasons[name] and "\n" not in reasons[name]
        assert any(str(src / name) in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    store = open_store(tmp_path / "out")
    assert store.manifest["counts"]["skipped"] == 7 and len(store.manifest["skipped"]) == 7


@pytest.mark.parametrize("name", ["empty.mp4", "cut_short.mp4", "short.mp4", "tiny.mp4", "mixed_sizes"])
def test_strict_makes_each_bad_source_an_error(bad_dir, tmp_path, name):
    src, expected = bad_dir
    only = tmp_path / "only"
    only.mkdir()
    shutil.copy(src / "good.mp4", only)
    (shutil.copytree if (src / name).is_dir() else shutil.copy)(src / name, only / name)
    with pytest.raises(ProvganError, match=expected[name]) as err:
        prepare_store(only, tmp_path / "out", "tiny", strict=True)
    assert "--strict" in str(err.value) and name in str(err.value)
    assert leftovers(tmp_path) == []


def test_odd_sized_frames_are_fine(short_frames, tmp_path):
    frames = short_frames["bikes"][:10, :27, :33]  # odd height and width
    write_frames(tmp_path / "src" / "odd", frames)
    summary = prepare_store(tmp_path / "src", tmp_path / "out", "tiny")
    assert summary.num_clips == 1 and not summary.skipped
    top = open_store(tmp_path / "out").level((8, 16, 16))[0]
    crop = frames[1:9, :, 3:30]  # central 8 of 10 frames, central 27x27 of 27x33
    expect = np.stack([cv2.resize(f, (16, 16), interpolation=cv2.INTER_AREA) for f in crop])
    np.testing.assert_array_equal(top, expect)


def test_grayscale_video_is_converted_or_strict_error(short_frames, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    grey = short_frames["bikes"].mean(axis=3, keepdims=True).astype(np.uint8).repeat(3, axis=3)
    encode(src / "grey.mkv", grey, "ffv1", "gray")
    summary = prepare_store(src, tmp_path / "out", "tiny")
    assert summary.num_clips == 1 and "grayscale" in summary.converted[0].reason
    top = open_store(tmp_path / "out").level((8, 16, 16))[0]
    assert np.array_equal(top[..., 0], top[..., 1]) and np.array_equal(top[..., 1], top[..., 2])
    with pytest.raises(ProvganError, match="grey.mkv: grayscale"):
        prepare_store(src, tmp_path / "out2", "tiny", strict=True)
    assert leftovers(tmp_path, "out2") == []


def test_folder_without_videos(tmp_path):
    (tmp_path / "src" / "docs").mkdir(parents=True)
    (tmp_path / "src" / "readme.txt").write_text("no videos here")
    with pytest.raises(ProvganError, match="no videos"):
        prepare_store(tmp_path / "src", tmp_path / "out", "tiny")
    with pytest.raises(ProvganError, match="no such file or folder"):
        prepare_store(tmp_path / "nowhere", tmp_path / "out", "tiny")
    assert leftovers(tmp_path) == []


def test_all_sources_bad_is_an_error(bad_dir, tmp_path):
    src, _ = bad_dir
    (src / "good.mp4").unlink()
    with pytest.raises(ProvganError, match="no usable clips"):
        prepare_store(src, tmp_path / "out", "tiny")
    assert leftovers(tmp_path) == []


def test_existing_output(video_dir, tmp_path):
    prepare_store(video_dir, tmp_path / "out", "tiny")
    with pytest.raises(ProvganError, match="already exists.*--overwrite"):
        prepare_store(video_dir, tmp_path / "out", "tiny", clip="stride:8")
    summary = prepare_store(video_dir, tmp_path / "out", "tiny", clip="stride:8", overwrite=True)
    assert open_store(tmp_path / "out").num_clips == summary.num_clips == 15
    user = tmp_path / "mine"
    user.mkdir()
    (user / "thesis.tex").write_text("precious")
    with pytest.raises(ProvganError, match="not a provgan store"):
        prepare_store(video_dir, user, "tiny", overwrite=True)
    assert (user / "thesis.tex").read_text() == "precious"
    assert leftovers(tmp_path) == ["out"]


def test_full_disk_is_one_line_and_leaves_nothing(video_dir, tmp_path, monkeypatch):
    appender = _NpyAppender(Path("/dev/full"), (1 << 16,), capacity=4)  # a real ENOSPC from the kernel
    with pytest.raises(OSError) as err:
        appender.append(np.zeros((4, 1 << 16), np.uint8))
    assert err.value.errno == errno.ENOSPC and store_module.is_disk_full(err.value)
    with pytest.raises(OSError):
        appender.file.close()  # flushing the buffered header fails the same way

    original = _NpyAppender.__init__

    def to_full_device(self, *args, **kwargs):  # the level files land on a full "disk"
        original(self, *args, **kwargs)
        self.file.close()
        self.file = open("/dev/full", "wb")

    monkeypatch.setattr(_NpyAppender, "__init__", to_full_device)
    with pytest.raises(ProvganError, match="disk full") as exc:
        prepare_store(video_dir, tmp_path / "out", "tiny")
    assert "\n" not in str(exc.value)
    assert leftovers(tmp_path) == []


def test_not_enough_space_is_found_before_writing(video_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(store_module.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9, 1000))
    with pytest.raises(ProvganError, match="not enough disk space"):
        prepare_store(video_dir, tmp_path / "out", "tiny")
    assert leftovers(tmp_path) == []


def test_interrupted_prepare_leaves_a_resumable_partial_store(video_dir, tmp_path, monkeypatch):
    interrupt_at(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        prepare_store(video_dir, tmp_path / "out", "tiny")
    assert leftovers(tmp_path) == ["out.partial"]  # no OUT until it is complete
    with pytest.raises(ProvganError, match="not a complete store"):
        open_store(tmp_path / "out.partial")
    monkeypatch.undo()
    with pytest.raises(ProvganError, match=r"incomplete store from an interrupted prepare .*finished videos: 1"
                                           r".*--resume.*--overwrite"):
        prepare_store(video_dir, tmp_path / "out", "tiny")
    summary = prepare_store(video_dir, tmp_path / "out", "tiny", resume=True)
    assert leftovers(tmp_path) == ["out"] and summary.num_clips == open_store(tmp_path / "out").num_clips == 3
