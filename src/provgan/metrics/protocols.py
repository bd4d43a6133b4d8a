"""Named scoring protocols: the published IS and FVD pipelines, each a small frozen record.

Video-GAN scores are only comparable under the same protocol: which frames, which resize, which
value range, how many clips, how many splits, which weights (``shared/BASELINES.md`` §4 reads them
from the original code). A :class:`Protocol` states all of that; :func:`prepare` applies its
preprocessing to clips in [-1, 1]; :func:`card` writes it, with the network's weights hash, the
precision and the provgan version, into every metrics JSON, and :meth:`Protocol.from_dict` reads it
back.

==================  ======  =====================================================================
name                metric  what it follows
==================  ======  =====================================================================
``is-tgan17``       IS      TGAN's ``calc_inception.py`` (Table 8.1's baselines): x*128+128,
                            bicubic to 128 (cv2 INTER_CUBIC), BGR, minus the mean clip of
                            ``mean2.npz`` (columns 21:149), centre crop 112, C3D dropout ON
                            (the Python ``A and B`` bug), 9,984 clips, one split, seeds 0-3
``is-tganv2``       IS      TGANv2's ``compute_inception_score.py``: BGR, x*128+128, bilinear
                            straight to 112, minus the mean window [8:120, 8:120], dropout off,
                            2,048 clips x 10 loops, one split
``thesis``          IS      thesis §8.2: "same protocol and C3D model proposed in [34]" (TGAN's),
                            on 128-px clips; C3D takes the central 16 of the 32 frames
``fvd-stylegan-v``  FVD     StyleGAN-V ``fvd2048_16f``: 2,048 fake and 2,048 real, 16 frames,
                            one random 16-frame window per real video, fakes quantised to uint8,
                            bilinear to 224, [-1, 1], the 400 logits
``fvd-tf``          FVD     the original FVD code (Unterthiner et al. 2018): every given frame,
                            ``tf.image.resize_bilinear`` (TF1: no half-pixel centres, no
                            antialiasing) straight to 224, 2x/255-1, the 400 logits
``provgan-is``      IS      provgan's own default: bilinear+antialias to 112, [0, 255], first
                            16 frames, dropout off, 10 splits (not a published protocol)
``provgan-fvd``     FVD     provgan's own default FVD: as ``fvd-stylegan-v`` but bilinear with
                            antialiasing, the first 16 frames of real clips, no quantisation
==================  ======  =====================================================================
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from provgan.errors import ProvganError
from provgan.metrics.resize import FRAME_CHOICES, RESIZE_METHODS, centre_crop, choose_frames, resize_frames

METRIC_OF_PROTOCOL = ("is", "fvd")


@dataclass(frozen=True)
class Protocol:
    """Everything that decides a score's value, apart from the generator and the data.

    Value mapping: a clip in [-1, 1] becomes ``x * scale + offset`` (then, for the mean-clip
    protocols, minus the mean window of ``mean2.npz`` in BGR order). ``frames`` None feeds every
    frame as given (the original FVD code); otherwise ``frame_choice`` says which ``frames`` frames.
    ``num_real`` is provgan's addition for IS protocols (the real-data ceiling at the same
    resolution, BASELINES.md §4.3); the published IS code scored generated clips only.
    """

    name: str
    metric: str  # "is" or "fvd"
    network: str  # "c3d", "i3d" or "classifier"
    layer: str  # "fc8-softmax" (IS), "logits" (FVD: I3D's 400 Kinetics logits)
    frames: int | None
    frame_choice: str  # see provgan.metrics.resize.FRAME_CHOICES
    real_frame_choice: str
    resize: str  # see provgan.metrics.resize.RESIZE_METHODS
    resize_to: tuple[int, int]
    crop: tuple[int, int] | None  # centre crop after the resize
    scale: float
    offset: float
    channels: str  # "RGB" or "BGR"
    mean_window: tuple[int, int, int, int] | None  # rows r0:r1, columns c0:c1 of mean2.npz (3, 16, 128, 171)
    quantise_fake: bool  # fakes rounded to uint8 before preprocessing, as a saved video would be
    num_fake: int
    num_real: int
    splits: int
    repeats: int
    seeds: tuple[int, ...]
    dropout: bool  # C3D's train-mode dropout on fc6 and fc7 (is-tgan17's bug, reproduced)
    precision: str  # what the published code computed in; the card records what this run used
    source: str

    def __post_init__(self) -> None:
        problems = []
        if self.metric not in METRIC_OF_PROTOCOL:
            problems.append(f"metric {self.metric!r} not in {METRIC_OF_PROTOCOL}")
        if self.resize not in RESIZE_METHODS:
            problems.append(f"resize {self.resize!r} not in {RESIZE_METHODS}")
        if self.frame_choice not in FRAME_CHOICES or self.real_frame_choice not in FRAME_CHOICES:
            problems.append(f"frame choice not in {FRAME_CHOICES}")
        if self.channels not in ("RGB", "BGR"):
            problems.append(f"channels {self.channels!r} not RGB or BGR")
        if len(self.seeds) != self.repeats:
            problems.append(f"{self.repeats} repeats but {len(self.seeds)} seeds")
        if self.splits < 1 or self.num_fake < 2 or self.num_real < 2:
            problems.append("splits >= 1 and at least 2 clips per side")
        if self.crop is not None and any(c > r for c, r in zip(self.crop, self.resize_to)):
            problems.append(f"crop {self.crop} larger than the resize {self.resize_to}")
        if self.precision not in ("fp32", "bf16"):
            problems.append(f"precision {self.precision!r} not fp32 or bf16")
        if problems:
            raise ProvganError(f"protocol {self.name}: " + "; ".join(problems))

    @property
    def input_size(self) -> tuple[int, int]:
        """(H, W) the network sees."""
        return self.crop if self.crop is not None else self.resize_to

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples become lists); :meth:`from_dict` inverts it exactly."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Protocol":
        """The record back from :meth:`to_dict` (or a metrics JSON's card); unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown, missing = sorted(set(data) - names), sorted(names - set(data))
        if unknown or missing:
            raise ProvganError(f"protocol card: unknown fields {unknown}, missing fields {missing}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)

    def describe(self) -> str:
        """One paragraph for ``provgan evaluate --list-protocols``."""
        frames = "every given frame" if self.frames is None else f"{self.frames} frames ({self.frame_choice}; " \
                 f"real: {self.real_frame_choice})"
        crop = f", centre crop {self.crop[0]}x{self.crop[1]}" if self.crop else ""
        mean = f", minus mean2.npz[{self.mean_window[0]}:{self.mean_window[1]}, " \
               f"{self.mean_window[2]}:{self.mean_window[3]}]" if self.mean_window else ""
        repeats = f"{self.repeats} repeats (seeds {', '.join(map(str, self.seeds))})"
        return (f"{self.name}: {self.metric.upper()} on {self.network} {self.layer}; {frames}; "
                f"x*{self.scale:g}{self.offset:+g}, {self.resize} to {self.resize_to[0]}x{self.resize_to[1]}"
                f"{crop}, {self.channels}{mean}; fakes {'quantised to uint8' if self.quantise_fake else 'as floats'}; "
                f"{self.num_fake} fake / {self.num_real} real, {self.splits} split(s), {repeats}; "
                f"dropout {'ON (train mode)' if self.dropout else 'off'}; {self.precision}. Source: {self.source}")


_TGAN_SEEDS = (0, 1, 2, 3)
PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("is-tgan17", "is", "c3d", "fc8-softmax", 16, "first", "first", "bicubic", (128, 128), (112, 112),
             128.0, 128.0, "BGR", (8, 120, 29, 141), False, 9984, 9984, 1, 4, _TGAN_SEEDS, True, "fp32",
             "TGAN evaluation/calc_inception.py + batch_inception.py (Saito et al. 2017); BASELINES.md 4.1"),
    Protocol("is-tganv2", "is", "c3d", "fc8-softmax", 16, "first", "first", "bilinear", (112, 112), None,
             128.0, 128.0, "BGR", (8, 120, 8, 120), False, 2048, 2048, 1, 10, tuple(range(10)), False, "fp32",
             "TGANv2 scripts/compute_inception_score.py (Saito et al. 2020); BASELINES.md 4.2"),
    Protocol("thesis", "is", "c3d", "fc8-softmax", 16, "central", "central", "bicubic", (128, 128), (112, 112),
             128.0, 128.0, "BGR", (8, 120, 29, 141), False, 9984, 9984, 1, 4, _TGAN_SEEDS, True, "fp32",
             "thesis 8.2 ('same protocol and C3D model proposed in [34]') on 128-px, 32-frame clips; "
             "which 16 frames C3D saw is not stated: the central 16 here"),
    Protocol("fvd-stylegan-v", "fvd", "i3d", "logits", 16, "first", "random-window", "bilinear", (224, 224), None,
             1.0, 0.0, "RGB", None, True, 2048, 2048, 1, 1, (0,), False, "fp32",
             "StyleGAN-V metrics fvd2048_16f (Skorokhodov et al. 2022)"),
    Protocol("fvd-tf", "fvd", "i3d", "logits", None, "all", "all", "bilinear-tf1", (224, 224), None,
             1.0, 0.0, "RGB", None, True, 2048, 2048, 1, 1, (0,), False, "fp32",
             "google-research frechet_video_distance (Unterthiner et al. 2018): preprocess + TF-Hub "
             "i3d-kinetics-400/1"),
    Protocol("provgan-is", "is", "c3d", "fc8-softmax", 16, "first", "first", "bilinear-antialias", (112, 112),
             None, 127.5, 127.5, "RGB", None, False, 2048, 2048, 10, 1, (0,), False, "fp32",
             "provgan's default (no published protocol); BASELINES.md 4.3"),
    Protocol("provgan-fvd", "fvd", "i3d", "logits", 16, "first", "first", "bilinear-antialias", (224, 224), None,
             1.0, 0.0, "RGB", None, False, 2048, 2048, 1, 1, (0,), False, "fp32",
             "provgan's default FVD (StyleGAN-V's sizes without its real-clip window or quantisation)"),
)}
DEFAULTS = {"is": "provgan-is", "fvd": "provgan-fvd"}


