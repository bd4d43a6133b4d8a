"""Moving digits: reproducible, labelled, legible at 32x32, and each motion does what its name says."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from provgan.data.moving_digits import MOTIONS, check_motions, label_names, label_of, load_sprites, render_clips
from provgan.data.prepare import prepare_builtin
from provgan.data.store import open_store
from provgan.errors import ProvganError

SHAPE = (32, 64, 64)


@pytest.fixture(scope="module")
def sprites():
    return load_sprites(64)


@pytest.fixture(scope="module")
def single(sprites):
    """120 one-digit clips at 64x64x32 and their labels."""
    return render_clips(2, 0, 120, SHAPE, sprites, max_digits=1)


def test_reproducible_from_the_seed_and_independent_of_chunking(sprites):
    a, labels = render_clips(9, 0, 6, SHAPE, sprites)
    b, _ = render_clips(9, 0, 6, SHAPE, sprites)
    c, _ = render_clips(10, 0, 6, SHAPE, sprites)
    part, part_labels = render_clips(9, 3, 3, SHAPE, sprites)
    assert a.dtype == np.uint8 and a.shape == (6, *SHAPE, 3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(part, a[3:])
    assert part_labels.tolist() == labels[3:].tolist()
    assert not np.array_equal(a, c)


def test_labels_are_digit_times_motions_plus_motion(sprites):
    _, labels = render_clips(0, 0, 80, (4, 16, 16), load_sprites(16))
    assert labels.tolist() == [i % 40 for i in range(80)]
    assert np.bincount(labels).tolist() == [2] * 40  # every (digit, motion) class equally often
    assert label_names() == {"digit": [str(d) for d in range(10)], "motion": list(MOTIONS)}
    assert MOTIONS == ("bounce", "slide", "zoom", "rotate")


def test_some_motions_cycle_their_classes_in_the_full_label_encoding():
    labels = [label_of(i, ("slide", "bounce")) for i in range(40)]
    assert labels == [d * 4 + m for d in range(10) for m in (0, 1)] * 2  # digit * 4 + MOTIONS index
    assert [label_of(i, MOTIONS) for i in range(80)] == [i % 40 for i in range(80)]
    assert check_motions(("rotate", "bounce")) == ("bounce", "rotate")  # MOTIONS' order
    for bad in [(), ("bounce", "bounce"), ("spin",)]:
        with pytest.raises(ValueError, match="motions must be distinct names among bounce, slide, zoom, rotate"):
            check_motions(bad)


def test_some_motions_render_only_those_motions(sprites):
    clips, labels = render_clips(2, 0, 24, SHAPE, sprites, max_digits=1, motions=("bounce", "slide"))
    assert sorted(set(MOTIONS[label % 4] for label in labels)) == ["bounce", "slide"]
    assert np.bincount(labels // 4).tolist() == [4, 4] + [2] * 8  # 20 classes, then digits 0 and 1 again
    for clip, label in zip(clips, labels):
        s = _motion_stats(clip)
        if MOTIONS[label % 4] == "slide":
            assert 10 < s["path"] < 40 and s["straight"] > 0.9, s
        else:
            assert s["path"] > 50 and s["straight"] < 0.5, s
        assert s["area"] < 1.15 and s["turn"] < 0.6, s  # no zoom, no spin


def test_a_digit_override_changes_the_digit_and_nothing_else(sprites):
    from provgan.data.moving_digits import render_clip

    same = render_clip(sprites, 2, 5, SHAPE, max_digits=1, digit=label_of(5) // 4)
    np.testing.assert_array_equal(same, render_clips(2, 5, 1, SHAPE, sprites, max_digits=1)[0][0])
    other = render_clip(sprites, 2, 5, SHAPE, max_digits=1, digit=7)
    assert not np.array_equal(other, same)
    s, t = _motion_stats(same), _motion_stats(other)  # label 5: digit 1, slide
    assert abs(s["path"] - t["path"]) < 3 and s["straight"] > 0.9 and t["straight"] > 0.9


def test_one_or_two_digits(sprites):
    one, _ = render_clips(4, 0, 12, SHAPE, sprites, max_digits=1)
    two, _ = render_clips(4, 0, 12, SHAPE, sprites, max_digits=2)
    same = [np.array_equal(x, y) for x, y in zip(one, two)]
    assert any(same) and not all(same)  # clips drawn with one digit are unchanged


def _to_8x8(frame: np.ndarray) -> np.ndarray:
    """A 32x32 frame's digit cut to its bounding square and area-resized to sklearn's 8x8, 0..16."""
    grey = frame.astype(np.float32).max(axis=2)
    grey = np.clip(grey - np.median(grey), 0, None)
    ys, xs = np.nonzero(grey > 0.35 * grey.max())
    crop = grey[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    side = max(crop.shape)
    square = np.zeros((side, side), np.float32)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    small = cv2.resize(square, (8, 8), interpolation=cv2.INTER_AREA)
    return (small / small.max() * 16).ravel()


def test_digits_are_legible_at_32x32(single):
    """A classifier fitted on scikit-learn's 8x8 digits reads the rendered, pooled 32x32 digits."""
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    digits = load_digits()
    classifier = SVC(gamma=0.001).fit(digits.data, digits.target)
    clips, labels = single
    small = clips.reshape(len(clips), 16, 2, 32, 2, 32, 2, 3).mean(axis=(2, 4, 6))  # 16x32x32
    features = np.stack([_to_8x8(clip[0]) for clip in small])
    accuracy = (classifier.predict(features) == labels // len(MOTIONS)).mean()
    assert accuracy > 0.8, accuracy


def _motion_stats(clip: np.ndarray) -> dict[str, float]:
    """Centroid path, straightness, spread, area ratio and orientation range of a one-digit clip."""
    grey = clip.astype(np.float32).max(axis=3)
    mask = grey - np.median(grey) > 60
    ys, xs = np.mgrid[: clip.shape[1], : clip.shape[2]]
    area = mask.sum(axis=(1, 2))
    cx, cy = (mask * xs).sum(axis=(1, 2)) / area, (mask * ys).sum(axis=(1, 2)) / area
    xy = np.stack([cx, cy], axis=1)
    path = np.linalg.norm(np.diff(xy, axis=0), axis=1).sum()
    dx, dy = xs - cx[:, None, None], ys - cy[:, None, None]
    mu20, mu02, mu11 = ((mask * v).sum(axis=(1, 2)) / area for v in (dx * dx, dy * dy, dx * dy))
    theta = np.unwrap(np.arctan2(2 * mu11, mu20 - mu02)) / 2  # principal axis, unwrapped over time
    return {"path": path, "straight": np.linalg.norm(xy[-1] - xy[0]) / path,
            "spread": np.linalg.norm(xy - xy.mean(axis=0), axis=1).max(),
            "area": area.max() / area.min(), "turn": np.ptp(theta)}


def test_each_motion_moves_as_named(single):
    clips, labels = single
    for clip, label in list(zip(clips, labels))[:40]:
        s, motion = _motion_stats(clip), MOTIONS[label % len(MOTIONS)]
        if motion == "bounce":  # fast, and reflected off the walls
            assert s["path"] > 50 and s["straight"] < 0.5, s
        elif motion == "slide":  # slow straight line
            assert 10 < s["path"] < 40 and s["straight"] > 0.9, s
        elif motion == "zoom":  # stays put, changes size
            assert s["spread"] < 3 and s["area"] > 1.6, s
        else:  # rotate: same size, turns
            assert s["area"] < 1.15 and s["turn"] > 2.0, s


def test_prepare_builtin_store(tmp_path, sprites):
    summary = prepare_builtin("moving-digits", tmp_path / "digits", "digits-64", num_clips=10, seed=3)
    store = open_store(tmp_path / "digits", [(16, 32, 32), (32, 64, 64)])
    assert summary.num_clips == store.num_clips == 10 and store.shapes[-1] == SHAPE
    clips, labels = render_clips(3, 0, 10, SHAPE, sprites)
    np.testing.assert_array_equal(store.level(SHAPE), clips)
    assert store.labels.tolist() == labels.tolist()
    assert store.label_names == label_names()
    assert store.manifest["labels"]["encoding"] == "digit * 4 + motion"
    top = clips.astype(np.float64)
    for t, h, w in store.shapes[:-1]:
        pooled = top.reshape(10, t, 32 // t, h, 64 // h, w, 64 // w, 3).mean(axis=(2, 4, 6))
        np.testing.assert_array_equal(store.level((t, h, w)), np.rint(pooled).astype(np.uint8))


def test_motion_speed_slows_bounce_and_rotate_only(sprites, single):
    """``speed_scale`` 0.3: the bounce path and the rotation are about 0.3x as long; slide and zoom
    clips, the digits and the labels are unchanged (the same random draws)."""
    clips, labels = single
    slow, slow_labels = render_clips(2, 0, 8, SHAPE, sprites, max_digits=1, speed_scale=0.3)
    assert slow_labels.tolist() == labels[:8].tolist()
    for fast_clip, slow_clip, label in zip(clips[:8], slow, labels[:8]):
        motion = MOTIONS[label % len(MOTIONS)]
        fast_s, slow_s = _motion_stats(fast_clip), _motion_stats(slow_clip)
        if motion in ("slide", "zoom"):
            np.testing.assert_array_equal(fast_clip, slow_clip)
        elif motion == "bounce":
            assert 0.2 < slow_s["path"] / fast_s["path"] < 0.4, (slow_s, fast_s)
        else:
            assert 0.15 < slow_s["turn"] / fast_s["turn"] < 0.45, (slow_s, fast_s)


def test_prepare_builtin_records_its_motions_and_refuses_unknown_ones(tmp_path):
    prepare_builtin("moving-digits", tmp_path / "two", "tiny", num_clips=8, seed=3, motions=("slide", "bounce"))
    store = open_store(tmp_path / "two")
    assert store.manifest["source"]["motions"] == ["bounce", "slide"]
    assert store.labels.tolist() == [label_of(i, ("bounce", "slide")) for i in range(8)]
    assert open_store(tmp_path / "two").label_names == label_names()  # the same 40 classes
    with pytest.raises(ProvganError, match="--motions must be distinct names among"):
        prepare_builtin("moving-digits", tmp_path / "bad", "tiny", num_clips=8, motions=("spin",))
    assert not (tmp_path / "bad").exists()


def test_prepare_builtin_records_motion_speed(tmp_path):
    prepare_builtin("moving-digits", tmp_path / "slow", "digits-32", num_clips=4, seed=3, motion_speed=0.3)
    assert open_store(tmp_path / "slow").manifest["source"]["motion_speed"] == 0.3


def test_styles_keep_the_first_handwriting_samples_of_every_digit(sprites):
    one = sprites.with_styles(1)
    assert [len(pool) for pool in one.by_digit] == [1] * 10
    assert [pool[0] for pool in one.by_digit] == [pool[0] for pool in sprites.by_digit]
    assert [len(pool) for pool in sprites.with_styles(3).by_digit] == [3] * 10
    assert sprites.with_styles(0) is sprites
    with pytest.raises(ValueError, match="styles must be >= 0"):
        sprites.with_styles(-1)


def test_one_style_renders_every_clip_of_a_digit_with_the_same_glyph(sprites):
    """With one glyph per digit, hiding every other sample changes nothing; with all styles the
    same clips use other samples (the default draws from about 180 per digit)."""
    one = sprites.with_styles(1)
    keep = np.array([pool[0] for pool in one.by_digit])
    hidden = sprites.images.copy()
    hidden[np.setdiff1d(np.arange(len(hidden)), keep)] = 0.0  # every other glyph blank
    only_first = type(sprites)(hidden, sprites.targets, one.by_digit)
    a, labels = render_clips(5, 0, 20, (8, 32, 32), one)
    b, _ = render_clips(5, 0, 20, (8, 32, 32), only_first)
    np.testing.assert_array_equal(a, b)
    full, full_labels = render_clips(5, 0, 20, (8, 32, 32), sprites)
    assert full_labels.tolist() == labels.tolist()
    assert any(not np.array_equal(x, y) for x, y in zip(a, full))


def test_prepare_builtin_records_styles_and_refuses_negative(tmp_path):
    prepare_builtin("moving-digits", tmp_path / "one", "digits-32", num_clips=4, seed=3, styles=1)
    assert open_store(tmp_path / "one").manifest["source"]["styles"] == 1
    with pytest.raises(Exception, match="--styles must be >= 0"):
        prepare_builtin("moving-digits", tmp_path / "neg", "digits-32", num_clips=4, styles=-1)


def test_white_digits_are_one_grey_and_otherwise_the_same_clip(sprites):
    """``colour="white"``: every stroke pixel is a shade of one grey (R = G = B above the background),
    on the same background, positions and shapes as the coloured clip."""
    hue, labels = render_clips(7, 0, 8, (8, 32, 32), sprites)
    white, white_labels = render_clips(7, 0, 8, (8, 32, 32), sprites, colour="white")
    assert white_labels.tolist() == labels.tolist()
    for h, w in zip(hue.astype(int), white.astype(int)):
        background = np.median(w.reshape(-1, 3), axis=0)
        stroke = np.abs(w - background).sum(-1) > 60
        assert stroke.mean() > 0.01
        assert np.ptp(w[stroke], axis=-1).max() <= 30  # grey: channels within the dark background's spread
        assert w[stroke].max() >= 200
        # the same strokes: where the white clip is well inked, the coloured one is inked too, and the
        # two masks differ only along anti-aliased edges (a dark hue crosses the threshold later)
        inked = np.abs(h - background).sum(-1) > 20
        assert inked[np.abs(w - background).sum(-1) > 300].all()
        assert (stroke ^ (np.abs(h - background).sum(-1) > 60)).mean() < 0.03


def test_digit_scale_makes_digits_larger(sprites):
    def ink(clips):
        background = np.median(clips[:, 0].reshape(len(clips), -1, 3), axis=1)[:, None, None, None]
        return (np.abs(clips.astype(int) - background).sum(-1) > 60).mean()

    small, _ = render_clips(3, 0, 16, (8, 32, 32), sprites, max_digits=1)
    large, _ = render_clips(3, 0, 16, (8, 32, 32), sprites, max_digits=1, digit_scale=1.5)
    assert 1.8 < ink(large) / ink(small) < 2.7  # area grows as the square of the scale (1.5^2 = 2.25)


def test_prepare_builtin_records_colour_and_scale_and_refuses_bad_values(tmp_path):
    prepare_builtin("moving-digits", tmp_path / "w", "digits-32", num_clips=4, seed=3, colour="white",
                    digit_scale=1.5)
    source = open_store(tmp_path / "w").manifest["source"]
    assert (source["colour"], source["digit_scale"]) == ("white", 1.5)
    with pytest.raises(Exception, match="--colour must be one of hue, white"):
        prepare_builtin("moving-digits", tmp_path / "x", "digits-32", num_clips=4, colour="red")
    with pytest.raises(Exception, match=r"--digit-scale must be in \[0.5, 2\]"):
        prepare_builtin("moving-digits", tmp_path / "y", "digits-32", num_clips=4, digit_scale=3)
