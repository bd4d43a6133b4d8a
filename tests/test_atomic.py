"""The atomic writer under a real size limit: a file-size limit (``RLIMIT_FSIZE``, SIGXFSZ ignored, so
writes fail with EFBIG as on a full disk) in a subprocess, never a mock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provgan.atomic import append_line, atomic_write_bytes, disk_full_error, human_bytes, is_disk_full

LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))
from provgan.errors import ProvganError
try:
{body}
except ProvganError as exc:
    print("error:", exc, file=sys.stderr)
    sys.exit(2)
"""


def run_limited(body: str, limit: int, *args: str) -> subprocess.CompletedProcess:
    """Run ``body`` (Python, indented under a ``try``) with files capped at ``limit`` bytes."""
    code = LIMITED.format(limit=limit, body="\n".join("    " + line for line in body.strip().splitlines()))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_write_over_the_limit_keeps_previous_and_leaves_no_temp(tmp_path):
    target = tmp_path / "state.bin"
    done = run_limited(f"""
from provgan.atomic import atomic_write_bytes
atomic_write_bytes({str(target)!r}, b"old" * 100)
atomic_write_bytes({str(target)!r}, b"new" * 100_000)
""", 50_000)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(tmp_path) in lines[0] and "300.0 kB" in lines[0], lines
    assert "free" in lines[0] and "previous state.bin is intact" in lines[0]
    assert target.read_bytes() == b"old" * 100
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.bin"]


def test_append_line_is_a_whole_row_or_none(tmp_path):
    log = tmp_path / "stats.jsonl"
    done = run_limited(f"""
from provgan.atomic import append_line
for i in range(10_000):
    append_line({str(log)!r}, '{{"kimg": %d, "pad": "%s"}}' % (i, "x" * 50))
""", 4096)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()]  # every line parses
    assert rows and [r["kimg"] for r in rows] == list(range(len(rows)))
    assert log.stat().st_size <= 4096 and log.read_bytes().endswith(b"\n")


def test_torch_serializer_short_write_is_disk_full(tmp_path):
    done = run_limited(f"""
import torch
from provgan.atomic import atomic_torch_save
atomic_torch_save({{"w": torch.zeros(100_000)}}, {str(tmp_path / "w.pt")!r})
""", 20_000)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "w.pt needs 465.5 kB" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_classification_and_message(tmp_path):
    assert is_disk_full(OSError(28, "No space left on device"))
    assert is_disk_full(RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598"))
    assert not is_disk_full(OSError(2, "No such file or directory"))
    assert not is_disk_full(RuntimeError("size mismatch"))
    msg = str(disk_full_error(tmp_path / "a.pt", 2_500_000))
    assert msg.startswith(f"disk full in {tmp_path}: a.pt needs 2.5 MB, ") and "\n" not in msg
    assert human_bytes(999) == "999 B" and human_bytes(3e9) == "3.00 GB"


def test_plain_errors_pass_through_and_clean_up(tmp_path):
    with pytest.raises(IsADirectoryError):
        atomic_write_bytes(tmp_path, b"x")  # not a disk-full problem: keeps its own type
    atomic_write_bytes(tmp_path / "ok.txt", b"fine")
    append_line(tmp_path / "log.jsonl", "{}")
    assert (tmp_path / "ok.txt").read_bytes() == b"fine" and (tmp_path / "log.jsonl").read_text() == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["log.jsonl", "ok.txt"]