def get_protocol(name: str) -> Protocol:
    """The built-in protocol ``name``; an unknown one is one ProvganError line listing the choices."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise ProvganError(f"unknown protocol {name!r}: choose from {', '.join(PROTOCOLS)} "
                           "(provgan evaluate --list-protocols)") from None


def parse_protocols(text: str | None) -> dict[str, Protocol]:
    """``"is-tgan17,fvd-tf"`` -> {"is": ..., "fvd": ...}: at most one protocol per metric."""
    chosen: dict[str, Protocol] = {}
    for name in (t.strip() for t in (text or "").split(",") if t.strip()):
        p = get_protocol(name)
        if p.metric in chosen and chosen[p.metric].name != p.name:
            raise ProvganError(f"protocols {chosen[p.metric].name} and {p.name} both score {p.metric.upper()}: "
                               "pick one")
        chosen[p.metric] = p
    return chosen


def quantise(clips: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> the values a uint8 video file would hold, back in [-1, 1].

    Uses ``round((x + 1) * 127.5)`` clamped to [0, 255], the inverse of how provgan reads stored
    clips (``u8 / 127.5 - 1``), so a stored real clip is left unchanged.
    """
    u8 = ((clips.float().clamp(-1, 1) + 1.0) * 127.5).round().clamp(0, 255)
    return u8 / 127.5 - 1.0


