"""The prepared clip store: per-level uint8 arrays on disk, memory-mapped, with labels and a manifest.

Training and metrics never decode video: ``provgan prepare`` writes, for every level (T, H, W) of the
plan, one ``level-TxHxW.npy`` array of shape (N, T, H, W, 3) whose clips are exactly what the
networks see at that level (box-filter pooling of the top level, DESIGN.md §1 "Data"), plus
``labels.npy`` and ``manifest.json`` (sources, windows, fps, plan, preset, counts, content hash).

A store is written into ``OUT.tmp-<pid>`` and renamed to ``OUT`` only when complete, and the manifest
is its last file: a folder without one is never taken for a store. :class:`ClipSampler` draws the
deterministic, resumable, rank-sharded minibatches the trainer consumes.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from provgan.errors import ProvganError

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
FORMAT = "provgan-store"
VERSION = 1
CHANNELS = 3
Shape = tuple[int, int, int]


def shape_name(shape: Sequence[int]) -> str:
    return "x".join(str(int(v)) for v in shape)


def level_file(shape: Sequence[int]) -> str:
    return f"level-{shape_name(shape)}.npy"


def disk_full_error(where: Path) -> ProvganError:
    return ProvganError(f"disk full while writing {where}: free some space or give an output folder "
                        f"on another disk; nothing was kept")


# ---------------------------------------------------------------------------------------------
# the level pyramid


def pool_levels(top: np.ndarray, shapes: Sequence[Shape]) -> list[np.ndarray]:
    """Box-filter pyramid of uint8 clips (n, T, H, W, C): one uint8 array per shape, small to large.

    Level l is the average of level l+1 over (T_l+1/T_l, 2, 2) blocks. Sums of neighbour pairs are
    kept in float32 (exact: integers below 2^24) and each level is the block sum times 1/k, k a
    power of two (exact too), rounded half to even once: every stored level is the rounded
    box-filter average of the stored top level, whatever the number of steps in between.
    """
    if top.shape[1:4] != tuple(shapes[-1]):
        raise ValueError(f"top clips have shape {top.shape[1:4]}, the plan's top level is {shapes[-1]}")
    out, x, k = [top], top, 1
    for small, large in zip(shapes[-2::-1], shapes[:0:-1]):
        for axis in (1, 2, 3):
            if large[axis - 1] != small[axis - 1]:
                x, k = _pair_sum(x, axis), 2 * k
        out.append(np.rint(x * np.float32(1.0 / k)).astype(np.uint8))
    return out[::-1]


def _pair_sum(x: np.ndarray, axis: int) -> np.ndarray:
    """float32 sums of neighbours 2i and 2i+1 along ``axis``."""
    shape = x.shape
    pairs = x.reshape(*shape[:axis], shape[axis] // 2, 2, *shape[axis + 1:])
    lead = (slice(None),) * (axis + 1)
    return np.add(pairs[lead + (0,)], pairs[lead + (1,)], dtype=np.float32)


# ---------------------------------------------------------------------------------------------
# writing


class _NpyAppender:
    """Append rows to an ``.npy`` file whose row count is fixed at the end, hashing what it writes.

    Rows go out with plain ``write`` calls (a full disk raises ``OSError(ENOSPC)``, unlike a
    memory map, which would crash with SIGBUS); the header is sized for ``capacity`` rows and
    rewritten in place, to the same length, with the final count.
    """

    def __init__(self, path: Path, row_shape: Sequence[int], capacity: int, dtype: str = "|u1"):
        self.path, self.row_shape, self.dtype = path, tuple(int(v) for v in row_shape), dtype
        self.rows, self.hash = 0, hashlib.sha256()
        header = self._header(capacity)
        self.header_len = len(header)
        self.file = open(path, "wb")
        self.file.write(header)

    def _header(self, rows: int, total: int | None = None) -> bytes:
        """npy 1.0 header; ``total`` (magic to newline) fixed on rewrite, else 64-aligned with a spare block."""
        text = repr({"descr": self.dtype, "fortran_order": False, "shape": (rows, *self.row_shape)})
        if total is None:
            total = -(-(10 + len(text) + 1) // 64) * 64 + 64
        if len(text) + 11 > total:
            raise ValueError(f"{self.path}: {rows} rows do not fit the header written for fewer")
        return b"\x93NUMPY\x01\x00" + (total - 10).to_bytes(2, "little") + (text.ljust(total - 11) + "\n").encode()

    def append(self, rows: np.ndarray) -> None:
        data = memoryview(np.ascontiguousarray(rows)).cast("B")  # no copy
        self.file.write(data)
        self.hash.update(data)
        self.rows += len(rows)

    def close(self) -> str:
        """Fix the header's row count, close, return the sha256 of the data bytes."""
        self.file.seek(0)
        self.file.write(self._header(self.rows, self.header_len))
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        return self.hash.hexdigest()


