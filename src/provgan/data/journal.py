"""A store being prepared, in ``OUT.partial/``, with a journal of finished videos so a killed prepare resumes.

Why: a UCF-101-sized prepare (13,320 videos) killed half-way must not start again from zero. The
level arrays are appended video by video (in source order, whatever ``--workers``); after each video
its rows are fsynced and one line is appended to ``journal.jsonl`` (a whole line or none,
:func:`provgan.atomic.append_line`). ``--resume`` re-plans the same videos, checks the journal's
first line (the plan's signature) matches, cuts every array back to the rows the journal vouches
for and continues with the next video. The finished store is byte-identical to an uninterrupted
one: same rows, same headers, same labels, same manifest; ``OUT.partial`` is renamed to ``OUT``
only once its manifest is on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from provgan.atomic import append_line, atomic_write_text, fsync_dir
from provgan.data.store import (CHANNELS, FORMAT, MANIFEST, VERSION, Shape, _NpyAppender, _replace,
                                level_file, shape_name)
from provgan.errors import ProvganError

JOURNAL = "journal.jsonl"


def partial_dir(out: Path) -> Path:
    """``OUT.partial``: where an unfinished store lives (never taken for a store: no manifest)."""
    return out.with_name(f"{out.name}.partial")


def incomplete_error(out: Path) -> ProvganError:
    """The refusal of a rerun over an interrupted prepare: say what the folder is and both choices."""
    done = len(_read_entries(partial_dir(out)))
    return ProvganError(f"{partial_dir(out)} is an incomplete store from an interrupted prepare of {out} "
                        f"(finished videos: {done}): pass --resume to continue it, or --overwrite to "
                        f"start again from zero")


@dataclass
class Entry:
    """One finished video (task): the rows written so far, its clips, labels and problem."""

    task: int
    rows: int
    clips: list[tuple[int, int]]
    labels: list[int] | None
    error: str | None

    def to_json(self) -> str:
        return json.dumps({"task": self.task, "rows": self.rows, "clips": self.clips, "labels": self.labels,
                           "error": self.error})


def _read_entries(folder: Path) -> list[Entry]:
    """The journal's finished tasks in order; stops at the first damaged or out-of-order line."""
    path = folder / JOURNAL
    if not path.is_file():
        return []
    entries: list[Entry] = []
    for line in path.read_text().splitlines()[1:]:
        try:
            row = json.loads(line)
            entry = Entry(int(row["task"]), int(row["rows"]), [tuple(c) for c in row["clips"]],
                          row["labels"], row["error"])
        except (ValueError, KeyError, TypeError):
            break
        if entry.task != len(entries):
            break
        entries.append(entry)
    return entries


def _signature(path: Path) -> dict[str, Any] | None:
    try:
        with open(path / JOURNAL) as f:
            return json.loads(f.readline())
    except (OSError, ValueError):
        return None


class _ResumedAppender(_NpyAppender):
    """An ``.npy`` appender reopened at ``rows`` rows: the tail past them is cut, the kept rows re-hashed."""

    def __init__(self, path: Path, row_shape: Sequence[int], capacity: int, rows: int):
        self.path, self.row_shape, self.dtype = path, tuple(int(v) for v in row_shape), "|u1"
        self.header_len = len(self._header(capacity))
        row_bytes = int(np.prod(self.row_shape))
        self.rows, self.hash = rows, hashlib.sha256()
        keep = self.header_len + rows * row_bytes
        if not path.is_file() or path.stat().st_size < keep:
            raise ProvganError(f"{path} is shorter than its journal says (damaged partial store): "
                               f"prepare again with --overwrite")
        self.file = open(path, "r+b")
        self.file.truncate(keep)
        self.file.seek(self.header_len)
        left = rows * row_bytes
        while left:
            chunk = self.file.read(min(left, 64 << 20))
            self.hash.update(chunk)
            left -= len(chunk)
        self.file.seek(keep)


