"""The clip store and ClipSampler: opening checks, content hash, determinism, resume, ranks, mirror."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pytest
import torch

from provgan.data.prepare import prepare_builtin
from provgan.data.store import ClipSampler, open_store
from provgan.errors import ProvganError

from .conftest import TINY_PLAN


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "digits"
    prepare_builtin("moving-digits", out, "tiny", num_clips=24, seed=5)
    return out


@pytest.fixture
def store(store_path):
    return open_store(store_path)


def to_uint8(clips: torch.Tensor) -> np.ndarray:
    """Sampler output (b, C, T, H, W) in [-1, 1] back to stored layout (b, T, H, W, C) uint8."""
    return np.rint((clips.numpy() + 1) * 127.5).astype(np.uint8).transpose(0, 2, 3, 4, 1)


def test_open_store_and_levels(store):
    assert store.num_clips == 24 and store.shapes == TINY_PLAN and store.channels == 3
    level = store.level((8, 16, 16))
    assert isinstance(level, np.memmap) and level.shape == (24, 8, 16, 16, 3) and level.dtype == np.uint8
    assert store.labels.tolist() == [i % 40 for i in range(24)]
    assert store.decode_label(13) == {"digit": "3", "motion": "slide"}
    assert store.manifest["preset"] == "tiny" and store.manifest["source"]["builtin"] == "moving-digits"
    store.verify()


def test_missing_shapes_say_what_to_do(store_path):
    with pytest.raises(ProvganError) as err:
        open_store(store_path, shapes=[(4, 4, 4), (16, 32, 32)])
    message = str(err.value)
    assert "16x32x32" in message and "4x4x4, 4x8x8, 8x16x16" in message and "--builtin moving-digits" in message
    assert "\n" not in message


def test_verify_finds_a_damaged_copy(store_path, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(store_path, copy)
    level = copy / "level-4x8x8.npy"
    data = bytearray(level.read_bytes())
    data[-100] ^= 0xFF
    level.write_bytes(bytes(data))
    with pytest.raises(ProvganError, match="level-4x8x8.npy: content hash differs"):
        open_store(copy).verify()


def test_sampler_is_deterministic_and_covers_each_epoch(store):
    a, b, c = ClipSampler(store, seed=1), ClipSampler(store, seed=1), ClipSampler(store, seed=2)
    for _ in range(4):
        (xa, ya), (xb, yb), (xc, _) = a.next((4, 8, 8), 5), b.next((4, 8, 8), 5), c.next((4, 8, 8), 5)
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(xa, xc)
    index, _ = a.take(0, 24)
    assert sorted(index.tolist()) == list(range(24))  # one epoch = a permutation
    assert sorted(a.take(24, 24)[0].tolist()) == list(range(24)) and not np.array_equal(a.take(24, 24)[0], index)


def test_batches_match_the_stored_clips(store):
    sampler = ClipSampler(store, seed=3, mirror=False)
    index, _ = sampler.take(0, 6)
    clips, labels = sampler.next((8, 16, 16), 6)
    assert clips.dtype == torch.float32 and clips.shape == (6, 3, 8, 16, 16)
    assert clips.min() >= -1 and clips.max() <= 1
    np.testing.assert_array_equal(to_uint8(clips), store.level((8, 16, 16))[index])
    assert labels.dtype == torch.int64 and labels.tolist() == store.labels[index].tolist()


def test_resume_from_state_dict(store):
    first = ClipSampler(store, seed=7)
    for _ in range(3):
        first.next((4, 4, 4), 8)
    buffer = io.BytesIO()
    torch.save({"sampler": first.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)["sampler"]
    resumed = ClipSampler(store, seed=0, mirror=False)
    resumed.load_state_dict(state)
    for _ in range(3):  # crosses the epoch boundary at 24
        (x1, y1), (x2, y2) = first.next((4, 8, 8), 8), resumed.next((4, 8, 8), 8)
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
    with pytest.raises(ProvganError, match="same store"):
        resumed.load_state_dict(dict(state, num_clips=99))


@pytest.mark.parametrize("world_size", [2, 3])
def test_rank_shards_concatenate_to_the_single_process_batch(store, world_size):
    single = ClipSampler(store, seed=11)
    ranks = [ClipSampler(store, seed=11) for _ in range(world_size)]
    for _ in range(5):
        x, y = single.next((8, 16, 16), 6)
        parts = [s.next((8, 16, 16), 6, rank=r, world_size=world_size) for r, s in enumerate(ranks)]
        assert torch.equal(torch.cat([p[0] for p in parts]), x)
        assert torch.equal(torch.cat([p[1] for p in parts]), y)


def test_mirror_flips_every_frame_alike(store):
    sampler = ClipSampler(store, seed=4, mirror=True)
    flipped = kept = 0
    level = store.level((8, 16, 16))
    for step in range(8):
        index, flips = sampler.take(sampler.position, 6)
        clips = to_uint8(sampler.next((8, 16, 16), 6)[0])
        for got, i, flip in zip(clips, index, flips):
            stored = np.asarray(level[i])
            expect = stored[:, :, ::-1] if flip else stored  # W reversed on all T frames
            np.testing.assert_array_equal(got, expect)
            if not np.array_equal(stored, stored[:, :, ::-1]):
                flipped += int(flip)
                kept += int(not flip)
    assert flipped > 8 and kept > 8  # p = 1/2 over 48 draws
    plain = ClipSampler(store, seed=4, mirror=False)
    index, _ = plain.take(0, 6)
    np.testing.assert_array_equal(to_uint8(plain.next((8, 16, 16), 6)[0]), level[index])