def prepare(protocol: Protocol, clips: torch.Tensor, *, real: bool = False, mean: torch.Tensor | None = None,
            generator: torch.Generator | None = None) -> torch.Tensor:
    """Clips (N, 3, T, H, W) in [-1, 1] -> the network input the protocol defines.

    Order (the published code's): frame choice, quantisation of fakes, value mapping, resize,
    BGR, mean subtraction, centre crop. ``mean`` is the mean clip (3, 16, 128, 171) of
    ``mean2.npz`` in BGR (needed when ``protocol.mean_window`` is set); ``generator`` draws the
    random window of real clips under ``random-window``.
    """
    if clips.ndim != 5 or clips.shape[1] != 3:
        raise ValueError(f"prepare: expected (N, 3, T, H, W) clips, got {tuple(clips.shape)}")
    choice = protocol.real_frame_choice if real else protocol.frame_choice
    x = choose_frames(clips.float().clamp(-1, 1), protocol.frames, choice, generator)
    if protocol.quantise_fake and not real:
        x = quantise(x)
    x = x * protocol.scale + protocol.offset
    x = resize_frames(x, protocol.resize_to, protocol.resize)
    if protocol.channels == "BGR":
        x = x.flip(1)
    if protocol.mean_window is not None:
        if mean is None:
            raise ProvganError(f"protocol {protocol.name} subtracts the mean clip: pass mean2.npz (--c3d-mean FILE)")
        r0, r1, c0, c1 = protocol.mean_window
        # the window is taken on the 128 x 171 mean and lines up with the crop (is-tgan17) or the
        # whole 112-px input (is-tganv2); before the crop it covers the whole resized frame
        rows, cols = protocol.input_size
        if protocol.crop is not None:
            top, left = (protocol.resize_to[0] - rows) // 2, (protocol.resize_to[1] - cols) // 2
            r0, r1, c0, c1 = r0 - top, r1 + top, c0 - left, c1 + left
        window = mean[:, :, r0:r1, c0:c1].to(x.dtype)
        if tuple(window.shape[2:]) != tuple(x.shape[3:]) or window.shape[1] < x.shape[2]:
            raise ProvganError(f"protocol {protocol.name}: mean clip window {tuple(window.shape)} does not fit "
                               f"input {tuple(x.shape[1:])}; is the mean file mean2.npz (3, 16, 128, 171)?")
        x = x - window[:, :x.shape[2]].unsqueeze(0)
    if protocol.crop is not None:
        x = centre_crop(x, protocol.crop)
    return x.contiguous()


