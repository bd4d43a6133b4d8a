"""The embedded dataset: real handwritten digits (scikit-learn's bundled 8x8 set) moving in a frame.

Nothing is downloaded: ``sklearn.datasets.load_digits`` ships 1,797 handwritten digits (UCI
"Optical Recognition of Handwritten Digits"). Each digit is smoothly upscaled once into a sprite;
a clip puts one or two handwriting samples of one digit class, each in its own colour, on a dark
canvas and moves them with one of four motions: ``bounce`` (fast, reflecting off the walls, as in
Moving MNIST), ``slide`` (slow straight line, no wall contact), ``zoom`` (breathing scale) or
``rotate`` (spinning in place), or only some of them (``motions``: the demo's store keeps the digit
upright and of one size with ``bounce`` and ``slide``). The label is ``digit * 4 + motion``, so a video
classifier trained on it gives the Inception-Score-style metrics of thesis ch. 6 a meaningful class
structure.

Clip ``i`` depends only on ``(seed, i)`` and the canvas shape: any chunk of clips can be rendered
in any process and the dataset is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

MOTIONS = ("bounce", "slide", "zoom", "rotate")
DIGITS = tuple(str(d) for d in range(10))
NUM_CLASSES = len(DIGITS) * len(MOTIONS)
REF_SIZE, REF_FRAMES = 64, 32  # motion parameters are given for a 64x64 canvas of 32 frames
SPRITE_REF = 48  # sprite side for a 64 px canvas; the 8x8 digit fills the central 8/12 of it
FPS = 8.0
COLOURS = ("hue", "white")  # a random saturated colour per digit, or Moving MNIST's one light grey
WHITE = np.array([235.0, 235.0, 235.0], np.float32)


@dataclass(frozen=True)
class Sprites:
    """Upscaled digit images (n, s, s) in [0, 1] with their classes, grouped for sampling."""

    images: np.ndarray
    targets: np.ndarray
    by_digit: tuple[np.ndarray, ...]

    @property
    def digit_px(self) -> float:
        """Side in sprite pixels of the 8x8 handwriting area."""
        return self.images.shape[1] * 8 / 12

    def with_styles(self, styles: int) -> "Sprites":
        """Only the first ``styles`` handwriting samples of every digit (0: all of them).

        A diagnostic of how much the variety of handwriting costs a generator: ``styles=1`` draws
        every clip of a digit with the same glyph (in its own colour, size and motion).
        """
        if styles < 0:
            raise ValueError(f"styles must be >= 0 (0: every sample), got {styles}")
        if styles == 0:
            return self
        return Sprites(self.images, self.targets, tuple(index[:styles] for index in self.by_digit))


def load_sprites(canvas: int) -> Sprites:
    """Smoothly upscale every bundled digit to a sprite sized for a ``canvas``-pixel frame.

    Bicubic upscaling of the 16-level digits, then a soft contrast curve so strokes have crisp but
    anti-aliased edges (recognisable at 32x32 after pooling, no blocky 8x8 pixels).
    """
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no download

    data = load_digits()
    side = max(12, int(round(SPRITE_REF * canvas / REF_SIZE)))
    padded = np.pad(data.images.astype(np.float32) / 16.0, ((0, 0), (2, 2), (2, 2)))
    up = np.stack([cv2.resize(im, (side, side), interpolation=cv2.INTER_CUBIC) for im in padded])
    x = np.clip((up - 0.15) / 0.5, 0.0, 1.0)
    images = (x * x * (3 - 2 * x)).astype(np.float32)  # smoothstep
    targets = data.target.astype(np.int64)
    return Sprites(images, targets, tuple(np.flatnonzero(targets == d) for d in range(10)))


def check_motions(motions: Sequence[str]) -> tuple[str, ...]:
    """``motions`` as a tuple in :data:`MOTIONS`' order; a ValueError names what is wrong with it."""
    chosen = tuple(motions)
    unknown = [m for m in chosen if m not in MOTIONS]
    if not chosen or unknown or len(set(chosen)) != len(chosen):
        raise ValueError(f"motions must be distinct names among {', '.join(MOTIONS)}, got {', '.join(chosen) or 'none'}")
    return tuple(m for m in MOTIONS if m in chosen)


