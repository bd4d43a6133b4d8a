"""prepare_store on real video: the three layouts, windows, crop/resize and the box-filter levels."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from provgan.data.prepare import ClipChoice, prepare_store, resolve_plan
from provgan.data.store import open_store
from provgan.data.video_io import read_video
from provgan.errors import ProvganError

from .conftest import TINY_PLAN


def box_pool(top: np.ndarray, shape) -> np.ndarray:
    """Independent reference: one box-filter average of (n, T, H, W, C) clips down to ``shape``."""
    n, t, h, w, c = top.shape
    ft, fh, fw = t // shape[0], h // shape[1], w // shape[2]
    blocks = top.astype(np.float64).reshape(n, shape[0], ft, shape[1], fh, shape[2], fw, c)
    return np.rint(blocks.mean(axis=(2, 4, 6))).astype(np.uint8)


def square_crop_resize(frames: np.ndarray, side: int) -> np.ndarray:
    """Independent reference: centre square crop, then area resize."""
    h, w = frames.shape[1:3]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return np.stack([cv2.resize(f[top:top + s, left:left + s], (side, side), interpolation=cv2.INTER_AREA)
                     for f in frames])


def assert_levels_are_box_pooled(store):
    top = np.asarray(store.level(store.shapes[-1]))
    for shape in store.shapes[:-1]:
        np.testing.assert_array_equal(store.level(shape), box_pool(top, shape))


def test_central_window_for_odd_and_even_lengths():
    rng = np.random.default_rng(0)
    central = ClipChoice.parse("central")
    assert central.starts(40, 8, rng) == [16]  # 16 frames before, 16 after
    assert central.starts(41, 8, rng) == [16]  # 16 before, 17 after
    assert central.starts(9, 4, rng) == [2] and central.starts(10, 4, rng) == [3]
    assert central.starts(8, 8, rng) == [0] and central.starts(7, 8, rng) == []
    assert ClipChoice.parse("stride:8").starts(41, 8, rng) == [0, 8, 16, 24, 32]
    for _ in range(20):
        (s,) = ClipChoice.parse("random").starts(41, 8, rng)
        assert 0 <= s <= 33
    with pytest.raises(ProvganError, match="stride:N"):
        ClipChoice.parse("stride:0")


def test_video_folder_central_clips(video_dir, tmp_path):
    summary = prepare_store(video_dir, tmp_path / "store", "tiny")
    store = open_store(tmp_path / "store", TINY_PLAN)
    assert summary.num_clips == store.num_clips == 3 and store.shapes == TINY_PLAN
    assert store.labels is None and not summary.skipped
    manifest = store.manifest
    names = [s["path"] for s in manifest["sources"]]
    assert names == ["bikes.mp4", "bunny.mp4", "carphone.mp4"]
    assert manifest["clips"]["start"] == [16, 16, 16]  # 40, 40 and 41 frames, T = 8
    assert manifest["preset"] == "tiny" and manifest["plan"] == [list(s) for s in TINY_PLAN]
    assert manifest["sources"][0]["fps"] == pytest.approx(25)
    for i, name in enumerate(names):
        frames = read_video(video_dir / name, 16, 8)
        np.testing.assert_array_equal(store.level((8, 16, 16))[i], square_crop_resize(frames, 16))
    assert_levels_are_box_pooled(store)
    assert summary.bytes == sum(p.stat().st_size for p in (tmp_path / "store").iterdir())


def test_stride_windows_and_workers_give_the_same_store(video_dir, tmp_path):
    one = prepare_store(video_dir, tmp_path / "a", "tiny", clip="stride:8", workers=1)
    two = prepare_store(video_dir, tmp_path / "b", "tiny", clip="stride:8", workers=2)
    assert one.num_clips == two.num_clips == 15
    assert one.manifest["content_hash"] == two.manifest["content_hash"]
    store = open_store(tmp_path / "a")
    assert store.manifest["clips"]["start"] == [0, 8, 16, 24, 32] * 3
    frames = read_video(video_dir / "carphone.mp4")
    np.testing.assert_array_equal(store.level((8, 16, 16))[10:15],
                                  square_crop_resize(frames[:40], 16).reshape(5, 8, 16, 16, 3))
    assert_levels_are_box_pooled(store)


def test_random_windows_are_reproducible(video_dir, tmp_path):
    a = prepare_store(video_dir, tmp_path / "a", "tiny", clip="random", seed=3)
    b = prepare_store(video_dir, tmp_path / "b", "tiny", clip="random", seed=3)
    assert a.manifest["clips"]["start"] == b.manifest["clips"]["start"]
    assert a.manifest["content_hash"] == b.manifest["content_hash"]
    assert all(0 <= s <= 33 for s in a.manifest["clips"]["start"])
    split = tmp_path / "one.txt"  # a file's window does not depend on the other files
    split.write_text("carphone.mp4\n")
    c = prepare_store(video_dir, tmp_path / "c", "tiny", clip="random", seed=3, split=split)
    assert c.manifest["clips"]["start"] == a.manifest["clips"]["start"][2:]


def test_frame_folders(short_frames, tmp_path):
    root = tmp_path / "frames"
    for name in ("bikes", "bunny"):
        (root / name).mkdir(parents=True)
        for i, frame in enumerate(short_frames[name][:20]):
            cv2.imwrite(str(root / name / f"img_{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    prepare_store(root, tmp_path / "store", "tiny", clip="stride:13")  # 20 frames: one window
    store = open_store(tmp_path / "store")
    assert store.manifest["source"]["layout"] == "clips" and store.num_clips == 2
    assert store.manifest["sources"][0]["fps"] is None
    for i, name in enumerate(("bikes", "bunny")):  # PNG is lossless: compare with the frames
        np.testing.assert_array_equal(store.level((8, 16, 16))[i], square_crop_resize(short_frames[name][:8], 16))
    assert_levels_are_box_pooled(store)


def test_class_tree_labels_and_split(video_dir, short_frames, tmp_path):
    root = tmp_path / "ucf"
    (root / "Walk").mkdir(parents=True)
    (root / "Cycle").mkdir()
    for name in ("bikes", "bunny"):
        (root / "Cycle" / f"v_{name}.mp4").write_bytes((video_dir / f"{name}.mp4").read_bytes())
    (root / "Walk" / "v_carphone.mp4").write_bytes((video_dir / "carphone.mp4").read_bytes())
    (root / "Walk" / "v_frames").mkdir()
    for i, frame in enumerate(short_frames["carphone"][:10]):
        cv2.imwrite(str(root / "Walk" / "v_frames" / f"{i}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    prepare_store(root, tmp_path / "all", "tiny")
    store = open_store(tmp_path / "all")
    assert store.label_names == {"class": ["Cycle", "Walk"]}
    assert store.labels.tolist() == [0, 0, 1, 1] and store.labels.dtype == np.int64
    assert [s["path"] for s in store.manifest["sources"]] == ["Cycle/v_bikes.mp4", "Cycle/v_bunny.mp4",
                                                               "Walk/v_carphone.mp4", "Walk/v_frames"]
    split = tmp_path / "trainlist01.txt"
    split.write_text("Walk/v_carphone.mp4 2\n\nCycle/v_bunny.mp4 1\nCycle/v_gone.mp4 1\n")
    prepare_store(root, tmp_path / "split", "tiny", split=split)
    part = open_store(tmp_path / "split")
    assert part.label_names == {"class": ["Cycle", "Walk"]}  # all classes, one numbering
    assert part.labels.tolist() == [1, 0]
    assert [s["path"] for s in part.manifest["sources"]] == ["Walk/v_carphone.mp4", "Cycle/v_bunny.mp4"]
    np.testing.assert_array_equal(part.level((8, 16, 16))[0], store.level((8, 16, 16))[2])


def test_resolve_plan_cuts_at_frames_and_size():
    shapes, preset = resolve_plan("digits-64", size=32)
    assert preset == "digits-64" and shapes[-1] == (16, 32, 32) and len(shapes) == 4
    assert resolve_plan("digits-64", frames=8)[0][-1] == (8, 16, 16)
    assert resolve_plan([[4, 4, 4], [8, 8, 8]])[0] == ((4, 4, 4), (8, 8, 8))
    with pytest.raises(ProvganError, match="4x4x4, 8x8x8"):
        resolve_plan("digits-64", size=48)


def test_manifest_is_plain_json(video_dir, tmp_path):
    prepare_store(video_dir, tmp_path / "store", "tiny", frames=4)
    data = json.loads((tmp_path / "store" / "manifest.json").read_text())
    assert data["plan"] == [[4, 4, 4], [4, 8, 8]]  # --frames 4: the plan up to 4x8x8
    assert data["counts"] == {"sources": 3, "used": 3, "skipped": 0, "converted": 0, "clips": 3}
    assert len(data["content_hash"]) == 64


def test_stride_longer_than_a_clip_skips_the_gaps(video_dir, tmp_path):
    prepare_store(video_dir, tmp_path / "s", "tiny", clip="stride:20")
    store = open_store(tmp_path / "s")
    assert store.manifest["clips"]["start"] == [0, 20] * 3
    frames = read_video(video_dir / "bunny.mp4", 20, 8)
    np.testing.assert_array_equal(store.level((8, 16, 16))[3], square_crop_resize(frames, 16))
