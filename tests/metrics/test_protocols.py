"""Named protocols: each one's preprocessing on a known clip equals a hand computation, and cards round-trip."""

import json

import numpy as np
import pytest
import torch

from provgan.errors import ProvganError
from provgan.metrics.protocols import (PROTOCOLS, Protocol, card, get_protocol, load_mean_clip, parse_protocols,
                                       prepare, quantise)
from provgan.metrics.resize import choose_frames, resize_frames


def _clip(n=2, t=20, h=8, w=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, t, h, w, generator=g) * 2 - 1


def _mean():
    g = torch.Generator().manual_seed(1)
    return torch.rand(3, 16, 128, 171, generator=g) * 100


def test_is_tgan17_matches_tgan_pipeline_by_hand():
    cv2 = pytest.importorskip("cv2")
    p, x, mean = get_protocol("is-tgan17"), _clip(), _mean()
    out = prepare(p, x, mean=mean)
    assert out.shape == (2, 3, 16, 112, 112)
    # TGAN calc_inception.py, step by step in NumPy/cv2 on the first 16 frames
    v = x[:, :, :16].numpy().transpose(0, 2, 3, 4, 1) * 128 + 128  # (N, T, H, W, C) RGB in [0, 256]
    frames = np.stack([[cv2.resize(f, (128, 128), interpolation=cv2.INTER_CUBIC) for f in clip] for clip in v])
    frames = frames[..., ::-1].transpose(0, 4, 1, 2, 3)  # BGR, (N, C, T, H, W)
    frames = frames - mean.numpy()[None, :, :, :, 21:149]
    want = frames[:, :, :, 8:120, 8:120]
    np.testing.assert_allclose(out.numpy(), want, atol=2e-3)


def test_is_tganv2_bilinear_straight_to_112_and_mean_window():
    p, x, mean = get_protocol("is-tganv2"), _clip(n=1, t=16, h=56, w=56), _mean()
    out = prepare(p, x, mean=mean)
    # 56 -> 112 with half-pixel centres: dest pixel 2k+1 sits at source k + 0.25
    v = x.numpy()[0] * 128 + 128
    k = 10
    row = v[:, :, k, :]  # (C, T, W) row k, exactly source row k+0.25 needs rows k, k+1
    row = 0.75 * v[:, :, k, :] + 0.25 * v[:, :, k + 1, :]
    col = 0.75 * row[:, :, k] + 0.25 * row[:, :, k + 1]
    want = col[::-1] - mean.numpy()[:, :, 8 + 2 * k + 1, 8 + 2 * k + 1]
    np.testing.assert_allclose(out[0, :, :, 2 * k + 1, 2 * k + 1].numpy(), want, rtol=1e-5, atol=1e-3)
    assert out.shape == (1, 3, 16, 112, 112)


def test_fvd_tf_is_tf1_bilinear_in_minus_one_one_every_frame():
    p = get_protocol("fvd-tf")
    x = _clip(n=1, t=15, h=4, w=4)
    out = prepare(p, x)
    assert out.shape == (1, 3, 15, 224, 224)  # every given frame
    # TF1 resize_bilinear: source x = dest x * 4/224, clamped at the last pixel
    u8 = ((x[0] + 1) * 127.5).round().clamp(0, 255)  # quantised as a video file would be
    v = (u8 / 127.5 - 1).numpy()
    for d in (0, 30, 100, 223):
        s = d * 4 / 224
        lo, fr = int(np.floor(s)), s - np.floor(s)
        hi = min(lo + 1, 3)
        row = (1 - fr) * v[:, :, lo, :] + fr * v[:, :, hi, :]
        want = (1 - fr) * row[:, :, lo] + fr * row[:, :, hi]
        np.testing.assert_allclose(out[0, :, :, d, d].numpy(), want, atol=1e-5)


def test_fvd_stylegan_v_random_real_window_and_quantised_fakes():
    p = get_protocol("fvd-stylegan-v")
    t = torch.arange(32.0).view(1, 1, 32, 1, 1).expand(3, 3, 32, 2, 2) / 31 * 2 - 1
    real = prepare(p, t, real=True, generator=torch.Generator().manual_seed(3))
    frames = (real[:, 0, :, 0, 0] + 1) / 2 * 31  # back to the frame index
    starts = torch.randint(0, 17, (3,), generator=torch.Generator().manual_seed(3))
    for i in range(3):
        torch.testing.assert_close(frames[i], torch.arange(16.0) + starts[i], atol=1e-4, rtol=0)
    fake = prepare(p, torch.full((1, 3, 16, 2, 2), 0.1234))
    assert torch.allclose(fake, torch.full_like(fake, round(1.1234 * 127.5) / 127.5 - 1))


def test_thesis_takes_the_central_16_of_32_frames():
    p = get_protocol("thesis")
    x = torch.arange(32.0).view(1, 1, 32, 1, 1).expand(1, 3, 32, 4, 4)
    torch.testing.assert_close(choose_frames(x, p.frames, p.frame_choice)[0, 0, :, 0, 0], torch.arange(8.0, 24.0))
    assert p.resize_to == (128, 128) and p.crop == (112, 112) and p.dropout and p.splits == 1