def label_of(index: int, motions: Sequence[str] = MOTIONS) -> int:
    """Labels cycle through the (digit, motion) classes of ``motions``: every class equally often.

    The label is always ``digit * 4 + MOTIONS.index(motion)``, so a store rendered with some of the
    motions keeps the label names, the encoding and the 40 classifier classes of the full one (the
    other motions' classes are empty). With all four motions, clip ``i`` has label ``i % 40``.
    """
    chosen = check_motions(motions)
    digit, k = divmod(index % (len(DIGITS) * len(chosen)), len(chosen))
    return digit * len(MOTIONS) + MOTIONS.index(chosen[k])


def _fold(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Reflect positions into [lo, hi] (a ball bouncing off two walls)."""
    span = max(hi - lo, 1e-6)
    q = np.mod(p - lo, 2 * span)
    return lo + np.where(q < span, q, 2 * span - q)


def _trajectory(rng: np.random.Generator, motion: str, slot: int, count: int, size: float,
                shape: tuple[int, int, int], speed_scale: float = 1.0) -> np.ndarray:
    """(T, 4) per-frame centre x, y, scale and angle (degrees) of one digit.

    ``speed_scale`` multiplies the two fast motions, ``bounce``'s speed and ``rotate``'s spin (the
    random draws are the same, so a slower dataset holds the same digits on the same paths).
    """
    frames, height, width = shape
    px = width / REF_SIZE  # reference pixels -> canvas pixels
    per = REF_FRAMES / frames  # reference frames per frame of this clip
    f = np.arange(frames, dtype=np.float64)
    scale = np.ones(frames)
    angle = np.full(frames, rng.uniform(-10, 10))
    half = 0.5 * size
    lo, hi = np.array([half, half]), np.array([width - half, height - half])
    if motion in ("bounce", "slide"):
        speed = rng.uniform(2.2, 3.5) * speed_scale if motion == "bounce" else rng.uniform(0.5, 0.9)
        theta = rng.uniform(0, 2 * np.pi)
        step = speed * px * per * np.array([np.cos(theta), np.sin(theta)])
        travel = step * (frames - 1)
        if motion == "slide":  # start where the whole straight path stays inside the frame
            travel = np.clip(travel, -(hi - lo), hi - lo)
            step = travel / max(frames - 1, 1)
            start = rng.uniform(lo - np.minimum(travel, 0), hi - np.maximum(travel, 0))
        else:
            start = rng.uniform(lo, hi)
        xy = start + f[:, None] * step
        x, y = _fold(xy[:, 0], lo[0], hi[0]), _fold(xy[:, 1], lo[1], hi[1])
    else:
        centre_x = width * ((slot + 1) / (count + 1)) + rng.uniform(-3, 3) * px
        x = np.full(frames, centre_x)
        y = np.full(frames, height / 2 + rng.uniform(-6, 6) * px)
        if motion == "zoom":
            period = rng.uniform(20, 32) / per
            scale = 1.0 + rng.uniform(0.18, 0.28) * np.sin(2 * np.pi * f / period + rng.uniform(0, 2 * np.pi))
        else:
            omega = rng.uniform(6, 11) * speed_scale * per * rng.choice([-1.0, 1.0])
            angle = angle + omega * f
    return np.stack([x, y, scale, angle], axis=1)


def _hsv_colour(rng: np.random.Generator) -> np.ndarray:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(150, 255), rng.uniform(215, 255)]]], np.float32)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _alpha(sprite: np.ndarray, track: np.ndarray, digit_size: float, digit_px: float,
           height: int, width: int) -> np.ndarray:
    """(T, H, W) coverage of one moving sprite: an affine warp per frame (scale, rotate, place)."""
    centre = (sprite.shape[0] - 1) / 2
    out = np.empty((len(track), height, width), np.float32)
    for t, (x, y, s, deg) in enumerate(track):
        m = cv2.getRotationMatrix2D((centre, centre), float(deg), float(s * digit_size / digit_px))
        m[:, 2] += (x - centre, y - centre)
        out[t] = cv2.warpAffine(sprite, m, (width, height), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out


def render_clip(sprites: Sprites, seed: int, index: int, shape: tuple[int, int, int],
                max_digits: int = 2, speed_scale: float = 1.0, colour: str = "hue",
                digit_scale: float = 1.0, motions: Sequence[str] = MOTIONS,
                digit: int | None = None) -> np.ndarray:
    """Clip ``index`` of the dataset with ``seed``: uint8 (T, H, W, 3), one or two handwritten digits.

    ``max_digits=1`` renders every clip with one digit (the draw that picks the count is still
    made, so one-digit clips are the same either way). ``speed_scale`` slows (< 1) or speeds up the
    bounce and rotate motions (:func:`_trajectory`). ``colour``: ``hue`` paints every digit in its own
    random saturated colour, ``white`` in one light grey as Moving MNIST does (the colour draw is still
    made, so the clips are otherwise the same). ``digit_scale`` multiplies every digit's size.
    ``motions``: the motions the clips cycle through (:func:`label_of`). ``digit`` draws that digit in
    place of the label's, with every other draw unchanged (a probe's clip that differs only in its digit).
    """
    if colour not in COLOURS:
        raise ValueError(f"colour must be one of {', '.join(COLOURS)}, got {colour!r}")
    frames, height, width = shape
    rng = np.random.default_rng([seed, index])
    label_digit, motion = divmod(label_of(index, motions), len(MOTIONS))
    digit = label_digit if digit is None else digit
    count = 1 + int(rng.random() < 0.5 and max_digits > 1)
    colours = [rng.uniform(0, 24, size=3).astype(np.float32)]  # dark background first
    alphas = []
    for slot in range(count):
        size = (rng.uniform(30, 36) if count == 1 else rng.uniform(23, 28)) * digit_scale * width / REF_SIZE
        sprite = sprites.images[rng.choice(sprites.by_digit[digit])]
        track = _trajectory(rng, MOTIONS[motion], slot, count, size, shape, speed_scale)
        alphas.append(_alpha(sprite, track, size, sprites.digit_px, height, width))
        hue = _hsv_colour(rng)
        colours.append(WHITE if colour == "white" else hue)
    return _composite(alphas, np.stack(colours))


def _composite(alphas: list[np.ndarray], colours: np.ndarray) -> np.ndarray:
    """Paint layers over the background (later on top): per-pixel weights times colours, one matmul."""
    cover = np.ones_like(alphas[0])
    weights = []
    for alpha in reversed(alphas):
        weights.append(alpha * cover)
        cover *= 1.0 - alpha
    weights = np.stack([cover] + weights[::-1], axis=-1)  # (T, H, W, layers + 1)
    return np.rint(weights @ colours).astype(np.uint8)


def render_clips(seed: int, start: int, count: int, shape: tuple[int, int, int],
                 sprites: Sprites | None = None, max_digits: int = 2,
                 speed_scale: float = 1.0, colour: str = "hue",
                 digit_scale: float = 1.0, motions: Sequence[str] = MOTIONS) -> tuple[np.ndarray, np.ndarray]:
    """Clips ``start .. start+count-1``: uint8 (count, T, H, W, 3) and int64 labels (count,)."""
    sprites = sprites or load_sprites(shape[2])
    clips = np.stack([render_clip(sprites, seed, i, shape, max_digits, speed_scale, colour, digit_scale, motions)
                      for i in range(start, start + count)])
    labels = np.array([label_of(i, motions) for i in range(start, start + count)], np.int64)
    return clips, labels


def label_names() -> dict[str, list[str]]:
    """Factor names in label order: label = digit * len(MOTIONS) + motion."""
    return {"digit": list(DIGITS), "motion": list(MOTIONS)}
