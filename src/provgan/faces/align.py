"""Similarity alignment of faces to a fixed template, smoothed along a track (thesis §7.1).

The thesis aligned faces with "a similarity transform" of their landmarks and found it steadier over
time than MTCNN crops. We fit the transform (rotation, uniform scale, translation) that maps five
points derived from the 68 landmarks — eye centres, nose tip, mouth corners — onto a fixed template,
in closed form by least squares (Umeyama 1991, eqs. 34-42, restricted to 2-D). The template is the
widely used five-point face template of ArcFace (Deng et al. 2019, insightface) on a 112-pixel
square, placed in the output crop with a margin of context around it.

Per-frame fits jitter by a pixel or two because landmarks do; aligned clips must not shake, so the
transforms of a track are smoothed in time with a Gaussian. A similarity ``[[a, -b, tx], [b, a, ty]]``
is linear in ``(a, b, tx, ty)``, so averaging those parameters is the same as averaging where each
transform sends every point, and the average is again a similarity.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

# ArcFace's five-point template on a 112 x 112 crop: image-left eye, image-right eye, nose tip,
# image-left and image-right mouth corners (x, y) in pixels.
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)


def template_points(size: int, margin: float = 0.25) -> np.ndarray:
    """The five template points (5, 2) in a ``size`` square crop with ``margin`` context per side.

    The template's 112-pixel face box fills the central ``1 / (1 + 2 * margin)`` of the crop.
    """
    unit = ARCFACE_112 / 112.0 - 0.5
    return size * (0.5 + unit / (1.0 + 2.0 * margin))


def umeyama_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 similarity ``M`` minimising ``sum ||M [src; 1] - dst||^2`` (Umeyama 1991, eqs. 40-42)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"need two matching (n >= 2, 2) point sets, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    xs, xd = src - mu_s, dst - mu_d
    var_s = (xs ** 2).sum() / len(src)
    cov = xd.T @ xs / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.diag([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rot = u @ sign @ vt
    scale = np.trace(np.diag(d) @ sign) / var_s if var_s > 0 else 1.0
    mat = np.zeros((2, 3))
    mat[:, :2] = scale * rot
    mat[:, 2] = mu_d - scale * rot @ mu_s
    return mat


def apply(mat: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Points (n, 2) mapped by a 2x3 affine matrix."""
    points = np.asarray(points, dtype=np.float64)
    return points @ mat[:, :2].T + mat[:, 2]


def smooth_similarities(mats: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing in time (std ``sigma`` frames) of similarity transforms (T, 2, 3).

    Works on ``(a, b, tx, ty)``; edges repeat the end transforms (scipy's "nearest" mode).
    """
    mats = np.asarray(mats, dtype=np.float64)
    if mats.ndim != 3 or mats.shape[1:] != (2, 3):
        raise ValueError(f"expected transforms of shape (T, 2, 3), got {mats.shape}")
    if sigma <= 0 or len(mats) < 2:
        return mats.copy()
    params = np.stack([mats[:, 0, 0], mats[:, 1, 0], mats[:, 0, 2], mats[:, 1, 2]], axis=1)
    a, b, tx, ty = gaussian_filter1d(params, sigma, axis=0, mode="nearest").T
    return np.stack([np.stack([a, -b, tx], axis=1), np.stack([b, a, ty], axis=1)], axis=1)


def warp_face(frame: np.ndarray, mat: np.ndarray, size: int) -> np.ndarray:
    """The ``size`` square crop of ``frame`` under ``mat``; strong shrinks go through an area filter first.

    Bilinear warping of a face several times larger than the crop aliases, so when the transform
    shrinks by more than 2x the frame is first area-resized by that factor.
    """
    scale = float(np.hypot(mat[0, 0], mat[1, 0]))
    if scale < 0.5:
        frame = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        # resized pixel r sits at original x = (r + 0.5) / scale - 0.5 (pixel centres)
        linear = mat[:, :2]
        mat = np.concatenate([linear / scale, (mat[:, 2] + linear @ np.full(2, 0.5 / scale - 0.5))[:, None]],
                             axis=1)
    return cv2.warpAffine(frame, mat, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
