"""Find the clips of a source folder: a folder of videos, a folder of frame folders, or a class tree.

Three layouts are recognised (DESIGN.md §1 "Data"):

* **clips**: video files and/or frame folders directly in the source folder; no labels;
* **classes**: one subfolder per class holding videos and/or frame folders (the UCF-101 layout);
  labels are the indices of the sorted class-folder names;
* a single video file (one clip source).

A split file (UCF-101's ``trainlist01.txt``: lines ``Class/v_name.avi [label]``) keeps only the
clips it lists; the class names still come from every class folder, so train and test stores built
from one tree share one label numbering.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from provgan.data.video_io import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, natural_key
from provgan.errors import ProvganError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """One clip source: a video file or a frame folder, its path relative to the root, its label."""

    path: Path
    rel: str
    label: int | None = None


@dataclass(frozen=True)
class SourceSet:
    """What :func:`discover_sources` found."""

    root: Path
    layout: str  # "clips" | "classes" | "file"
    sources: tuple[Source, ...]
    class_names: tuple[str, ...] | None
    ignored: tuple[str, ...]  # paths passed over: other file types, empty folders, split misses


def _is_video(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS


def _is_frame_folder(path: Path) -> bool:
    return path.is_dir() and any(p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() for p in path.iterdir())


def _visible(folder: Path) -> list[Path]:
    """Entries of a folder in natural order, without hidden files and unfinished stores."""
    entries = [p for p in folder.iterdir() if not p.name.startswith(".") and ".tmp-" not in p.name]
    return sorted(entries, key=lambda p: natural_key(p.name))


def _clips_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """(video files and frame folders, other entries) directly inside ``folder``."""
    clips, other = [], []
    for p in _visible(folder):
        (clips if _is_video(p) or _is_frame_folder(p) else other).append(p)
    return clips, other


def discover_sources(root: str | Path, split: str | Path | None = None) -> SourceSet:
    """Find every clip source under ``root`` and its label, or raise one clear ProvganError."""
    root = Path(root)
    if not root.exists():
        raise ProvganError(f"{root}: no such file or folder: give a video, a folder of videos, "
                           f"a folder of frame folders or a class-per-subfolder tree")
    if root.is_file():
        if not _is_video(root):
            raise ProvganError(f"{root}: not a video file ({', '.join(VIDEO_EXTENSIONS)})")
        found = SourceSet(root.parent, "file", (Source(root, root.name),), None, ())
    else:
        found = _discover_folder(root)
    if split is not None:
        found = apply_split(found, Path(split))
    return found


def _discover_folder(root: Path) -> SourceSet:
    clips, other = _clips_in(root)
    class_dirs = [p for p in other if p.is_dir() and _clips_in(p)[0]]
    ignored = [str(p.relative_to(root)) for p in other if p not in class_dirs]
    if class_dirs and clips:
        raise ProvganError(f"{root}: mixes clips ({clips[0].name}) with class folders "
                           f"({class_dirs[0].name}/): move the clips into class folders or point "
                           f"prepare at one of the folders")
    if clips:
        sources = tuple(Source(p, p.name) for p in clips)
        return SourceSet(root, "clips", sources, None, tuple(ignored))
    if not class_dirs:
        raise ProvganError(f"{root}: no videos ({', '.join(VIDEO_EXTENSIONS)}) and no folders of "
                           f"image frames found: point prepare at the folder that holds them")
    names = tuple(p.name for p in sorted(class_dirs, key=lambda p: p.name))
    sources = []
    for label, name in enumerate(names):
        inner, rest = _clips_in(root / name)
        sources += [Source(p, f"{name}/{p.name}", label) for p in inner]
        ignored += [f"{name}/{p.name}" for p in rest]
    return SourceSet(root, "classes", tuple(sources), names, tuple(ignored))


def read_split(path: Path) -> list[str]:
    """Relative clip paths listed in a split file (first token of each non-empty, non-# line)."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvganError(f"{path}: cannot read the split file ({exc.__class__.__name__}): "
                           f"give a text file with one relative clip path per line") from None
    return [ln.split()[0].replace("\\", "/") for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]


def apply_split(found: SourceSet, split: Path) -> SourceSet:
    """Keep the sources a split file lists (by relative path, else by file name)."""
    wanted = read_split(split)
    by_rel = {s.rel: s for s in found.sources}
    by_name: dict[str, list[Source]] = {}
    for s in found.sources:
        by_name.setdefault(Path(s.rel).name, []).append(s)
    kept, missing = [], []
    for entry in wanted:
        match = by_rel.get(entry) or (by_name.get(Path(entry).name) or [None])[0]
        (kept if match is not None else missing).append(match or entry)
    if not kept:
        first = wanted[0] if wanted else "(empty file)"
        raise ProvganError(f"{split}: none of its {len(wanted)} entries (first: {first}) is a clip under "
                           f"{found.root}: paths in a split file are relative to the source folder")
    if missing:
        log.warning("%s: %d listed clips are not under %s (first: %s)", split, len(missing), found.root,
                    missing[0])
    unique = tuple(dict.fromkeys(kept))
    ignored = found.ignored + tuple(f"{m} (in split, not found)" for m in missing)
    return SourceSet(found.root, found.layout, unique, found.class_names, ignored)