@dataclass
class JournalledStore:
    """Writes a store into ``OUT.partial`` video by video; :meth:`finish` renames it to ``OUT``."""

    out: Path
    shapes: tuple[Shape, ...]
    capacity: int
    labelled: bool
    entries: list[Entry] = field(default_factory=list)
    levels: list[_NpyAppender] = field(default_factory=list)

    @classmethod
    def open(cls, out: Path, shapes: Sequence[Shape], capacity: int, labelled: bool,
             signature: dict[str, Any], resume: bool) -> "JournalledStore":
        """A fresh partial store, or (``resume``) the interrupted one if it was planned the same way."""
        shapes = tuple(tuple(int(v) for v in s) for s in shapes)
        store = cls(out, shapes, capacity, labelled)
        folder = partial_dir(out)
        found = _signature(folder) if resume and folder.is_dir() else None
        if found is not None and found != signature:
            raise ProvganError(f"{folder} was prepared from other sources or options than these: "
                               f"rerun with the same arguments, or pass --overwrite to start again")
        # A partial store killed before its first finished video is started afresh: its level headers may
        # still have been in a write buffer when the journal's first line reached the disk (CI once landed a
        # kill there), and there is nothing in it to keep.
        store.entries = _read_entries(folder) if found is not None else []
        if store.entries:
            rows = store.entries[-1].rows
            store.levels = [_ResumedAppender(folder / level_file(s), (*s, CHANNELS), capacity, rows)
                            for s in shapes]
            return store
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        store.levels = [_NpyAppender(folder / level_file(s), (*s, CHANNELS), capacity) for s in shapes]
        append_line(folder / JOURNAL, json.dumps(signature))
        fsync_dir(folder)
        return store

    @property
    def folder(self) -> Path:
        return partial_dir(self.out)

    @property
    def tasks_done(self) -> int:
        return len(self.entries)

    @property
    def clips(self) -> list[tuple[int, int]]:
        return [c for e in self.entries for c in e.clips]

    def add(self, levels: Sequence[np.ndarray] | None, clips: list[tuple[int, int]], label: int | None,
            error: str | None) -> None:
        """Append one finished task's clips (None: it gave none), make them durable, then journal it."""
        if levels is not None:
            for appender, array in zip(self.levels, levels, strict=True):
                if array.shape[1:] != appender.row_shape or array.dtype != np.uint8:
                    raise ValueError(f"expected uint8 clips of shape (n, {appender.row_shape}), got "
                                     f"{array.dtype} {array.shape}")
                appender.append(array)
        for appender in self.levels:
            appender.file.flush()
            os.fsync(appender.file.fileno())
        labels = [label] * len(clips) if self.labelled else None
        entry = Entry(self.tasks_done, self.levels[0].rows, [list(c) for c in clips], labels, error)
        append_line(self.folder / JOURNAL, entry.to_json())
        self.entries.append(entry)

    def close(self) -> None:
        """Close without finishing, first cutting each array back to the rows the journal vouches for
        (a full disk must not stay full with half a video); the journal keeps what was done."""
        rows = self.entries[-1].rows if self.entries else 0
        for appender in self.levels:
            try:
                appender.file.close()
            except OSError:  # a full disk fails the flush of the buffered tail; it is cut below anyway
                pass
            fd = os.open(appender.path, os.O_WRONLY)
            try:
                os.ftruncate(fd, appender.header_len + rows * int(np.prod(appender.row_shape)))
            finally:
                os.close(fd)

    def discard(self) -> None:
        """Close and delete the partial store (a failure a rerun would not get past: nothing to resume)."""
        for appender in self.levels:
            try:
                appender.file.close()
            except OSError:
                pass
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def bytes_left(self) -> int:
        """Bytes the rows still to come need at most (the capacity not yet written)."""
        row = sum(int(np.prod(s)) * CHANNELS for s in self.shapes)
        return (self.capacity - self.levels[0].rows) * row

    def finish(self, manifest: dict[str, Any], overwrite: bool = False) -> dict[str, Any]:
        """Fix the headers, write labels and the manifest (last), drop the journal, rename to ``OUT``."""
        hashes = {shape_name(s): a.close() for s, a in zip(self.shapes, self.levels)}
        digest = hashlib.sha256("".join(hashes.values()).encode())
        manifest = dict(manifest, format=FORMAT, version=VERSION, channels=CHANNELS,
                        num_clips=self.levels[0].rows, plan=[list(s) for s in self.shapes],
                        levels={shape_name(s): {"file": level_file(s), "sha256": hashes[shape_name(s)]}
                                for s in self.shapes})
        if self.labelled:
            labels = np.array([v for e in self.entries for v in (e.labels or [])], dtype=np.int64)
            np.save(self.folder / "labels.npy", labels)
            digest.update(labels.tobytes())
        manifest["content_hash"] = digest.hexdigest()
        atomic_write_text(self.folder / MANIFEST, json.dumps(manifest, indent=1))
        (self.folder / JOURNAL).unlink()
        fsync_dir(self.folder)
        _replace(self.folder, self.out, overwrite)  # (an existing OUT only with --overwrite, and a store)
        fsync_dir(self.out.parent)
        return manifest
