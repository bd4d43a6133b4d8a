"""`provgan prepare` end to end: summary, one-line errors with exit status 2, dry run."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from provgan.cli import main
from provgan.data.store import open_store


def run(argv, capsys):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_builtin(tmp_path, capsys):
    code, out, _ = run(["prepare", "--builtin", "moving-digits", str(tmp_path / "d"), "--plan", "tiny",
                        "--num-clips", "8", "--seed", "2", "--workers", "1"], capsys)
    assert code == 0 and "prepared 8 clips" in out and "levels: 4x4x4, 4x8x8, 8x16x16" in out
    assert "built-in moving-digits, seed 2" in out
    store = open_store(tmp_path / "d")
    assert store.num_clips == 8 and store.manifest["source"]["seed"] == 2
    assert store.manifest["source"]["max_digits"] == 2


def test_builtin_with_one_digit_per_clip_renders_the_one_digit_clips(tmp_path, capsys):
    from provgan.data.moving_digits import render_clips

    code, _, _ = run(["prepare", "--builtin", "moving-digits", str(tmp_path / "d"), "--plan", "tiny",
                      "--num-clips", "6", "--seed", "2", "--workers", "1", "--max-digits", "1"], capsys)
    store = open_store(tmp_path / "d")
    assert code == 0 and store.manifest["source"]["max_digits"] == 1
    one, _ = render_clips(2, 0, 6, (8, 16, 16), max_digits=1)
    two, _ = render_clips(2, 0, 6, (8, 16, 16), max_digits=2)
    np.testing.assert_array_equal(store.level((8, 16, 16)), one)
    assert any((a != b).any() for a, b in zip(one, two))  # some clips of the default hold two digits
    code, _, err = run(["prepare", str(tmp_path), str(tmp_path / "x"), "--plan", "tiny", "--max-digits", "1"],
                       capsys)
    assert code == 2 and "--max-digits, --motion-speed, --styles, --colour, --digit-scale and --motions apply to --builtin" in err
    code, _, err = run(["prepare", str(tmp_path), str(tmp_path / "y"), "--plan", "tiny", "--colour", "white"],
                       capsys)
    assert code == 2 and "apply to --builtin" in err


def test_videos_with_a_bad_file_and_dry_run(video_dir, tmp_path, capsys):
    src = tmp_path / "src"
    shutil.copytree(video_dir, src)
    (src / "broken.mp4").write_text("not a video")
    code, out, _ = run(["prepare", str(src), str(tmp_path / "dry"), "--plan", "tiny", "--dry-run",
                        "--workers", "1"], capsys)
    assert code == 0 and "would prepare 3 clips" in out and not (tmp_path / "dry").exists()
    code, out, _ = run(["prepare", str(src), str(tmp_path / "s"), "--plan", "tiny", "--clip", "stride:16",
                        "--workers", "1"], capsys)
    assert code == 0 and "prepared 9 clips" in out and "4 found, 3 used, 1 skipped" in out
    assert f"{src / 'broken.mp4'}: not a video" in out


@pytest.mark.parametrize("args,words", [
    (["{src}", "{out}", "--plan", "tiny", "--strict"], "broken.mp4: not a video"),
    (["{empty}", "{out}", "--plan", "tiny"], "no videos"),
    (["{src}", "{out}", "--plan", "no-such-preset"], "unknown preset"),
    (["{src}", "{out}", "--plan", "tiny", "--clip", "middle"], "--clip 'middle'"),
    (["{src}", "{out}", "--plan", "tiny", "--size", "24"], "no level of the plan"),
])
def test_errors_are_one_line_with_status_2(video_dir, tmp_path, capsys, args, words):
    src, empty = tmp_path / "src", tmp_path / "empty"
    shutil.copytree(video_dir, src)
    (src / "broken.mp4").write_text("not a video")
    empty.mkdir()
    argv = ["prepare"] + [a.format(src=src, out=tmp_path / "out", empty=empty) for a in args] + ["--workers", "1"]
    code, _, err = run(argv, capsys)
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert code == 2 and len(lines) == 1 and words in lines[0], err
    assert not (tmp_path / "out").exists()


def test_usage_mistakes(tmp_path, capsys):
    code, _, err = run(["prepare", str(tmp_path), str(tmp_path / "out")], capsys)
    assert code == 2 and "--plan" in err
    code, _, err = run(["prepare", "--builtin", "moving-digits", str(tmp_path), str(tmp_path / "x")], capsys)
    assert code == 2 and "only OUT" in err


def test_builtin_with_one_style_draws_each_digit_from_its_first_sample(tmp_path, capsys):
    from provgan.data.moving_digits import load_sprites, render_clips

    code, _, _ = run(["prepare", "--builtin", "moving-digits", str(tmp_path / "d"), "--plan", "tiny",
                      "--num-clips", "6", "--seed", "2", "--workers", "1", "--styles", "1"], capsys)
    store = open_store(tmp_path / "d")
    assert code == 0 and store.manifest["source"]["styles"] == 1
    glyphs, _ = render_clips(2, 0, 6, (8, 16, 16), load_sprites(16).with_styles(1))
    np.testing.assert_array_equal(store.level((8, 16, 16)), glyphs)
    code, _, err = run(["prepare", "--builtin", "moving-digits", str(tmp_path / "e"), "--plan", "tiny",
                        "--styles", "-1"], capsys)
    assert code == 2 and "--styles" in err and not (tmp_path / "e").exists()


def test_builtin_with_some_motions(tmp_path, capsys):
    code, _, _ = run(["prepare", "--builtin", "moving-digits", str(tmp_path / "d"), "--plan", "tiny",
                      "--num-clips", "8", "--workers", "1", "--motions", "slide, bounce"], capsys)
    assert code == 0 and open_store(tmp_path / "d").manifest["source"]["motions"] == ["bounce", "slide"]
    code, _, err = run(["prepare", "--builtin", "moving-digits", str(tmp_path / "e"), "--plan", "tiny",
                        "--motions", "bounce,spin"], capsys)
    assert code != 0 and len(err.strip().splitlines()) == 1
    assert "--motions must be distinct names among bounce, slide, zoom, rotate, got bounce, spin" in err
