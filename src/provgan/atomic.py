"""Every file provgan writes goes through here: temp file in the same folder, fsync, rename.

Why one helper: a kill at any moment must leave either the previous file or the new one (never half
of one), and a full disk must cost one line, not a traceback plus a temp file that keeps the disk
full. A disk-full failure shows up in three guises: ``OSError`` ENOSPC/EDQUOT, ``OSError`` EFBIG (a
file-size limit, ``ulimit -f``) and torch's zip serializer, which swallows the ``No space left on
device`` and raises ``RuntimeError: [enforce fail at inline_container.cc] . unexpected pos ...``.
All three become a :class:`~provgan.errors.DiskFullError` naming the folder, the space the file
needed and the space free; the temp file is removed first, so the previous file stays intact.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import Any, Callable, Iterator

from provgan.errors import DiskFullError

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# what torch's PyTorchStreamWriter says when a write came up short (it does not keep the errno)
_TORCH_SHORT_WRITE = ("unexpected pos", "No space left on device", "File too large", "file write failed")


def is_disk_full(exc: BaseException) -> bool:
    """True for a write refused for lack of space (or a file-size limit), whatever raised it."""
    if isinstance(exc, OSError):
        return exc.errno in FULL_ERRNOS or any(
            isinstance(a, str) and ("No space left" in a or "File too large" in a) for a in exc.args)
    if isinstance(exc, RuntimeError):
        return any(marker in str(exc) for marker in _TORCH_SHORT_WRITE)
    return False


def human_bytes(n: float) -> str:
    """``3.2 MB``, ``1.50 GB``: sizes in messages (decimal units, as ``df -H``)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}" if unit == "GB" else f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


def free_bytes(folder: Path) -> int:
    """Free space of the file system holding ``folder`` (its nearest existing parent)."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def disk_full_error(target: Path, needed: int | None, written: int = 0, *, kept_previous: bool = False,
                    exc: BaseException | None = None) -> DiskFullError:
    """The one line a user sees: which folder, how much the file needed, how much is free, what to do."""
    target = Path(target)
    folder = target.parent
    free = free_bytes(folder)
    if needed:
        need = f"needs {human_bytes(needed)}"
    elif written:
        need = f"needs more than the {human_bytes(written)} written before it failed"
    else:
        need = "needs more space than is left"
    limit = _file_size_limit()
    kept = f"; the previous {target.name} is intact" if kept_previous else ""
    return DiskFullError(f"disk full in {folder}: {target.name} {need}, {human_bytes(free)} free{limit}{kept}; "
                         f"free some space or choose an output folder on another disk")


def _file_size_limit() -> str:
    """`` (files are limited to N by ulimit -f)`` when a file-size limit is set: then it, not the free
    space, is what stopped the write."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    except (ImportError, OSError, ValueError):
        return ""
    return "" if soft == resource.RLIM_INFINITY else f" (files are limited to {human_bytes(soft)} by ulimit -f)"


def temp_path(path: Path) -> Path:
    """``.NAME.tmp-<pid>`` next to ``path``: same file system (so the rename is atomic), hidden, per process."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def fsync_dir(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path, needed: int | None = None) -> Iterator[Path]:
    """Yield a temp path to write ``path``'s new content to; on success fsync it and rename it over ``path``.

    On any error the temp file is removed (``path`` keeps its previous content); a disk-full error
    is re-raised as a one-line :class:`DiskFullError` (``needed``: the file's size when known).
    """
    path = Path(path)
    tmp = temp_path(path)
    existed = path.exists()
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise disk_full_error(path, needed, written, kept_previous=existed, exc=exc) from None
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_path(path, len(data)) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``text`` atomically."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_with(path: str | Path, write: Callable[[Path], Any], needed: int | None = None) -> Path:
    """Replace ``path`` with what ``write(tmp_path)`` writes (an encoder that wants a file name)."""
    with atomic_path(path, needed) as tmp:
        write(tmp)
    return Path(path)


def append_line(path: str | Path, line: str) -> None:
    """Append one line in one ``write``; if it fails the file is cut back to where it was.

    An append-only log (``stats.jsonl``) cannot be renamed into place at every row, but it must not
    end in half a row after a full disk either: the row is all or nothing.
    """
    path = Path(path)
    data = (line.rstrip("\n") + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        start = os.fstat(fd).st_size
        try:
            done = os.write(fd, data)
            if done != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as exc:
            os.ftruncate(fd, start)
            if is_disk_full(exc):
                raise disk_full_error(path, len(data), kept_previous=True, exc=exc) from None
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def disk_full_guard(target: str | Path, needed: int | None = None) -> Iterator[None]:
    """Turn a disk-full error raised inside into the one-line :class:`DiskFullError` for ``target``.

    For writers that already write to a temp name and clean it up themselves (the video encoder,
    the store writer); they only need their full-disk failure said in one line.
    """
    try:
        yield
    except DiskFullError:
        raise
    except (OSError, RuntimeError) as exc:
        if is_disk_full(exc):
            raise disk_full_error(Path(target), needed, exc=exc) from None
        raise


def tensor_bytes(obj: Any) -> int:
    """Bytes of the tensors inside nested dicts/lists/tuples: a checkpoint's size, before it is written."""
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` through :func:`atomic_path`; its "unexpected pos" RuntimeError is a full disk."""
    import torch

    needed = tensor_bytes(obj) + 64 * 1024  # the zip's records and pickled containers: small
    with atomic_path(path, needed) as tmp:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
    return Path(path)
