"""Video I/O through PyAV: probe, frame-accurate windows, and writing mp4 (H.264) and gif.

Anything FFmpeg decodes is read (mp4/H.264, webm/VP9, avi/MJPEG, mkv, gif), and so is a folder of
image frames, sorted naturally (``frame2`` before ``frame10``). A window ``[start, start + n)`` is
found by seeking to the key frame before ``start`` and decoding forward, so a clip from the middle
of a long file does not decode the whole file; frame indices come from presentation time stamps,
which keeps the window exact for B-frame codecs. Files FFmpeg cannot open raise
:class:`~provgan.errors.ProvganError` naming the file (DESIGN.md §2: PyAV, not OpenCV capture).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import av
import cv2
from av.video.reformatter import VideoReformatter
import numpy as np

from provgan.errors import ProvganError

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".gif", ".mpg", ".mpeg",
                    ".wmv", ".flv", ".ogv", ".3gp", ".ts")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
GRAY_FORMATS = ("gray", "ya8", "ya16", "monow", "monob")


@dataclass(frozen=True)
class VideoInfo:
    """What a source holds: frame count, rate (None for image folders), size, and whether grey."""

    num_frames: int
    fps: float | None
    width: int
    height: int
    grayscale: bool = False


def natural_key(name: str) -> list:
    """Sort key that orders ``frame2`` before ``frame10``."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", name)]


def frame_files(folder: Path) -> list[Path]:
    """Image files of a frame folder in natural order."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    return sorted(files, key=lambda p: natural_key(p.name))


def _fail(path: Path, what: str) -> ProvganError:
    return ProvganError(f"{path}: {what}")


def _open(path: Path) -> av.container.InputContainer:
    """Open a media file or raise one clear line (empty, missing, not a video)."""
    if not path.is_file():
        raise _fail(path, "no such file")
    if path.stat().st_size == 0:
        raise _fail(path, "the file is empty (0 bytes): re-copy it or remove it")
    try:
        container = av.open(str(path), mode="r")
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise _fail(path, f"not a video FFmpeg can read ({_reason(exc)}): re-encode it or remove it") from None
    if not container.streams.video:
        container.close()
        raise _fail(path, "has no video stream: remove it from the source folder")
    return container


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0] if text else exc.__class__.__name__


# ---------------------------------------------------------------------------------------------
# probing


def probe_video(path: str | Path) -> VideoInfo:
    """Frame count, fps and size of a video file or a frame folder, without decoding the frames.

    The count comes from the container when it records one, else from demuxing packets (cheap: no
    decoding); a truncated file can still claim more frames than it holds, which
    :func:`read_video` reports when the window runs past the real end.
    """
    path = Path(path)
    if path.is_dir():
        return _probe_folder(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise _fail(path, "the video stream has no frame size (damaged header): re-encode it")
        count = stream.frames or _count_packets(container, stream, path)
        rate = stream.average_rate or stream.guessed_rate
        gray = (ctx.pix_fmt or "").startswith(GRAY_FORMATS)
        return VideoInfo(int(count), float(rate) if rate else None, ctx.width, ctx.height, gray)


def _count_packets(container: av.container.InputContainer, stream, path: Path) -> int:
    try:
        return sum(1 for pkt in container.demux(stream) if pkt.size)
    except av.error.FFmpegError as exc:
        raise _fail(path, f"cannot be read to the end ({_reason(exc)}): re-encode it") from None


def _probe_folder(folder: Path) -> VideoInfo:
    files = frame_files(folder)
    if not files:
        raise _fail(folder, f"no image frames ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    first = _read_image(files[0])
    gray = first.ndim == 2 or first.shape[2] == 1
    return VideoInfo(len(files), None, first.shape[1], first.shape[0], gray)


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise _fail(path, "not an image OpenCV can read: replace or remove the frame")
    return image


def _image_rgb(path: Path, size: tuple[int, int] | None) -> np.ndarray:
    """One frame of a folder as RGB uint8; every frame must have the size of the first."""
    image = _read_image(path)
    if image.dtype != np.uint8:  # 16-bit PNG/TIFF: keep the top 8 bits
        image = (image >> 8).astype(np.uint8) if image.dtype == np.uint16 else image.astype(np.uint8)
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGB)
    else:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if size is not None and image.shape[:2] != size:
        raise _fail(path, f"frame is {image.shape[1]}x{image.shape[0]} but the folder's first frame "
                          f"is {size[1]}x{size[0]}: all frames of a clip must have one size")
    return image


# ---------------------------------------------------------------------------------------------
# reading


def iter_frames(path: str | Path, start: int = 0, num_frames: int | None = None) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames (H, W, 3) ``start, start+1, ...`` (all to the end if ``num_frames`` is None).

    Grey videos come out as RGB with equal channels. Yields fewer frames than asked only when the
    source ends early; :func:`read_video` turns that into an error.
    """
    path = Path(path)
    if start < 0 or (num_frames is not None and num_frames < 0):
        raise ValueError(f"invalid window start={start} num_frames={num_frames}")
    if path.is_dir():
        files = frame_files(path)
        stop = len(files) if num_frames is None else min(len(files), start + num_frames)
        size = _image_rgb(files[0], None).shape[:2] if files else None
        for f in files[start:stop]:
            yield _image_rgb(f, size)
        return
    with _open(path) as container:
        yield from _decode_window(container, path, start, num_frames)