def file_sha256(path: str | Path | None) -> str | None:
    """SHA-256 of a weights file (streamed), or None when there is no file (random or built-in weights)."""
    if path is None or not Path(path).is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card(protocol: Protocol, weights: str | Path | None, *, precision: str, num_fake: int, num_real: int,
         seed: int, extra_files: dict[str, str | Path] | None = None) -> dict[str, Any]:
    """The protocol card of one score in a metrics JSON: the record plus what this run actually used.

    ``protocol`` round-trips through ``Protocol.from_dict(card["protocol"])``; the rest says which
    weights (path and SHA-256), which precision, how many clips, which seed and which provgan.
    """
    from provgan import __version__

    files = {"weights": weights, **(extra_files or {})}
    return {"protocol": protocol.to_dict(),
            "files": {k: {"path": str(v) if v is not None else None, "sha256": file_sha256(v)}
                      for k, v in files.items()},
            "precision": precision, "num_fake": int(num_fake), "num_real": int(num_real), "seed": int(seed),
            "latents": f"repeat r, clip i: latent seed {seed} + r*{num_fake} + i",
            "provgan_version": __version__}


def load_mean_clip(path: str | Path) -> torch.Tensor:
    """``mean2.npz`` (TGAN's release v1.0.0): the BGR mean clip (3, 16, 128, 171) as float32.

    The array under key ``mean`` (else the first) may carry extra unit axes (a Caffe blob); like
    TGAN's ``calc_inception.py`` it is reshaped, after checking its size.
    """
    path = Path(path)
    try:
        with np.load(path) as data:
            key = "mean" if "mean" in data.files else data.files[0]
            array = np.asarray(data[key], dtype=np.float32)
    except FileNotFoundError:
        raise ProvganError(f"{path}: mean clip file not found") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise ProvganError(f"{path}: not a readable .npz ({type(exc).__name__}); pass TGAN's mean2.npz") from None
    if array.size != 3 * 16 * 128 * 171:
        raise ProvganError(f"{path}: mean clip has shape {array.shape}, expected (3, 16, 128, 171) as in mean2.npz")
    array = array.reshape(3, 16, 128, 171)  # TGAN reshapes the stored blob the same way
    return torch.from_numpy(array)