class StoreWriter:
    """Writes a store into ``OUT.tmp-<pid>``; :meth:`finish` renames it to ``OUT``; on error, nothing stays.

    Use it as a context manager: an exception (a full disk, Ctrl-C) removes the temporary folder.
    """

    def __init__(self, out: str | Path, shapes: Sequence[Shape], capacity: int, *,
                 labelled: bool, overwrite: bool = False):
        self.out = Path(out)
        self.shapes = tuple(tuple(int(v) for v in s) for s in shapes)
        self.overwrite, self.labelled = overwrite, labelled
        check_output(self.out, overwrite)
        self.tmp = self.out.with_name(f"{self.out.name}.tmp-{os.getpid()}")
        for stale in self.out.parent.glob(f"{glob.escape(self.out.name)}.tmp-*"):
            if stale != self.tmp:
                log.warning("%s was left by an interrupted prepare (it is not a store): delete it", stale)
        _check_space(self.out, capacity * sum(int(np.prod(s)) * CHANNELS for s in self.shapes))
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        self.levels = [_NpyAppender(self.tmp / level_file(s), (*s, CHANNELS), capacity) for s in self.shapes]
        self.labels: list[np.ndarray] = []

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()

    @property
    def num_clips(self) -> int:
        return self.levels[0].rows

    def add(self, levels: Sequence[np.ndarray], labels: np.ndarray | None = None) -> None:
        """Append clips: one uint8 (n, T, H, W, 3) array per shape, small to large, and n labels."""
        for appender, array in zip(self.levels, levels, strict=True):
            if array.shape[1:] != (*appender.row_shape,) or array.dtype != np.uint8:
                raise ValueError(f"expected uint8 clips of shape (n, {appender.row_shape}), got "
                                 f"{array.dtype} {array.shape}")
            appender.append(array)
        if self.labelled:
            self.labels.append(np.asarray(labels, dtype=np.int64).reshape(-1))

    def finish(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Close the arrays, write labels and the manifest (last), rename to ``OUT``; return the manifest."""
        hashes = {shape_name(s): a.close() for s, a in zip(self.shapes, self.levels)}
        digest = hashlib.sha256("".join(hashes.values()).encode())
        manifest = dict(manifest, format=FORMAT, version=VERSION, channels=CHANNELS,
                        num_clips=self.num_clips, plan=[list(s) for s in self.shapes],
                        levels={shape_name(s): {"file": level_file(s), "sha256": hashes[shape_name(s)]}
                                for s in self.shapes})
        if self.labelled:
            labels = np.concatenate(self.labels) if self.labels else np.zeros(0, np.int64)
            np.save(self.tmp / "labels.npy", labels)
            digest.update(labels.tobytes())
        manifest["content_hash"] = digest.hexdigest()
        with open(self.tmp / MANIFEST, "w") as f:  # last, and on disk before the rename
            f.write(json.dumps(manifest, indent=1))
            f.flush()
            os.fsync(f.fileno())
        _replace(self.tmp, self.out, self.overwrite)
        return manifest

    def abort(self) -> None:
        for appender in self.levels:
            try:
                appender.file.close()
            except OSError:  # a full disk fails the final flush too; the folder goes anyway
                pass
        shutil.rmtree(self.tmp, ignore_errors=True)


def check_output(out: Path, overwrite: bool) -> None:
    """An existing OUT is an error unless ``overwrite`` and it is a store (never delete user files)."""
    if not out.exists():
        return
    if not overwrite:
        raise ProvganError(f"{out} already exists: choose another output folder or pass --overwrite")
    if out.is_dir() and not (out / MANIFEST).is_file() and any(out.iterdir()):
        raise ProvganError(f"{out} exists and is not a provgan store: refusing to overwrite it; "
                           f"choose another output folder")


def _check_space(out: Path, needed: int) -> None:
    parent = out.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(parent).free
    if needed > free:
        raise ProvganError(f"not enough disk space for {out}: the store needs {needed / 1e9:.2f} GB, "
                           f"{free / 1e9:.2f} GB are free: free space or choose an output on another disk")


def _replace(tmp: Path, out: Path, overwrite: bool) -> None:
    if out.exists():
        check_output(out, overwrite)
        old = out.with_name(f"{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old) if old.is_dir() else old.unlink()
    else:
        tmp.rename(out)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


# ---------------------------------------------------------------------------------------------
# reading


class ClipStore:
    """A prepared store opened read-only; level arrays are memory-mapped on first use."""

    def __init__(self, path: Path, manifest: dict[str, Any]):
        self.path = path
        self.manifest = manifest
        self.num_clips = int(manifest["num_clips"])
        self.shapes: tuple[Shape, ...] = tuple(tuple(int(v) for v in s) for s in manifest["plan"])
        self.channels = int(manifest.get("channels", CHANNELS))
        labels = manifest.get("labels") or {}
        self.label_names: dict[str, list[str]] = labels.get("names", {})
        self.labels = np.load(path / labels["file"]) if labels.get("file") else None
        self._levels: dict[Shape, np.ndarray] = {}

    def __repr__(self) -> str:
        return f"ClipStore({str(self.path)!r}, {self.num_clips} clips, {', '.join(map(shape_name, self.shapes))})"

    def level(self, shape: Sequence[int]) -> np.ndarray:
        """Memory-mapped uint8 (N, T, H, W, C) clips of one level."""
        key = tuple(int(v) for v in shape)
        if key not in self._levels:
            if key not in self.shapes:
                raise ProvganError(f"store {self.path} has no level {shape_name(key)} (it has "
                                   f"{', '.join(map(shape_name, self.shapes))})")
            self._levels[key] = np.load(self.path / level_file(key), mmap_mode="r")
        return self._levels[key]

    def pixel_mean(self, max_clips: int = 4096) -> tuple[float, ...]:
        """Per-channel mean of the clips in [-1, 1] units, rounded to 1e-4 (``model.pixel_mean``).

        Read from the smallest level (a box-filter average of the top one, so the same mean to
        rounding) over at most ``max_clips`` evenly spaced clips: cheap for any store size and the
        same numbers every time.
        """
        clips = self.level(self.shapes[0])
        index = np.unique(np.linspace(0, self.num_clips - 1, min(max_clips, self.num_clips)).round().astype(np.int64))
        channels = clips.shape[-1]
        mean = np.asarray(clips[index], dtype=np.float64).reshape(-1, channels).mean(axis=0)
        return tuple(round(float(v) / 127.5 - 1.0, 4) for v in mean)

    def decode_label(self, label: int) -> dict[str, str]:
        """Label -> factor names, e.g. {"digit": "3", "motion": "zoom"} (mixed radix, first factor major)."""
        out, rest = {}, int(label)
        for name, values in reversed(list(self.label_names.items())):
            rest, index = divmod(rest, len(values))
            out[name] = values[index]
        return dict(reversed(list(out.items())))

    def verify(self) -> None:
        """Recompute the content hash (reads every byte); raise ProvganError naming a damaged level."""
        for name, entry in self.manifest["levels"].items():
            digest, path = hashlib.sha256(), self.path / entry["file"]
            with open(path, "rb") as f:
                np.lib.format.read_magic(f)
                np.lib.format.read_array_header_1_0(f)
                for block in iter(lambda: f.read(1 << 22), b""):
                    digest.update(block)
            if digest.hexdigest() != entry["sha256"]:
                raise ProvganError(f"{path}: content hash differs from the manifest (damaged copy?): "
                                   f"re-copy or re-prepare the store")


def open_store(path: str | Path, shapes: Sequence[Sequence[int]] | None = None) -> ClipStore:
    """Open a prepared store; with ``shapes``, check every shape is stored or say what to re-prepare."""
    path = Path(path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        what = "does not exist" if not path.exists() else "is not a complete store (no manifest.json)"
        raise ProvganError(f"{path} {what}: prepare one with `provgan prepare SRC {path} --plan PRESET` "
                           f"or `provgan prepare --builtin moving-digits {path}`")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as exc:
        raise ProvganError(f"{manifest_path}: unreadable ({exc.__class__.__name__}): re-prepare the store") from None
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ProvganError(f"{path}: not a provgan store of version {VERSION}: re-prepare it")
    store = ClipStore(path, manifest)
    _check_files(store)
    if shapes is not None:
        missing = [tuple(int(v) for v in s) for s in shapes if tuple(int(v) for v in s) not in store.shapes]
        if missing:
            source = manifest.get("source", {})
            how = ("`provgan prepare --builtin moving-digits OUT --plan PRESET`" if source.get("builtin")
                   else f"`provgan prepare {source.get('root', 'SRC')} OUT --plan PRESET`")
            raise ProvganError(f"store {path} lacks level(s) {', '.join(map(shape_name, missing))} (it has "
                               f"{', '.join(map(shape_name, store.shapes))}, preset "
                               f"{manifest.get('preset')}): re-prepare it with {how} for this config")
    return store


def _check_files(store: ClipStore) -> None:
    for shape in store.shapes:
        file = store.path / level_file(shape)
        try:
            array = store.level(shape)
        except (OSError, ValueError) as exc:
            raise ProvganError(f"{file}: missing or unreadable ({exc.__class__.__name__}): re-prepare the store") from None
        if array.shape != (store.num_clips, *shape, store.channels) or array.dtype != np.uint8:
            raise ProvganError(f"{file}: holds {array.dtype} {array.shape}, the manifest says "
                               f"{store.num_clips} clips of {shape_name(shape)}: re-prepare the store")
    if store.labels is not None and store.labels.shape != (store.num_clips,):
        raise ProvganError(f"{store.path}/labels.npy: {store.labels.shape[0]} labels for "
                           f"{store.num_clips} clips: re-prepare the store")


# ---------------------------------------------------------------------------------------------
# minibatches


class ClipSampler:
    """Deterministic endless minibatches of one level, resumable, sharded over ranks.

    Clips are drawn in a seeded permutation per epoch; ``position`` counts the clips drawn so far
    in the single global stream, so a call with ``batch_size`` advances every rank by the whole
    global batch and rank ``r`` reads rows ``[r*b, (r+1)*b)`` of it (``b = batch_size //
    world_size``): the ranks together read exactly the single-process batch. With ``mirror`` a
    clip is flipped left-right with probability 1/2 (the same flip on every frame, PGGAN's mirror
    augmentation), the coin also drawn from the seed and the position.
    """

    def __init__(self, store: ClipStore, seed: int, mirror: bool = True):
        if store.num_clips < 1:
            raise ProvganError(f"store {store.path} holds no clips: re-prepare it")
        self.store, self.seed, self.mirror = store, int(seed), bool(mirror)
        self.position = 0
        self._cache: tuple[int, np.ndarray, np.ndarray] | None = None

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        if self._cache is None or self._cache[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(self.store.num_clips)
            flips = rng.random(self.store.num_clips) < 0.5
            self._cache = (epoch, order, flips)
        return self._cache[1], self._cache[2]

    def take(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """(clip indices, flip flags) at stream positions ``[start, start + count)``."""
        positions = np.arange(start, start + count)
        epochs, offsets = np.divmod(positions, self.store.num_clips)
        index = np.empty(count, np.int64)
        flips = np.zeros(count, bool)
        for epoch in np.unique(epochs):
            sel = epochs == epoch
            order, coin = self._epoch(int(epoch))
            index[sel] = order[offsets[sel]]
            flips[sel] = coin[offsets[sel]] & self.mirror
        return index, flips

    def next(self, shape: Sequence[int], batch_size: int, rank: int = 0, world_size: int = 1):
        """(clips float32 (b, C, T, H, W) in [-1, 1], labels int64 (b,) or None) for this rank."""
        import torch  # here, not at the top: prepare's worker processes import this module

        if not 0 <= rank < world_size or batch_size < world_size:
            raise ValueError(f"need 0 <= rank < world_size <= batch_size, got rank={rank}, "
                             f"world_size={world_size}, batch_size={batch_size}")
        b = batch_size // world_size
        index, flips = self.take(self.position + rank * b, b)
        self.position += batch_size
        clips = np.asarray(self.store.level(shape)[index])  # (b, T, H, W, C) uint8
        clips[flips] = clips[flips][:, :, :, ::-1]
        channels_first = np.ascontiguousarray(clips.transpose(0, 4, 1, 2, 3))  # (b, C, T, H, W) uint8
        scaled = np.multiply(channels_first, np.float32(1 / 127.5), dtype=np.float32)
        scaled -= 1.0  # numpy, not torch ops: several times faster for this copy on a busy CPU
        tensor = torch.from_numpy(scaled)
        labels = None if self.store.labels is None else torch.from_numpy(self.store.labels[index].copy())
        return tensor, labels

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "position": self.position, "mirror": int(self.mirror),
                "num_clips": self.store.num_clips}

    def load_state_dict(self, state: dict[str, int]) -> None:
        if int(state["num_clips"]) != self.store.num_clips:
            raise ProvganError(f"sampler state is for a store of {state['num_clips']} clips but "
                               f"{self.store.path} holds {self.store.num_clips}: resume with the same store")
        self.seed, self.position = int(state["seed"]), int(state["position"])
        self.mirror = bool(state["mirror"])
        self._cache = None