def _decode_window(container, path: Path, start: int, num_frames: int | None) -> Iterator[np.ndarray]:
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    rate = stream.average_rate or stream.guessed_rate
    origin = stream.start_time or 0
    seekable = start > 0 and rate and stream.time_base and container.format.name != "gif"
    if seekable:
        target = origin + int(round(start / (rate * stream.time_base)))
        try:
            container.seek(target, stream=stream, backward=True, any_frame=False)
        except av.error.FFmpegError:
            seekable = False
            container.seek(0)
    emitted, counter = 0, 0
    rgb = VideoReformatter()  # one per stream: its cached scaler makes RGB conversion ~2x faster
    for frame in _frames(container, stream, path):
        if seekable:
            index = -1 if frame.pts is None else int(round(float((frame.pts - origin) * stream.time_base * rate)))
            if emitted == 0 and (index > start or frame.pts is None):  # overshot or no time stamps
                yield from _decode_from_zero(path, start, num_frames)
                return
        else:
            index = counter
        counter += 1
        if index < start:
            continue
        if num_frames is not None and emitted >= num_frames:
            return
        yield rgb.reformat(frame, format="rgb24").to_ndarray()
        emitted += 1


def _decode_from_zero(path: Path, start: int, num_frames: int | None) -> Iterator[np.ndarray]:
    log.debug("%s: seek landed after frame %d, decoding from the start", path, start)
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rgb = VideoReformatter()
        for i, frame in enumerate(_frames(container, stream, path)):
            if num_frames is not None and i >= start + num_frames:
                return
            if i >= start:
                yield rgb.reformat(frame, format="rgb24").to_ndarray()


def _frames(container, stream, path: Path):
    """Decoded frames; a decoding error mid-file (damaged data) becomes one ProvganError."""
    try:
        yield from container.decode(stream)
    except av.error.FFmpegError as exc:
        raise _fail(path, f"damaged or truncated video data ({_reason(exc)}): re-encode or remove it") from None


def read_video(path: str | Path, start: int = 0, num_frames: int | None = None) -> np.ndarray:
    """Frames ``[start, start + num_frames)`` (all from ``start`` if None) as uint8 (T, H, W, 3).

    Raises ProvganError naming the file when it is unreadable or ends before the window does.
    """
    frames = list(iter_frames(path, start, num_frames))
    if num_frames is not None and len(frames) < num_frames:
        raise _fail(Path(path), f"ends after frame {start + len(frames)} but frames {start}.."
                                f"{start + num_frames - 1} were asked (truncated file?)")
    if not frames:
        raise _fail(Path(path), f"has no frames from frame {start} on")
    return np.stack(frames)


# ---------------------------------------------------------------------------------------------
# frame geometry


def crop_box(height: int, width: int, aspect: float) -> tuple[int, int, int, int]:
    """(top, left, h, w) of the largest centred crop with width/height = ``aspect``."""
    if width >= height * aspect:
        h, w = height, int(round(height * aspect))
    else:
        h, w = int(round(width / aspect)), width
    return (height - h) // 2, (width - w) // 2, h, w


def crop_resize(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre crop to the target aspect, then area-resize (box-filter) to (height, width)."""
    top, left, h, w = crop_box(frame.shape[0], frame.shape[1], width / height)
    crop = frame[top:top + h, left:left + w]
    if (h, w) == (height, width):
        return np.ascontiguousarray(crop)
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_AREA)


# ---------------------------------------------------------------------------------------------
# writing


def write_video(path: str | Path, frames: np.ndarray, fps: float = 25.0, crf: int = 18) -> Path:
    """Write uint8 (T, H, W, 3) frames to ``.mp4`` (H.264, yuv420p) or ``.gif`` (global palette).

    H.264 in yuv420p needs even sizes: an odd height or width is padded by repeating the last row
    or column. Written to a temporary name and renamed, so an interrupted write leaves no file.
    """
    path = Path(path)
    frames = _check_frames(frames)
    suffix = path.suffix.lower()
    if suffix not in (".mp4", ".gif"):
        raise ProvganError(f"{path}: cannot write '{suffix}' videos; use .mp4 or .gif")
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    rate = Fraction(fps).limit_denominator(1001)
    try:
        with av.open(str(tmp), mode="w") as container:
            if suffix == ".mp4":
                _encode_mp4(container, _pad_even(frames), rate, crf)
            else:
                _encode_gif(container, frames, rate)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=3)
    if frames.ndim != 4 or frames.shape[3] != 3 or frames.shape[0] < 1:
        raise ValueError(f"expected frames of shape (T, H, W, 3), got {frames.shape}")
    if frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {frames.dtype}")
    return np.ascontiguousarray(frames)


def _pad_even(frames: np.ndarray) -> np.ndarray:
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames


def _encode_mp4(container, frames: np.ndarray, rate: Fraction, crf: int) -> None:
    stream = container.add_stream("libx264", rate=rate)
    stream.width, stream.height = frames.shape[2], frames.shape[1]
    stream.pix_fmt = "yuv420p"
    stream.options = {"crf": str(crf), "preset": "medium"}
    for image in frames:
        for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def _encode_gif(container, frames: np.ndarray, rate: Fraction) -> None:
    """GIF through FFmpeg's palettegen/paletteuse: one 256-colour palette fitted to all frames."""
    height, width = frames.shape[1:3]
    stream = container.add_stream("gif", rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "pal8"
    graph = av.filter.Graph()
    src = graph.add_buffer(width=width, height=height, format="rgb24", time_base=1 / rate)
    split, palettegen = graph.add("split"), graph.add("palettegen", "stats_mode=full")
    paletteuse, sink = graph.add("paletteuse"), graph.add("buffersink")
    src.link_to(split)
    split.link_to(palettegen, 0, 0)
    split.link_to(paletteuse, 1, 0)
    palettegen.link_to(paletteuse, 0, 1)
    paletteuse.link_to(sink)
    graph.configure()
    for i, image in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = i
        src.push(frame)
    src.push(None)
    while True:
        try:
            out = sink.pull()
        except (av.error.EOFError, av.error.BlockingIOError):
            break
        for packet in stream.encode(out):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
