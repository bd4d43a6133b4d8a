"""Similarity fit (Umeyama), template placement, temporal smoothing and warping."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from provgan.faces.align import (ARCFACE_112, apply, smooth_similarities, template_points,
                                 umeyama_similarity, warp_face)


def _similarity(scale, angle, tx, ty):
    c, s = scale * np.cos(angle), scale * np.sin(angle)
    return np.array([[c, -s, tx], [s, c, ty]])


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, size=(5, 2))
    truth = _similarity(0.37, 0.6, 12.0, -40.0)
    assert np.allclose(umeyama_similarity(src, apply(truth, src)), truth, atol=1e-9)


def test_umeyama_is_the_least_squares_similarity():
    # noisy points: no other similarity near the fit has a smaller squared error
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 100, size=(5, 2))
    dst = apply(_similarity(1.3, -0.2, 5.0, 7.0), src) + rng.normal(0, 2.0, size=(5, 2))
    fit = umeyama_similarity(src, dst)
    err = ((apply(fit, src) - dst) ** 2).sum()
    a, b, tx, ty = fit[0, 0], fit[1, 0], fit[0, 2], fit[1, 2]
    for delta in rng.normal(0, 0.01, size=(200, 4)):
        p = np.array([a, b, tx, ty]) + delta * [1, 1, 10, 10]
        other = np.array([[p[0], -p[1], p[2]], [p[1], p[0], p[3]]])
        assert ((apply(other, src) - dst) ** 2).sum() >= err


def test_umeyama_never_mirrors():
    src = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 5.0], [3.0, 7.0]])
    mirrored = src * [-1, 1]
    fit = umeyama_similarity(src, mirrored)
    assert np.linalg.det(fit[:, :2]) > 0


def test_template_placement():
    assert np.allclose(template_points(112, 0.0), ARCFACE_112)
    # a margin shrinks the template about the crop centre by 1 / (1 + 2 * margin)
    centre = np.array([128.0, 128.0])
    assert np.allclose(template_points(256, 0.5) - centre, (template_points(256, 0.0) - centre) / 2)
    eyes = template_points(256, 0.25)[:2]
    assert eyes[0, 0] < 128 < eyes[1, 0] and abs(eyes[0, 1] - eyes[1, 1]) < 1


def test_smoothing_averages_where_points_go():
    rng = np.random.default_rng(2)
    mats = np.stack([_similarity(1 + 0.1 * rng.normal(), 0.2 * rng.normal(), *rng.normal(0, 3, 2))
                     for _ in range(40)])
    smooth = smooth_similarities(mats, 2.0)
    assert np.allclose(smooth[:, 0, 0], smooth[:, 1, 1]) and np.allclose(smooth[:, 0, 1], -smooth[:, 1, 0])
    point = np.array([[30.0, -12.0]])
    mapped = np.stack([apply(m, point)[0] for m in mats])
    expected = gaussian_filter1d(mapped, 2.0, axis=0, mode="nearest")
    assert np.allclose(np.stack([apply(m, point)[0] for m in smooth]), expected)
    jitter = lambda m: np.abs(np.diff(m[:, :, 2], axis=0)).mean()  # noqa: E731
    assert jitter(smooth) < jitter(mats) / 3
    assert np.allclose(smooth_similarities(mats, 0.0), mats)
    with pytest.raises(ValueError):
        smooth_similarities(mats[:, :, :2], 1.0)


@pytest.mark.parametrize("scale", [1.5, 0.3])  # 0.3 takes the area-filtered path
def test_warp_sends_a_point_where_the_transform_says(scale):
    frame = np.zeros((400, 400, 3), np.uint8)
    frame[190:211, 250:271] = 255  # a bright square centred on (x, y) = (260, 200)
    mat = _similarity(scale, 0.3, 0.0, 0.0)
    target = apply(mat, [[260.0, 200.0]])[0]
    mat[:, 2] += 32 - target  # bring the square's centre to (32, 32) of a 64 crop
    out = warp_face(frame, mat, 64)[..., 0].astype(np.float64)
    ys, xs = np.mgrid[:64, :64]
    centre = np.array([(out * xs).sum(), (out * ys).sum()]) / out.sum()
    assert out.shape == (64, 64) and np.allclose(centre, [32, 32], atol=0.3)
