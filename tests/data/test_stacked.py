"""``prepare --stacked-frames H``: one JPEG per clip, frames stacked vertically (VGAN's Golf release), made here
from real video frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from provgan.data.prepare import prepare_store
from provgan.data.stacked import discover_stacked, iter_stacked, probe_stacked
from provgan.data.store import open_store, pool_levels
from provgan.data.video_io import crop_resize
from provgan.errors import ProvganError

from .conftest import TINY_PLAN, shrink

FRAME = 24  # frame height of the stacks


@pytest.fixture(scope="module")
def golf_like(real_videos, tmp_path_factory):
    """Three real clips as stacked JPEGs (32 wide, 10 or 12 frames of 24 rows), one in a subfolder, and
    one image whose height is not a multiple of 24."""
    from provgan.data.video_io import read_video

    root = tmp_path_factory.mktemp("golf")
    (root / "0" / "1").mkdir(parents=True)
    for path, (name, start, count) in zip(["a.jpg", "0/1/b.jpg", "c.jpg"],
                                         [("bikes", 40, 12), ("carphone_pristine", 10, 10), ("bigbuckbunny", 5, 12)]):
        frames = np.stack([cv2.resize(f, (32, FRAME), interpolation=cv2.INTER_AREA)
                           for f in read_video(real_videos[name], start, count)])
        cv2.imwrite(str(root / path), np.concatenate(list(frames), axis=0)[:, :, ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 90])
    bad = shrink(read_video(real_videos["bikes"], 0, 1), 32)[0]
    cv2.imwrite(str(root / "odd.jpg"), bad[: FRAME * 2 + 5, :, ::-1])
    return root


def test_probe_and_frames_of_a_stack(golf_like):
    info = probe_stacked(golf_like / "a.jpg", FRAME)
    assert (info.num_frames, info.width, info.height, info.fps) == (12, 32, FRAME, None)
    whole = cv2.imread(str(golf_like / "a.jpg"))[:, :, ::-1]
    frames = list(iter_stacked(golf_like / "a.jpg", FRAME, start=3, num_frames=4))
    assert len(frames) == 4 and np.array_equal(frames[1], whole[4 * FRAME:5 * FRAME])
    with pytest.raises(ProvganError, match="not a stack of 24-pixel frames.*--stacked-frames"):
        probe_stacked(golf_like / "odd.jpg", FRAME)
    assert [s.rel for s in discover_stacked(golf_like).sources] == ["0/1/b.jpg", "a.jpg", "c.jpg", "odd.jpg"]


def test_prepare_stacked_store_matches_the_images(golf_like, tmp_path):
    summary = prepare_store(golf_like, tmp_path / "golf", TINY_PLAN, stacked_frames=FRAME, clip="stride:2")
    assert [s.path for s in summary.skipped] == ["odd.jpg"] and "--stacked-frames" in summary.skipped[0].reason
    store = open_store(tmp_path / "golf")
    assert store.num_clips == 2 + 3 + 3  # b: 10 frames, a and c: 12, windows of 8 every 2 frames
    assert store.manifest["source"]["stacked_frames"] == FRAME and store.manifest["source"]["layout"] == "stacked"
    whole = cv2.imread(str(golf_like / "a.jpg"))[:, :, ::-1]
    _, height, width = TINY_PLAN[-1]
    clip = np.stack([crop_resize(whole[t * FRAME:(t + 1) * FRAME], height, width) for t in range(2, 10)])
    expected = pool_levels(clip[None], TINY_PLAN)
    for shape, level in zip(TINY_PLAN, expected):  # a.jpg's second window is the store's clip 3
        assert np.array_equal(store.level(shape)[3], level[0])


def test_stacked_frames_from_the_command_line(golf_like, tmp_path, cli):
    code, out, err = cli("prepare", golf_like, tmp_path / "g", "--plan", "tiny", "--stacked-frames", FRAME,
                         "--workers", "2")
    assert code == 0 and "prepared 3 clips" in out and "odd.jpg" in out, err
    code, _, err = cli("prepare", golf_like, tmp_path / "h", "--plan", "tiny", "--stacked-frames", 0)
    assert code == 2 and "--stacked-frames must be" in err