def test_provgan_is_default_bilinear_antialias_0_255():
    p = get_protocol("provgan-is")
    x = _clip(n=1, t=16, h=224, w=224)
    out = prepare(p, x)
    # shrinking by 2 with antialiasing: the triangle kernel stretched x2, taps (1, 3, 3, 1) / 8 on
    # source pixels 2k-1 .. 2k+2 around the dest centre 2k + 0.5
    v = (x.numpy()[0] + 1) * 127.5
    taps = np.array([1, 3, 3, 1]) / 8
    want = np.einsum("ctij,i,j->ct", v[:, :, 9:13, 13:17], taps, taps)
    np.testing.assert_allclose(out[0, :, :, 5, 7].numpy(), want, atol=1e-3)


def test_published_numbers_are_as_baselines_states():
    tgan = get_protocol("is-tgan17")
    assert (tgan.num_fake, tgan.splits, tgan.seeds, tgan.dropout) == (9984, 1, (0, 1, 2, 3), True)
    v2 = get_protocol("is-tganv2")
    assert (v2.num_fake, v2.repeats, v2.splits, v2.dropout, v2.crop) == (2048, 10, 1, False, None)
    sv = get_protocol("fvd-stylegan-v")
    assert (sv.num_fake, sv.num_real, sv.frames, sv.quantise_fake) == (2048, 2048, 16, True)


def test_card_round_trips_through_json(tmp_path):
    weights = tmp_path / "w.pt"
    weights.write_bytes(b"abc")
    for p in PROTOCOLS.values():
        c = json.loads(json.dumps(card(p, weights, precision="bf16", num_fake=10, num_real=12, seed=3)))
        assert Protocol.from_dict(c["protocol"]) == p
        assert c["files"]["weights"]["sha256"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        assert (c["precision"], c["num_fake"], c["num_real"], c["seed"]) == ("bf16", 10, 12, 3)


def test_bad_names_and_cards_are_one_line_errors():
    with pytest.raises(ProvganError, match="unknown protocol"):
        get_protocol("fvd-nope")
    with pytest.raises(ProvganError, match="both score IS"):
        parse_protocols("is-tgan17,is-tganv2")
    assert set(parse_protocols("is-tgan17, fvd-tf")) == {"is", "fvd"}
    bad = get_protocol("fvd-tf").to_dict()
    bad["extra"] = 1
    with pytest.raises(ProvganError, match="unknown fields"):
        Protocol.from_dict(bad)
    with pytest.raises(ProvganError, match="mean clip"):
        prepare(get_protocol("is-tganv2"), _clip(n=1, t=16))


def test_mean_clip_file(tmp_path):
    path = tmp_path / "mean2.npz"
    np.savez(path, mean=np.ones((3, 16, 128, 171), np.float32))
    assert load_mean_clip(path).shape == (3, 16, 128, 171)
    np.savez(path, mean=np.arange(3 * 16 * 128 * 171, dtype=np.float32).reshape(1, 3, 16, 128, 171))
    torch.testing.assert_close(load_mean_clip(path)[2, 15, 127, 170], torch.tensor(3 * 16 * 128 * 171 - 1.0))
    np.savez(path, mean=np.ones((3, 16, 112, 112), np.float32))
    with pytest.raises(ProvganError, match="expected"):
        load_mean_clip(path)


def test_quantise_leaves_stored_clips_unchanged():
    u8 = torch.randint(0, 256, (2, 3, 4, 5, 5)).float()
    stored = u8 / 127.5 - 1
    torch.testing.assert_close(quantise(stored), stored)


def test_bicubic_matches_cv2_inter_cubic():
    cv2 = pytest.importorskip("cv2")
    frame = np.random.default_rng(0).random((5, 7, 3)).astype(np.float32) * 255
    want = cv2.resize(frame, (21, 13), interpolation=cv2.INTER_CUBIC)
    x = torch.from_numpy(frame.transpose(2, 0, 1)).view(1, 3, 1, 5, 7)
    got = resize_frames(x, (13, 21), "bicubic")[0, :, 0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(got, want, atol=1e-2)


def test_one_split_protocols_score_every_clip():
    """IS with 2049 clips under a one-split protocol uses all 2049 (no silent remainder)."""
    from provgan.metrics.scores import inception_score

    probs = np.random.default_rng(0).dirichlet(np.ones(101) * 0.3, size=2049)
    marginal = probs.mean(axis=0)
    direct = float(np.exp(np.mean(np.sum(probs * (np.log(probs) - np.log(marginal)), axis=1))))
    for name in ("is-tgan17", "is-tganv2", "thesis"):
        assert inception_score(probs, get_protocol(name).splits)[0] == pytest.approx(direct, rel=1e-9)
    # and the last clip matters: dropping it changes the score
    assert inception_score(probs[:2048], 1)[0] != pytest.approx(direct, rel=1e-9)
